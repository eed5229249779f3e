"""Report integrity, round two (issue 19), groups 1-5 and 8 of the adversarial campaign: the
gate refuses what it would misjudge (one NaN, duplicates, percent, inf, negative spreads,
incomplete runs), the history is keyed by run id (8 concurrent writers, a repair in the
window), a full disk tears nothing, nothing is written, appended or deleted outside the report
folder, reserved names are refused, and merge / repair / plot fail in one line.

User code (hangs, signatures, scheme checks, name collisions) is in test_user_code.py.
"""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import files_under, tiny_profile
from test_integrity import TINY, one_line_error

from initcore import cli, files, reports


def summary(cells: dict[str, dict] | None = None, **common) -> pd.DataFrame:
    """A summary table: one row per init of ``cells`` (init -> overrides), 3 seeds at 90 %."""
    cells = cells if cells is not None else {"he_normal": {}, "xavier_normal": {}, "zeros": {}}
    rows = []
    for init, over in cells.items():
        row = {"run_id": "r", "dataset": "mnist-5k", "model": "m", "init": init, "formula": "",
               "n_seeds": 3, "n_diverged": 0, "epochs": 3, "acc_mean": 0.9, "acc_std": 0.01,
               "acc_min": 0.89, "acc_max": 0.91, "acc1_mean": 0.8, "acc1_std": 0.01,
               "final_test_loss": 0.3, "seconds_per_epoch": 0.1, **common, **over}
        rows.append(row)
    return pd.DataFrame(rows)


def compare(tmp_path: Path, capsys, base: pd.DataFrame | Path, cur: pd.DataFrame | Path
            ) -> tuple[int, str, str]:
    paths = []
    for name, table in (("base.csv", base), ("cur.csv", cur)):
        if isinstance(table, pd.DataFrame):
            table.to_csv(tmp_path / name, index=False)
            table = tmp_path / name
        paths.append(str(table))
    code = cli.main(["compare", *paths])
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------------------------------
# 1. The gate is never blinded
# ---------------------------------------------------------------------------------------------

def test_gate_nan_baseline_cell_does_not_hide_a_drop(tmp_path: Path, capsys) -> None:
    """One cell whose every seed diverged in the baseline (accuracy NaN) used to sort first
    in Holm's step-down with a NaN p-value and stop it: "0 regression(s)", exit 0, while
    another cell fell from 90 % to 50 %."""
    # The NaN cell first: Python's sort leaves a NaN key where it is (every comparison with it
    # is False), so there it is the first p-value Holm's step-down looks at.
    base = summary({"random_large": dict(acc_mean=float("nan"), acc_std=float("nan"),
                                         n_diverged=3),
                    "he_normal": {}, "zeros": {}})
    cur = summary({"random_large": {}, "zeros": {},
                   "he_normal": dict(acc_mean=0.5, acc_min=0.49, acc_max=0.51)})
    code, out, err = compare(tmp_path, capsys, base, cur)
    assert code == 1, f"a 40-point drop must fail the gate: exit {code}\n{out}\n{err}"
    assert "1 regression(s)" in out and "he_normal (mnist-5k) REGRESSED" in out, out


@pytest.mark.parametrize("side, cells, words", [
    pytest.param("base", {"zeros": dict(acc_mean=float("nan"), acc_std=float("nan"))},
                 "accuracy is NaN but only 0 of 3 seeds diverged", id="blank_baseline_cell"),
    pytest.param("cur", {"zeros": dict(acc_mean=float("inf"))}, "not a finite number",
                 id="inf_accuracy"),
    pytest.param("cur", {"zeros": dict(acc_mean=90.0, acc_min=89.0, acc_max=91.0)},
                 "not percent", id="percent"),
    pytest.param("base", {"zeros": dict(acc_std=-0.01)}, "acc_std = -0.01 is not a spread",
                 id="negative_std"),
    pytest.param("cur", {"zeros": dict(n_diverged=4)}, "more diverged seeds than seeds",
                 id="diverged_over_seeds"),
    pytest.param("cur", {"zeros": dict(n_seeds=2.5)}, "not a whole number", id="half_seed"),
    pytest.param("base", {"zeros": dict(seconds_per_epoch=-1.0)}, "must be > 0",
                 id="negative_seconds"),
])
def test_gate_refuses_out_of_range_inputs(tmp_path: Path, capsys, side, cells, words) -> None:
    good = summary()
    bad = summary({"he_normal": {}, "xavier_normal": {}, **cells})
    base, cur = (bad, good) if side == "base" else (good, bad)
    code, out, err = compare(tmp_path, capsys, base, cur)
    one_line_error(code, err, words)
    assert f"{side}.csv" in err, f"the error should name the file: {err!r}"
    assert "regression(s)" not in out, "nothing may be judged from a refused input"


