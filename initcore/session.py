"""The logic of a ``pytest bench`` session; its hooks are :mod:`initcore.pytest_plugin`.

* :class:`BenchSession`, built once per process from the config (as pytest-benchmark's
  ``BenchmarkSession(config)``): every option read once (:mod:`initcore.options`), the rules
  between them checked there (``pytest.UsageError``, one line), the profile built once (with
  ``--seeds``, ``--device``, the user's schemes, and cut to ``--shard i/n``).
* :meth:`BenchSession.start` (the controller, once): claim the run folder
  ``<report-dir>/<run-id>`` and route pytest-benchmark's JSON into it.
* :class:`TrainedExperiments`: each experiment of the profile trained once per session, lazily,
  through the one run pipeline (:mod:`initcore.runs`); under pytest-xdist the first worker to
  need an experiment trains it under a file lock and saves it, the others load the saved copy.
  With ``--seeds auto`` an experiment is trained look by look (:func:`initcore.runs.
  until_decided`: grids of its seed count) until its comparisons are decided or
  ``--max-seeds`` are spent; the tests then see every seed it took.
* :meth:`BenchSession.finish` (the controller, at the end): the leaderboard, the benchmark
  JSON, ``run.json`` last, then the history (:func:`initcore.runs.complete`).
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

from . import (
    data,
    initializers,
    leaderboard,
    markdown,
    options,
    profiles,
    ray_backend,
    reports,
    runs,
    shards,
    verdicts,
)
from .device import check_device
from .errors import one_line
from .experiments import Experiment, Profile
from .files import file_lock
from .train import RunResult
from .user_schemes import architectures_of, check_scheme

# pytest-benchmark options that say where its JSON goes; when the user sets none of them, the run
# folder receives it. Only documented command-line options are set, as strings, the same in every
# pytest-benchmark release (--benchmark-json changed from an open file to a path in 5.3).
BENCHMARK_OUTPUTS = ("benchmark_json", "benchmark_save", "benchmark_autosave",
                     "benchmark_compare", "benchmark_compare_fail")
BENCHMARK_JSON = "benchmark.json"


SESSION_KEY = pytest.StashKey["BenchSession"]()  # this process's bench session


class BenchSession:
    """A bench session's options, read once from the config, and what follows from them: the
    profile (built once), the shard, the run folder and the baseline folder. Bad options raise
    ``pytest.UsageError`` (one line) here, before any test is collected."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.get = get = options.bench_getter(config)
        self.profile_name: str = get("profile")
        self.device: str = get("device")
        self.backend: str = get("backend")
        self.update_baseline: bool = bool(get("update_baseline"))
        self.no_baseline: bool = bool(get("no_baseline"))
        self.timing_regressions: bool = bool(get("timing_regressions"))
        self.data_dir: str | None = get("data_dir")
        self.download: bool = bool(get("download"))
        self.report_dir = Path(get("report_dir"))
        self.auto: bool = get("seeds") == options.AUTO  # --seeds auto
        self.max_seeds: int = get("max_seeds") or options.MAX_SEEDS
        try:
            shard_index = options.check_rules(get)
            self.whole = self._whole_profile(None if self.auto else get("seeds"))
            if get("margin") is not None:
                self.whole = self.whole.with_margin(get("margin") / 100)
            if self.auto:
                widest = max(self.whole.experiments, key=lambda e: len(e.seeds), default=None)
                if widest is not None and self.max_seeds < len(widest.seeds):
                    raise ValueError(f"--max-seeds {self.max_seeds} is below one look of "
                                     f"--seeds auto: {widest.name} of profile "
                                     f"{self.profile_name!r} trains {len(widest.seeds)} seeds "
                                     f"per look")
            if shard_index is not None:
                self.shard: shards.Shard | None = shards.plan(
                    self.whole.experiments, shard_index[1])[shard_index[0] - 1]
            else:
                self.shard = None
        except ValueError as e:
            raise pytest.UsageError(str(e)) from e
        # The profile this session trains and checks: the whole one, or each experiment's part
        # of the shard (same names).
        self.profile = self.whole if self.shard is None else replace(
            self.whole, experiments=self.shard.parts)

    @classmethod
    def of(cls, config: pytest.Config) -> BenchSession:
        """This process's session: built on first use, then kept in the config's stash."""
        if SESSION_KEY not in config.stash:
            config.stash[SESSION_KEY] = cls(config)
        return config.stash[SESSION_KEY]

    def _whole_profile(self, seeds: int | None) -> Profile:
        """The profile of ``--profile`` with ``--seeds``, ``--device`` and the user's schemes."""
        profile = profiles.get(self.profile_name)
        if seeds is not None:
            profile = profile.with_seeds(seeds)
        if self.device != "cpu":
            profile = profile.on_device(self.device)
        return profile.with_inits(user_schemes())

    def design(self) -> verdicts.Design:
        """How this session's seeds are trained, for the verdicts: one look at the profile's
        seeds, or (``--seeds auto``) looks of each experiment's seed count up to
        ``--max-seeds``, judged as one board of the whole profile's comparisons (its K: every
        scheme of every experiment against He and the best built-in one), which is what the
        loop of each experiment spends its alpha against."""
        if not self.auto:
            return verdicts.Design()
        return verdicts.Design(batch={e.name: len(e.seeds) for e in self.whole.experiments},
                               max_seeds=self.max_seeds, comparisons=self.comparisons())

    def comparisons(self) -> int:
        """K of the profile's board: two comparisons (vs He, vs best) per trained scheme."""
        return sum(2 * len(e.inits) for e in self.whole.experiments)

    def write_leaderboard(self, folder: Path) -> Path | None:
        """The run's leaderboard (:func:`initcore.runs.write_leaderboard`) with this session's
        design and each experiment's margin."""
        return runs.write_leaderboard(folder, self.design(),
                                      {e.name: e.margin for e in self.whole.experiments})

    @property
    def run_dir(self) -> Path:
        """<report-dir>/<run-id>; the controller picks the id, xdist workers inherit it (env)."""
        return self.report_dir / reports.shared_run_id(self.get("run_id"))

    @property
    def baseline_dir(self) -> Path:
        """``--baseline-dir``; its default, when the current folder has none (``pytest bench``
        run from a scratch folder), is the committed one of the installed initcore: the
        clone's ``reports/baseline`` (an editable install), else the copy a wheel ships as
        ``initcore/baselines`` (:func:`shipped_baseline_dir`)."""
        given = Path(self.get("baseline_dir"))
        if given.exists() or self.get("baseline_dir") != options.DEFAULT_BASELINE_DIR:
            return given
        return shipped_baseline_dir() or given

    def seeds_info(self, folder: Path) -> dict:
        """What run.json records of ``--seeds auto``: the budget, the batch and the seeds each
        experiment took (from its rows); {} for fixed seeds."""
        if not self.auto:
            return {}
        used = {}
        if (folder / reports.SUMMARY_FILE).is_file():
            summary = reports.load(folder / reports.SUMMARY_FILE)
            used = {str(k): int(v) for k, v in summary.groupby("experiment")["n_seeds"].max()
                    .items()}
        return {"seeds": {"auto": True, "max_seeds": self.max_seeds,
                          "batch": {e.name: len(e.seeds) for e in self.whole.experiments},
                          "used": used}}

    def shard_info(self) -> dict:
        """What run.json records of a shard session (the shard and the whole grid); {} else."""
        if self.shard is None:
            return {}
        return {"shard": shards.shard_record(self.shard, self.whole.experiments, self.whole.name,
                                             reports.environment("cpu")["commit"])}

    # --- the controller: start and finish ------------------------------------------------------

    def start(self) -> tuple[Path, tuple[Path, Path] | None]:
        """Check the device and the Ray extra, claim the run folder and route the benchmark
        JSON into it; returns (run folder, (pytest-benchmark's storage, final JSON path) or
        None). UsageError (one line) for anything that cannot run."""
        try:
            check_device(self.device)
            if self.backend == "ray":
                ray_backend.import_ray()
        except ValueError as e:
            raise pytest.UsageError(str(e)) from e
        try:
            if self.get("markdown"):  # an unwritable --markdown fails now, not after training
                reports.check_writable(Path(self.get("markdown")).resolve().parent)
            # One session per run folder: a reused id is refused (xdist workers inherit the id
            # through INITCORE_RUN_ID and never get here).
            folder = runs.claim(self.report_dir, reports.shared_run_id(self.get("run_id")))
            baseline = self.baseline_dir
            if baseline.exists() and not baseline.is_dir():
                raise reports.ReportError(f"--baseline-dir {baseline} is not a folder")
        except reports.ReportError as e:
            raise pytest.UsageError(str(e)) from e
        return folder, route_benchmark_json(self.config, folder)

    def finish(self, folder: Path, status: int | None) -> None:
        """Mark the session's run folder complete and only then append its summary to the
        history (:func:`initcore.runs.complete`); a session that trained nothing leaves no
        folder, an interrupted one leaves its folder without run.json (incomplete)."""
        if not any(p for p in folder.iterdir() if not p.name.startswith(".")):
            runs.release(folder)  # nothing was written (collect-only, usage error, -k none)
            return
        if status not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            return  # interrupted or broken: the folder stays incomplete (no run.json)
        recipes = {e.name: e.config.as_dict() for e in self.profile.experiments}
        runs.complete(folder, profile=self.profile_name, exitstatus=int(status),
                      recipes=recipes, **self.shard_info(), **self.seeds_info(folder))
        summary = folder / reports.SUMMARY_FILE
        if self.update_baseline and self.shard is None and summary.is_file():
            runs.update_baseline(self.baseline_dir / self.profile_name / reports.SUMMARY_FILE,
                                 summary)


