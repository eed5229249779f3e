"""The shape of initcore: imports point one way (down the layers), never in a cycle, never at
another module's private names; the pytest plugin stays light and inert outside bench sessions.

Imports are read with ``ast`` from every module of the package, function-level ones included,
so an import moved into a function to dodge a cycle still counts as an edge.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import initcore

PACKAGE = Path(initcore.__file__).resolve().parent

# Bottom to top: a module may import from its own layer or below. A new module must be placed
# here (test_architecture_every_module_has_a_layer).
LAYERS: dict[str, int] = {
    # 0. leaves: files, devices, data, the initializer registry
    "initcore": 0, "initcore.files": 0, "initcore.device": 0, "initcore.data": 0,
    "initcore.initializers": 0, "initcore.init_functions": 0, "initcore.user_calls": 0,
    "initcore.residual_schemes": 0,  # the residual schemes and layer roles (registry imports it)
    # the registry, initcore's own schemes and plugin loading (initializers: their public face)
    "initcore.registry": 0, "initcore.schemes": 0, "initcore.plugins": 0,
    # the option table (torch-free: the plugin imports it in every pytest session), one-line errors
    "initcore.options": 0, "initcore.errors": 0,
    # 1. the networks
    "initcore.models": 1,
    # 2. the trainers
    "initcore.train": 2, "initcore.grid": 2, "initcore.recipes": 2, "initcore.resgrid": 2,
    "initcore.parametrization": 2,  # per-layer multipliers of a recipe (muP)
    "initcore.distinct": 2,  # cells of a grid that train identically, trained once
    "initcore.user_schemes": 2,
    # 3. measurements on trained or initialized models, the reports and the regression rule
    "initcore.probes": 3, "initcore.speed": 3, "initcore.memory": 3, "initcore.reports": 3,
    "initcore.regression": 3, "initcore.plots": 3, "initcore.leaderboard": 3,
    "initcore.verdicts": 3, "initcore.verdict_sim": 3,
    "initcore.width": 3, "initcore.width_plots": 3,  # coordinate check, lr transfer
    "initcore.stats": 3,  # the one Welch test (regression gate, leaderboard, claims)
    "initcore.residual": 3,
    "initcore.markdown": 3,  # a run's verdicts as markdown for CI pages
    # 4. experiments and profiles: types and tables of bounds, as data
    "initcore.experiments": 4, "initcore.bounds": 4, "initcore.profiles": 4,
    "initcore.residual_profiles": 4,
    # the grid cut into shards, their merge, and the Ray backend that runs them (ray imported
    # lazily, only by that backend)
    "initcore.shards": 4, "initcore.ray_backend": 4,
    "initcore.costs": 4,  # planned model-epochs and predicted time, rates learned from reports
    # one run: claim, train (local, shard, Ray), tables, rows, complete, history, leaderboard
    "initcore.runs": 4,
    # 5. the entry points: the command line, the pytest plugin and its session logic
    "initcore.__main__": 5, "initcore.cli": 5, "initcore.session": 5,
    "initcore.pytest_plugin": 5,
}


def module_name(path: Path) -> str:
    parts = ["initcore", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1]) if parts[-1] == "__init__" else ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> int | None:
    """The layer of ``module``: its own entry, else its package's (initcore.cli.run -> cli)."""
    while module:
        if module in LAYERS:
            return LAYERS[module]
        module = module.rpartition(".")[0]
    return None


