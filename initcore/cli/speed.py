"""``initcore speed``: throughput of the notebook loop vs train() vs train_grid(), the grid's
scaling with the number of models and the batch size, and the peak memory of the nightly
profile's grids (:mod:`initcore.speed`, :mod:`initcore.memory`); writes ``speed.csv``.

    initcore speed --dataset mnist [--rows N] [--no-scaling] [--no-memory]
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import pandas as pd

from .. import data, profiles, reports
from ..memory import memory_table
from ..speed import scaling_table, throughput_table
from ..train import Recipe
from .common import (
    add_data_options,
    add_device_option,
    add_report_options,
    check_at_least,
    checked_device,
)

HELP = "throughput: notebook loop vs train() vs train_grid(), and grid scaling"
MEMORY_PROFILE = "nightly"  # the profile whose grids' peak memory is measured


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_options(parser)
    add_device_option(parser)
    parser.add_argument("--rows", type=int, default=None,
                        help="train on the first N training rows only (default: all)")
    add_report_options(parser)
    parser.add_argument("--no-scaling", action="store_true", help="skip the G / batch sweeps")
    parser.add_argument("--no-memory", action="store_true",
                        help="skip the peak memory of the nightly profile's grids")


def handle(args: argparse.Namespace) -> int:
    config = Recipe(device=args.device)
    check_at_least(args, 1, "rows")
    checked_device(args.device)
    run_dir = reports.new_run_dir(args.report_dir, args.run_id)
    dataset = data.load(args.dataset, args.data_dir, args.download)
    if args.rows:
        dataset = replace(dataset, x_train=dataset.x_train[:args.rows],
                          y_train=dataset.y_train[:args.rows])
    print(f"{args.dataset}: {dataset.x_train.shape[0]} training rows, "
          f"{config.model_name(dataset.n_features, dataset.n_classes)}, device {args.device}",
          flush=True)
    tables = [throughput_table(dataset, config).assign(sweep="methods")]
    print(_format(tables[0], ["method", "models", "seconds", "model_epochs_per_s",
                              "speedup_vs_notebook", "gflops", "fraction_of_matmul"]), flush=True)
    if not args.no_scaling:
        tables.append(scaling_table(dataset, config))
        print(_format(tables[1], ["sweep", "models", "batch_size", "seconds",
                                  "model_epochs_per_s", "gflops", "fraction_of_matmul"]))
    calibrations = " and ".join(f"{t['matmul_gflops'][0]:.1f}" for t in tables)
    print(f"matmul calibration: {calibrations} GFLOP/s (fp32 1024^3 GEMM, best before/after, "
          "per table)")
    if not args.no_memory:
        print(f"peak memory of the {MEMORY_PROFILE} profile's grids on {args.dataset} (fresh "
              "process each, MiB):", flush=True)
        tables.append(memory_table(profiles.get(MEMORY_PROFILE).experiments, args.dataset,
                                   args.data_dir, args.device, label=MEMORY_PROFILE,
                                   download=args.download))
        print(_format(tables[-1], ["method", "models", "stacked_mb", "before_mb", "grid_mb",
                                   "peak_rss_mb"]))
    path = reports.write_run_table(run_dir, "speed.csv", pd.concat(tables, ignore_index=True))
    print(f"report: {path}")
    return 0


def _format(frame: pd.DataFrame, columns: list[str]) -> str:
    return frame[columns].to_string(index=False, float_format=lambda v: f"{v:.3g}")
