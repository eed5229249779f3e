"""Train each distinct model once: cells of a grid whose models would train identically.

Two (init, seed) cells of one grid share the recipe and the data; a model's training then
depends only on its initial parameters and on its data order, which comes from
``Generator(seed + DATA_ORDER_OFFSET)`` (:mod:`initcore.train`). Two cells with bitwise equal
initial parameters and the same seed are therefore the same computation: ``identity`` and
``zero_hadamard`` (ZerO, Zhao et al. 2022, Algorithm 1) on every net that never widens, a
user's alias of a built-in scheme, a scheme that ignores its generator across seeds of the
same data order. Which cells are alike is read from the weights themselves, a SHA-256 digest
of every parameter and buffer (name, dtype, shape, bytes), never from a list of names, so a new
scheme that happens to coincide with another is caught and one that differs in a single bit is
not.

Only the first cell of each such class is trained; the others get copies of its per-epoch
metrics under their own names, and their modules its trained state. The numbers are the ones a
run of each cell alone gives, digit for digit: a model's results do not depend on which other
models share its grid (:mod:`initcore.shards`, measured bitwise). ``seconds`` is apportioned:
the grid epoch's wall time divided by the cells reported, duplicates included (as before this
module, each row's seconds times the grid's cells is the epoch's wall time).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import torch
from torch import nn

from .train import RunResult


def fingerprint(model: nn.Module) -> str:
    """SHA-256 of the model's initial state: every parameter and buffer's name, dtype, shape
    and bytes (``state_dict`` order)."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())  # any dtype, as bytes
    return digest.hexdigest()


def alike(models: Sequence[nn.Module], seeds: Sequence[int]) -> list[int]:
    """For each cell (its initial model and its seed, which fixes the data order), the index of
    the first cell that trains identically: itself when it is the first of its kind."""
    first: dict[tuple[str, int], int] = {}
    return [first.setdefault((fingerprint(model), seed), g)
            for g, (model, seed) in enumerate(zip(models, seeds))]


def expand(trained: Sequence[RunResult], source: Sequence[int],
           cells: Sequence[tuple[str, int]], models: Sequence[nn.Module]) -> list[RunResult]:
    """Every cell's result from the results of the cells trained (``trained``, in the order of
    their indices in ``source``): a duplicate gets a copy of its source's epochs under its own
    name, and its own module (``models``) loaded with the source's trained state."""
    by_cell = dict(zip(sorted(set(source)), trained))
    results = []
    for g, ((init, seed), first) in enumerate(zip(cells, source)):
        if g == first:
            results.append(by_cell[g])
            continue
        done = by_cell[first]
        model = models[g]
        model.load_state_dict(done.model.state_dict())
        results.append(RunResult(init, seed, list(done.epochs), model))
    return results
