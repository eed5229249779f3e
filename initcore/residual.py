"""Residual nets at init and after training: the growth table and the depth-sweep figure.

At init (:func:`growth_table`): per scheme and seed, the log2 growth of the residual stream's
mean square from the stem's output to the last block, measured on a batch of real inputs, next
to the formula's prediction (:mod:`initcore.residual_schemes`: sum_l log2(1 + a_l^2 g_l) from
the drawn weights, and L log2(1 + g) with the scheme's nominal g). After training
(:func:`depth_sweep_figure`): accuracy after one epoch and log2 growth at init against depth, one
line per scheme -- the figure of docs/residual.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import torch

from . import residual_schemes as rs
from .data import Dataset, rescale
from .train import Recipe, build_model

# The branch gain g = prod_k (w Var(W_k)) / 2 each scheme's weights give a 2-layer ReLU branch of
# square layers with a = 1 (He: (2)(2)/2; Xavier: Var = 2/(2w): (1)(1)/2; nn.Linear's default
# Var = 1/(3w): (1/3)(1/3)/2; Fixup, SkipInit, ReZero, ZerO: a branch that outputs 0; depth-
# scaled He: 2/L). A function of L, the block count.
NOMINAL_GAIN = {
    "he_normal": lambda n_blocks: 2.0,
    "he_uniform": lambda n_blocks: 2.0,
    "xavier_normal": lambda n_blocks: 0.5,
    "xavier_uniform": lambda n_blocks: 0.5,
    "torch_default": lambda n_blocks: 1 / 18,
    "lecun_normal": lambda n_blocks: 0.5,
    "fixup": lambda n_blocks: 0.0,
    "skipinit": lambda n_blocks: 0.0,
    "rezero": lambda n_blocks: 0.0,
    "zero_residual": lambda n_blocks: 0.0,
    "he_depth_scaled": lambda n_blocks: 2.0 / n_blocks if n_blocks else 0.0,
}
PROBE_ROWS = 256  # training rows the growth is measured on


def growth_table(inits: Sequence[str], seeds: Sequence[int], data: Dataset, config: Recipe
                 ) -> pd.DataFrame:
    """One row per (init, seed): ``growth_bits`` measured at init on the first PROBE_ROWS
    training rows, ``predicted_bits`` from the drawn weights, ``theory_bits`` from the scheme's
    nominal gain (NaN for a scheme without one)."""
    data = rescale(data, config.input_scaling)
    x = data.x_train[:PROBE_ROWS]
    rows = []
    for init in inits:
        for seed in seeds:
            model = build_model(init, seed, data, config)
            nominal = NOMINAL_GAIN.get(init)
            rows.append({
                "init": init, "seed": seed, "blocks": config.blocks, "width": config.width,
                "growth_bits": rs.measured_growth_bits(model, x),
                "predicted_bits": rs.predicted_growth_bits(model),
                "theory_bits": (rs.theory_growth_bits(nominal(config.blocks), config.blocks)
                                if nominal else math.nan)})
    return pd.DataFrame(rows)


def depth_sweep_figure(sweep: pd.DataFrame, path: str | Path, chance: float = 0.1) -> Path:
    """Two panels against depth L (log scale), one line per scheme: test accuracy after epoch 1
    (mean over seeds, diverged seeds counted at 0 and marked) and log2 growth at init (mean
    measured, the formula dashed). ``sweep`` has columns init, blocks, seed, test_acc, diverged,
    growth_bits, theory_bits. Written with matplotlib's Agg backend; returns the path."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, (acc_ax, growth_ax) = plt.subplots(1, 2, figsize=(11, 4.2))
    for i, (init, rows) in enumerate(sweep.groupby("init", sort=False)):
        color = f"C{i}"
        acc = rows.assign(acc=rows["test_acc"].where(~rows["diverged"].astype(bool), 0.0)
                          .fillna(0.0)).groupby("blocks")
        mean = acc["acc"].mean()
        acc_ax.plot(mean.index, 100 * mean.values, "o-", color=color, label=init)
        gone = acc["diverged"].apply(lambda d: d.astype(bool).any())
        if gone.any():
            acc_ax.plot(mean.index[gone.values], 100 * mean.values[gone.values], "x",
                        color=color, markersize=11, mew=2)
        growth = rows.groupby("blocks")[["growth_bits", "theory_bits"]].mean()
        growth_ax.plot(growth.index, growth["growth_bits"], "o-", color=color, label=init)
        growth_ax.plot(growth.index, growth["theory_bits"], "--", color=color, alpha=0.6)
    acc_ax.axhline(100 * chance, color="grey", lw=0.8, ls=":")
    acc_ax.set(xlabel="residual blocks L", ylabel="test accuracy after 1 epoch (%)",
               title="accuracy (x: some seed diverged, counted as 0)")
    growth_ax.set(xlabel="residual blocks L",
                  ylabel="log2 E[h_L^2] / E[h_0^2] at init (bits)",
                  title="growth at init (dashed: L log2(1 + g))")
    for ax in (acc_ax, growth_ax):
        xs = sorted(sweep["blocks"].unique())
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs, [str(x) for x in xs])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.grid(alpha=0.3)
    acc_ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


@torch.no_grad()
def one_epoch_rows(results, experiment_blocks: int) -> pd.DataFrame:
    """Epoch-1 rows (init, seed, blocks, test_acc, diverged) of grid results."""
    rows = []
    for r in results:
        first = r.epochs[0]
        rows.append({"init": r.init, "seed": r.seed, "blocks": experiment_blocks,
                     "test_acc": first.test_acc, "diverged": first.diverged})
    return pd.DataFrame(rows)