def resolve(importer: str, node: ast.ImportFrom) -> str:
    """The absolute module a ``from ... import`` names (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    is_package = MODULES[importer].name == "__init__.py"
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str) -> list[tuple[str, str | None, int]]:
    """(imported initcore module, name imported from it or None, line) for every import in
    ``module``, at any depth (function-level included)."""
    found = []
    for node in ast.walk(ast.parse(MODULES[module].read_text(), str(MODULES[module]))):
        if isinstance(node, ast.Import):
            found += [(a.name, None, node.lineno) for a in node.names
                      if a.name.split(".")[0] == "initcore"]
        elif isinstance(node, ast.ImportFrom):
            target = resolve(module, node)
            if target.split(".")[0] != "initcore":
                continue
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                if submodule in MODULES:  # `from . import data`: the module data
                    found.append((submodule, None, node.lineno))
                else:
                    found.append((target, alias.name, node.lineno))
    return found


def graph() -> dict[str, set[str]]:
    return {m: {t for t, _, _ in imports_of(m) if t != m} for m in MODULES}


def test_architecture_every_module_has_a_layer() -> None:
    unplaced = [m for m in MODULES if layer(m) is None]
    assert not unplaced, f"place these modules in LAYERS of {__file__}: {unplaced}"


def test_architecture_imports_form_no_cycle() -> None:
    edges = graph()
    state: dict[str, str] = {}  # "active" while on the DFS stack, "done" after
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = "active"
        stack.append(module)
        for target in sorted(edges.get(module, ())):
            if state.get(target) == "active":
                cycle = stack[stack.index(target):] + [target]
                pytest.fail(f"import cycle: {' -> '.join(cycle)}", pytrace=False)
            if target not in state:
                visit(target)
        stack.pop()
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module)


def test_architecture_imports_point_down() -> None:
    upward = [f"{m} (layer {layer(m)}) imports {t} (layer {layer(t)}), line {line}"
              for m in MODULES for t, _, line in imports_of(m)
              if t in MODULES and layer(t) is not None and layer(t) > layer(m)]
    assert not upward, "imports must point down the layers:\n" + "\n".join(upward)


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_architecture_no_private_name_crosses_a_module() -> None:
    private = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        imported_modules = {}  # local name -> initcore module it is bound to
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and resolve(module, node).startswith("initcore"):
                target = resolve(module, node)
                for alias in node.names:
                    if f"{target}.{alias.name}" in MODULES:
                        imported_modules[alias.asname or alias.name] = f"{target}.{alias.name}"
                    elif _is_private(alias.name) and target != module:
                        private.append(f"{module}:{node.lineno} imports {target}.{alias.name}")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("initcore.") and alias.asname:
                        imported_modules[alias.asname] = alias.name
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in imported_modules and _is_private(node.attr)):
                private.append(f"{module}:{node.lineno} uses "
                               f"{imported_modules[node.value.id]}.{node.attr}")
    assert not private, ("a private name used outside its module (make it public and "
                         "documented, or move it):\n" + "\n".join(private))


def test_architecture_reader_sees_function_level_imports() -> None:
    """The import reader resolves relative, absolute and function-level imports."""
    tree = ast.parse("from .train import Recipe\n"
                     "def f():\n    from . import grid\n    import initcore.models\n")
    module = "initcore.speed"
    targets = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            targets.add(resolve(module, node) if node.module else
                        f"{resolve(module, node)}.{node.names[0].name}")
        elif isinstance(node, ast.Import):
            targets.add(node.names[0].name)
    assert targets == {"initcore.train", "initcore.grid", "initcore.models"}, targets


PLUGIN_PROBE = """
import sys
import initcore.pytest_plugin
heavy = sorted(m for m in ("torch", "pandas", "initcore.session", "initcore.reports")
               if m in sys.modules)
