"""The option table, the rules between options and the experiments' meaning, each in one place
(issue 17): what both front ends (``initcore run``, ``pytest bench``) rely on."""

from __future__ import annotations

import argparse

import pytest

from initcore import options, profiles, shards


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(exit_on_error=False)
    options.add_scale_out_options(p.add_argument)
    options.add(p.add_argument, ("seeds",))
    return p


@pytest.mark.parametrize("argv, words", [
    (["--seeds", "0"], "--seeds must be >= 1, got 0"),
    (["--seeds", "x"], "--seeds expects an integer, got 'x'"),
    (["--shards", "0"], "--shards must be >= 1, got 0"),
    (["--shard", "3/2"], "--shard must be i/n with 1 <= i <= n"),
])
def test_options_types_refuse_bad_values_while_parsing(argv: list[str], words: str) -> None:
    with pytest.raises(argparse.ArgumentError, match=words):
        parser().parse_args(argv)


@pytest.mark.parametrize("argv, words", [
    (["--shards", "2"], "--ray-address and --shards need --backend ray"),
    (["--backend", "ray", "--shard", "1/2"], "pick one"),
])
def test_options_rules_between_options_are_one_line(argv: list[str], words: str) -> None:
    args = parser().parse_args(argv)
    with pytest.raises(ValueError, match=words):
        options.check_rules(options.namespace_getter(args))


def test_options_rules_return_the_shard() -> None:
    args = parser().parse_args(["--shard", " 2 / 3 "])
    assert options.check_rules(options.namespace_getter(args)) == (2, 3)
    assert shards.parse_shard is options.parse_shard, "one parser of --shard"


def test_options_table_imports_no_torch() -> None:
    import subprocess
    import sys

    probe = "import sys, initcore.options; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=120).stdout.strip()
    assert out == "False", "initcore.options imported torch"


@pytest.mark.parametrize("name", profiles.list_profiles())
def test_profiles_name_their_reference_experiment_first(name: str) -> None:
    """The reference experiment (timed, perturbed, the sweep's relu column) is named, and it is
    the first one: shard 1 of a --shard session holds a part of it (shards.plan) and runs the
    profile-wide tests."""
    profile = profiles.get(name)
    if not profile.experiments:  # a profile without a grid (width) has nothing to time
        assert profile.reference == "", f"profile {name} names a reference but has no grid"
        return
    reference = profile.reference_experiment()
    assert reference is not None, f"profile {name} names no reference experiment"
    assert profile.experiments[0].name == profile.reference, (
        f"profile {name}: the reference {profile.reference} is not the first experiment")
    first = shards.plan(profile.experiments, 2)[0]
    assert profile.reference in [p.name for p in first.parts]


def test_experiment_fields_say_what_the_deep_and_sweep_experiments_are() -> None:
    nightly = profiles.get("nightly")
    assert {e.name for e in nightly.experiments if e.deep} == {"deep-relu", "deep-tanh"}
    assert {e.name for e in nightly.experiments if e.sweep} == {
        "sweep-tanh", "sweep-sigmoid", "sweep-selu"}
    assert [e.name for e in profiles.get("smoke").experiments if e.deep] == ["deep-relu-short"]


def test_train_config_is_a_deprecated_name_of_recipe() -> None:
    from initcore import train

    with pytest.warns(DeprecationWarning, match="use initcore.train.Recipe"):
        assert train.TrainConfig is train.Recipe


def test_update_baseline_merges_the_run_into_the_baseline_as_text(tmp_path) -> None:
    """--update-baseline, outside the tests: the run's summary rows replace the baseline's rows
    of the same cells, other cells stay, and every number is copied as the text written."""
    import pandas as pd

    from initcore import runs

    columns = ["run_id", "profile", "experiment", "dataset", "model", "recipe", "init",
               "n_seeds", "acc_mean", "acc_std"]
    base = pd.DataFrame([["old", "smoke", "seed-recipe", "mnist-5k", "mlp", "r", "he_normal",
                          "3", "0.90", "0.01"],
                         ["old", "smoke", "seed-recipe", "mnist-5k", "mlp", "r", "zeros",
                          "3", "0.10", "0.0"]], columns=columns)
    run = pd.DataFrame([["new", "smoke", "seed-recipe", "mnist-5k", "mlp", "r", "he_normal",
                         "3", "0.91234567890123456", "0.0200"]], columns=columns)
    baseline, summary = tmp_path / "baseline" / "smoke" / "summary.csv", tmp_path / "summary.csv"
    baseline.parent.mkdir(parents=True)
    base.to_csv(baseline, index=False)
    run.to_csv(summary, index=False)
    runs.update_baseline(baseline, summary)
    merged = pd.read_csv(baseline, dtype=str, keep_default_na=False)
    assert sorted(merged["init"]) == ["he_normal", "zeros"], merged
    he = merged[merged["init"] == "he_normal"].iloc[0]
    assert (he["run_id"], he["acc_mean"], he["acc_std"]) == ("new", "0.91234567890123456",
                                                             "0.0200"), he.to_dict()
    assert merged[merged["init"] == "zeros"].iloc[0]["run_id"] == "old"


class FakeConfig:
    """What BenchSession reads of a pytest config: getoption and a stash."""

    def __init__(self, **values) -> None:
        self.values = {f"initcore_{k}": v for k, v in values.items()}
        self.stash: dict = {}

    def getoption(self, name: str, default=None):
        return self.values.get(name, default)


def test_bench_session_finish_completes_the_run_and_updates_the_baseline(tmp_path) -> None:
    """The end of a bench session, in-process: run.json last, the summary in the history, and
    with --update-baseline the profile's baseline written from the run's summary."""
    import json

    import pandas as pd

    from initcore import reports, session

    config = FakeConfig(profile="smoke", device="cpu", backend="local", report_dir=str(tmp_path),
                        run_id="r1", baseline_dir=str(tmp_path / "baseline"), cpus_per_shard=1,
                        update_baseline=True, init=[])
    bench = session.BenchSession(config)
    folder = tmp_path / "r1"
    folder.mkdir()
    summary = pd.DataFrame({"run_id": ["r1"], "profile": ["smoke"],
                            "experiment": ["seed-recipe"], "dataset": ["mnist-5k"],
                            "model": ["mlp"], "recipe": ["r"], "init": ["he_normal"],
                            "acc_mean": ["0.9123456789012345"]})
    summary.to_csv(folder / reports.SUMMARY_FILE, index=False)
    bench.finish(folder, 0)
    marker = json.loads((folder / reports.MARKER_FILE).read_text())
    assert marker["profile"] == "smoke" and set(marker["recipes"]) == {
        "seed-recipe", "deep-relu-short"}, marker
    history = pd.read_csv(tmp_path / reports.HISTORY_FILE, dtype=str)
    assert list(history["run_id"]) == ["r1"], history
    baseline = pd.read_csv(tmp_path / "baseline" / "smoke" / reports.SUMMARY_FILE, dtype=str)
    assert list(baseline["acc_mean"]) == ["0.9123456789012345"], baseline
