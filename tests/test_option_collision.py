"""initcore's plugin is loaded into every pytest session of an environment that has it: the
options it registers there must not take a name another project uses (issue 18, item 1).

A throwaway project whose own conftest.py defines the common names initcore's suite also uses
(``--device``, ``--seeds``, ``--profile`` ...), each alone and all at once, runs its own tests
with initcore installed, in a child process as a user runs it; the suite's short forms exist
only where ``bench/conftest.py`` is an initial conftest (``pytest bench``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from initcore import options

# The names a research project is likely to define itself (issue 18's list).
COMMON = ["device", "seeds", "profile", "data-dir", "init", "report-dir", "run-id", "shard",
          "baseline-dir"]

CONFTEST = '''
def pytest_addoption(parser):
{lines}
'''

TEST = '''
def test_own_options(pytestconfig):
{lines}
'''


def run_project(folder: Path, names: list[str]) -> subprocess.CompletedProcess:
    """A project defining ``--NAME`` for each of ``names`` (its own meaning: a string), run with
    each set to ``mine-NAME``; its test checks it got its own values."""
    folder.mkdir()
    (folder / "conftest.py").write_text(CONFTEST.format(lines="\n".join(
        f"    parser.addoption('--{n}', default=None)" for n in names)))
    (folder / "test_own.py").write_text(TEST.format(lines="\n".join(
        f"    assert pytestconfig.getoption('{n.replace('-', '_')}') == 'mine-{n}'"
        for n in names)))
    given = [arg for n in names for arg in (f"--{n}", f"mine-{n}")]
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "test_own.py", *given], cwd=folder, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("names", [[n] for n in COMMON] + [COMMON],
                         ids=[*COMMON, "all-at-once"])
def test_project_options_do_not_collide_with_the_plugin(tmp_path: Path, names: list[str]):
    proc = run_project(tmp_path / "project", names)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "1 passed" in output, (
        f"a project defining {names} fails with initcore installed (exit {proc.returncode}): "
        f"{output[-2000:]}")


def test_plugin_options_are_all_prefixed() -> None:
    """What the plugin registers in every session starts with --initcore-; the short forms are
    the same options (same destination) and only bench/conftest.py registers them."""
    seen = []
    options.add_bench_options(lambda flag, **kwargs: seen.append((flag, kwargs["dest"])))
    assert seen and all(flag.startswith("--initcore-") for flag, _ in seen), seen
    short = []
    options.add_bench_options(lambda flag, **kwargs: short.append((flag, kwargs["dest"])),
                              prefix="")
    assert [d for _, d in seen] == [d for _, d in short], "short forms with other destinations"
    assert {f for f, _ in short} >= {f"--{n}" for n in COMMON}, short
    suite = Path(__file__).resolve().parents[1] / "bench" / "conftest.py"
    assert 'prefix=""' in suite.read_text(), f"{suite} no longer registers the short forms"
