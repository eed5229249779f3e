"""The types of the benchmark's experiments, and the rule that checks a bound.

An :class:`Experiment` is one grid of (initializer x seed) models trained together with one
recipe, with per initializer a tuple of :class:`Bound`: what its final (or epoch-k) test
accuracy must satisfy, and the measurement the number came from. A :class:`Profile` is a named
list of experiments. The tables of bounds are data, in :mod:`initcore.bounds`; the profiles
that put experiments and bounds together are :mod:`initcore.profiles`; the tests of ``bench/``
check cells with :func:`check_bound`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .train import Recipe
from .verdicts import MARGIN


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
    config: Recipe  # architecture and recipe
    inits: tuple[str, ...]  # initializers trained (all of the registry by default)
    seeds: tuple[int, ...]  # seeds trained
    bounds: dict[str, tuple[Bound, ...]] = field(default_factory=dict)  # init -> bounds
    # What the experiment is, for the tests that single some out (never read from its name):
    deep: bool = False  # a deep signal-propagation net (bench/test_deep.py: stall, one class)
    sweep: bool = False  # a column of the activation sweep (bench/test_deep.py's table)
    # Equivalence margin of its verdicts (initcore.verdicts; fraction of accuracy): by default
    # the gate's floor, 0.5 point; --margin PT overrides it for every experiment of a run.
    margin: float = MARGIN


@dataclass(frozen=True)
class Profile:
    """A named set of experiments: what ``pytest bench --profile NAME`` trains and checks."""

    name: str
    description: str
    experiments: tuple[Experiment, ...]
    # The reference experiment (the seed recipe where the profile has it): the one timed,
    # perturbed by the sensitivity check, and the relu column of the activation sweep.
    # Every profile's is its first experiment, so that shard 1 of a --shard i/n session holds
    # a part of it (initcore.shards.plan) and runs the profile-wide tests.
    reference: str = ""

    def reference_experiment(self) -> Experiment | None:
        """The experiment named by :attr:`reference` (this shard's part of it under --shard);
        None if the profile names none or this shard does not hold it."""
        return next((e for e in self.experiments if e.name == self.reference), None)

    def experiment(self, name: str) -> Experiment:
        """The experiment called ``name``; ValueError listing the valid names if unknown."""
        for experiment in self.experiments:
            if experiment.name == name:
                return experiment
        valid = ", ".join(e.name for e in self.experiments)
        raise ValueError(f"profile {self.name!r} has no experiment {name!r}; valid: {valid}")

    def with_seeds(self, n_seeds: int) -> Profile:
        """This profile with seeds 0..n_seeds-1 in every experiment (``--seeds``)."""
        if n_seeds < 1:
            raise ValueError(f"--seeds must be >= 1, got {n_seeds}")
        seeds = tuple(range(n_seeds))
        return replace(self, experiments=tuple(replace(e, seeds=seeds) for e in self.experiments))

    def with_inits(self, extra: list[str]) -> Profile:
        """This profile with the schemes ``extra`` (a user's, a plugin's) added to every
        experiment that lacks them: a newcomer is trained and ranked everywhere."""
        return replace(self, experiments=tuple(
            replace(e, inits=e.inits + tuple(i for i in extra if i not in e.inits))
            for e in self.experiments))

    def with_margin(self, margin: float) -> Profile:
        """This profile with the equivalence margin ``margin`` (fraction) in every experiment
        (``--margin``)."""
        if not 0 < margin < 1:
            raise ValueError(f"--margin must be > 0 and < 100 points, got {100 * margin:g}")
        return replace(self, experiments=tuple(replace(e, margin=margin)
                                               for e in self.experiments))

    def on_device(self, device: str) -> Profile:
        """This profile with every experiment trained on ``device`` (``--device``)."""
        return replace(self, experiments=tuple(replace(e, config=replace(e.config, device=device))
                                               for e in self.experiments))


def check_bound(bound: Bound, accuracies: list[float], diverged: list[bool]) -> list[str]:
    """Problems (one line each, empty if none) of per-seed ``accuracies`` against ``bound``.

    A diverged seed passes only if the bound says ``may_diverge``; a NaN accuracy of a seed not
    marked diverged fails both a lower and an upper bound.
    """
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