def shipped_baseline_dir() -> Path | None:
    """The committed baselines of the installed initcore: ``reports/baseline`` of its clone, or
    the wheel's package data ``initcore/baselines``; None if neither is there."""
    package = Path(__file__).resolve().parent
    for candidate in (package.parent / options.DEFAULT_BASELINE_DIR, package / "baselines"):
        if candidate.is_dir():
            return candidate
    return None


def write_markdown(config: pytest.Config, folder: Path) -> list[Path]:
    """The run's markdown summary (:mod:`initcore.markdown`: the gate against the profile's
    baseline, the leaderboard), appended to $GITHUB_STEP_SUMMARY when set and written to
    ``--markdown FILE`` when given; nothing when neither or when nothing was trained. A shard
    session is not judged (its merged run is, by ``initcore compare``)."""
    bench = BenchSession.of(config)
    path = bench.get("markdown")
    if not (path or os.environ.get(markdown.STEP_SUMMARY_ENV)) or \
            not (folder / reports.SUMMARY_FILE).is_file():
        return []
    baseline, why = bench.baseline_dir / bench.profile_name / reports.SUMMARY_FILE, ""
    if bench.shard is not None:
        baseline, why = None, "a shard; its merged run is judged (initcore merge, compare)"
    elif bench.no_baseline:
        baseline, why = None, "--no-baseline"
    try:
        text = markdown.summary(folder, baseline,
                                f"initcore: {bench.profile_name} profile, run {folder.name}", why)
        return markdown.publish(text, path)
    except (OSError, reports.ReportError) as e:  # the run itself is written: say it, go on
        print(f"initcore: markdown summary not written: {e}", file=sys.stderr)
        return []


