"""``initcore run``: train initializers x seeds with the seed recipe and write the CSV reports.

    initcore run --dataset mnist --init he_normal xavier_normal --seeds 3

Everything is checked before any work or any file; the run folder is claimed before training
(a second run of the same id is refused) and released if training ends without a result. If
the reports cannot be written after training, the results are kept in a temp folder and the
error says where.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from .. import data, initializers, reports
from ..grid import train_grid
from ..models import ACTIVATIONS
from ..reports import ReportError
from ..train import TrainConfig, check_memory, train
from .common import (
    Interrupted,
    add_data_options,
    add_device_option,
    add_init_option,
    add_report_options,
    check_at_least,
    checked_device,
    positive_int_list,
    resolve_inits,
)

HELP = "train initializers x seeds and write CSV reports"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_options(parser)
    add_device_option(parser)
    add_init_option(parser)
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds, 0..N-1 (default 3)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--activation", default="relu", help=f"one of {', '.join(ACTIVATIONS)}")
    parser.add_argument("--hidden", type=positive_int_list, default=(256, 128),
                        help="hidden widths, comma-separated (default 256,128)")
    add_report_options(parser)
    parser.add_argument("--no-grid", action="store_true",
                        help="train one model at a time instead of the vectorized grid")


def handle(args: argparse.Namespace) -> int:
    # --- check everything before any work or any file ---------------------------------------
    inits = resolve_inits(args.init)
    check_at_least(args, 1, "seeds")
    config = TrainConfig(hidden=args.hidden, activation=args.activation, epochs=args.epochs,
                         batch_size=args.batch_size, lr=args.lr, momentum=args.momentum,
                         device=args.device)
    checked_device(args.device)
    run_dir = reports.new_run_dir(args.report_dir, args.run_id)
    dataset = data.load(args.dataset, args.data_dir, args.download)
    # Before range(): the memory check refuses an absurd grid (--seeds 10**30) in one line,
    # where building the seed list would fail with an OverflowError.
    check_memory(config, len(inits) * args.seeds, dataset)
    seeds = list(range(args.seeds))

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
        results, run_id=run_dir.name, dataset=args.dataset, model=model,
        trainer="single" if args.no_grid else "grid",
        grid_size=1 if args.no_grid else len(results), env=reports.environment(args.device))
    formulas = {name: initializers.get(name).formula for name in inits}
    summary = reports.summarize(epochs, formulas)
    _write_or_keep(args.report_dir, run_dir, epochs, summary,
                   command=["initcore", *sys.argv[1:]])
    print(f"{args.dataset}, {model}, {config.epochs} epochs, "
          f"batch {config.batch_size}, lr {config.lr}, momentum {config.momentum}")
    print(reports.format_summary(summary))
    print(f"reports: {run_dir}/{reports.EPOCHS_FILE}, {run_dir}/{reports.SUMMARY_FILE}")
    return 0


def _release(run_dir: Path) -> None:
    """Remove the claimed run folder if it is still empty (the run ended before writing)."""
    try:
        run_dir.rmdir()
    except OSError:
        pass  # not empty or already gone: leave it (it has no run.json: incomplete)


def _write_or_keep(report_dir, run_dir: Path, epochs: pd.DataFrame, summary: pd.DataFrame,
                   **info) -> None:
    """Write the run's reports; if that fails after the training, keep the results elsewhere
    and say where (ReportError), and on Ctrl-C say what is on disk (Interrupted)."""
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


def _interrupted_state(run_dir: Path) -> str:
    """What Ctrl-C during the writing left: a complete run, an incomplete folder, or nothing."""
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
    for parent in (None, Path.home()):
        try:
            folder = Path(tempfile.mkdtemp(prefix=f"initcore-unsaved-{run_id}-", dir=parent))
            for name, table in tables.items():
                table.to_csv(folder / name, index=False)
            return str(folder)
        except OSError:
            continue
    return "nowhere (no writable folder found; the results are lost)"
