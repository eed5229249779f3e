"""The ``probe`` and ``plot`` subcommands of ``initcore`` (registered by :mod:`initcore.cli`).

    initcore probe --depth 30 --width 256 --activation relu --init all [--report-dir reports]
    initcore plot REPORT_DIR [--out DIR]

``probe`` measures every layer of a deep MLP at initialization (initcore.probes), prints the
per-layer ratio of pre-activation second moments next to ``n Var(W) / 2`` and the per-layer
activation std and gradient variance, and writes ``<report-dir>/<run-id>/probes.csv``.
``plot`` writes the PNG figures of a report folder (initcore.plots). Bad input raises ValueError
or UsageError, which ``initcore.cli.main`` prints as one line and exit status 2.
"""

from __future__ import annotations

import argparse

import pandas as pd

from .data import DATASETS
from .models import ACTIVATIONS


def add_probe_parser(commands, add_data_options) -> None:
    probe = commands.add_parser(
        "probe", help="per-layer signal propagation of a deep MLP at init -> probes.csv")
    probe.add_argument("--depth", type=int, default=30, help="hidden layers (default 30)")
    probe.add_argument("--width", type=int, default=256, help="units per hidden layer (256)")
    probe.add_argument("--activation", default="relu", help=f"one of {', '.join(ACTIVATIONS)}")
    probe.add_argument("--init", nargs="+", default=["all"], metavar="NAME",
                       help="initializer names, or 'all' (default)")
    probe.add_argument("--seeds", type=int, default=1, help="number of seeds, 0..N-1 (default 1)")
    probe.add_argument("--steps", type=int, default=0,
                       help="SGD steps of the seed recipe before probing (default 0: at init)")
    probe.add_argument("--batch", type=int, default=512, help="probe batch rows (default 512)")
    add_data_options(probe, device=False)  # probes run on the CPU, in float64
    probe.add_argument("--report-dir", default="reports", help="where reports go (default reports)")
    probe.add_argument("--run-id", default=None,
                       help="name of the run folder (default: time-based)")


def add_plot_parser(commands) -> None:
    plot = commands.add_parser("plot", help="PNG figures of a report folder (epochs/probes CSV)")
    plot.add_argument("report_dir", metavar="REPORT_DIR",
                      help="a run folder holding epochs.csv and/or probes.csv")
    plot.add_argument("--out", default=None, help="where the PNGs go (default: REPORT_DIR)")


def _layers_shown(depth: int) -> list[int]:
    """First, quarter, half, three-quarter and last hidden layer, plus the output layer."""
    return sorted({1, 2, max(1, depth // 4), max(1, depth // 2), max(1, 3 * depth // 4), depth,
                   depth + 1})


def format_probes(table: pd.DataFrame, depth: int) -> str:
    """The printed view: ratio table, then per-layer act std and gradient variance by init."""
    from .probes import ratio_table

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


def cmd_probe(args: argparse.Namespace) -> int:
    from . import data as data_module
    from . import reports
    from .cli import UsageError, resolve_inits
    from .models import check_activation
    from .probes import PROBES_FILE, probe

    # --- check everything before any work or any file ---------------------------------------
    inits = resolve_inits(args.init)
    check_activation(args.activation)
    for name in ("depth", "width", "seeds", "batch"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name} must be >= 1, got {getattr(args, name)}")
    if args.steps < 0:
        raise UsageError(f"--steps must be >= 0, got {args.steps}")
    if args.dataset not in DATASETS:
        raise UsageError(f"unknown dataset {args.dataset!r}; valid names: {', '.join(DATASETS)}")
    run_id = args.run_id if args.run_id is not None else reports.new_run_id()
    run_dir = reports.check_new_run(args.report_dir, run_id)
    dataset = data_module.load(args.dataset, args.data_dir, args.download)
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


def _check_probe_memory(args: argparse.Namespace, dataset) -> None:
    """UsageError if one probed model cannot fit in memory: the net in float64 with its
    gradients and momentum (4 copies) and the probe batch's activations and their gradients in
    every layer (a width of 100,000 would otherwise die in its first allocation)."""
    from .cli import UsageError
    from .train import available_memory

    width, depth = args.width, args.depth
    params = dataset.n_features * width + (depth - 1) * width * width + width * 10
    rows = min(args.batch, dataset.x_train.shape[0])
    need = 8 * (4 * params + 6 * rows * width * (depth + 1))
    free = available_memory("cpu")
    if free is not None and need > free:
        raise UsageError(f"a {depth} x {width} MLP probed on {rows} rows needs about "
                         f"{need / 2**30:,.1f} GiB of memory, only {free / 2**30:,.1f} GiB is "
                         "available: use a smaller --width, --depth or --batch")


def cmd_plot(args: argparse.Namespace) -> int:
    from .plots import plot_report_dir

    for path in plot_report_dir(args.report_dir, args.out):
        print(path)
    return 0


HANDLERS = {"probe": cmd_probe, "plot": cmd_plot}
