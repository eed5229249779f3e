"""Baseline comparison: is the current run worse than the committed baseline beyond noise?

Accuracy rule. Each cell (experiment, dataset, model, init) present in both reports gives one
test per accuracy metric: the final test accuracy over seeds and, where both reports have it and
ran more than one epoch, the epoch-1 accuracy (``acc1_*``: a slow start is a regression even when
the final accuracy catches up -- He x 0.01 on full MNIST ends ~0.5 point under He, inside the
noise, but is still at the constant prediction, 11.35%, after epoch 1, where He is at 95.4%).
With baseline mean/std/n ``(m_b, s_b, n_b)`` and current ``(m_c, s_c, n_c)``, each test is a
one-sided Welch t-test of "the current mean is lower" (``scipy.stats.ttest_ind_from_stats``, exact
Student t with the Welch-Satterthwaite degrees of freedom: with 3 seeds a side there are only ~4,
and a normal approximation would under-state the tails several-fold). A metric regresses when

    m_b - m_c > MIN_ACC_DROP    and    its p-value is rejected by Holm's step-down procedure
                                       at family-wise level ALPHA over every test of the comparison,

or when more seeds diverged than in the baseline. Holm (1979) keeps the probability of even one
false alarm in the whole comparison at most ALPHA, whatever the dependence between the tests:
a nightly comparison holds ~120 tests (59 cells, two metrics each), and a per-test rate of 1-2%
(the former 3-standard-error rule with 3 seeds a side) would raise a false alarm most nights.
The absolute floor keeps deterministic cells (std 0, e.g. ``zeros``: se = 0, p = 0) from
alarming on a last-digit change, as a change of CPU (other kernels, other rounding) brings.

A caller that judges cells one at a time (``pytest bench``: one test per cell) passes
``family_size`` = the number of tests of the whole comparison; Holm's threshold for a lone test
is then Bonferroni's, ALPHA / family_size, which keeps the same family-wise guarantee.

Throughput rule: model-epochs per second divided by the matmul rate measured in the same run
(``matmul_gflops``, see :mod:`initcore.speed`) -- a machine-independent "epochs per GFLOP". It is a
regression when that falls by more than MAX_THROUGHPUT_DROP of the baseline, so a slower machine
(whose matmul rate falls too) is not one.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .errors import one_line
from .reports import EPOCHS_FILE, MARKER_FILE, SUMMARY_FILE, ReportError, load
from .stats import welch_p_value  # the one Welch test (one-sided here: "current is lower")

ALPHA = 0.01  # family-wise false-alarm rate of one whole comparison (Holm): 1 night in 100
MIN_ACC_DROP = 0.005  # absolute accuracy (0.5 point) below which a drop is never flagged
MAX_THROUGHPUT_DROP = 0.50  # relative fall of calibrated throughput that is flagged (2x slower;
# shared CI machines swing by tens of percent between the calibration and the training)
EXIT_REGRESSION = 1
METRICS = (("acc", "accuracy"), ("acc1", "epoch-1 accuracy (slow start)"))  # (prefix, name)


@dataclass(frozen=True)
class DropTest:
    """One metric of one cell: the mean drop from baseline to current and its Welch p-value."""

    what: str  # "accuracy" or "epoch-1 accuracy (slow start)"
    base_mean: float
    cur_mean: float
    p_value: float  # one-sided: P(a drop this large | same distribution); 0 if both stds are 0

    @property
    def drop(self) -> float:
        return self.base_mean - self.cur_mean


@dataclass(frozen=True)
class Verdict:
    init: str
    dataset: str
    accuracy_regressed: bool  # a mean accuracy dropped beyond noise, or more seeds diverged
    throughput_regressed: bool  # calibrated throughput fell below (1 - MAX_THROUGHPUT_DROP)
    message: str
    tests: tuple[DropTest, ...] = ()  # the accuracy tests behind the verdict

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
        # The end of the file first: a file cut inside a quoted field (a formula) also fails to
        # parse, and "truncated" says what happened better than the parser's message.
        with open(file, "rb") as f:
            f.seek(0, 2)
            ends_cleanly = f.tell() == 0 or (f.seek(-1, 2) >= 0 and f.read(1) == b"\n")
        if not ends_cleanly:
            raise ReportError(f"{file}: truncated: the last row is cut off (no end of line)")
        table = load(path, SUMMARY_FILE)
    except ReportError:
        raise
    except FileNotFoundError:
        raise ReportError(f"no report at {file}") from None
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise ReportError(f"{file}: not a readable summary CSV ({_first_line(e)})") from e
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
        empty = table[column].isna() | (table[column] == "")  # load(): an empty name is ""
        if empty.any():
            row = int(empty.idxmax()) + 2
            raise ReportError(f"{file}: row {row} has no {column} (cut or incomplete row)")
    return table


# Ranges the gate accepts, checked before any test (check_inputs): accuracies are fractions
# (a report in percent would make every drop look 100x larger or every cell look broken),
# spreads are non-negative, counts are whole and consistent.
FRACTION_COLUMNS = ["acc_mean", "acc_min", "acc_max", "acc1_mean"]  # in [0, 1], or NaN
SPREAD_COLUMNS = ["acc_std", "acc1_std"]  # in [0, 1] (sample std of fractions), or NaN
POSITIVE_COLUMNS = ["seconds_per_epoch", "matmul_gflops"]  # > 0 and finite, or NaN


def check_inputs(table: pd.DataFrame, name: str) -> None:
    """Refuse, before anything is tested, a table the gate would misjudge; ReportError (one
    line naming ``name`` and the first offending row) otherwise.

    Refused: non-numbers or infinities in a numeric column; accuracies outside [0, 1] (in
    percent?); a negative or > 1 spread; seeds < 1, diverged outside [0, seeds], epochs < 1 or
    fractional counts; a NaN accuracy where not every seed diverged (a blank cell would leave
    its test without a p-value: it must not be read as "no regression"); one cell twice in one
    run (which row would count?). Rows of different runs of one cell (a history) are allowed:
    the newest is compared.
    """
    def fail(row: int, what: str) -> None:
        raise ReportError(f"{name}: row {row + 2}: {what}")

    numeric = {c: pd.to_numeric(table[c], errors="coerce") for c in
               [*NUMERIC_COLUMNS, *FRACTION_COLUMNS, *SPREAD_COLUMNS, *POSITIVE_COLUMNS]
               if c in table.columns}
    for column, values in numeric.items():
        bad = (values.isna() & table[column].notna()) | values.isin([math.inf, -math.inf])
        if bad.any():
            fail(bad.values.argmax(), f"{column} is {str(table[column][bad].iloc[0])!r}, "
                 "not a finite number")
    for column in FRACTION_COLUMNS + SPREAD_COLUMNS:
        if column in numeric:
            bad = (numeric[column] < 0) | (numeric[column] > 1)
            if bad.any():
                kind = "a spread" if column in SPREAD_COLUMNS else "an accuracy"
                value = float(numeric[column][bad].iloc[0])
                fail(bad.values.argmax(), f"{column} = {value:g} is not {kind} in [0, 1] "
                     "(accuracies are fractions, not percent)")
    for column in POSITIVE_COLUMNS:
        if column in numeric and (numeric[column] <= 0).any():
            fail((numeric[column] <= 0).values.argmax(), f"{column} must be > 0")
    seeds, diverged, epochs = numeric["n_seeds"], numeric["n_diverged"], numeric["epochs"]
    for column, values, low in [("n_seeds", seeds, 1), ("n_diverged", diverged, 0),
                                ("epochs", epochs, 1)]:
        bad = (values < low) | (values != values.round())
        if bad.any():
            fail(bad.values.argmax(), f"{column} = {float(values[bad].iloc[0]):g} is not a whole "
                 f"number >= {low}")
    bad = diverged > seeds
    if bad.any():
        fail(bad.values.argmax(), "more diverged seeds than seeds")
    bad = numeric["acc_mean"].isna() & (diverged < seeds)
    if bad.any():
        row = bad.values.argmax()
        fail(row, f"accuracy is NaN but only {int(diverged.iloc[row])} of "
             f"{int(seeds.iloc[row])} seeds diverged")
    keys = key_columns(table) + (["run_id"] if "run_id" in table.columns else [])
    twice = table.duplicated(keys, keep=False)
    if twice.any():
        row = twice.values.argmax()
        fail(row, f"cell {cell_name(tuple(table.iloc[row][k] for k in keys), keys)} appears "
             "more than once in one run")


def check_run_folder(path: str | Path) -> None:
    """A run folder handed to the gate is a complete run: ``run.json`` present, strict JSON,
    an object with status "complete". ReportError otherwise (an interrupted or tampered run
    must not be judged as if it were whole). Baseline folders (no run.json, no epochs.csv) and
    CSV files are not run folders and pass."""
    path = Path(path)
    if not path.is_dir() or not ((path / MARKER_FILE).exists() or (path / EPOCHS_FILE).exists()):
        return
    marker = path / MARKER_FILE
    try:
        record = json.loads(marker.read_text(),
                            parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    except FileNotFoundError:
        raise ReportError(f"{path} is an incomplete run: no {MARKER_FILE} (interrupted or "
                          "still running)") from None
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise ReportError(f"{marker}: not a readable run marker ({_first_line(e)})") from None
    if not isinstance(record, dict) or record.get("status") != "complete":
        raise ReportError(f"{marker}: not a complete run's marker (status "
                          f"{record.get('status') if isinstance(record, dict) else record!r})")


def _first_line(error: Exception) -> str:
    return one_line(error, limit=200)


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
    recipe, init -- the ones that all tables have. A baseline written before the recipe column
    existed (reports/baseline/*) is keyed as it was, without it: within a profile the
    experiment name pins the recipe it was measured with."""
    wanted = ["experiment", "dataset", "model", "recipe", "init"]
    return [c for c in wanted if all(c in t.columns for t in tables)]


