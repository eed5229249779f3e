"""Small helpers shared by the command-line test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def run_bench(*args: str, cwd: Path = ROOT, timeout: int = 600,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``pytest bench -q -p no:cacheprovider ARGS`` in a child process, as a user runs it (from
    the repository, or from ``cwd``: a folder without ``bench`` gets the installed suite), with
    this process's environment plus ``env``."""
    command = [sys.executable, "-m", "pytest", "bench", "-q", "-p", "no:cacheprovider", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def files_under(folder: Path) -> list[str]:
    """Every file under ``folder``, relative, sorted: what a command wrote."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


# Columns a model's training determines; run_id, seconds, grid_size, host differ by design.
MODEL_COLUMNS = ["init", "seed", "epoch", "train_loss", "test_loss", "test_acc", "diverged"]
SUMMARY_COLUMNS = ["init", "formula", "n_seeds", "n_diverged", "epochs", "acc_mean", "acc_std",
                   "acc_min", "acc_max", "acc1_mean", "acc1_std", "final_test_loss"]


def text_table(folder: Path, name: str = "epochs.csv") -> pd.DataFrame:
    return pd.read_csv(folder / name, dtype=str, keep_default_na=False)


def assert_same_run(single: Path, merged: Path) -> None:
    """Same per-model rows (as the text written, in the same order) and same summaries."""
    a, b = text_table(single), text_table(merged)
    columns = [c for c in ["experiment", *MODEL_COLUMNS] if c in a]
    pd.testing.assert_frame_equal(a[columns], b[columns])
    a, b = text_table(single, "summary.csv"), text_table(merged, "summary.csv")
    columns = [c for c in ["experiment", *SUMMARY_COLUMNS] if c in a]
    pd.testing.assert_frame_equal(a[columns], b[columns])


def strict_load(text: str):
    """json.loads that refuses NaN, Infinity and -Infinity, as JavaScript's JSON.parse does."""
    def refuse(constant: str):
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


# A tiny profile for child `pytest bench` sessions whose property does not depend on the smoke
# profile's size (issue 23: a child that trained smoke with one seed took 65 s under
# `pytest tests -n 2`). Two experiments, as smoke has, the first named as smoke's reference so
# that claims on "seed-recipe" still apply; no bounds (every cell is checked as a newcomer).
TINY_PROFILE = '''
"""A tiny profile for child sessions of tests/ (-p tiny_profile --profile tiny)."""
from dataclasses import replace

from initcore import profiles
from initcore.experiments import Experiment, Profile
from initcore.train import Recipe

RECIPE = Recipe(hidden=(64,), epochs=1)
profiles._register(Profile("tiny", "two tiny experiments for the tests' child sessions", (
    Experiment("seed-recipe", "mnist-5k", RECIPE, ("he_normal", "xavier_uniform", "zeros"),
               (0, 1, 2)),
    Experiment("second", "mnist-5k", replace(RECIPE, hidden=(32, 32)), ("he_normal", "zeros"),
               (0, 1, 2)),
), reference="seed-recipe"))
'''


def tiny_profile(folder: Path) -> tuple[list[str], dict[str, str]]:
    """Write the tiny profile's module into ``folder``: (the options that load and select it,
    the environment that makes it importable) for :func:`run_bench`."""
    (folder / "tiny_profile.py").write_text(TINY_PROFILE)
    path = os.pathsep.join([str(folder), *filter(None, [os.environ.get("PYTHONPATH")])])
    return ["-p", "tiny_profile", "--profile", "tiny"], {"PYTHONPATH": path}
