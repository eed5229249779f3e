"""The logic of a ``pytest bench`` session; its hooks are :mod:`initcore.pytest_plugin`.

* :func:`start` (the controller, once): check the options, claim the run folder
  ``<report-dir>/<run-id>``, and route pytest-benchmark's JSON into it.
* :class:`TrainedExperiments`: each experiment of the profile trained once per session, lazily,
  by the grid trainer; under pytest-xdist the first worker to need an experiment trains it under
  a file lock and saves it, the others load the saved copy. The trainer appends the
  experiment's rows (under their lock, in one write) to the run folder's ``epochs.csv`` and
  ``summary.csv``.
* :func:`finish` (the controller, at the end): move the benchmark JSON into the run folder, mark
  the folder complete (``run.json``, last) and only then append its summary to
  ``<report-dir>/history.csv``.
* :func:`load_user_schemes` (every process): the ``--init module:function`` schemes, loaded
  before collection so that every test parametrized over the registry sees them;
  :func:`profile_from` adds them, and the installed plugins' schemes, to every experiment.
* :func:`write_leaderboard` (the controller, after the last test): ``leaderboard.csv``.
* :func:`summary_lines`: the summary table and leaderboard printed at the end of the session.

This module imports torch; the plugin imports it only in bench sessions.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import torch
from tqdm import tqdm

from . import data, initializers, leaderboard, profiles, reports
from .device import check_device
from .experiments import Experiment, Profile
from .files import file_lock
from .grid import train_grid
from .train import RunResult, check_scheme

# pytest-benchmark options that say where its JSON goes; when the user sets none of them, the run
# folder receives it. Only documented command-line options are set, as strings, the same in every
# pytest-benchmark release (--benchmark-json changed from an open file to a path in 5.3).
BENCHMARK_OUTPUTS = ("benchmark_json", "benchmark_save", "benchmark_autosave",
                     "benchmark_compare", "benchmark_compare_fail")
BENCHMARK_JSON = "benchmark.json"


def run_dir(config: pytest.Config) -> Path:
    """<report-dir>/<run-id>; the controller picks the id, xdist workers inherit it (env)."""
    return Path(config.getoption("report_dir")) / reports.shared_run_id(config.getoption("run_id"))


def profile_from(config: pytest.Config) -> Profile:
    """The profile of ``--profile``, with ``--seeds`` and ``--device`` applied; UsageError (one
    line) for an unknown profile or a seed count below 1."""
    try:
        profile = profiles.get(config.getoption("profile"))
        if config.getoption("seeds") is not None:
            profile = profile.with_seeds(config.getoption("seeds"))
    except ValueError as e:
        raise pytest.UsageError(str(e)) from e
    if config.getoption("device") != "cpu":
        profile = profile.on_device(config.getoption("device"))
    return profile.with_inits(user_schemes())


def load_user_schemes(config: pytest.Config) -> list[str]:
    """Load the ``--init`` references (``package.module:function``) and built-in names given,
    and try each scheme from outside initcore on a small model; one line and exit status 2
    for a bad one (before any test is collected)."""
    try:
        names = [initializers.resolve(ref) for ref in config.getoption("init") or []]
        for name in user_schemes():
            check_scheme(name)
    except ValueError as e:
        pytest.exit(f"initcore: {' '.join(str(e).split())}", returncode=2)
    return names


def user_schemes() -> list[str]:
    """Registered schemes that initcore does not define (plugins, --init, initcore.register)."""
    return [n for n in initializers.list_initializers() if not initializers.get(n).built_in]


def unbounded_cells(profile: Profile) -> list[tuple[str, str]]:
    """(experiment, init) pairs without bounds: each gets the trains-above-chance check."""
    return [(e.name, init) for e in profile.experiments for init in e.inits
            if init not in e.bounds]


def claims(profile: Profile) -> list[tuple[str, initializers.Claim]]:
    """(scheme, claim) for every claim of every scheme the profile trains."""
    names = dict.fromkeys(init for e in profile.experiments for init in e.inits)
    return [(name, claim) for name in names for claim in initializers.get(name).claims]


DEFAULT_BASELINE_DIR = "reports/baseline"  # the default of --baseline-dir


def baseline_dir(config: pytest.Config) -> Path:
    """``--baseline-dir``; its default, when the current folder has none (``pytest bench`` run
    from a scratch folder), is the committed one beside the installed suite."""
    given = Path(config.getoption("baseline_dir"))
    if given.exists() or config.getoption("baseline_dir") != DEFAULT_BASELINE_DIR:
        return given
    beside = Path(__file__).resolve().parents[1] / DEFAULT_BASELINE_DIR
    return beside if beside.is_dir() else given


def bounded_cells(profile: Profile) -> list[tuple[str, str]]:
    """(experiment, init) pairs that have bounds in the profile."""
    return [(e.name, init) for e in profile.experiments for init in e.inits if init in e.bounds]


def all_cells(profile: Profile) -> list[tuple[str, str]]:
    """Every (experiment, init) pair of the profile."""
    return [(e.name, init) for e in profile.experiments for init in e.inits]


# ---------------------------------------------------------------------------------------------
# Start and finish (the controller)
# ---------------------------------------------------------------------------------------------

def start(config: pytest.Config) -> tuple[Path, tuple[Path, Path] | None]:
    """Check the options, claim the run folder and route the benchmark JSON into it; returns
    (run folder, (pytest-benchmark's storage, final JSON path) or None). Options are checked
    here, not at collection (where pytest would report one error per module): UsageError."""
    seeds = config.getoption("seeds")
    try:
        profiles.get(config.getoption("profile"))
        check_device(config.getoption("device"))
        if seeds is not None and seeds < 1:
            raise ValueError(f"--seeds must be >= 1, got {seeds}")
    except ValueError as e:
        raise pytest.UsageError(str(e)) from e
    try:
        folder = run_dir(config)
        # One session per run folder: a reused id is refused (xdist workers inherit the id
        # through INITCORE_RUN_ID and never get here).
        reports.claim_run_dir(reports.check_new_run(folder.parent, folder.name))
        baseline = baseline_dir(config)
        if baseline.exists() and not baseline.is_dir():
            raise reports.ReportError(f"--baseline-dir {baseline} is not a folder")
    except reports.ReportError as e:
        raise pytest.UsageError(str(e)) from e
    return folder, route_benchmark_json(config, folder)


def route_benchmark_json(config: pytest.Config, folder: Path) -> tuple[Path, Path] | None:
    """Have pytest-benchmark save the run (with its timing data) into a private storage folder
    inside the run folder, as ``--benchmark-save=initcore --benchmark-save-data
    --benchmark-storage=<folder>/.benchmark-storage`` would; :func:`finish` moves the JSON to
    ``<folder>/benchmark.json``. None when pytest-benchmark is absent, the user routes its output
    themselves, or no benchmark will run (--benchmark-skip, --collect-only)."""
    if not hasattr(config.option, "benchmark_save") or any(
            getattr(config.option, name, None) for name in BENCHMARK_OUTPUTS):
        return None
    if config.option.benchmark_skip or config.option.collectonly:
        return None  # no timing will run: no "Not saving anything" warning from pytest-benchmark
    storage = folder / ".benchmark-storage"
    config.option.benchmark_save = "initcore"
    config.option.benchmark_save_data = True
    config.option.benchmark_storage = f"file://{storage.resolve()}"
    return storage, folder / BENCHMARK_JSON


def save_benchmark_json(storage: Path, target: Path) -> None:
    """Move the JSON pytest-benchmark saved under ``storage`` to ``target``; remove ``storage``."""
    saved = sorted(storage.glob("*/*_initcore.json"))  # <machine id>/<counter>_initcore.json
    if saved:
        os.replace(saved[-1], target)  # same file system: atomic, the JSON is whole or absent
    shutil.rmtree(storage, ignore_errors=True)  # no benchmark ran (e.g. under xdist): no file


def finish(folder: Path, profile_name: str, status: int | None,
           recipes: dict[str, dict] | None = None) -> None:
    """Mark the session's run folder complete (run.json, last, with ``recipes``: experiment ->
    its recipe's fields) and only then append its summary to the history; a session that
    trained nothing leaves no folder, an interrupted one leaves its folder without run.json
    (incomplete)."""
    summary = folder / reports.SUMMARY_FILE
    if not any(p for p in folder.iterdir() if not p.name.startswith(".")):
        with contextlib.suppress(OSError):
            for lock in folder.glob(".*.lock"):
                lock.unlink()
            folder.rmdir()  # nothing was written (collect-only, usage error, -k none)
        return
    if status not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        return  # interrupted or broken: the folder stays incomplete (no run.json)
    reports.mark_complete(folder, profile=profile_name, exitstatus=int(status),
                          recipes=recipes or {})
    if summary.is_file():
        reports.append_history(reports.read_text_csv(summary),
                               folder.parent / reports.HISTORY_FILE)


def write_leaderboard(folder: Path) -> Path | None:
    """Rank the run's schemes per experiment (:mod:`initcore.leaderboard`) from its per-epoch
    rows into ``<folder>/leaderboard.csv``; None when nothing was trained."""
    path = folder / reports.EPOCHS_FILE
    if not path.exists():
        return None
    theory = folder / leaderboard.THEORY_FILE
    table = leaderboard.build(reports.load(path), set(initializers.builtin_names()),
                              theory=pd.read_csv(theory) if theory.exists() else None)
    return reports.write_csv_atomic(table, folder / leaderboard.LEADERBOARD_FILE)


def summary_lines(folder: Path, profile_name: str) -> tuple[str, list[str]] | None:
    """(section title, lines) of the run's summary table per experiment, then its leaderboard;
    None without a summary."""
    path = folder / reports.SUMMARY_FILE
    if not path.exists():
        return None
    summary = reports.load(path)
    lines = []
    for name, part in summary.groupby("experiment", sort=False):
        row = part.iloc[0]
        lines.append(f"{name}: {row['dataset']}, {row['model']}, "
                     f"{int(part['epochs'].max())} epochs")
        lines.append(reports.format_summary(part.reset_index(drop=True)))
    board = folder / leaderboard.LEADERBOARD_FILE
    if board.exists():
        lines.extend(leaderboard.format_leaderboard(pd.read_csv(board)))
    lines.append(f"reports: {path.parent}")
    return f"initcore summary ({profile_name} profile)", lines


# ---------------------------------------------------------------------------------------------
# Datasets and trained experiments (every process of the session)
# ---------------------------------------------------------------------------------------------

class DatasetLoader:
    """dataset name -> initcore.data.Dataset, loaded once; bad data ends the session in one
    line (pytest.exit, status 2)."""

    def __init__(self, data_dir: str | None, download: bool) -> None:
        self.data_dir, self.download = data_dir, download
        self.cache: dict[str, data.Dataset] = {}

    def __call__(self, name: str) -> data.Dataset:
        if name not in self.cache:
            try:
                self.cache[name] = data.load(name, self.data_dir, self.download)
            except data.DataError as e:
                pytest.exit(f"initcore: {e}", returncode=2)
        return self.cache[name]


@dataclass
class ExperimentRun:
    """One trained experiment: the per-model results and their report tables."""

    experiment: Experiment
    results: list[RunResult]
    epochs: pd.DataFrame
    summary: pd.DataFrame

    def runs(self, init: str) -> list[RunResult]:
        return [r for r in self.results if r.init == init]

    def accuracies(self, init: str, epoch: int | None = None) -> list[float]:
        """Test accuracy of every seed of ``init`` after ``epoch`` (default: the last)."""
        rows = self.epochs[self.epochs["init"] == init]
        if epoch is not None:
            rows = rows[rows["epoch"] == epoch]
        else:
            rows = rows.sort_values("epoch").groupby("seed").tail(1)
        return rows.sort_values("seed")["test_acc"].tolist()


class TrainedExperiments:
    """experiment name -> ExperimentRun, trained once per session and shared across xdist
    workers through ``shared`` (a folder every worker of the session sees).

    ``show_progress`` is a context manager under which the progress bar may write to the
    terminal (pytest's output capture suspended)."""

    def __init__(self, config: pytest.Config, profile: Profile, datasets: DatasetLoader,
                 calibration: float, shared: Path,
                 show_progress: Callable[[], contextlib.AbstractContextManager]) -> None:
        self.config, self.profile, self.datasets = config, profile, datasets
        self.calibration, self.shared, self.show_progress = calibration, shared, show_progress
        self.cache: dict[str, ExperimentRun] = {}

    def __call__(self, name: str) -> ExperimentRun:
        if name not in self.cache:
            experiment = self.profile.experiment(name)
            saved = self.shared / f"trained-{self.profile.name}-{name}.pt"
            with file_lock(saved):
                if saved.exists():
                    results = torch.load(saved, weights_only=False)
                    epochs, summary = self._tables(experiment, results)
                else:
                    results = self._train(experiment)
                    torch.save(results, saved)
                    epochs, summary = self._tables(experiment, results)
                    self._report(epochs, summary)
            self.cache[name] = ExperimentRun(experiment, results, epochs, summary)
        return self.cache[name]

    def _train(self, experiment: Experiment) -> list[RunResult]:
        dataset = self.datasets(experiment.dataset)
        total = len(experiment.inits) * len(experiment.seeds) * experiment.config.epochs
        with self.show_progress(), tqdm(total=total, unit="model-epoch",
                                        desc=f"train {experiment.name}", leave=False) as bar:
            return train_grid(experiment.inits, experiment.seeds, dataset, experiment.config, bar)

    def _tables(self, experiment: Experiment, results: list[RunResult]
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The experiment's per-epoch and summary tables, as the reports hold them."""
        env = reports.environment(experiment.config.device)
        model = experiment.config.model_name()
        epochs = reports.epoch_table(results, run_id=reports.shared_run_id(),
                                     dataset=experiment.dataset, model=model,
                                     recipe=experiment.config.describe(), trainer="grid",
                                     grid_size=len(results), env=env)
        formulas = {name: initializers.get(name).formula for name in experiment.inits}
        summary = reports.summarize(epochs, formulas)
        for frame in (epochs, summary):
            frame.insert(1, "experiment", experiment.name)
            frame.insert(1, "profile", self.config.getoption("profile"))
        summary["matmul_gflops"] = self.calibration
        return epochs, summary

    def _report(self, epochs: pd.DataFrame, summary: pd.DataFrame) -> None:
        """Append the experiment's rows to the run folder's tables (append-only, under their
        lock); the history gets the summary when the session ends and the folder is complete."""
        folder = run_dir(self.config)
        reports.append_history(epochs, folder / reports.EPOCHS_FILE)
        reports.append_history(summary, folder / reports.SUMMARY_FILE)