def test_gate_refuses_a_duplicated_cell(tmp_path: Path, capsys) -> None:
    """Two rows of one cell in one run: the first used to win silently."""
    dup = pd.concat([summary(), summary({"zeros": dict(acc_mean=0.2)})], ignore_index=True)
    code, _, err = compare(tmp_path, capsys, dup, summary())
    one_line_error(code, err, "appears more than once in one run")


def test_gate_history_rows_of_different_runs_are_fine(tmp_path: Path, capsys) -> None:
    """A history holds one cell per run: the newest run is compared (not a duplicate)."""
    history = pd.concat([summary(run_id="old", acc_mean=0.2, acc_min=0.2, acc_max=0.2),
                         summary(run_id="new")], ignore_index=True)
    code, out, err = compare(tmp_path, capsys, summary(), history)
    assert code == 0 and "0 regression(s)" in out, err


@pytest.mark.parametrize("marker, words", [
    pytest.param(None, "incomplete run: no run.json", id="no_run_json"),
    pytest.param("{garbage", "not a readable run marker", id="garbage_run_json"),
    pytest.param('{"status": NaN}', "not a readable run marker", id="non_strict_json"),
    pytest.param('{"status": "running"}', "not a complete run", id="wrong_status"),
])
def test_gate_refuses_an_incomplete_current_run_folder(tmp_path: Path, capsys, marker,
                                                       words) -> None:
    run = tmp_path / "run"
    run.mkdir()
    summary().to_csv(run / reports.SUMMARY_FILE, index=False)
    summary().to_csv(run / reports.EPOCHS_FILE, index=False)  # a run folder, not a baseline
    if marker is not None:
        (run / reports.MARKER_FILE).write_text(marker)
    code, out, err = compare(tmp_path, capsys, summary(), run)
    one_line_error(code, err, words)


# ---------------------------------------------------------------------------------------------
# 2. The history is keyed by run id: concurrent writers and repairs duplicate nothing
# ---------------------------------------------------------------------------------------------

