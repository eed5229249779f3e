"""Fixtures of the benchmark suite: the profile, its grids trained once per session, the reports.

Each experiment of the chosen profile is trained once per session (lazily, on first use) by the
grid trainer; every parametrized test then asserts on its own (experiment, init) cell, so an
accuracy test costs nothing to add. Under pytest-xdist the first worker to need an experiment
trains it under a file lock and saves it; the other workers load the saved copy.

Reports: after an experiment is trained its rows are appended (under a lock, in one write) to
``<report-dir>/<run-id>/epochs.csv`` and ``summary.csv``; when the session ends the folder gets
its ``run.json`` marker and only then is its summary appended to ``<report-dir>/history.csv``
(see the root conftest.py); a summary table is printed from those files.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import pytest
import torch
from filelock import FileLock

from initcore import data, initializers, profiles, reports
from initcore.grid import train_grid
from initcore.profiles import Experiment, Profile
from initcore.speed import matmul_gflops
from initcore.train import RunResult, TrainConfig


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


def profile_from(config: pytest.Config) -> Profile:
    try:
        profile = profiles.get(config.getoption("profile"))
    except ValueError as e:
        raise pytest.UsageError(str(e)) from e
    n_seeds = config.getoption("seeds")
    if n_seeds is not None:
        if n_seeds < 1:
            raise pytest.UsageError(f"--seeds must be >= 1, got {n_seeds}")
        experiments = tuple(replace(e, seeds=tuple(range(n_seeds))) for e in profile.experiments)
        profile = replace(profile, experiments=experiments)
    if config.getoption("device") != "cpu":
        experiments = tuple(replace(e, config=replace(e.config, device=config.getoption("device")))
                            for e in profile.experiments)
        profile = replace(profile, experiments=experiments)
    return profile


def bounded_cells(profile: Profile) -> list[tuple[str, str]]:
    """(experiment, init) pairs that have bounds in the profile."""
    return [(e.name, init) for e in profile.experiments for init in e.inits if init in e.bounds]


@pytest.fixture(scope="session")
def profile(pytestconfig: pytest.Config) -> Profile:
    return profile_from(pytestconfig)


@pytest.fixture(scope="session")
def dataset_loader(pytestconfig: pytest.Config):
    """dataset name -> initcore.data.Dataset, loaded once; bad data ends the session in one line."""
    cache: dict[str, data.Dataset] = {}

    def load(name: str) -> data.Dataset:
        if name not in cache:
            try:
                cache[name] = data.load(name, pytestconfig.getoption("data_dir"),
                                        pytestconfig.getoption("download"))
            except data.DataError as e:
                pytest.exit(f"initcore: {e}", returncode=2)
        return cache[name]

    return load


@pytest.fixture(scope="session")
def calibration() -> float:
    """fp32 matmul GFLOP/s of this machine, measured once in this run (for throughput ratios)."""
    return matmul_gflops()


@pytest.fixture(scope="session")
def trained(pytestconfig, profile, dataset_loader, calibration, tmp_path_factory):
    """experiment name -> ExperimentRun, trained once per session (shared across xdist workers)."""
    cache: dict[str, ExperimentRun] = {}
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the folder all workers of this session share

    def get(name: str) -> ExperimentRun:
        if name not in cache:
            experiment = profile.experiment(name)
            saved = shared / f"trained-{profile.name}-{name}.pt"
            with FileLock(str(saved) + ".lock"):
                if saved.exists():
                    results = torch.load(saved, weights_only=False)
                else:
                    results = _train(pytestconfig, experiment, dataset_loader)
                    torch.save(results, saved)
                    _report(pytestconfig, profile, experiment, results, calibration)
            cache[name] = _as_run(pytestconfig, experiment, results, calibration)
        return cache[name]

    return get


def _train(config, experiment: Experiment, dataset_loader) -> list[RunResult]:
    from tqdm import tqdm

    dataset = dataset_loader(experiment.dataset)
    total = len(experiment.inits) * len(experiment.seeds) * experiment.config.epochs
    capture = config.pluginmanager.getplugin("capturemanager")
    show = capture.global_and_fixture_disabled() if capture else contextlib.nullcontext()
    with show, tqdm(total=total, unit="model-epoch", desc=f"train {experiment.name}",
                    leave=False) as bar:
        return train_grid(experiment.inits, experiment.seeds, dataset, experiment.config, bar)


def _tables(config, experiment: Experiment, results, calibration: float):
    env = reports.environment(experiment.config.device)
    model = experiment.config.model_name()
    epochs = reports.epoch_table(results, run_id=reports.shared_run_id(),
                                 dataset=experiment.dataset, model=model, trainer="grid",
                                 grid_size=len(results), env=env)
    formulas = {name: initializers.get(name).formula for name in experiment.inits}
    summary = reports.summarize(epochs, formulas)
    for frame in (epochs, summary):
        frame.insert(1, "experiment", experiment.name)
        frame.insert(1, "profile", config.getoption("profile"))
    summary["matmul_gflops"] = calibration
    return epochs, summary


def _as_run(config, experiment, results, calibration) -> ExperimentRun:
    epochs, summary = _tables(config, experiment, results, calibration)
    return ExperimentRun(experiment, results, epochs, summary)


def _report(config, profile, experiment, results, calibration) -> None:
    """Append the experiment's rows to the run folder's tables (append-only, under their lock);
    the history gets the summary when the session ends and the folder is complete."""
    epochs, summary = _tables(config, experiment, results, calibration)
    folder = run_dir(config)
    reports.append_history(epochs, folder / reports.EPOCHS_FILE)
    reports.append_history(summary, folder / reports.SUMMARY_FILE)


def run_dir(config: pytest.Config) -> Path:
    return Path(config.getoption("report_dir")) / reports.shared_run_id(config.getoption("run_id"))


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    path = run_dir(config) / reports.SUMMARY_FILE
    if os.environ.get("PYTEST_XDIST_WORKER") or not path.exists():
        return
    summary = reports.load(path)
    terminalreporter.section(f"initcore summary ({config.getoption('profile')} profile)")
    for name, part in summary.groupby("experiment", sort=False):
        row = part.iloc[0]
        terminalreporter.write_line(f"{name}: {row['dataset']}, {row['model']}, "
                                    f"{int(part['epochs'].max())} epochs")
        terminalreporter.write_line(reports.format_summary(part.reset_index(drop=True)))
    terminalreporter.write_line(f"reports: {path.parent}")


__all__ = ["ExperimentRun", "TrainConfig", "bounded_cells", "profile_from"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize `cell` over the profile's bounded (experiment, init) pairs, `baseline_cell`
    over all its (experiment, init) pairs, `experiment_name` over its experiments; ids read like
    ``seed-recipe-init=he_normal``."""
    profile = profile_from(metafunc.config)
    if "cell" in metafunc.fixturenames:
        cells = bounded_cells(profile)
        metafunc.parametrize("cell", cells, ids=[f"{e}-init={i}" for e, i in cells])
    if "experiment_name" in metafunc.fixturenames:
        names = [e.name for e in profile.experiments]
        metafunc.parametrize("experiment_name", names, ids=names)
    if "baseline_cell" in metafunc.fixturenames:
        cells = [(e.name, i) for e in profile.experiments for i in e.inits]
        metafunc.parametrize("baseline_cell", cells, ids=[f"{e}-init={i}" for e, i in cells])