def load_user_schemes(config: pytest.Config) -> list[str]:
    """Load the ``--init`` references (``package.module:function``) and built-in names given,
    and try each scheme from outside initcore on a small model; one line and exit status 2
    for a bad one (before any test is collected)."""
    try:  # an unknown profile is a usage error (status 4), as BenchSession reports it
        profile = profiles.get(options.bench_getter(config)("profile"))
    except ValueError as e:
        raise pytest.UsageError(one_line(e)) from None
    try:
        names = [initializers.resolve(ref)
                 for ref in options.bench_getter(config)("init") or []]
        # On the profile's own architectures, not only a trial net (user_schemes.check_scheme)
        archs = architectures_of(e.config for e in profile.experiments)
        for name in user_schemes():
            check_scheme(name, archs)
    except ValueError as e:
        pytest.exit(f"initcore: {one_line(e)}", returncode=2)
    return names


def user_schemes() -> list[str]:
    """Registered schemes that initcore does not define (plugins, --init, initcore.register)."""
    return [n for n in initializers.list_initializers() if not initializers.get(n).built_in]


def profile_from(config: pytest.Config) -> Profile:
    """The profile this session trains and checks (:attr:`BenchSession.profile`)."""
    return BenchSession.of(config).profile


def run_dir(config: pytest.Config) -> Path:
    """The session's run folder (:attr:`BenchSession.run_dir`)."""
    return BenchSession.of(config).run_dir


