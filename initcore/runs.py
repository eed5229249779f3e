"""One run, for both front doors (``initcore run`` and ``pytest bench``).

A run, step by step; each step is one function here, and both front ends call them in this
order:

1. :func:`claim` the run folder ``<report-dir>/<run-id>`` (a second run of the id is refused);
2. :func:`train` its experiments: locally, one shard of them (``--shard i/n``), or every shard
   as a Ray task (``--backend ray``, :mod:`initcore.ray_backend`); with ``--seeds auto``
   :func:`until_decided` trains each experiment look by look instead, until it is decided;
3. :func:`tables`: each experiment's per-epoch and summary tables, built here and only here
   (the summary from the per-epoch rows, :func:`initcore.reports.summarize`);
4. :func:`write_rows`: append them (and ``shards.csv``) to the run folder, under their locks;
5. :func:`write_leaderboard` (with the design its seeds were trained by), then
   :func:`complete`: mark the folder complete (``run.json``, last), then append its summary
   to ``<report-dir>/history.csv`` and repair the history (rows of earlier runs killed
   between their marker and their history row). A shard's run never enters the history:
   ``initcore merge`` makes the run that does.
6. With ``pytest bench --update-baseline``: :func:`update_baseline` (the profile's committed
   baseline takes this run's summary rows).

``pytest bench`` trains its experiments lazily, one per fixture request (shared across xdist
workers), so steps 2-4 run once per experiment; ``initcore run`` has one experiment.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import pandas as pd

from . import initializers, leaderboard, ray_backend, regression, reports, shards, verdicts
from .data import Dataset
from .experiments import Experiment
from .files import file_lock
from .options import Getter
from .train import Progress, RunResult


def claim(report_dir: str | Path, run_id: str | None) -> Path:
    """Check and create the run folder (ReportError, one line, if the id is taken or the
    folder cannot be written)."""
    return reports.claim_run_dir(reports.new_run_dir(report_dir, run_id))


def release(folder: Path) -> None:
    """Remove a claimed run folder if nothing was written into it (locks aside)."""
    if folder.is_dir() and not any(p for p in folder.iterdir() if not p.name.startswith(".")):
        with contextlib.suppress(OSError):
            for lock in folder.glob(".*.lock"):
                lock.unlink()
            folder.rmdir()


def ray_options(get: Getter) -> ray_backend.RayOptions:
    """The Ray backend's options (--ray-address, --shards, --cpus-per-shard, and a GPU per task
    with a cuda --device)."""
    return ray_backend.RayOptions(address=get("ray_address"), shards=get("shards"),
                                  cpus=get("cpus_per_shard") or 1,
                                  gpus=1.0 if (get("device") or "cpu").startswith("cuda")
                                  else 0.0)


def train(experiments: Sequence[Experiment], load: Callable[[str], Dataset],
          progress: Progress | None, *, shard: shards.Shard | None = None,
          ray: ray_backend.RayOptions | None = None, get: Getter | None = None,
          finished: Callable[[shards.Shard, list[shards.PartResult]], None] | None = None,
          ) -> list[shards.PartResult]:
    """Train ``experiments`` (or ``shard``'s parts of them) here, or with ``ray`` every shard
    of them as a Ray task (``get`` gives --data-dir and --download to the tasks); the parts
    trained, each a grid. Raises :class:`initcore.ray_backend.ShardsFailed` (with the parts
    that finished) when a Ray shard fails for good."""
    if ray is not None:
        most = shards.max_shards(experiments)  # the Ray backend never cuts a grid finer
        get = get or (lambda _: None)
        return ray_backend.run(lambda n: shards.plan(experiments, min(n, most)), ray,
                               get("data_dir"), bool(get("download")), finished)
    if shard is not None:
        return shards.run_parts_locally(shard.name, shard.parts, load, progress)
    return shards.run_parts_locally("local", experiments, load, progress)


def until_decided(experiment: Experiment, dataset: Dataset, progress: Progress | None, *,
                  max_seeds: int, comparisons: int | None = None,
                  report: Callable[[str], None] | None = None
                  ) -> tuple[Experiment, list[shards.PartResult], verdicts.SequentialRun]:
    """``--seeds auto`` for one experiment, on both front doors: its grid trained here (through
    :func:`train`) in batches of its seed count (seeds 0..k-1, then k..2k-1, ...) until every
    comparison that matters has a verdict or ``max_seeds`` seeds are trained, judged at each
    look by the group-sequential design of :func:`initcore.verdicts.train_until_decided`
    (Lan-DeMets alpha spending) with the experiment's margin. ``comparisons``: K of the board
    whose alpha it shares (a bench profile's, all experiments; default: this experiment's);
    ``report`` gets one line per look. Returns the experiment with the seeds it took, the
    parts trained (one grid per look) and the loop's record."""
    parts: list[shards.PartResult] = []

    def look(seeds: tuple[int, ...]) -> pd.DataFrame:
        part = replace(experiment, seeds=seeds)
        done = train([part], lambda _: dataset, progress)
        parts.extend(done)
        results, _ = shards.ordered_results(part, done)
        return reports.epoch_table(results, run_id="", dataset=experiment.dataset, model="",
                                   trainer="grid", grid_size=len(results), env={})

    # chance: the verdicts' default (MNIST's majority share), as the leaderboard that replays
    # these looks from the rows uses it, so that the loop stops on the verdicts it will show.
    sequential = verdicts.train_until_decided(
        look, set(initializers.builtin_names()), len(experiment.seeds), max_seeds,
        verdicts.Design(margin=experiment.margin, comparisons=comparisons), report=report)
    return replace(experiment, seeds=tuple(range(sequential.looks[-1]))), parts, sequential


def tables(experiment: Experiment, results: list[RunResult], sizes: list[int], *, run_id: str,
           env: dict[str, str], model: str, trainer: str = "grid", profile: str | None = None,
           calibration: float | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The experiment's per-epoch and summary tables, as the reports hold them: ``sizes`` is
    the grid each result was trained in; with ``profile`` (a bench session) the rows carry the
    profile and experiment names and the summary this run's matmul calibration."""
    epochs = reports.epoch_table(results, run_id=run_id, dataset=experiment.dataset,
                                 model=model, recipe=experiment.config.describe(),
                                 trainer=trainer, grid_size=len(results), env=env)
    epochs["grid_size"] = [size for r, size in zip(results, sizes) for _ in r.epochs]
    formulas = {name: initializers.get(name).formula for name in experiment.inits}
    summary = summary_of(epochs, formulas, experiment=experiment.name if profile else None,
                         profile=profile, calibration=calibration)
    if profile is not None:
        epochs.insert(1, "experiment", experiment.name)
        epochs.insert(1, "profile", profile)
    return epochs, summary


def summary_of(epochs: pd.DataFrame, formulas: dict[str, str], *, experiment: str | None = None,
               profile: str | None = None, calibration: float | None = None) -> pd.DataFrame:
    """The summary table of one experiment's per-epoch rows (:func:`initcore.reports.summarize`:
    final and epoch-1 accuracy over seeds), named by ``profile`` and ``experiment`` (a bench
    run's), with this run's matmul ``calibration``: the one place a summary is built, for a
    trained run and for merged shards alike."""
    summary = reports.summarize(epochs, formulas)
    if profile is not None:
        summary.insert(1, "experiment", experiment)
        summary.insert(1, "profile", profile)
    if calibration is not None:
        summary["matmul_gflops"] = calibration
    return summary


def merge(folders: Sequence[str | Path], run_id: str
          ) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Shard run folders as one run (:func:`initcore.shards.merge` checks them and orders their
    rows): (epochs as the text written, summaries recomputed from the rows, run.json info)."""
    merged = shards.merge(folders, run_id)
    grid, numbers = merged.info["grid"], merged.numbers
    parts = []
    for e in grid["experiments"]:
        name = e["experiment"]
        rows = numbers[numbers["experiment"] == name] if merged.named else numbers
        profile = (rows["profile"].iloc[0] if "profile" in rows else grid["profile"]) \
            if merged.named else None
        parts.append(summary_of(rows.reset_index(drop=True), merged.formulas,
                                experiment=name if merged.named else None, profile=profile,
                                calibration=merged.calibrations.get(name)))
    return merged.epochs, pd.concat(parts, ignore_index=True), merged.info


def write_rows(folder: Path, epochs: pd.DataFrame, summary: pd.DataFrame | None,
               done: Sequence[shards.PartResult] | None = None, whole: bool = False) -> None:
    """Add an experiment's rows to the run folder's tables, with ``done`` also which shard
    trained what (``shards.csv``): appended under each table's lock, in one write each (several
    processes of a bench session write one folder), or with ``whole`` (the run's only
    experiment, one writer) each table written at once, atomically."""
    tables = [(epochs, reports.EPOCHS_FILE)]
    if summary is not None:  # None: a run that failed part-way keeps its rows only
        tables.append((summary, reports.SUMMARY_FILE))
    if done:
        tables.append((shards.shard_table(done), shards.SHARDS_FILE))
    for table, name in tables:
        if whole:
            reports.write_csv_atomic(table, folder / name)
        else:
            reports.append_history(table, folder / name)


def write_leaderboard(folder: Path, design: verdicts.Design | None = None,
                      margins: dict[str, float] | None = None) -> Path | None:
    """Rank the run's schemes per experiment (:mod:`initcore.leaderboard`) from its per-epoch
    rows into ``<folder>/leaderboard.csv``, with the verdicts of the ``design`` its seeds were
    trained by (default: fixed seeds) and each experiment's margin (``margins``, by name:
    :attr:`initcore.experiments.Experiment.margin`); None when nothing was trained."""
    path = folder / reports.EPOCHS_FILE
    if not path.exists():
        return None
    theory = folder / leaderboard.THEORY_FILE
    table = leaderboard.build(reports.load(path), set(initializers.builtin_names()),
                              theory=pd.read_csv(theory) if theory.exists() else None,
                              design=design, margins=margins)
    return reports.write_csv_atomic(table, folder / leaderboard.LEADERBOARD_FILE)


def complete(folder: Path, **info) -> None:
    """Mark the run folder complete (``run.json``, last, with ``info``), then append its
    summary to the history beside it and repair that history; a shard's run (``shard`` in
    ``info``) stays out of the history."""
    placed = folder / shards.SHARDS_FILE
    if placed.is_file() and "shards" not in info:  # which node trained which shard, too
        info["shards"] = reports.read_text_csv(placed).to_dict("records")
        if "shard" in info:
            info["shard"]["nodes"] = sorted(set(r["node"] for r in info["shards"]))
    reports.mark_complete(folder, **info)
    summary = folder / reports.SUMMARY_FILE
    if summary.is_file() and "shard" not in info:
        reports.add_run_to_history(reports.read_text_csv(summary),
                                   folder.parent / reports.HISTORY_FILE)  # keyed by run id
        reports.repair_history(folder.parent)


def update_baseline(path: Path, summary: Path) -> Path:
    """Merge a run's summary rows (``summary``, its summary.csv) into the baseline file
    ``path``, replacing older rows of the same cells, as the text written (no float is parsed
    and re-printed); under the file's lock. ``pytest bench --update-baseline`` calls it when the
    session ends."""
    current = reports.read_text_csv(summary)
    keys = regression.key_columns(current)  # with the recipe column
    path.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(path):
        if path.exists():
            old = reports.read_text_csv(path)
            keys = regression.key_columns(old, current)  # an old baseline may lack the recipe
            if "recipe" in keys and (old["recipe"] == "").any():
                # Rows written before the recipe column existed (empty there) are this cell's
                # older rows too: match them on the other keys, or they would stay as duplicates.
                keys = [k for k in keys if k != "recipe"]
            old = old.merge(current[keys], on=keys, how="left", indicator=True)
            old = old[old["_merge"] == "left_only"].drop(columns="_merge")
            current = pd.concat([old, current], ignore_index=True).fillna("")
        return reports.write_csv_atomic(current.drop_duplicates(keys, keep="last"), path)
