"""pytest options shared by the benchmark suite (bench/) and the unit tests (tests/).

    pytest bench                                   smoke profile on the embedded mnist-5k
    pytest bench --profile seed --data-dir ../shared/data
    pytest bench --profile nightly --report-dir reports --run-id nightly-2026-11-29

The benchmark JSON of pytest-benchmark goes into the run's report folder as benchmark.json
unless the user routes it (--benchmark-json, --benchmark-save, --benchmark-autosave).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("initcore")
    group.addoption("--profile", default="smoke",
                    help="experiment profile: smoke (default), seed, nightly, deep")
    group.addoption("--data-dir", default=None,
                    help="folder holding MNIST/raw (default: $INITCORE_DATA_DIR or ./data)")
    group.addoption("--download", action="store_true", help="let torchvision download MNIST")
    group.addoption("--device", default="cpu", help="cpu (default) or cuda[:N]")
    group.addoption("--report-dir", default="reports", help="report folder (default: reports)")
    group.addoption("--run-id", default=None, help="run folder name (default: time-based)")
    group.addoption("--seeds", type=int, default=None,
                    help="override the profile's seed count (seeds 0..N-1)")
    group.addoption("--baseline-dir", default="reports/baseline",
                    help="committed baselines, one folder per profile (default reports/baseline)")
    group.addoption("--timing-regressions", action="store_true",
                    help="fail (not just warn) when calibrated throughput regresses vs baseline")
    group.addoption("--update-baseline", action="store_true",
                    help="write this run's summary as the profile's new baseline")
    group.addoption("--no-baseline", action="store_true",
                    help="skip the regression checks (reported as skipped) instead of failing "
                         "when the profile has no baseline")


def run_dir(config: pytest.Config) -> Path:
    """<report-dir>/<run-id>; the controller picks the id, xdist workers inherit it (env)."""
    from initcore.reports import shared_run_id

    return Path(config.getoption("report_dir")) / shared_run_id(config.getoption("run_id"))


def _is_bench_session(config: pytest.Config) -> bool:
    return any("bench" in Path(arg).parts for arg in config.args) or \
        config.getoption("profile") != "smoke"


@pytest.hookimpl(tryfirst=True)  # before pytest-benchmark reads --benchmark-json
def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER") or not _is_bench_session(config):
        return
    from initcore import profiles
    from initcore.reports import ReportError, check_new_run, claim_run_dir
    from initcore.train import check_device

    # Options checked here, not at collection (where pytest would report one error per module).
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
        claim_run_dir(check_new_run(folder.parent, folder.name))
        baseline = Path(config.getoption("baseline_dir"))
        if baseline.exists() and not baseline.is_dir():
            raise ReportError(f"--baseline-dir {baseline} is not a folder")
    except ReportError as e:
        raise pytest.UsageError(str(e)) from e
    config.stash[_RUN_DIR_KEY] = folder
    _route_benchmark_json(config, folder)


# pytest-benchmark options that say where its JSON goes; when the user sets none of them, the run
# folder receives it. Only documented command-line options are set, as strings, the same in every
# pytest-benchmark release (--benchmark-json changed from an open file to a path in 5.3).
_BENCHMARK_OUTPUTS = ("benchmark_json", "benchmark_save", "benchmark_autosave",
                      "benchmark_compare", "benchmark_compare_fail")
_JSON_KEY = pytest.StashKey[tuple[Path, Path]]()  # (pytest-benchmark's storage, final JSON path)
_RUN_DIR_KEY = pytest.StashKey[Path]()  # this session's run folder (controller only)
_EXIT_KEY = pytest.StashKey[int]()  # the session's exit status, for pytest_unconfigure


def _route_benchmark_json(config: pytest.Config, folder: Path) -> None:
    """Have pytest-benchmark save the run (with its timing data) into a private storage folder
    inside the run folder, as ``--benchmark-save=initcore --benchmark-save-data
    --benchmark-storage=<folder>/.benchmark-storage`` would; pytest_unconfigure moves the JSON to
    ``<folder>/benchmark.json``."""
    if not hasattr(config.option, "benchmark_save") or any(
            getattr(config.option, name, None) for name in _BENCHMARK_OUTPUTS):
        return  # pytest-benchmark absent, or the user routes its output themselves
    if config.option.benchmark_skip or config.option.collectonly:
        return  # no timing will run: no "Not saving anything" warning from pytest-benchmark
    storage = folder / ".benchmark-storage"
    config.option.benchmark_save = "initcore"
    config.option.benchmark_save_data = True
    config.option.benchmark_storage = f"file://{storage.resolve()}"
    config.stash[_JSON_KEY] = (storage, folder / "benchmark.json")


def _save_benchmark_json(config: pytest.Config) -> None:
    storage, target = config.stash.get(_JSON_KEY, (None, None))
    if storage is None:
        return
    saved = sorted(storage.glob("*/*_initcore.json"))  # <machine id>/<counter>_initcore.json
    if saved:
        os.replace(saved[-1], target)  # same file system: atomic, the JSON is whole or absent
    shutil.rmtree(storage, ignore_errors=True)  # no benchmark ran (e.g. under xdist): no file


def pytest_unconfigure(config: pytest.Config) -> None:
    _save_benchmark_json(config)
    folder = config.stash.get(_RUN_DIR_KEY, None)
    if folder is not None:
        _finish_run(config, folder)


def _finish_run(config: pytest.Config, folder: Path) -> None:
    """Mark the session's run folder complete (run.json, last) and only then append its summary
    to the history; a session that trained nothing leaves no folder, an interrupted one leaves
    its folder without run.json (incomplete)."""
    from initcore import reports

    status = config.stash.get(_EXIT_KEY, None)
    summary = folder / reports.SUMMARY_FILE
    if not any(p for p in folder.iterdir() if not p.name.startswith(".")):
        with contextlib.suppress(OSError):
            for lock in folder.glob(".*.lock"):
                lock.unlink()
            folder.rmdir()  # nothing was written (collect-only, usage error, -k none)
        return
    if status not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        return  # interrupted or broken: the folder stays incomplete (no run.json)
    reports.mark_complete(folder, profile=config.getoption("profile"), exitstatus=int(status))
    if summary.is_file():
        reports.append_history(reports.read_text_csv(summary),
                               folder.parent / reports.HISTORY_FILE)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[_EXIT_KEY] = exitstatus
