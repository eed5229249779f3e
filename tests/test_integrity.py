"""Report integrity (issue 10), classes 1-4 and 8: run ids are names, the history is append-only
and lossless, a run id is used once, the lock lives with the data, and killed or interrupted runs
leave only complete or clearly incomplete run folders.

The gate, error messages and data checks (classes 5-7) are in test_integrity_gate.py.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import files_under

from initcore import cli, files, reports

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--hidden", "8", "--epochs", "1", "--seeds", "1", "--init", "zeros"]


def one_line_error(code: int, err: str, words: str) -> None:
    lines = err.strip().splitlines()
    assert code == cli.EXIT_USAGE, f"exit {code}, expected 2: {err!r}"
    assert len(lines) == 1 and lines[0].startswith("initcore: error: "), f"one line: {err!r}"
    assert words in lines[0], f"the error should say {words!r}: {lines[0]!r}"


def summary_rows(run_id: str, n: int = 2) -> pd.DataFrame:
    return pd.DataFrame({"run_id": [run_id] * n, "init": [f"i{k}" for k in range(n)],
                         "n_seeds": [3] * n, "acc_mean": [0.5 + k / 10 for k in range(n)]})


# ---------------------------------------------------------------------------------------------
# 1. A run id is a name, not a path
# ---------------------------------------------------------------------------------------------

BAD_IDS = ["../escape", "{tmp}/absolute", "a/b", "..", ".", "", ".hidden", "a b", "x\ny",
           "a\\b", "x" * 200]


@pytest.mark.parametrize("command", ["run", "probe", "speed"])
@pytest.mark.parametrize("run_id", BAD_IDS, ids=lambda r: repr(r)[:20])
def test_escaping_run_id_refused_nothing_written(workdir: Path, capsys, command: str,
                                                 run_id: str) -> None:
    run_id = run_id.format(tmp=workdir)
    extra = {"run": TINY, "probe": ["--depth", "2", "--width", "8", "--init", "zeros"],
             "speed": ["--rows", "64", "--no-scaling", "--no-memory"]}[command]
    code = cli.main([command, *extra, "--report-dir", str(workdir / "rep"), "--run-id", run_id])
    _, err = capsys.readouterr()
    one_line_error(code, err, "invalid run id")
    assert files_under(workdir) == [], f"files written: {files_under(workdir)}"


def test_shared_run_id_refuses_a_path_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv(reports.RUN_ID_ENV, "/etc/somewhere")
    with pytest.raises(reports.ReportError, match="invalid run id"):
        reports.shared_run_id()
    monkeypatch.setenv(reports.RUN_ID_ENV, "nightly-2026.11.29")
    assert reports.shared_run_id() == "nightly-2026.11.29"


@pytest.mark.parametrize("option, env", [
    pytest.param(["--run-id", "../escape"], {}, id="option"),
    pytest.param([], {reports.RUN_ID_ENV: "/tmp/initcore-escape"}, id="environment"),
])
def test_pytest_bench_refuses_escaping_run_id(workdir: Path, option, env) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "bench", "-q", "-p", "no:cacheprovider", *option,
         "--report-dir", str(workdir / "rep")],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, **env})
    output = proc.stdout + proc.stderr
    assert proc.returncode == 4 and "invalid run id" in output, output[-1500:]
    assert "Traceback" not in output and files_under(workdir) == [], output[-1500:]
    assert not Path("/tmp/initcore-escape").exists(), "written outside the report folder"


# ---------------------------------------------------------------------------------------------
# 2. The history is append-only: past rows never change
# ---------------------------------------------------------------------------------------------

def test_history_round_trips_ids_and_integers_over_many_appends(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    ids = ["007", "NA", "1e5", "True", "0x10", "nan", "-0", "1,5", 'say "hi"']
    for rid in ids * 3:
        reports.append_history(summary_rows(rid), path)
    text = path.read_text()
    history = reports.read_text_csv(path)
    assert history["run_id"].tolist() == [r for r in ids * 3 for _ in range(2)], text[:500]
    assert set(history["n_seeds"]) == {"3"}, f"integers became {set(history['n_seeds'])}"
    before = path.read_bytes()
    reports.append_history(summary_rows("later"), path)
    assert path.read_bytes().startswith(before), "an append changed earlier bytes"


def test_history_new_column_is_a_lossless_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    reports.append_history(summary_rows("007"), path)
    reports.append_history(summary_rows("NA").assign(matmul_gflops=12.5), path)
    reports.append_history(summary_rows("1e5").drop(columns=["acc_mean"]), path)
    history = reports.read_text_csv(path)
    assert history["run_id"].tolist() == ["007", "007", "NA", "NA", "1e5", "1e5"]
    assert history["matmul_gflops"].tolist() == ["", "", "12.5", "12.5", "", ""]
    assert history["acc_mean"].tolist() == ["0.5", "0.6", "0.5", "0.6", "", ""]


def test_append_cuts_a_torn_last_line_and_undoes_a_failed_write(tmp_path: Path,
                                                                monkeypatch) -> None:
    path = tmp_path / "history.csv"
    reports.append_history(summary_rows("a"), path)
    with open(path, "a") as f:
        f.write("b,i0,3,0.")  # a crash in the middle of a row (power loss)
    reports.append_history(summary_rows("c"), path)
    assert reports.read_text_csv(path)["run_id"].tolist() == ["a", "a", "c", "c"]
    before = path.read_bytes()

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError):
        reports.append_history(summary_rows("d"), path)
    monkeypatch.undo()
    assert path.read_bytes() == before, "a failed append must leave the file as it was"


# ---------------------------------------------------------------------------------------------
# 3. A run id is used once
# ---------------------------------------------------------------------------------------------

def test_reused_run_id_refused_first_run_kept(workdir: Path, capsys) -> None:
    rep = workdir / "rep"
    assert cli.main(["run", *TINY, "--report-dir", str(rep), "--run-id", "same"]) == 0
    first = {f: (rep / f).read_bytes() for f in files_under(rep)}
    capsys.readouterr()
    code = cli.main(["run", *TINY, "--report-dir", str(rep), "--run-id", "same"])
    _, err = capsys.readouterr()
    one_line_error(code, err, "already used")
    assert {f: (rep / f).read_bytes() for f in files_under(rep)} == first, "first run changed"


def test_pytest_bench_refuses_a_used_run_id(workdir: Path) -> None:
    (workdir / "rep" / "taken").mkdir(parents=True)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "bench", "-q", "-p", "no:cacheprovider", "--run-id",
         "taken", "--report-dir", str(workdir / "rep")],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 4 and "already used" in output, output[-1500:]


# ---------------------------------------------------------------------------------------------
# 4. The lock lives with the data
# ---------------------------------------------------------------------------------------------

def _writer(path: str, writer: int, tmpdir: str, n: int) -> None:
    os.environ["TMPDIR"] = tmpdir
    tempfile.tempdir = None  # re-read TMPDIR, as a separate user or container would have it
    for i in range(n):
        reports.append_history(summary_rows(f"w{writer}-{i}", 1), path)


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_writers_with_different_tmpdir_keep_every_row(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    path, writers, n = tmp_path / "rep" / "history.csv", 4, 10
    tmpdirs = [tmp_path / f"tmp{w}" for w in range(writers)]
    for t in tmpdirs:
        t.mkdir()
    procs = [ctx.Process(target=_writer, args=(str(path), w, str(tmpdirs[w]), n))
             for w in range(writers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0] * writers
    got = sorted(reports.read_text_csv(path)["run_id"])
    assert got == sorted(f"w{w}-{i}" for w in range(writers) for i in range(n)), "rows lost"
    assert files_under(path.parent) == [".history.csv.lock", "history.csv"]
    assert all(files_under(t) == [] for t in tmpdirs), "lock litter in a temp folder"


# ---------------------------------------------------------------------------------------------
# 8. Interrupted and killed runs
# ---------------------------------------------------------------------------------------------

def test_ctrl_c_while_writing_says_the_folder_is_incomplete(workdir: Path, capsys,
                                                            monkeypatch) -> None:
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(reports, "mark_complete", interrupted)
    code = cli.main(["run", *TINY, "--report-dir", str(workdir / "rep"), "--run-id", "r"])
    _, err = capsys.readouterr()
    assert code == 130 and "incomplete" in err and "no report written" not in err, err
    assert not reports.is_complete(workdir / "rep" / "r")


def test_stale_temp_files_of_dead_writers_are_removed(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = files.HOST
    stale = tmp_path / f".history.csv.{host}.{dead.pid}.abc123.tmp"
    old = tmp_path / ".history.csv.q1w2e3.tmp"  # an older writer's name: judged by age
    live = tmp_path / f".history.csv.{host}.{os.getpid()}.zzz999.tmp"
    for path in (stale, old, live):
        path.write_text("run_id\nx\n")
    past = time.time() - 2 * files.STALE_TEMP_SECONDS
    os.utime(old, (past, past))
    os.utime(stale, (time.time() - 5, time.time() - 5))
    reports.append_history(summary_rows("new"), tmp_path / "history.csv")
    assert not stale.exists() and not old.exists(), "a dead writer's temp file was kept"
    assert live.exists(), "a live writer's temp file must not be removed"


def test_repair_history_rederives_complete_runs_only(tmp_path: Path) -> None:
    for rid in ("r1", "r2"):
        (tmp_path / rid).mkdir()
        reports.write_csv_atomic(summary_rows(rid), tmp_path / rid / reports.SUMMARY_FILE)
    reports.mark_complete(tmp_path / "r1")
    assert reports.repair_history(tmp_path) == ["r1"]
    assert reports.repair_history(tmp_path) == [], "repair must be idempotent"
    assert reports.history_run_ids(tmp_path / reports.HISTORY_FILE) == {"r1"}
    assert reports.incomplete_runs(tmp_path) == [tmp_path / "r2"]


def _write_runs_forever(report_dir: str, start: int) -> None:
    frame = summary_rows("x", 3)
    for i in range(start, start + 10_000):
        rid = f"k{i}"
        epochs = pd.concat([frame.assign(run_id=rid, epoch=e) for e in range(1, 200)])
        reports.write_run(report_dir, rid, epochs, frame.assign(run_id=rid))


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_kill_9_leaves_only_complete_or_clearly_incomplete_runs(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    rng = random.Random(10)
    for trial in range(15):
        proc = ctx.Process(target=_write_runs_forever, args=(str(tmp_path), 1000 * trial))
        proc.start()
        # Kill at a random moment after the writer finished at least one run, however slow the
        # machine is (a fixed sleep left too few complete runs when the cores were busy).
        deadline = time.monotonic() + 60
        while not (tmp_path / f"k{1000 * trial}" / reports.MARKER_FILE).exists():
            assert time.monotonic() < deadline, "the writer finished no run in 60 s"
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.3))
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(timeout=30)
    reports.repair_history(tmp_path)  # what the next run does
    history = reports.read_text_csv(tmp_path / reports.HISTORY_FILE)
    assert (history != "").all().all(), "a torn or partial history row"
    in_history = set(history["run_id"])
    folders = [p for p in tmp_path.iterdir() if p.is_dir()]
    complete = {p.name for p in folders if reports.is_complete(p)}
    assert len(complete) > 15, f"too few runs finished to test anything: {len(complete)}"
    for name in complete:
        for table in (reports.EPOCHS_FILE, reports.SUMMARY_FILE):
            assert len(pd.read_csv(tmp_path / name / table)) > 0, f"{name}/{table} empty"
    assert in_history == complete, (
        f"history and complete folders differ: {sorted(in_history ^ complete)[:5]}")
    assert len(history) == 3 * len(complete), "a run's rows appear twice or partly"
    for folder in [tmp_path, *folders]:
        files.clean_stale_temps(folder)  # what `initcore repair` does
    left = list(tmp_path.rglob("*.tmp"))
    assert left == [], f"temp files of killed writers left: {left}"
