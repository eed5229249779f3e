"""``initcore plot REPORT_DIR [--out DIR]``: the PNG figures of a report folder
(:mod:`initcore.plots`)."""

from __future__ import annotations

import argparse

HELP = "PNG figures of a report folder (epochs, probes, leaderboard CSV)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("report_dir", metavar="REPORT_DIR",
                        help="a run folder holding epochs.csv, probes.csv and/or leaderboard.csv")
    parser.add_argument("--out", default=None, help="where the PNGs go (default: REPORT_DIR)")


def handle(args: argparse.Namespace) -> int:
    # matplotlib is imported only when plotting, so every other command starts without it.
    from ..plots import plot_report_dir

    for path in plot_report_dir(args.report_dir, args.out):
        print(path)
    return 0
