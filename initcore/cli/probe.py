"""``initcore probe``: per-layer signal propagation of a deep MLP at initialization.

    initcore probe --depth 30 --width 256 --activation relu --init all [--report-dir reports]

Measures every layer of a deep MLP at initialization (:mod:`initcore.probes`), prints the
per-layer ratio of pre-activation second moments next to ``n Var(W) / 2`` and the per-layer
activation std and gradient variance, and writes ``<report-dir>/<run-id>/probes.csv``.
"""

from __future__ import annotations

import argparse

import pandas as pd

from .. import data, options, reports
from ..device import available_memory
from ..models import ACTIVATIONS, check_activation
from ..probes import PROBES_FILE, probe, ratio_table
from .common import (
    UsageError,
    add_data_options,
    add_init_option,
    add_report_options,
    check_at_least,
    check_at_most,
    resolve_inits,
)

HELP = "per-layer signal propagation of a deep MLP at init -> probes.csv"


# Caps on counts (a probe of --steps 10**30 never ends): 10,000 seeds is 100x the nightly
# profile's; 1,000,000 SGD steps is ~100 seed recipes (9,380 steps: 10 epochs of 938 batches).
MAX_SEEDS, MAX_STEPS = 10_000, 1_000_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options.add(parser.add_argument, ("depth",),
                depth={"default": 30, "help": "hidden layers (default 30)"})
    options.add(parser.add_argument, ("width",),
                width={"default": 256, "help": "units per hidden layer (default 256)"})
    options.add(parser.add_argument, ("activation",),
                activation={"default": "relu", "help": f"one of {', '.join(ACTIVATIONS)}"})
    add_init_option(parser)
    options.add(parser.add_argument, ("seeds",),
                seeds={"default": 1, "help": "number of seeds, 0..N-1 (default 1)"})
    options.add(parser.add_argument, ("steps", "batch"), steps={
        "default": 0, "help": "SGD steps of the seed recipe before probing (default 0: at init)"},
        batch={"default": 512, "help": "probe batch rows (default 512)"})
    add_data_options(parser)  # no --device: probes run on the CPU, in float64
    add_report_options(parser)


def handle(args: argparse.Namespace) -> int:
    # --- check everything before any work or any file ---------------------------------------
    inits = resolve_inits(args.init)
    check_activation(args.activation)
    check_at_least(args, 1, "depth", "width", "seeds", "batch")
    check_at_least(args, 0, "steps")
    check_at_most(args, MAX_SEEDS, "seeds")
    check_at_most(args, MAX_STEPS, "steps")
    run_dir = reports.new_run_dir(args.report_dir, args.run_id)
    dataset = data.load(args.dataset, args.data_dir, args.download)
    _check_probe_memory(args, dataset)

    # --- probe and report -------------------------------------------------------------------
    table = probe(inits, dataset, depth=args.depth, width=args.width, activation=args.activation,
                  seeds=range(args.seeds), steps=args.steps, batch=args.batch)
    path = reports.write_run_table(run_dir, PROBES_FILE, table)
    when = "at initialization" if args.steps == 0 else f"after {args.steps} SGD steps"
    print(f"{args.activation} MLP {dataset.n_features}-{args.width}x{args.depth}-"
          f"{dataset.n_classes}, {when}, {args.batch} rows of {args.dataset}, "
          f"{args.seeds} seed(s)")
    print(format_probes(table, args.depth))
    print(f"report: {path}")
    return 0


def _layers_shown(depth: int) -> list[int]:
    """First, quarter, half, three-quarter and last hidden layer, plus the output layer."""
    return sorted({1, 2, max(1, depth // 4), max(1, depth // 2), max(1, 3 * depth // 4), depth,
                   depth + 1})


def format_probes(table: pd.DataFrame, depth: int) -> str:
    """The printed view: ratio table, then per-layer act std and gradient variance by init."""
    ratios = ratio_table(table).drop(columns=["activation", "depth", "width"])
    lines = ["per-layer ratio q_l / q_(l-1) of pre-activation second moments (layers 2.."
             f"{depth}), geometric mean and range; theory = n Var(W) / 2 (ReLU, zero bias; "
             "none for tanh, sigmoid, ...):",
             ratios.to_string(index=False, float_format=lambda v: f"{v:.4g}")]
    layers = _layers_shown(depth)
    for metric, label in [("act_std", "std of activations"),
                          ("grad_preact_var", "Var(dL/dz), back-propagated gradient"),
                          ("dead_frac", "fraction of dead ReLUs")]:
        rows = table[(table["metric"] == metric) & table["layer"].isin(layers)]
        if rows.empty:
            continue
        wide = rows.pivot_table(index="init", columns="layer", values="value", sort=False)
        wide.columns = [f"L{c}" for c in wide.columns]
        lines += ["", f"{label} by layer (mean over seeds):",
                  wide.to_string(float_format=lambda v: f"{v:.3g}")]
    return "\n".join(lines)


def _check_probe_memory(args: argparse.Namespace, dataset: data.Dataset) -> None:
    """UsageError if one probed model cannot fit in memory: the net in float64 with its
    gradients and momentum (4 copies) and the probe batch's activations and their gradients in
    every layer (a width of 100,000 would otherwise die in its first allocation)."""
    width, depth = args.width, args.depth
    params = dataset.n_features * width + (depth - 1) * width * width + width * 10
    rows = min(args.batch, dataset.x_train.shape[0])
    need = 8 * (4 * params + 6 * rows * width * (depth + 1))
    free = available_memory("cpu")
    if free is not None and need > free:
        raise UsageError(f"a {depth} x {width} MLP probed on {rows} rows needs about "
                         f"{need / 2**30:,.1f} GiB of memory, only {free / 2**30:,.1f} GiB is "
                         "available: use a smaller --width, --depth or --batch")