print(",".join(heavy))
"""


def test_pytest_plugin_imports_no_torch() -> None:
    proc = subprocess.run([sys.executable, "-c", PLUGIN_PROBE], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "", f"the plugin's import loads {proc.stdout.strip()}"


def test_pytest_plugin_is_inert_outside_bench_sessions(tmp_path: Path) -> None:
    """A pytest session of another project, with initcore installed: the plugin is loaded, but
    neither torch is imported nor a file written (pytest-benchmark, which writes .benchmarks/
    of its own, is left out of the session to judge initcore's plugin alone)."""
    (tmp_path / "test_other.py").write_text(
        "import sys\n\n\ndef test_other():\n"
        "    assert 'torch' not in sys.modules, 'torch was imported'\n")
    options = ["-q", "-p", "no:cacheprovider", "-p", "no:benchmark", "test_other.py"]
    proc = subprocess.run([sys.executable, "-m", "pytest", *options], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    plugins = subprocess.run([sys.executable, "-m", "pytest", "--trace-config", "--co", *options],
                             cwd=tmp_path, capture_output=True, text=True, timeout=300).stdout
    assert "initcore.pytest_plugin" in plugins, "the pytest11 entry point is not registered"
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")
                     if p.name not in ("test_other.py", "__pycache__")
                     and "__pycache__" not in p.parts)
    assert written == [], f"files written by a session that is not a bench session: {written}"


def test_architecture_argparse_only_in_the_command_line() -> None:
    users = [m for m, path in MODULES.items() if not m.startswith("initcore.cli")
             and m != "initcore.options"  # the option table: argparse's types and errors
             and any(isinstance(n, ast.Import) and any(a.name == "argparse" for a in n.names)
                     or isinstance(n, ast.ImportFrom) and n.module == "argparse"
                     for n in ast.walk(ast.parse(path.read_text())))]
    assert not users, f"argparse outside initcore/cli/: {users}"


def test_architecture_every_command_module_is_in_the_table() -> None:
    from initcore import cli

    modules = {m.rpartition(".")[2] for m in MODULES if m.startswith("initcore.cli.")}
    in_table = {module.__name__.rpartition(".")[2] for module in cli.COMMANDS.values()}
    assert modules - {"common"} == in_table, (
        f"initcore/cli/ modules without a command: {sorted(modules - {'common'} - in_table)}")


# ---------------------------------------------------------------------------------------------
# Every rule in one place (issue 17): each check below was planted once and seen to fail.
# ---------------------------------------------------------------------------------------------

ROOT = PACKAGE.parent
SOURCES = sorted([*PACKAGE.rglob("*.py"), *(ROOT / "bench").rglob("*.py"), ROOT / "conftest.py"])


def _tree(path: Path) -> ast.AST:
    return ast.parse(path.read_text(), str(path))


def _where(path: Path, node: ast.AST) -> str:
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    return f"{shown}:{node.lineno}"


def declared_options(paths: list[Path] = SOURCES) -> dict[str, list[str]]:
    """flag -> where it is declared: every ``add_argument("--x", ...)`` / ``addoption("--x",
    ...)`` with a literal flag, and every ``Option("x", ...)`` of the option table."""
    found: dict[str, list[str]] = {}
    for path in paths:
        for node in ast.walk(_tree(path)):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            first = node.args[0]
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(
                node.func, "id", "")
            if name in ("add_argument", "addoption", "_addoption") and \
                    first.value.startswith("--"):
                found.setdefault(first.value, []).append(_where(path, node))
            elif name == "Option" and path.name == "options.py":
                found.setdefault(f"--{first.value}", []).append(_where(path, node))
    return found


def test_architecture_every_option_declared_once() -> None:
    """An option exists once: in the table (initcore/options.py) if more than one command or
    front end uses it, else in its command's module; never declared a second time."""
    twice = {flag: places for flag, places in declared_options().items() if len(places) > 1}
    assert not twice, f"options declared in more than one place: {twice}"


def _numeric_constants(node: ast.AST) -> list[float]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant)
            and isinstance(n.value, float)]


# Module-level numbers of bench/ that are set-up, not expectations: they say what is measured.
BENCH_SETUP = {"SIGMA_B2"}  # test_edge_of_chaos: the bias variance of the nets it builds


def bench_tables(paths: list[Path] | None = None) -> list[str]:
    """Module-level names in bench/ bound to a value with a float literal (a bound, an
    ordering's gap, a tolerance): they belong in initcore/bounds.py."""
    found = []
    for path in paths or sorted((ROOT / "bench").rglob("*.py")):
        for node in _tree(path).body:
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
                if set(names) - BENCH_SETUP and _numeric_constants(node.value):
                    found.append(f"{_where(path, node)} {', '.join(names)}")
    return found


def test_architecture_bounds_and_orderings_only_in_the_bound_tables() -> None:
    found = bench_tables()
    assert not found, ("bounds, orderings and tolerances belong in initcore/bounds.py, with the "
                       "measurement they came from: " + "; ".join(found))


def experiment_by_name(paths: list[Path] = SOURCES) -> list[str]:
    """Places that recognize an experiment by its name's prefix (``e.name.startswith(...)``) or
    by its position (``profile.experiments[0]``): use Experiment's fields (deep, sweep) and
    Profile.reference instead."""
    found = []
    for path in paths:
        for node in ast.walk(_tree(path)):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "startswith"
                    and isinstance(node.func.value, ast.Attribute)
                    and node.func.value.attr == "name"
                    and not _hidden_file_test(node)):
                found.append(f"{_where(path, node)} {ast.unparse(node)}")
            elif (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute)
                    and node.value.attr == "experiments"
                    and isinstance(node.slice, ast.Constant)):
                found.append(f"{_where(path, node)} {ast.unparse(node)}")
    return found


