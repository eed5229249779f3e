"""pytest options shared by the benchmark suite (bench/) and the unit tests (tests/).

    pytest bench                                   smoke profile on the embedded mnist-5k
    pytest bench --profile seed --data-dir ../shared/data
    pytest bench --profile nightly --report-dir reports --run-id nightly-2026-11-29

The benchmark JSON of pytest-benchmark goes into the run's report folder unless --benchmark-json
is given: it is written to a temporary file and renamed into place when pytest ends.
"""

from __future__ import annotations

import contextlib
import os
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
    config._initcore_run_dir = folder
    if hasattr(config.option, "benchmark_json") and config.option.benchmark_json is None:
        # pytest-benchmark < 5 takes an open file, >= 5 a path (it opens the file itself).
        tmp = folder / ".benchmark.json.tmp"
        config.option.benchmark_json = _benchmark_json_target(tmp)
        config._initcore_benchmark_json = folder / "benchmark.json"


def pytest_unconfigure(config: pytest.Config) -> None:
    _save_benchmark_json(config)
    folder = getattr(config, "_initcore_run_dir", None)
    if folder is not None:
        _finish_run(config, folder)


def _finish_run(config: pytest.Config, folder: Path) -> None:
    """Mark the session's run folder complete (run.json, last) and only then append its summary
    to the history; a session that trained nothing leaves no folder, an interrupted one leaves
    its folder without run.json (incomplete)."""
    from initcore import reports

    status = getattr(config, "_initcore_exitstatus", None)
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
    session.config._initcore_exitstatus = exitstatus


def _benchmark_json_target(tmp: Path):
    """What this pytest-benchmark's --benchmark-json holds: a path (>= 5) or an open file."""
    from importlib.metadata import version

    major = int(version("pytest-benchmark").split(".")[0])
    return tmp if major >= 5 else open(tmp, "wb")


def _save_benchmark_json(config: pytest.Config) -> None:
    target = getattr(config, "_initcore_benchmark_json", None)
    if target is None:
        return
    handle = config.option.benchmark_json
    if hasattr(handle, "close"):
        handle.close()
    tmp = handle if isinstance(handle, Path) else Path(handle.name)
    if tmp.exists() and tmp.stat().st_size > 0:
        os.replace(tmp, target)  # atomic: the JSON is there whole or not at all
    else:
        tmp.unlink(missing_ok=True)  # no benchmark ran (e.g. under xdist): no empty file
