"""Named experiment profiles and the bounds each one expects, kept as data.

A :class:`Profile` is a list of :class:`Experiment` (dataset, architecture and recipe, initializers,
seeds) plus, per experiment, a table ``init -> Bound``: what the final (or epoch-k) test accuracy
must satisfy, and the measurement the number came from. Tests in ``bench/`` read these tables;
no bound is written as a literal in a test body.

Profiles: ``smoke`` (embedded mnist-5k, the default of ``pytest bench``, a few minutes on 2 CPU
cores), ``seed`` (the seed recipe on full MNIST), ``nightly`` (full MNIST, more seeds, plus the
deep experiments) and ``deep`` (the deep experiments alone).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .initializers import list_initializers
from .train import TrainConfig

CHANCE = 0.1  # 10 balanced-ish classes


@dataclass(frozen=True)
class Bound:
    """What one initializer's test accuracy must satisfy in one experiment."""

    min_acc: float | None = None  # accuracy must be >= this (fraction), None: no lower bound
    max_acc: float | None = None  # accuracy must be <= this (fraction), None: no upper bound
    may_diverge: bool = False  # True: a diverged run (NaN loss) also passes
    epoch: int | None = None  # the epoch the bound applies to; None: the last one
    why: str = ""  # the theory behind the bound, one line
    measured: str = ""  # the measurement it came from: seeds, mean, spread


@dataclass(frozen=True)
class Experiment:
    """One grid of (initializer x seed) models trained together with one recipe."""

    name: str  # unique within a profile, used in test ids and report rows
    dataset: str  # initcore.data.DATASETS
    config: TrainConfig  # architecture and recipe
    inits: tuple[str, ...]  # initializers trained (all of the registry by default)
    seeds: tuple[int, ...]  # seeds trained
    bounds: dict[str, tuple[Bound, ...]] = field(default_factory=dict)  # init -> bounds


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    experiments: tuple[Experiment, ...]

    def experiment(self, name: str) -> Experiment:
        for experiment in self.experiments:
            if experiment.name == name:
                return experiment
        valid = ", ".join(e.name for e in self.experiments)
        raise ValueError(f"profile {self.name!r} has no experiment {name!r}; valid: {valid}")


SEED_RECIPE = TrainConfig()  # 784-256-128-10 ReLU, SGD 0.01/0.9, batch 64, 10 epochs
ALL = tuple(list_initializers())

# ---------------------------------------------------------------------------------------------
# Bounds. Each number was measured with the command in `measured` (see README "Benchmark suite").
# ---------------------------------------------------------------------------------------------

_TRAINS = "a variance-preserving scale lets a 3-layer ReLU net train fast"
_SMOKE_SRC = "mnist-5k, 3 epochs, seeds 0-9 (initcore run --seeds 10)"


def _high(min_acc: float, measured: str, why: str = _TRAINS) -> tuple[Bound, ...]:
    return (Bound(min_acc=min_acc, why=why, measured=measured),)


