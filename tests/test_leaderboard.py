"""The leaderboard: ranks, Welch tests against the best built-in scheme and He, Holm, the
trains flag, the terminal lines and the figure."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from initcore import leaderboard
from initcore.plots import plot_leaderboard, plot_report_dir

# Final accuracies per seed (5 seeds), one experiment.
FINALS = {
    "he_normal": [0.90, 0.91, 0.905, 0.895, 0.90],
    "xavier_normal": [0.89, 0.892, 0.888, 0.891, 0.889],
    "mine": [0.95, 0.951, 0.949, 0.952, 0.948],  # far better than everything
    "meh": [0.899, 0.905, 0.90, 0.90, 0.896],  # indistinguishable from He
    "zeros": [0.1135] * 5,
}


def epochs_table(finals: dict[str, list[float]], experiment: str = "exp") -> pd.DataFrame:
    rows = []
    for init, accs in finals.items():
        for seed, acc in enumerate(accs):
            rows.append(dict(experiment=experiment, dataset="mnist", model="mlp", init=init,
                             seed=seed, epoch=1, test_acc=0.5, diverged=False))  # epoch 1 ignored
            rows.append(dict(experiment=experiment, dataset="mnist", model="mlp", init=init,
                             seed=seed, epoch=2, test_acc=acc, diverged=not math.isfinite(acc)))
    return pd.DataFrame(rows)


BUILTIN = {"he_normal", "xavier_normal", "zeros"}


def test_ranks_means_and_sources() -> None:
    board = leaderboard.build(epochs_table(FINALS), BUILTIN).set_index("init")
    assert board.loc["mine", "rank"] == 1 and board.loc["zeros", "rank"] == 5
    assert board.loc["mine", "acc_mean"] == pytest.approx(np.mean(FINALS["mine"]))
    assert board.loc["mine", "acc_std"] == pytest.approx(np.std(FINALS["mine"], ddof=1))
    assert board.loc["mine", "source"] == "user" and board.loc["he_normal", "source"] == "built-in"
    low, high = board.loc["he_normal", ["ci_low", "ci_high"]]
    half = stats.t.ppf(0.975, 4) * np.std(FINALS["he_normal"], ddof=1) / math.sqrt(5)
    assert (low, high) == pytest.approx((np.mean(FINALS["he_normal"]) - half,
                                         np.mean(FINALS["he_normal"]) + half))


def test_welch_against_best_builtin_and_he() -> None:
    board = leaderboard.build(epochs_table(FINALS), BUILTIN).set_index("init")
    assert board.loc["mine", "best_builtin"] == "he_normal"
    expected = stats.ttest_ind(FINALS["mine"], FINALS["he_normal"], equal_var=False).pvalue
    assert board.loc["mine", "vs_best_p"] == pytest.approx(expected)
    assert board.loc["mine", "vs_best_pt"] == pytest.approx(
        100 * (np.mean(FINALS["mine"]) - np.mean(FINALS["he_normal"])))
    assert board.loc["mine", "vs_best"] == "better" and board.loc["mine", "vs_he"] == "better"
    assert board.loc["meh", "vs_he"] == "n.s.", "a 0.1 pt difference is no difference"
    assert board.loc["zeros", "vs_he"] == "worse"
    # he_normal is compared with the best built-in other than itself, never with itself.
    assert board.loc["he_normal", "best_builtin"] == "xavier_normal"
    assert board.loc["he_normal", "vs_he"] == "" and pd.isna(board.loc["he_normal", "vs_he_p"])


def test_holm_over_the_whole_board() -> None:
    """A difference significant alone (p ~ 0.003) is not once the board's ~10 tests share the
    family-wise alpha 0.01."""
    finals = {"he_normal": [0.90, 0.905, 0.895, 0.90, 0.90],
              "close": [0.908, 0.913, 0.903, 0.908, 0.908], **{
                  f"other{i}": [0.5 + i / 100] * 5 for i in range(4)}}
    p_alone = stats.ttest_ind(finals["close"], finals["he_normal"], equal_var=False).pvalue
    assert 0.001 < p_alone < 0.01
    board = leaderboard.build(epochs_table(finals), {"he_normal"}).set_index("init")
    assert board.loc["close", "vs_he"] == "n.s."


def test_trains_flag_and_diverged_seeds() -> None:
    finals = {**FINALS, "flaky": [0.9, float("nan"), 0.9, 0.9, 0.9]}
    board = leaderboard.build(epochs_table(finals), BUILTIN, chance=0.1135).set_index("init")
    assert board.loc["mine", "trains"] and not board.loc["zeros", "trains"]
    assert not board.loc["flaky", "trains"] and board.loc["flaky", "n_diverged"] == 1
    assert board.loc["flaky", "acc_mean"] == pytest.approx(0.9)


def test_reference_diverged_on_every_seed_leaves_no_mean(recwarn) -> None:
    """He diverges on every seed of the 64-block residual net: the difference to its mean is
    NaN, without numpy's "Mean of empty slice" warning on every row, and its seeds still count
    (as chance) in the verdicts."""
    finals = {"he_normal": [float("nan")] * 5, "fixup": [0.84, 0.85, 0.83, 0.84, 0.86],
              "xavier_normal": [float("nan")] * 5}
    board = leaderboard.build(epochs_table(finals), BUILTIN).set_index("init")
    assert math.isnan(board.loc["fixup", "vs_he_pt"]), board.loc["fixup", "vs_he_pt"]
    assert board.loc["he_normal", "n_diverged"] == 5
    assert board.loc["fixup", "verdict_vs_he"] == "better", board.loc["fixup"]
    assert not [w for w in recwarn if "empty slice" in str(w.message)], [
        str(w.message) for w in recwarn]


def test_zero_variance_sides_are_exact() -> None:
    assert leaderboard.welch_two_sided(np.array([0.1] * 3), np.array([0.2] * 3)) == 0.0
    assert leaderboard.welch_two_sided(np.array([0.1] * 3), np.array([0.1] * 3)) == 1.0
    assert math.isnan(leaderboard.welch_two_sided(np.array([np.nan]), np.array([0.1])))


def test_theory_columns_join() -> None:
    theory = pd.DataFrame({"init": ["mine"], "n_var_half_mean": [0.75], "signal": ["vanishes"]})
    board = leaderboard.build(epochs_table(FINALS), BUILTIN, theory=theory).set_index("init")
    assert board.loc["mine", "signal"] == "vanishes" and board.loc["he_normal", "signal"] == ""
    lines = "\n".join(leaderboard.format_leaderboard(board.reset_index()))
    assert "mine *" in lines and "vanishes" in lines and "better +4.80" in lines


def test_leaderboard_figure(tmp_path: Path) -> None:
    board = leaderboard.build(epochs_table(FINALS), BUILTIN)
    written = plot_leaderboard(board, tmp_path)
    assert [p.name for p in written] == ["leaderboard-exp.png"]
    assert written[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    board.to_csv(tmp_path / leaderboard.LEADERBOARD_FILE, index=False)
    assert any(p.name == "leaderboard-exp.png" for p in plot_report_dir(tmp_path, tmp_path / "o"))
