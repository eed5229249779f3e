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
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import pytest
import torch
from tqdm import tqdm

from . import data, initializers, leaderboard, markdown, profiles, ray_backend, reports, shards
from .device import check_device
from .experiments import Experiment, Profile
from .files import file_lock
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


def whole_profile_from(config: pytest.Config) -> Profile:
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
    from a scratch folder), is the committed one of the installed initcore: the clone's
    ``reports/baseline`` (an editable install), else the copy a wheel ships as
    ``initcore/baselines``."""
    given = Path(config.getoption("baseline_dir"))
    if given.exists() or config.getoption("baseline_dir") != DEFAULT_BASELINE_DIR:
        return given
    return shipped_baseline_dir() or given


def shipped_baseline_dir() -> Path | None:
    """The committed baselines of the installed initcore: ``reports/baseline`` of its clone, or
    the wheel's package data ``initcore/baselines``; None if neither is there."""
    package = Path(__file__).resolve().parent
    for candidate in (package.parent / DEFAULT_BASELINE_DIR, package / "baselines"):
        if candidate.is_dir():
            return candidate
    return None


def this_shard(config: pytest.Config) -> shards.Shard | None:
    """The shard of ``--shard i/n`` (None without it); UsageError (one line) if impossible."""
    if config.getoption("shard") is None:
        return None
    try:
        index, count = shards.parse_shard(config.getoption("shard"))
        return shards.plan(whole_profile_from(config).experiments, count)[index - 1]
    except ValueError as e:
        raise pytest.UsageError(str(e)) from e


def profile_from(config: pytest.Config) -> Profile:
    """The profile this session trains and checks: :func:`whole_profile_from`, cut to the
    session's shard under ``--shard i/n`` (same name, each experiment's part of the shard)."""
    profile = whole_profile_from(config)
    shard = this_shard(config)
    return profile if shard is None else replace(profile, experiments=shard.parts)


def shard_info(config: pytest.Config) -> dict:
    """What run.json records of a shard session (the shard and the whole grid); {} otherwise."""
    shard = this_shard(config)
    if shard is None:
        return {}
    whole = whole_profile_from(config)
    return {"shard": shards.shard_record(shard, whole.experiments, whole.name,
                                         reports.environment("cpu")["commit"])}


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
        check_scale_out(config)
    except ValueError as e:
        raise pytest.UsageError(str(e)) from e
    this_shard(config)  # an impossible --shard fails here, in one line
    try:
        if config.getoption("markdown"):  # fail now, not after the training
            reports.check_writable(Path(config.getoption("markdown")).resolve().parent)
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


def check_scale_out(config: pytest.Config) -> None:
    """ValueError (one line) for a combination of --shard / --backend / Ray options that
    cannot run, or a missing ray extra, before any work."""
    backend = config.getoption("backend")
    for name in ("shards", "cpus_per_shard"):
        value = config.getoption(name)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if backend != "ray" and (config.getoption("ray_address") or
                             config.getoption("shards") is not None):
        raise ValueError("--ray-address and --shards need --backend ray")
    if config.getoption("shard") is not None:
        if backend == "ray":
            raise ValueError("--shard runs one shard here; --backend ray runs them all: pick one")
        if config.getoption("update_baseline"):
            raise ValueError("--update-baseline needs the whole profile, not a --shard")
    if backend == "ray":
        ray_backend.import_ray()


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
        reports.rewrite_strict_json(saved[-1])  # NaN in extra_info -> null (strict JSON)
        os.replace(saved[-1], target)  # same file system: atomic, the JSON is whole or absent
    shutil.rmtree(storage, ignore_errors=True)  # no benchmark ran (e.g. under xdist): no file


