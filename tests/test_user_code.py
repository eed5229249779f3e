"""Users' code (issue 19, groups 6 and 7): the signatures users write are accepted
(``f(weight, generator=None)``, ``torch.nn.init`` functions), a user's import or call that
blocks is stopped with one line, and a scheme is checked on the architectures it will be
trained on -- dtype, NaN on wide layers, determinism per seed, the global RNG -- with one rule
for a user's scheme that takes a built-in's name.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from test_plugins import fake_installed_package, initcore_list

import initcore
from initcore import cli, initializers
from initcore.train import Recipe

# Settings by their names (the modules that define them are imported by the tests that use
# them, so that each test of this file fails on its own against code without them).
TIMEOUT_ENV, REPLACE_ENV = "INITCORE_USER_CODE_TIMEOUT", "INITCORE_REPLACE_BUILTIN"


def check_scheme(name: str, architectures=None) -> None:
    from initcore.user_schemes import check_scheme as check

    check(name, architectures)


def architectures_of(configs):
    from initcore.user_schemes import architectures_of as archs

    return archs(configs)

TINY = ["--hidden", "8", "--epochs", "1", "--seeds", "1"]


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``user_module(source) -> name``: a module of the user's in the current folder, imported
    under a unique name; every scheme it registered is removed afterwards."""
    monkeypatch.chdir(tmp_path)
    before = set(initializers.list_initializers())
    made: list[str] = []

    def make(source: str) -> str:
        name = f"user_code_{os.getpid()}_{len(made)}_{abs(hash(tmp_path)) % 10**8}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        made.append(name)
        return name

    yield make
    for added in set(initializers.list_initializers()) - before:
        initcore.unregister(added)
    for name in made:
        sys.modules.pop(name, None)


