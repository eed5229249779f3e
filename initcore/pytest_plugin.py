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

Options: :mod:`initcore.options` (declared once, for this plugin and the command line); each is
registered here as ``--initcore-NAME`` (it cannot collide with another project's option) and
by ``bench/conftest.py`` as ``--NAME``; the session reads them once
(:class:`initcore.session.BenchSession`). Disable the plugin with ``-p no:initcore``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from initcore import options  # the option table: no torch

# Every import of initcore below is inside a hook or fixture that runs only in bench sessions
# (or when a test asks for a bench fixture): those modules import torch, which this plugin must
# not load into every pytest session of every repository.

RUN_DIR_KEY = pytest.StashKey[Path]()  # this session's run folder (controller only)
JSON_KEY = pytest.StashKey[tuple[Path, Path]]()  # (pytest-benchmark's storage, final JSON path)
EXIT_KEY = pytest.StashKey[int]()  # the session's exit status, for pytest_unconfigure
REPORTED_KEY = pytest.StashKey[Path]()  # run folder this process reported into (no xdist)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Every option of ``pytest bench``, from the one table (:mod:`initcore.options`), under
    the prefix ``--initcore-`` in every session; the suite's ``bench/conftest.py`` adds the
    short forms (``--profile``, ``--seeds`` ...) where they cannot clash with a project's."""
    options.add_bench_options(parser.getgroup("initcore").addoption)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser,
                                  args: list[str]) -> None:
    """``pytest bench`` in a folder that has no ``bench``, or ``pytest --pyargs initcore.bench``:
    run the suite of the installed initcore (a clone's ``bench/``, or the ``initcore/bench`` a
    wheel ships), so a user can benchmark a scheme from a scratch folder."""
    local = "bench" in args and not Path("bench").exists()
    if local or SUITE_PACKAGE in args:
        suite = _installed_suite()
        if suite is not None:
            names = {SUITE_PACKAGE} | ({"bench"} if local else set())
            args[:] = [str(suite) if a in names else a for a in args]
            # pytest finds the initial conftests (the suite's, which adds the short option
            # names) from the paths it pre-parsed: point those at the suite too.
            paths = early_config.known_args_namespace.file_or_dir
            early_config.known_args_namespace.file_or_dir = [
                str(suite) if p in names else p for p in paths]


SUITE_PACKAGE = "initcore.bench"  # the suite as the wheel ships it (pyproject.toml)


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
    """Whether this session runs the benchmark suite: an argument names a ``bench`` folder, or
    a profile other than the default is asked for."""
    return any("bench" in Path(arg).parts for arg in config.args) or \
        options.bench_getter(config)("profile") != "smoke"


def _is_xdist_worker(config: pytest.Config) -> bool:
    """True in a pytest-xdist worker of this session. Asked of the session's config (xdist gives
    its workers ``config.workerinput``), not of the environment: a ``pytest bench`` started as a
    child process by a test running in an xdist worker inherits PYTEST_XDIST_WORKER, yet is a
    session of its own and must write its own report folder."""
    return hasattr(config, "workerinput")


