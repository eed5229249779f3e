"""Reports: the CSV schema, atomic writing, the append-only history and loading into pandas.

A run writes ``<report_dir>/<run_id>/epochs.csv`` (long format, one row per model-epoch) and
``summary.csv`` (one row per initializer: final test accuracy over seeds), and appends its summary
rows to ``<report_dir>/history.csv``. Every write goes to a temporary file in the same folder and
is renamed into place (``os.replace`` is atomic on POSIX), so a killed run never leaves a
half-written file. A run folder is complete once ``run.json`` (written last) is in it; only then
are its summary rows appended to the history, so the history holds complete runs only and can be
re-derived from the folders (:func:`repair_history`). The history is append-only: rows are added
in one write under a lock file beside it (``.history.csv.lock``), so concurrent writers
(pytest-xdist workers, other users, other containers) never lose or interleave rows, and earlier
rows are never re-parsed or rewritten with guessed types. The atomic write, the lock and the
cleanup of killed writers' temp files are :mod:`initcore.files`'.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import torch

from .errors import one_line
from .files import (
    append_bytes,
    check_inside,
    clean_stale_temps,
    file_lock,
    open_inside,
    write_atomic,
)

EPOCHS_FILE, SUMMARY_FILE, HISTORY_FILE = "epochs.csv", "summary.csv", "history.csv"
MARKER_FILE = "run.json"  # written last: a run folder without it is incomplete
MAX_RUN_ID = 128
# Names a run folder must not take: the report folder's own files and folders. A run folder
# named history.csv would block every later run; compared lower-case, for case-insensitive disks.
RESERVED_NAMES = frozenset({HISTORY_FILE, "baseline"})
_RUN_ID = re.compile(rf"[A-Za-z0-9_-][A-Za-z0-9._-]{{0,{MAX_RUN_ID - 1}}}")

# The per-epoch table, declared once. seconds: wall time of the epoch's training steps for one
# model (for the grid trainer: the grid epoch divided by grid_size). recipe: the training recipe
# in one line (initcore.train.Recipe.describe: optimizer, lr, momentum or betas, weight decay,
# schedule, batch, epochs, input scaling); the architecture is the model column.
EPOCH_COLUMNS = [
    "run_id", "dataset", "model", "recipe", "init", "seed", "epoch", "train_loss", "test_loss",
    "test_acc", "seconds", "diverged", "trainer", "grid_size", "commit", "torch_version",
    "device", "host",
]
SUMMARY_COLUMNS = [
    "run_id", "dataset", "model", "recipe", "init", "formula", "n_seeds", "n_diverged", "epochs",
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
    ReportError if the id is not a plain name (see :func:`check_run_id`).
    """
    if explicit is not None:
        os.environ[RUN_ID_ENV] = check_run_id(explicit)
    return check_run_id(os.environ.setdefault(RUN_ID_ENV, new_run_id()))


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
                grid_size: int, env: dict[str, str], recipe: str = "") -> pd.DataFrame:
    """The long per-epoch table of a list of train.RunResult; ``recipe`` is
    ``Recipe.describe()`` of the recipe they were trained with."""
    rows = [
        {"run_id": run_id, "dataset": dataset, "model": model, "recipe": recipe, "init": r.init,
         "seed": r.seed, "epoch": e.epoch, "train_loss": e.train_loss, "test_loss": e.test_loss,
         "test_acc": e.test_acc, "seconds": e.seconds, "diverged": e.diverged,
         "trainer": trainer, "grid_size": grid_size, **env}
        for r in results for e in r.epochs
    ]
    return pd.DataFrame(rows, columns=EPOCH_COLUMNS)


def summarize(epochs: pd.DataFrame, formulas: dict[str, str] | None = None) -> pd.DataFrame:
    """Per (run, dataset, model, recipe, init): final (and epoch-1) test accuracy over seeds
    (diverged seeds: NaN)."""
    keys = ["run_id", "dataset", "model", "recipe", "init"]
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


