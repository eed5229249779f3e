"""`initcore compare BASELINE CURRENT`: a regression is an accuracy drop beyond seed noise.

The rule (initcore.regression): flag when m_base - m_cur > 0.5 point and the one-sided Welch
t-test p-value of the drop is rejected by Holm's procedure at family-wise level ALPHA over all
the comparison's tests, or when more seeds diverged than in the baseline. With acc_std 0.01 and
3 seeds a side, se = sqrt(s_b^2/n_b + s_c^2/n_c) = 0.0082 and Welch's df = 4.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats

from initcore import cli, regression, reports

STD, N_SEEDS = 0.01, 3
SE = math.sqrt(2 * STD**2 / N_SEEDS)  # 0.0082: standard error of the difference of two means


def summary(accs: dict[str, float], stds: dict[str, float] | None = None,
            diverged: dict[str, int] | None = None) -> pd.DataFrame:
    """A summary table in the report schema, one row per initializer."""
    rows = []
    for init, acc in accs.items():
        std = (stds or {}).get(init, STD)
        rows.append({
            "run_id": "r", "dataset": "mnist-5k", "model": "mlp-784-256-128-10-relu",
            "init": init, "formula": "", "n_seeds": N_SEEDS,
            "n_diverged": (diverged or {}).get(init, 0), "epochs": 10, "acc_mean": acc,
            "acc_std": std, "acc_min": acc - std, "acc_max": acc + std, "final_test_loss": 0.3,
            "seconds_per_epoch": 1.0, "commit": "abc", "torch_version": "2.x", "device": "cpu",
            "host": "h", "timestamp": "2026-01-01T00:00:00+00:00",
        })
    return pd.DataFrame(rows, columns=reports.SUMMARY_COLUMNS)


BASE = {"he_normal": 0.97, "xavier_normal": 0.965, "zeros": 0.1135}


def compare_cli(tmp_path: Path, capsys, base: pd.DataFrame, current: pd.DataFrame
                ) -> tuple[int, str]:
    """Write both summaries as run folders and run `initcore compare` on them."""
    reports.write_csv_atomic(base, tmp_path / "base" / reports.SUMMARY_FILE)
    reports.write_csv_atomic(current, tmp_path / "cur" / reports.SUMMARY_FILE)
    code = cli.main(["compare", str(tmp_path / "base"), str(tmp_path / "cur")])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err, f"compare printed a traceback: {err}"
    return code, out


def test_compare_identical_summaries_exit_0(tmp_path: Path, capsys) -> None:
    code, out = compare_cli(tmp_path, capsys, summary(BASE), summary(BASE))
    assert code == 0, f"identical reports should pass, exit {code}:\n{out}"
    assert "0 regression(s) in 3" in out, f"the verdict line should count 0 of 3:\n{out}"


def test_compare_drop_beyond_noise_exit_1_names_init(tmp_path: Path, capsys) -> None:
    current = summary({**BASE, "xavier_normal": BASE["xavier_normal"] - 10 * SE})  # 8 points
    code, out = compare_cli(tmp_path, capsys, summary(BASE), current)
    assert code == regression.EXIT_REGRESSION, f"a 10-se drop must fail, exit {code}:\n{out}"
    flagged = [line for line in out.splitlines() if "REGRESSED:" in line]
    assert len(flagged) == 1 and flagged[0].startswith("xavier_normal"), (
        f"exactly xavier_normal should be named as regressed:\n{out}")


def test_compare_drop_inside_noise_exit_0(tmp_path: Path, capsys) -> None:
    # 1 se = 0.82 points: above the 0.5-point floor, so the se rule is what lets it pass.
    current = summary({**BASE, "he_normal": BASE["he_normal"] - SE})
    code, out = compare_cli(tmp_path, capsys, summary(BASE), current)
    assert code == 0, f"a 1-se drop is noise, exit {code}:\n{out}"


@pytest.mark.parametrize("drop, expected", [(0.001, 0), (0.02, 1)], ids=["0.1pt", "2pt"])
def test_compare_deterministic_cell_uses_absolute_floor(tmp_path: Path, capsys, drop: float,
                                                        expected: int) -> None:
    # zeros has std 0 (every seed ends at the majority-class share): se = 0, so only the
    # 0.5-point floor keeps a last-digit change from failing.
    stds = {"zeros": 0.0}
    current = summary({**BASE, "zeros": BASE["zeros"] - drop}, stds)
    code, out = compare_cli(tmp_path, capsys, summary(BASE, stds), current)
    assert code == expected, f"zeros dropping {drop}: exit {code}, expected {expected}:\n{out}"


def test_compare_more_diverged_seeds_exit_1(tmp_path: Path, capsys) -> None:
    current = summary(BASE, diverged={"he_normal": 1})
    code, out = compare_cli(tmp_path, capsys, summary(BASE), current)
    assert code == regression.EXIT_REGRESSION and "he_normal" in out and "diverged" in out, (
        f"a newly diverging seed is a regression, exit {code}:\n{out}")


def test_compare_missing_report_exit_2(tmp_path: Path, capsys) -> None:
    code = cli.main(["compare", str(tmp_path / "nope"), str(tmp_path / "nope2")])
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE and err.startswith("initcore: error: "), f"{code}: {err!r}"
    assert len(err.splitlines()) == 1 and "nope" in err, f"one line naming the path: {err!r}"


def test_compare_nothing_in_common_exit_2(tmp_path: Path, capsys) -> None:
    code, _ = compare_cli(tmp_path, capsys, summary({"he_normal": 0.97}),
                          summary({"lsuv": 0.97}))
    assert code == cli.EXIT_USAGE, f"no shared initializer to compare should be an error: {code}"


def with_epoch1(table: pd.DataFrame, acc1: dict[str, float], std1: float = 0.004) -> pd.DataFrame:
    table = table.copy()
    table["acc1_mean"] = table["init"].map(acc1)
    table["acc1_std"] = std1
    return table


def test_compare_slow_start_is_a_regression(tmp_path: Path, capsys) -> None:
    """He x 0.01 on full MNIST: final accuracy inside the noise, epoch 1 several points behind."""
    acc1 = {"he_normal": 0.954, "xavier_normal": 0.955, "zeros": 0.1135}
    slow = {**acc1, "he_normal": 0.93}  # 2.4 points behind; 3 se of epoch 1 = 0.98 points
    current = summary({**BASE, "he_normal": BASE["he_normal"] - 0.004})  # final: 0.4 pt, noise
    code, out = compare_cli(tmp_path, capsys, with_epoch1(summary(BASE), acc1),
                            with_epoch1(current, slow))
    assert code == regression.EXIT_REGRESSION, f"a slow start must fail, exit {code}:\n{out}"
    flagged = [line for line in out.splitlines() if "REGRESSED:" in line]
    assert len(flagged) == 1 and flagged[0].startswith("he_normal"), out
    assert "epoch-1 accuracy" in flagged[0] and "drop 2.40 pt" in flagged[0], flagged[0]


def test_compare_old_baseline_without_epoch1_columns(tmp_path: Path, capsys) -> None:
    """A baseline written before acc1_* existed compares on the final accuracy alone."""
    old = summary(BASE).drop(columns=["acc1_mean", "acc1_std"])
    acc1 = {"he_normal": 0.5, "xavier_normal": 0.5, "zeros": 0.1}  # would fail if compared
    code, out = compare_cli(tmp_path, capsys, old, with_epoch1(summary(BASE), acc1))
    assert code == 0, f"no epoch-1 columns in the baseline: final rule only, exit {code}:\n{out}"


def test_welch_p_value_is_the_exact_t_tail() -> None:
    """3 seeds a side, std 0.01 each: df = 4 exactly, and p is Student t's upper tail there
    (a normal approximation would give 1.3e-3 for t = 3 instead of t(4)'s 2.0e-2)."""
    p = regression.welch_p_value(0.97, STD, N_SEEDS, 0.97 - 3 * SE, STD, N_SEEDS)
    assert p == pytest.approx(stats.t.sf(3.0, 4), rel=1e-9), p
    assert regression.welch_p_value(0.97, STD, 3, 0.98, STD, 3) > 0.5, "a gain is no drop"


def test_welch_p_value_deterministic_and_single_seed_sides() -> None:
    assert regression.welch_p_value(0.1135, 0.0, 3, 0.1134, 0.0, 3) == 0.0, "exact drop"
    assert regression.welch_p_value(0.1135, 0.0, 3, 0.1135, 0.0, 3) == 1.0, "no drop"
    # one seed (std NaN) on one side: the other side's variance alone, df = n - 1 = 2
    p = regression.welch_p_value(0.97, float("nan"), 1, 0.97 - 3 * STD / math.sqrt(3), STD, 3)
    assert p == pytest.approx(stats.t.sf(3.0, 2), rel=1e-9), p


def test_holm_step_down() -> None:
    # m = 4, alpha 0.01: thresholds 0.0025, 0.00333, 0.005, 0.01 for the sorted p-values.
    assert regression.holm_rejections([0.002, 0.003, 0.2, 0.0049]) == [True, True, False, True]
    # the first non-rejection stops the procedure, even if a later p would pass its threshold
    assert regression.holm_rejections([0.003, 0.004, 0.0049, 0.009]) == [False] * 4
    # a caller that sees part of the family: one p judged against alpha / family_size
    assert regression.holm_rejections([0.001], family_size=5) == [True]
    assert regression.holm_rejections([0.003], family_size=5) == [False]


def test_family_size_makes_the_rule_stricter(tmp_path: Path) -> None:
    """A 4-se drop (p = 8e-3 at df 4) regresses alone, but not as one of 120 tests (the size of a
    nightly comparison): what keeps one night's false-alarm rate at ALPHA."""
    base = summary(BASE)
    current = summary({**BASE, "he_normal": BASE["he_normal"] - 4 * SE})
    alone = regression.compare(base[base.init == "he_normal"], current[current.init == "he_normal"])
    nightly = regression.compare(base[base.init == "he_normal"],
                                 current[current.init == "he_normal"], family_size=120)
    assert alone[0].regressed and not nightly[0].regressed, (alone, nightly)


def test_count_tests_counts_cells_times_metrics() -> None:
    base = with_epoch1(summary(BASE), {"he_normal": 0.95, "xavier_normal": 0.95, "zeros": 0.1})
    assert regression.count_tests(base) == 6
    assert regression.count_tests(summary(BASE)) == 3  # no acc1 columns: final accuracy only
    assert regression.count_tests(base, summary({"he_normal": 0.97})) == 1