def holm_rejections(p_values: list[float], alpha: float = ALPHA,
                    family_size: int | None = None) -> list[bool]:
    """Holm's step-down procedure: which hypotheses are rejected at family-wise level ``alpha``.

    Sorted ascending, p_(k) (k = 1..m) is rejected while p_(k) <= alpha / (m - k + 1); the first
    that is not stops it. ``family_size`` (>= len(p_values)) counts tests judged elsewhere, so a
    caller that sees part of the family stays conservative. Written out here because scipy has
    only Benjamini-Hochberg (false discovery rate, not family-wise).
    """
    m = max(len(p_values), family_size or 0)
    rejected = [False] * len(p_values)
    # A NaN p-value (a test without one) is never rejected and sorts last: sorted first it would
    # stop the step-down and blind the gate to every other cell.
    order = sorted(range(len(p_values)),
                   key=lambda i: math.inf if math.isnan(p_values[i]) else p_values[i])
    for rank, index in enumerate(order):
        if not p_values[index] <= alpha / (m - rank):
            break
        rejected[index] = True
    return rejected


def count_tests(baseline: pd.DataFrame, current: pd.DataFrame | None = None) -> int:
    """The number of accuracy tests a comparison of these tables makes (cells x metrics): the
    family size for Holm. Without ``current``, every cell of the baseline counts."""
    base_rows, cur_rows = (baseline, baseline) if current is None else _pairs(baseline, current)
    return sum(len(_metrics(base_rows.iloc[i], cur_rows.iloc[i])) for i in range(len(base_rows)))


