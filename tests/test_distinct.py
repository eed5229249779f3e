"""Each distinct model is trained once (initcore.distinct): cells whose initial weights and seed
are equal train as one model, and every cell's rows are, digit for digit, those of a run of it
alone."""

from __future__ import annotations

import pytest
import torch

from conftest import ProgressCounter
from initcore import distinct, grid
from initcore.data import Dataset
from initcore.grid import train_grid
from initcore.train import Recipe, build_model

MLP_1 = Recipe(epochs=1)  # the seed net: never widens after 784, so identity == zero_hadamard
RESMLP = Recipe(arch="resmlp", blocks=2, width=16, epochs=1)


@pytest.fixture
def trained(monkeypatch: pytest.MonkeyPatch) -> list[list[tuple[str, int]]]:
    """The cells each call of a grid trainer (MLP or ResMLP) really trained."""
    calls: list[list[tuple[str, int]]] = []
    for name in ("train_models", "train_module_models"):
        real = getattr(grid, name)

        def counting(cells, *args, real=real, **kwargs):
            calls.append(list(cells))
            return real(cells, *args, **kwargs)

        monkeypatch.setattr(grid, name, counting)
    return calls


def rows(result) -> list[tuple]:
    """A result's per-epoch numbers as the reports write them, seconds aside."""
    return [(e.epoch, repr(e.train_loss), repr(e.test_loss), repr(e.test_acc), e.diverged)
            for e in result.epochs]


def test_distinct_identity_and_zero_hadamard_train_once(small_data: Dataset, trained) -> None:
    inits = ["identity", "he_normal", "zero_hadamard"]
    results = train_grid(inits, [0, 1], small_data, MLP_1)
    assert [(r.init, r.seed) for r in results] == [(i, s) for i in inits for s in (0, 1)], (
        "every cell is reported, init-major, under its own name")
    assert trained[0] == [("identity", 0), ("identity", 1), ("he_normal", 0), ("he_normal", 1)], (
        f"zero_hadamard makes identity's weights on the seed net: expected 4 models trained, "
        f"got {trained[0]}")
    for result in results:
        alone = train_grid([result.init], [result.seed], small_data, MLP_1)[0]
        assert rows(result) == rows(alone), (
            f"{result.init} seed {result.seed}: the shared grid's rows differ from a run alone")
        for mine, its in zip(result.model.state_dict().values(),
                             alone.model.state_dict().values()):
            assert torch.equal(mine, its), f"{result.init} seed {result.seed}: weights differ"
    assert results[0].model is not results[4].model, "each cell keeps its own module"


def test_distinct_residual_twins_train_once(small_data: Dataset, trained, user_scheme) -> None:
    def scaled_normal(weight, generator=None):
        return torch.nn.init.normal_(weight, 0.0, 0.1, generator=generator)

    user_scheme("twin_a", "N(0, 0.01)")(scaled_normal)
    user_scheme("twin_b", "N(0, 0.01)")(scaled_normal)
    results = train_grid(["twin_a", "fixup", "twin_b"], [0], small_data, RESMLP)
    assert trained[0] == [("twin_a", 0), ("fixup", 0)], f"trained {trained[0]}"
    alone = train_grid(["twin_b"], [0], small_data, RESMLP)[0]
    assert rows(results[2]) == rows(alone), "twin_b's rows differ from a run of it alone"
    assert rows(results[2]) == rows(results[0])


def test_distinct_seconds_apportioned_over_every_cell(small_data: Dataset, trained) -> None:
    """Each row's seconds is the grid epoch's wall time over the cells reported, so rows x cells
    is still the epoch's wall time; progress counts every cell's model-epochs."""
    counter = ProgressCounter()
    results = train_grid(["identity", "zero_hadamard"], [0], small_data,
                         Recipe(epochs=2), progress=counter)
    assert len(trained[0]) == 1
    assert counter.n == 2 * 2, f"progress counted {counter.n} model-epochs, expected 4"
    assert [e.seconds for e in results[0].epochs] == [e.seconds for e in results[1].epochs]


def test_distinct_same_weights_other_seed_are_two_models(small_data: Dataset) -> None:
    """A scheme that ignores its generator makes equal weights for every seed, but each seed has
    its own data order: they stay two models."""
    models = [build_model("zeros", seed, small_data, MLP_1) for seed in (0, 1)]
    assert distinct.fingerprint(models[0]) == distinct.fingerprint(models[1])
    assert distinct.alike(models, [0, 1]) == [0, 1]


def test_distinct_one_bit_apart_is_another_model(small_data: Dataset) -> None:
    a, b = (build_model("he_normal", 0, small_data, MLP_1) for _ in range(2))
    assert distinct.alike([a, b], [0, 0]) == [0, 0], "the same scheme and seed: one model"
    with torch.no_grad():
        w = next(b.parameters())
        w.view(-1)[0] = torch.nextafter(w.view(-1)[0], torch.tensor(float("inf")))
    assert distinct.alike([a, b], [0, 0]) == [0, 1], "one ulp apart in one weight: two models"
