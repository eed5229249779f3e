"""The verdicts (initcore.verdicts): the four calls, their intervals, the robust rule, the error
rates by simulation (fixed seeds and --seeds auto), the board and the seeds-until-decided loop,
and --seeds auto on the command line."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from initcore import cli, regression, verdicts
from initcore.verdict_sim import Scenario, judge_rows, simulate, t_intervals

M = verdicts.MARGIN  # 0.005: half a point


@pytest.mark.parametrize("effect, low, high, expected", [
    (0.02, 0.01, 0.03, "better"),  # real and beyond the margin
    (0.004, 0.001, 0.007, "undecided"),  # real but the estimate is within the margin
    (-0.02, -0.03, -0.01, "worse"),
    (0.001, -0.004, 0.0045, "equivalent"),  # the whole interval inside +-margin
    (0.001, -0.006, 0.004, "undecided"),  # reaches past -margin
    (0.0, -0.005, 0.004, "undecided"),  # the margin itself is not inside
])
def test_verdicts_classify_by_interval_and_margin(effect, low, high, expected) -> None:
    got = verdicts.classify(effect, low, high, M)
    assert got == expected, f"effect {effect}, [{low}, {high}], margin {M}: {got}"


def test_verdicts_t_interval_is_scipys_paired_t() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.97, 0.002, 7), rng.normal(0.968, 0.002, 7)
    effect, low, high, test = verdicts.interval(a - b, 0.05)
    ci = stats.ttest_rel(a, b).confidence_interval(0.95)
    assert test == "paired t" and (low, high) == pytest.approx((ci.low, ci.high), abs=1e-12)
    assert effect == pytest.approx(np.mean(a - b))
    # The simulation's vectorized interval is the same one.
    d = rng.normal(0.001, 0.003, (5, 9))
    e, lo, hi = t_intervals(d, 0.01)
    for row, x, y, z in zip(d, e, lo, hi):
        assert (x, y, z) == pytest.approx(verdicts.interval(row, 0.01)[:3], abs=1e-12)


def test_verdicts_wilcoxon_interval_inverts_the_test() -> None:
    """The robust interval is the set of shifts the two-sided Wilcoxon test keeps (checked by
    brute force over the midpoints between Walsh averages)."""
    rng = np.random.default_rng(2)
    d = np.append(rng.normal(0.0, 0.003, 14), -0.8)  # one diverged seed: a real outlier
    effect, low, high, test = verdicts.interval(d, 0.01, robust=True)
    walsh = np.sort(np.unique([(x + y) / 2 for i, x in enumerate(d) for y in d[i:]]))
    mids = (walsh[:-1] + walsh[1:]) / 2
    kept = [m for m in mids if stats.wilcoxon(d - m, zero_method="zsplit").pvalue > 0.01]
    assert test == "wilcoxon" and low < min(kept) and max(kept) < high, (low, high, kept)
    assert walsh[walsh < min(kept)][-1] == low and walsh[walsh > max(kept)][0] == high
    t_low, t_high = verdicts.interval(d, 0.01)[1:3]
    assert high - low < (t_high - t_low) / 5, "the outlier should not blow up the robust one"


def test_verdicts_edge_cases_exact_single_and_clipped() -> None:
    exact = verdicts.compare(np.full(3, -0.79), M, 1e-4)
    assert (exact.verdict, exact.test, exact.low, exact.high) == ("worse", "exact", -0.79, -0.79)
    one = verdicts.compare(np.array([0.03]), M, 0.01)
    assert one.verdict == "undecided", "one seed has no spread to judge by"
    wide = verdicts.pair([0.96, 0.20, 0.97], [0.97, 0.965, 0.968], level=0.01)
    assert wide.test == "wilcoxon", "a stuck seed beside trained ones: the robust rule"
    theirs = np.mean([0.97, 0.965, 0.968])
    assert -theirs <= wide.low and wide.high <= 1 - theirs and wide.high == 1 - theirs, (
        f"the interval must stay within the metric's range: {wide}")
    diverged = verdicts.pair([np.nan, np.nan, np.nan], [0.97, 0.965, 0.968], level=0.01)
    assert diverged.verdict == "worse", f"diverged seeds count as chance: {diverged}"


def test_verdicts_seeds_needed_decides_when_trained() -> None:
    rng = np.random.default_rng(3)
    d = rng.normal(0.0, 0.004, 4)
    first = verdicts.compare(d, M, 0.01)
    assert first.verdict == "undecided" and math.isfinite(first.seeds_needed), first
    more = np.concatenate([d, rng.normal(0.0, 0.004, int(first.seeds_needed) * 3)])
    assert verdicts.compare(more, M, 0.01).verdict == "equivalent", (
        f"{int(first.seeds_needed)} seeds were estimated, 3x that still does not decide")


# --- error rates by simulation ---------------------------------------------------------------
# A comparison's error rate is its share of the board (ALPHA / K); here 0.05 and 0.10 so that
# 4000 simulated comparisons measure it (a binomial standard error of 0.003-0.005; the bound
# checked is the stated rate plus 4 standard errors). Spreads: the paired differences of the
# smoke profile (sqrt(2) x 1.08 pt) and of the seed profile (sqrt(2) x 0.153 pt).
REPS = 4000
SPREADS = {"smoke": math.sqrt(2) * 0.0108, "seed": math.sqrt(2) * 0.00153}


def _slack(level: float) -> float:
    return 4 * math.sqrt(level * (1 - level) / REPS)


def test_verdicts_simulation_judges_as_the_library_does() -> None:
    s = Scenario(0.003, 0.004, 0.05, 3, 15)
    d = np.random.default_rng(4).normal(s.delta, s.sd, (60, s.max_seeds))
    verdict, used = judge_rows(d, s)
    for row, v, n in zip(d, verdict, used):
        one = verdicts.sequential(row, verdicts.looks_of(15, 3), 15, s.level, s.margin)
        assert (one.verdict, one.n) == (v, n), (one, v, n)
    assert len(set(verdict)) >= 2, f"the rows should not all end alike: {set(verdict)}"


@pytest.mark.parametrize("level", [0.05, 0.10])
@pytest.mark.parametrize("profile", list(SPREADS))
@pytest.mark.parametrize("batch, most", [(3, 3), (3, 30)], ids=["fixed3", "auto30"])
def test_verdicts_aa_called_better_or_worse_at_most_at_the_stated_rate(level, profile, batch,
                                                                      most) -> None:
    rates = simulate(Scenario(0.0, SPREADS[profile], level, batch, most), REPS)
    wrong = rates["better"] + rates["worse"]
    assert wrong <= level + _slack(level), f"A/A called better/worse in {wrong:.3%} > {level}"


@pytest.mark.parametrize("delta", [M, -M, 2 * M])
@pytest.mark.parametrize("batch, most", [(3, 3), (3, 30)], ids=["fixed3", "auto30"])
def test_verdicts_equivalent_at_most_at_the_stated_rate_beyond_the_margin(delta, batch,
                                                                          most) -> None:
    level = 0.10
    # the spread at which equivalence is hardest to avoid: near the seed profile's
    rates = simulate(Scenario(delta, SPREADS["seed"], level, batch, most), REPS)
    assert rates["equivalent"] <= level + _slack(level), (
        f"a true difference of {100 * delta:+.2f} pt called equivalent in "
        f"{rates['equivalent']:.3%}")


def test_verdicts_spending_is_what_keeps_optional_stopping_honest() -> None:
    """Judging every look at the full rate (no spending) breaks the stated rate on A/A; the
    Pocock-type spending keeps it: the check above can fail."""
    level, sd = 0.10, SPREADS["smoke"]
    rng = np.random.default_rng(0)
    d = rng.normal(0.0, sd, (REPS, 30))
    naive = np.zeros(REPS, dtype=bool)
    for n in range(3, 31, 3):
        e, lo, hi = t_intervals(d[:, :n], level)
        naive |= ((lo > 0) & (e > M)) | ((hi < 0) & (e < -M))
    spent = simulate(Scenario(0.0, sd, level, 3, 30), REPS)
    assert naive.mean() > level + _slack(level), f"naive peeking: {naive.mean():.3%}"
    assert spent["better"] + spent["worse"] <= level, spent


def test_verdicts_auto_stops_early_when_the_difference_is_large() -> None:
    rates = simulate(Scenario(0.02, SPREADS["seed"], verdicts.ALPHA / 48, 3, 30), 2000)
    assert rates["better"] > 0.99 and rates["mean_seeds"] < 6.5, rates


# --- the board and the loop ------------------------------------------------------------------

def _rows(seeds: tuple[int, ...], means: dict[str, float], sd: float, rng) -> pd.DataFrame:
    return pd.DataFrame([dict(experiment="exp", dataset="d", model="m", init=init, seed=s,
                              epoch=1, test_acc=rng.normal(mu, sd) if sd else mu,
                              diverged=False)
                         for init, mu in means.items() for s in seeds])


def test_verdicts_train_until_decided_stops_when_decided() -> None:
    rng = np.random.default_rng(5)
    means = {"he_normal": 0.97, "xavier_normal": 0.965, "zeros": 0.1, "mine": 0.971}
    calls = []

    def train(seeds):
        calls.append(seeds)
        return _rows(seeds, means, 0.0008, rng)

    run = verdicts.train_until_decided(train, {"he_normal", "xavier_normal", "zeros"}, 3, 30)
    board = run.verdicts.set_index("init")
    assert run.decided and len(calls) < 10, f"stopped after {len(calls)} batches"
    assert calls[0] == (0, 1, 2) and calls[1] == (3, 4, 5), calls
    assert board.loc["zeros", "verdict_vs_he"] == "worse"
    assert board.loc["mine", "verdict_vs_he"] == "equivalent"
    assert board.loc["xavier_normal", "verdict_vs_he"] == "worse"
    assert run.looks == list(range(3, 3 * len(calls) + 1, 3))
    # The leaderboard replays the same looks from the rows: the same verdicts.
    again = verdicts.board(verdicts.finals(run.epochs), {"he_normal", "xavier_normal", "zeros"},
                           verdicts.Design(3, 30)).set_index("init")
    assert (again["verdict_vs_he"] == board["verdict_vs_he"]).all()


def test_verdicts_train_until_decided_spends_the_budget_when_it_cannot_decide() -> None:
    rng = np.random.default_rng(6)
    means = {"he_normal": 0.97, "mine": 0.965}  # exactly the margin away: never decided

    run = verdicts.train_until_decided(lambda s: _rows(s, means, 0.01, rng), {"he_normal"}, 3, 9)
    row = run.verdicts[run.verdicts["init"] == "mine"].iloc[0]
    assert not run.decided and run.looks == [3, 6, 9], run.looks
    assert row["verdict_vs_he"] == "undecided" and row["vs_he_needed"] > 9, row.to_dict()
    line = verdicts.sentence(row, "exp")
    assert line.startswith("mine is undecided against he_normal") and "(9 seeds" in line, line


def test_verdicts_board_shares_alpha_over_the_given_comparisons() -> None:
    """A bench session's loop judges one experiment but answers to the whole profile's board:
    with ``Design.comparisons`` K the share is ALPHA / K (a wider interval), and the loop that
    is given the same design stops where the leaderboard's replay decides."""
    rng = np.random.default_rng(7)
    final = verdicts.finals(_rows(tuple(range(9)), {"he_normal": 0.97, "mine": 0.968}, 0.002,
                                  rng))
    alone = verdicts.board(final, {"he_normal"}).set_index("init").loc["mine"]
    shared = verdicts.board(final, {"he_normal"}, verdicts.Design(comparisons=400)
                            ).set_index("init").loc["mine"]
    widths = [row["vs_he_high"] - row["vs_he_low"] for row in (alone, shared)]
    assert widths[1] > 1.2 * widths[0], widths
    # Level by level: the counted board has K = 4 (two schemes, two comparisons each).
    d = final.pivot(index="seed", columns="init", values="test_acc")
    d = (d["mine"] - d["he_normal"]).to_numpy()
    for design, k in ((verdicts.Design(), 4), (verdicts.Design(comparisons=400), 400)):
        row = verdicts.board(final, {"he_normal"}, design).set_index("init").loc["mine"]
        low, high = verdicts.interval(d, regression.ALPHA / k)[1:3]
        assert (row["vs_he_low"], row["vs_he_high"]) == pytest.approx((low, high)), k
    rng = np.random.default_rng(8)
    run = verdicts.train_until_decided(
        lambda s: _rows(s, {"he_normal": 0.97, "zeros": 0.1, "mine": 0.9705}, 0.001, rng),
        {"he_normal", "zeros"}, 3, 30, verdicts.Design(comparisons=40))
    again = verdicts.board(verdicts.finals(run.epochs), {"he_normal", "zeros"},
                           verdicts.Design(3, 30, comparisons=40)).set_index("init")
    assert run.decided and (again["verdict_vs_he"] == run.verdicts.set_index("init")[
        "verdict_vs_he"]).all(), (run.looks, again["verdict_vs_he"].to_dict())