def format_summary(summary: pd.DataFrame) -> str:
    """The summary table as people read it: accuracy in percent, mean +- std over seeds."""
    table = pd.DataFrame({
        "init": summary["init"],
        "test acc % (mean +- std)": [
            f"{100 * m:6.2f} +- {100 * s:5.2f}" if pd.notna(m) else "   n/a"
            for m, s in zip(summary["acc_mean"], summary["acc_std"].fillna(0.0))],
        "min": (100 * summary["acc_min"]).round(2),
        "max": (100 * summary["acc_max"]).round(2),
        "seeds": summary["n_seeds"],
        "diverged": summary["n_diverged"],
        "epochs": summary["epochs"],
        "s/epoch": summary["seconds_per_epoch"].round(3),
    })
    return table.to_string(index=False)


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


# ---------------------------------------------------------------------------------------------
# Run ids and run folders
# ---------------------------------------------------------------------------------------------

def check_run_id(run_id: str) -> str:
    """``run_id`` if it is a plain folder name; ReportError otherwise.

    A run id becomes ``<report-dir>/<run_id>``: a separator, ``..``, an absolute path or a leading
    dot would put files outside the report folder (or hide them), so only a name is accepted.
    """
    if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
        raise ReportError(
            f"invalid run id {run_id!r}: use 1-{MAX_RUN_ID} letters, digits, '.', '_' or '-', "
            "not starting with '.' (a run id is a folder name, not a path)")
    if run_id.lower() in RESERVED_NAMES:
        raise ReportError(f"invalid run id {run_id!r}: a reserved name in the report folder "
                          f"({', '.join(sorted(RESERVED_NAMES))}); pick another --run-id")
    return run_id


def check_new_run(report_dir: str | Path, run_id: str) -> Path:
    """``<report_dir>/<run_id>`` after checking, before any work, that a run can be written there:
    the id is a name, no run of that id exists (reusing it would replace or mix runs), and
    history.csv, if present, is a readable file."""
    check_run_id(run_id)
    folder = check_writable(report_dir)
    run_dir = folder / run_id
    if run_dir.exists() or run_dir.is_symlink():
        state = "complete" if is_complete(run_dir) else f"incomplete: no {MARKER_FILE}"
        raise ReportError(f"run id {run_id!r} is already used: {run_dir} exists ({state}); "
                          "pick another --run-id or remove that folder")
    check_history_file(folder / HISTORY_FILE)  # not a link to a file outside the folder
    read_header(folder / HISTORY_FILE)  # a folder or an unreadable file named history.csv fails
    return run_dir


def new_run_dir(report_dir: str | Path, run_id: str | None = None) -> Path:
    """The checked folder of a new run, ``<report_dir>/<run_id>`` (a time-based id when
    ``run_id`` is None): see :func:`check_new_run`. Nothing is created but the report folder."""
    return check_new_run(report_dir, run_id if run_id is not None else new_run_id())


def claim_run_dir(run_dir: Path) -> Path:
    """Create the run folder, failing if it exists: the id is taken atomically (two runs racing
    for the same id cannot both get it)."""
    try:
        run_dir.mkdir()
    except FileExistsError:
        raise ReportError(f"run id {run_dir.name!r} is already used: {run_dir} exists; "
                          "pick another --run-id or remove that folder") from None
    except OSError as e:
        raise ReportError(f"cannot create run folder {run_dir} ({e.strerror or e})") from e
    return run_dir


def is_complete(run_dir: str | Path) -> bool:
    """A run folder is complete once its marker (written last, atomically) is there."""
    return (Path(run_dir) / MARKER_FILE).is_file()


def is_shard_run(run_dir: str | Path) -> bool:
    """A complete shard run (``--shard i/n``, :mod:`initcore.shards`): its summary covers part of
    a grid, so it never enters the history; ``initcore merge`` makes the run that does."""
    try:
        return "shard" in json.loads((Path(run_dir) / MARKER_FILE).read_text())
    except (OSError, ValueError, TypeError):
        return False


