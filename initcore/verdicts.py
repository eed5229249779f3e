"""Verdicts: is a scheme better than, worse than, or equivalent to another on one recipe, or
is it undecided (and how many seeds would decide it)? And seeds trained until it is decided.

**The unit is the seed pair.** Seed ``s`` fixes the data order of every scheme alike
(``DATA_ORDER_OFFSET`` in :mod:`initcore.train`), so the per-seed differences
``d_s = acc(A, s) - acc(B, s)`` of two schemes *of one experiment* are paired data; schemes
of different recipes or datasets are never paired (they are different experiments). A
diverged seed enters with the accuracy of the constant prediction (``chance``): it is a real,
bad outcome, not a missing one.

**The interval.** The paired mean difference with a two-sided ``1 - level`` interval from the
paired t-test (``scipy.stats.ttest_rel``). Robust rule: when a seed of either scheme diverged
or is stuck (final accuracy at or below :func:`initcore.leaderboard.trains_threshold`) while
another seed of the same scheme trains, the differences hold real outliers, and the interval
is the Hodges-Lehmann estimate with the distribution-free interval obtained by inverting the
Wilcoxon signed-rank test (``scipy.stats.wilcoxon``; Hollander & Wolfe, *Nonparametric
Statistical Methods*, 3.2). Differences that are all equal (deterministic schemes) give an
exact, zero-width interval. Every interval is clipped to what the metric allows: the mean of
``acc(A) - acc(B)`` lies in ``[-mean(B), 1 - mean(B)]``.

**Four verdicts** from the interval ``[low, high]`` and the margin ``m`` (per experiment,
default 0.5 point = the gate's MIN_ACC_DROP):

* ``better``: ``low > 0`` and the estimate ``> m`` (a real difference, larger than the margin);
* ``worse``: ``high < 0`` and the estimate ``< -m``;
* ``equivalent``: ``-m < low`` and ``high < m`` (two one-sided tests, Schuirmann 1987, each at
  ``level / 2``);
* ``undecided`` otherwise, with the seeds a fixed run would need (:func:`seeds_needed`).

Error rates: a ``1 - level`` interval misses the true difference with probability at most
``level``; only then can a verdict be wrong (``better``/``worse`` when the true difference is 0
or of the other sign, ``equivalent`` when it is ``>= m`` in size). A/A pairs are therefore
called ``better`` or ``worse`` with probability at most ``level``.

**A board** (all comparisons of a leaderboard: every scheme against ``he_normal`` and against
the best built-in scheme) is one family: each comparison gets ``ALPHA / K`` (Bonferroni over its
K comparisons), so the probability of even one wrong verdict on the board is at most ``ALPHA``
(0.01, the gate's), whatever the dependence between comparisons. The best built-in scheme is
chosen from the data: that one reference is a selected one, as in any "vs best" table. A
``pytest bench --seeds auto`` session judges each experiment's looks on their own but as part
of the whole profile's board: its K is given (``Design.comparisons``), the same in the loop and
in the leaderboard.

**Seeds until decided** (``--seeds auto``): seeds are trained in batches of the profile's seed
count ("looks" at n_1 < n_2 < ... <= ``max_seeds``) and each undecided comparison is judged
again at every look. The error control under this optional stopping is a group-sequential
design with Lan-DeMets alpha spending (Lan & DeMets 1983, *Biometrika* 70:659): look k at
information time ``t_k = n_k / max_seeds`` spends ``alpha(t_k) - alpha(t_{k-1})`` of the
comparison's ``ALPHA / K``, with the Pocock-type spending function
``alpha(t) = a ln(1 + (e - 1) t)`` (default: early looks get a fair share, which is what stops
early) or the O'Brien-Fleming-type ``alpha(t) = 2 - 2 Phi(z_{1-a/2} / sqrt(t))``. The level of
each look's interval is its increment, so the union bound (Bonferroni over the looks) gives
simultaneous coverage of all looks: valid for the t and the Wilcoxon interval alike and for any
dependence between looks, slightly conservative against the exact recursive boundaries
(Jennison & Turnbull 2000, *Group Sequential Methods*, ch. 7 and 9: repeated confidence
intervals). A comparison keeps the first verdict it reaches; a fixed-seed run is the one-look
design (the whole ``ALPHA / K`` at once).

Beside the mean, rliable's measures (Agarwal et al. 2021, *Deep RL at the Edge of the
Statistical Precipice*): the interquartile mean (``scipy.stats.trim_mean``, 25 % cut each
side) with a bootstrap interval over seeds (``scipy.stats.bootstrap``; one task per
experiment, so the stratified bootstrap is the plain one) and the probability of improvement
P(X > Y) (Mann-Whitney U / (n m), ties count one half).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

# scipy.stats (~1 s to import) is imported inside the functions that use it, so that a process
# that never judges a verdict (a usage error, `initcore list`) does not pay for it (issue 23).
from .options import MAX_SEEDS  # default --max-seeds of --seeds auto (declared with it)
from .regression import ALPHA, MIN_ACC_DROP

MARGIN = MIN_ACC_DROP  # default equivalence margin (fraction): 0.5 point, the gate's floor
SPENDINGS = ("pocock", "obrien-fleming")
VERDICTS = ("better", "worse", "equivalent", "undecided")
REFERENCE = "he_normal"
MAX_NEEDED = 10_000  # seeds_needed above this is reported as inf ("not with seeds")


# ---------------------------------------------------------------------------------------------
# One comparison
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Comparison:
    """The verdict of one paired comparison (accuracies as fractions)."""

    verdict: str  # one of VERDICTS
    effect: float  # paired mean difference (Hodges-Lehmann for the robust test)
    low: float  # interval of the effect at ``level``, clipped to the metric's range
    high: float
    n: int  # seed pairs it was judged on
    test: str  # "paired t", "wilcoxon" (robust) or "exact" (all differences equal)
    level: float  # error rate of this look's interval
    seeds_needed: float = math.nan  # undecided: estimated seeds of a fixed run that decides


def spent(alpha: float, t: float, spending: str = "pocock") -> float:
    """Lan-DeMets alpha spent by information time ``t`` (0..1) of a design at level alpha."""
    t = min(max(t, 0.0), 1.0)
    if spending == "pocock":
        return alpha * math.log(1 + (math.e - 1) * t)
    elif spending == "obrien-fleming":
        if t == 0:
            return 0.0
        from scipy import stats  # in this branch only: a Design made at import calls spent()
        return float(2 - 2 * stats.norm.cdf(stats.norm.ppf(1 - alpha / 2) / math.sqrt(t)))
    else:
        raise ValueError(f"spending {spending!r} not supported, use one of {SPENDINGS}")


def classify(effect: float, low: float, high: float, margin: float) -> str:
    """better / worse / equivalent / undecided from an interval and the margin (module doc)."""
    if low > 0 and effect > margin:
        return "better"
    if high < 0 and effect < -margin:
        return "worse"
    if -margin < low and high < margin:
        return "equivalent"
    return "undecided"


def interval(d: np.ndarray, level: float, robust: bool = False) -> tuple[float, float, float, str]:
    """(effect, low, high, test) of the paired differences ``d`` at error rate ``level``."""
    from scipy import stats
    d = np.asarray(d, dtype=float)
    if len(d) == 0:
        return math.nan, -math.inf, math.inf, "none"
    if np.ptp(d) == 0:
        if len(d) == 1:  # one pair: no spread known, nothing decided
            return float(d[0]), -math.inf, math.inf, "paired t"
        return float(d[0]), float(d[0]), float(d[0]), "exact"
    if robust:
        return (*_wilcoxon_interval(d, level), "wilcoxon")
    result = stats.ttest_rel(d, np.zeros_like(d))
    ci = result.confidence_interval(confidence_level=1 - level)
    return float(d.mean()), float(ci.low), float(ci.high), "paired t"


def _wilcoxon_interval(d: np.ndarray, level: float) -> tuple[float, float, float]:
    """Hodges-Lehmann estimate and the set of shifts theta that the two-sided Wilcoxon
    signed-rank test of ``d - theta`` does not reject at ``level`` (its ends are Walsh
    averages; unbounded when no shift can be rejected with so few pairs)."""
    from scipy import stats
    walsh = np.sort(np.unique([(a + b) / 2 for i, a in enumerate(d) for b in d[i:]]))
    estimate = float(np.median([(a + b) / 2 for i, a in enumerate(d) for b in d[i:]]))

    def accepted(theta: float) -> bool:
        shifted = d - theta
        if not np.any(shifted):
            return True
        return stats.wilcoxon(shifted, zero_method="zsplit").pvalue > level

    if accepted(walsh[0] - 1.0):  # even all-positive differences are not rejected
        return estimate, -math.inf, math.inf
    # The accepted shifts form an interval around the estimate: bisect for each end over the
    # midpoints between Walsh averages (the p-value only changes at a Walsh average).
    mids = (walsh[:-1] + walsh[1:]) / 2
    centre = int(np.searchsorted(mids, estimate))  # mids[:centre] < estimate <= mids[centre:]
    lo, hi = 0, centre  # first accepted midpoint left of the estimate (centre: none)
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if accepted(mids[mid]) else (mid + 1, hi)
    first = lo
    lo, hi = centre, len(mids)  # first rejected midpoint right of the estimate
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (mid + 1, hi) if accepted(mids[mid]) else (lo, mid)
    last = lo - 1
    low = float(walsh[first]) if first < centre else estimate
    high = float(walsh[last + 1]) if last >= centre else estimate
    return estimate, min(low, estimate), max(high, estimate)


def seeds_needed(d: np.ndarray, margin: float, level: float) -> float:
    """Seeds a fixed (one-look) run at ``level`` would need for the paired t interval around
    the present estimate to decide: narrower than ``|effect|`` when it is beyond the margin,
    than ``margin - |effect|`` when within; inf when that is over MAX_NEEDED (the estimate sits
    on the margin) or there is no spread to plan with."""
    from scipy import stats
    d = np.asarray(d, dtype=float)
    if len(d) < 2 or np.ptp(d) == 0:
        return math.nan
    effect, sd = abs(float(d.mean())), float(d.std(ddof=1))
    room = effect if effect > margin else margin - effect
    if room <= 0:
        return math.inf
    n = np.arange(2, MAX_NEEDED + 1)
    enough = np.flatnonzero(stats.t.ppf(1 - level / 2, n - 1) * sd / np.sqrt(n) < room)
    if len(enough) == 0:
        return math.inf
    return float(max(n[enough[0]], len(d) + 1))  # undecided now: at least one more


def compare(d: np.ndarray, margin: float, level: float, robust: bool = False,
            bounds: tuple[float, float] = (-1.0, 1.0)) -> Comparison:
    """One look: the verdict of the paired differences ``d`` at error rate ``level``;
    ``bounds``: the range the mean difference can take (the interval is clipped to it)."""
    effect, low, high, test = interval(d, level, robust)
    low, high = max(low, bounds[0]), min(high, bounds[1])
    verdict = classify(effect, low, high, margin) if len(d) else "undecided"
    needed = seeds_needed(d, margin, level) if verdict == "undecided" else math.nan
    return Comparison(verdict, effect, low, high, len(d), test, level, needed)


def pair(mine: Sequence[float], theirs: Sequence[float], margin: float = MARGIN,
         level: float = ALPHA, chance: float = 0.1135, trains_at: float | None = None
         ) -> Comparison:
    """One look at two schemes' per-seed final accuracies (same seeds, same order; NaN: a
    diverged seed, entered at ``chance``), with the robust rule and the range clipping of the
    module doc: what a registered claim (``not_worse_than``, ``better_than``) is judged by."""
    trains_at = chance + 0.20 if trains_at is None else trains_at
    a = np.nan_to_num(np.asarray(mine, dtype=float), nan=chance)
    b = np.nan_to_num(np.asarray(theirs, dtype=float), nan=chance)
    if len(a) != len(b):
        raise ValueError(f"paired comparison needs the same seeds, got {len(a)} and {len(b)}")
    robust = _outliers(a, trains_at) or _outliers(b, trains_at)
    bounds = (-b.mean(), 1 - b.mean()) if len(b) else (-1.0, 1.0)
    return compare(a - b, margin, level, robust, bounds)


def sequential(d: np.ndarray, looks: Sequence[int], max_seeds: int, alpha: float, margin: float,
               robust: bool = False, bounds: tuple[float, float] = (-1.0, 1.0),
               spending: str = "pocock") -> Comparison:
    """The group-sequential verdict of differences ``d`` (ordered by seed) judged at ``looks``
    (seed counts, increasing): the first look that decides, else the last look, undecided.
    ``alpha`` is this comparison's share of the board; look k spends
    ``spent(t_k) - spent(t_{k-1})`` with ``t = n / max_seeds`` (module doc)."""
    result, before = None, 0.0
    for n in looks:
        now = spent(alpha, n / max_seeds, spending)
        result = compare(d[:n], margin, now - before, robust, bounds)
        before = now
        if result.verdict != "undecided":
            return result
    if result is None:
        return compare(d[:0], margin, alpha)
    # An undecided comparison is planned as a fixed run at the whole share of alpha.
    return Comparison(**{**result.__dict__, "seeds_needed": seeds_needed(d, margin, alpha)})


def looks_of(n_seeds: int, batch: int | None) -> list[int]:
    """The seed counts judged: every ``batch`` seeds up to ``n_seeds`` (one look when None)."""
    if not batch or batch >= n_seeds:
        return [n_seeds]
    return [*range(batch, n_seeds, batch), n_seeds]


# ---------------------------------------------------------------------------------------------
# A board: every scheme of every experiment against He and the best built-in scheme
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Design:
    """How a board's seeds were (or will be) trained: one look (fixed seeds), or batches of
    ``batch`` seeds up to ``max_seeds`` (``--seeds auto``)."""

    batch: int | dict[str, int] | None = None  # seeds per look (or per experiment name);
    # None: a fixed run (one look at all its seeds)
    max_seeds: int | None = None  # planned maximum (information time t = n / max_seeds)
    margin: float = MARGIN  # equivalence margin (fraction)
    alpha: float = ALPHA  # family-wise error rate of the whole board
    spending: str = "pocock"
    comparisons: int | None = None  # K of the board the alpha is shared by; None: counted
    # from the rows judged (a bench session's loop judges one experiment at a time, but the
    # board it answers to is the whole profile's: its K is given, so loop and leaderboard agree)

    def __post_init__(self) -> None:
        spent(self.alpha, 1.0, self.spending)  # ValueError for an unknown spending
        if not 0 < self.alpha < 1 or self.margin <= 0:
            raise ValueError(f"need 0 < alpha < 1 and margin > 0, got {self.alpha}, "
                             f"{self.margin}")


def finals(epochs: pd.DataFrame) -> pd.DataFrame:
    """The last epoch of every (experiment, init, seed): ``test_acc`` and ``diverged``."""
    keys = [c for c in ("experiment", "dataset", "model") if c in epochs.columns]
    last = epochs.sort_values("epoch").groupby([*keys, "init", "seed"], sort=False).tail(1)
    return last[[*keys, "init", "seed", "test_acc", "diverged"]].reset_index(drop=True)


def board(final: pd.DataFrame, builtin: set[str], design: Design = Design(),
          chance: float = 0.1135, trains_at: float | None = None,
          margins: dict[str, float] | None = None) -> pd.DataFrame:
    """Verdicts of every scheme of every experiment of ``final`` (:func:`finals`) against He
    and against the best built-in scheme other than itself (best by mean at the deciding look).

    One row per (experiment..., init): ``verdict_vs_he``, ``vs_he_effect``, ``vs_he_low``,
    ``vs_he_high``, ``vs_he_test``, ``vs_he_seeds`` (the seeds it was judged on),
    ``vs_he_needed``, the same for ``vs_best``, ``best_builtin``, ``margin``, ``seeds_used``,
    ``iqm``, ``iqm_low``, ``iqm_high``, ``p_improve_he``. ``trains_at``: the accuracy a seed
    must pass to count as training (default chance + 0.2); ``margins``: per experiment name."""
    trains_at = chance + 0.20 if trains_at is None else trains_at
    keys = [c for c in ("experiment", "dataset", "model") if c in final.columns]
    cells = list(final.groupby(keys, sort=False))
    k = design.comparisons or sum(2 * part["init"].nunique() for _, part in cells)  # K
    share = design.alpha / max(k, 1)
    rows = []
    for cell, part in cells:
        cell = cell if isinstance(cell, tuple) else (cell,)
        name = dict(zip(keys, cell)).get("experiment", "")
        margin = (margins or {}).get(name, design.margin)
        acc = part.assign(test_acc=part["test_acc"].where(~part["diverged"].astype(bool)
                                                          & part["test_acc"].notna(), chance))
        table = acc.pivot_table(index="seed", columns="init", values="test_acc", sort=True)
        table = table.dropna()  # seeds every scheme has: the pairs
        n = len(table)
        batch = design.batch.get(name) if isinstance(design.batch, dict) else design.batch
        looks = looks_of(n, batch)
        top = design.max_seeds or n
        for init in part["init"].unique():
            row = dict(zip(keys, cell), init=init, margin=margin, seeds_used=0)
            mine = table[init].to_numpy()
            row.update(_rliable(mine, table[REFERENCE].to_numpy()
                                if REFERENCE in table and init != REFERENCE else None))
            for prefix in ("vs_he", "vs_best"):
                result, other = _judge(table, init, prefix, builtin, looks, top, share, margin,
                                       trains_at, design.spending)
                row[f"verdict_{prefix}"] = result.verdict if result else ""
                for field in ("effect", "low", "high"):
                    row[f"{prefix}_{field}"] = getattr(result, field) if result else math.nan
                row[f"{prefix}_test"] = result.test if result else ""
                row[f"{prefix}_seeds"] = result.n if result else 0
                row[f"{prefix}_needed"] = result.seeds_needed if result else math.nan
                if prefix == "vs_best":
                    row["best_builtin"] = other or ""
                if result:
                    row["seeds_used"] = max(row["seeds_used"], result.n)
            rows.append(row)
    return pd.DataFrame(rows)


def _judge(table: pd.DataFrame, init: str, prefix: str, builtin: set[str], looks: list[int],
           top: int, share: float, margin: float, trains_at: float, spending: str
           ) -> tuple[Comparison | None, str | None]:
    """One comparison of the board: against He, or against the best built-in scheme at each
    look (the best may change as seeds come in)."""
    mine = table[init].to_numpy()
    before, result, other = 0.0, None, None
    for n in looks:
        if prefix == "vs_he":
            other = REFERENCE if REFERENCE in table and init != REFERENCE else None
        else:
            candidates = [b for b in table.columns if b in builtin and b != init]
            other = max(candidates, key=lambda b: table[b].to_numpy()[:n].mean(), default=None)
        if other is None:
            return None, None
        theirs = table[other].to_numpy()
        robust = _outliers(mine[:n], trains_at) or _outliers(theirs[:n], trains_at)
        now = spent(share, n / top, spending)
        bounds = (-theirs[:n].mean(), 1 - theirs[:n].mean())
        result = compare(mine[:n] - theirs[:n], margin, now - before, robust, bounds)
        before = now
        if result.verdict != "undecided":
            return result, other
    d = mine - table[other].to_numpy()
    return Comparison(**{**result.__dict__, "seeds_needed": seeds_needed(d, margin, share)}), other


def _outliers(acc: np.ndarray, trains_at: float) -> bool:
    """The robust rule: some seeds are stuck or diverged (entered at chance) and others train."""
    stuck = acc <= trains_at
    return bool(stuck.any() and not stuck.all())


def _rliable(mine: np.ndarray, he: np.ndarray | None) -> dict[str, float]:
    """IQM with its 95 % bootstrap interval over seeds, and P(mine > he) (rliable's measures)."""
    from scipy import stats
    out = {"iqm": float(stats.trim_mean(mine, 0.25)), "iqm_low": math.nan, "iqm_high": math.nan,
           "p_improve_he": math.nan}
    if len(mine) > 1 and np.ptp(mine) > 0:
        ci = stats.bootstrap((mine,), lambda x, axis: stats.trim_mean(x, 0.25, axis=axis),
                             n_resamples=2000, method="percentile",
                             rng=np.random.default_rng(0)).confidence_interval
        out["iqm_low"], out["iqm_high"] = float(ci.low), float(ci.high)
    elif len(mine):
        out["iqm_low"] = out["iqm_high"] = out["iqm"]
    if he is not None and len(mine) and len(he):
        u = stats.mannwhitneyu(mine, he).statistic
        out["p_improve_he"] = float(u / (len(mine) * len(he)))
    return out


# ---------------------------------------------------------------------------------------------
# Seeds until decided
# ---------------------------------------------------------------------------------------------

def undecided(verdicts: pd.DataFrame, builtin: set[str]) -> pd.DataFrame:
    """The comparisons that matter and are not decided: every scheme against He (or, where He
    is not trained, against the best built-in one) and every user scheme against the best."""
    if verdicts.empty:
        return verdicts
    he_missing = (verdicts["verdict_vs_he"] == "") & (verdicts["init"] != REFERENCE)
    open_he = verdicts["verdict_vs_he"] == "undecided"
    user = ~verdicts["init"].isin(builtin) | he_missing
    open_best = user & (verdicts["verdict_vs_best"] == "undecided")
    return verdicts[open_he | open_best]


@dataclass
class SequentialRun:
    """What :func:`train_until_decided` did: the per-epoch rows of every seed trained, the
    seed counts judged, the final verdicts, and whether every comparison that matters was
    decided within the budget."""

    epochs: pd.DataFrame
    looks: list[int]
    verdicts: pd.DataFrame
    decided: bool
    seconds: float = 0.0  # wall time of the whole loop (training and judging)


def train_until_decided(train: Callable[[tuple[int, ...]], pd.DataFrame], builtin: set[str],
                        batch: int, max_seeds: int = MAX_SEEDS, design: Design | None = None,
                        chance: float = 0.1135, margins: dict[str, float] | None = None,
                        report: Callable[[str], None] | None = None) -> SequentialRun:
    """``--seeds auto``: call ``train(seeds)`` (per-epoch rows of those seeds, every scheme of
    the board) for seeds 0..batch-1, then the next ``batch``, ... until every comparison that
    matters (:func:`undecided`) has a verdict or ``max_seeds`` are trained; the verdicts are the
    group-sequential ones of the module doc, with looks at every batch and information time
    ``n / max_seeds``. ``report``: called with one line per look."""
    if batch < 1 or max_seeds < batch:
        raise ValueError(f"need 1 <= batch <= max_seeds, got batch {batch}, max {max_seeds}")
    design = replace(design or Design(), batch=batch, max_seeds=max_seeds)
    tables: list[pd.DataFrame] = []
    n, verdicts, start = 0, pd.DataFrame(), time.perf_counter()
    while n < max_seeds:
        seeds = tuple(range(n, min(n + batch, max_seeds)))
        tables.append(train(seeds))
        n += len(seeds)
        epochs = pd.concat(tables, ignore_index=True)
        verdicts = board(finals(epochs), builtin, design, chance, margins=margins)
        left = undecided(verdicts, builtin)
        if report:
            report(f"--seeds auto: {n} seeds ({time.perf_counter() - start:.0f} s), "
                   f"{len(left)} comparison(s) undecided")
        if left.empty:
            break
    epochs = pd.concat(tables, ignore_index=True)
    return SequentialRun(epochs, looks_of(n, batch), verdicts,
                         undecided(verdicts, builtin).empty, time.perf_counter() - start)


def sentence(row: pd.Series, experiment: str) -> str:
    """One line per user scheme: its verdict against He, e.g. ``my_init is equivalent to
    he_normal within +-0.5 pt on seed-recipe (12 seeds)``."""
    verdict, n = row["verdict_vs_he"], int(row["vs_he_seeds"])
    effect = f"{100 * row['vs_he_effect']:+.2f} pt [{100 * row['vs_he_low']:+.2f}, " \
             f"{100 * row['vs_he_high']:+.2f}]"
    margin = f"{100 * row['margin']:g} pt"
    if verdict == "equivalent":
        what = f"is equivalent to {REFERENCE} within +-{margin}"
    elif verdict in ("better", "worse"):
        what = f"is {verdict} than {REFERENCE} by more than {margin}"
    elif verdict == "undecided":
        needed = row["vs_he_needed"]
        more = "" if not math.isfinite(needed) else f"; about {int(needed)} seeds would decide"
        what = f"is undecided against {REFERENCE} (margin {margin}{more})"
    else:
        return f"{row['init']}: no verdict against {REFERENCE} on {experiment}"
    return f"{row['init']} {what} on {experiment} ({n} seeds, effect {effect})"
