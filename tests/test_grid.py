"""The grid trainer against the single-model trainer: same (init, seed), same numbers.

Tolerances, measured on this run (seed-recipe MLP 784-256-128-10, 1 epoch on the 1,000-row
`small_data`, seeds 0 and 1, every initializer), comparing train_grid with train:

* losses: max relative difference 1.3e-5 (random_large's train loss, 4532.04 vs 4532.10: its
  losses are in the thousands, so float rounding in batched vs plain matmuls shows); every other
  scheme <= 2.3e-7. Tolerance 1e-4 relative (abs floor 1e-6).
* test accuracy: no test digit flipped; the grid's accuracy is a float32 (0.5440000295639038 vs
  0.544), so 3e-8 apart. Tolerance: one digit of the 1,000 (1e-3) plus 1e-6.
* trained weights, max |difference| / max |weight| per tensor: random_large 7.2e-4, every other
  scheme <= 8.3e-6. Tolerance 1e-2 for random_large, 1e-4 for the rest.

Longer runs drift further (on all of MNIST-5k for 2 epochs a few schemes differ by 2e-3 in train
loss and 0.4 points of accuracy: SGD amplifies the rounding), which is why the run is short.
"""

from __future__ import annotations

import math

import pytest
import torch

from conftest import ProgressCounter
from initcore import initializers
from initcore.data import Dataset
from initcore.grid import grid_forward, sgd_momentum_step, stack_parameters, train_grid
from initcore.models import ACTIVATIONS, MLP
from initcore.residual_schemes import RESIDUAL_SCHEMES
from initcore.train import Recipe, RunResult, train

NAMES = [n for n in initializers.list_initializers() if n not in RESIDUAL_SCHEMES]  # MLP schemes
SEEDS = [0, 1]
CONFIG = Recipe(epochs=1)  # the seed recipe, one epoch
LOSS_RTOL, LOSS_ATOL = 1e-4, 1e-6
ACC_TOL = 1e-3 + 1e-6
WEIGHT_RTOL = {"random_large": 1e-2}  # default 1e-4; see the module docstring


@pytest.fixture(scope="module")
def grid_results(small_data: Dataset) -> dict[tuple[str, int], RunResult]:
    results = train_grid(NAMES, SEEDS, small_data, CONFIG)
    return {(r.init, r.seed): r for r in results}


@pytest.mark.parametrize("name", NAMES, ids=lambda n: f"init={n}")
def test_grid_matches_single_trainer(grid_results, small_data: Dataset, name: str) -> None:
    for seed in SEEDS:
        grid, single = grid_results[(name, seed)], train(name, seed, small_data, CONFIG)
        assert len(grid.epochs) == len(single.epochs), f"{name} seed {seed}: epoch count differs"
        for g, s in zip(grid.epochs, single.epochs):
            where = f"{name} seed {seed} epoch {s.epoch}"
            assert (g.epoch, g.diverged) == (s.epoch, s.diverged), f"{where}: {g} vs {s}"
            for key in ("train_loss", "test_loss"):
                a, b = getattr(g, key), getattr(s, key)
                assert math.isclose(a, b, rel_tol=LOSS_RTOL, abs_tol=LOSS_ATOL), (
                    f"{where}: {key} grid {a!r} vs single {b!r} (rel tol {LOSS_RTOL})")
            assert abs(g.test_acc - s.test_acc) <= ACC_TOL, (
                f"{where}: test_acc grid {g.test_acc!r} vs single {s.test_acc!r}")
        rtol = WEIGHT_RTOL.get(name, 1e-4)
        for (pname, p), q in zip(grid.model.named_parameters(), single.model.parameters()):
            scale = q.abs().max().clamp_min(1e-12)
            err = ((p - q).abs().max() / scale).item()
            assert err <= rtol, f"{name} seed {seed}: trained {pname} differs by {err:.3g} rel"


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=lambda a: f"activation={a}")
def test_grid_forward_equals_mlp_forward(small_data: Dataset, activation: str) -> None:
    models = [initializers.initialize(MLP([784, 64, 32, 10], activation), "he_normal", seed)
              for seed in (0, 1, 2)]
    params = stack_parameters(models, torch.device("cpu"))
    x = small_data.x_test[:200]
    with torch.no_grad():
        stacked = grid_forward(params, x, activation)  # (G, B, C)
        for g, model in enumerate(models):
            ref = model(x)
            err = (stacked[g] - ref).abs().max().item()
            # float32 rounding, baddbmm vs addmm: measured <= 2.4e-6 with logits up to 8.5.
            assert err < 1e-4 * max(1.0, ref.abs().max().item()), (
                f"{activation}: grid logits of model {g} differ from the MLP's by {err:.3g}")