def mark_complete(run_dir: str | Path, **info) -> Path:
    """Write ``run.json`` -- the files of the run and ``info`` -- last and atomically: from now on
    the folder counts as a finished run (and its summary may enter the history)."""
    run_dir = Path(run_dir)
    listing = sorted(p.name for p in run_dir.iterdir()
                     if p.is_file() and not p.name.startswith("."))
    record = {"run_id": run_dir.name, "status": "complete", "files": listing,
              "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"), **info}
    path = run_dir / MARKER_FILE
    write_atomic(path, strict_json(record))
    return path


# ---------------------------------------------------------------------------------------------
# Strict JSON: what every JSON file initcore writes holds
# ---------------------------------------------------------------------------------------------

def strict_json(value, indent: int | None = 1) -> str:
    """``value`` as strict JSON (RFC 8259) text, ending in a newline: a missing number (NaN)
    and an infinity, which Python's json writes as the invalid tokens ``NaN``/``Infinity``
    that JavaScript's ``JSON.parse`` and every strict parser reject, become ``null``; numpy
    scalars become numbers and anything else without a JSON form its ``str()``."""
    return json.dumps(_finite(value), indent=indent, allow_nan=False, default=str) + "\n"


def _finite(value):
    """``value`` with every non-finite float (and numpy scalar) replaced: NaN/inf -> None."""
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)) and \
            getattr(value, "ndim", None) == 0:
        value = value.item()  # numpy / torch scalar -> Python number
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def rewrite_strict_json(path: str | Path) -> Path:
    """Rewrite a JSON file that another writer made (pytest-benchmark's benchmark.json, whose
    ``extra_info`` may hold NaN) as strict JSON, atomically; missing numbers become null."""
    path = Path(path)
    write_atomic(path, strict_json(json.loads(path.read_text()), indent=4))
    return path


def write_run(folder: str | Path, run_id: str, epochs: pd.DataFrame,
              summary: pd.DataFrame, **info) -> Path:
    """Write a run's epochs.csv and summary.csv into folder/run_id, mark it complete, then append
    its summary to the history (so the history only ever holds complete runs)."""
    run_dir = Path(folder) / check_run_id(run_id)
    if not run_dir.is_dir():
        claim_run_dir(run_dir)
    write_csv_atomic(epochs, run_dir / EPOCHS_FILE)
    write_csv_atomic(summary, run_dir / SUMMARY_FILE)
    mark_complete(run_dir, **info)
    add_run_to_history(summary, Path(folder) / HISTORY_FILE)
    repair_history(folder)  # rows of earlier runs killed between marker and history
    return run_dir


def write_run_table(run_dir: str | Path, name: str, table: pd.DataFrame, **info) -> Path:
    """A one-table run (probes.csv, speed.csv): claim the folder if needed, write the table,
    mark the folder complete. Such runs have no summary, so they never enter the history."""
    run_dir = Path(run_dir)
    check_run_id(run_dir.name)
    if not run_dir.is_dir():
        claim_run_dir(run_dir)
    path = write_csv_atomic(table, run_dir / name)
    mark_complete(run_dir, **info)
    return path


# ---------------------------------------------------------------------------------------------
# CSV files: atomic, and the append-only history under its lock (initcore.files)
# ---------------------------------------------------------------------------------------------

