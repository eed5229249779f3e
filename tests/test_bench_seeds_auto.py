"""``pytest bench --seeds auto``, end to end in a child pytest, on a tiny profile: seeds are
trained look by look (grids of each experiment's seed count) until every comparison that
matters is decided or ``--max-seeds`` are spent; the leaderboard, run.json and the tests see
the seeds each experiment took; the margin is per experiment and ``--margin`` overrides it;
impossible budgets are usage errors (exit 4).

The tiny profile (a plugin module the child loads with ``-p``): a 784-64-10 ReLU net on the
embedded mnist-5k, 2 epochs, looks of 3 seeds. Measured (``initcore run --init he_normal
he_uniform zeros --seeds 6 --hidden 64 --epochs 2``): He 87.75 +- 1.62 %, He uniform
87.40 +- 1.47 %, zeros 10.00 % on every seed. So ``zeros`` is ``worse`` than He at the first
look (interval ~ +-37 points around -78 at 3 seeds and a board of 10 comparisons), and He
uniform stays ``undecided`` within +-0.5 point for many more seeds than 6: the experiment
``open`` (with He uniform) must spend the budget, ``clear`` (without) must stop after one look.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]

TINY_PROFILE = '''
"""A tiny profile for tests/test_bench_seeds_auto.py, registered when pytest imports this
module (-p tiny_profile)."""
from initcore import profiles
from initcore.experiments import Experiment, Profile
from initcore.train import Recipe

RECIPE = Recipe(hidden=(64,), epochs=2)
profiles._register(Profile("tiny", "two tiny experiments for --seeds auto", (
    Experiment("open", "mnist-5k", RECIPE, ("he_normal", "he_uniform", "zeros"), (0, 1, 2)),
    Experiment("clear", "mnist-5k", RECIPE, ("he_normal", "zeros"), (0, 1, 2), margin=0.02),
), reference="open"))
'''


def run_tiny(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """``pytest bench --profile tiny ARGS`` in a child, the tiny profile's module importable."""
    (tmp_path / "tiny_profile.py").write_text(TINY_PROFILE)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(tmp_path), *filter(None, [os.environ.get("PYTHONPATH")])])}
    command = [sys.executable, "-m", "pytest", "bench", "-q", "-p", "no:cacheprovider", "-p",
               "tiny_profile", "--profile", "tiny", "--report-dir", str(tmp_path / "r"), *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env=env)


def the_run(tmp_path: Path) -> Path:
    folders = [p for p in (tmp_path / "r").iterdir() if p.is_dir()]
    assert len(folders) == 1, f"expected one run folder: {folders}"
    return folders[0]


def test_bench_seeds_auto_trains_until_decided(tmp_path: Path) -> None:
    proc = run_tiny(tmp_path, "--seeds", "auto", "--max-seeds", "6", "-k",
                    "test_scheme_trains_above_chance")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Traceback" not in output, output[-4000:]
    # One line per look, as initcore run prints them.
    looks = [line.strip() for line in output.splitlines() if "--seeds auto:" in line]
    assert any(line.startswith("open: --seeds auto: 6 seeds") for line in looks), looks
    assert any(line.startswith("clear: --seeds auto: 3 seeds") and
               "0 comparison(s) undecided" in line for line in looks), looks
    assert not any(line.startswith("clear: --seeds auto: 6") for line in looks), looks

    run = the_run(tmp_path)
    epochs = pd.read_csv(run / "epochs.csv")
    seeds = epochs.groupby("experiment")["seed"].unique().map(sorted).to_dict()
    assert seeds == {"open": [0, 1, 2, 3, 4, 5], "clear": [0, 1, 2]}, (
        f"undecided 'open' should take the budget (6), decided 'clear' one look (3): {seeds}")
    board = pd.read_csv(run / "leaderboard.csv").set_index(["experiment", "init"])
    assert board.loc[("open", "he_uniform"), "verdict_vs_he"] == "undecided", board.T
    assert board.loc[("open", "he_uniform"), "vs_he_seeds"] == 6
    assert board.loc[("clear", "zeros"), "verdict_vs_he"] == "worse", board.T
    assert board.loc[("clear", "zeros"), "seeds_used"] == 3
    assert board.loc["open", "n_seeds"].eq(6).all() and board.loc["clear", "n_seeds"].eq(3).all()
    # The margin is each experiment's (open: the default 0.5 point; clear: its own 2 points).
    assert board.loc["open", "margin"].eq(0.005).all(), board.loc["open", "margin"]
    assert board.loc["clear", "margin"].eq(0.02).all(), board.loc["clear", "margin"]
    info = json.loads((run / "run.json").read_text())
    assert info["seeds"] == {"auto": True, "max_seeds": 6, "batch": {"open": 3, "clear": 3},
                             "used": {"open": 6, "clear": 3}}, info.get("seeds")


def test_bench_margin_overrides_every_experiments(tmp_path: Path) -> None:
    proc = run_tiny(tmp_path, "--seeds", "2", "--margin", "1", "-k",
                    "test_scheme_trains_above_chance and clear")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Traceback" not in output, output[-4000:]
    board = pd.read_csv(the_run(tmp_path) / "leaderboard.csv")
    assert board["margin"].eq(0.01).all() and board["n_seeds"].eq(2).all(), board.T
    assert "margin +-1 pt" in output, output[-3000:]


@pytest.mark.parametrize("args, error", [
    (["--seeds", "0"], "--seeds must be >= 1, got 0"),
    (["--seeds", "auto", "--max-seeds", "2"],
     "--max-seeds 2 is below one look of --seeds auto: open of profile 'tiny' trains 3 seeds"),
    (["--max-seeds", "9"], "--max-seeds is the budget of --seeds auto"),
    (["--seeds", "auto", "--update-baseline"], "--update-baseline needs the profile's fixed"),
    (["--margin", "0"], "--margin must be > 0"),
])
def test_bench_seeds_auto_bad_budget_is_a_usage_error(tmp_path: Path, args: list[str],
                                                       error: str) -> None:
    proc = run_tiny(tmp_path, *args)
    output = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 4, f"exit {proc.returncode}, expected 4 (usage):\n{output}"
    said = [line for line in output.splitlines() if error in line]
    assert len(said) == 1 and "Traceback" not in output, output
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir()), (
        "a usage error must leave no run folder")
