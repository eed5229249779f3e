"""Report integrity (issue 10), classes 5-7: the gate never passes by not looking, bad input is
one line (exit 2) instead of a traceback, and images and labels must agree.
"""

from __future__ import annotations

import errno
import gzip
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import files_under
from test_integrity import TINY, one_line_error

from conftest import idx_bytes
from initcore import cli, data, reports
from initcore.data import DataError

ROOT = Path(__file__).resolve().parents[1]


def write_summary(path: Path, inits=("he_normal", "xavier_normal", "zeros"), drop=(),
                  nan=False, cut=False) -> Path:
    frame = pd.DataFrame({
        "run_id": "r", "dataset": "mnist-5k", "model": "m", "init": list(inits), "formula": "",
        "n_seeds": 3, "n_diverged": 0, "epochs": 3, "acc_mean": 0.9, "acc_std": 0.01,
        "acc_min": 0.89, "acc_max": 0.91, "acc1_mean": 0.8, "acc1_std": 0.01,
        "final_test_loss": 0.3, "seconds_per_epoch": 0.1})
    if nan:
        frame.loc[frame.index[-1], ["acc_mean", "acc_std"]] = float("nan")
    text = frame.drop(columns=list(drop)).to_csv(index=False)
    path.write_text(text[:-25] if cut else text)
    return path


# ---------------------------------------------------------------------------------------------
# 5. The gate never passes by not looking
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("current, words", [
    pytest.param(dict(inits=("he_normal", "xavier_normal")), "zeros (mnist-5k, m): missing",
                 id="missing_init"),
    pytest.param(dict(nan=True), "accuracy is NaN", id="nan_accuracy"),
    pytest.param(dict(drop=["init"]), "missing column(s) init", id="no_init_column"),
    pytest.param(dict(drop=["acc_std"]), "missing column(s) acc_std", id="no_acc_std"),
    pytest.param(dict(cut=True), "truncated", id="cut_mid_row"),
])
def test_compare_fails_on_incomplete_current(tmp_path: Path, capsys, current, words) -> None:
    base = write_summary(tmp_path / "base.csv")
    cur = write_summary(tmp_path / "cur.csv", **current)
    code = cli.main(["compare", str(base), str(cur)])
    _, err = capsys.readouterr()
    one_line_error(code, err, words)
    assert str(cur) in err, f"the error should name {cur}: {err!r}"


@pytest.mark.parametrize("content", [b"", b"\x00\xff" * 300, b"a,b\n1,2\n"],
                         ids=["empty", "binary", "other_columns"])
def test_compare_fails_on_unreadable_report(tmp_path: Path, capsys, content: bytes) -> None:
    (tmp_path / "cur.csv").write_bytes(content)
    code = cli.main(["compare", str(write_summary(tmp_path / "base.csv")),
                     str(tmp_path / "cur.csv")])
    _, err = capsys.readouterr()
    one_line_error(code, err, str(tmp_path / "cur.csv"))


def test_compare_says_how_many_cells_it_compared(tmp_path: Path, capsys) -> None:
    base, cur = write_summary(tmp_path / "b.csv"), write_summary(tmp_path / "c.csv")
    assert cli.main(["compare", str(base), str(cur)]) == 0
    assert "compared 3 of 3 baseline cells" in capsys.readouterr().out