def write_csv_atomic(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` as CSV to ``path`` via a temporary file and an atomic rename."""
    path = Path(path)
    write_atomic(path, frame.to_csv(index=False))
    return path


def check_history_file(path: Path) -> Path:
    """``path`` unless it is a symlink that leads outside its folder (ReportError): rows are
    never appended through a link to a file elsewhere."""
    try:
        return check_inside(path)
    except OSError as e:
        raise ReportError(e.strerror) from None


def read_header(path: Path) -> list[str] | None:
    """The column names of CSV ``path``, None if it is missing or empty; ReportError if it is
    not a readable file."""
    if not path.exists() and not path.is_symlink():
        return None
    try:
        with open(path, newline="") as f:
            first = f.readline()
    except (OSError, UnicodeDecodeError) as e:
        why = e.strerror if isinstance(e, OSError) and e.strerror else e
        raise ReportError(f"{path} is not a readable CSV file ({why})") from e
    if not first.strip():
        return None
    return next(csv.reader([first]))


def _as_text_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` as the strings its CSV holds: the form in which old and new rows can be merged
    without pandas guessing types (``007`` stays ``007``, ``NA`` stays ``NA``)."""
    return pd.read_csv(io.StringIO(rows.to_csv(index=False)), dtype=str, keep_default_na=False)


def append_history(rows: pd.DataFrame, path: str | Path) -> Path:
    """Append ``rows`` to the CSV ``path`` under its lock; earlier rows are never re-parsed.

    Same columns (or a subset): the rows are appended in one write, so a killed writer leaves
    the file as it was or with every row. New columns: the file is rewritten once, atomically,
    from its text (every cell read as a string, no type guessing), with the new column empty in
    the old rows. Stale temp files of killed writers in that folder are removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(path):
        _append_locked(rows, path)
    return path


def add_run_to_history(rows: pd.DataFrame, path: str | Path) -> list[str]:
    """Append a run's summary ``rows`` to the history ``path``, keyed by run id: under the lock,
    the rows of a run id the history already holds are skipped, so a run appended by its own
    writer and by a concurrent repair (another run's, or ``initcore repair``) is there once.
    Returns the run ids added."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(path):
        return _add_run_locked(rows, path)


def _add_run_locked(rows: pd.DataFrame, path: Path) -> list[str]:
    """add_run_to_history's work, for a caller that holds the lock."""
    ids = _as_text_rows(rows[["run_id"]])["run_id"]
    new = ~ids.isin(history_run_ids(path))
    if not new.any():
        return []
    _append_locked(rows[new.values], path)
    return list(dict.fromkeys(ids[new]))


def _append_locked(rows: pd.DataFrame, path: Path) -> None:
    """append_history's work, for a caller that holds the lock."""
    check_history_file(path)
    clean_stale_temps(path.parent)
    header = read_header(path)
    if header is None:
        write_atomic(path, rows.to_csv(index=False))
    elif set(rows.columns) <= set(header):
        _append_text(path, rows.reindex(columns=header).to_csv(index=False, header=False))
    else:  # new columns: one lossless rewrite, old cells copied as the text they are
        old = read_text_csv(path)
        new = _as_text_rows(rows)
        columns = header + [c for c in new.columns if c not in header]
        both = pd.concat([old, new], ignore_index=True).reindex(columns=columns).fillna("")
        write_atomic(path, both.to_csv(index=False))


def _append_text(path: Path, text: str) -> None:
    """Append ``text`` (whole CSV rows) to ``path``; on a failed write (disk full) the file is
    cut back to its old length, so no half row is left. A torn last line left by a crash is
    cut off first, so the new rows never continue it."""
    data = text.encode()
    with open_inside(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        if size:
            f.seek(size - 1)
            if f.read(1) != b"\n":
                f.seek(0)
                size = f.read().rfind(b"\n") + 1  # keep whole lines only
    append_bytes(path, data, size)


def history_run_ids(path: str | Path) -> set[str]:
    """The run ids the history holds, as written (strings)."""
    path = Path(path)
    if read_header(path) is None:
        return set()
    return set(pd.read_csv(path, dtype=str, keep_default_na=False, usecols=["run_id"])["run_id"])


def repair_history(report_dir: str | Path, problems: list[str] | None = None) -> list[str]:
    """Append to ``<report_dir>/history.csv`` the summary of every complete run folder that it
    lacks (a run killed between its marker and its history row); returns the run ids added.

    The history is derived from the complete run folders: this makes it whole again. A run it
    cannot re-derive -- a summary that does not parse, or one its run.json lists that is gone --
    is skipped (the others are still repaired) and described in ``problems``, if given.
    """
    report_dir = Path(report_dir)
    path = report_dir / HISTORY_FILE
    added: list[str] = []
    with file_lock(path):
        known = history_run_ids(path)
        for run_dir in run_folders(report_dir):
            summary = run_dir / SUMMARY_FILE
            if run_dir.name in known or not is_complete(run_dir) or is_shard_run(run_dir):
                continue
            if not summary.is_file():
                if SUMMARY_FILE in _listed_files(run_dir) and problems is not None:
                    problems.append(f"{summary}: gone (run.json lists it)")
                continue
            try:
                rows = read_text_csv(summary)
                if "run_id" not in rows.columns:
                    raise ValueError("no run_id column")
            except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError,
                    pd.errors.EmptyDataError) as e:
                if problems is not None:
                    problems.append(f"{summary}: unreadable ({one_line(e, 120)})")
                continue
            added += _add_run_locked(rows, path)
    return added


def _listed_files(run_dir: Path) -> list[str]:
    """The files a run's run.json lists (empty if it cannot be read)."""
    try:
        listed = json.loads((run_dir / MARKER_FILE).read_text()).get("files", [])
        return [str(f) for f in listed] if isinstance(listed, list) else []
    except (OSError, ValueError, AttributeError, UnicodeDecodeError):
        return []


def run_folders(report_dir: str | Path) -> list[Path]:
    """The folders of ``report_dir``, sorted, except symlinks that lead outside it: repair
    neither reads nor cleans a folder elsewhere that a link points to."""
    report_dir = Path(report_dir)
    inside = []
    for p in sorted(report_dir.iterdir()):
        try:
            if p.is_dir() and check_inside(p, report_dir):
                inside.append(p)
        except OSError:
            continue
    return inside


def incomplete_runs(report_dir: str | Path) -> list[Path]:
    """Run folders of ``report_dir`` without their marker: killed or still running."""
    return sorted(p for p in Path(report_dir).iterdir()
                  if p.is_dir() and not p.name.startswith(".") and p.name != "baseline"
                  and not is_complete(p))


def read_text_csv(path: str | Path) -> pd.DataFrame:
    """A report CSV with every cell as the string written (no type guessing): for copying rows
    from one report file into another unchanged."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


# Columns that name things: loaded as the text written, never guessed into numbers (run id
# ``007`` stays "007", ``1e5`` stays "1e5", ``NA`` stays "NA"); an empty cell is "" there.
IDENTIFIER_COLUMNS = (
    "run_id", "profile", "experiment", "dataset", "model", "recipe", "init", "formula",
    "trainer", "commit", "torch_version", "device", "host", "timestamp", "source",
    "best_builtin", "shard", "node", "scheme", "activation", "signal", "vs_best", "vs_he",
)


def load(path: str | Path, table: str = EPOCHS_FILE) -> pd.DataFrame:
    """Read a report into pandas: a run folder (its ``table``, epochs.csv by default) or any
    report CSV file (summary.csv, history.csv, leaderboard.csv, probes.csv ...).

    Identifier columns (:data:`IDENTIFIER_COLUMNS`: run_id, init, experiment, host, commit,
    recipe, model, dataset ...) are strings exactly as written, an empty cell ""; every other
    column is parsed by pandas (numbers as numbers, an empty cell as NaN)."""
    path = Path(path)
    if path.is_dir():
        path = path / table
    if not path.is_file():
        raise ReportError(f"no report at {path}")
    text = [c for c in read_header(path) or [] if c in IDENTIFIER_COLUMNS]
    frame = pd.read_csv(path)  # numbers (and "nan", "inf", "") as pandas reads them
    if text:  # the names again, as the text written: no type guessing, no NA
        names = pd.read_csv(path, usecols=text, dtype=str, keep_default_na=False)
        for column in text:
            frame[column] = names[column]
    return frame
