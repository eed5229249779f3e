"""A scheme of one's own: the public registry API (``initcore.register``), ``--init
package.module:function``, the entry-point group ``initcore.initializers``, and the checks that
turn a broken scheme into one line and exit status 2 (README "Benchmark your own initializer")."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import initcore
from initcore import cli, initializers
from initcore.models import MLP
from initcore.train import check_scheme

MY_MODULE = '''
import initcore


@initcore.register("{name}", "N(0, 1.5/fan_in)",
                   claims=[initcore.not_worse_than("he_normal", "seed-recipe")])
def my_init(weight, generator):
    fan_in = weight.shape[1]
    weight.normal_(0.0, (1.5 / fan_in) ** 0.5, generator=generator)


def plain(weight, generator):
    """U(-0.05, 0.05)"""
    weight.uniform_(-0.05, 0.05, generator=generator)


def wrong(weight, *, scale):
    pass


def nan_maker(weight, generator):
    weight.fill_(float("nan"))


def resizer(weight, generator):
    weight.data = weight.data[:3, :3].clone()


def raiser(weight, generator):
    raise RuntimeError("boom")
'''


@pytest.fixture
def module_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A scratch folder (the current one) holding a user's module, imported under a name unique
    to the test; every scheme it registered is removed afterwards."""
    name = f"user_schemes_{os.getpid()}_{abs(hash(tmp_path)) % 10**8}"
    (tmp_path / f"{name}.py").write_text(MY_MODULE.replace("{name}", f"{name}_my"))
    monkeypatch.chdir(tmp_path)
    before = set(initializers.list_initializers())
    yield tmp_path, name
    for added in set(initializers.list_initializers()) - before:
        initcore.unregister(added)
    sys.modules.pop(name, None)


# ---------------------------------------------------------------------------------------------
# initcore.register
# ---------------------------------------------------------------------------------------------

def test_import_initcore_loads_no_torch() -> None:
    """The public names load on first use: the pytest plugin imports the package in every
    pytest session of every repository, and must not drag torch in."""
    code = "import sys, initcore; assert 'torch' not in sys.modules; initcore.register; " \
           "assert 'torch' in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_register_per_layer_scheme(user_scheme) -> None:
    def half_he(weight, generator):
        torch.nn.init.normal_(weight, 0.0, (1.0 / weight.shape[1]) ** 0.5, generator=generator)

    returned = user_scheme("test_half_he", "N(0, 1/fan_in)")(half_he)
    assert returned is half_he, "the decorator must return the function unchanged"
    scheme = initcore.get("test_half_he")
    assert (scheme.formula, scheme.bias, scheme.needs_data) == ("N(0, 1/fan_in)", "zeros", False)
    assert not scheme.built_in and scheme.origin.endswith(":test_register_per_layer_scheme."
                                                           "<locals>.half_he")
    assert "test_half_he" in initcore.list_initializers()
    model = MLP([784, 512, 10])
    for layer in model.children():
        if isinstance(layer, torch.nn.Linear):
            torch.nn.init.constant_(layer.bias, 3.0)
    scheme(model, torch.Generator().manual_seed(0))
    first = model[1]
    assert abs(first.weight.var().item() * 784 - 1) < 0.02, "the function drew every weight"
    assert torch.count_nonzero(first.bias) == 0, "bias rule 'zeros' applied"


def test_register_model_scheme_with_data_and_claims(user_scheme) -> None:
    seen = {}

    def data_scaled(model, generator, data):
        seen["rows"] = data.shape[0]
        for layer in initializers.linear_layers(model):
            torch.nn.init.orthogonal_(layer.weight, generator=generator)

    claim = initcore.not_worse_than("he_normal", "deep-relu-short")
    user_scheme("test_data_scaled", "orthogonal", needs_data=True, claims=[claim])(data_scaled)
    scheme = initcore.get("test_data_scaled")
    assert scheme.needs_data and scheme.bias == "set by the scheme"
    assert scheme.claims == (claim,) and str(claim) == "not worse than he_normal on deep-relu-short"
    with pytest.raises(ValueError, match="needs training data"):
        scheme(MLP([784, 8, 10]), torch.Generator())
    scheme(MLP([784, 8, 10]), torch.Generator(), torch.zeros(5, 784))
    assert seen["rows"] == 5


