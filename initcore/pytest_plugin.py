"""The pytest plugin of initcore (entry point ``pytest11``): options, hooks and fixtures of
``pytest bench``, in any repository where initcore is installed.

    pytest bench                                   smoke profile on the embedded mnist-5k
    pytest bench --profile seed --data-dir ../shared/data
    pytest bench --profile nightly --report-dir reports --run-id nightly-2026-11-29

Hooks and options only, as pytest-benchmark's plugin.py: the logic is :mod:`initcore.session`.
pytest loads this module in every session, so it stays light and inert: it imports no torch
and writes no file until a bench session uses it. A bench session is one whose arguments name a
``bench`` folder or that asks for a profile other than the default; in it the controller claims
the run folder, pytest-benchmark's JSON goes there as ``benchmark.json`` (unless the user routes
it with --benchmark-json, --benchmark-save or --benchmark-autosave), and the folder is marked
complete at the end. The fixtures (``profile``, ``dataset_loader``, ``calibration``,
``trained``) do their work only when a test asks for them.

Add an option in :func:`pytest_addoption` (group "initcore"); read it with
``config.getoption``. Disable the plugin with ``-p no:initcore``.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

# Every import of initcore below is inside a hook or fixture that runs only in bench sessions
# (or when a test asks for a bench fixture): those modules import torch, which this plugin must
# not load into every pytest session of every repository.

RUN_DIR_KEY = pytest.StashKey[Path]()  # this session's run folder (controller only)
JSON_KEY = pytest.StashKey[tuple[Path, Path]]()  # (pytest-benchmark's storage, final JSON path)
EXIT_KEY = pytest.StashKey[int]()  # the session's exit status, for pytest_unconfigure
REPORTED_KEY = pytest.StashKey[Path]()  # run folder this process reported into (no xdist)


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
    group.addoption("--baseline-dir", default="reports/baseline",  # session.DEFAULT_BASELINE_DIR
                    help="committed baselines, one folder per profile (default reports/baseline)")
    group.addoption("--timing-regressions", action="store_true",
                    help="fail (not just warn) when calibrated throughput regresses vs baseline")
    group.addoption("--update-baseline", action="store_true",
                    help="write this run's summary as the profile's new baseline")
    group.addoption("--no-baseline", action="store_true",
                    help="skip the regression checks (reported as skipped) instead of failing "
                         "when the profile has no baseline")
    group.addoption("--init", nargs="+", default=[], metavar="REF",
                    help="schemes of your own, package.module:function: trained in every "
                         "experiment of the profile, tested and ranked (leaderboard.csv)")
    group.addoption("--shard", default=None, metavar="I/N",
                    help="train and check only shard I of N of the profile; merge the N run "
                         "folders with `initcore merge`, then `initcore compare` them")
    group.addoption("--backend", choices=("local", "ray"), default="local",
                    help="local (default): train here; ray: every shard of the profile a Ray "
                         "task, the reports written here")
    group.addoption("--ray-address", default=None, metavar="ADDR",
                    help="Ray cluster to join (default: start Ray on this machine)")
    group.addoption("--shards", type=int, default=None, metavar="N",
                    help="with --backend ray: number of shards (default: one per task slot)")
    group.addoption("--cpus-per-shard", type=int, default=1, metavar="C",
                    help="with --backend ray: CPUs (and torch threads) per task (default 1)")
    group.addoption("--markdown", default=None, metavar="FILE",
                    help="write the run's verdicts (cells judged, regressions, leaderboard) as "
                         "markdown to FILE; under GitHub Actions they are appended to "
                         "$GITHUB_STEP_SUMMARY")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser,
                                  args: list[str]) -> None:
    """``pytest bench`` in a folder that has no ``bench``: run the suite of the installed
    initcore (a clone's ``bench/``, or the ``initcore/bench`` a wheel ships), so a user can
    benchmark a scheme from a scratch folder."""
    if "bench" in args and not Path("bench").exists():
        suite = _installed_suite()
        if suite is not None:
            args[args.index("bench")] = str(suite)


def _installed_suite() -> Path | None:
    """The installed benchmark suite: ``bench`` beside the initcore package (a clone installed
    with ``pip install -e``), else ``initcore/bench`` inside it (a wheel); None if neither."""
    import importlib.util  # the spec only: initcore's modules (and torch) are not imported

    spec = importlib.util.find_spec("initcore")
    if spec is None or spec.origin is None:
        return None
    package = Path(spec.origin).resolve().parent
    for suite in (package.parent / "bench", package / "bench"):
        if (suite / "conftest.py").is_file():
            return suite
    return None


def is_bench_session(config: pytest.Config) -> bool:
    """Whether this session runs the benchmark suite: an argument names a ``bench`` folder (or
    the package ``initcore.bench``, with ``--pyargs``), or a profile other than the default is
    asked for."""
    return any("bench" in Path(arg).parts or arg.split("::")[0].startswith("initcore.bench")
               for arg in config.args) or config.getoption("profile") != "smoke"


def _is_xdist_worker() -> bool:
    return bool(os.environ.get("PYTEST_XDIST_WORKER"))


@pytest.hookimpl(tryfirst=True)  # before pytest-benchmark reads --benchmark-json
def pytest_configure(config: pytest.Config) -> None:
    if not is_bench_session(config):
        return
    from initcore import session  # bench sessions only: imports torch

    session.load_user_schemes(config)  # every process: the workers collect the tests too
    if _is_xdist_worker():
        return

    folder, benchmark_json = session.start(config)
    config.stash[RUN_DIR_KEY] = folder
    if benchmark_json is not None:
        config.stash[JSON_KEY] = benchmark_json


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[EXIT_KEY] = exitstatus
    folder = session.config.stash.get(RUN_DIR_KEY, None)
    if folder is not None and folder.is_dir():  # the controller, after the last test
        from initcore import session as bench_session

        bench_session.write_leaderboard(folder)
        bench_session.write_markdown(session.config, folder)


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = config.stash.get(RUN_DIR_KEY, None)
    if folder is None:
        return  # not a bench session's controller: nothing to finish
    from initcore import session  # bench sessions only (see pytest_configure)

    storage, target = config.stash.get(JSON_KEY, (None, None))
    if storage is not None:
        session.save_benchmark_json(storage, target)
    try:  # each experiment's recipe, for run.json (none if the options were refused)
        profile = session.profile_from(config)
        recipes = {e.name: e.config.as_dict() for e in profile.experiments}
    except pytest.UsageError:
        recipes = {}
    session.finish(folder, config.getoption("profile"), config.stash.get(EXIT_KEY, None),
                   {"recipes": recipes, **session.shard_info(config)})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In a shard session (--shard i/n): the regression gate is skipped (it judges the merged
    report: `initcore merge`, then `initcore compare`), and the profile-wide tests, those that
    train nothing of the profile's grid, run in shard 1 only."""
    shard = config.getoption("shard")
    if shard is None or not is_bench_session(config):
        return
    index = shard.split("/")[0].strip()
    gate = pytest.mark.skip(reason="shard session: the merged report is judged by "
                                   "`initcore merge` + `initcore compare`")
    wide = pytest.mark.skip(reason=f"profile-wide test: runs in shard 1, this is shard {shard}")
    grid_fixtures = {"trained", "cell", "baseline_cell", "experiment_name"}
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if "baseline_table" in names:
            item.add_marker(gate)
        elif index != "1" and not names & grid_fixtures:
            item.add_marker(wide)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    folder = config.stash.get(RUN_DIR_KEY, None) or config.stash.get(REPORTED_KEY, None)
    if folder is None or _is_xdist_worker():
        return
    from initcore import session  # a bench session's controller only

    found = session.summary_lines(folder, config.getoption("profile"))
    if found is None:
        return
    title, lines = found
    terminalreporter.section(title)
    for line in lines:
        terminalreporter.write_line(line)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize `cell` over the profile's bounded (experiment, init) pairs, `open_cell` over
    the unbounded ones, `baseline_cell` over all its (experiment, init) pairs, `experiment_name`
    over its experiments, `claim` over the (scheme, claim) pairs of the schemes it trains; ids
    read like ``seed-recipe-init=he_normal``. Only tests that ask for one of these names are
    touched."""
    wanted = {"cell", "experiment_name", "baseline_cell", "open_cell", "claim"} & set(
        metafunc.fixturenames)
    if not wanted:
        return
    from initcore import session  # a test of the benchmark suite asked: imports torch

    profile = session.profile_from(metafunc.config)
    if "cell" in wanted:
        cells = session.bounded_cells(profile)
        metafunc.parametrize("cell", cells, ids=[f"{e}-init={i}" for e, i in cells])
    if "experiment_name" in wanted:
        names = [e.name for e in profile.experiments]
        metafunc.parametrize("experiment_name", names, ids=names)
    if "baseline_cell" in wanted:
        cells = session.all_cells(profile)
        metafunc.parametrize("baseline_cell", cells, ids=[f"{e}-init={i}" for e, i in cells])
    if "open_cell" in wanted:
        cells = session.unbounded_cells(profile)
        metafunc.parametrize("open_cell", cells, ids=[f"{e}-init={i}" for e, i in cells])
    if "claim" in wanted:
        claims = session.claims(profile)
        metafunc.parametrize("claim", claims, ids=[f"{n}-{c}".replace(" ", "_")
                                                   for n, c in claims])


# ---------------------------------------------------------------------------------------------
# Fixtures (torch is imported when a test first asks for one)
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def profile(pytestconfig: pytest.Config):
    """The initcore.experiments.Profile of --profile, with --seeds and --device applied."""
    from initcore import session

    return session.profile_from(pytestconfig)


@pytest.fixture(scope="session")
def dataset_loader(pytestconfig: pytest.Config):
    """dataset name -> initcore.data.Dataset, loaded once; bad data ends the session in one line."""
    from initcore import session

    return session.DatasetLoader(pytestconfig.getoption("data_dir"),
                                 pytestconfig.getoption("download"))


@pytest.fixture(scope="session")
def calibration() -> float:
    """fp32 matmul GFLOP/s of this machine, measured once in this run (for throughput ratios)."""
    from initcore.speed import matmul_gflops

    return matmul_gflops()


@pytest.fixture(scope="session")
def trained(pytestconfig, profile, dataset_loader, calibration, tmp_path_factory):
    """experiment name -> initcore.session.ExperimentRun, trained once per session (shared
    across xdist workers)."""
    from initcore import session

    shared = tmp_path_factory.getbasetemp()
    if _is_xdist_worker():
        shared = shared.parent  # the folder all workers of this session share
    else:
        pytestconfig.stash[REPORTED_KEY] = session.run_dir(pytestconfig)
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")

    def show_progress() -> contextlib.AbstractContextManager:
        """The progress bar writes to the terminal: suspend pytest's output capture."""
        return capture.global_and_fixture_disabled() if capture else contextlib.nullcontext()

    return session.TrainedExperiments(pytestconfig, profile, dataset_loader, calibration, shared,
                                      show_progress)