def _check_step_against_autograd(data: Dataset, sizes: list[int], activation: str,
                                 cells: list[tuple[str, int]], steps: int, tol: float) -> None:
    """Run the grid's hand-written step and autograd + torch.optim.SGD side by side in float64,
    on the same batches, and require equal losses at every step and equal weights and biases
    after ``steps`` steps (relative ``tol``)."""
    lr, momentum = Recipe().lr, Recipe().momentum
    models = [initializers.initialize(MLP(sizes, activation), name, seed).double()
              for name, seed in cells]
    params = stack_parameters(models, torch.device("cpu"))
    buffers = [torch.zeros_like(p) for p in params]
    optimizers = [torch.optim.SGD(m.parameters(), lr=lr, momentum=momentum) for m in models]
    alive = torch.ones(len(models), dtype=torch.bool)
    for step in range(steps):
        x = data.x_train[64 * step:64 * (step + 1)].double()
        y = data.y_train[64 * step:64 * (step + 1)]
        losses = sgd_momentum_step(params, buffers, x.expand(len(models), -1, -1),
                                    y.expand(len(models), -1), alive, activation, lr, momentum)
        for g, (model, optimizer) in enumerate(zip(models, optimizers)):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            assert math.isclose(losses[g].item(), loss.item(), rel_tol=tol), (
                f"{activation} step {step} model {g}: loss {losses[g].item()} vs {loss.item()}")
    assert alive.all(), "no model should have died"
    for g, model in enumerate(models):
        for i, layer in enumerate(m for m in model if isinstance(m, torch.nn.Linear)):
            pairs = ((params[2 * i][g].T, layer.weight), (params[2 * i + 1][g, 0], layer.bias))
            for mine, ref in pairs:
                err = ((mine - ref).abs().max() / ref.abs().max()).item()
                assert err < tol, f"{activation} model {g} layer {i}: differs by {err:.3g} rel"


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=lambda a: f"activation={a}")
def test_hand_written_step_equals_autograd_and_torch_sgd(small_data: Dataset,
                                                          activation: str) -> None:
    """The grid's hand-written backward + momentum step against autograd + torch.optim.SGD.

    In float64, so what is compared is the mathematics (a wrong derivative or a missing 1/B
    shows as an O(1) error), not float32 rounding: measured <= 1e-15 relative after 3 steps.
    """
    _check_step_against_autograd(small_data, [784, 32, 16, 10], activation,
                                 [("he_normal", 0), ("xavier_uniform", 0), ("torch_default", 0)],
                                 steps=3, tol=1e-12)


@pytest.mark.parametrize("activation", [a for a in ACTIVATIONS if a != "relu"])
def test_grid_matches_single_trainer_other_activations(small_data: Dataset,
                                                       activation: str) -> None:
    """Every activation's backward path (closed-form derivative or torch.func.vjp) in a real run:
    one epoch, he_normal and xavier_normal, seed 0. Measured: losses <= 2.5e-6 relative (linear;
    the rest <= 5.5e-7), no test digit flipped. Same tolerances as the ReLU comparison above."""
    config = Recipe(epochs=1, activation=activation)
    inits = ["he_normal", "xavier_normal"]
    for grid in train_grid(inits, [0], small_data, config):
        single = train(grid.init, 0, small_data, config)
        for key in ("train_loss", "test_loss"):
            a, b = getattr(grid.epochs[0], key), getattr(single.epochs[0], key)
            assert math.isclose(a, b, rel_tol=LOSS_RTOL, abs_tol=LOSS_ATOL), (
                f"{activation} {grid.init}: {key} grid {a!r} vs single {b!r}")
        assert abs(grid.epochs[0].test_acc - single.epochs[0].test_acc) <= ACC_TOL


def test_grid_order_init_major_and_seeds_unique(small_data: Dataset) -> None:
    config = Recipe(epochs=1, hidden=(16,))
    results = train_grid(["zeros", "he_normal"], [1, 0, 1], small_data, config)
    cells = [(r.init, r.seed) for r in results]
    assert cells == [("zeros", 1), ("zeros", 0), ("he_normal", 1), ("he_normal", 0)], (
        f"expected init-major order with duplicate seeds dropped, got {cells}")


def test_grid_progress_counts_model_epochs(small_data: Dataset) -> None:
    counter = ProgressCounter()
    train_grid(["zeros", "he_normal"], [0, 1], small_data,
               Recipe(epochs=2, hidden=(16,)), progress=counter)
    assert counter.n == 2 * 2 * 2, f"progress saw {counter.n} model-epochs, expected 8"


def test_grid_progress_counts_skipped_epochs_after_divergence(small_data: Dataset) -> None:
    single, grid = ProgressCounter(), ProgressCounter()
    config = Recipe(epochs=3, hidden=(64, 32), lr=1e10)  # he_normal diverges in epoch 1
    train("he_normal", 0, small_data, config, progress=single)
    train_grid(["he_normal"], [0], small_data, config, progress=grid)
    assert single.n == 3, f"train() should count all 3 model-epochs, counted {single.n}"
    assert grid.n == single.n, f"train_grid counted {grid.n} model-epochs, train() {single.n}"



def test_hand_written_step_equals_autograd_at_depth_30(small_data: Dataset) -> None:
    """The same comparison through 30 hidden ReLU layers for 15 steps (float64): measured 4e-14.
    So where float32 runs at depth 30 part ways (bench's deep experiments), that is rounding
    amplified by the training dynamics, not a wrong gradient."""
    _check_step_against_autograd(small_data, [784] + [64] * 30 + [10], "relu",
                                 [("he_normal", 0), ("he_normal", 1), ("orthogonal", 0)],
                                 steps=15, tol=1e-11)  # 960 of small_data's 1,000 rows
