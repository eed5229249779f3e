"""LSUV (Mishkin & Matas, 2016, "All you need is a good init"): orthogonal weights, then each
layer rescaled until its output std on a data batch is 1 +- 0.1 (the paper's Tol_var)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from initcore import initializers
from initcore.initializers import LSUV_BATCH, linear_layers
from initcore.models import MLP

SEED_RECIPE = [784, 256, 128, 10]


def layer_output_stds(model: nn.Module, x: torch.Tensor) -> list[float]:
    """Std of every Linear layer's output on x, captured with forward hooks."""
    stds: list[float] = []
    handles = [layer.register_forward_hook(lambda _m, _i, out: stds.append(out.std().item()))
               for layer in linear_layers(model)]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return stds


def lsuv_batch(x: torch.Tensor, seed: int) -> torch.Tensor:
    """The rows `lsuv` measures on: it consumes the generator for the orthogonal pre-init of the
    seed-recipe MLP, then draws LSUV_BATCH rows with randperm from the same generator."""
    g = torch.Generator().manual_seed(seed)
    initializers.get("orthogonal").apply(MLP(SEED_RECIPE), g, None)
    return x[torch.randperm(x.shape[0], generator=g)[:LSUV_BATCH]]


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_lsuv_unit_output_std_on_its_batch(mnist5k, seed: int, activation: str) -> None:
    model = MLP(SEED_RECIPE, activation)
    initializers.get("lsuv")(model, torch.Generator().manual_seed(seed), mnist5k.x_train)
    stds = layer_output_stds(model, lsuv_batch(mnist5k.x_train, seed))
    # 0.1: LSUV's own stopping tolerance (the paper's Tol_var). A layer already within it is left
    # alone (here the first layer: 0.913-1.0 over seeds 0-5); any other is divided once, which
    # makes its std 1 to float precision since biases are 0 (measured |std - 1| < 1e-5).
    assert all(abs(s - 1) < 0.1 for s in stds), f"LSUV {activation} seed {seed}: stds {stds}"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lsuv_unit_output_std_on_other_rows(mnist5k, seed: int) -> None:
    model = MLP(SEED_RECIPE)
    initializers.get("lsuv")(model, torch.Generator().manual_seed(seed), mnist5k.x_train)
    stds = layer_output_stds(model, mnist5k.x_test)  # 1,000 rows LSUV never saw
    # 0.15: measured max |std - 1| = 0.085 (first layer, seeds 0-9, relu and tanh; the first
    # layer is the one LSUV may leave at 0.9-1.1 on its batch); 0.15 leaves a margin and still
    # catches a missing rescale (orthogonal alone gives stds 0.94, 0.68, 0.39 here).
    assert all(abs(s - 1) < 0.15 for s in stds), f"LSUV seed {seed}: test-split stds {stds}"


def test_lsuv_without_data_raises() -> None:
    with pytest.raises(ValueError, match="lsuv"):
        initializers.get("lsuv")(MLP(SEED_RECIPE), torch.Generator().manual_seed(0))
