"""Named experiment profiles: what ``pytest bench --profile NAME`` trains and checks.

A :class:`~initcore.experiments.Profile` is a list of :class:`~initcore.experiments.Experiment`
(dataset, architecture and recipe, initializers, seeds), each with its table ``init -> Bound``
from :mod:`initcore.bounds` (what the accuracy must satisfy, and the measurement the number came
from). The types and the rule that checks a bound are :mod:`initcore.experiments`.

Profiles: ``smoke`` (embedded mnist-5k, the default of ``pytest bench``, a few minutes on 2 CPU
cores), ``seed`` (the seed recipe on full MNIST), ``nightly`` (full MNIST, more seeds, plus the
deep experiments, the residual experiment and MNIST-1D), ``deep`` (the deep experiments alone),
``residual`` (:mod:`initcore.residual_profiles`: residual nets and MNIST-1D) and ``paper``
(published MNIST-MLP tables with their own recipes, :mod:`initcore.recipes`; ~45 min on 2 CPU
cores, never in CI).
"""

from __future__ import annotations

from dataclasses import replace

from .bounds import (
    DEEP_RELU_BOUNDS,
    DEEP_SHORT_BOUNDS,
    DEEP_TANH_BOUNDS,
    PAPER_SNN_RELU_BOUNDS,
    PAPER_SNN_SELU_BOUNDS,
    PAPER_ZERO_BOUNDS,
    SEED_BOUNDS,
    SMOKE_BOUNDS,
    SWEEP_BOUNDS,
)
from .experiments import Experiment, Profile
from .initializers import builtin_names
from .recipes import shipped
from .residual_profiles import DEPTH_SWEEP, MNIST1D_EXPERIMENTS, RESIDUAL_EXPERIMENT
from .residual_schemes import RESIDUAL_SCHEMES
from .train import Recipe

SEED_RECIPE = Recipe()  # 784-256-128-10 ReLU, SGD 0.01/0.9, batch 64, 10 epochs
# Every built-in scheme; schemes from plugins and --init are added to every experiment of a
# profile when a bench session starts (initcore.session.profile_from).
# The residual-net schemes (Fixup, ReZero, ...) need a ResMLP: they train in the residual
# experiments only.
ALL = tuple(n for n in builtin_names() if n not in RESIDUAL_SCHEMES)

# Deep experiments (signal propagation; bench/test_deep.py): why these depths and learning
# rates, and what was measured, is told with their bounds in initcore/bounds.py.
# 30 x 256 ReLU, SGD momentum 0.9, batch 64, 2 epochs, at lr 0.001 (not the seed recipe's 0.01,
# at which this depth is chaotic: see DEEP_RELU_BOUNDS).
DEEP_RELU = Recipe(hidden=(256,) * 30, epochs=2, lr=0.001)
DEEP_TANH = Recipe(hidden=(256,) * 30, epochs=2, activation="tanh")  # the seed recipe's lr
DEEP_SHORT = Experiment("deep-relu-short", "mnist-5k",
                        Recipe(hidden=(64,) * 30, epochs=3, lr=0.001),
                        ("he_normal", "lsuv", "xavier_normal", "torch_default"), (0, 1, 2, 3, 4),
                        DEEP_SHORT_BOUNDS, deep=True)
DEEP_EXPERIMENTS = (
    Experiment("deep-relu", "mnist", DEEP_RELU, ("he_normal", "xavier_normal", "torch_default",
                                                 "lsuv"), (0, 1, 2, 3, 4), DEEP_RELU_BOUNDS,
               deep=True),
    Experiment("deep-tanh", "mnist", DEEP_TANH,
               ("xavier_normal", "torch_default", "random_large"), (0, 1, 2, 3, 4),
               DEEP_TANH_BOUNDS, deep=True),
)

# The activation sweep: the seed architecture and recipe with each other activation (the relu
# column is the seed-recipe experiment). Each sweep trains the schemes some nightly assertion
# reads (docs/speed.md, "What the nightly's assertions need"): those with a sweep bound and
# those with a row in the nightly baseline's sweeps, i.e. the 13 schemes of the seed table. The
# 7 registered later (LeCun uniform and truncated, truncated He, orthogonal_relu, identity, ZerO,
# MetaInit) had neither: 630 of the nightly's 4,410 model-epochs that no test read.
# tests/test_experiments.py holds this list to exactly that set.
SWEEP_INITS = ("zeros", "seed_zero", "random_normal", "seed_random", "xavier_normal",
               "xavier_uniform", "he_normal", "he_uniform", "lecun_normal", "orthogonal", "lsuv",
               "torch_default", "random_large")
