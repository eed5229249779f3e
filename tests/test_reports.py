"""Reports: atomic CSV writes, the locked append-only history, loading, and the summary table."""

from __future__ import annotations

import math
import multiprocessing
import os
import threading
from pathlib import Path

import pandas as pd
import pytest

from initcore import reports
from initcore.reports import ReportError
from initcore.train import EpochMetrics, RunResult

ENV = {"commit": "abc1234", "torch_version": "2.x", "device": "cpu", "host": "test"}


def leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


# ---------------------------------------------------------------------------------------------
# Atomic writes
# ---------------------------------------------------------------------------------------------

def test_write_csv_atomic_round_trip_no_temp_file(tmp_path: Path) -> None:
    frame = pd.DataFrame({"init": ["he_normal", "zeros"], "acc": [0.97, 0.1135]})
    path = reports.write_csv_atomic(frame, tmp_path / "sub" / "summary.csv")
    assert pd.read_csv(path).equals(frame), f"round trip changed the table:\n{pd.read_csv(path)}"
    reports.write_csv_atomic(frame.iloc[:1], path)  # overwrite in place
    assert len(pd.read_csv(path)) == 1, "a second write should replace the file"
    left = leftovers(path.parent, {"summary.csv"})
    assert left == [], f"temporary files left behind: {left}"


def test_write_csv_atomic_failure_keeps_old_file(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = reports.write_csv_atomic(pd.DataFrame({"a": [1]}), tmp_path / "epochs.csv")

    def killed(*_args) -> None:
        raise KeyboardInterrupt  # the run is killed between writing and renaming

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        reports.write_csv_atomic(pd.DataFrame({"a": [2, 3]}), path)
    monkeypatch.undo()
    assert pd.read_csv(path)["a"].tolist() == [1], "the old file must survive a failed write"
    assert leftovers(tmp_path, {"epochs.csv"}) == [], f"temp files: {leftovers(tmp_path, set())}"


def _append_rows(path: str, writer: int, n: int, barrier) -> None:
    barrier.wait()  # all writers start together, so their appends really overlap
    for i in range(n):
        reports.append_history(pd.DataFrame({"writer": [writer], "i": [i]}), path)


def _assert_history_complete(path: Path, writers: int, n: int) -> None:
    history = pd.read_csv(path)
    got = sorted(zip(history["writer"], history["i"]))
    expected = [(w, i) for w in range(writers) for i in range(n)]
    assert got == expected, f"lost or duplicated rows: {len(got)} of {len(expected)}"
    # The lock file stays, by design, beside the file it protects; nothing else may.
    assert leftovers(path.parent, {path.name, f".{path.name}.lock"}) == [], "temp files left"


def test_append_history_concurrent_threads_lose_no_row(tmp_path: Path) -> None:
    path, writers, n = tmp_path / "history.csv", 8, 5
    barrier = threading.Barrier(writers)
    threads = [threading.Thread(target=_append_rows, args=(str(path), w, n, barrier))
               for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    _assert_history_complete(path, writers, n)


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                    reason="needs the fork start method (spawn would re-import torch 4 times)")
def test_append_history_concurrent_processes_lose_no_row(tmp_path: Path) -> None:
    # fork: the children only run pandas and file I/O, never torch, so forking a process that has
    # torch's thread pools is safe here -- and it starts in milliseconds instead of seconds.
    ctx = multiprocessing.get_context("fork")
    path, writers, n = tmp_path / "history.csv", 4, 5
    barrier = ctx.Barrier(writers)
    procs = [ctx.Process(target=_append_rows, args=(str(path), w, n, barrier))
             for w in range(writers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0] * writers, f"exit codes {[p.exitcode for p in procs]}"
    _assert_history_complete(path, writers, n)


# ---------------------------------------------------------------------------------------------
# Folders, loading
# ---------------------------------------------------------------------------------------------

def test_check_writable_under_a_file_raises_report_error(tmp_path: Path) -> None:
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(ReportError) as info:
        reports.check_writable(tmp_path / "a_file" / "reports")
    assert str(tmp_path / "a_file" / "reports") in str(info.value), f"names it: {info.value}"


def test_check_writable_creates_folder_leaves_nothing(tmp_path: Path) -> None:
    folder = reports.check_writable(tmp_path / "new" / "reports")
    assert folder.is_dir() and list(folder.iterdir()) == [], "created, and the probe file removed"


def test_load_folder_file_and_missing(tmp_path: Path) -> None:
    frame = pd.DataFrame({"epoch": [1, 2]})
    reports.write_csv_atomic(frame, tmp_path / "run" / reports.EPOCHS_FILE)
    assert reports.load(tmp_path / "run").equals(frame), "a run folder loads its epochs.csv"
    assert reports.load(tmp_path / "run" / reports.EPOCHS_FILE).equals(frame), "a CSV loads"
    with pytest.raises(ReportError, match="no report"):
        reports.load(tmp_path / "nothing")


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------

def _result(init: str, seed: int, accs: list[float], diverged_at: int | None = None) -> RunResult:
    epochs = []
    for epoch, acc in enumerate(accs, start=1):
        dead = diverged_at is not None and epoch >= diverged_at
        epochs.append(EpochMetrics(epoch, math.nan if dead else 1 / epoch,
                                   math.nan if dead else 0.5, math.nan if dead else acc, 2.0,
                                   dead))
        if dead:
            break
    return RunResult(init, seed, epochs)


def test_epoch_table_and_summary(tmp_path: Path) -> None:
    results = [_result("he_normal", s, [0.5, acc]) for s, acc in enumerate([0.90, 0.92, 0.94])]
    results += [_result("random_large", 0, [0.3, 0.4]),
                _result("random_large", 1, [0.2, 0.3], diverged_at=2)]
    epochs = reports.epoch_table(results, run_id="r1", dataset="mnist-5k", model="mlp",
                                 trainer="grid", grid_size=5, env=ENV)
    assert list(epochs.columns) == reports.EPOCH_COLUMNS, f"columns {list(epochs.columns)}"
    assert len(epochs) == 3 * 2 + 2 + 2, f"one row per model-epoch, got {len(epochs)}"
    table = reports.summarize(epochs, {"he_normal": "N(0, 2/fan_in)"})
    assert list(table.columns) == reports.SUMMARY_COLUMNS, f"summary columns {list(table.columns)}"
    summary = table.set_index("init")
    he, rl = summary.loc["he_normal"], summary.loc["random_large"]
    assert math.isclose(he["acc_mean"], 0.92) and math.isclose(he["acc_std"], 0.02), (
        f"he_normal final accuracy mean/std over 3 seeds: {he['acc_mean']}, {he['acc_std']}")
    assert (he["n_seeds"], he["n_diverged"], he["epochs"]) == (3, 0, 2), f"he_normal: {he}"
    assert he["formula"] == "N(0, 2/fan_in)" and rl["formula"] == "", "formula column"
    assert (rl["n_seeds"], rl["n_diverged"]) == (2, 1), f"random_large seeds/diverged: {rl}"
    # The diverged seed's final accuracy is NaN; the mean is over the seeds that finished.
    assert math.isclose(rl["acc_mean"], 0.4), f"random_large acc_mean {rl['acc_mean']}"
    assert math.isclose(he["seconds_per_epoch"], 2.0), "seconds_per_epoch is the mean"
