"""Figures of the width experiments (matplotlib, Agg backend, PNG), drawn as mup draws them.

* :func:`plot_coord_check`: one row per (parametrization, optimizer), one column per step t;
  seed-mean l1 of every layer against width, log2-log2 axes (mup's ``plot_coord_data``).
* :func:`plot_lr_sweep`: one panel per parametrization, final train loss against log2 lr, one
  curve per width, each width's optimum marked (TP5 Fig. 3, mup's MLP demo).
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: works without a display, in CI and over ssh
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from .width import coord_means, optima, sweep_means  # noqa: E402

NAMES = {"sp": "SP", "mup": "μP"}


def plot_coord_check(table: pd.DataFrame, path: str | Path) -> Path:
    """The coordinate-check figure of :func:`initcore.width.coord_check` rows (any number of
    (parametrization, optimizer) pairs) as one PNG at ``path``."""
    means = coord_means(table)
    pairs = list(dict.fromkeys(zip(means["parametrization"], means["optimizer"])))
    steps = sorted(means["t"].unique())
    fig, axes = plt.subplots(len(pairs), len(steps), figsize=(3.2 * len(steps), 2.8 * len(pairs)),
                             squeeze=False, sharex=True)
    for row, (param, opt) in enumerate(pairs):
        part = means[(means["parametrization"] == param) & (means["optimizer"] == opt)]
        lr = part["lr"].iloc[0]
        for col, t in enumerate(steps):
            ax = axes[row][col]
            for layer, curve in part[part["t"] == t].groupby("layer", sort=False):
                curve = curve[curve["l1"] > 0]  # a zero readout at t = 1 has no log
                ax.plot(curve["width"], curve["l1"], marker="o", ms=3, label=layer)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log", base=2)
            ax.set_title(f"{NAMES.get(param, param)} {opt} lr={lr:g}, t={t}", fontsize=9)
            if row == len(pairs) - 1:
                ax.set_xlabel("width")
            if col == 0:
                ax.set_ylabel("mean |output|")
    axes[0][0].legend(fontsize=7)
    fig.suptitle("coordinate check (seed means): flat under μP, growing with width under SP")
    fig.tight_layout()
    return _save(fig, path)


def plot_lr_sweep(table: pd.DataFrame, path: str | Path) -> Path:
    """Loss against log2 lr, one curve per width, one panel per parametrization."""
    means = sweep_means(table)
    best = optima(table)
    params = list(dict.fromkeys(means["parametrization"]))
    finite = means["train_loss"][means["train_loss"].apply(math.isfinite)]
    top = min(finite.max(), 2 * math.log(10)) if len(finite) else 5.0
    fig, axes = plt.subplots(1, len(params), figsize=(5.5 * len(params), 4), squeeze=False,
                             sharey=True)
    for ax, param in zip(axes[0], params):
        part = means[means["parametrization"] == param]
        for width, curve in part.groupby("width"):
            curve = curve[curve["train_loss"].apply(math.isfinite)]
            (line,) = ax.plot(curve["log2_lr"], curve["train_loss"], marker="o", ms=3,
                              label=f"width {width}")
            opt = best[(best["parametrization"] == param) & (best["width"] == width)]
            ax.plot(opt["best_log2_lr"], opt["train_loss"], "*", ms=12, color=line.get_color())
        ax.set_title(f"{NAMES.get(param, param)} ({part['optimizer'].iloc[0]})")
        ax.set_xlabel("log2 learning rate")
        ax.set_ylim(0, top)  # losses far above ln 10 (SP past its edge: 10^3) would hide the rest
    axes[0][0].set_ylabel("final train loss (seed mean; ★ optimum)")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