def test_register_formula_defaults_to_docstring(user_scheme) -> None:
    def docstring_only(weight, generator):
        """U(-0.1, 0.1), the first line.

        More text."""
        weight.uniform_(-0.1, 0.1, generator=generator)

    user_scheme("test_docstring_only")(docstring_only)
    assert initcore.get("test_docstring_only").formula == "U(-0.1, 0.1), the first line."


@pytest.mark.parametrize("fn,match", [
    (lambda w, *, scale: None, "wrong signature"),  # a required keyword (f(w) is accepted:
    # torch.nn.init.zeros_, eye_ ...; tests/test_user_code.py)
    (lambda w, g, d, extra: None, "wrong signature"),
    (lambda *args: None, "wrong signature"),
    (42, "is not a function"),
])
def test_register_refuses_wrong_signatures(fn, match) -> None:
    with pytest.raises(ValueError, match=match):
        initcore.register("test_wrong")(fn)
    assert "test_wrong" not in initializers.list_initializers()


def test_register_refuses_taken_names_and_data_per_layer(user_scheme) -> None:
    with pytest.raises(ValueError, match="already registered"):
        initcore.register("he_normal")(lambda w, g: None)
    with pytest.raises(ValueError, match="already registered"):
        initcore.register("kaiming_normal")(lambda w, g: None)  # an alias is taken too
    with pytest.raises(ValueError, match="needs data must take"):
        initcore.register("test_needs", needs_data=True)(lambda w, g: None)
    with pytest.raises(ValueError, match="kind"):
        initializers.Claim("faster_than", "seed-recipe", other="he_normal")
    with pytest.raises(ValueError, match="min_acc or max_acc"):
        initcore.accuracy("seed-recipe")


# ---------------------------------------------------------------------------------------------
# Checks on a scheme from outside initcore
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fn,match", [
    (lambda w, g: w.fill_(math.nan), "left NaN or inf in 1.weight"),
    (lambda w, g: setattr(w, "data", w.data[:3, :3].clone()), "changed the shape of 1.weight"),
    (lambda w, g: 1 / 0, "failed on a 784-64-64-10 MLP: ZeroDivisionError"),
])
def test_check_scheme_catches_broken_schemes(fn, match, user_scheme) -> None:
    user_scheme("test_broken", "broken")(fn)
    with pytest.raises(ValueError, match=match):
        check_scheme("test_broken")


def test_check_scheme_passes_good_ones() -> None:
    for name in ("he_normal", "lsuv", "zeros"):
        check_scheme(name)


# ---------------------------------------------------------------------------------------------
# --init package.module:function
# ---------------------------------------------------------------------------------------------

def test_resolve_reference_registered_by_decorator(module_dir) -> None:
    _, module = module_dir
    assert initializers.resolve(f"{module}:my_init") == f"{module}_my"
    assert initializers.resolve(f"{module}:my_init") == f"{module}_my", "twice: same scheme"


def test_resolve_reference_plain_function(module_dir) -> None:
    _, module = module_dir
    assert initializers.resolve(f"{module}:plain") == "plain"
    scheme = initcore.get("plain")
    assert scheme.formula == "U(-0.05, 0.05)" and scheme.origin == f"{module}:plain"


@pytest.mark.parametrize("reference,match", [
    ("nomodule_xyz:fn", "cannot import 'nomodule_xyz' .ModuleNotFoundError"),
    ("{module}:missing", "has no 'missing'"),
    ("{module}:wrong", r"wrong\(weight, scale\) has the wrong signature"),
    (":fn", "expected package.module:function"),
])
def test_resolve_bad_references(module_dir, reference, match) -> None:
    _, module = module_dir
    with pytest.raises(initcore.PluginError, match=match):
        initializers.resolve(reference.format(module=module))


