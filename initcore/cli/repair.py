"""``initcore repair [REPORT_DIR]``: make a report folder whole again after killed runs.

Re-derives the history rows of complete run folders that history.csv lacks, removes stale temp
files of dead writers and lists the incomplete run folders (no run.json).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import reports
from ..files import clean_stale_temps
from ..reports import ReportError

HELP = "re-derive history.csv rows from complete run folders; list incomplete"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("report_dir", metavar="REPORT_DIR", nargs="?", default="reports",
                        help="the report folder (default reports)")


def handle(args: argparse.Namespace) -> int:
    folder = Path(args.report_dir)
    if not folder.is_dir():
        raise ReportError(f"no report folder at {folder}")
    removed = clean_stale_temps(folder)
    for run_dir in (p for p in reports.run_folders(folder) if not p.name.startswith(".")):
        removed += clean_stale_temps(run_dir)
    problems: list[str] = []
    added = reports.repair_history(folder, problems)
    incomplete = reports.incomplete_runs(folder)
    print(f"history.csv: {len(added)} run(s) added from complete run folders"
          + (f" ({', '.join(added)})" if added else ""))
    print(f"stale temp files removed: {len(removed)}")
    print(f"incomplete run folders (no {reports.MARKER_FILE}): {len(incomplete)}"
          + (f" ({', '.join(p.name for p in incomplete)})" if incomplete else ""))
    if problems:  # complete runs whose rows cannot be re-derived: named, left for a person
        raise ReportError(f"{len(problems)} complete run(s) not in history.csv could not be "
                          f"repaired: {'; '.join(problems[:5])}")
    return 0
