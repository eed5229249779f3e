"""Redraw docs/figures/residual_depth_sweep.png from a CSV of docs/scripts/measure_residual.py
(the epoch-1 rows of ``residual`` and the ``resdepth-L`` experiments, with their growth at init)::

    python docs/scripts/measure_residual.py sweep.csv residual resdepth-2 resdepth-4 \
        resdepth-8 resdepth-16 resdepth-32                   # ~10 min on 2 loaded cores
    python docs/scripts/draw_depth_sweep.py sweep.csv docs/figures/residual_depth_sweep.png

or from the table that ``pytest bench --profile residual`` writes into its run folder
(``residual_depth_sweep.csv``, beside the figure drawn from it,
bench/test_residual.py::test_residual_depth_sweep_figure)::

    python docs/scripts/draw_depth_sweep.py RUN/residual_depth_sweep.csv \
        docs/figures/residual_depth_sweep.png
"""

from __future__ import annotations

import sys

import pandas as pd

from initcore.residual import depth_sweep_figure


def main(csv: str, png: str) -> None:
    try:
        rows = pd.read_csv(csv)
    except (OSError, pd.errors.ParserError) as error:
        sys.exit(f"{csv}: cannot read it ({error})")
    if "experiment" in rows:  # measure_residual.py's rows: every experiment and epoch
        rows = rows[(rows["epoch"] == 1)
                    & rows["experiment"].str.fullmatch(r"residual|resdepth-\d+")]
    sweep = rows  # else the bench run's residual_depth_sweep.csv: the epoch-1 rows already
    if sweep.empty:
        sys.exit(f"{csv}: no epoch-1 rows of residual or resdepth-L experiments")
    print(depth_sweep_figure(sweep, png))  # schemes keep the CSV's order (the colours)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: draw_depth_sweep.py SWEEP.csv OUT.png")
    main(sys.argv[1], sys.argv[2])
