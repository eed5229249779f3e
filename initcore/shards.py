"""Shards: a grid split into parts that train apart, and the merge of their reports into one run.

The unit of work is an experiment's grid (G models trained as one vectorized computation,
:func:`initcore.grid.train_grid`), so a grid is split into **parts**, each an
:class:`~initcore.experiments.Experiment` with the same name and recipe and a subset of its
initializers and seeds: whole experiments first, then seed ranges, then initializer ranges,
and never below :data:`MIN_MODELS` models per part. The parts are packed into ``n`` shards,
largest first, each into the shard with the least work so far (the LPT rule; Graham 1969,
"Bounds on multiprocessing timing anomalies", within 4/3 of the best makespan).

Same numbers: a model's initial weights and data order depend only on its own seed
(:mod:`initcore.train`), and every operation of the grid step is per model (batched GEMMs over
the G axis, reductions inside a model), so a model's results do not depend on which other models
share its grid. Measured: the smoke seed recipe (13 inits x 3 seeds, 2 epochs) trained as one
grid of 39 and as parts of 13, 8 and 1 models gave bitwise equal losses and accuracies for every
model, at 1 and at 2 torch threads. What does change the digits is the number of intra-op
threads (6 of those 39 models differ between 1 and 2 threads: BLAS splits a GEMM differently) and
the CPU's kernels: runs compared digit for digit must use the same thread count on the same kind
of CPU. A shard records its thread count in ``run.json``.

:func:`merge` combines shard run folders: it checks they come from one commit and one grid
(profile, recipes, datasets, initializers, seeds), that every cell (experiment, init, seed) is
there exactly once, then concatenates the per-epoch rows in the order the single-process run
writes them; :func:`initcore.runs.merge` recomputes the summaries from those rows (a mean or a
std over seeds cannot be merged from partial summaries).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd
import torch

from . import costs, reports
from .data import Dataset
from .errors import one_line
from .experiments import Experiment
from .grid import train_grid
from .options import parse_shard  # noqa: F401  (the one parser of --shard, re-exported)
from .reports import ReportError
from .train import Progress, RunResult

# The smallest grid a part keeps. README "Speed", train_grid sweep on full MNIST, batch 64: one
# model at a time reaches 61% of the calibrated matmul rate, G = 4 89%, G = 16 79%, G = 64 81%:
# below 4 models a part wastes a third of its machine, from 4 on the rate is flat.
MIN_MODELS = 4

SHARDS_FILE = "shards.csv"  # per shard: what it trained, where (node), how long


# ---------------------------------------------------------------------------------------------
# Planning
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (1-based): the parts it trains, in the profile's order."""

    index: int
    count: int
    parts: tuple[Experiment, ...]

    @property
    def name(self) -> str:
        return f"shard-{self.index}-of-{self.count}"

    def cells(self) -> list[tuple[str, str, int]]:
        """(experiment, init, seed) of every model the shard trains."""
        return [cell for part in self.parts for cell in part_cells(part)]


def part_cells(part: Experiment) -> list[tuple[str, str, int]]:
    """(experiment, init, seed) of every model of a part, init-major as train_grid orders them."""
    return [(part.name, init, seed) for init in part.inits for seed in part.seeds]


def cost(part: Experiment) -> float:
    """Relative work of a part: its FLOPs (:func:`initcore.costs.flops`: models x epochs x
    6 x weights per training row and 2 x weights per test row, the weights counted on the net)."""
    return costs.flops(part, costs.model_epochs(part))