def _pairs(baseline: pd.DataFrame, current: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The baseline rows present in current, and current's rows in the same order."""
    keys = key_columns(baseline, current)
    base = baseline.drop_duplicates(keys, keep="last")
    newest = current.drop_duplicates(keys, keep="last").set_index(keys)  # history: newest run
    present = [tuple(row[k] for k in keys) in newest.index for _, row in base.iterrows()]
    base = base[present]
    cur = newest.loc[[tuple(row[k] for k in keys) for _, row in base.iterrows()]].reset_index()
    return base.reset_index(drop=True), cur


def _metrics(base: pd.Series, cur: pd.Series) -> list[tuple[str, str]]:
    """The metrics both rows can be judged on: final accuracy, and epoch 1 where both have it
    (baselines written before acc1_* existed lack it) and ran more than one epoch."""
    metrics = [METRICS[0]]
    if _has(base, "acc1_mean") and _has(cur, "acc1_mean") and min(base["epochs"],
                                                                  cur["epochs"]) > 1:
        metrics.append(METRICS[1])
    return metrics


def _drop_test(base: pd.Series, cur: pd.Series, prefix: str, what: str) -> DropTest:
    p = welch_p_value(base[f"{prefix}_mean"], base[f"{prefix}_std"], base["n_seeds"],
                      cur[f"{prefix}_mean"], cur[f"{prefix}_std"], cur["n_seeds"])
    return DropTest(what, float(base[f"{prefix}_mean"]), float(cur[f"{prefix}_mean"]), p)


def compare(baseline: pd.DataFrame, current: pd.DataFrame, *, alpha: float = ALPHA,
            family_size: int | None = None) -> list[Verdict]:
    """One verdict per cell (experiment, dataset, model, init) present in both tables; the
    accuracy tests of all cells form one family for Holm's procedure (see the module doc).
    Both tables are checked first (:func:`check_inputs`): ReportError on values the gate would
    misjudge."""
    check_inputs(baseline, "baseline")
    check_inputs(current, "current")
    base_rows, cur_rows = _pairs(baseline, current)
    cells = [(base, cur_rows.iloc[i]) for i, (_, base) in enumerate(base_rows.iterrows())]
    tests = [[_drop_test(b, c, prefix, what) for prefix, what in _metrics(b, c)]
             for b, c in cells]
    flat = [t for cell_tests in tests for t in cell_tests]
    rejected = iter(holm_rejections([t.p_value for t in flat], alpha, family_size))
    significant = [[next(rejected) for _ in cell_tests] for cell_tests in tests]
    return [_judge(b, c, cell_tests, flags, alpha)
            for (b, c), cell_tests, flags in zip(cells, tests, significant)]


def _judge(base: pd.Series, cur: pd.Series, tests: list[DropTest], significant: list[bool],
           alpha: float) -> Verdict:
    init, dataset = base["init"], base["dataset"]
    problems = []
    if int(cur["n_diverged"]) > int(base["n_diverged"]):
        problems.append(f"diverged {int(cur['n_diverged'])}/{int(cur['n_seeds'])} seeds "
                        f"(baseline {int(base['n_diverged'])})")
    for test, flagged in zip(tests, significant):
        if flagged and pd.notna(test.drop) and test.drop > MIN_ACC_DROP:
            problems.append(f"{test.what} {100 * test.cur_mean:.2f}% vs baseline "
                            f"{100 * test.base_mean:.2f}%: drop {100 * test.drop:.2f} pt "
                            f"(> {100 * MIN_ACC_DROP:g} pt), Welch p = {test.p_value:.1e} "
                            f"(Holm, family-wise alpha {alpha:g})")
    accuracy_regressed = bool(problems)
    t_base, t_cur = calibrated_throughput(base), calibrated_throughput(cur)
    throughput_regressed = bool(pd.notna(t_base) and pd.notna(t_cur)
                                and t_cur < (1 - MAX_THROUGHPUT_DROP) * t_base)
    if throughput_regressed:
        problems.append(f"calibrated throughput {t_cur / t_base:.2f}x baseline "
                        f"(limit {1 - MAX_THROUGHPUT_DROP:.2f}x)")
    if problems:
        return Verdict(init, dataset, accuracy_regressed, throughput_regressed,
                       f"{init} ({dataset}) REGRESSED: " + "; ".join(problems), tuple(tests))
    acc = (f"{100 * cur['acc_mean']:.2f}% vs {100 * base['acc_mean']:.2f}%"
           if pd.notna(cur["acc_mean"]) else "n/a")
    return Verdict(init, dataset, False, False, f"{init} ({dataset}) ok: {acc}", tuple(tests))


def _has(row: pd.Series, column: str) -> bool:
    """``row`` has ``column`` with a value: baselines written before a column existed lack it."""
    return column in row.index and pd.notna(row[column])


def comparison_table(baseline: pd.DataFrame, current: pd.DataFrame,
                     verdicts: list[Verdict] | None = None) -> pd.DataFrame:
    """Side-by-side table of the accuracy and calibrated throughput of the two reports."""
    keys = key_columns(baseline, current)
    cols = keys + ["acc_mean", "acc_std", "n_seeds", "n_diverged"]
    merged = baseline.drop_duplicates(keys, keep="last")[cols].merge(
        current.drop_duplicates(keys, keep="last")[cols], on=keys, suffixes=("_base", "_cur"))
    merged["drop_pt"] = 100 * (merged["acc_mean_base"] - merged["acc_mean_cur"])
    if verdicts is None:  # same order: baseline rows present in current
        verdicts = compare(baseline, current)
    merged["p_min"] = [min((t.p_value for t in v.tests), default=math.nan) for v in verdicts]
    merged["verdict"] = ["REGRESSED" if v.regressed else "ok" for v in verdicts]
    return merged