def _bench(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "bench", "-q", "-p", "no:cacheprovider", "-k",
         "regression and zeros", "--report-dir", str(workdir / "rep"), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_pytest_bench_baseline_dir_is_a_file_is_a_usage_error(workdir: Path) -> None:
    (workdir / "file").write_text("x")
    proc = _bench(workdir, "--baseline-dir", str(workdir / "file"))
    assert proc.returncode == 4 and "is not a folder" in proc.stdout + proc.stderr, proc.stdout


@pytest.mark.parametrize("baseline", ["truncated", "missing"])
def test_pytest_bench_unusable_baseline_fails_before_training(workdir: Path,
                                                              baseline: str) -> None:
    folder = workdir / "baselines" / "smoke"
    folder.mkdir(parents=True)
    if baseline == "truncated":
        text = (ROOT / "reports" / "baseline" / "smoke" / "summary.csv").read_text()
        (folder / "summary.csv").write_text(text[: len(text) // 2])
    proc = _bench(workdir, "--baseline-dir", str(workdir / "baselines"))
    words = "truncated" if baseline == "truncated" else "no baseline for profile 'smoke'"
    assert proc.returncode == 1 and words in proc.stdout, proc.stdout[-2000:]
    assert "passed" not in proc.stdout.splitlines()[-1], proc.stdout[-500:]
    skipped = _bench(workdir, "--baseline-dir", str(workdir / "baselines"), "--no-baseline")
    assert skipped.returncode == 0 and "skipped" in skipped.stdout, skipped.stdout[-1000:]


# ---------------------------------------------------------------------------------------------
# 6. Bad input is one line, exit 2 -- checked before training where it can be
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, words", [
    pytest.param(["--lr", "1e308"], "float32", id="lr_1e308"),
    pytest.param(["--device", "mps"], "cannot be used", id="device_mps"),
    pytest.param(["--hidden", "100000000"], "GiB of memory", id="hidden_1e8"),
    pytest.param(["--seeds", "200000"], "GiB of memory", id="seeds_200000"),
    pytest.param(["--seeds", str(10**30)], "GiB of memory", id="seeds_1e30"),  # no OverflowError
    pytest.param(["--epochs", str(10**30)], "epochs must be", id="epochs_1e30"),  # not "forever"
])
def test_run_impossible_numbers_one_line(workdir: Path, capsys, args, words) -> None:
    code = cli.main(["run", *TINY, "--report-dir", str(workdir / "rep"), *args])
    _, err = capsys.readouterr()
    one_line_error(code, err, words)
    assert files_under(workdir) == [], files_under(workdir)


def test_history_csv_is_a_directory_refused_before_training(workdir: Path, capsys) -> None:
    (workdir / "rep" / "history.csv").mkdir(parents=True)
    code = cli.main(["run", *TINY, "--report-dir", str(workdir / "rep")])
    _, err = capsys.readouterr()
    one_line_error(code, err, "history.csv")
    assert [p.name for p in (workdir / "rep").iterdir()] == ["history.csv"]


def test_disk_full_after_training_keeps_the_results(workdir: Path, capsys, monkeypatch) -> None:
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tempfile, "tempdir", str(workdir))
    monkeypatch.setattr(reports, "write_atomic", full)
    code = cli.main(["run", *TINY, "--report-dir", str(workdir / "rep"), "--run-id", "r"])
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the progress bar
    one_line_error(code, err, "No space left on device")
    kept = err.rsplit("kept in ", 1)[-1].strip()
    assert pd.read_csv(Path(kept) / reports.SUMMARY_FILE)["init"].tolist() == ["zeros"], err


@pytest.mark.parametrize("table", ["epochs.csv", "probes.csv"])
def test_plot_on_a_csv_with_other_columns(tmp_path: Path, capsys, table: str) -> None:
    (tmp_path / table).write_text("a,b\n1,2\n")
    code = cli.main(["plot", str(tmp_path)])
    _, err = capsys.readouterr()
    one_line_error(code, err, table)


def test_probe_too_wide_refused(workdir: Path, capsys) -> None:
    code = cli.main(["probe", "--width", "100000", "--depth", "50", "--init", "zeros",
                     "--report-dir", str(workdir / "rep")])
    _, err = capsys.readouterr()
    one_line_error(code, err, "GiB of memory")