def run_cli(args: list[str], cwd: Path, env: dict | None = None, timeout: float = 240
            ) -> subprocess.CompletedProcess:
    """``initcore ARGS`` in a child process (a hang must fail the test, not block the suite)."""
    return subprocess.run([sys.executable, "-m", "initcore", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def one_line(proc: subprocess.CompletedProcess, words: str) -> None:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, f"exit {proc.returncode}: {proc.stderr[-1500:]}"
    assert lines and lines[-1].startswith("initcore: error: ") and words in lines[-1], \
        proc.stderr[-1500:]
    assert "Traceback" not in proc.stderr, proc.stderr[-1500:]


# ---------------------------------------------------------------------------------------------
# 6. Hangs: users' imports and calls have a time limit; counts have caps
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["import", "call"])
def test_blocking_user_scheme_stops_with_one_line(tmp_path: Path, where: str) -> None:
    (tmp_path / "sleepy.py").write_text(textwrap.dedent(f"""
        import time
        if {where == "import"!r}:
            time.sleep(10_000)

        def slow(weight, generator):
            time.sleep(10_000)
    """))
    proc = run_cli(["run", *TINY, "--init", "sleepy:slow", "--report-dir", "rep"], tmp_path,
                   {TIMEOUT_ENV: "2"}, timeout=120)
    one_line(proc, "did not finish within 2 s")
    assert TIMEOUT_ENV in proc.stderr, "the message says how to allow more"
    assert not (tmp_path / "rep").exists() or not list((tmp_path / "rep").iterdir())


def test_blocking_plugin_stops_list_with_one_line(tmp_path: Path) -> None:
    env = fake_installed_package(tmp_path, "toy = toy_initcore_plugin")
    plugin = tmp_path / "toy_initcore_plugin.py"
    plugin.write_text("import time\ntime.sleep(10_000)\n" + plugin.read_text())
    proc = subprocess.run([sys.executable, "-m", "initcore", "list"], capture_output=True,
                          text=True, timeout=120, env={**env, TIMEOUT_ENV: "2"})
    one_line(proc, "did not finish within 2 s")


def test_time_limit_restores_an_outer_alarm_and_lets_fast_code_through() -> None:
    from initcore import user_calls

    def outer(signum, frame):  # e.g. pytest-timeout's alarm
        raise AssertionError("the outer alarm must not fire during the test")

    previous = signal.signal(signal.SIGALRM, outer)
    signal.setitimer(signal.ITIMER_REAL, 60)
    try:
        with user_calls.time_limit("fast", 5):
            pass
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert signal.getsignal(signal.SIGALRM) is outer and 50 < left <= 60, left
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    with pytest.raises(user_calls.UserCodeTimeout, match="slow did not finish within 0.2 s"):
        with user_calls.time_limit("slow", 0.2):
            try:
                while True:
                    pass
            except Exception:  # user code that swallows everything cannot swallow the limit
                pass


@pytest.mark.parametrize("value", ["-1", "soon", "nan"])
def test_bad_timeout_setting_is_one_line(monkeypatch, value: str) -> None:
    from initcore import user_calls

    monkeypatch.setenv(TIMEOUT_ENV, value)
    with pytest.raises(ValueError, match=TIMEOUT_ENV):
        user_calls.timeout_seconds()


@pytest.mark.parametrize("option", ["--seeds", "--steps"])
def test_probe_huge_counts_refused_at_once(tmp_path: Path, option: str) -> None:
    proc = run_cli(["probe", "--depth", "2", "--width", "8", "--init", "zeros", option,
                    str(10**30), "--report-dir", "rep"], tmp_path, timeout=120)
    one_line(proc, option)


# ---------------------------------------------------------------------------------------------
# 7. Users' schemes
# ---------------------------------------------------------------------------------------------

def test_generator_as_keyword_with_default_is_accepted(user_scheme) -> None:
    @user_scheme("test_kw")
    def kw(weight, generator=None):
        torch.nn.init.normal_(weight, 0.0, 0.1, generator=generator)

    check_scheme("test_kw")
    a, b = (initializers.initialize(torch.nn.Linear(4, 3), "test_kw", 7) for _ in range(2))
    assert torch.equal(a.weight, b.weight), "same seed, same weights"


@pytest.mark.parametrize("function", ["orthogonal_", "kaiming_normal_", "xavier_uniform_",
                                      "trunc_normal_", "eye_"])
def test_torch_nn_init_functions_usable_directly(function: str) -> None:
    try:
        name = initializers.resolve(f"torch.nn.init:{function}")
        assert name == function
        check_scheme(name)
        model = initializers.initialize(torch.nn.Sequential(torch.nn.Linear(6, 4)), name, 0)
        reference = torch.empty(4, 6)
        call = getattr(torch.nn.init, function)
        if function == "eye_":
            call(reference)
        else:
            call(reference, generator=torch.Generator().manual_seed(0))
        assert torch.equal(model[0].weight, reference), "the function itself, with the seed"
    finally:
        if function in initializers.list_initializers():
            initcore.unregister(function)


def test_cli_run_with_torch_nn_init_function(workdir: Path, capsys, small_data,
                                             monkeypatch) -> None:
    monkeypatch.setattr("initcore.data.load", lambda *args, **kwargs: small_data)
    try:
        code = cli.main(["run", *TINY, "--init", "torch.nn.init:orthogonal_",
                         "--report-dir", str(workdir / "rep"), "--run-id", "t"])
        assert code == 0, capsys.readouterr().err
        assert "orthogonal_" in (workdir / "rep" / "t" / "summary.csv").read_text()
    finally:
        initcore.unregister("orthogonal_")


@pytest.mark.parametrize("body, words", [
    pytest.param("weight.data = weight.data.double()", "changed the dtype of 1.weight",
                 id="weight_dtype"),
    pytest.param("torch.set_default_dtype(torch.float64)", "default dtype", id="default_dtype"),
    pytest.param("weight.normal_()", "global random generator", id="global_rng"),
    pytest.param("weight.copy_(torch.randn(weight.shape, generator=torch.Generator()"
                 ".manual_seed(int(time.time_ns()))))", "not deterministic", id="nondeterministic"),
])
def test_bad_scheme_refused_in_one_line(user_module, capsys, body: str, words: str) -> None:
    module = user_module(f"""
        import time
        import torch

        def bad(weight, generator):
            {body}
    """)
    code = cli.main(["run", *TINY, "--init", f"{module}:bad", "--report-dir", "rep"])
    err = capsys.readouterr().err
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err
    assert torch.get_default_dtype() == torch.float32, "the default dtype is restored"
    assert not Path("rep").exists() or not list(Path("rep").iterdir())


def test_scheme_nan_on_wide_layers_caught_on_the_runs_architecture(user_module,
                                                                   capsys) -> None:
    """NaN only on layers wider than the 784-64-64-10 trial net: caught on the run's own
    --hidden before training, not as a traceback in the middle of it."""
    module = user_module("""
        def wide_nan(weight, generator):
            weight.normal_(0.0, 0.01, generator=generator)
            if weight.shape[0] > 100:
                weight.fill_(float("nan"))
    """)
    code = cli.main(["run", "--hidden", "256,128", "--epochs", "1", "--seeds", "1", "--init",
                     f"{module}:wide_nan", "--report-dir", "rep"])
    err = capsys.readouterr().err
    assert code == 2 and "left NaN or inf in 1.weight" in err and "784-256-128-10" in err, err
    with pytest.raises(ValueError, match="784-256-128-10"):
        check_scheme("wide_nan", architectures_of([Recipe(hidden=(256, 128))]))


def test_pytest_bench_checks_schemes_on_the_profiles_architectures(tmp_path: Path) -> None:
    (tmp_path / "widenan.py").write_text(textwrap.dedent("""
        def wide_nan(weight, generator):
            weight.normal_(0.0, 0.01, generator=generator)
            if weight.shape[0] > 100:
                weight.fill_(float("nan"))
    """))
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(root / "bench"), "-q", "-p", "no:cacheprovider",
         "--init", "widenan:wide_nan", "--report-dir", str(tmp_path / "rep")],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(tmp_path)})
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2 and "left NaN or inf" in output, output[-2000:]
    assert "Traceback" not in output, output[-2000:]


