"""Baseline comparison: is the current run worse than the committed baseline beyond noise?

Accuracy rule (per dataset and initializer, on the final test accuracy over seeds): with baseline
mean/std/n ``(m_b, s_b, n_b)`` and current ``(m_c, s_c, n_c)``, the standard error of the
difference is ``se = sqrt(s_b^2/n_b + s_c^2/n_c)`` (Welch). A regression is flagged when

    m_b - m_c > max(K_SIGMA * se, MIN_ACC_DROP)        or        more seeds diverged than before.

The same rule applies to the epoch-1 accuracy (``acc1_mean``/``acc1_std``) where both reports
have it and ran more than one epoch: a slow start is a regression even when the final accuracy
catches up (He x 0.01 on full MNIST ends ~0.5 point under He, inside the final-accuracy noise, but
is still at the constant prediction, 11.35%, after epoch 1, where He is at 95.4%).

For normal noise, a drop beyond 3 standard errors happens by chance with probability 0.13%
one-sided (with only 3 seeds a side, where se itself is estimated, Student's t with ~4 degrees of
freedom puts it near 2%); the absolute floor keeps deterministic cells (std 0, e.g. ``zeros``)
from alarming on a last-digit change.

Throughput rule: model-epochs per second divided by the matmul rate measured in the same run
(``matmul_gflops``, see :mod:`initcore.speed`) -- a machine-independent "epochs per GFLOP". It is a
regression when that falls by more than MAX_THROUGHPUT_DROP of the baseline, so a slower machine
(whose matmul rate falls too) is not one.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .reports import SUMMARY_FILE, ReportError, load

K_SIGMA = 3.0  # standard errors a mean may drop before it is a regression
MIN_ACC_DROP = 0.005  # absolute accuracy (0.5 point) below which a drop is never flagged
MAX_THROUGHPUT_DROP = 0.50  # relative fall of calibrated throughput that is flagged (2x slower;
# shared CI machines swing by tens of percent between the calibration and the training)
EXIT_REGRESSION = 1


@dataclass(frozen=True)
class Verdict:
    init: str
    dataset: str
    accuracy_regressed: bool  # mean accuracy dropped beyond noise, or more seeds diverged
    throughput_regressed: bool  # calibrated throughput fell below (1 - MAX_THROUGHPUT_DROP)
    message: str

    @property
    def regressed(self) -> bool:
        return self.accuracy_regressed or self.throughput_regressed


# Columns the gate reads in every cell: a report without one of them cannot be judged.
REQUIRED_COLUMNS = ["dataset", "init", "n_seeds", "n_diverged", "epochs", "acc_mean", "acc_std"]
NUMERIC_COLUMNS = ["n_seeds", "n_diverged", "epochs", "acc_mean", "acc_std"]


def load_summary(path: str | Path) -> pd.DataFrame:
    """A summary table from a run folder, a summary CSV or a baseline folder, checked: readable,
    not cut off, with the columns the gate needs and numbers where it needs numbers.
    ReportError (one line naming the file) otherwise -- a gate must not judge half a report."""
    path = Path(path)
    file = path / SUMMARY_FILE if path.is_dir() else path
    try:
        table = load(path, SUMMARY_FILE)
        with open(file, "rb") as f:
            f.seek(0, 2)
            ends_cleanly = f.tell() == 0 or (f.seek(-1, 2) >= 0 and f.read(1) == b"\n")
    except ReportError:
        raise
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise ReportError(f"{file}: not a readable summary CSV ({_first_line(e)})") from e
    if not ends_cleanly:
        raise ReportError(f"{file}: truncated: the last row is cut off (no end of line)")
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise ReportError(f"{file}: not a summary report: missing column(s) {', '.join(missing)}")
    if table.empty:
        raise ReportError(f"{file}: the summary has no rows")
    for column in NUMERIC_COLUMNS:
        values = pd.to_numeric(table[column], errors="coerce")
        bad = values.isna() & table[column].notna()
        if bad.any():
            raise ReportError(f"{file}: column {column} holds non-numbers "
                              f"(row {int(bad.idxmax()) + 2}: {table[column][bad].iloc[0]!r})")
        table[column] = values
    for column in ["dataset", "init", "n_seeds", "n_diverged", "epochs"]:
        if table[column].isna().any():
            row = int(table[column].isna().idxmax()) + 2
            raise ReportError(f"{file}: row {row} has no {column} (cut or incomplete row)")
    return table


def _first_line(error: Exception) -> str:
    return " ".join(str(error).split())[:200] or type(error).__name__


def cell_name(key: tuple, keys: list[str]) -> str:
    """A cell as people read it: ``he_normal (mnist-5k, seed-recipe)``."""
    named = dict(zip(keys, key))
    rest = [str(named[k]) for k in keys if k != "init"]
    return f"{named.get('init', '?')} ({', '.join(rest)})"


def unjudged_cells(baseline: pd.DataFrame, current: pd.DataFrame) -> list[str]:
    """Baseline cells the gate cannot judge: absent from ``current``, or with a NaN accuracy in
    ``current`` although the baseline has a number and not every seed diverged. Empty when
    every baseline cell was compared; each entry names the cell and why."""
    keys = key_columns(baseline, current)
    newest = current.drop_duplicates(keys, keep="last").set_index(keys)
    problems = []
    for _, base in baseline.drop_duplicates(keys, keep="last").iterrows():
        key = tuple(base[k] for k in keys)
        name = cell_name(key, keys)
        if key not in newest.index:
            problems.append(f"{name}: missing")
            continue
        cur = newest.loc[key]
        all_diverged = cur["n_diverged"] >= cur["n_seeds"]
        if pd.isna(cur["acc_mean"]) and pd.notna(base["acc_mean"]) and not all_diverged:
            problems.append(f"{name}: accuracy is NaN but only {int(cur['n_diverged'])} of "
                            f"{int(cur['n_seeds'])} seeds diverged")
    return problems


def calibrated_throughput(row: pd.Series) -> float:
    """Model-epochs per second per GFLOP/s of the run's own matmul calibration (NaN if absent)."""
    gflops = row.get("matmul_gflops", math.nan)
    seconds = row.get("seconds_per_epoch", math.nan)
    if not (gflops and seconds) or pd.isna(gflops) or pd.isna(seconds):
        return math.nan
    return 1.0 / seconds / gflops