@pytest.hookimpl(tryfirst=True)  # before pytest-benchmark reads --benchmark-json
def pytest_configure(config: pytest.Config) -> None:
    if not is_bench_session(config):
        return
    from initcore import session  # bench sessions only: imports torch

    session.load_user_schemes(config)  # every process: the workers collect the tests too
    bench = session.BenchSession.of(config)  # every option read and checked, once
    if _is_xdist_worker(config):
        return

    folder, benchmark_json = bench.start()
    config.stash[RUN_DIR_KEY] = folder
    if benchmark_json is not None:
        config.stash[JSON_KEY] = benchmark_json


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[EXIT_KEY] = exitstatus
    folder = session.config.stash.get(RUN_DIR_KEY, None)
    if folder is not None and folder.is_dir():  # the controller, after the last test
        from initcore import costs
        from initcore import session as bench_session

        bench_session.BenchSession.of(session.config).write_leaderboard(folder)
        bench_session.write_markdown(session.config, folder)
        bench = bench_session.BenchSession.of(session.config)  # actual against planned
        costs.record(folder, bench.profile.experiments, bench.report_dir)


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = config.stash.get(RUN_DIR_KEY, None)
    if folder is None:
        return  # not a bench session's controller: nothing to finish
    from initcore import session  # bench sessions only (see pytest_configure)

    storage, target = config.stash.get(JSON_KEY, (None, None))
    if storage is not None:
        session.save_benchmark_json(storage, target)
    session.BenchSession.of(config).finish(folder, config.stash.get(EXIT_KEY, None))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In a shard session (--shard i/n): the regression gate is skipped (it judges the merged
    report: `initcore merge`, then `initcore compare`), and the profile-wide tests, those that
    train nothing of the profile's grid, run in shard 1 only."""
    if not is_bench_session(config):
        return
    from initcore import session  # a bench session: torch is loaded already

    shard = session.BenchSession.of(config).shard
    if shard is None:
        return
    index = str(shard.index)
    gate = pytest.mark.skip(reason="shard session: the merged report is judged by "
                                   "`initcore merge` + `initcore compare`")
    wide = pytest.mark.skip(reason=f"profile-wide test: runs in shard 1, this is shard "
                                   f"{shard.index}/{shard.count}")
    grid_fixtures = {"trained", "cell", "baseline_cell", "experiment_name"}
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if "baseline_table" in names:
            item.add_marker(gate)
        elif index != "1" and not names & grid_fixtures:
            item.add_marker(wide)


def pytest_report_collectionfinish(config: pytest.Config, items: list[pytest.Item]
                                   ) -> list[str]:
    """``pytest bench --collect-only``: the plan of what the session would train (this shard's
    parts under --shard): model-epochs and predicted time per experiment (initcore.costs)."""
    if not (config.option.collectonly and is_bench_session(config)) or _is_xdist_worker(config):
        return []
    from initcore import costs, session  # a bench session: torch is loaded already

    bench = session.BenchSession.of(config)
    return costs.plan_lines(bench.profile.experiments, bench.report_dir)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    folder = config.stash.get(RUN_DIR_KEY, None) or config.stash.get(REPORTED_KEY, None)
    if folder is None or _is_xdist_worker(config):
        return
    from initcore import session  # a bench session's controller only

    found = session.summary_lines(folder, options.bench_getter(config)("profile"))
    if found is None:
        return
    title, lines = found
    terminalreporter.section(title)
    for line in lines:
        terminalreporter.write_line(line)
    from initcore import costs

    for line in costs.record_lines(folder):  # training time, actual against planned
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
def bench_session(pytestconfig: pytest.Config):
    """The initcore.session.BenchSession: every bench option, read once (``.data_dir``,
    ``.device``, ``.run_dir``, ``.baseline_dir``, ``.update_baseline`` ...)."""
    from initcore import session

    return session.BenchSession.of(pytestconfig)


@pytest.fixture(scope="session")
def profile(pytestconfig: pytest.Config):
    """The initcore.experiments.Profile of --profile, with --seeds and --device applied."""
    from initcore import session

    return session.profile_from(pytestconfig)


@pytest.fixture(scope="session")
def dataset_loader(pytestconfig: pytest.Config):
    """dataset name -> initcore.data.Dataset, loaded once; bad data ends the session in one line."""
    from initcore import session

    bench = session.BenchSession.of(pytestconfig)
    return session.DatasetLoader(bench.data_dir, bench.download)


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
    if _is_xdist_worker(pytestconfig):
        shared = shared.parent  # the folder all workers of this session share
    else:
        pytestconfig.stash[REPORTED_KEY] = session.run_dir(pytestconfig)
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")

    def show_progress() -> contextlib.AbstractContextManager:
        """The progress bar writes to the terminal: suspend pytest's output capture."""
        return capture.global_and_fixture_disabled() if capture else contextlib.nullcontext()

    return session.TrainedExperiments(session.BenchSession.of(pytestconfig), dataset_loader,
                                      calibration, shared, show_progress)