@pytest.mark.parametrize("function,message", [
    ("nan_maker", "initializer 'nan_maker' left NaN or inf in 1.weight"),
    ("resizer", "initializer 'resizer' changed the shape of 1.weight"),
    ("raiser", "initializer 'raiser' failed on a 784-64-64-10 MLP: RuntimeError: boom"),
    ("wrong", "wrong(weight, scale) has the wrong signature"),
])
def test_cli_run_bad_scheme_is_one_line_exit_2(module_dir, capsys, function, message) -> None:
    folder, module = module_dir
    status = cli.main(["run", "--init", f"{module}:{function}", "--seeds", "1", "--epochs", "1",
                       "--report-dir", str(folder / "reports")])
    err = capsys.readouterr().err
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (folder / "reports").exists() or not any((folder / "reports").iterdir()), \
        "nothing may be written for a refused run"


def test_cli_run_user_scheme_beside_he(module_dir, capsys, small_data, monkeypatch) -> None:
    """`initcore run --init mymodule:my_init he_normal`, from the folder holding the module."""
    folder, module = module_dir
    monkeypatch.setattr("initcore.data.load", lambda *args, **kwargs: small_data)
    status = cli.main(["run", "--init", f"{module}:my_init", "he_normal", "--seeds", "2",
                       "--epochs", "1", "--hidden", "32", "--report-dir", str(folder / "r"),
                       "--run-id", "mine"])
    out = capsys.readouterr().out
    assert status == 0, out
    summary = (folder / "r" / "mine" / "summary.csv").read_text()
    assert f"{module}_my" in summary and "he_normal" in summary
    assert "N(0, 1.5/fan_in)" in summary, "the user's formula is recorded with its rows"


# ---------------------------------------------------------------------------------------------
# Entry points (an installed package), checked in a child process as a user sees them
# ---------------------------------------------------------------------------------------------

def fake_installed_package(where: Path, entry: str) -> dict[str, str]:
    """A distribution as pip leaves it on sys.path (a module and its ``.dist-info`` with
    ``entry_points.txt``), without running pip: the environment for a child process."""
    (where / "toy_initcore_plugin.py").write_text(textwrap.dedent('''
        import initcore

        @initcore.register("toy_scaled_he", "N(0, 2.5/fan_in)")
        def scaled_he(weight, generator):
            weight.normal_(0.0, (2.5 / weight.shape[1]) ** 0.5, generator=generator)

        def unregistered(weight, generator):
            """U(-0.01, 0.01)"""
            weight.uniform_(-0.01, 0.01, generator=generator)
    '''))
    info = where / "toy_initcore_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-initcore-plugin\n"
                                   "Version: 0.1\n")
    (info / "entry_points.txt").write_text(f"[initcore.initializers]\n{entry}\n")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(where), *sys.path])}


def initcore_list(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "initcore", "list"], env=env,
                          capture_output=True, text=True, timeout=120)


def test_entry_point_schemes_appear_in_list(tmp_path: Path) -> None:
    env = fake_installed_package(tmp_path, "toy = toy_initcore_plugin\n"
                                           "toy_small = toy_initcore_plugin:unregistered")
    proc = initcore_list(env)
    assert proc.returncode == 0, proc.stderr
    lines = {line.split()[0]: line for line in proc.stdout.splitlines()[1:] if line.strip()}
    assert "N(0, 2.5/fan_in)" in lines["toy_scaled_he"]
    assert "toy_initcore_plugin:scaled_he" in lines["toy_scaled_he"]
    assert "U(-0.01, 0.01)" in lines["toy_small"], "a plain function takes the entry's name"
    assert "built-in" in lines["he_normal"]


def test_broken_entry_point_is_one_line_exit_2(tmp_path: Path) -> None:
    env = fake_installed_package(tmp_path, "broken = toy_initcore_plugin:does_not_exist")
    proc = initcore_list(env)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "entry point 'broken'" in proc.stderr and "INITCORE_NO_PLUGINS" in proc.stderr
    skipped = initcore_list({**env, "INITCORE_NO_PLUGINS": "1"})
    assert skipped.returncode == 0 and "toy_scaled_he" not in skipped.stdout
