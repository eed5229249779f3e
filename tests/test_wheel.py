"""The wheel carries the whole product: the benchmark suite as ``initcore.bench``, the committed
baselines as ``initcore/baselines``, the recipes, and the pytest plugin's entry point; unpacked
away from any clone, ``pytest bench`` and ``pytest --pyargs initcore.bench`` find the shipped
suite from an empty folder and its regression tests the shipped baselines.

(.ci/run installs the built wheel into a fresh environment and runs the smoke suite from an
empty folder; these tests check the same things in seconds.)
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of this working tree (its files that git tracks or would
    add), so a stale build/ folder of the checkout cannot leak into it."""
    source = tmp_path_factory.mktemp("source")
    names = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, names):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                           "--no-build-isolation", "--wheel-dir", str(out), str(source)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (built,) = out.glob("initcore-*.whl")
    return built


def test_wheel_ships_suite_baselines_recipes_and_plugin(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    suite = {f"initcore/bench/{p.name}" for p in (ROOT / "bench").glob("*.py")}
    baselines = {f"initcore/baselines/{p.relative_to(ROOT / 'reports' / 'baseline')}"
                 for p in (ROOT / "reports" / "baseline").glob("*/*.csv")}
    recipes = {f"initcore/recipes/{p.name}" for p in (ROOT / "initcore" / "recipes").glob("*")
               if p.suffix in (".py", ".toml")}
    for what, wanted in (("suite", suite), ("baselines", baselines), ("recipes", recipes)):
        assert wanted and wanted <= names, f"{what} missing from the wheel: {wanted - names}"
    assert "initcore/bench/conftest.py" in names and "initcore/baselines/smoke/summary.csv" in names
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    parser = configparser.ConfigParser()
    parser.read_string(zipfile.ZipFile(wheel).read(entry_points).decode())
    assert parser["pytest11"]["initcore"] == "initcore.pytest_plugin"
    assert parser["console_scripts"]["initcore"] == "initcore.__main__:main"


@pytest.fixture(scope="module")
def unpacked(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel's files in a folder of their own: initcore imported from there is what a wheel
    user gets (no clone beside it)."""
    site = tmp_path_factory.mktemp("site-packages")
    zipfile.ZipFile(wheel).extractall(site)
    return site


def run_unpacked(unpacked: Path, folder: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(unpacked)}  # before this checkout's editable install
    return subprocess.run([sys.executable, *args], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=300)


def test_unpacked_wheel_finds_its_baselines(unpacked: Path, tmp_path: Path) -> None:
    proc = run_unpacked(unpacked, tmp_path, "-c",
                        "import initcore, initcore.session as s; "
                        "print(initcore.__file__); print(s.shipped_baseline_dir())")
    assert proc.returncode == 0, proc.stderr[-3000:]
    origin, baselines = proc.stdout.split()
    assert Path(origin).is_relative_to(unpacked), f"initcore came from {origin}"
    assert Path(baselines) == unpacked / "initcore" / "baselines", baselines


@pytest.mark.parametrize("args", [("bench",), ("--pyargs", "initcore.bench")],
                         ids=["bench", "pyargs"])
def test_unpacked_wheel_collects_the_suite_from_an_empty_folder(unpacked: Path, tmp_path: Path,
                                                                args: tuple[str, ...]) -> None:
    proc = run_unpacked(unpacked, tmp_path, "-m", "pytest", *args, "--collect-only", "-q",
                        "-p", "no:cacheprovider", "--rootdir", str(unpacked),
                        "--report-dir", str(tmp_path.parent / f"{tmp_path.name}-reports"))
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    collected = [line for line in proc.stdout.splitlines() if "::" in line]
    assert len(collected) > 100, f"the shipped suite should be collected:\n{output[-3000:]}"
    assert all(line.startswith("initcore/bench/test_") for line in collected), (
        f"tests collected from elsewhere than the unpacked wheel: {collected[:3]}")
    assert any("test_no_regression_vs_baseline" in line for line in collected), collected[:5]


def test_unpacked_wheel_pyargs_is_a_bench_session(unpacked: Path, tmp_path: Path) -> None:
    """``pytest --pyargs initcore.bench`` is a bench session like ``pytest bench``: it claims a
    run folder, saves pytest-benchmark's JSON there (strict JSON) and marks it complete. One
    timing test only (nothing is trained: a few seconds)."""
    reports = tmp_path / "reports"
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = run_unpacked(unpacked, empty, "-m", "pytest", "--pyargs", "initcore.bench", "-q",
                        "-p", "no:cacheprovider", "--report-dir", str(reports),
                        "--run-id", "007", "-k", "test_init_cost and he_normal")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "1 passed" in output, output[-3000:]
    run = reports / "007"
    assert (run / "run.json").is_file(), f"no complete run folder: {list(tmp_path.rglob('*'))}"
    saved = json.loads((run / "benchmark.json").read_text(),
                       parse_constant=lambda c: pytest.fail(f"{c} in benchmark.json"))
    assert [b["name"] for b in saved["benchmarks"]] == ["test_init_cost[init=he_normal]"]
