"""``initcore merge DIR... --report-dir R``: shard run folders combined into one run.

    initcore merge reports/shard-1 reports/shard-2 reports/shard-3 --run-id nightly-merged

The shards (``initcore run --shard i/n`` or ``pytest bench --shard i/n``, complete) must come
from one commit and one grid; every cell must be in exactly one of them. The per-epoch rows are
concatenated in the single-process run's order and the summaries recomputed from them
(:func:`initcore.shards.merge`); the merged folder is written like any run (:mod:`initcore.runs`:
leaderboard, run.json last, then its summary into the history). Exit 2 with one line for
anything that does not fit: nothing is written then.
"""

from __future__ import annotations

import argparse
import sys

from .. import reports, runs
from .common import add_report_options

HELP = "combine shard run folders into one run (rows concatenated, summaries recomputed)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shards", nargs="+", metavar="DIR", help="shard run folders")
    add_report_options(parser)


def handle(args: argparse.Namespace) -> int:
    run_dir = reports.new_run_dir(args.report_dir, args.run_id)
    epochs, summary, info = runs.merge(args.shards, run_dir.name)
    # The rest of the one run pipeline (initcore.runs): claim, rows, leaderboard, complete.
    runs.claim(args.report_dir, run_dir.name)
    runs.write_rows(run_dir, epochs, summary, whole=True)
    runs.write_leaderboard(run_dir)
    runs.complete(run_dir, command=["initcore", "merge", *sys.argv[2:]], **info)
    n_models = len(epochs.drop_duplicates(
        [c for c in ("experiment", "init", "seed") if c in epochs]))
    print(f"merged {len(args.shards)} shard(s): {n_models} models, "
          f"{len(epochs)} epoch rows")
    print(reports.format_summary(summary))
    print(f"reports: {run_dir}/{reports.EPOCHS_FILE}, {run_dir}/{reports.SUMMARY_FILE}")
    return 0