def test_builtin_name_taken_only_when_the_user_asks(user_module, monkeypatch) -> None:
    source = """
        import initcore

        @initcore.register("he_normal", "zeros", replace=True)
        def impostor(weight, generator):
            weight.zero_()
    """
    module = user_module(source)
    with pytest.raises(initcore.PluginError, match="would replace the built-in 'he_normal'"):
        initializers.resolve(f"{module}:impostor")
    assert initializers.get("he_normal").built_in, "the built-in stays"
    monkeypatch.setenv(REPLACE_ENV, "he_normal")
    original = initializers.get("he_normal")
    try:
        module = user_module(source)
        assert initializers.resolve(f"{module}:impostor") == "he_normal"
        scheme = initializers.get("he_normal")
        assert not scheme.built_in and scheme.origin.endswith(":impostor"), \
            "a replaced name is reported as the user's scheme, not as the built-in"
    finally:
        initializers.register_scheme(original, replace=True)


def test_plugin_taking_a_builtin_name_is_refused_everywhere(tmp_path: Path) -> None:
    """A plugin's ``register("he_normal", replace=True)``: before, `--init all` ran the
    plugin's function and `--init he_normal` the built-in, both reported as he_normal."""
    env = fake_installed_package(tmp_path, "toy = toy_initcore_plugin")
    plugin = tmp_path / "toy_initcore_plugin.py"
    plugin.write_text(plugin.read_text() + textwrap.dedent("""
        @initcore.register("he_normal", "zeros", replace=True)
        def impostor(weight, generator):
            weight.zero_()
    """))
    for args in (["list"], ["run", *TINY, "--init", "he_normal", "--report-dir", "r"]):
        proc = subprocess.run([sys.executable, "-m", "initcore", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=240)
        one_line(proc, "would replace the built-in 'he_normal'")
    asked = {**env, REPLACE_ENV: "he_normal"}
    proc = subprocess.run([sys.executable, "-m", "initcore", "list"], cwd=tmp_path, env=asked,
                          capture_output=True, text=True, timeout=240)
    line = [x for x in proc.stdout.splitlines() if x.split()[:1] == ["he_normal"]]
    assert proc.returncode == 0 and line and "toy_initcore_plugin:impostor" in line[0], \
        proc.stdout + proc.stderr


def test_broken_plugin_stops_a_run_of_a_builtin(tmp_path: Path) -> None:
    env = fake_installed_package(tmp_path, "broken = toy_initcore_plugin:does_not_exist")
    proc = subprocess.run([sys.executable, "-m", "initcore", "run", *TINY, "--init", "zeros",
                           "--report-dir", "r"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=240)
    one_line(proc, "entry point 'broken'")
    assert initcore_list({**env, "INITCORE_NO_PLUGINS": "1"}).returncode == 0
