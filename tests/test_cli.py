"""The `initcore` command line: bad input -> one line, exit 2, no files; a good run -> reports.

Most calls go through ``initcore.cli.main([...])`` in this process (fast, output via capsys); one
runs the installed console script in a subprocess, where a traceback would really show.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from cli_helpers import files_under, run_bench

from initcore import cli, initializers, reports
from initcore.models import ACTIVATIONS

REQUIRED_EPOCH_COLUMNS = [
    "run_id", "dataset", "model", "init", "seed", "epoch", "train_loss", "test_loss", "test_acc",
    "seconds", "diverged", "commit", "torch_version", "device", "host",
]
FAST = ["--hidden", "16", "--epochs", "1", "--seeds", "1"]  # runs that fail before training


def assert_usage_error(code: int, err: str, out: str, words: str) -> None:
    lines = err.splitlines()
    assert code == cli.EXIT_USAGE, f"exit status {code}, expected 2; stderr: {err!r}"
    assert len(lines) == 1, f"stderr should be exactly one line, got {len(lines)}: {err!r}"
    assert lines[0].startswith("initcore: error: "), f"stderr should start the usual way: {err!r}"
    assert "Traceback" not in err + out, f"no traceback for bad input: {err!r}"
    assert words in lines[0], f"the error should say {words!r}: {lines[0]!r}"


def _corrupt_mnist(root: Path, make_mnist) -> Path:
    raw = make_mnist(root / "data")
    (raw / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not gzip at all")
    return root / "data"


BAD_RUNS = [
    pytest.param(["--init", "he_normal", "no_such_init"], "no_such_init", id="unknown_init"),
    pytest.param(["--dataset", "cifar10"], "unknown dataset 'cifar10'", id="unknown_dataset"),
    pytest.param(["--activation", "swish"], "unknown activation 'swish'", id="unknown_activation"),
    pytest.param(["--dataset", "mnist", "--data-dir", "{tmp}/nowhere"], "--download",
                 id="missing_data_dir"),
    pytest.param(["--dataset", "mnist", "--data-dir", "{corrupt}"],
                 "t10k-labels-idx1-ubyte.gz: corrupt or truncated gzip", id="corrupt_data"),
    pytest.param(["--epochs", "0"], "epochs must be", id="epochs_0"),
    pytest.param(["--lr", "0"], "learning rate", id="lr_0"),
    pytest.param(["--lr", "-1"], "learning rate", id="lr_negative"),
    pytest.param(["--lr", "nan"], "learning rate", id="lr_nan"),
    pytest.param(["--batch-size", "0"], "batch size", id="batch_size_0"),
    pytest.param(["--momentum", "1"], "momentum", id="momentum_1"),
    pytest.param(["--seeds", "0"], "--seeds", id="seeds_0"),
    pytest.param(["--hidden", "64,0"], "hidden", id="hidden_0"),
    pytest.param(["--epochs", "two"], "--epochs", id="epochs_not_int"),
    pytest.param(["--report-dir", "{tmp}/a_file/reports"], "not writable",
                 id="unwritable_report_dir"),
]


@pytest.mark.parametrize("args, words", BAD_RUNS)
def test_cli_run_bad_input_one_line_exit_2_no_files(workdir: Path, capsys, make_mnist, args,
                                                    words) -> None:
    (workdir / "a_file").write_text("a regular file: nothing can be created under it\n")
    corrupt = _corrupt_mnist(workdir, make_mnist) if "{corrupt}" in args else None
    args = [a.format(tmp=workdir, corrupt=corrupt) for a in args]
    report_dir = workdir / "reports"
    argv = ["run", *FAST, "--init", "he_normal", "--report-dir", str(report_dir), *args]
    before = files_under(workdir)
    code = cli.main(argv)
    out, err = capsys.readouterr()
    assert_usage_error(code, err, out, words)
    # Checks that need the data folder run after the report folder was proved writable, so
    # that folder may exist -- but hold no file.
    written = sorted(set(files_under(workdir)) - set(before))
    assert written == [], f"{argv}: files written despite the error: {written}"


def test_cli_unknown_init_lists_valid_names(workdir: Path, capsys) -> None:
    code = cli.main(["run", "--init", "he_norml", "--report-dir", str(workdir / "r")])
    _, err = capsys.readouterr()
    assert code == cli.EXIT_USAGE, f"exit {code}"
    missing = [n for n in initializers.list_initializers() if n not in err]
    assert not missing, f"the error should list every initializer, lacks {missing}: {err!r}"


def test_cli_unknown_activation_lists_valid_names(workdir: Path, capsys) -> None:
    code = cli.main(["run", "--activation", "swish", "--report-dir", str(workdir / "r")])
    _, err = capsys.readouterr()
    assert code == cli.EXIT_USAGE and all(a in err for a in ACTIVATIONS), f"{code}: {err!r}"


def test_cli_unknown_command_exit_2(workdir: Path, capsys) -> None:
    code = cli.main(["train"])
    out, err = capsys.readouterr()
    assert_usage_error(code, err, out, "train")


def test_cli_list_prints_every_name_with_formula(capsys) -> None:
    assert cli.main(["list"]) == 0, "initcore list should succeed"
    out = capsys.readouterr().out
    lines = out.splitlines()
    for name in initializers.list_initializers():
        formula = initializers.get(name).formula
        hits = [line for line in lines if line.split()[:1] == [name]]
        assert hits, f"`initcore list` has no line for {name}:\n{out}"
        assert formula in hits[0], f"{name}'s line should show its formula {formula!r}: {hits[0]!r}"


def test_cli_run_writes_reports(workdir: Path, capsys) -> None:
    report_dir = workdir / "tmp"
    code = cli.main(["run", "--init", "he_normal", "zeros", "--seeds", "2", "--epochs", "1",
                     "--report-dir", str(report_dir), "--run-id", "unit"])
    out, err = capsys.readouterr()
    assert code == 0, f"exit {code}; stderr: {err}"
    assert "Traceback" not in err, f"a good run printed a traceback: {err}"
    assert "test acc %" in out and "he_normal" in out and "zeros" in out, (
        f"the summary table should list both initializers:\n{out}")
    run_dir = report_dir / "unit"
    for name in (reports.EPOCHS_FILE, reports.SUMMARY_FILE):
        assert (run_dir / name).is_file(), f"{run_dir / name} missing: {files_under(report_dir)}"
    assert (report_dir / reports.HISTORY_FILE).is_file(), "history.csv missing"

    epochs = reports.load(run_dir)
    assert epochs.equals(pd.read_csv(run_dir / reports.EPOCHS_FILE)), "load(folder) = epochs.csv"
    missing = [c for c in REQUIRED_EPOCH_COLUMNS if c not in epochs.columns]
    assert not missing, f"epochs.csv lacks {missing}"
    assert len(epochs) == 2 * 2 * 1, f"2 inits x 2 seeds x 1 epoch, got {len(epochs)} rows"
    assert set(epochs["init"]) == {"he_normal", "zeros"}, f"inits {set(epochs['init'])}"
    assert sorted(epochs["seed"].unique()) == [0, 1], f"seeds {epochs['seed'].unique()}"
    assert (epochs["run_id"] == "unit").all() and (epochs["dataset"] == "mnist-5k").all(), \
        "run_id / dataset columns"
    assert epochs["test_acc"].between(0, 1).all(), f"accuracy in [0,1]: {epochs['test_acc']}"

    summary = reports.load(run_dir / reports.SUMMARY_FILE)
    assert list(summary["init"]) == ["he_normal", "zeros"], f"one summary row per init: {summary}"
    assert (summary["n_seeds"] == 2).all(), f"n_seeds {summary['n_seeds'].tolist()}"
    history = pd.read_csv(report_dir / reports.HISTORY_FILE)
    assert len(history) == 2 and set(history.columns) >= {"run_id", "init", "acc_mean"}, (
        f"history should hold the 2 summary rows: {history}")
    assert reports.is_complete(run_dir), f"{reports.MARKER_FILE} missing: {files_under(run_dir)}"
    leftovers = [f for f in files_under(report_dir)
                 if Path(f).name.startswith(".") and f != ".history.csv.lock"]
    assert leftovers == [], f"temporary files left behind: {leftovers}"


def test_cli_console_script_bad_input_no_traceback(workdir: Path) -> None:
    # The installed entry point, as a user runs it: a traceback here would be on the real stderr.
    script = Path(sys.executable).with_name("initcore")
    exe = str(script) if script.exists() else shutil.which("initcore")
    assert exe, "the `initcore` console script is not installed (pip install -e .)"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # one thread: the box is shared
    proc = subprocess.run([exe, "run", "--lr", "-1", "--report-dir", str(workdir / "r")],
                          capture_output=True, text=True, timeout=120, env=env, cwd=workdir)
    assert_usage_error(proc.returncode, proc.stderr, proc.stdout, "learning rate")
    assert proc.stdout == "", f"nothing on stdout for bad input: {proc.stdout!r}"
    assert files_under(workdir) == [], f"files written: {files_under(workdir)}"


def test_cli_speed_writes_the_throughput_table(workdir: Path, capsys) -> None:
    code = cli.main(["speed", "--rows", "640", "--no-scaling", "--no-memory",
                     "--report-dir", str(workdir / "r"), "--run-id", "s"])
    out, err = capsys.readouterr()
    assert code == 0, f"initcore speed failed: {err}"
    assert "matmul calibration" in out and "notebook DataLoader loop" in out, out
    table = pd.read_csv(workdir / "r" / "s" / "speed.csv")
    assert table["method"].tolist() == ["notebook DataLoader loop (num_workers=2)",
                                        "DataLoader loop, num_workers=0",
                                        "train(), one model at a time",
                                        "train_grid(), all models at once"]
    assert table["models"].tolist() == [1, 1, 4, 4]
    assert (table["seconds"] > 0).all() and (table["matmul_gflops"] > 0).all(), table
    # Ratios, recomputed from the table's own columns.
    rate = table["models"] / table["seconds"]
    assert table["speedup_vs_notebook"].tolist() == pytest.approx((rate / rate[0]).tolist())
    assert table["fraction_of_matmul"].tolist() == pytest.approx(
        (table["gflops"] / table["matmul_gflops"]).tolist())


def test_cli_speed_bad_rows_one_line_exit_2(workdir: Path, capsys) -> None:
    code = cli.main(["speed", "--rows", "0", "--report-dir", str(workdir / "r")])
    out, err = capsys.readouterr()
    assert_usage_error(code, err, out, "--rows must be >= 1")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cli_speed_cuda_without_gpu_one_line_exit_2(workdir: Path, capsys) -> None:
    code = cli.main(["speed", "--device", "cuda", "--report-dir", str(workdir / "r")])
    out, err = capsys.readouterr()
    assert_usage_error(code, err, out, "CUDA is not available")


@pytest.mark.parametrize("option, words", [
    pytest.param(["--profile", "nonsense"], "unknown profile", id="profile"),
    pytest.param(["--seeds", "0"], "--seeds must be >= 1", id="seeds_0"),
    pytest.param(["--device", "cuda"], "CUDA is not available", id="device_cuda",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="has CUDA")),
])
def test_pytest_bench_bad_option_is_one_line_usage_error(workdir: Path, option, words) -> None:
    """`pytest bench` itself (a subprocess, as a user runs it): pytest's usage-error exit 4,
    the reason on one line, no traceback, and no report folder left behind."""
    proc = run_bench(*option, "--report-dir", str(workdir / "reports"), timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 4, f"exit {proc.returncode}: {output[-2000:]}"
    assert words in output and "Traceback" not in output, output[-2000:]
    assert not (workdir / "reports").exists() or not any((workdir / "reports").rglob("*.*")), (
        "a report file was written despite the usage error")


def test_list_into_a_closed_pipe_is_quiet() -> None:
    """`initcore list | head -1`: the reader leaves early; no error line, status 141 (SIGPIPE)."""
    proc = subprocess.run(f"{sys.executable} -m initcore list | head -1", shell=True,
                          capture_output=True, text=True, timeout=120,
                          executable="/bin/bash")
    assert proc.stdout.split()[0] == "name" and proc.stderr == "", proc.stderr
