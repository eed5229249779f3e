"""What a strict reader gets from initcore's outputs: JSON that every parser accepts, report
tables whose names stay names and numbers stay numbers, intervals that stay possible values, and
the markdown summary a CI page shows."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import strict_load

from initcore import leaderboard, markdown, reports
from initcore.train import EpochMetrics, RunResult

ROOT = Path(__file__).resolve().parents[1]
ENV = {"commit": "1234567", "torch_version": "2.14.1", "device": "cpu", "host": "0042"}


# ---------------------------------------------------------------------------------------------
# Strict JSON
# ---------------------------------------------------------------------------------------------

def test_strict_json_missing_numbers_become_null() -> None:
    value = {"device_peak_mb": float("nan"), "up": float("inf"), "down": -math.inf,
             "numpy": np.float64("nan"), "n": np.int64(3), "nested": [1.5, (float("nan"),)],
             "path": Path("a/b")}
    parsed = strict_load(reports.strict_json(value))
    assert parsed == {"device_peak_mb": None, "up": None, "down": None, "numpy": None, "n": 3,
                      "nested": [1.5, [None]], "path": "a/b"}, parsed


def test_run_json_is_strict_json(tmp_path: Path) -> None:
    run = tmp_path / "007"
    run.mkdir()
    path = reports.mark_complete(run, score=float("nan"), gflops=np.float32(2.5))
    record = strict_load(path.read_text())
    assert record["score"] is None and record["gflops"] == 2.5, record
    assert record["run_id"] == "007", "the run id stays the folder's name, as text"


def test_rewrite_strict_json_fixes_a_foreign_file(tmp_path: Path) -> None:
    """pytest-benchmark writes extra_info as Python's json does: NaN stays a bare NaN."""
    path = tmp_path / "benchmark.json"
    path.write_text(json.dumps({"benchmarks": [{"extra_info": {"device_peak_mb": math.nan}}]}))
    with pytest.raises(ValueError):
        strict_load(path.read_text())
    reports.rewrite_strict_json(path)
    assert strict_load(path.read_text())["benchmarks"][0]["extra_info"] == {
        "device_peak_mb": None}


# ---------------------------------------------------------------------------------------------
# Loading: identifiers as text, numbers as numbers
# ---------------------------------------------------------------------------------------------

def _results() -> list[RunResult]:
    return [RunResult(init="1e5", seed=seed, epochs=[
        EpochMetrics(epoch=e, train_loss=0.5 / e, test_loss=0.4 / e, test_acc=0.9 + 0.01 * e,
                     seconds=0.1, diverged=False) for e in (1, 2)]) for seed in (0, 1)]


@pytest.mark.parametrize("run_id", ["007", "1e5", "NA", "nan", "True", "0x1"])
def test_load_run_id_round_trips_unchanged(tmp_path: Path, run_id: str) -> None:
    epochs = reports.epoch_table(_results(), run_id=run_id, dataset="mnist-5k", model="784-8-10",
                                 trainer="grid", grid_size=2, env=ENV, recipe="")
    summary = reports.summarize(epochs, {"1e5": "N(0, 1)"})
    reports.write_run(tmp_path, run_id, epochs, summary)
    for table in (reports.load(tmp_path / run_id),  # the run folder: epochs.csv
                  reports.load(tmp_path / run_id / reports.SUMMARY_FILE),
                  reports.load(tmp_path / reports.HISTORY_FILE)):
        for column, value in (("run_id", run_id), ("init", "1e5"), ("host", "0042"),
                              ("commit", "1234567"), ("recipe", ""), ("dataset", "mnist-5k")):
            assert table[column].map(type).eq(str).all() and (table[column] == value).all(), (
                f"{column}: {table[column].tolist()} (expected {value!r} as text)")
    epochs = reports.load(tmp_path / run_id)
    for column in ("seed", "epoch", "grid_size"):
        assert pd.api.types.is_integer_dtype(epochs[column]), f"{column}: {epochs[column].dtype}"
    for column in ("train_loss", "test_loss", "test_acc", "seconds"):
        assert pd.api.types.is_float_dtype(epochs[column]), f"{column}: {epochs[column].dtype}"
    assert pd.api.types.is_bool_dtype(epochs["diverged"]), epochs["diverged"].dtype
    summary = reports.load(tmp_path / run_id / reports.SUMMARY_FILE)
    assert summary["acc_mean"].iloc[0] == pytest.approx(0.92), summary["acc_mean"]


def test_load_empty_number_is_nan_empty_name_is_empty_text(tmp_path: Path) -> None:
    path = tmp_path / "summary.csv"
    path.write_text("run_id,init,acc_mean,acc_std\nNA,he_normal,0.97,\n")
    table = reports.load(path)
    assert table["run_id"].tolist() == ["NA"] and math.isnan(table["acc_std"].iloc[0])
    assert table["acc_mean"].iloc[0] == 0.97


# ---------------------------------------------------------------------------------------------
# The leaderboard's interval
# ---------------------------------------------------------------------------------------------

