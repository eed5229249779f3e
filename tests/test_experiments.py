"""The experiment types and check_bound (initcore.experiments), and the bound tables as data:
every bound of every profile says why and what it was measured on."""

from __future__ import annotations

import math

import pytest

from initcore import initializers, profiles
from initcore.data import DATASETS
from initcore.experiments import Bound, Experiment, Profile, check_bound
from initcore.train import Recipe


def test_check_bound_passes_inside_and_names_each_failing_seed() -> None:
    bound = Bound(min_acc=0.8, max_acc=0.95)
    assert check_bound(bound, [0.8, 0.9, 0.95], [False] * 3) == [], "edges are inside"
    problems = check_bound(bound, [0.79, 0.9, 0.96], [False] * 3)
    assert problems == ["seed #0 final accuracy 79.00% < 80.00%",
                        "seed #2 final accuracy 96.00% > 95.00%"], problems


def test_check_bound_names_the_epoch_it_applies_to() -> None:
    problems = check_bound(Bound(min_acc=0.5, epoch=1), [0.4], [False])
    assert problems == ["seed #0 epoch 1 accuracy 40.00% < 50.00%"], problems


@pytest.mark.parametrize("may_diverge", [False, True], ids=["may_diverge=no", "may_diverge=yes"])
def test_check_bound_diverged_seed_passes_only_when_allowed(may_diverge: bool) -> None:
    bound = Bound(max_acc=0.2, may_diverge=may_diverge)
    problems = check_bound(bound, [math.nan, 0.1], [True, False])
    expected = [] if may_diverge else ["seed #0 diverged (NaN/inf loss)"]
    assert problems == expected, problems


def test_check_bound_nan_accuracy_fails_both_sides() -> None:
    assert len(check_bound(Bound(min_acc=0.1), [math.nan], [False])) == 1
    assert len(check_bound(Bound(max_acc=0.9), [math.nan], [False])) == 1


def test_check_bound_without_limits_accepts_anything() -> None:
    assert check_bound(Bound(), [0.0, 1.0], [False, False]) == []


def test_profile_experiment_unknown_name_lists_valid_names() -> None:
    profile = Profile("p", "test", (Experiment("a", "mnist-5k", Recipe(), ("zeros",), (0,)),
                                    Experiment("b", "mnist-5k", Recipe(), ("zeros",), (0,))))
    assert profile.experiment("b").name == "b"
    with pytest.raises(ValueError, match="no experiment 'c'; valid: a, b"):
        profile.experiment("c")


def test_profile_variants_change_seeds_or_device_only() -> None:
    smoke = profiles.get("smoke")
    two = smoke.with_seeds(2)
    assert all(e.seeds == (0, 1) for e in two.experiments), [e.seeds for e in two.experiments]
    moved = smoke.on_device("cuda:1")
    assert all(e.config.device == "cuda:1" for e in moved.experiments)
    for variant in (two, moved):
        for a, b in zip(variant.experiments, smoke.experiments, strict=True):
            assert (a.name, a.inits, a.bounds, a.config.hidden) == (b.name, b.inits, b.bounds,
                                                                    b.config.hidden)
    with pytest.raises(ValueError, match="--seeds must be >= 1, got 0"):
        smoke.with_seeds(0)


def test_profiles_unknown_name_lists_valid_names() -> None:
    with pytest.raises(ValueError, match="unknown profile 'nope'; valid names: smoke"):
        profiles.get("nope")


ALL_CELLS = [(p, e, init) for p in profiles.list_profiles()
             for e in profiles.get(p).experiments for init in e.bounds]


@pytest.mark.parametrize("profile_name, experiment, init", ALL_CELLS,
                         ids=[f"{p}-{e.name}-init={i}" for p, e, i in ALL_CELLS])
def test_bounds_carry_their_evidence_and_make_sense(profile_name: str, experiment: Experiment,
                                                    init: str) -> None:
    assert init in experiment.inits, f"{experiment.name}: a bound for {init}, which is not trained"
    initializers.get(init)  # a registered scheme
    for bound in experiment.bounds[init]:
        assert bound.why and bound.measured, f"{init}: every bound says why and what it measured"
        assert bound.min_acc is not None or bound.max_acc is not None, f"{init}: a bound bounds"
        if bound.min_acc is not None and bound.max_acc is not None:
            assert bound.min_acc < bound.max_acc, f"{init}: empty interval {bound}"
        if bound.epoch is not None:
            assert 1 <= bound.epoch <= experiment.config.epochs, f"{init}: epoch {bound.epoch}"


@pytest.mark.parametrize("name", profiles.list_profiles())
def test_profiles_experiments_are_well_formed(name: str) -> None:
    profile = profiles.get(name)
    names = [e.name for e in profile.experiments]
    assert len(names) == len(set(names)), f"{name}: experiment names repeat: {names}"
    for experiment in profile.experiments:
        assert experiment.dataset in DATASETS, f"{experiment.name}: {experiment.dataset}"
        assert experiment.inits and experiment.seeds, f"{experiment.name}: empty grid"


def test_nightly_sweeps_train_exactly_the_schemes_an_assertion_reads() -> None:
    """Each activation sweep trains its bounded schemes and those the nightly baseline holds
    for it (the regression gate reads those), and nothing else: a scheme added to a sweep
    without a bound or a baseline row costs 30 model-epochs of full MNIST that no test reads,
    and one dropped that has either loses a check (docs/speed.md)."""
    import pandas as pd

    from initcore import costs

    baseline = pd.read_csv(costs.committed_baselines() / "nightly" / "summary.csv")
    sweeps = [e for e in profiles.get("nightly").experiments if e.sweep]
    assert [e.name for e in sweeps] == ["sweep-tanh", "sweep-sigmoid", "sweep-selu"]
    for sweep in sweeps:
        read = set(sweep.bounds) | set(baseline.loc[baseline["experiment"] == sweep.name, "init"])
        assert set(sweep.inits) == read, (sweep.name, sorted(set(sweep.inits) ^ read))
        assert len(sweep.inits) == len(set(sweep.inits)) == 13
