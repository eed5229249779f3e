"""Error rates of the verdicts (:mod:`initcore.verdicts`) by simulation: how often a paired
comparison with a known true difference is called better / worse / equivalent / undecided, and
how many seeds ``--seeds auto`` trains before it stops.

Model: per-seed differences ``d_s ~ Normal(delta, sd)`` (``sd``: the spread of the paired
differences, e.g. sqrt(2) x a profile's seed spread when the two schemes' seeds are
uncorrelated), judged by the very functions the leaderboard uses (``verdicts.sequential``) with
a comparison's share ``alpha / K`` of a board of K comparisons. A/A is ``delta = 0``.

    python -m initcore.verdict_sim            the table of docs/verdicts.md
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from . import verdicts


@dataclass(frozen=True)
class Scenario:
    """One simulated comparison."""

    delta: float  # true mean difference (fraction)
    sd: float  # spread of the per-seed differences (fraction)
    level: float  # the comparison's error rate (board alpha / K)
    batch: int = 3  # seeds per look
    max_seeds: int = verdicts.MAX_SEEDS  # --max-seeds; equal to batch: a fixed run
    margin: float = verdicts.MARGIN


def t_intervals(d: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(effect, low, high) of the paired t interval of every row of ``d`` (reps, n): the
    interval of ``verdicts.interval`` (``scipy.stats.ttest_rel``), for many rows at once
    (tests/test_verdicts.py checks that they agree)."""
    n = d.shape[1]
    mean = d.mean(axis=1)
    half = stats.t.ppf(1 - level / 2, n - 1) * d.std(axis=1, ddof=1) / math.sqrt(n)
    return mean, mean - half, mean + half


def simulate(s: Scenario, reps: int, seed: int = 0) -> dict[str, float]:
    """Share of each verdict over ``reps`` simulated comparisons, and the mean seeds used
    (the group-sequential rule of ``verdicts.sequential``, vectorized over the reps)."""
    rng = np.random.default_rng(seed)
    verdict, used = judge_rows(rng.normal(s.delta, s.sd, (reps, s.max_seeds)), s)
    return {**{k: float(np.mean(verdict == k)) for k in verdicts.VERDICTS},
            "mean_seeds": float(used.mean())}


def judge_rows(d: np.ndarray, s: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """(verdict, seeds used) of every row of differences ``d`` (reps, max_seeds):
    ``verdicts.sequential`` for many rows at once (tests/test_verdicts.py checks they agree)."""
    reps = len(d)
    verdict = np.full(reps, "undecided", dtype=object)
    used = np.full(reps, s.max_seeds)
    before = 0.0
    for n in verdicts.looks_of(s.max_seeds, s.batch):
        now = verdicts.spent(s.level, n / s.max_seeds)
        effect, low, high = t_intervals(d[:, :n], now - before)
        before = now
        calls = np.array([verdicts.classify(e, lo, hi, s.margin)
                          for e, lo, hi in zip(effect, low, high)], dtype=object)
        new = (verdict == "undecided") & (calls != "undecided")
        verdict[new], used[new] = calls[new], n
    return verdict, used


def study(spreads: dict[str, float], k: int, reps: int = 400,
          deltas: tuple[float, ...] = (0.0, 0.0025, 0.005, 0.01, 0.02)) -> pd.DataFrame:
    """Verdict rates for each profile spread and true difference, fixed 3 seeds and
    ``--seeds auto`` (batches of 3 up to 30), at the board share ALPHA / k."""
    rows = []
    for profile, sd in spreads.items():
        for delta in deltas:
            for design, (batch, most) in (("3 seeds", (3, 3)), ("auto", (3, 30))):
                rates = simulate(Scenario(delta, sd, verdicts.ALPHA / k, batch, most), reps)
                rows.append({"profile": profile, "sd_pt": 100 * sd, "delta_pt": 100 * delta,
                             "design": design, **rates})
    return pd.DataFrame(rows)


def main() -> int:
    # Seed spreads of the committed baselines (reports/baseline/*/summary.csv, seed-recipe,
    # median acc_std of the schemes that train, 3 seeds): smoke 1.08 pt, seed 0.153 pt; the
    # differences of two uncorrelated schemes spread by sqrt(2) times that.
    spreads = {"smoke": math.sqrt(2) * 0.0108, "seed": math.sqrt(2) * 0.00153}
    k = 2 * 24  # comparisons of a 24-scheme board (vs He and vs best)
    table = study(spreads, k, int(sys.argv[1]) if len(sys.argv) > 1 else 400)
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