SWEEP_EXPERIMENTS = tuple(
    Experiment(f"sweep-{activation}", "mnist", replace(SEED_RECIPE, activation=activation),
               SWEEP_INITS, (0, 1, 2), SWEEP_BOUNDS.get(activation, {}), sweep=True)
    for activation in ("tanh", "sigmoid", "selu"))

# Published tables (README "Published tables, reproduced"), each with its paper's recipe file.
# The ZerO notebook compares Random (kaiming_normal_: he_normal), Partial Identity (eye_:
# identity) and ZerO (Algorithm 1: zero_hadamard); the SNN tutorial a SELU net with LeCun normal
# weights against a ReLU net with nn.Linear's default. A scheme not registered here is left out
# (identity and zero_hadamard come with the new schemes of issue 12).
def _registered(*names: str) -> tuple[str, ...]:
    return tuple(n for n in names if n in builtin_names())


SNN_RECIPE = shipped("snn_mnist")
ZERO_INITS = _registered("he_normal", "identity", "zero_hadamard")
PAPER_EXPERIMENTS = (
    Experiment("zero-mlp", "mnist", shipped("zero_mnist"), ZERO_INITS, (0, 1),
               {k: v for k, v in PAPER_ZERO_BOUNDS.items() if k in ZERO_INITS}),
    Experiment("snn-selu", "mnist", SNN_RECIPE, ("lecun_normal",), (0, 1, 2, 3, 4),
               PAPER_SNN_SELU_BOUNDS),
    Experiment("snn-relu", "mnist", replace(SNN_RECIPE, activation="relu"), ("torch_default",),
               (0, 1, 2, 3, 4), PAPER_SNN_RELU_BOUNDS),
)

_PROFILES: dict[str, Profile] = {}


def _register(profile: Profile) -> Profile:
    _PROFILES[profile.name] = profile
    return profile


_register(Profile(
    "smoke", "embedded mnist-5k, every initializer, 3 seeds, 3 epochs (the default)",
    (Experiment("seed-recipe", "mnist-5k", replace(SEED_RECIPE, epochs=3), ALL, (0, 1, 2),
                SMOKE_BOUNDS), DEEP_SHORT),
    reference="seed-recipe",
))
_register(Profile(
    "seed", "the seed recipe on full MNIST: every initializer, 3 seeds, 10 epochs",
    (Experiment("seed-recipe", "mnist", SEED_RECIPE, ALL, (0, 1, 2), SEED_BOUNDS),),
    reference="seed-recipe",
))
_register(Profile(
    "nightly", "full MNIST, every initializer, 5 seeds, 10 epochs, plus the deep experiments, "
    "the 64-block residual experiment and MNIST-1D's published baselines",
    (Experiment("seed-recipe", "mnist", SEED_RECIPE, ALL, (0, 1, 2, 3, 4), SEED_BOUNDS),
     *DEEP_EXPERIMENTS, *SWEEP_EXPERIMENTS, RESIDUAL_EXPERIMENT, *MNIST1D_EXPERIMENTS[:2]),
    reference="seed-recipe",
))
_register(Profile(
    "residual", "residual MLPs without normalization (64 blocks and the depth sweep 2-32, "
    "mnist-5k, 1 epoch) and MNIST-1D (published baselines, seed-recipe and residual schemes)",
    # mnist1d-mlp first: bench's timing and sensitivity tests read a profile's first experiment
    # as a plain MLP whose he_normal (if bounded) trains
    (MNIST1D_EXPERIMENTS[1], RESIDUAL_EXPERIMENT, *DEPTH_SWEEP, MNIST1D_EXPERIMENTS[0],
     *MNIST1D_EXPERIMENTS[2:]),
    reference="mnist1d-mlp",
))
_register(Profile(
    "deep", "the deep experiments alone: 30 x 256 ReLU and tanh nets on full MNIST, 2 epochs",
    DEEP_EXPERIMENTS,
    reference="deep-relu",  # no seed recipe here: the timing and sensitivity checks use this
))
_register(Profile(
    "paper", "published MNIST-MLP tables with their recipes (ZerO 2022, SNN 2017), full MNIST, "
    "20 epochs; ~45 min on 2 CPU cores",
    PAPER_EXPERIMENTS,
    reference="zero-mlp",  # no seed recipe here: the timing and sensitivity checks use this
))
_register(Profile(
    "width", "muP's coordinate check and learning-rate transfer, SP vs muP, on mnist-5k "
    "(bench/test_width.py; also run by the nightly); no grid of its own",
    (),
))


def list_profiles() -> list[str]:
    return list(_PROFILES)


def get(name: str) -> Profile:
    """The profile called ``name``; ValueError listing the valid names if unknown."""
    if name not in _PROFILES:
        raise ValueError(f"unknown profile {name!r}; valid names: {', '.join(_PROFILES)}")
    return _PROFILES[name]
