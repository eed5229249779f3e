"""Reports: the CSV schema, atomic writing, the append-only history and loading into pandas.

A run writes ``<report_dir>/<run_id>/epochs.csv`` (long format, one row per model-epoch) and
``summary.csv`` (one row per initializer: final test accuracy over seeds), and appends its summary
rows to ``<report_dir>/history.csv``. Every write goes to a temporary file in the same folder and
is renamed into place (``os.replace`` is atomic on POSIX), so a killed run never leaves a
half-written file; the history is rewritten under an exclusive ``fcntl`` lock, so concurrent
writers (pytest-xdist workers) never lose or interleave rows.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import torch

EPOCHS_FILE, SUMMARY_FILE, HISTORY_FILE = "epochs.csv", "summary.csv", "history.csv"

# The per-epoch table, declared once. seconds: wall time of the epoch's training steps for one
# model (for the grid trainer: the grid epoch divided by grid_size).
EPOCH_COLUMNS = [
    "run_id", "dataset", "model", "init", "seed", "epoch", "train_loss", "test_loss", "test_acc",
    "seconds", "diverged", "trainer", "grid_size", "commit", "torch_version", "device", "host",
]
SUMMARY_COLUMNS = [
    "run_id", "dataset", "model", "init", "formula", "n_seeds", "n_diverged", "epochs",
    "acc_mean", "acc_std", "acc_min", "acc_max", "acc1_mean", "acc1_std", "final_test_loss",
    "seconds_per_epoch",
    "commit", "torch_version", "device", "host", "timestamp",
]


class ReportError(Exception):
    """The report folder cannot be written: the message is one line meant for the user."""


RUN_ID_ENV = "INITCORE_RUN_ID"  # shares one run id between a pytest-xdist controller and workers


def new_run_id() -> str:
    """A sortable, unique run id: UTC time plus 6 random hex digits."""
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def shared_run_id(explicit: str | None = None) -> str:
    """The run id of this process tree: ``explicit``, else $INITCORE_RUN_ID, else a new one.

    The first call exports it, so child processes (pytest-xdist workers) inherit the same id.
    """
    if explicit:
        os.environ[RUN_ID_ENV] = explicit
    return os.environ.setdefault(RUN_ID_ENV, new_run_id())


def environment(device: str) -> dict[str, str]:
    """The columns that say where a number came from: commit, torch version, device, host."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    return {"commit": commit, "torch_version": torch.__version__, "device": str(device),
            "host": socket.gethostname()}


def epoch_table(results: Iterable, *, run_id: str, dataset: str, model: str, trainer: str,
                grid_size: int, env: dict[str, str]) -> pd.DataFrame:
    """The long per-epoch table of a list of train.RunResult."""
    rows = [
        {"run_id": run_id, "dataset": dataset, "model": model, "init": r.init, "seed": r.seed,
         "epoch": e.epoch, "train_loss": e.train_loss, "test_loss": e.test_loss,
         "test_acc": e.test_acc, "seconds": e.seconds, "diverged": e.diverged,
         "trainer": trainer, "grid_size": grid_size, **env}
        for r in results for e in r.epochs
    ]
    return pd.DataFrame(rows, columns=EPOCH_COLUMNS)


def summarize(epochs: pd.DataFrame, formulas: dict[str, str] | None = None) -> pd.DataFrame:
    """Per (run, dataset, model, init): final (and epoch-1) test accuracy over seeds (diverged
    seeds: NaN)."""
    keys = ["run_id", "dataset", "model", "init"]
    final = epochs.sort_values("epoch", kind="stable").groupby(keys + ["seed"], sort=False).tail(1)
    grouped = final.groupby(keys, sort=False)
    summary = grouped.agg(
        n_seeds=("seed", "nunique"), n_diverged=("diverged", "sum"), epochs=("epoch", "max"),
        acc_mean=("test_acc", "mean"), acc_std=("test_acc", "std"),
        acc_min=("test_acc", "min"), acc_max=("test_acc", "max"),
        final_test_loss=("test_loss", "mean"),
    ).reset_index()
    # Epoch-1 accuracy too: a scheme that starts slowly can end near the others (He x 0.01 on
    # full MNIST: 0.5 point under He after 10 epochs, but still at the constant prediction,
    # 11.35%, after one, against He's 95.4%; seeds 0-2).
    first = epochs[epochs["epoch"] == 1].groupby(keys, sort=False)["test_acc"]
    summary = summary.merge(first.agg(acc1_mean="mean", acc1_std="std").reset_index(), on=keys,
                            how="left")
    seconds = epochs.groupby(keys, sort=False)["seconds"].mean().rename("seconds_per_epoch")
    summary = summary.merge(seconds.reset_index(), on=keys)
    env = final.groupby(keys, sort=False)[["commit", "torch_version", "device", "host"]].first()
    summary = summary.merge(env.reset_index(), on=keys)
    summary["formula"] = [(formulas or {}).get(init, "") for init in summary["init"]]
    summary["timestamp"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    summary["n_diverged"] = summary["n_diverged"].astype(int)
    return summary[SUMMARY_COLUMNS]


def check_writable(folder: str | Path) -> Path:
    """Create ``folder`` if needed and prove a file can be written there; ReportError if not."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
            pass
    except OSError as e:
        raise ReportError(f"report folder {folder} is not writable ({e.strerror or e})") from e
    return folder


def write_csv_atomic(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` as CSV to ``path`` via a temporary file and an atomic rename."""
    path = Path(path)
    write_atomic(path, frame.to_csv(index=False))
    return path


def write_atomic(path: Path, content: str | bytes) -> None:
    """Write ``content`` to ``path`` via a temporary file in the same folder and os.replace, so a
    reader (or a killed writer) only ever sees the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    mask = os.umask(0)
    os.umask(mask)
    os.fchmod(fd, 0o666 & ~mask)  # mkstemp makes 0600 files; give the usual permissions
    try:
        with os.fdopen(fd, "wb" if isinstance(content, bytes) else "w") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _lock_path(path: Path) -> Path:
    """A lock file for ``path`` outside the report folder (which then holds only reports)."""
    key = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"initcore-{key}.lock"


def append_history(rows: pd.DataFrame, path: str | Path) -> Path:
    """Append ``rows`` to the history CSV under an exclusive lock, rewriting it atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(_lock_path(path), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        old = pd.read_csv(path) if path.exists() else None
        both = rows if old is None or old.empty else pd.concat([old, rows], ignore_index=True)
        buffer = io.StringIO()
        both.to_csv(buffer, index=False)
        write_atomic(path, buffer.getvalue())
    return path


def write_run(folder: str | Path, run_id: str, epochs: pd.DataFrame,
              summary: pd.DataFrame) -> Path:
    """Write a run's epochs.csv and summary.csv into folder/run_id and append to the history."""
    run_dir = Path(folder) / run_id
    write_csv_atomic(epochs, run_dir / EPOCHS_FILE)
    write_csv_atomic(summary, run_dir / SUMMARY_FILE)
    append_history(summary, Path(folder) / HISTORY_FILE)
    return run_dir


def load(path: str | Path, table: str = EPOCHS_FILE) -> pd.DataFrame:
    """Read a report into pandas: a run folder (its ``table``, epochs.csv by default) or any
    report CSV file (summary.csv, history.csv, probes.csv ...)."""
    path = Path(path)
    if path.is_dir():
        path = path / table
    if not path.is_file():
        raise ReportError(f"no report at {path}")
    return pd.read_csv(path)
