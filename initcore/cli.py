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

    repair = commands.add_parser(
        "repair", help="re-derive history.csv rows from complete run folders; list incomplete")
    repair.add_argument("report_dir", metavar="REPORT_DIR", nargs="?", default="reports",
                        help="the report folder (default reports)")

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
    from .train import TrainConfig, check_memory, train, train_grid

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
    run_id = args.run_id if args.run_id is not None else reports.new_run_id()
    run_dir = reports.check_new_run(args.report_dir, run_id)
    dataset = data_module.load(args.dataset, args.data_dir, args.download)
    seeds = list(range(args.seeds))
    check_memory(config, len(inits) * len(seeds), dataset)

    # --- train (the run folder is claimed first: a second run of this id is refused) ----------
    reports.claim_run_dir(run_dir)
    total = len(inits) * len(seeds) * config.epochs
    try:
        with tqdm(total=total, unit="model-epoch", desc=f"{args.dataset}",
                  file=sys.stderr) as bar:
            if args.no_grid:
                results = [train(i, s, dataset, config, progress=bar)
                           for i in inits for s in seeds]
            else:
                results = train_grid(inits, seeds, dataset, config, progress=bar)
    except BaseException:
        _release(run_dir)  # nothing of this run was written: the id is free again
        raise

    # --- report -----------------------------------------------------------------------------
    model = config.model_name(dataset.n_features, dataset.n_classes)
    epochs = reports.epoch_table(
        results, run_id=run_id, dataset=args.dataset, model=model,
        trainer="single" if args.no_grid else "grid",
        grid_size=1 if args.no_grid else len(results), env=reports.environment(args.device))
    formulas = {name: initializers.get(name).formula for name in inits}
    summary = reports.summarize(epochs, formulas)
    _write_or_keep(args.report_dir, run_dir, epochs, summary,
                   command=["initcore", *sys.argv[1:]])
    print(f"{args.dataset}, {model}, {config.epochs} epochs, "
          f"batch {config.batch_size}, lr {config.lr}, momentum {config.momentum}")
    print(format_summary(summary))
    print(f"reports: {run_dir}/{reports.EPOCHS_FILE}, {run_dir}/{reports.SUMMARY_FILE}")
    return 0


class Interrupted(Exception):
    """Ctrl-C with something on disk: the message says what state the report is in."""


def _release(run_dir) -> None:
    """Remove the claimed run folder if it is still empty (the run ended before writing)."""
    try:
        run_dir.rmdir()
    except OSError:
        pass  # not empty or already gone: leave it (it has no run.json: incomplete)


def _write_or_keep(report_dir, run_dir, epochs: pd.DataFrame, summary: pd.DataFrame,
                   **info) -> None:
    """Write the run's reports; if that fails after the training, keep the results elsewhere
    and say where (ReportError), and on Ctrl-C say what is on disk (Interrupted)."""
    from . import reports

    try:
        reports.write_run(report_dir, run_dir.name, epochs, summary, **info)
    except KeyboardInterrupt:
        raise Interrupted(_interrupted_state(run_dir)) from None
    except (OSError, ReportError) as e:
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        kept = keep_results(run_dir.name, {reports.EPOCHS_FILE: epochs,
                                           reports.SUMMARY_FILE: summary})
        if reports.is_complete(run_dir):
            raise ReportError(f"the run is complete in {run_dir} but history.csv could not be "
                              f"updated ({why}); run `initcore repair {report_dir}` later; "
                              f"a copy of the results is in {kept}") from e
        raise ReportError(f"could not write the report to {run_dir} ({why}); "
                          f"the results are kept in {kept}") from e


def _interrupted_state(run_dir) -> str:
    """What Ctrl-C during the writing left: a complete run, an incomplete folder, or nothing."""
    from . import reports

    if reports.is_complete(run_dir):
        return (f"interrupted after the run was written to {run_dir} (complete); its history "
                f"row is added by the next run or `initcore repair {run_dir.parent}`")
    if run_dir.is_dir() and any(run_dir.iterdir()):
        return (f"interrupted while writing {run_dir}: that folder is incomplete (no "
                f"{reports.MARKER_FILE}); remove it")
    _release(run_dir)
    return "interrupted; no report written for the unfinished run"


def keep_results(run_id: str, tables: dict[str, pd.DataFrame]) -> str:
    """Save ``tables`` to a fresh folder in the system temp dir (or, failing that, the home
    folder) so results that could not be written to the report folder are not lost."""
    import tempfile
    from pathlib import Path

    for parent in (None, Path.home()):
        try:
            folder = Path(tempfile.mkdtemp(prefix=f"initcore-unsaved-{run_id}-", dir=parent))
            for name, table in tables.items():
                table.to_csv(folder / name, index=False)
            return str(folder)
        except OSError:
            continue
    return "nowhere (no writable folder found; the results are lost)"


def _check_device(device: str) -> None:
    from .train import check_device

    try:
        check_device(device)
    except ValueError as e:
        raise UsageError(str(e)) from e


def _one_line(error: Exception) -> str:
    """The message of ``error`` on one line (pandas and torch messages can span several)."""
    return " ".join(str(error).split()) or type(error).__name__


def cmd_repair(args: argparse.Namespace) -> int:
    """Re-derive missing history rows from complete run folders, remove stale temp files and
    list the incomplete run folders."""
    from pathlib import Path

    from . import reports

    folder = Path(args.report_dir)
    if not folder.is_dir():
        raise ReportError(f"no report folder at {folder}")
    removed = reports.clean_stale_temps(folder)
    for run_dir in (p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        removed += reports.clean_stale_temps(run_dir)
    added = reports.repair_history(folder)
    incomplete = reports.incomplete_runs(folder)
    print(f"history.csv: {len(added)} run(s) added from complete run folders"
          + (f" ({', '.join(added)})" if added else ""))
    print(f"stale temp files removed: {len(removed)}")
    print(f"incomplete run folders (no {reports.MARKER_FILE}): {len(incomplete)}"
          + (f" ({', '.join(p.name for p in incomplete)})" if incomplete else ""))
    return 0


COMMANDS = {"list": cmd_list, "run": cmd_run, "repair": cmd_repair}


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
        print(f"initcore: error: {_one_line(e)}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:  # a file or folder given on the command line cannot be used
        where = f"{e.filename}: " if e.filename else ""
        print(f"initcore: error: {where}{e.strerror or e}", file=sys.stderr)
        return EXIT_USAGE
    except MemoryError:
        print("initcore: error: out of memory: use smaller or fewer models", file=sys.stderr)
        return EXIT_USAGE
    except Interrupted as e:
        print(f"initcore: {e}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("initcore: interrupted; no report written for the unfinished run", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