def key_columns(*tables: pd.DataFrame) -> list[str]:
    """Columns that identify a cell in every table: experiment (bench reports), dataset, model,
    init -- the ones that all tables have."""
    wanted = ["experiment", "dataset", "model", "init"]
    return [c for c in wanted if all(c in t.columns for t in tables)]


def compare(baseline: pd.DataFrame, current: pd.DataFrame) -> list[Verdict]:
    """One verdict per cell (experiment, dataset, model, init) present in both tables."""
    keys = key_columns(baseline, current)
    verdicts = []
    newest = current.drop_duplicates(keys, keep="last").set_index(keys)  # history: newest run
    for _, base in baseline.drop_duplicates(keys, keep="last").iterrows():
        key = tuple(base[k] for k in keys)
        if key not in newest.index:
            continue
        verdicts.append(_judge(base, newest.loc[key], base["dataset"], base["init"]))
    return verdicts


def _judge(base: pd.Series, cur: pd.Series, dataset: str, init: str) -> Verdict:
    problems = []
    if int(cur["n_diverged"]) > int(base["n_diverged"]):
        problems.append(f"diverged {int(cur['n_diverged'])}/{int(cur['n_seeds'])} seeds "
                        f"(baseline {int(base['n_diverged'])})")
    problems += _mean_drop(base, cur, "acc", "accuracy")
    if _has(base, "acc1_mean") and _has(cur, "acc1_mean") and min(base["epochs"],
                                                                  cur["epochs"]) > 1:
        problems += _mean_drop(base, cur, "acc1", "epoch-1 accuracy (slow start)")
    accuracy_regressed = bool(problems)
    t_base, t_cur = calibrated_throughput(base), calibrated_throughput(cur)
    throughput_regressed = bool(pd.notna(t_base) and pd.notna(t_cur)
                                and t_cur < (1 - MAX_THROUGHPUT_DROP) * t_base)
    if throughput_regressed:
        problems.append(f"calibrated throughput {t_cur / t_base:.2f}x baseline "
                        f"(limit {1 - MAX_THROUGHPUT_DROP:.2f}x)")
    if problems:
        return Verdict(init, dataset, accuracy_regressed, throughput_regressed,
                       f"{init} ({dataset}) REGRESSED: " + "; ".join(problems))
    acc = (f"{100 * cur['acc_mean']:.2f}% vs {100 * base['acc_mean']:.2f}%"
           if pd.notna(cur["acc_mean"]) else "n/a")
    return Verdict(init, dataset, False, False, f"{init} ({dataset}) ok: {acc}")


