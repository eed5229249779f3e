"""initcore's muP against the reference implementation, Microsoft's ``mup`` package (PyPI).

The same MLP (784 -> w -> w -> 10, ReLU, no biases: mup's examples/MLP) is built with mup's
``MuReadout`` + ``set_base_shapes`` (base width 64, delta 65 as its example) and trained with
``MuSGD`` / ``MuAdam``; initcore builds it with :func:`initcore.parametrization.parametrize`.

* Initial scales: mup's own initialization (nn.Linear's default, then ``set_base_shapes``
  rescales the readout) against initcore's ``torch_default`` scheme with the "scaled" readout:
  the acting weight's std per layer (mup's readout acts as W / width_mult) agrees with the
  other and with the formula 1/sqrt(3 fan_in) (readout: / sqrt(m)). Sample std of n >= 640
  uniform entries: relative error ~ 1/sqrt(5n) <= 1.8%; tolerance 6%. (Measured: initcore's
  and mup's stds are equal to every printed digit, since torch_default drawn from
  Generator(seed) consumes the same stream as nn.Linear after torch.manual_seed(seed); the
  formula is met within 1.2% at width 64 and 0.1% at 4096.)
* Coordinate-check curves: mup's own ``get_coord_data`` run on mup's model holding initcore's
  initial weights (the readout stored as W * m, as MuReadout keeps it), against
  :func:`initcore.width.coord_check` on the same batch: the two are the same parametrization
  written two ways, so every l1 agrees to float rounding. Measured max relative difference
  (default kernels and ATEN_CPU_CAPABILITY=default OMP_NUM_THREADS=1 alike): SGD 0 (the
  width multipliers 1, 4, 16 are powers of two, so mup's W * m and x / m are exact), Adam
  1.9e-6 (Adam's eps acts on a gradient m times smaller in mup's stored readout). Tolerance
  1e-4; lr_mult of the hidden layer off by 1.5x gives 4.4e-2 (checked by hand: it fails).

Skipped cleanly without mup: ``pip install initcore[mup]``.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch
from torch import nn

from initcore.data import Dataset, rescale
from initcore.initializers import linear_layers
from initcore.train import DATA_ORDER_OFFSET, Recipe, build_model, epoch_order
from initcore.width import coord_check, width_recipe

mup = pytest.importorskip("mup", reason="the mup reference package is not installed "
                                        "(pip install 'initcore[mup]')")
from mup.coord_check import get_coord_data  # noqa: E402

BASE = 64
WIDTHS = (64, 256, 1024)
STD_RTOL = 0.06
CURVE_RTOL = 1e-4
LAYERS = {"0": "input", "2": "hidden1", "4": "readout"}  # mup model's module name -> initcore's


def mup_mlp(width: int, readout_zero_init: bool = False, rescale: bool = True) -> nn.Module:
    """mup's MLP example as a Sequential: Linear, ReLU, Linear, ReLU, MuReadout, no biases,
    with base shapes from width 64 (delta 65)."""
    def make(w: int) -> nn.Sequential:
        return nn.Sequential(nn.Linear(784, w, bias=False), nn.ReLU(),
                             nn.Linear(w, w, bias=False), nn.ReLU(),
                             mup.MuReadout(w, 10, bias=False,
                                           readout_zero_init=readout_zero_init))
    model = make(width)
    base_shapes = mup.make_base_shapes(mup.get_shapes(make(BASE)), mup.get_shapes(make(BASE + 1)))
    mup.set_base_shapes(model, base_shapes, rescale_params=rescale)
    return model


def acting_stds(model: nn.Module) -> list[float]:
    """Std of each Linear layer's acting weight (a MuReadout's is W * output_mult / m)."""
    out = []
    for layer in linear_layers(model):
        weight = layer.weight.detach()
        if isinstance(layer, mup.MuReadout):
            weight = weight * layer.output_mult / layer.width_mult()
        out.append(weight.std().item())
    return out


RECIPE = Recipe(hidden=(BASE, BASE), bias=False, momentum=0.0, batch_size=64, epochs=1)


@pytest.mark.parametrize("width", WIDTHS, ids=lambda w: f"width={w}")
def test_initial_std_per_layer_matches_mup(mnist5k: Dataset, width: int) -> None:
    torch.manual_seed(width)
    theirs = acting_stds(mup_mlp(width))
    config = width_recipe(RECIPE, width, "mup", BASE, readout="scaled")
    ours = acting_stds(build_model("torch_default", width, mnist5k, config))
    m = width / BASE
    formula = [1 / math.sqrt(3 * 784), 1 / math.sqrt(3 * width),
               1 / math.sqrt(3 * width) / math.sqrt(m)]
    for name, a, b, f in zip(("input", "hidden1", "readout"), ours, theirs, formula):
        assert abs(a / b - 1) < STD_RTOL, f"width {width} {name}: initcore {a:.4g} vs mup {b:.4g}"
        assert abs(a / f - 1) < STD_RTOL, f"width {width} {name}: initcore {a:.4g} vs {f:.4g}"
    # the zero readout is zero in both
    assert mup_mlp(width, readout_zero_init=True)[4].weight.abs().max() == 0
    zero = width_recipe(RECIPE, width, "mup", BASE, readout="zero")
    assert linear_layers(build_model("lecun_normal", 0, mnist5k, zero))[-1].weight.abs().max() == 0


def _mup_with_our_weights(ours: nn.Module, width: int) -> nn.Module:
    model = mup_mlp(width, rescale=False)
    with torch.no_grad():
        for theirs, mine in zip(linear_layers(model), linear_layers(ours)):
            scale = theirs.width_mult() if isinstance(theirs, mup.MuReadout) else 1.0
            theirs.weight.copy_(mine.weight * scale)  # MuReadout acts as W / m
    return model


@pytest.mark.parametrize("optimizer,lr", [("sgd", 0.1), ("adam", 1e-3)])
def test_coord_check_curves_match_mups_get_coord_data(mnist5k: Dataset, optimizer: str,
                                                      lr: float) -> None:
    """mup's get_coord_data (MuSGD / MuAdam, its hooks, its l1) against initcore's
    coord_check, same initial weights, same batch, 3 steps, seeds 0-1, widths 64-1024, with
    the "scaled" readout (so that every layer moves at step 1)."""
    recipe = Recipe(hidden=(BASE, BASE), bias=False, momentum=0.0, batch_size=64, epochs=1,
                    optimizer=optimizer, lr=lr)
    seeds, steps = (0, 1), 3
    ours = coord_check(mnist5k, recipe, "mup", widths=WIDTHS, base_width=BASE, steps=steps,
                       seeds=seeds, readout="scaled", init="lecun_normal")
    data = rescale(mnist5k, recipe.input_scaling)
    rows = epoch_order(torch.Generator().manual_seed(DATA_ORDER_OFFSET),
                       data.x_train.shape[0], "cpu")[:recipe.batch_size]
    batch = (data.x_train[rows], data.y_train[rows])
    frames = []
    for seed in seeds:  # get_coord_data's own seeds would draw other weights: one call each
        models = {}
        for width in WIDTHS:
            config = width_recipe(recipe, width, "mup", BASE, readout="scaled")
            weights = build_model("lecun_normal", seed, mnist5k, config)
            models[width] = (lambda w=weights, n=width: _mup_with_our_weights(w, n))
        df = get_coord_data(models, [batch], optimizer=optimizer, lr=lr, mup=True, nsteps=steps,
                            nseeds=1, cuda=False, fix_data=True, lossfn="xent")
        frames.append(df.assign(seed=seed))
    theirs = pd.concat(frames)
    theirs = theirs[theirs["module"].isin(LAYERS)].assign(
        layer=lambda d: d["module"].map(LAYERS))
    joined = ours.merge(theirs[["seed", "width", "layer", "t", "l1"]],
                        on=["seed", "width", "layer", "t"], suffixes=("", "_mup"))
    assert len(joined) == len(ours) == len(seeds) * len(WIDTHS) * 3 * steps, (
        f"{len(joined)} of {len(ours)} rows matched mup's table")
    rel = ((joined["l1"] - joined["l1_mup"]).abs() / joined["l1_mup"].abs()).max()
    assert rel < CURVE_RTOL, f"{optimizer}: l1 differs from mup's by up to {rel:.3g} rel"
