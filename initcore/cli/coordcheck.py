"""``initcore coordcheck``: mup's coordinate check, standard parametrization against muP.

    initcore coordcheck [--optimizers sgd adam] [--parametrizations sp mup] [--widths 64,...,4096]
                        [--base-width 64] [--steps 3] [--seeds 3] [--readout zero]

Trains MLPs (784 -> w x depth -> 10, ReLU, no biases, lecun_normal: mup's examples/MLP) of every
width for T steps on one fixed batch and records every layer's mean |output| at each step
(:func:`initcore.width.coord_check`). Writes ``<report-dir>/<run-id>/coordcheck.csv`` (one row
per seed, width, layer, step) and ``coordcheck.png`` (mup's log-log panels), and prints, per
layer and step, the seed-mean l1 at the widest width over that at a quarter of it with mup's
verdict (ratio within 1/1.2 .. 1.2: flat).
"""

from __future__ import annotations

import argparse

from .. import data, options, reports
from ..initializers import get as get_scheme
from ..options import positive_int_list
from ..parametrization import PARAMETRIZATIONS, READOUTS
from ..train import OPTIMIZERS, Recipe
from ..width import COORD_FILE, COORD_WIDTHS, MUP_BAND, coord_check, flat_ratios
from .common import (
    UsageError,
    add_data_options,
    add_report_options,
    check_at_least,
)

HELP = "mup's coordinate check, SP vs muP, SGD and Adam -> coordcheck.csv, coordcheck.png"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--optimizers", nargs="+", choices=OPTIMIZERS, default=list(OPTIMIZERS),
                        help="optimizers (default: sgd adam; SGD without momentum, as mup)")
    parser.add_argument("--parametrizations", nargs="+", choices=PARAMETRIZATIONS,
                        default=list(PARAMETRIZATIONS), help="default: sp mup")
    parser.add_argument("--widths", type=positive_int_list("--widths"),
                        default=COORD_WIDTHS, help="comma-separated widths (default 64,...,4096)")
    parser.add_argument("--base-width", type=int, default=64,
                        help="muP's base width: muP equals SP there (default 64)")
    options.add(parser.add_argument, ("depth", "steps", "seeds", "batch", "init"),
                depth={"default": 2, "help": "hidden layers (default 2)"},
                steps={"default": 3, "help": "training steps T (default 3)"},
                seeds={"default": 3, "help": "seeds 0..N-1, averaged (default 3)"},
                batch={"default": 64, "help": "rows of the fixed batch (default 64)"},
                init={"default": ["lecun_normal"], "help": "the one scheme of every layer before "
                      "muP's multipliers (default lecun_normal)"})
    parser.add_argument("--sgd-lr", type=float, default=0.1,
                        help="SGD's learning rate (default 0.1, mup's get_coord_data)")
    parser.add_argument("--adam-lr", type=float, default=1e-3,
                        help="Adam's learning rate (default 0.001, mup's get_coord_data)")
    parser.add_argument("--readout", choices=READOUTS, default="zero",
                        help="muP's readout at init (default zero, as mup's MLP example)")
    add_data_options(parser)
    add_report_options(parser)


def handle(args: argparse.Namespace) -> int:
    # --- check everything before any work or any file ---------------------------------------
    check_at_least(args, 1, "depth", "steps", "seeds", "batch", "base_width")
    for name in ("sgd_lr", "adam_lr"):
        if not getattr(args, name) > 0:
            raise UsageError(f"--{name.replace('_', '-')} must be > 0, got {getattr(args, name)}")
    if len(args.init) != 1:
        raise UsageError(f"--init takes one scheme here, got {len(args.init)}")
    init = args.init[0]
    if len(args.widths) < 2:
        raise UsageError("--widths needs at least two widths to compare")
    if max(args.widths) > 2 ** 15:
        raise UsageError(f"--widths: {max(args.widths)} is beyond 32768 units, which would not "
                         "fit in memory here")
    get_scheme(init)  # ValueError listing the valid names
    run_dir = reports.new_run_dir(args.report_dir, args.run_id)
    dataset = data.load(args.dataset, args.data_dir, args.download)
    widths = sorted(set(args.widths))

    # --- measure ----------------------------------------------------------------------------
    tables = []
    for optimizer in args.optimizers:
        recipe = Recipe(hidden=(args.base_width,) * args.depth, bias=False, momentum=0.0,
                        optimizer=optimizer, lr=getattr(args, f"{optimizer}_lr"),
                        batch_size=args.batch, epochs=1)
        for param in args.parametrizations:
            tables.append(coord_check(dataset, recipe, param, widths=widths,
                                      base_width=args.base_width, init=init,
                                      steps=args.steps, seeds=range(args.seeds),
                                      readout=args.readout))
    import pandas as pd
    table = pd.concat(tables, ignore_index=True)

    # --- report -----------------------------------------------------------------------------
    path = reports.write_run_table(run_dir, COORD_FILE, table)
    from ..width_plots import plot_coord_check
    figure = plot_coord_check(table, run_dir / "coordcheck.png")
    wide = widths[-1]
    narrow = max([w for w in widths if w <= wide // 4] or [widths[0]])
    ratios = flat_ratios(table, narrow, wide)
    print(f"coordinate check: {args.dataset}, MLP 784-{'x'.join(['w'] * args.depth)}-10 relu, "
          f"widths {widths[0]}..{wide}, base {args.base_width}, {args.steps} steps, "
          f"{args.seeds} seed(s), readout {args.readout}")
    print(f"l1(width {wide}) / l1(width {narrow}), seed means; mup's criterion: within "
          f"1/{MUP_BAND:g} .. {MUP_BAND:g} (nan: 0 at both widths)")
    shown = ratios.pivot_table(index=["parametrization", "optimizer", "layer"], columns="t",
                               values="ratio", sort=False, dropna=False)
    shown.columns = [f"t={t}" for t in shown.columns]
    print(shown.to_string(float_format=lambda v: f"{v:.3g}"))
    for (param, opt), part in ratios.groupby(["parametrization", "optimizer"], sort=False):
        verdict = "flat (mup's criterion holds)" if part["in_band"].all() else \
            f"not flat: {int((~part['in_band']).sum())} of {len(part)} (layer, t) outside the band"
        print(f"{param} {opt}: {verdict}")
    print(f"report: {path}\nfigure: {figure}")
    return 0
