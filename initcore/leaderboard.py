"""The leaderboard: every scheme of an experiment ranked by final test accuracy over seeds, each
tested against the best built-in scheme and against He with the regression gate's statistics.

Per (experiment, scheme): the seeds' final accuracies (diverged seeds excluded from the mean and
counted), mean, std, a 95% t-interval of the mean, the rank by mean, and two Welch t-tests
(unequal variances, two-sided: a newcomer can be better or worse) -- against the best built-in
scheme other than itself, and against ``he_normal``. As in the gate (:mod:`initcore.regression`)
all the tests of one leaderboard form one family for Holm's procedure at ``ALPHA``, and a
difference smaller than ``MIN_ACC_DROP`` is never called one, however small its p-value.

Beside those, the verdicts of :mod:`initcore.verdicts` (paired per seed; better / worse /
equivalent within the margin / undecided with the seeds it would need; family-wise error at most
``ALPHA`` over the board, valid under ``--seeds auto``'s optional stopping): ``verdict_vs_he``,
``verdict_vs_best``, the paired effect with its interval, the margin, the seeds used, and
rliable's interquartile mean and probability of improvement. The terminal lines show these
verdicts; the Welch columns stay for the p-values.

Written as ``<run>/leaderboard.csv`` by ``pytest bench`` and ``initcore run`` and printed in
their terminal summary; ``initcore plot`` draws it (:func:`initcore.plots.plot_leaderboard`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from . import verdicts
from .regression import ALPHA, MIN_ACC_DROP, holm_rejections
from .stats import welch_two_sided  # the one Welch test (two-sided, per-seed values)

LEADERBOARD_FILE = "leaderboard.csv"
THEORY_FILE = "theory.csv"  # per scheme: n Var(W)/2 and the signal at depth (bench/test_newcomers)
REFERENCE = "he_normal"  # the classic every newcomer is also held against
CONFIDENCE = 0.95  # of the interval of the mean drawn by the figure
COLUMNS = ["experiment", "dataset", "model", "rank", "init", "source", "n_seeds", "n_diverged",
           "acc_mean", "acc_std", "ci_low", "ci_high", "trains", "best_builtin",
           "vs_best_pt", "vs_best_p", "vs_best", "vs_he_pt", "vs_he_p", "vs_he", "n_var_half",
           "signal"]
# The verdicts (initcore.verdicts.board), fractions like acc_mean; *_seeds: the seeds a verdict
# was reached on, *_needed: for an undecided one, the seeds a fixed run would need.
VERDICT_COLUMNS = ["margin", "seeds_used", "verdict_vs_he", "vs_he_effect", "vs_he_low",
                   "vs_he_high", "vs_he_test", "vs_he_seeds", "vs_he_needed", "verdict_vs_best",
                   "vs_best_other", "vs_best_effect", "vs_best_low", "vs_best_high",
                   "vs_best_test", "vs_best_seeds", "vs_best_needed", "iqm", "iqm_low",
                   "iqm_high", "p_improve_he"]
COLUMNS += VERDICT_COLUMNS


def final_accuracies(epochs: pd.DataFrame) -> pd.DataFrame:
    """One row per (experiment, dataset, model, init, seed): the last epoch's accuracy (NaN for a
    diverged seed) and whether it diverged."""
    keys = [c for c in ("experiment", "dataset", "model") if c in epochs.columns]
    last = epochs.sort_values("epoch").groupby([*keys, "init", "seed"], sort=False).tail(1)
    return last[[*keys, "init", "seed", "test_acc", "diverged"]].reset_index(drop=True)


def interval(values: np.ndarray, low: float = 0.0, high: float = 1.0) -> tuple[float, float]:
    """95% Student-t interval of the mean of the finite ``values``, truncated to the range the
    mean can take, [``low``, ``high``] (accuracies: [0, 1]); the mean itself with one value.

    mean +- t_{0.975, n-1} s / sqrt(n) overshoots the range when few seeds spread widely (smoke
    profile, metainit: 3 seeds between 36% and 80%, t = 4.30: the top at 112%). The true mean
    lies in the range, so cutting the interval there keeps every mean it covered: the coverage
    stays 95% (the t-interval's, approximate for few seeds) and the ends stay possible values."""
    from scipy import stats  # here, not at the top: scipy.stats takes ~1 s to import (issue 23)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return math.nan, math.nan
    mean = float(values.mean())
    if len(values) == 1:
        return mean, mean
    half = stats.t.ppf((1 + CONFIDENCE) / 2, len(values) - 1) * values.std(ddof=1) / math.sqrt(
        len(values))
    return max(mean - half, low), min(mean + half, high)


def trains_threshold(chance: float) -> float:
    """The accuracy every seed must pass to count as training: the majority class's share plus
    20 points. Measured on the smoke profile (mnist-5k, 3 epochs, seeds 0-9): a scheme that
    does not learn sits at 10-11.4% (zeros, seed_zero: the output bias learns the class prior);
    the worst built-in scheme that learns (random_normal) is at >= 70%; 20 points over chance
    leaves both far from the line."""
    return chance + 0.20


def build(epochs: pd.DataFrame, builtin: set[str], chance: float = 0.1135,
          alpha: float = ALPHA, theory: pd.DataFrame | None = None,
          design: verdicts.Design | None = None,
          margins: dict[str, float] | None = None) -> pd.DataFrame:
    """The leaderboard of every experiment in ``epochs`` (the per-epoch report table).

    ``builtin``: the names of initcore's own schemes (the best of them is what a newcomer is
    compared with); ``chance``: the majority-class share of the test set (MNIST: 11.35%);
    ``theory``: the run's theory.csv, whose n Var(W)/2 and signal verdict join each scheme;
    ``design``: how the seeds were trained (``--seeds auto``: batches, max seeds; default one
    look at all of them), ``margins``: equivalence margin per experiment (default 0.5 pt)."""
    finals = final_accuracies(epochs)
    keys = [c for c in ("experiment", "dataset", "model") if c in finals.columns]
    rows = []
    for cell, part in finals.groupby(keys, sort=False):
        cell = cell if isinstance(cell, tuple) else (cell,)
        per_init = {init: g["test_acc"].to_numpy(dtype=float)
                    for init, g in part.groupby("init", sort=False)}
        means = {init: (np.nanmean(v) if np.isfinite(v).any() else -math.inf)
                 for init, v in per_init.items()}
        ranked = sorted(per_init, key=lambda init: -means[init])
        for rank, init in enumerate(ranked, start=1):
            values = per_init[init]
            best = max((b for b in per_init if b in builtin and b != init),
                       key=lambda b: means[b], default=None)
            low, high = interval(values)
            finite = values[np.isfinite(values)]
            row = dict(zip(keys, cell))
            row.update(
                rank=rank, init=init, source="built-in" if init in builtin else "user",
                n_seeds=len(values), n_diverged=int((~np.isfinite(values)).sum()),
                acc_mean=float(finite.mean()) if len(finite) else math.nan,
                acc_std=float(finite.std(ddof=1)) if len(finite) > 1 else math.nan,
                ci_low=low, ci_high=high,
                trains=bool(len(finite) == len(values)
                            and (finite > trains_threshold(chance)).all()),
                best_builtin=best or "")
            for prefix, other in (("vs_best", best), ("vs_he", REFERENCE)):
                if other is None or other == init or other not in per_init:
                    row[f"{prefix}_pt"], row[f"{prefix}_p"] = math.nan, math.nan
                else:
                    # means[other] is -inf where every seed diverged (He on the residual net)
                    row[f"{prefix}_pt"] = (100 * (row["acc_mean"] - means[other])
                                           if math.isfinite(means[other]) else math.nan)
                    row[f"{prefix}_p"] = welch_two_sided(values, per_init[other])
            rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=COLUMNS)
    table = _verdicts(table, alpha)
    design = design or verdicts.Design(alpha=alpha)
    judged = verdicts.board(finals, builtin, design, chance, trains_threshold(chance), margins)
    table = table.merge(judged.rename(columns={"best_builtin": "vs_best_other"}),
                        on=[*keys, "init"], how="left")
    if theory is not None and not theory.empty:
        signal = theory.drop_duplicates("init", keep="last").set_index("init")
        table["n_var_half"] = table["init"].map(signal["n_var_half_mean"])
        table["signal"] = table["init"].map(signal["signal"]).fillna("")
    return table[[c for c in COLUMNS if c in table.columns]]


