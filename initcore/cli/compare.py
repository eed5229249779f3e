"""``initcore compare BASELINE CURRENT``: the regression gate between two reports.

Exit 0: every baseline cell compared, none regressed; 1: a regression; 2 (one line on stderr):
a report unreadable or incomplete, or baseline cells that could not be judged. The rule itself
is :mod:`initcore.regression`'s.
"""

from __future__ import annotations

import argparse
import os

from .. import markdown, options
from ..regression import (
    ALPHA,
    EXIT_REGRESSION,
    check_inputs,
    check_run_folder,
    compare,
    comparison_table,
    count_tests,
    key_columns,
    load_summary,
    unjudged_cells,
)
from ..reports import ReportError

HELP = "compare a run against a baseline; exit 1 on regression"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("baseline", help="baseline run folder or summary.csv")
    parser.add_argument("current", help="current run folder or summary.csv")
    options.add(parser.add_argument, ("markdown",))


def handle(args: argparse.Namespace) -> int:
    for path in (args.baseline, args.current):
        check_run_folder(path)  # a run folder must be a complete run (run.json, strict JSON)
    baseline, current = load_summary(args.baseline), load_summary(args.current)
    check_inputs(baseline, args.baseline)  # refused before any test: NaN, inf, percent, ...
    check_inputs(current, args.current)
    verdicts = compare(baseline, current)
    if not verdicts:
        raise ReportError(f"{args.current} shares no (dataset, init) cell with the baseline "
                          f"{args.baseline}: nothing compared")
    unjudged = unjudged_cells(baseline, current)
    n_cells = len(baseline.drop_duplicates(key_columns(baseline, current)))
    print(comparison_table(baseline, current, verdicts).to_string(index=False, float_format="%.4f"))
    for verdict in verdicts:
        if verdict.regressed:
            print(verdict.message)
    regressions = sum(v.regressed for v in verdicts)
    if args.markdown or os.environ.get(markdown.STEP_SUMMARY_ENV):
        markdown.publish(markdown.summary(args.current, args.baseline,
                                          f"initcore compare {args.baseline} {args.current}"),
                         args.markdown)
    judged = n_cells - len(unjudged)
    print(f"{regressions} regression(s) in {len(verdicts)} initializer(s); "
          f"compared {judged} of {n_cells} baseline cells "
          f"({count_tests(baseline, current)} accuracy tests, Holm, family-wise alpha {ALPHA:g})")
    if unjudged:
        shown = "; ".join(unjudged[:5]) + (f"; ... ({len(unjudged)} in all)"
                                           if len(unjudged) > 5 else "")
        raise ReportError(f"{args.current} cannot be judged on {len(unjudged)} of {n_cells} "
                          f"baseline cell(s): {shown}")
    return EXIT_REGRESSION if regressions else 0