def test_interval_of_accuracies_stays_within_0_and_1() -> None:
    """Three seeds spread widely (metainit's on the smoke profile: 36-80%): the plain
    t-interval reaches past 100%; cut to [0, 1] it stays a set of possible means."""
    values = np.array([0.36, 0.75, 0.80])
    low, high = leaderboard.interval(values)
    half = 4.302653 * values.std(ddof=1) / math.sqrt(3)  # t_{0.975, 2} = 4.3027
    assert values.mean() + half > 1.1, "the example must overshoot without the cut"
    assert (low, high) == (pytest.approx(max(values.mean() - half, 0.0)), 1.0), (low, high)
    assert 0.0 <= low <= values.mean() <= high <= 1.0
    narrow = np.array([0.95, 0.96, 0.97])
    low, high = leaderboard.interval(narrow)
    assert 0.9 < low < 0.96 < high < 1.0, "an interval inside [0, 1] is left as it is"


# ---------------------------------------------------------------------------------------------
# The markdown summary
# ---------------------------------------------------------------------------------------------

def _summary_row(init: str, mean: float, std: float = 0.002) -> dict:
    return {"experiment": "seed-recipe", "dataset": "mnist-5k", "model": "784-8-10",
            "init": init, "n_seeds": 3, "n_diverged": 0, "epochs": 2, "acc_mean": mean,
            "acc_std": std}


def test_markdown_summary_names_regressions_and_the_board(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    base, cur = tmp_path / "base", tmp_path / "cur"
    reports.write_csv_atomic(pd.DataFrame([_summary_row("he_normal", 0.95),
                                           _summary_row("zeros", 0.1135, 0.0)]),
                             base / "summary.csv")
    reports.write_csv_atomic(pd.DataFrame([_summary_row("he_normal", 0.80),
                                           _summary_row("zeros", 0.1135, 0.0)]),
                             cur / "summary.csv")
    board = pd.DataFrame([
        {"experiment": "seed-recipe", "dataset": "mnist-5k", "model": "784-8-10", "rank": r,
         "init": i, "source": s, "n_seeds": 3, "acc_mean": m, "acc_std": 0.01, "ci_low": m - .02,
         "ci_high": m + .02, "vs_best": "worse" if s == "user" else "", "vs_best_pt": -3.0}
        for r, (i, s, m) in enumerate([("he_normal", "built-in", 0.8), ("a", "built-in", .79),
                                       ("b", "built-in", .78), ("c", "built-in", .77),
                                       ("d", "built-in", .76), ("e", "built-in", .75),
                                       ("mine|x", "user", 0.5)], start=1)])
    reports.write_csv_atomic(board, cur / leaderboard.LEADERBOARD_FILE)
    step = tmp_path / "step_summary.md"
    step.write_text("earlier step\n")
    monkeypatch.setenv(markdown.STEP_SUMMARY_ENV, str(step))
    text = markdown.summary(cur, base, "title")
    written = markdown.publish(text, tmp_path / "out.md")
    assert written == [step, tmp_path / "out.md"]
    assert step.read_text() == "earlier step\n" + text + "\n", "appended, earlier text kept"
    assert (tmp_path / "out.md").read_text() == text
    assert "**1 regression(s)**: 2 of 2 baseline cells judged" in text, text
    assert "he_normal (mnist-5k" in text and "REGRESSED" in text, text
    rows = [line for line in text.splitlines() if line.startswith("| seed-recipe")]
    assert [r.split(" | ")[2] for r in rows] == [
        "he_normal", "a", "b", "c", "d", "mine\\|x (yours)"], rows  # top 5 and the user's
    assert "worse (-3.00 pt)" in rows[-1]


def test_markdown_without_baseline_says_not_judged(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(markdown.STEP_SUMMARY_ENV, raising=False)
    reports.write_csv_atomic(pd.DataFrame([_summary_row("he_normal", 0.95)]),
                             tmp_path / "cur" / "summary.csv")
    text = markdown.summary(tmp_path / "cur", tmp_path / "none", "t")
    assert "not judged: no baseline at" in text and "regression" not in text, text
    text = markdown.summary(tmp_path / "cur", None, "t", "a shard")
    assert "not judged: a shard" in text and "regression" not in text, text
    assert markdown.publish(text) == [], "no file named, no step summary: nothing written"


def test_compare_writes_markdown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from initcore.cli import main

    monkeypatch.delenv(markdown.STEP_SUMMARY_ENV, raising=False)
    for name, mean in (("base", 0.95), ("cur", 0.951)):
        reports.write_csv_atomic(pd.DataFrame([_summary_row("he_normal", mean)]),
                                 tmp_path / name / "summary.csv")
    out = tmp_path / "compare.md"
    status = main(["compare", str(tmp_path / "base"), str(tmp_path / "cur"),
                   "--markdown", str(out)])
    assert status == 0
    assert "**no regression**: 1 of 1 baseline cells judged" in out.read_text()


def test_load_numbers_keep_pandas_missing_values(tmp_path: Path) -> None:
    """Numeric columns are read as pandas reads them ("nan", "inf", "" are numbers), names not."""
    path = tmp_path / "probes.csv"
    path.write_text("init,value,steps\nnan,nan,1\nNA,inf,\n")
    table = reports.load(path)
    assert table["init"].tolist() == ["nan", "NA"], table["init"]
    assert pd.api.types.is_float_dtype(table["value"]) and math.isinf(table["value"].iloc[1])
    assert math.isnan(table["value"].iloc[0]) and math.isnan(table["steps"].iloc[1])