def _interrupt_at_start_up(folder: Path) -> tuple[int | None, str]:
    """Start `initcore run`, send Ctrl-C once torch's library is being mapped into it (inside the
    imports of torch and pandas), return (exit status, stderr)."""
    proc = subprocess.Popen([sys.executable, "-m", "initcore", "run", *TINY, "--report-dir",
                             str(folder / "rep")], cwd=folder, stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, text=True)
    # A fixed sleep (0.3 s) fired before Python itself had started on a loaded machine, where no
    # program can catch Ctrl-C (the interpreter prints the traceback): wait for libtorch instead.
    maps = Path(f"/proc/{proc.pid}/maps")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if "libtorch" in maps.read_text():
                break
        except OSError:  # no /proc (not Linux): fall back to the fixed delay
            time.sleep(0.3)
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


def test_ctrl_c_during_start_up_is_one_line(tmp_path: Path) -> None:
    """Ctrl-C while the command line imports torch: one line, status 130, never a traceback.
    On a busy machine this test's process may be scheduled too late and the tiny run ends before
    the signal (exit 0): that attempt proves nothing and is made again, up to 5 times."""
    outcomes = []
    for attempt in range(5):
        folder = tmp_path / f"attempt{attempt}"
        folder.mkdir()
        status, err = _interrupt_at_start_up(folder)
        assert "Traceback" not in err, err
        outcomes.append((status, err))
        if status != 0:
            break
    status, err = outcomes[-1]
    assert status == 130 and len(err.strip().splitlines()) == 1, outcomes


# ---------------------------------------------------------------------------------------------
# 7. Images and labels must agree
# ---------------------------------------------------------------------------------------------

def _mnist(root: Path, *, train_labels=None, test_images=None, swap=False) -> Path:
    rng = np.random.default_rng(0)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split, n in (("train", 20), ("t10k", 10)):
        images = rng.integers(0, 256, size=(n, 28, 28))
        labels = np.arange(n) % 10
        if split == "train" and train_labels is not None:
            labels = train_labels
        if split == "t10k" and test_images is not None:
            images = test_images
        names = [f"{split}-images-idx3-ubyte.gz", f"{split}-labels-idx1-ubyte.gz"]
        if swap and split == "t10k":
            names.reverse()
        (raw / names[0]).write_bytes(gzip.compress(idx_bytes(images)))
        (raw / names[1]).write_bytes(gzip.compress(idx_bytes(labels)))
    return root


@pytest.mark.parametrize("kwargs, words", [
    pytest.param(dict(train_labels=np.r_[np.arange(19) % 10, 10]), "label 10 at row 19",
                 id="label_10"),
    pytest.param(dict(train_labels=np.arange(15) % 10), "15 labels for 20 images",
                 id="fewer_labels"),
    pytest.param(dict(train_labels=np.arange(25) % 10), "25 labels for 20 images",
                 id="more_labels"),
    pytest.param(dict(test_images=np.zeros((10, 32, 32))), "expected 28x28", id="32x32"),
    pytest.param(dict(swap=True), "holds labels", id="files_swapped"),
])
def test_images_and_labels_must_agree(tmp_path: Path, kwargs, words: str) -> None:
    with pytest.raises(DataError, match=words) as info:
        data.load("mnist", _mnist(tmp_path / "d", **kwargs))
    assert "\n" not in str(info.value)


def test_concurrent_loads_of_different_folders_never_mix(tmp_path: Path) -> None:
    """Each load parses its own folder's bytes in memory: nothing shared on disk to mix up."""
    code = ("import sys, torch; from initcore import data\n"
            "for _ in range(5):\n"
            "    d = data.load('mnist', sys.argv[1])\n"
            "    assert int(d.x_train[0, 0] * 1000) == int(sys.argv[2]), 'mixed folders'\n")
    procs = []
    for k, value in enumerate((0, 255)):
        root = _mnist(tmp_path / f"d{k}", test_images=None)
        images = np.full((20, 28, 28), value)
        raw = root / "MNIST" / "raw"
        (raw / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images)))
        expected = int(((value / 255.0 - 0.5) / 0.5) * 1000)
        procs.append(subprocess.Popen([sys.executable, "-c", code, str(root), str(expected)],
                                      env={**os.environ, "OMP_NUM_THREADS": "1"},
                                      stderr=subprocess.PIPE, text=True))
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