def baseline_dir(config: pytest.Config) -> Path:
    """The session's baseline folder (:attr:`BenchSession.baseline_dir`)."""
    return BenchSession.of(config).baseline_dir


def unbounded_cells(profile: Profile) -> list[tuple[str, str]]:
    """(experiment, init) pairs without bounds: each gets the trains-above-chance check."""
    return [(e.name, init) for e in profile.experiments for init in e.inits
            if init not in e.bounds]


def claims(profile: Profile) -> list[tuple[str, initializers.Claim]]:
    """(scheme, claim) for every claim of every scheme the profile trains."""
    names = dict.fromkeys(init for e in profile.experiments for init in e.inits)
    return [(name, claim) for name in names for claim in initializers.get(name).claims]


def bounded_cells(profile: Profile) -> list[tuple[str, str]]:
    """(experiment, init) pairs that have bounds in the profile."""
    return [(e.name, init) for e in profile.experiments for init in e.inits if init in e.bounds]


def all_cells(profile: Profile) -> list[tuple[str, str]]:
    """Every (experiment, init) pair of the profile."""
    return [(e.name, init) for e in profile.experiments for init in e.inits]


# ---------------------------------------------------------------------------------------------
# pytest-benchmark's JSON
# ---------------------------------------------------------------------------------------------

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

    def __init__(self, bench: BenchSession, datasets: DatasetLoader, calibration: float,
                 shared: Path, show_progress: Callable[[], contextlib.AbstractContextManager]
                 ) -> None:
        self.bench, self.profile, self.datasets = bench, bench.profile, datasets
        self.calibration, self.shared, self.show_progress = calibration, shared, show_progress
        self.cache: dict[str, ExperimentRun] = {}

    def _saved(self, name: str) -> Path:
        return self.shared / f"trained-{self.profile.name}-{name}.pt"

    def __call__(self, name: str) -> ExperimentRun:
        if name not in self.cache:
            experiment = self.profile.experiment(name)
            if self.bench.backend == "ray":
                with file_lock(self.shared / f"trained-{self.profile.name}-ray"):
                    if not self._saved(name).exists():
                        self._train_all_on_ray()
            saved = self._saved(name)
            with file_lock(saved):
                if saved.exists():
                    results, sizes = torch.load(saved, weights_only=False)
                    # --seeds auto: the seeds the worker that trained it took
                    experiment = replace(experiment, seeds=tuple(sorted({r.seed
                                                                         for r in results})))
                    epochs, summary = self._tables(experiment, results, sizes)
                else:
                    experiment, done = self._train(experiment)
                    results, sizes = shards.ordered_results(experiment, done)
                    torch.save((results, sizes), saved)
                    epochs, summary = self._tables(experiment, results, sizes)
                    self._report(epochs, summary, done)
            self.cache[name] = ExperimentRun(experiment, results, epochs, summary)
        return self.cache[name]

    def _train(self, experiment: Experiment) -> tuple[Experiment, list[shards.PartResult]]:
        """Train ``experiment`` here: (the experiment with the seeds trained, its parts)."""
        dataset = self.datasets(experiment.dataset)
        if self.bench.auto:
            return self._train_until_decided(experiment, dataset)
        total = len(experiment.inits) * len(experiment.seeds) * experiment.config.epochs
        shard = self.bench.shard
        with self.show_progress(), tqdm(total=total, unit="model-epoch",
                                        desc=f"train {experiment.name}", leave=False) as bar:
            return experiment, [shards.train_part(shard.name if shard else "local", experiment,
                                                  dataset, bar)]

    def _train_until_decided(self, experiment: Experiment, dataset: data.Dataset
                             ) -> tuple[Experiment, list[shards.PartResult]]:
        """``--seeds auto``: grids of the experiment's seed count until its comparisons are
        decided against the profile's board, or --max-seeds are trained (the loop of
        ``initcore run``: :func:`initcore.runs.until_decided`); one line per look."""
        budget = len(experiment.inits) * self.bench.max_seeds * experiment.config.epochs
        with self.show_progress(), tqdm(total=budget, unit="model-epoch",
                                        desc=f"train {experiment.name} (seeds auto)",
                                        leave=False) as bar:
            trained, parts, _ = runs.until_decided(
                experiment, dataset, bar, max_seeds=self.bench.max_seeds,
                comparisons=self.bench.comparisons(),
                report=lambda line: bar.write(f"{experiment.name}: {line}", file=sys.stderr))
        return trained, parts

    def _train_all_on_ray(self) -> None:
        """Every experiment of the profile, its shards as Ray tasks; each experiment's results
        saved for the other workers and its rows reported."""
        experiments = self.profile.experiments
        total = sum(len(e.inits) * len(e.seeds) * e.config.epochs for e in experiments)
        with self.show_progress(), tqdm(total=total, unit="model-epoch", desc="train on Ray",
                                        leave=False) as bar:
            def finished(shard: shards.Shard, parts: list[shards.PartResult]) -> None:
                bar.update(sum(len(p.results) * p.part.config.epochs for p in parts))

            try:
                done = runs.train(experiments, self.datasets, bar,
                                  ray=runs.ray_options(self.bench.get), get=self.bench.get,
                                  finished=finished)
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
                            f"{self.bench.run_dir} (incomplete)",
                            returncode=pytest.ExitCode.INTERRUPTED)
        for experiment in experiments:
            mine = [d for d in done if d.part.name == experiment.name]
            results, sizes = shards.ordered_results(experiment, mine)
            torch.save((results, sizes), self._saved(experiment.name))
            self._report(*self._tables(experiment, results, sizes), mine)

    def _tables(self, experiment: Experiment, results: list[RunResult], sizes: list[int]
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The experiment's per-epoch and summary tables (:func:`initcore.runs.tables`)."""
        return runs.tables(experiment, results, sizes, run_id=reports.shared_run_id(),
                           env=reports.environment(experiment.config.device),
                           model=self._model_name(experiment),
                           profile=self.bench.profile_name, calibration=self.calibration)

    def _model_name(self, experiment: Experiment) -> str:
        dataset = self.datasets(experiment.dataset)
        return experiment.config.model_name(dataset.n_features, dataset.n_classes)

    def _report(self, epochs: pd.DataFrame, summary: pd.DataFrame,
                done: list[shards.PartResult]) -> None:
        """Append the experiment's rows to the run folder's tables; the history gets the
        summary when the session ends and the folder is complete. A write that fails (a full
        disk) ends the session in one line naming where the trained results are kept, not as
        a fixture error charged to the first test that asked."""
        scaled = self.bench.shard is not None or self.bench.backend == "ray"
        try:
            runs.write_rows(self.bench.run_dir, epochs, summary, done if scaled else None)
        except (OSError, reports.ReportError) as e:  # the folder stays incomplete (no run.json)
            name = str(summary["experiment"].iloc[0])
            why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            pytest.exit(f"initcore: cannot write the reports of {name} in "
                        f"{self.bench.run_dir} ({why}); the trained results are kept in "
                        f"{self._saved(name)}", returncode=pytest.ExitCode.INTERRUPTED)