def _write_runs(report_dir: str, writer: int, n: int, barrier) -> None:
    barrier.wait()  # all 8 start together, as 8 `initcore run` launched at once
    for i in range(n):
        rid = f"w{writer}-{i}"
        rows = summary(run_id=rid)
        epochs = pd.concat([rows.assign(epoch=e) for e in (1, 2, 3)])
        reports.write_run(report_dir, rid, epochs, rows)


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_eight_concurrent_writers_duplicate_no_history_row(tmp_path: Path) -> None:
    """8 writers x 5 runs into one report folder: each run's 3 rows in history.csv exactly
    once (before: 33 of 40 runs twice -- every write's repair appended runs that were about to
    append themselves)."""
    ctx = multiprocessing.get_context("fork")
    writers, n = 8, 5
    barrier = ctx.Barrier(writers)
    procs = [ctx.Process(target=_write_runs, args=(str(tmp_path), w, n, barrier))
             for w in range(writers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * writers
    history = reports.read_text_csv(tmp_path / reports.HISTORY_FILE)
    counts = history["run_id"].value_counts()
    assert len(counts) == writers * n, f"runs lost: {writers * n - len(counts)}"
    twice = sorted(counts[counts != 3].index)
    assert not twice, f"{len(twice)} of {writers * n} runs not exactly once: {twice[:5]}"


def test_repair_in_the_window_between_marker_and_append_duplicates_nothing(
        tmp_path: Path, monkeypatch) -> None:
    """`initcore repair` (or another run's repair) right after a run's run.json and before its
    own append: the run's rows are in the history once."""
    real = reports.mark_complete

    def complete_then_repair(run_dir, **info):
        path = real(run_dir, **info)
        reports.repair_history(Path(run_dir).parent)  # the concurrent repair
        return path

    monkeypatch.setattr(reports, "mark_complete", complete_then_repair)
    rows = summary(run_id="r1")
    reports.write_run(tmp_path, "r1", rows, rows)
    history = reports.read_text_csv(tmp_path / reports.HISTORY_FILE)
    assert history["run_id"].tolist() == ["r1"] * 3, history["run_id"].tolist()
    assert reports.add_run_to_history(rows, tmp_path / reports.HISTORY_FILE) == []


# ---------------------------------------------------------------------------------------------
# 3. A full disk tears nothing
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A 1 MiB tmpfs (root and mount(8) needed; skipped otherwise)."""
    where = tmp_path / "disk"
    where.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _fill(folder: Path, leave: int) -> None:
    """Fill the disk of ``folder``, then free ``leave`` bytes again."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as e:
        assert e.errno == errno.ENOSPC
    finally:
        os.ftruncate(fd, max(0, os.fstat(fd).st_size - leave))
        os.close(fd)


def test_full_disk_append_leaves_history_whole(tiny_disk: Path) -> None:
    """The append fails with ENOSPC after writing part of its rows; the cut back to the old
    length must not itself fail (a buffered truncate flushed first and raised ENOSPC again,
    leaving a half row that `initcore repair` could not parse)."""
    path = tiny_disk / reports.HISTORY_FILE
    reports.append_history(summary(run_id="a"), path)
    before = path.read_bytes()
    _fill(tiny_disk, 0)  # full: only the slack of history.csv's last 4 KiB page is left
    # Rows that fit a write buffer (8 KiB) but not the slack: a buffered writer keeps what it
    # could not write and tries again when the file is truncated back.
    big = pd.concat([summary(run_id=f"b{i}") for i in range(28)], ignore_index=True)
    assert 4096 < len(big.to_csv(index=False, header=False)) < 8192
    with pytest.raises(OSError) as failure:
        reports.append_history(big, path)
    assert failure.value.errno == errno.ENOSPC
    assert path.read_bytes() == before, "a failed append must leave the file as it was"
    (tiny_disk / "filler").unlink()
    reports.append_history(summary(run_id="c"), path)
    assert reports.read_text_csv(path)["run_id"].tolist() == ["a"] * 3 + ["c"] * 3


def test_full_disk_run_keeps_results_and_history_parses(tiny_disk: Path, workdir: Path,
                                                        capsys) -> None:
    """`initcore run` into a full report folder: one line, exit 2, and what is there still
    parses (history.csv whole, `initcore repair` works)."""
    rep = tiny_disk / "rep"
    assert cli.main(["run", *TINY, "--report-dir", str(rep), "--run-id", "first"]) == 0
    _fill(tiny_disk, 4096)
    code = cli.main(["run", *TINY, "--report-dir", str(rep), "--run-id", "second"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == cli.EXIT_USAGE and "No space left" in err, err
    (tiny_disk / "filler").unlink()
    assert cli.main(["repair", str(rep)]) == 0
    history = reports.read_text_csv(rep / reports.HISTORY_FILE)
    assert history["run_id"].tolist().count("first") == 1


def test_injected_enospc_at_the_write_and_at_the_truncate(tmp_path: Path, monkeypatch) -> None:
    """Where no tmpfs can be mounted: the write fails half-way, and the file is cut back by an
    unbuffered truncate that needs no space."""
    path = tmp_path / reports.HISTORY_FILE
    reports.append_history(summary(run_id="a"), path)
    before = path.read_bytes()
    real_pwrite = os.pwrite

    def half_then_full(fd, data, offset):
        if len(data) > 10:
            real_pwrite(fd, bytes(data[: len(data) // 2]), offset)  # half a row reaches the disk
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "pwrite", half_then_full)
    monkeypatch.setattr(os, "posix_fallocate", lambda *a: None, raising=False)
    with pytest.raises(OSError, match="No space left"):
        reports.append_history(summary(run_id="b"), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert reports.repair_history(tmp_path) == []


# ---------------------------------------------------------------------------------------------
# 4. Nothing outside the report folder
# ---------------------------------------------------------------------------------------------

def test_plot_sanitizes_names_from_the_data(tmp_path: Path, capsys) -> None:
    """An activation ``x/../../outside/pwned`` in probes.csv named the PNG's path."""
    run = tmp_path / "a" / "b" / "run"
    run.mkdir(parents=True)
    rows = [{"init": "he_normal", "activation": act, "depth": 2, "width": 8, "seed": 0,
             "steps": 0, "layer": layer, "metric": "preact_second_moment", "value": 1.0 + layer}
            for act in ("relu", "x/../../outside/pwned") for layer in (1, 2)]
    pd.DataFrame(rows).to_csv(run / "probes.csv", index=False)
    assert cli.main(["plot", str(run)]) == 0, capsys.readouterr().err
    outside = [p for p in files_under(tmp_path) if not p.startswith("a/b/run/")]
    assert outside == [], f"written outside the run folder: {outside}"
    assert len(list(run.glob("probes-*.png"))) == 2


def test_history_symlink_to_an_outside_file_is_refused(tmp_path: Path, workdir: Path,
                                                       capsys) -> None:
    outside = tmp_path / "outside.csv"
    outside.write_text("precious\n")
    rep = workdir / "rep"
    rep.mkdir()
    (rep / reports.HISTORY_FILE).symlink_to(outside)
    code = cli.main(["run", *TINY, "--report-dir", str(rep), "--run-id", "r"])
    _, err = capsys.readouterr()
    one_line_error(code, err, "leads outside")
    rows = summary(run_id="x")
    (rep / "x").mkdir()
    reports.write_csv_atomic(rows, rep / "x" / reports.SUMMARY_FILE)
    reports.mark_complete(rep / "x")
    cli.main(["repair", str(rep)])
    capsys.readouterr()
    assert outside.read_text() == "precious\n", "rows appended through the symlink"


def test_repair_leaves_a_symlinked_run_folder_outside_alone(tmp_path: Path, capsys) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    old = outside / ".notes.host.1.abc.tmp"
    old.write_text("someone else's file")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    rep = tmp_path / "rep"
    rep.mkdir()
    (rep / "linked").symlink_to(outside)
    assert cli.main(["repair", str(rep)]) == 0
    capsys.readouterr()
    assert old.exists(), "repair deleted a file outside the report folder"


def test_safe_name_is_one_plain_name() -> None:
    for text in ["x/../../outside/pwned", "..", ".hidden", "a\\b", "/abs", "", "\n", "é" * 300]:
        name = files.safe_name(text)
        assert "/" not in name and "\\" not in name and not name.startswith(".") and name, name
        assert len(name) <= files.MAX_NAME


# ---------------------------------------------------------------------------------------------
# 5. Reserved names
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("run_id", ["history.csv", "HISTORY.CSV", "baseline"])
def test_reserved_run_ids_refused(workdir: Path, capsys, run_id: str) -> None:
    rep = workdir / "rep"
    code = cli.main(["run", *TINY, "--report-dir", str(rep), "--run-id", run_id])
    _, err = capsys.readouterr()
    one_line_error(code, err, "reserved name")
    assert cli.main(["run", *TINY, "--report-dir", str(rep), "--run-id", "next"]) == 0


# ---------------------------------------------------------------------------------------------
# 8. Merge, repair, plot: one line, and nothing half done
# ---------------------------------------------------------------------------------------------

def test_plot_text_in_a_numeric_column_is_one_line(tmp_path: Path, capsys) -> None:
    rows = summary().assign(seed=0, epoch=1, train_loss=0.5, test_loss=0.5, test_acc="high")
    rows.to_csv(tmp_path / reports.EPOCHS_FILE, index=False)
    code = cli.main(["plot", str(tmp_path)])
    _, err = capsys.readouterr()
    one_line_error(code, err, "column test_acc holds text")


def test_plot_bad_leaderboard_writes_no_figure(tmp_path: Path, capsys) -> None:
    rows = summary().assign(seed=0, epoch=1, train_loss=0.5, test_loss=0.5, test_acc=0.9)
    rows.to_csv(tmp_path / reports.EPOCHS_FILE, index=False)
    pd.DataFrame({"experiment": ["e"], "rank": [1], "init": ["he_normal"],
                  "source": ["built-in"], "n_seeds": [3], "acc_mean": [0.9], "ci_low": [0.8],
                  "ci_high": ["x"], "trains": [True]}).to_csv(tmp_path / "leaderboard.csv",
                                                              index=False)
    code = cli.main(["plot", str(tmp_path)])
    _, err = capsys.readouterr()
    one_line_error(code, err, "leaderboard.csv")
    assert list(tmp_path.glob("*.png")) == [], "figures written before the failure"


def _complete_run(rep: Path, run_id: str, text: str | None) -> Path:
    run = rep / run_id
    run.mkdir(parents=True)
    if text is not None:
        (run / reports.SUMMARY_FILE).write_text(text)
    (run / reports.MARKER_FILE).write_text(json.dumps(
        {"run_id": run_id, "status": "complete", "files": [reports.SUMMARY_FILE]}))
    return run


def test_repair_names_an_unparsable_summary_and_later_runs_go_on(workdir: Path,
                                                                 capsys) -> None:
    rep = workdir / "rep"
    _complete_run(rep, "bad", '"unclosed,quote\n1,2,3\n')
    code = cli.main(["repair", str(rep)])
    out, err = capsys.readouterr()
    assert "bad" in out + err and "summary.csv" in out + err, out + err
    assert code in (0, cli.EXIT_USAGE)
    assert cli.main(["run", *TINY, "--report-dir", str(rep), "--run-id", "later"]) == 0, \
        capsys.readouterr().err


def test_repair_lists_a_complete_run_whose_summary_is_gone(workdir: Path, capsys) -> None:
    rep = workdir / "rep"
    _complete_run(rep, "nosummary", None)
    code = cli.main(["repair", str(rep)])
    out, err = capsys.readouterr()
    assert code == cli.EXIT_USAGE and "nosummary" in err and "gone" in err, \
        f"a complete run without its summary must be named: {out} {err}"


@pytest.mark.parametrize("args, words", [
    pytest.param(["--device", "meta"], "--device meta cannot be used", id="device_meta"),
    pytest.param(["--batch-size", str(10**30)], "batch size must be an integer in 1..",
                 id="huge_batch"),
    pytest.param(["--recipe", "{dir}/wd.toml"], "weight decay must be <=", id="huge_wd"),
])
def test_run_impossible_settings_one_line(workdir: Path, capsys, args, words) -> None:
    (workdir / "wd.toml").write_text("weight_decay = 1e300\n")
    args = [a.format(dir=workdir) for a in args]
    code = cli.main(["run", *TINY, *args, "--report-dir", str(workdir / "rep")])
    _, err = capsys.readouterr()
    one_line_error(code, err, words)
    assert files_under(workdir) == ["wd.toml"], "nothing may be written"


def test_unreachable_ray_address_fails_at_once() -> None:
    from initcore import ray_backend

    start = time.monotonic()
    with pytest.raises(ValueError, match="cannot reach Ray there"):
        ray_backend.check_address("127.0.0.1:1", timeout=5)
    assert time.monotonic() - start < 30, "no retrying for ever"
    with pytest.raises(ValueError, match="expected host:port"):
        ray_backend.check_address("nowhere")
    ray_backend.check_address(None)


def test_pytest_bench_on_a_full_disk_is_one_line(tiny_disk: Path) -> None:
    """Before: a traceback inside the `trained` fixture, reported as a failure of he_normal's
    test, and no results kept. On the tiny profile of tests/cli_helpers.py (its module outside
    the full disk): what fails is the write after training, whatever the profile trains (the
    smoke profile made this test 23 s under `pytest tests -n 2`)."""
    root = Path(__file__).resolve().parents[1]
    rep = tiny_disk / "rep"
    rep.mkdir()
    tiny, env = tiny_profile(tiny_disk.parent)
    _fill(tiny_disk, 0)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "bench", "-q", "-p", "no:cacheprovider", *tiny, "-k",
         "accuracy and zeros", "--seeds", "1", "--no-baseline", "--report-dir", str(rep)],
        cwd=root, capture_output=True, text=True, timeout=600, env={**os.environ, **env})
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2 and "cannot write the reports" in output, output[-2000:]
    assert "No space left" in output and "Traceback" not in output, output[-2000:]
    kept = output.split("the trained results are kept in ")[1].split()[0]
    assert Path(kept).is_file(), f"the trained results are not kept: {kept}"