def test_verdicts_sentence_equivalent() -> None:
    row = pd.Series(dict(init="my_init", verdict_vs_he="equivalent", vs_he_seeds=12,
                         vs_he_effect=0.0004, vs_he_low=-0.002, vs_he_high=0.003, margin=0.005,
                         vs_he_needed=math.nan))
    assert verdicts.sentence(row, "seed-recipe").startswith(
        "my_init is equivalent to he_normal within +-0.5 pt on seed-recipe (12 seeds")


# --- the command line ------------------------------------------------------------------------

def test_cli_run_seeds_auto_writes_verdicts(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    code = cli.main(["run", "--init", "he_normal", "zeros", "--seeds", "auto", "--max-seeds",
                     "6", "--epochs", "1", "--hidden", "16", "--report-dir", "r",
                     "--run-id", "auto"])
    out, err = capsys.readouterr()
    assert code == 0, f"exit {code}: {err}"
    board = pd.read_csv(tmp_path / "r" / "auto" / "leaderboard.csv").set_index("init")
    assert board.loc["zeros", "verdict_vs_he"] == "worse", board.T
    assert board.loc["zeros", "vs_he_seeds"] in (3, 6), "decided at a look of 3 seeds"
    assert "verdict_vs_best" in board.columns and "iqm" in board.columns
    assert "worse -" in out, out


@pytest.mark.parametrize("args, words", [
    (["--seeds", "many"], "--seeds"),
    (["--seeds", "auto", "--no-grid"], "--seeds auto"),
    (["--seeds", "auto", "--max-seeds", "0"], "--max-seeds"),
    (["--margin", "0"], "--margin"),
])
def test_cli_run_seeds_auto_bad_input_one_line(tmp_path: Path, monkeypatch, capsys, args,
                                               words) -> None:
    monkeypatch.chdir(tmp_path)
    code = cli.main(["run", "--init", "he_normal", "--epochs", "1", "--hidden", "16",
                     "--report-dir", "r", *args])
    _, err = capsys.readouterr()
    assert code == cli.EXIT_USAGE and len(err.splitlines()) == 1 and words in err, (code, err)
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").rglob("*.csv"))