def _verdicts(table: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """"better" / "worse" / "n.s." (no significant difference above MIN_ACC_DROP) for every
    test of the table, Holm-corrected over all of them together."""
    cells = [(i, prefix) for prefix in ("vs_best", "vs_he") for i in table.index
             if pd.notna(table.at[i, f"{prefix}_p"])]
    rejected = holm_rejections([table.at[i, f"{p}_p"] for i, p in cells], alpha)
    for prefix in ("vs_best", "vs_he"):
        table[prefix] = ""
    for (i, prefix), significant in zip(cells, rejected):
        diff = table.at[i, f"{prefix}_pt"] / 100
        if significant and abs(diff) > MIN_ACC_DROP:
            table.at[i, prefix] = "better" if diff > 0 else "worse"
        else:
            table.at[i, prefix] = "n.s."  # not significant (or below MIN_ACC_DROP)
    return table


def format_leaderboard(table: pd.DataFrame) -> list[str]:
    """Terminal lines: per experiment, the ranked schemes with mean +- std, the interval, the
    IQM and the two verdicts (paired effect and interval in points, seeds judged); then one
    sentence per user scheme (:func:`initcore.verdicts.sentence`)."""
    lines = []
    keys = [c for c in ("experiment", "dataset", "model") if c in table.columns]
    judged = "verdict_vs_he" in table.columns
    for cell, part in table.groupby(keys, sort=False):
        cell = cell if isinstance(cell, tuple) else (cell,)
        if judged:
            margin = 100 * float(part["margin"].iloc[0])
            lines.append(f"leaderboard {' / '.join(map(str, cell))} (paired verdicts vs best "
                         f"built-in and vs {REFERENCE}, margin +-{margin:g} pt, error <= "
                         f"{ALPHA:g} over the board):")
        else:
            lines.append(f"leaderboard {' / '.join(map(str, cell))} "
                         f"(Welch vs best built-in and vs {REFERENCE}, Holm alpha {ALPHA:g}):")
        shown = pd.DataFrame({
            "#": part["rank"],
            "init": part["init"] + part["source"].map({"user": " *", "built-in": ""}),
            "acc % (mean +- std)": [
                f"{100 * m:6.2f} +- {100 * s:5.2f}" if pd.notna(s) else f"{100 * m:6.2f}"
                for m, s in zip(part["acc_mean"], part["acc_std"])],
            "95% CI": [f"{100 * lo:.2f}-{100 * hi:.2f}" if pd.notna(lo) else ""
                       for lo, hi in zip(part["ci_low"], part["ci_high"])],
            **({"IQM": [f"{100 * v:.2f}" for v in part["iqm"]]} if judged else {}),
            "seeds": part["n_seeds"],
            "trains": part["trains"].map({True: "yes", False: "NO"}),
            **({"signal": part["signal"]} if "signal" in part.columns else {}),
        })
        if judged:
            shown["vs best built-in"] = [_verdict(r, "vs_best", r["vs_best_other"])
                                         for _, r in part.iterrows()]
            shown[f"vs {REFERENCE}"] = [_verdict(r, "vs_he", REFERENCE)
                                        for _, r in part.iterrows()]
        else:
            shown["vs best built-in"] = [_versus(v, d, p, b) for v, d, p, b in zip(
                part["vs_best"], part["vs_best_pt"], part["vs_best_p"], part["best_builtin"])]
            shown[f"vs {REFERENCE}"] = [_versus(v, d, p, REFERENCE) for v, d, p in zip(
                part["vs_he"], part["vs_he_pt"], part["vs_he_p"])]
        lines.extend(shown.to_string(index=False).splitlines())
    if (table["source"] == "user").any():
        lines.append("* a scheme from outside initcore (--init, a plugin, initcore.register)")
    if judged:
        lines.extend(sentences(table))
    return lines


def sentences(table: pd.DataFrame) -> list[str]:
    """One sentence per user scheme and experiment: its verdict against He."""
    return [verdicts.sentence(row, str(row.get("experiment", row.get("dataset", ""))))
            for _, row in table[table["source"] == "user"].iterrows()
            if row.get("init") != REFERENCE]


def _verdict(row: pd.Series, prefix: str, other: str) -> str:
    verdict = row.get(f"verdict_{prefix}", "")
    if not isinstance(verdict, str) or not verdict:
        return ""
    effect, low, high = (100 * row[f"{prefix}_{f}"] for f in ("effect", "low", "high"))
    text = f"{verdict} {effect:+.2f} [{low:+.2f}, {high:+.2f}] pt vs {other}"
    if verdict == "undecided" and math.isfinite(row[f"{prefix}_needed"]):
        text += f", ~{int(row[f'{prefix}_needed'])} seeds"
    return text


def _versus(verdict: str, diff_pt: float, p: float, other: str) -> str:
    if not verdict or pd.isna(p):
        return ""
    return f"{verdict} ({diff_pt:+.2f} pt vs {other}, p={p:.1g})"
