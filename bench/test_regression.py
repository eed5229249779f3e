"""Regression against the committed baseline (reports/baseline/<profile>/summary.csv).

The rule is initcore.regression's: a mean-accuracy drop of more than 0.5 pt whose one-sided Welch
p-value passes Holm's threshold for the whole profile's family of tests, or more diverged seeds,
fails the test; a fall of calibrated throughput beyond the set fraction fails
it only with ``--timing-regressions`` (the nightly job) and is a warning otherwise, since a busy
machine slows small-matmul training far more than the large GEMM it is calibrated against.
``--update-baseline`` skips them: the session writes this run's summary as the profile's new
baseline when it ends (:func:`initcore.runs.update_baseline`), not a test.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest

from initcore import regression, reports


def baseline_path(bench_session, profile_name: str) -> Path:
    return bench_session.baseline_dir / profile_name / reports.SUMMARY_FILE


@pytest.fixture(scope="session")
def baseline_table(bench_session, profile) -> pd.DataFrame | None:
    """The profile's baseline, checked before any training: a missing, unreadable or incomplete
    baseline fails every regression test (a gate never passes by not looking), unless
    --no-baseline asks to skip them; None when --update-baseline writes a new one."""
    path = baseline_path(bench_session, profile.name)
    if bench_session.update_baseline:
        return None
    if bench_session.no_baseline:
        pytest.skip(f"regression checks skipped (--no-baseline); baseline would be {path}")
    if not path.is_file():
        pytest.fail(f"no baseline for profile {profile.name!r} at {path}; create it with: "
                    f"pytest bench --profile {profile.name} --update-baseline, or pass "
                    "--no-baseline to skip the regression checks", pytrace=False)
    try:
        return regression.load_summary(path)
    except reports.ReportError as e:
        pytest.fail(f"baseline unusable: {e}", pytrace=False)


def test_no_regression_vs_baseline(baseline_cell, baseline_table, profile, trained,
                                   bench_session):
    """This run's cell is not worse than the baseline's beyond seed-to-seed noise."""
    experiment_name, init = baseline_cell
    current = trained(experiment_name).summary
    path = baseline_path(bench_session, profile.name)
    if bench_session.update_baseline:
        pytest.skip(f"--update-baseline: this run's summary becomes the baseline {path} when "
                    "the session ends (initcore.runs.update_baseline)")
    baseline = baseline_table
    # One test per cell, but the family-wise false-alarm rate is over the whole profile's
    # comparison: each cell is judged at Holm's threshold for the full family (Bonferroni's).
    mine = regression.compare(baseline, current[current["init"] == init],
                              family_size=regression.count_tests(baseline))
    if not mine:
        pytest.skip(f"{init} ({experiment_name}) is not in the baseline {path}")
    verdict = mine[0]
    assert not verdict.accuracy_regressed, verdict.message
    if verdict.throughput_regressed:
        # Timing on a shared machine is noise-prone: it fails the test only when asked for
        # (--timing-regressions, as the nightly job does); otherwise it is reported as a warning.
        if bench_session.timing_regressions:
            pytest.fail(verdict.message)
        warnings.warn(verdict.message, stacklevel=1)
