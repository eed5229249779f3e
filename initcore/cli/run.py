"""``initcore run``: train initializers x seeds with a recipe and write the CSV reports.

    initcore run --dataset mnist --init he_normal xavier_normal --seeds 3
    initcore run --dataset mnist --recipe zero_mnist --init he_normal --seeds 2
    initcore run --recipe my_recipe.toml --optimizer adam --lr 0.001 --schedule cosine

The recipe is the seed notebook's, replaced by ``--recipe`` (a TOML file, or the name of a
shipped one: initcore/recipes/*.toml), each key of which a flag given on the command line
replaces in turn.
    initcore run --dataset mnist --seeds 5 --shard 2/4        one shard's rows (initcore merge)
    initcore run --dataset mnist --seeds 5 --backend ray      every shard a Ray task

A shard run (``--shard i/n``) writes only its own rows and records the whole grid in run.json;
it enters no history (its summary is partial): ``initcore merge`` makes the run of the shards.
With ``--backend ray`` the driver collects every shard's rows and writes one run, with
``shards.csv`` saying which node trained which shard; if a shard fails for good, the finished
shards' rows stay in the (incomplete) run folder and the command exits 1 naming the shard.

Everything is checked before any work or any file; the run folder is claimed before training
(a second run of the same id is refused) and released if training ends without a result. If
the reports cannot be written after training, the results are kept in a temp folder and the
error says where.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from .. import (
    costs,
    data,
    leaderboard,
    options,
    ray_backend,
    recipes,
    reports,
    runs,
    shards,
    verdicts,
)
from ..data import SCALINGS
from ..experiments import Experiment
from ..models import ACTIVATIONS
from ..reports import ReportError
from ..train import ARCHS, OPTIMIZERS, SCHEDULES, Recipe, check_memory, train
from .common import (
    Interrupted,
    UsageError,
    add_data_options,
    add_device_option,
    add_init_option,
    add_report_options,
    add_shard_options,
    checked_device,
    resolve_inits,
    shard_request,
)

HELP = "train initializers x seeds and write CSV reports"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_options(parser)
    add_device_option(parser)
    add_init_option(parser)
    options.add_verdict_options(parser.add_argument, seeds={
        "default": 3, "help": "number of seeds, 0..N-1 (default 3), or auto: grids of "
                              f"{AUTO_BATCH} seeds until every scheme has a verdict against He "
                              "(initcore.verdicts) or --max-seeds are trained"})
    add_recipe_options(parser)
    add_report_options(parser)
    parser.add_argument("--no-grid", action="store_true",
                        help="train one model at a time instead of the vectorized grid")
    add_shard_options(parser)
    options.add(parser.add_argument, ("dry-run",))


AUTO_BATCH = 3  # seeds per look of --seeds auto: the profiles' seed count, one grid


def add_recipe_options(parser: argparse.ArgumentParser) -> None:
    """--recipe FILE|NAME and one flag per recipe field; a flag left out keeps the recipe's
    value (default: the seed notebook's, shown in brackets)."""
    seed = Recipe()
    group = parser.add_argument_group("recipe (default: the seed notebook's)")
    group.add_argument("--recipe", metavar="FILE.toml|NAME", default=None,
                       help="a TOML recipe file, or a shipped recipe "
                            f"({', '.join(recipes.list_shipped())}); flags below override it")
    group.add_argument("--epochs", type=int, help=f"[{seed.epochs}]")
    group.add_argument("--batch-size", type=int, help=f"[{seed.batch_size}]")
    group.add_argument("--optimizer", choices=OPTIMIZERS, help=f"[{seed.optimizer}]")
    group.add_argument("--lr", type=float, help=f"learning rate [{seed.lr}]")
    group.add_argument("--momentum", type=float, help=f"SGD momentum, 0: plain SGD "
                                                      f"[{seed.momentum}]")
    group.add_argument("--weight-decay", type=float,
                       help=f"L2, torch.optim's [{seed.weight_decay}]")
    group.add_argument("--schedule", choices=SCHEDULES, help="learning rate per epoch: step "
                       f"(--step-size, --gamma) or cosine over the epochs [{seed.schedule}]")
    group.add_argument("--step-size", type=int, help=f"epochs per step [{seed.step_size}]")
    group.add_argument("--gamma", type=float, help=f"factor per step [{seed.gamma}]")
    options.add(group.add_argument, ("activation",), activation={
        "help": f"one of {', '.join(ACTIVATIONS)} [{seed.activation}]"})
    group.add_argument("--hidden", type=options.positive_int_list("--hidden"),
                       help="hidden widths, comma-separated [256,128]")
    group.add_argument("--no-bias", dest="bias", action="store_false", default=None,
                       help="layers without biases")
    group.add_argument("--input-scaling", choices=SCALINGS,
                       help=f"unit [0,1], symmetric [-1,1], standard [{seed.input_scaling}]")
    group.add_argument("--arch", choices=ARCHS, help="mlp (--hidden) or resmlp: a residual MLP "
                       f"without normalization (--blocks, --width) [{seed.arch}]")
    group.add_argument("--blocks", type=int, help=f"resmlp: residual blocks [{seed.blocks}]")
    options.add(group.add_argument, ("width",),
                width={"help": f"resmlp: width of every block [{seed.width}]"})
    group.add_argument("--branch-layers", type=int, choices=(1, 2),
                       help=f"resmlp: Linear layers per branch [{seed.branch_layers}]")
    group.add_argument("--no-branch-gain", dest="branch_gain", action="store_false",
                       default=None, help="resmlp: no learnable scalar gain per branch")
    group.add_argument("--scalar-bias", dest="scalar_bias", action="store_true", default=None,
                       help="resmlp: Fixup's four scalar biases per block")


def recipe_from(args: argparse.Namespace) -> Recipe:
    """The run's recipe: the seed recipe, or --recipe's, with every flag given replacing its
    field; UsageError or RecipeError (one line naming the flag, or the file and key) if it is
    unusable."""
    base = Recipe(device=args.device)
    if args.recipe is not None:
        path = Path(args.recipe)
        if not path.exists() and args.recipe in recipes.list_shipped():
            path = recipes.shipped_path(args.recipe)
        base = recipes.load(path, base)
    flags = {f: getattr(args, f) for f in _FLAG_FIELDS if getattr(args, f) is not None}
    flags["device"] = args.device  # the machine's, not the recipe's: --device always wins
    try:
        return Recipe(**{**base.as_dict(), **flags})
    except ValueError as e:
        raise UsageError(f"{e} (from the command line)") from None


_FLAG_FIELDS = ("epochs", "batch_size", "optimizer", "lr", "momentum", "weight_decay", "schedule",
                "step_size", "gamma", "activation", "hidden", "bias", "input_scaling",
                "arch", "blocks", "width", "branch_layers", "branch_gain", "scalar_bias")


def handle(args: argparse.Namespace) -> int:
    # --- check everything before any work or any file ---------------------------------------
    shard_index = shard_request(args)  # the rules between options (--seeds auto's too)
    auto = args.seeds == options.AUTO
    if auto:
        args.max_seeds = args.max_seeds or options.MAX_SEEDS
        args.seeds = min(AUTO_BATCH, args.max_seeds)  # what is checked and sized: one grid
    margin = verdicts.MARGIN if args.margin is None else args.margin / 100
    design = verdicts.Design(margin=margin)
    config = recipe_from(args)
    inits = resolve_inits(args.init, [config])  # users' schemes tried on this architecture
    checked_device(args.device)
    if args.backend == "ray":
        ray_backend.import_ray()  # the extra is missing: one line, before any work
    # a dry run plans only: no report folder is made or checked
    run_dir = None if args.dry_run else reports.new_run_dir(args.report_dir, args.run_id)
    dataset = data.load(args.dataset, args.data_dir, args.download)
    # Before range(): the memory check refuses an absurd grid (--seeds 10**30) in one line,
    # where building the seed list would fail with an OverflowError.
    check_memory(config, len(inits) * args.seeds, dataset)
    seeds = list(range(args.seeds))
    grid = Experiment(GRID_NAME, args.dataset, config, tuple(inits), tuple(seeds), margin=margin)
    shard = shards.plan([grid], shard_index[1])[shard_index[0] - 1] if shard_index else None
    if args.dry_run:  # the plan of what would be trained here, nothing written
        print("\n".join(costs.plan_lines(shard.parts if shard else [grid], args.report_dir)))
        return 0

    # --- train (the run folder is claimed first: a second run of this id is refused) ----------
    run_dir = runs.claim(args.report_dir, run_dir.name)
    total = (len(shard.cells()) if shard else len(inits) * len(seeds)) * config.epochs
    try:
        with tqdm(total=total, unit="model-epoch", desc=f"{args.dataset}",
                  file=sys.stderr) as bar:
            if auto:
                bar.total = len(grid.inits) * args.max_seeds * config.epochs  # the budget
                grid, parts, sequential = runs.until_decided(
                    grid, dataset, bar, max_seeds=args.max_seeds,
                    report=lambda line: bar.write(line, file=sys.stderr))
                bar.total = bar.n  # the seeds it took, not the budget
                bar.refresh()
                results, sizes = shards.ordered_results(grid, parts)
                design = replace(design, batch=args.seeds, max_seeds=args.max_seeds)
                done = None
            elif args.no_grid:
                results = [train(i, s, dataset, config, progress=bar)
                           for i in inits for s in seeds]
                sizes = [1] * len(results)
                done = None
            else:
                done = runs.train([grid], lambda _: dataset, bar, shard=shard,
                                  ray=(runs.ray_options(options.namespace_getter(args))
                                       if args.backend == "ray" else None),
                                  get=options.namespace_getter(args),
                                  finished=_ray_progress(grid, bar))
                results, sizes = shards.ordered_results(grid, done, partial=shard is not None)
    except ray_backend.ShardsFailed as e:
        return _keep_finished(args, run_dir, grid, e,
                              config.model_name(dataset.n_features, dataset.n_classes))
    except BaseException:
        runs.release(run_dir)  # nothing of this run was written: the id is free again
        raise

    # --- report -----------------------------------------------------------------------------
    model = config.model_name(dataset.n_features, dataset.n_classes)
    env = reports.environment(args.device)
    epochs, summary = runs.tables(grid, results, sizes, run_id=run_dir.name, env=env,
                                  model=model, trainer="single" if args.no_grid else "grid")
    info: dict = {"command": ["initcore", *sys.argv[1:]], "recipe": config.as_dict()}
    if auto:
        info["seeds"] = {"auto": True, "batch": args.seeds, "max_seeds": args.max_seeds,
                         "looks": sequential.looks, "decided": sequential.decided,
                         "seconds": round(sequential.seconds, 1)}
    scaled = shard is not None or args.backend == "ray"
    if scaled:
        info["shards"] = shards.shard_table(done).to_dict("records")
    if shard is not None:  # one shard's rows: complete as a shard, never in the history
        info["shard"] = shards.shard_record(shard, [grid], None, env["commit"])
    _write_or_keep(args.report_dir, run_dir, epochs, summary, done if scaled else None,
                   design, **info)
    if shard is not None:
        print(f"{shard.name}: {len(shard.cells())} of {len(inits) * len(seeds)} models; "
              f"merge the {shard.count} shard folders with `initcore merge`")
    print(f"{args.dataset}, {model}, {config.describe()}")
    print(reports.format_summary(summary))
    board = run_dir / leaderboard.LEADERBOARD_FILE
    if shard is None and board.is_file():
        print("\n".join(leaderboard.format_leaderboard(pd.read_csv(board))))
    print(f"reports: {run_dir}/{reports.EPOCHS_FILE}, {run_dir}/{reports.SUMMARY_FILE}")
    return 0


GRID_NAME = "run"  # the one experiment of an `initcore run` grid, as shard records name it


def _ray_progress(grid: Experiment, bar: tqdm
                  ) -> Callable[[shards.Shard, list[shards.PartResult]], None]:
    """What the Ray backend calls when a shard is done: a line, and the progress bar."""
    def finished(shard: shards.Shard, parts: list[shards.PartResult]) -> None:
        node = parts[0].node if parts else "?"
        bar.write(f"{shard.name} done on node {node[:12]} ({sum(p.seconds for p in parts):.1f} s)",
                  file=sys.stderr)
        bar.update(sum(len(p.results) for p in parts) * grid.config.epochs)
    return finished


def _keep_finished(args: argparse.Namespace, run_dir: Path, grid: Experiment,
                   failure: ray_backend.ShardsFailed, model: str) -> int:
    """A shard failed for good: keep the finished shards' rows in the run folder (left
    incomplete, no run.json), name the failed shards, exit 1."""
    if failure.done:
        results, sizes = shards.ordered_results(grid, failure.done, partial=True)
        epochs, _ = runs.tables(grid, results, sizes, run_id=run_dir.name,
                                env=reports.environment(args.device),
                                model=model)
        runs.write_rows(run_dir, epochs, None, failure.done, whole=True)
        kept = f"the finished shards' rows are in {run_dir} (incomplete: no {reports.MARKER_FILE})"
    else:
        runs.release(run_dir)
        kept = "no shard finished"
    print(f"initcore: error: {failure}; {kept}", file=sys.stderr)
    return 1


def _write_or_keep(report_dir, run_dir: Path, epochs: pd.DataFrame, summary: pd.DataFrame,
                   done: list[shards.PartResult] | None, design: verdicts.Design | None = None,
                   **info) -> None:
    """Write the run's reports (:mod:`initcore.runs`: rows, leaderboard, run.json, history);
    if that fails after the training, keep the results elsewhere and say where (ReportError),
    and on Ctrl-C say what is on disk (Interrupted)."""
    try:
        runs.write_rows(run_dir, epochs, summary, done, whole=True)
        runs.write_leaderboard(run_dir, design)
        runs.complete(run_dir, **info)
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
    runs.release(run_dir)
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