def finish(folder: Path, profile_name: str, status: int | None, info: dict | None = None
           ) -> None:
    """Mark the session's run folder complete (run.json, last, with ``info``) and only then
    append its summary to the history; a session that trained nothing leaves no folder, an
    interrupted one leaves its folder without run.json (incomplete). A shard session's summary
    is partial: it never enters the history (``initcore merge`` makes the run that does)."""
    summary = folder / reports.SUMMARY_FILE
    if not any(p for p in folder.iterdir() if not p.name.startswith(".")):
        with contextlib.suppress(OSError):
            for lock in folder.glob(".*.lock"):
                lock.unlink()
            folder.rmdir()  # nothing was written (collect-only, usage error, -k none)
        return
    if status not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        return  # interrupted or broken: the folder stays incomplete (no run.json)
    info = dict(info or {})
    placed = folder / shards.SHARDS_FILE
    if placed.is_file():  # which node trained which shard (Ray), for run.json too
        info["shards"] = reports.read_text_csv(placed).to_dict("records")
        if "shard" in info:
            info["shard"]["nodes"] = sorted(set(r["node"] for r in info["shards"]))
    reports.mark_complete(folder, profile=profile_name, exitstatus=int(status), **info)
    if summary.is_file() and "shard" not in info:
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


def write_markdown(config: pytest.Config, folder: Path) -> list[Path]:
    """The run's markdown summary (:mod:`initcore.markdown`: the gate against the profile's
    baseline, the leaderboard), appended to $GITHUB_STEP_SUMMARY when set and written to
    ``--markdown FILE`` when given; nothing when neither or when nothing was trained. A shard
    session is not judged (its merged report is, by ``initcore compare``)."""
    path = config.getoption("markdown")
    if not (path or os.environ.get(markdown.STEP_SUMMARY_ENV)) or \
            not (folder / reports.SUMMARY_FILE).is_file():
        return []
    profile_name = config.getoption("profile")
    baseline, why = baseline_dir(config) / profile_name / reports.SUMMARY_FILE, ""
    if config.getoption("shard"):
        baseline, why = None, "a shard; its merged run is judged (initcore merge, compare)"
    elif config.getoption("no_baseline"):
        baseline, why = None, "--no-baseline"
    try:
        text = markdown.summary(folder, baseline,
                                f"initcore: {profile_name} profile, run {folder.name}", why)
        return markdown.publish(text, path)
    except (OSError, reports.ReportError) as e:  # the run itself is written: say it, go on
        print(f"initcore: markdown summary not written: {e}", file=sys.stderr)
        return []


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

    Locally each experiment is trained when a test first asks for it. With ``--backend ray``
    the first ask trains the whole profile: every shard a Ray task, all at once; the results
    come back here and only this process writes the reports (with ``shards.csv``: which node
    trained what).

    ``show_progress`` is a context manager under which the progress bar may write to the
    terminal (pytest's output capture suspended)."""

    def __init__(self, config: pytest.Config, profile: Profile, datasets: DatasetLoader,
                 calibration: float, shared: Path,
                 show_progress: Callable[[], contextlib.AbstractContextManager]) -> None:
        self.config, self.profile, self.datasets = config, profile, datasets
        self.calibration, self.shared, self.show_progress = calibration, shared, show_progress
        self.cache: dict[str, ExperimentRun] = {}

    def _saved(self, name: str) -> Path:
        return self.shared / f"trained-{self.profile.name}-{name}.pt"

    def __call__(self, name: str) -> ExperimentRun:
        if name not in self.cache:
            experiment = self.profile.experiment(name)
            if self.config.getoption("backend") == "ray":
                with file_lock(self.shared / f"trained-{self.profile.name}-ray"):
                    if not self._saved(name).exists():
                        self._train_all_on_ray()
            saved = self._saved(name)
            with file_lock(saved):
                if saved.exists():
                    results, sizes = torch.load(saved, weights_only=False)
                    epochs, summary = self._tables(experiment, results, sizes)
                else:
                    done = self._train(experiment)
                    results, sizes = shards.ordered_results(experiment, [done])
                    torch.save((results, sizes), saved)
                    epochs, summary = self._tables(experiment, results, sizes)
                    self._report(epochs, summary, [done])
            self.cache[name] = ExperimentRun(experiment, results, epochs, summary)
        return self.cache[name]

    def _train(self, experiment: Experiment) -> shards.PartResult:
        dataset = self.datasets(experiment.dataset)
        total = len(experiment.inits) * len(experiment.seeds) * experiment.config.epochs
        shard = this_shard(self.config)
        with self.show_progress(), tqdm(total=total, unit="model-epoch",
                                        desc=f"train {experiment.name}", leave=False) as bar:
            return shards.train_part(shard.name if shard else "local", experiment, dataset, bar)

    def _train_all_on_ray(self) -> None:
        """Every experiment of the profile, its shards as Ray tasks; each experiment's results
        saved for the other workers and its rows reported."""
        experiments = self.profile.experiments
        most = shards.max_shards(experiments)
        options = ray_backend.RayOptions(
            address=self.config.getoption("ray_address"), shards=self.config.getoption("shards"),
            cpus=self.config.getoption("cpus_per_shard"),
            gpus=1.0 if self.config.getoption("device").startswith("cuda") else 0.0)
        total = sum(len(e.inits) * len(e.seeds) * e.config.epochs for e in experiments)
        with self.show_progress(), tqdm(total=total, unit="model-epoch", desc="train on Ray",
                                        leave=False) as bar:
            def finished(shard: shards.Shard, parts: list[shards.PartResult]) -> None:
                bar.update(sum(len(p.results) * p.part.config.epochs for p in parts))

            try:
                done = ray_backend.run(lambda n: shards.plan(experiments, min(n, most)),
                                       options, self.config.getoption("data_dir"),
                                       self.config.getoption("download"), finished)
            except ray_backend.ShardsFailed as e:
                for experiment in experiments:  # whatever finished is reported
                    mine = [d for d in e.done if d.part.name == experiment.name]
                    if mine:
                        self._report(*self._tables(experiment, [r for d in mine
                                                                for r in d.results],
                                                   [len(d.results) for d in mine
                                                    for _ in d.results]), mine)
                # Status "interrupted", not "tests failed": the folder must stay incomplete
                # (no run.json), since its rows cover only part of the profile.
                pytest.exit(f"initcore: {e}; the finished shards' rows are in "
                            f"{run_dir(self.config)} (incomplete)",
                            returncode=pytest.ExitCode.INTERRUPTED)
        for experiment in experiments:
            mine = [d for d in done if d.part.name == experiment.name]
            results, sizes = shards.ordered_results(experiment, mine)
            torch.save((results, sizes), self._saved(experiment.name))
            self._report(*self._tables(experiment, results, sizes), mine)

    def _tables(self, experiment: Experiment, results: list[RunResult], sizes: list[int]
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The experiment's per-epoch and summary tables, as the reports hold them; ``sizes``:
        the grid each result was trained in."""
        env = reports.environment(experiment.config.device)
        model = experiment.config.model_name()
        epochs = reports.epoch_table(results, run_id=reports.shared_run_id(),
                                     dataset=experiment.dataset, model=model,
                                     recipe=experiment.config.describe(), trainer="grid",
                                     grid_size=len(results), env=env)
        epochs["grid_size"] = [size for r, size in zip(results, sizes) for _ in r.epochs]
        formulas = {name: initializers.get(name).formula for name in experiment.inits}
        summary = reports.summarize(epochs, formulas)
        for frame in (epochs, summary):
            frame.insert(1, "experiment", experiment.name)
            frame.insert(1, "profile", self.config.getoption("profile"))
        summary["matmul_gflops"] = self.calibration
        return epochs, summary

    def _report(self, epochs: pd.DataFrame, summary: pd.DataFrame,
                done: list[shards.PartResult]) -> None:
        """Append the experiment's rows to the run folder's tables (append-only, under their
        lock); the history gets the summary when the session ends and the folder is complete."""
        folder = run_dir(self.config)
        reports.append_history(epochs, folder / reports.EPOCHS_FILE)
        reports.append_history(summary, folder / reports.SUMMARY_FILE)
        if self.config.getoption("shard") or self.config.getoption("backend") == "ray":
            reports.append_history(shards.shard_table(done), folder / shards.SHARDS_FILE)
