"""Width experiments: mup's coordinate check and learning-rate transfer, SP against muP.

* :func:`coord_check` (Yang et al., TP5, arXiv 2203.03466, Fig. 5 and mup's
  ``mup/coord_check.py``): train MLPs of widths 2^6 ... 2^12 for T steps on one fixed batch;
  at every step t = 1..T (the forward pass before step t's update), record each Linear layer's
  mean |output coordinate| (mup's ``l1``), averaged over seeds. Under muP every curve is flat in
  width; under SP the layers after the first grow with width once training starts (t >= 2).
  mup's own criterion (its test suite): ``1/1.2 < l1(wide) / l1(narrow) < 1.2``, and the
  output exactly 0 at t = 1 with a zero-initialized readout (:func:`flat_ratios`).
* :func:`lr_sweep`: the final train loss per (width, log2 lr) after a few epochs of the grid
  trainer (seeds as one computation); :func:`optima` the best log2 lr per width. TP5 Fig. 3
  (mup's MLP demo, CIFAR-10, SGD): under SP the optimum drifts about -0.7 log2 units per width
  doubling, under muP it stays, and wider is better at every lr.

Both use the suite's own code path: :func:`initcore.train.build_model` (the scheme, then the
recipe's ``init_mult``) and :func:`initcore.train.make_optimizer` / the grid trainer with the
recipe's per-layer learning-rate multipliers (:mod:`initcore.parametrization`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import pandas as pd
import torch
import torch.nn.functional as F

from .data import Dataset, rescale
from .grid import train_grid
from .initializers import linear_layers
from .parametrization import parametrize
from .train import DATA_ORDER_OFFSET, Recipe, build_model, epoch_order, make_optimizer

COORD_WIDTHS = tuple(2 ** k for k in range(6, 13))  # 64 ... 4096
COORD_FILE = "coordcheck.csv"
SWEEP_FILE = "lr_sweep.csv"
# mup's coordinate-check band (mup/test: 1/1.2 < l1(wide) / l1(narrow) < 1.2)
MUP_BAND = 1.2
COORD_LR = {"sgd": 0.1, "adam": 1e-3}  # mup's get_coord_data defaults
# The learning-rate sweep's recipe, as mup's MLP demo (examples/MLP/demo.ipynb): plain SGD
# (momentum 0), batch 64, no biases, the readout zero-initialized under SP too, and its input
# multiplier 1/256 (SWEEP_INPUT_MULT). tanh, not the demo's ReLU: with ReLU a narrow net's
# dead-unit collapse at large lr cancels SP's width-growing instability at widths 128-1024
# (docs/width.md, "what was tried"). The hidden widths are set per width (width_recipe).
SWEEP_RECIPE = Recipe(hidden=(128, 128), bias=False, momentum=0.0, batch_size=64, epochs=3,
                      activation="tanh")
# mup's demo: the first layer's weights x 16 at init and its output x 1/16, i.e. its
# effective learning rate / 256; this takes the input layer (fan-in 784 at every width) out of
# the stability limit, which then is set by the width-dependent layers (docs/width.md).
SWEEP_INPUT_MULT = 1 / 256


def layer_names(n_layers: int) -> list[str]:
    """``input``, ``hidden1`` ..., ``readout``: the Linear layers of an MLP, first to last."""
    return ["input", *(f"hidden{i}" for i in range(1, n_layers - 1)), "readout"]


def width_recipe(base: Recipe, width: int, parametrization: str, base_width: int,
                 readout: str = "zero") -> Recipe:
    """``base``'s recipe with every hidden layer ``width`` wide, under ``parametrization``
    relative to hidden layers ``base_width`` wide."""
    depth = len(base.hidden)
    return parametrize(replace(base, hidden=(width,) * depth), parametrization,
                       (base_width,) * depth, readout)


def with_input_mult(recipe: Recipe, input_mult: float) -> Recipe:
    """``recipe`` with an input multiplier a (mup's demo: weights / sqrt(a) at init, the first
    layer's output x sqrt(a)) folded in: the acting weights are unchanged and the first layer's
    learning rate is multiplied by a (exact for SGD, with or without momentum)."""
    lr = list(recipe.multipliers("lr_mult"))
    lr[0] *= input_mult
    return replace(recipe, lr_mult=tuple(lr), bias_lr_mult=recipe.multipliers("bias_lr_mult"))


def zero_readout(recipe: Recipe) -> Recipe:
    """``recipe`` with its readout zero-initialized (every other layer's init as it was)."""
    init = list(recipe.multipliers("init_mult"))
    init[-1] = 0.0
    return replace(recipe, init_mult=tuple(init))


def coord_check(data: Dataset, recipe: Recipe, parametrization: str, *,
                widths: Sequence[int] = COORD_WIDTHS, base_width: int = 64,
                init: str = "lecun_normal", steps: int = 3, seeds: Sequence[int] = (0, 1, 2),
                readout: str = "zero") -> pd.DataFrame:
    """One row per (seed, width, layer, t): ``l1`` = mean |output| of that Linear layer in the
    forward pass of step t (before its update), on one fixed batch of ``recipe.batch_size``
    training rows (mup's ``fix_data``), trained by torch.optim with the recipe's multipliers."""
    data = rescale(data, recipe.input_scaling)
    rows_idx = epoch_order(torch.Generator().manual_seed(DATA_ORDER_OFFSET),
                           data.x_train.shape[0], "cpu")[:recipe.batch_size]
    x, y = data.x_train[rows_idx], data.y_train[rows_idx]
    records = []
    for seed in seeds:
        for width in widths:
            config = width_recipe(recipe, width, parametrization, base_width, readout)
            model = build_model(init, seed, data, config)
            optimizer, _ = make_optimizer(model, config)
            layers = linear_layers(model)
            names = layer_names(len(layers))
            outputs: dict[str, float] = {}
            hooks = [layer.register_forward_hook(
                lambda _m, _i, out, name=name, seen=outputs: seen.__setitem__(
                    name, out.detach().abs().mean().item()))
                for layer, name in zip(layers, names)]
            for t in range(1, steps + 1):
                loss = F.cross_entropy(model(x), y)
                records += [(parametrization, config.optimizer, recipe.lr, seed, width, name, t,
                             outputs[name]) for name in names]
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            for hook in hooks:
                hook.remove()
    return pd.DataFrame(records, columns=["parametrization", "optimizer", "lr", "seed", "width",
                                          "layer", "t", "l1"])


def coord_means(table: pd.DataFrame) -> pd.DataFrame:
    """``l1`` averaged over seeds, one row per (parametrization, optimizer, width, layer, t)."""
    keys = ["parametrization", "optimizer", "lr", "layer", "t", "width"]
    return table.groupby(keys, sort=False, as_index=False)["l1"].mean()


def flat_ratios(table: pd.DataFrame, narrow: int, wide: int) -> pd.DataFrame:
    """Per (parametrization, optimizer, layer, t): the seed-mean ``l1`` at ``wide`` over that
    at ``narrow`` (NaN where both are 0, e.g. a zero readout at t = 1), and whether it lies in
    mup's band 1/1.2 .. 1.2."""
    means = coord_means(table)
    pivot = means.pivot_table(index=["parametrization", "optimizer", "layer", "t"],
                              columns="width", values="l1", sort=False)
    out = pivot[[narrow, wide]].reset_index()
    out.columns = ["parametrization", "optimizer", "layer", "t", "l1_narrow", "l1_wide"]
    both_zero = (out["l1_narrow"] == 0) & (out["l1_wide"] == 0)
    out["ratio"] = (out["l1_wide"] / out["l1_narrow"]).where(~both_zero)
    out["in_band"] = ((out["ratio"] > 1 / MUP_BAND) & (out["ratio"] < MUP_BAND)) | both_zero
    return out


def lr_sweep(data: Dataset, recipe: Recipe, parametrization: str, widths: Sequence[int],
             log2_lrs: Sequence[float], *, base_width: int, init: str = "lecun_normal",
             seeds: Sequence[int] = (0,), readout: str = "zero", input_mult: float = 1.0,
             progress=None) -> pd.DataFrame:
    """One row per (width, log2 lr, seed): the last epoch's mean train loss (inf if the model
    diverged), trained by the grid trainer with ``recipe`` at every width. ``readout="zero"``
    zero-initializes the readout under SP too (mup's demo); ``input_mult``:
    :func:`with_input_mult`."""
    records = []
    for width in widths:
        for log2_lr in log2_lrs:
            config = width_recipe(recipe, width, parametrization, base_width, readout)
            if readout == "zero":
                config = zero_readout(config)
            config = replace(with_input_mult(config, input_mult), lr=2.0 ** log2_lr)
            for run in train_grid([init], seeds, data, config):
                last = run.epochs[-1]
                loss = math.inf if run.diverged or not math.isfinite(last.train_loss) \
                    else last.train_loss
                records.append((parametrization, config.optimizer, width, log2_lr, run.seed,
                                loss, run.diverged))
            if progress is not None:
                progress.update(1)
    return pd.DataFrame(records, columns=["parametrization", "optimizer", "width", "log2_lr",
                                          "seed", "train_loss", "diverged"])


def sweep_means(table: pd.DataFrame) -> pd.DataFrame:
    """Seed-mean final train loss per (parametrization, width, log2 lr); inf if any seed
    diverged (a learning rate at which some seed diverges is not an optimum)."""
    keys = ["parametrization", "optimizer", "width", "log2_lr"]
    return table.groupby(keys, sort=False, as_index=False)["train_loss"].mean()


def optima(table: pd.DataFrame) -> pd.DataFrame:
    """The best log2 lr per (parametrization, width) and its seed-mean train loss."""
    means = sweep_means(table)
    best = means.loc[means.groupby(["parametrization", "optimizer", "width"],
                                   sort=False)["train_loss"].idxmin()]
    return best.rename(columns={"log2_lr": "best_log2_lr"}).reset_index(drop=True)
