"""The ``initcore`` command line.

    initcore list                               the registry, with formulas
    initcore run --dataset mnist --init he_normal xavier_normal --seeds 3
    initcore compare BASELINE CURRENT           regression check between two reports
    initcore speed --dataset mnist              throughput of the trainers vs the notebook loop

Bad input (unknown names, impossible numbers, missing or corrupt data, an unwritable report
folder) prints one line ``initcore: error: ...`` on stderr and exits with status 2, before any
report file is written.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import pandas as pd

from . import initializers
from .data import DATASETS, DataError
from .models import ACTIVATIONS
from .reports import ReportError

EXIT_USAGE = 2


class UsageError(Exception):
    """Bad command-line input; the message is one line."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage dump) and exit status 2."""

    def error(self, message: str):  # type: ignore[override]
        raise UsageError(message)


def _positive_int_list(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}") from None
    if not widths or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"hidden widths must be integers >= 1, got {text!r}")
    return widths


def resolve_inits(names: Sequence[str]) -> list[str]:
    """Expand ``all`` and check every name against the registry (ValueError lists valid ones)."""
    if "all" in names:
        return initializers.list_initializers()
    return list(dict.fromkeys(initializers.get(n).name for n in names))


def add_data_options(parser: argparse.ArgumentParser, device: bool = True) -> None:
    """--dataset, --data-dir, --download and (unless ``device`` is False) --device."""
    parser.add_argument("--dataset", default="mnist-5k",
                        help=f"one of {', '.join(DATASETS)} (default: mnist-5k, embedded)")
    parser.add_argument("--data-dir", default=None,
                        help="folder holding MNIST/raw (default: $INITCORE_DATA_DIR or ./data)")
    parser.add_argument("--download", action="store_true",
                        help="download the dataset through torchvision if it is missing")
    if device:
        parser.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="initcore", description="Benchmark neural-network weight initialization.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    commands.add_parser("list", help="list the initializers with their formulas")

    run = commands.add_parser("run", help="train initializers x seeds and write CSV reports")
    add_data_options(run)
    run.add_argument("--init", nargs="+", default=["all"], metavar="NAME",
                     help="initializer names, or 'all' (default)")
    run.add_argument("--seeds", type=int, default=3, help="number of seeds, 0..N-1 (default 3)")
    run.add_argument("--epochs", type=int, default=10)
    run.add_argument("--batch-size", type=int, default=64)
    run.add_argument("--lr", type=float, default=0.01)
    run.add_argument("--momentum", type=float, default=0.9)
    run.add_argument("--activation", default="relu", help=f"one of {', '.join(ACTIVATIONS)}")
    run.add_argument("--hidden", type=_positive_int_list, default=(256, 128),
                     help="hidden widths, comma-separated (default 256,128)")
    run.add_argument("--report-dir", default="reports", help="where reports go (default reports)")
    run.add_argument("--run-id", default=None, help="name of the run folder (default: time-based)")
    run.add_argument("--no-grid", action="store_true",
                     help="train one model at a time instead of the vectorized grid")

    from .regression import add_compare_parser
    from .speed import add_speed_parser

    add_compare_parser(commands)
    add_speed_parser(commands, add_data_options)
    from .experiments_cli import add_plot_parser, add_probe_parser  # signal propagation, figures
    add_probe_parser(commands, add_data_options)
    add_plot_parser(commands)
    return parser


def cmd_list(_args: argparse.Namespace) -> int:
    rows = [{"name": s.name, "formula": s.formula, "bias": s.bias, "needs_data": s.needs_data}
            for s in map(initializers.get, initializers.list_initializers())]
    print(pd.DataFrame(rows).to_string(index=False))
    return 0


def format_summary(summary: pd.DataFrame) -> str:
    """The summary table as people read it: accuracy in percent, mean +- std over seeds."""
    table = pd.DataFrame({
        "init": summary["init"],
        "test acc % (mean +- std)": [
            f"{100 * m:6.2f} +- {100 * s:5.2f}" if pd.notna(m) else "   n/a"
            for m, s in zip(summary["acc_mean"], summary["acc_std"].fillna(0.0))],
        "min": (100 * summary["acc_min"]).round(2),
        "max": (100 * summary["acc_max"]).round(2),
        "seeds": summary["n_seeds"],
        "diverged": summary["n_diverged"],
        "epochs": summary["epochs"],
        "s/epoch": summary["seconds_per_epoch"].round(3),
    })
    return table.to_string(index=False)


def cmd_run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from . import data as data_module
    from . import reports
    from .train import TrainConfig, train, train_grid

    # --- check everything before any work or any file ---------------------------------------
    inits = resolve_inits(args.init)
    if args.seeds < 1:
        raise UsageError(f"--seeds must be >= 1, got {args.seeds}")
    if args.dataset not in DATASETS:
        raise UsageError(f"unknown dataset {args.dataset!r}; valid names: {', '.join(DATASETS)}")
    config = TrainConfig(hidden=args.hidden, activation=args.activation, epochs=args.epochs,
                         batch_size=args.batch_size, lr=args.lr, momentum=args.momentum,
                         device=args.device)
    _check_device(args.device)
    reports.check_writable(args.report_dir)
    dataset = data_module.load(args.dataset, args.data_dir, args.download)

    # --- train ------------------------------------------------------------------------------
    seeds = list(range(args.seeds))
    total = len(inits) * len(seeds) * config.epochs
    with tqdm(total=total, unit="model-epoch", desc=f"{args.dataset}", file=sys.stderr) as bar:
        if args.no_grid:
            results = [train(i, s, dataset, config, progress=bar) for i in inits for s in seeds]
        else:
            results = train_grid(inits, seeds, dataset, config, progress=bar)

    # --- report -----------------------------------------------------------------------------
    run_id = args.run_id or reports.new_run_id()
    model = config.model_name(dataset.n_features, dataset.n_classes)
    epochs = reports.epoch_table(
        results, run_id=run_id, dataset=args.dataset, model=model,
        trainer="single" if args.no_grid else "grid",
        grid_size=1 if args.no_grid else len(results), env=reports.environment(args.device))
    formulas = {name: initializers.get(name).formula for name in inits}
    summary = reports.summarize(epochs, formulas)
    run_dir = reports.write_run(args.report_dir, run_id, epochs, summary)
    print(f"{args.dataset}, {model}, {config.epochs} epochs, "
          f"batch {config.batch_size}, lr {config.lr}, momentum {config.momentum}")
    print(format_summary(summary))
    print(f"reports: {run_dir}/{reports.EPOCHS_FILE}, {run_dir}/{reports.SUMMARY_FILE}")
    return 0


def _check_device(device: str) -> None:
    from .train import check_device

    try:
        check_device(device)
    except ValueError as e:
        raise UsageError(str(e)) from e


COMMANDS = {"list": cmd_list, "run": cmd_run}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    from .experiments_cli import cmd_plot, cmd_probe
    from .regression import cmd_compare
    from .speed import cmd_speed

    handlers = {**COMMANDS, "compare": cmd_compare, "speed": cmd_speed, "probe": cmd_probe,
                "plot": cmd_plot}
    try:
        args = build_parser().parse_args(argv)
        return handlers[args.command](args)
    except (UsageError, ValueError, DataError, ReportError) as e:
        print(f"initcore: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("initcore: interrupted; no report written for the unfinished run", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