def _hidden_file_test(call: ast.Call) -> bool:
    """``path.name.startswith(".")``: a file's name, not an experiment's."""
    return bool(call.args) and isinstance(call.args[0], ast.Constant) and \
        str(call.args[0].value).startswith(".")


def test_architecture_no_experiment_recognized_by_name_or_position() -> None:
    found = experiment_by_name()
    assert not found, "an experiment recognized by its name or position: " + "; ".join(found)


def second_builders(paths: list[Path] = SOURCES) -> list[str]:
    """A Welch test outside initcore/stats.py (a ``welch*`` function, or a call of scipy's
    ``ttest_ind*``), or a summary built outside initcore/runs.py (a call of ``summarize``)."""
    found = []
    for path in paths:
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("welch") and \
                    path.name != "stats.py":
                found.append(f"{_where(path, node)} def {node.name}")
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(
                node.func, "id", "")
            if name.startswith("ttest_ind") and path.name != "stats.py":
                found.append(f"{_where(path, node)} {name}")
            if name == "summarize" and path.name != "runs.py":
                found.append(f"{_where(path, node)} {name}")
    return found


def test_architecture_one_summary_builder_one_welch() -> None:
    found = second_builders()
    assert not found, ("one Welch test (initcore/stats.py) and one summary builder "
                       "(initcore.runs.summary_of): " + "; ".join(found))


PLANTED = {  # one violation of each rule above, as a file of its own
    "option": ('def add(parser):\n    parser.add_argument("--seeds", type=int)\n',
               lambda paths: {f: p for f, p in declared_options(SOURCES + paths).items()
                              if len(p) > 1}),
    "bound": ("ORDERINGS = [('deep-relu', 'he_normal', 'xavier_normal', 1, 'every', 0.5)]\n",
              lambda paths: bench_tables(paths)),
    "prefix": ("def deep(profile):\n"
               "    return [e for e in profile.experiments if e.name.startswith('deep-')]\n",
               lambda paths: experiment_by_name(paths)),
    "position": ("def reference(profile):\n    return profile.experiments[0]\n",
                 lambda paths: experiment_by_name(paths)),
    "welch": ("from scipy import stats\n\ndef welch(a, b):\n"
              "    return stats.ttest_ind(a, b, equal_var=False).pvalue\n",
              lambda paths: second_builders(paths)),
    "summary": ("from initcore import reports\n\ndef table(epochs):\n"
                "    return reports.summarize(epochs)\n",
                lambda paths: second_builders(paths)),
}


@pytest.mark.parametrize("rule", list(PLANTED))
def test_architecture_rules_catch_a_planted_violation(rule: str, tmp_path: Path) -> None:
    """Each rule fails on a file that breaks it (and passes the code as it is, above)."""
    source, check = PLANTED[rule]
    planted = tmp_path / f"planted_{rule}.py"
    planted.write_text(source)
    found = check([planted])
    assert found, f"the {rule} rule did not catch {source!r}"


def folded_errors(paths: list[Path] = SOURCES) -> list[str]:
    """``" ".join(str(e).split())`` written outside initcore/errors.py (use errors.one_line)."""
    found = []
    for path in paths:
        for node in ast.walk(_tree(path)):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "join" and isinstance(node.func.value, ast.Constant)
                    and node.func.value.value == " " and node.args
                    and "split()" in ast.unparse(node.args[0])
                    and "str(" in ast.unparse(node.args[0]) and path.name != "errors.py"):
                found.append(f"{_where(path, node)} {ast.unparse(node)}")
    return found


def test_architecture_one_line_error_written_once() -> None:
    found = folded_errors()
    assert not found, "fold messages with initcore.errors.one_line: " + "; ".join(found)
    planted = folded_errors_in_text("def f(e):\n    return ' '.join(str(e).split())\n")
    assert planted, "the one-line-error rule did not catch a planted copy"


def folded_errors_in_text(source: str) -> list[str]:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "planted.py"
        path.write_text(source)
        return folded_errors([path])
