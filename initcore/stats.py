"""The statistics initcore's verdicts share: Welch's t-test, once.

Welch, B. L. (1947), "The generalization of 'Student's' problem when several different
population variances are involved", Biometrika 34: the t-test of two means without assuming
equal variances, t = (m_a - m_b) / sqrt(s_a^2/n_a + s_b^2/n_b), with the Welch-Satterthwaite
degrees of freedom; computed by :func:`scipy.stats.ttest_ind_from_stats` (``equal_var=False``).

Used by the regression gate (:mod:`initcore.regression`, one-sided: "the current mean is below
the baseline's"), the leaderboard (:mod:`initcore.leaderboard`, two-sided, from per-seed values)
and the claims of schemes (``bench/test_newcomers.py``). One convention for the edge cases: a
side with one seed (std NaN) or identical seeds (std 0) adds no variance and enters the degrees
of freedom with n >= 2; when neither side varies, the difference is exact (p = 0 if the means
differ in the tested direction, 1 if not).
"""

from __future__ import annotations

import math

import numpy as np

ALTERNATIVES = ("greater", "two-sided")


def welch_p_value(mean_a: float, std_a: float, n_a: int, mean_b: float, std_b: float, n_b: int,
                  alternative: str = "greater") -> float:
    """Welch t-test p-value from summary statistics: ``alternative`` "greater" tests
    mean_a > mean_b (one-sided; the gate: a = baseline, b = current), "two-sided" tests
    mean_a != mean_b. See the module docstring for one-seed and zero-spread sides."""
    from scipy import stats  # here, not at the top: scipy.stats takes ~1 s to import (issue 23)
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative {alternative!r} not supported, please use one of "
                         f"{', '.join(ALTERNATIVES)}")
    std_a = 0.0 if std_a is None or math.isnan(std_a) else float(std_a)
    std_b = 0.0 if std_b is None or math.isnan(std_b) else float(std_b)
    if std_a == 0 and std_b == 0:
        differ = mean_a > mean_b if alternative == "greater" else mean_a != mean_b
        return 0.0 if differ else 1.0
    # A zero-variance side enters Welch's degrees of freedom as 0 / (n - 1): give it n >= 2.
    n_a = int(n_a) if std_a > 0 else max(int(n_a), 2)
    n_b = int(n_b) if std_b > 0 else max(int(n_b), 2)
    result = stats.ttest_ind_from_stats(mean_a, std_a, n_a, mean_b, std_b, n_b,
                                        equal_var=False, alternative=alternative)
    return float(result.pvalue)


def welch_two_sided(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided Welch p-value of "mean(a) != mean(b)" from per-seed values; non-finite values
    (diverged seeds) are left out, NaN when a side has none."""
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) == 0 or len(b) == 0:
        return math.nan
    # No spread means equal values (np.ptp), not a var() of 1e-35 left by rounding the mean.
    std_a = math.sqrt(a.var(ddof=1)) if np.ptp(a) > 0 else 0.0
    std_b = math.sqrt(b.var(ddof=1)) if np.ptp(b) > 0 else 0.0
    return welch_p_value(float(a.mean()), std_a, len(a), float(b.mean()), std_b, len(b),
                         alternative="two-sided")
