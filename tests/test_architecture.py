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
    "initcore.initializers": 0, "initcore.init_functions": 0,
    # 1. the networks
    "initcore.models": 1,
    # 2. the trainers
    "initcore.train": 2, "initcore.grid": 2, "initcore.recipes": 2,
    # 3. measurements on trained or initialized models, the reports and the regression rule
    "initcore.probes": 3, "initcore.speed": 3, "initcore.memory": 3, "initcore.reports": 3,
    "initcore.regression": 3, "initcore.plots": 3, "initcore.leaderboard": 3,
    "initcore.markdown": 3,
    # 4. experiments and profiles: types and tables of bounds, as data
    "initcore.experiments": 4, "initcore.bounds": 4, "initcore.profiles": 4,
    # the grid cut into shards, their merge, and the Ray backend that runs them (ray imported
    # lazily, only by that backend)
    "initcore.shards": 4, "initcore.ray_backend": 4,
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
    tree = ast.parse("from .train import TrainConfig\n"
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
