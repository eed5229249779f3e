"""The README as a user's guide: short, free of merge debris, and naming exactly the options the
parsers know (the ``initcore`` command line and the pytest plugin), no more, no fewer."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from initcore import options
from initcore.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MAX_README_LINES = 300  # issue 18: a user's guide, the rest in docs/
OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9]*(?:-[a-z0-9]+)*)")
# Git's conflict markers (diff3 style included), built here so this file holds none.
MARKER = re.compile("^(" + "|".join(re.escape(c * 7) for c in "<>|") + r")( |$)|^={7}$")
# What the README names that no initcore parser declares: pip's option (`pip wheel --no-deps .`)
# and the plugin's spelling rule "--initcore-NAME" (the pattern reads it as "--initcore").
FOREIGN = {"--no-deps", "--initcore"}


def cli_options() -> set[str]:
    """Every long option of every ``initcore`` command."""
    found = set()
    parser = build_parser()
    for action in parser._subparsers._group_actions:  # the sub-command table
        for sub in action.choices.values():
            found |= {s for a in sub._actions for s in a.option_strings if s.startswith("--")}
    return found - {"--help"}


def pytest_help(*args: str) -> str:
    """``pytest bench --help`` of this environment: pytest's and its plugins' options, and the
    short forms the suite's conftest adds."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "bench", "--help", "-p",
                           "no:cacheprovider", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.fixture(scope="module")
def pytest_options() -> set[str]:
    """Every option of a ``pytest bench`` session: pytest's, its plugins', initcore's."""
    return set(OPTION.findall(pytest_help()))


def readme_options() -> set[str]:
    return set(OPTION.findall(README.read_text()))


def test_readme_is_a_short_guide() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= MAX_README_LINES, (
        f"README.md has {len(lines)} lines (at most {MAX_README_LINES}): move studies to docs/")
    for link in re.findall(r"\]\((docs/[^)#]+)", README.read_text()):
        assert (ROOT / link).is_file(), f"README links to {link}, which does not exist"


def test_readme_names_every_option_of_the_parsers(pytest_options: set[str]) -> None:
    """Every option of ``initcore`` and of ``pytest bench`` (the short forms; the plugin's
    global spelling of each, ``--initcore-NAME``, is named once as a rule)."""
    short, long = set(options.bench_flags(prefix="")), set(options.bench_flags())
    assert short | long <= pytest_options, (
        f"pytest bench does not register {sorted((short | long) - pytest_options)}")
    assert "--initcore-NAME" in README.read_text(), "README should say the global spelling"
    missing = (cli_options() | short) - readme_options()
    assert not missing, f"options the parsers know but README.md does not name: {sorted(missing)}"


def test_readme_names_no_option_the_parsers_do_not_know(pytest_options: set[str]) -> None:
    known = cli_options() | FOREIGN | pytest_options
    unknown = readme_options() - known
    assert not unknown, f"README.md names options no parser knows: {sorted(unknown)}"


def test_readme_has_no_placeholder() -> None:
    text = README.read_text()
    for placeholder in ("SMOKE_TIME", "TODO", "TBD", "XXX"):
        assert placeholder not in text, f"README.md still holds {placeholder!r}"


def tracked_text_files() -> list[Path]:
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                           check=True).stdout.decode().split("\0")
    files = []
    for name in filter(None, names):
        path = ROOT / name
        if path.is_file() and b"\0" not in path.read_bytes()[:8192]:
            files.append(path)
    return files


def test_no_conflict_markers_in_tracked_text_files() -> None:
    files = tracked_text_files()
    assert README in files, "git ls-files should list README.md"
    found = [f"{path.relative_to(ROOT)}:{number}: {line[:40]}"
             for path in files
             for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
             if MARKER.match(line)]
    assert not found, "merge conflict markers committed:\n" + "\n".join(found)


def test_conflict_marker_pattern_catches_all_three() -> None:
    for line in ("<" * 7 + " HEAD", "=" * 7, ">" * 7 + " issue-13", "|" * 7 + " base"):
        assert MARKER.match(line), line
    for line in ("=" * 26 + "  " + "=" * 10, "<" * 3 + " a", "a " + "=" * 7):
        assert not MARKER.match(line), line