def _mean_drop(base: pd.Series, cur: pd.Series, prefix: str, what: str) -> list[str]:
    """[problem] if the mean ``{prefix}_mean`` dropped beyond max(K_SIGMA se, MIN_ACC_DROP)."""
    se = math.sqrt(_var(base, prefix) / base["n_seeds"] + _var(cur, prefix) / cur["n_seeds"])
    drop = base[f"{prefix}_mean"] - cur[f"{prefix}_mean"]
    limit = max(K_SIGMA * se, MIN_ACC_DROP)
    if pd.notna(drop) and drop > limit:
        return [f"{what} {100 * cur[f'{prefix}_mean']:.2f}% vs baseline "
                f"{100 * base[f'{prefix}_mean']:.2f}%: drop {100 * drop:.2f} pt > "
                f"limit {100 * limit:.2f} pt (max({K_SIGMA:g} se, {100 * MIN_ACC_DROP:g}))"]
    return []


def _has(row: pd.Series, column: str) -> bool:
    """``row`` has ``column`` with a value: baselines written before a column existed lack it."""
    return column in row.index and pd.notna(row[column])


def _var(row: pd.Series, prefix: str = "acc") -> float:
    std = row[f"{prefix}_std"]
    return 0.0 if pd.isna(std) else float(std) ** 2


def comparison_table(baseline: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """Side-by-side table of the accuracy and calibrated throughput of the two reports."""
    keys = key_columns(baseline, current)
    cols = keys + ["acc_mean", "acc_std", "n_seeds", "n_diverged"]
    merged = baseline.drop_duplicates(keys, keep="last")[cols].merge(
        current.drop_duplicates(keys, keep="last")[cols], on=keys, suffixes=("_base", "_cur"))
    merged["drop_pt"] = 100 * (merged["acc_mean_base"] - merged["acc_mean_cur"])
    verdicts = compare(baseline, current)  # same order: baseline rows present in current
    merged["verdict"] = ["REGRESSED" if v.regressed else "ok" for v in verdicts]
    return merged


def add_compare_parser(commands) -> None:
    compare_parser = commands.add_parser(
        "compare", help="compare a run against a baseline; exit 1 on regression")
    compare_parser.add_argument("baseline", help="baseline run folder or summary.csv")
    compare_parser.add_argument("current", help="current run folder or summary.csv")


def cmd_compare(args: argparse.Namespace) -> int:
    """Exit 0: every baseline cell compared, none regressed; 1: a regression; 2 (one line on
    stderr): a report unreadable or incomplete, or baseline cells that could not be judged."""
    baseline, current = load_summary(args.baseline), load_summary(args.current)
    verdicts = compare(baseline, current)
    if not verdicts:
        raise ReportError(f"{args.current} shares no (dataset, init) cell with the baseline "
                          f"{args.baseline}: nothing compared")
    unjudged = unjudged_cells(baseline, current)
    n_cells = len(baseline.drop_duplicates(key_columns(baseline, current)))
    print(comparison_table(baseline, current).to_string(index=False, float_format="%.4f"))
    for verdict in verdicts:
        if verdict.regressed:
            print(verdict.message)
    regressions = sum(v.regressed for v in verdicts)
    judged = n_cells - len(unjudged)
    print(f"{regressions} regression(s) in {len(verdicts)} initializer(s); "
          f"compared {judged} of {n_cells} baseline cells")
    if unjudged:
        shown = "; ".join(unjudged[:5]) + (f"; ... ({len(unjudged)} in all)"
                                           if len(unjudged) > 5 else "")
        raise ReportError(f"{args.current} cannot be judged on {len(unjudged)} of {n_cells} "
                          f"baseline cell(s): {shown}")
    return EXIT_REGRESSION if regressions else 0