SMOKE_BOUNDS: dict[str, tuple[Bound, ...]] = {
    # A constant predictor scores the share of its class: exactly 10% on the balanced test split.
    "zeros": (Bound(max_acc=0.101, why="W=b=0: hidden gradients are exactly 0, only the output "
                    "bias learns -> constant prediction", measured=f"{_SMOKE_SRC}: 10.00% all"),),
    "seed_zero": (Bound(max_acc=0.15, why="W=0 with random biases: every hidden unit ignores the "
                        "input until W2 moves; stays at chance in 189 steps",
                        measured=f"{_SMOKE_SRC}: 10.00% all seeds, also after 5 epochs"),),
    "random_large": (Bound(max_acc=0.15, may_diverge=True, why="N(0,1): pre-activations grow "
                           "~sqrt(fan_in/2) per layer, saturated logits, dead units",
                           measured=f"{_SMOKE_SRC}: mean 10.09, std 0.28, max 10.9"),),
    "random_normal": (Bound(min_acc=0.50, max_acc=0.75, why="N(0,0.01^2): the signal shrinks "
                            "~10x per layer, so it learns, but far slower than He/Xavier",
                            measured=f"{_SMOKE_SRC}: mean 63.17, std 2.30, min 58.9, max 67.0"),),
    "torch_default": _high(0.82, f"{_SMOKE_SRC}: mean 87.46, std 1.03, min 85.6",
                           "Var=1/(3 fan_in) shrinks the signal but 3 layers still train"),
    "xavier_uniform": _high(0.85, f"{_SMOKE_SRC}: mean 89.46, std 0.82, min 87.9"),
    "xavier_normal": _high(0.85, f"{_SMOKE_SRC}: mean 89.65, std 0.99, min 88.6"),
    "he_uniform": _high(0.85, f"{_SMOKE_SRC}: mean 89.79, std 0.92, min 88.3"),
    "he_normal": _high(0.85, f"{_SMOKE_SRC}: mean 90.01, std 0.91, min 88.8"),
    "lecun_normal": _high(0.85, f"{_SMOKE_SRC}: mean 88.86, std 0.74, min 87.9"),
    "orthogonal": _high(0.85, f"{_SMOKE_SRC}: mean 88.80, std 0.78, min 87.5"),
    "lsuv": _high(0.85, f"{_SMOKE_SRC}: mean 89.40, std 1.00, min 87.7"),
    "seed_random": _high(0.85, f"{_SMOKE_SRC}: mean 89.43, std 0.95, min 87.3"),
}
# Every lower bound sits >= 2 points under the lowest of 10 seeds and >= 3.5 std under the mean.
SEED_BOUNDS: dict[str, tuple[Bound, ...]] = {}

_PROFILES: dict[str, Profile] = {}


def _register(profile: Profile) -> Profile:
    _PROFILES[profile.name] = profile
    return profile


_register(Profile(
    "smoke", "embedded mnist-5k, every initializer, 3 seeds, 3 epochs (the default)",
    (Experiment("seed-recipe", "mnist-5k", replace(SEED_RECIPE, epochs=3), ALL, (0, 1, 2),
                SMOKE_BOUNDS),),
))
_register(Profile(
    "seed", "the seed recipe on full MNIST: every initializer, 3 seeds, 10 epochs",
    (Experiment("seed-recipe", "mnist", SEED_RECIPE, ALL, (0, 1, 2), SEED_BOUNDS),),
))
_register(Profile(
    "nightly", "full MNIST, every initializer, 5 seeds, 10 epochs, plus the deep experiments",
    (Experiment("seed-recipe", "mnist", SEED_RECIPE, ALL, (0, 1, 2, 3, 4), SEED_BOUNDS),),
))


def list_profiles() -> list[str]:
    return list(_PROFILES)


def get(name: str) -> Profile:
    """The profile called ``name``; ValueError listing the valid names if unknown."""
    if name not in _PROFILES:
        raise ValueError(f"unknown profile {name!r}; valid names: {', '.join(_PROFILES)}")
    return _PROFILES[name]


def check_bound(bound: Bound, accuracies: list[float], diverged: list[bool]) -> list[str]:
    """Problems (one line each, empty if none) of per-seed ``accuracies`` against ``bound``."""
    problems = []
    where = f"epoch {bound.epoch}" if bound.epoch else "final"
    for seed_index, (acc, gone) in enumerate(zip(accuracies, diverged)):
        if gone:
            if not bound.may_diverge:
                problems.append(f"seed #{seed_index} diverged (NaN/inf loss)")
            continue
        if bound.min_acc is not None and not acc >= bound.min_acc:
            problems.append(f"seed #{seed_index} {where} accuracy {acc:.2%} < {bound.min_acc:.2%}")
        if bound.max_acc is not None and not acc <= bound.max_acc:
            problems.append(f"seed #{seed_index} {where} accuracy {acc:.2%} > {bound.max_acc:.2%}")
    return problems