def split(experiment: Experiment, k: int, min_models: int = MIN_MODELS) -> list[Experiment]:
    """At most ``k`` parts of ``experiment``, each of >= ``min_models`` models (or the whole
    experiment if it is smaller): seed ranges first (initializer ranges over all seeds instead
    when the seeds do not divide into ``k`` and that balances the parts better), then
    initializer ranges within a seed."""
    inits, seeds = list(experiment.inits), list(experiment.seeds)
    k = max(1, min(k, len(inits) * len(seeds) // min_models))
    # Seed ranges keep every initializer together: a range needs this many seeds to hold
    # min_models models.
    by_seed = max(1, len(seeds) // math.ceil(min_models / len(inits)))
    per_seed = min(math.ceil(k / len(seeds)), len(inits) // min_models)
    if k <= by_seed or per_seed <= 1:
        by_seeds = [replace(experiment, seeds=tuple(group))
                    for group in _ranges(seeds, min(k, by_seed))]
        # Seeds that do not divide into k ranges (3 seeds in 2: 26 + 13 models) leave one part
        # much larger; initializer ranges over all seeds balance better (7 + 6 inits: 21 + 18).
        if len(inits) // k * len(seeds) >= min_models and len(seeds) % k:
            by_inits = [replace(experiment, inits=tuple(group)) for group in _ranges(inits, k)]
            if _largest(by_inits) < _largest(by_seeds):
                return by_inits
        return by_seeds
    return [replace(experiment, inits=tuple(group), seeds=(seed,))
            for seed in seeds for group in _ranges(inits, per_seed)]


def _largest(parts: list[Experiment]) -> int:
    return max(len(p.inits) * len(p.seeds) for p in parts)


def _ranges(items: list, k: int) -> list[list]:
    """``items`` cut into ``k`` contiguous ranges whose sizes differ by at most one."""
    size, extra = divmod(len(items), k)
    out, start = [], 0
    for i in range(k):
        end = start + size + (i < extra)
        out.append(items[start:end])
        start = end
    return out


def max_shards(experiments: Sequence[Experiment], min_models: int = MIN_MODELS) -> int:
    """The most shards the grid fills with parts of >= ``min_models`` models each."""
    return sum(len(split(e, len(e.inits) * len(e.seeds), min_models)) for e in experiments)


def plan(experiments: Sequence[Experiment], n: int, min_models: int = MIN_MODELS
         ) -> list[Shard]:
    """The grid cut into ``n`` shards. Experiments are split only when there are fewer of them
    than shards: each extra part goes to the experiment with the most work per part. Shard 1
    always holds (a part of) the first experiment, which the profile-wide benchmark tests use.
    ValueError (one line) if ``n`` is below 1 or above what the grid fills."""
    most = max_shards(experiments, min_models)
    if not 1 <= n <= most:
        raise ValueError(f"cannot cut this grid into {n} shards: it holds 1 to {most} shards "
                         f"of at least {min_models} models each")
    pieces = {e.name: 1 for e in experiments}
    costs = {e.name: cost(e) for e in experiments}
    limits = {e.name: len(split(e, len(e.inits) * len(e.seeds), min_models))
              for e in experiments}
    while sum(pieces.values()) < n:
        name = max((e.name for e in experiments if pieces[e.name] < limits[e.name]),
                   key=lambda m: costs[m] / pieces[m])
        pieces[name] += 1
    parts = [p for e in experiments for p in split(e, pieces[e.name], min_models)]
    order = {e.name: i for i, e in enumerate(experiments)}
    loads = [0.0] * n
    assigned: list[list[Experiment]] = [[] for _ in range(n)]
    first, rest = parts[0], sorted(parts[1:], key=cost, reverse=True)
    for part in [first, *rest]:
        target = 0 if part is first else min(range(n), key=lambda i: (loads[i], i))
        assigned[target].append(part)
        loads[target] += cost(part)
    return [Shard(i + 1, n, tuple(sorted(group, key=lambda p: order[p.name])))
            for i, group in enumerate(assigned)]


# ---------------------------------------------------------------------------------------------
# Training a part (the same function in-process and in a Ray task)
# ---------------------------------------------------------------------------------------------

@dataclass
class PartResult:
    """A trained part: its models' results and where and how long it ran."""

    shard: str
    part: Experiment
    results: list[RunResult]
    seconds: float
    node: str = "local"  # Ray node id, or "local"
    host: str = ""
    threads: int = 0
    info: dict = field(default_factory=dict)


def train_part(shard: str, part: Experiment, dataset: Dataset,
               progress: Progress | None = None, node: str = "local") -> PartResult:
    """Train one part as one grid (:func:`initcore.grid.train_grid`)."""
    start = time.perf_counter()
    results = train_grid(part.inits, part.seeds, dataset, part.config, progress)
    return PartResult(shard, part, results, time.perf_counter() - start, node,
                      os.uname().nodename, torch.get_num_threads())


def shard_table(done: Sequence[PartResult]) -> pd.DataFrame:
    """One row per trained part: shard, experiment, models, node, host, threads, seconds."""
    return pd.DataFrame([{"shard": d.shard, "experiment": d.part.name,
                          "inits": " ".join(d.part.inits),
                          "seeds": " ".join(map(str, d.part.seeds)), "models": len(d.results),
                          "node": d.node, "host": d.host, "threads": d.threads,
                          "seconds": round(d.seconds, 3)} for d in done])


def ordered_results(experiment: Experiment, done: Sequence[PartResult], partial: bool = False
                    ) -> tuple[list[RunResult], list[int]]:
    """The experiment's results from its parts, in the single grid's order (init-major), with
    the grid size each was trained in; ``partial``: only the cells trained (one shard's, or the
    finished shards'), else every cell of the experiment must be there."""
    found = {(r.init, r.seed): (r, len(d.results))
             for d in done if d.part.name == experiment.name for r in d.results}
    cells = [(init, seed) for init in experiment.inits for seed in experiment.seeds]
    missing = [c for c in cells if c not in found]
    if partial:
        cells = [c for c in cells if c in found]
    elif missing:
        raise ReportError(f"{experiment.name}: no result for {len(missing)} cell(s), e.g. "
                          f"{missing[0][0]} seed {missing[0][1]}")
    return [found[c][0] for c in cells], [found[c][1] for c in cells]


# ---------------------------------------------------------------------------------------------
# What a shard run records, and the merge
# ---------------------------------------------------------------------------------------------

def recipe_record(config) -> dict:
    """The recipe as JSON-able data (a dataclass's fields; its repr otherwise)."""
    if dataclasses.is_dataclass(config):
        return json.loads(json.dumps(dataclasses.asdict(config), default=str))
    return {"repr": repr(config)}


def grid_record(experiments: Sequence[Experiment], profile: str | None) -> dict:
    """The whole (unsharded) grid: what every shard of it must agree on."""
    return {"profile": profile, "experiments": [
        {"experiment": e.name, "dataset": e.dataset, "recipe": recipe_record(e.config),
         "inits": list(e.inits), "seeds": list(e.seeds)} for e in experiments]}


def shard_record(shard: Shard, experiments: Sequence[Experiment], profile: str | None,
                 commit: str) -> dict:
    """The ``shard`` entry of a shard run's run.json."""
    return {"index": shard.index, "count": shard.count, "name": shard.name,
            "cells": len(shard.cells()), "commit": commit, "torch_threads":
            torch.get_num_threads(), "grid": grid_record(experiments, profile)}


@dataclass
class Merged:
    """The merged rows: epochs.csv's text rows (as written) and their numbers, in the single
    run's order, with what the summaries are recomputed from (:func:`initcore.runs.merge`)."""

    epochs: pd.DataFrame  # text, as the shards wrote it (run_id replaced)
    numbers: pd.DataFrame  # the same rows parsed (see _as_numbers)
    named: bool  # rows carry profile and experiment columns (pytest bench shards)
    formulas: dict[str, str]  # init -> formula, from the shards' summaries
    calibrations: dict[str, float]  # experiment -> mean of its shards' matmul GFLOP/s
    info: dict  # provenance for run.json (grid, shards, commit)


def _read_shard(folder: Path) -> tuple[dict, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(shard record, epochs as text, epochs as numbers, summary as text) of one shard folder."""
    if not folder.is_dir():
        raise ReportError(f"{folder} is not a run folder")
    if not reports.is_complete(folder):
        raise ReportError(f"{folder} is incomplete (no {reports.MARKER_FILE}): its shard did not "
                          "finish; run it again")
    try:
        marker = json.loads((folder / reports.MARKER_FILE).read_text())
    except (OSError, ValueError) as e:
        raise ReportError(f"{folder / reports.MARKER_FILE} is unreadable ({e})") from e
    record = marker.get("shard") if isinstance(marker, dict) else None
    if not isinstance(record, dict) or "grid" not in record:
        raise ReportError(f"{folder} is not a shard run (its {reports.MARKER_FILE} has no "
                          "shard entry): run with --shard i/n")
    path = folder / reports.EPOCHS_FILE
    if not path.is_file():
        raise ReportError(f"{folder} has no {reports.EPOCHS_FILE}")
    try:
        text = reports.read_text_csv(path)
        missing = [c for c in SHARD_COLUMNS if c not in text.columns]
        if missing:
            raise ReportError(f"{path}: missing column(s) {', '.join(missing)}")
        numbers = _as_numbers(text)
        summary = reports.read_text_csv(folder / reports.SUMMARY_FILE)
    except ReportError:
        raise
    except (OSError, ValueError, TypeError, pd.errors.ParserError,
            pd.errors.EmptyDataError) as e:
        raise ReportError(f"{folder}: unreadable report ({one_line(e)})") from e
    _check_grid(folder, record["grid"])
    _check_rows(folder, numbers, summary)
    return record, text, numbers, summary


# Columns of a shard's epochs.csv that the merge reads.
SHARD_COLUMNS = ["init", "seed", "epoch", "train_loss", "test_loss", "test_acc", "seconds",
                 "diverged", "grid_size"]


def _check_grid(folder: Path, grid: object) -> None:
    """ReportError unless ``grid`` (run.json's shard grid) has the shape grid_record writes:
    experiments, each with a name, initializer names and integer seeds."""
    where = f"{folder / reports.MARKER_FILE}: the shard's grid is not as written"
    experiments = grid.get("experiments") if isinstance(grid, dict) else None
    if not isinstance(experiments, list) or not experiments:
        raise ReportError(f"{where} (no experiments)")
    for e in experiments:
        if not (isinstance(e, dict) and isinstance(e.get("experiment"), str)
                and isinstance(e.get("inits"), list)
                and all(isinstance(i, str) for i in e["inits"])
                and isinstance(e.get("seeds"), list)
                and all(isinstance(x, int) and not isinstance(x, bool) for x in e["seeds"])):
            raise ReportError(f"{where} ({json.dumps(e)[:80]})")


def _check_rows(folder: Path, numbers: pd.DataFrame, summary: pd.DataFrame) -> None:
    """ReportError for rows a merge would silently mis-sum: one (experiment, init, seed,
    epoch) twice, or per-epoch rows that disagree with the shard's own summary (edited
    accuracies: the merged summary is recomputed from the rows, so it would differ)."""
    keys = [c for c in ("experiment", "init", "seed", "epoch") if c in numbers.columns]
    twice = numbers.duplicated(keys)
    if twice.any():
        row = numbers[twice].iloc[0]
        raise ReportError(f"{folder / reports.EPOCHS_FILE}: duplicated epoch row "
                          f"({', '.join(f'{k}={row[k]}' for k in keys)})")
    cell = [c for c in ("experiment", "init") if c in numbers.columns and c in summary.columns]
    if "acc_mean" not in summary.columns or "init" not in cell:
        raise ReportError(f"{folder / reports.SUMMARY_FILE}: not a summary (no init or acc_mean)")
    # acc_mean as reports.summarize computes it: the mean over seeds of the last epoch's accuracy
    final = numbers.sort_values("epoch", kind="stable").groupby(cell + ["seed"]).tail(1)
    mine = final.groupby(cell, sort=False)["test_acc"].mean().rename("from_rows").reset_index()
    stated = summary[cell].assign(stated=pd.to_numeric(summary["acc_mean"], errors="coerce"))
    both = mine.merge(stated, on=cell, how="outer")
    same = ((both["from_rows"] - both["stated"]).abs() <= 1e-9) | (
        both["from_rows"].isna() & both["stated"].isna())
    if not same.all():
        bad = both[~same].iloc[0]
        raise ReportError(f"{folder}: {reports.EPOCHS_FILE} and {reports.SUMMARY_FILE} disagree "
                          f"on {' '.join(str(bad[c]) for c in cell)} (accuracy "
                          f"{bad['from_rows']:.6g} from the rows, {bad['stated']:.6g} stated): "
                          "edited or mixed rows")


def _as_numbers(text: pd.DataFrame) -> pd.DataFrame:
    """The columns the summary computes on, parsed from the text written: by Python's float(),
    which reads back exactly the float that wrote the text (pandas' own parser did not before
    its release 3: a last-digit difference in a mean would break the digit-for-digit merge)."""
    numbers = text.copy()
    for column in ("train_loss", "test_loss", "test_acc", "seconds"):
        numbers[column] = numbers[column].astype(float)
    for column in ("seed", "epoch", "grid_size"):
        numbers[column] = numbers[column].astype(int)
    flags = numbers["diverged"].map({"True": True, "False": False})
    if flags.isna().any():
        raise ValueError(f"column diverged holds {numbers['diverged'][flags.isna()].iloc[0]!r}, "
                         "not True/False")
    numbers["diverged"] = flags.astype(bool)
    return numbers


def _cells(epochs: pd.DataFrame) -> set[tuple[str, str, int]]:
    experiment = epochs["experiment"] if "experiment" in epochs else pd.Series("", epochs.index)
    return set(zip(experiment.astype(str), epochs["init"].astype(str),
                   epochs["seed"].astype(int)))


def _short(cells: Sequence[tuple[str, str, int]]) -> str:
    shown = ", ".join(f"{e + ' ' if e else ''}{i} seed {s}" for e, i, s in list(cells)[:4])
    return shown + (f", ... ({len(cells)} in all)" if len(cells) > 4 else "")


def merge(folders: Sequence[str | Path], run_id: str) -> Merged:
    """Check and combine shard run folders into one run (see the module docstring);
    ReportError (one line) for anything that does not fit."""
    if not folders:
        raise ReportError("give the shard run folders to merge")
    shards = [(Path(f), *_read_shard(Path(f))) for f in folders]
    first_folder, first = shards[0][0], shards[0][1]
    for folder, record, *_ in shards[1:]:
        for key, what in (("commit", "commit"), ("grid", "grid (profile, recipes, datasets, "
                                                  "initializers or seeds)"), ("count", "count")):
            if record.get(key) != first.get(key):
                raise ReportError(f"{folder} and {first_folder} are shards of different runs: "
                                  f"their {what} differ ({record.get(key)!r:.80} vs "
                                  f"{first.get(key)!r:.80})")
    grid = first["grid"]
    named = "experiment" in shards[0][2]
    expected = {((e["experiment"] if named else ""), init, int(seed))
                for e in grid["experiments"] for init in e["inits"] for seed in e["seeds"]}
    seen: dict[tuple[str, str, int], Path] = {}
    duplicated, foreign = [], []
    for folder, _, _, numbers, _ in shards:
        for cell in sorted(_cells(numbers)):
            if cell in seen:
                duplicated.append(cell)
            seen[cell] = folder
            if cell not in expected:
                foreign.append(cell)
    missing = sorted(expected - set(seen))
    problems = []
    if duplicated:
        problems.append(f"{len(duplicated)} cell(s) in more than one shard: "
                        f"{_short(sorted(duplicated))}")
    if missing:
        problems.append(f"{len(missing)} cell(s) of the grid in no shard: {_short(missing)}")
    if foreign:
        problems.append(f"{len(foreign)} cell(s) not in the grid: {_short(sorted(foreign))}")
    if problems:
        raise ReportError("cannot merge: " + "; ".join(problems))

    # --- rows, in the single-process run's order ----------------------------------------------
    text = pd.concat([s[2] for s in shards], ignore_index=True)
    numbers = pd.concat([s[3] for s in shards], ignore_index=True)
    rank = {}
    for e_index, e in enumerate(grid["experiments"]):
        for i_index, init in enumerate(e["inits"]):
            for s_index, seed in enumerate(e["seeds"]):
                rank[((e["experiment"] if named else ""), init, int(seed))] = (
                    e_index, i_index, s_index)
    experiment = numbers["experiment"].astype(str) if named else pd.Series("", numbers.index)
    key = [rank[(x, i, int(s))] + (int(ep),) for x, i, s, ep in
           zip(experiment, numbers["init"].astype(str), numbers["seed"], numbers["epoch"])]
    order = sorted(range(len(key)), key=key.__getitem__)
    text = text.iloc[order].reset_index(drop=True).assign(run_id=run_id)
    numbers = numbers.iloc[order].reset_index(drop=True).assign(run_id=run_id)

    # --- what the summaries are recomputed from (initcore.runs.merge) ------------------------
    shard_summaries = pd.concat([s[4] for s in shards], ignore_index=True)
    formulas = dict(zip(shard_summaries["init"], shard_summaries.get(
        "formula", pd.Series("", shard_summaries.index))))
    calibrations = {}
    if named and "matmul_gflops" in shard_summaries:  # each shard's calibration; their mean
        for e in grid["experiments"]:
            mine = shard_summaries[shard_summaries["experiment"] == e["experiment"]]
            calibrations[e["experiment"]] = pd.to_numeric(mine["matmul_gflops"]).mean()
    info = {"profile": grid["profile"], "merged_from": [str(s[0]) for s in shards],
            "shards": [{"folder": str(s[0]), "name": s[1].get("name"),
                        "cells": s[1].get("cells"), "torch_threads": s[1].get("torch_threads"),
                        "nodes": s[1].get("nodes")} for s in shards],
            "commit": first.get("commit"), "grid": grid}
    return Merged(text, numbers, named, formulas, calibrations, info)


def run_parts_locally(shard: str, parts: Sequence[Experiment],
                      load: Callable[[str], Dataset], progress: Progress | None = None
                      ) -> list[PartResult]:
    """Train the parts one after another in this process."""
    return [train_part(shard, part, load(part.dataset), progress) for part in parts]
