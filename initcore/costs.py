"""The cost model: a grid's planned model-epochs and predicted wall time, from rates learned
from reports.

Work. One model-epoch trains on every training row once, 6 FLOPs per weight per row (2 forward,
4 backward: the weight gradient and the back-propagated signal), and evaluates the test rows,
2 FLOPs per weight per row (docs/speed.md counts the same way). The weights are counted on the
net itself, built on the meta device (no memory, no initialization).

Rates. A summary row of a report (a run's summary.csv, ``history.csv``, a committed baseline)
holds ``seconds_per_epoch``, the training seconds of one model-epoch amortized over its grid,
and, for bench runs, ``matmul_gflops``, that run's fp32 GEMM rate. Together they give the
fraction of the matmul rate the architecture reached: ``6 W N / seconds / matmul``. The model
learns the median fraction per architecture (the report's ``model`` name) and per kind (mlp,
resmlp) for an architecture never reported; with no report at all it takes
:data:`FALLBACK_FRACTION`, measured on this machine. Predicted seconds = work / (fraction x
matmul rate), the matmul rate measured now (``initcore run --dry-run``) or the reports'
median. The evaluation is predicted at the training's rate; model building, LSUV and data
loading are not counted: docs/speed.md compares predictions with measured runs.
"""

from __future__ import annotations

import functools
import math
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch

from . import reports
from .experiments import Experiment
from .speed import matmul_gflops
from .train import make_model

# (training rows, test rows, features, classes) of each dataset (initcore.data).
SHAPES = {"mnist-5k": (4_000, 1_000, 784, 10), "mnist": (60_000, 10_000, 784, 10),
          "fashion-mnist": (60_000, 10_000, 784, 10), "mnist1d": (4_000, 1_000, 40, 10)}

# Fraction of the fp32 matmul rate reached when no report says better, measured here (2-core
# VM, AVX-512): the MLP grid trainer at G = 4-64, batch 64, 76-81% (docs/speed.md); the ResMLP
# torch.func trainer at the residual experiment's 64 x 128, mnist-5k, G = 40: 34% (G = 8: 28%;
# 16 x 256 reached 73%, docs/residual.md: narrow deep nets pay per layer, not per FLOP).
FALLBACK_FRACTION = {"mlp": 0.80, "resmlp": 0.34}
FALLBACK_GFLOPS = 200.0  # this machine's fp32 matmul rate, idle (docs/speed.md: 198-201)


def shape_of(dataset: str) -> tuple[int, int, int, int]:
    """(training rows, test rows, features, classes); MNIST's for a dataset not listed."""
    return SHAPES.get(dataset, SHAPES["mnist"])


def weights(experiment: Experiment) -> int:
    """Multiply-accumulate weights of one model of the experiment (biases and gains aside)."""
    return _weights(experiment.config, *shape_of(experiment.dataset)[2:])


@functools.lru_cache(maxsize=256)
def _weights(config, features: int, classes: int) -> int:
    # Cached per (recipe, shape): the shard planner asks for every part of every candidate
    # plan, and building a 30-layer net even on the meta device takes milliseconds each.
    with torch.device("meta"):
        model = make_model(config, features, classes)
    return sum(p.numel() for p in model.parameters() if p.dim() >= 2)


def flops(experiment: Experiment, model_epochs: int = 1) -> float:
    """FLOPs of ``model_epochs`` model-epochs: 6 W per training row, 2 W per test row."""
    train_rows, test_rows, _, _ = shape_of(experiment.dataset)
    return model_epochs * weights(experiment) * (6 * train_rows + 2 * test_rows)


def model_epochs(experiment: Experiment) -> int:
    """Models x epochs the experiment trains (cells of equal initial weights count once each:
    :mod:`initcore.distinct` trains them together, so the plan is an upper bound)."""
    return len(experiment.inits) * len(experiment.seeds) * experiment.config.epochs


# ---------------------------------------------------------------------------------------------
# Rates learned from reports
# ---------------------------------------------------------------------------------------------

_MLP = re.compile(r"^mlp-(\d+(?:-\d+)*)-[a-z_]+$")
_RESMLP = re.compile(r"^resmlp-(\d+)-(\d+)x(\d+)-b(\d+)-(\d+)-")


def weights_of_name(model: str) -> int | None:
    """Weights of a model named as the reports name it (``mlp-784-256-128-10-relu``,
    ``resmlp-784-64x256-b2-10-relu``); None for a name of another form."""
    if m := _MLP.match(model):
        sizes = [int(s) for s in m.group(1).split("-")]
        return sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    if m := _RESMLP.match(model):
        n_in, blocks, width, branch, classes = map(int, m.groups())
        return n_in * width + blocks * branch * width * width + width * classes
    return None


def kind(model: str) -> str:
    return model.split("-", 1)[0]


@dataclass
class Rates:
    """Fractions of the matmul rate per architecture and per kind, and the reports' matmul."""

    by_model: dict[str, float] = field(default_factory=dict)
    by_kind: dict[str, float] = field(default_factory=dict)
    gflops: float | None = None  # median matmul rate of the reports read
    rows: int = 0  # summary rows learned from

    def fraction(self, model: str) -> tuple[float, str]:
        """(fraction of the matmul rate, where it came from) for an architecture."""
        if model in self.by_model:
            return self.by_model[model], "reports"
        if kind(model) in self.by_kind:
            return self.by_kind[kind(model)], f"reports ({kind(model)})"
        return FALLBACK_FRACTION.get(kind(model), FALLBACK_FRACTION["mlp"]), "built-in"


def learn(tables: Iterable[pd.DataFrame]) -> Rates:
    """The rates of summary tables (rows without a matmul calibration or with unusable numbers
    are left out): per architecture and kind, the median fraction of the matmul rate."""
    fractions: dict[str, list[float]] = {}
    gflops: list[float] = []
    for table in tables:
        need = ["model", "dataset", "seconds_per_epoch", "matmul_gflops"]
        if not set(need) <= set(table.columns):
            continue
        for model, dataset, seconds, matmul in table[need].itertuples(index=False):
            seconds = pd.to_numeric(seconds, errors="coerce")
            matmul = pd.to_numeric(matmul, errors="coerce")
            w = weights_of_name(str(model))
            if w is None or not (seconds > 0 and matmul > 0):
                continue
            fractions.setdefault(str(model), []).append(
                6 * w * shape_of(str(dataset))[0] / seconds / 1e9 / matmul)
            gflops.append(matmul)
    rates = Rates(rows=sum(map(len, fractions.values())))
    rates.by_model = {m: statistics.median(f) for m, f in fractions.items()}
    per_kind: dict[str, list[float]] = {}
    for model, f in fractions.items():
        per_kind.setdefault(kind(model), []).extend(f)
    rates.by_kind = {k: statistics.median(f) for k, f in per_kind.items()}
    rates.gflops = statistics.median(gflops) if gflops else None
    return rates


def committed_baselines() -> Path | None:
    """The clone's ``reports/baseline`` or a wheel's ``initcore/baselines`` (as
    :func:`initcore.session.shipped_baseline_dir` finds them); None if neither is there."""
    package = Path(__file__).resolve().parent
    for candidate in (package.parent / "reports" / "baseline", package / "baselines"):
        if candidate.is_dir():
            return candidate
    return None


def summaries(report_dir: str | Path | None, baselines: Path | None = None) -> list[pd.DataFrame]:
    """The summary rows to learn from: ``<report_dir>/history.csv`` (every complete run there)
    and each profile's committed baseline summary; unreadable files are skipped (a plan is
    advice, it never stops a run)."""
    paths = [Path(report_dir) / reports.HISTORY_FILE] if report_dir is not None else []
    if baselines is not None:
        paths += sorted(baselines.glob(f"*/{reports.SUMMARY_FILE}"))
    tables = []
    for path in paths:
        try:
            tables.append(reports.load(path))
        except (OSError, ValueError, reports.ReportError):
            continue
    return tables


# ---------------------------------------------------------------------------------------------
# The plan
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Planned:
    """One experiment's plan: what it trains and how long that should take."""

    experiment: str
    model: str  # the architecture, as the reports name it
    models: int  # cells (init x seed)
    model_epochs: int
    gflop: float  # training and evaluation work
    fraction: float  # of the matmul rate, predicted
    source: str  # where the fraction came from: reports, reports (kind), built-in
    seconds: float  # predicted wall time of training and evaluation
    train_seconds: float  # of which training (what the reports' seconds column times)


def plan(experiments: Sequence[Experiment], rates: Rates, gflops: float | None = None
         ) -> list[Planned]:
    """Each experiment's plan at ``gflops`` (the matmul rate now; default the reports' median,
    else :data:`FALLBACK_GFLOPS`)."""
    rate = gflops or rates.gflops or FALLBACK_GFLOPS
    out = []
    for e in experiments:
        _, _, features, classes = shape_of(e.dataset)
        model = e.config.model_name(features, classes)
        fraction, source = rates.fraction(model)
        work = flops(e, model_epochs(e))
        train_work = 6 * weights(e) * shape_of(e.dataset)[0] * model_epochs(e)
        out.append(Planned(e.name, model, len(e.inits) * len(e.seeds), model_epochs(e),
                           work / 1e9, fraction, source, work / 1e9 / (fraction * rate),
                           train_work / 1e9 / (fraction * rate)))
    return out


def plan_table(planned: Sequence[Planned], gflops: float) -> list[str]:
    """The plan as text lines: one per experiment and the total."""
    lines = [f"plan at {gflops:.0f} GFLOP/s fp32 matmul:",
             f"  {'experiment':<18} {'models':>6} {'model-epochs':>12} {'GFLOP':>9} "
             f"{'of matmul':>9} {'predicted':>10}  rate from"]
    for p in planned:
        lines.append(f"  {p.experiment:<18} {p.models:>6} {p.model_epochs:>12} {p.gflop:>9,.0f} "
                     f"{p.fraction:>9.0%} {format_seconds(p.seconds):>10}  {p.source}")
    total = sum(p.seconds for p in planned)
    lines.append(f"  {'total':<18} {sum(p.models for p in planned):>6} "
                 f"{sum(p.model_epochs for p in planned):>12} "
                 f"{sum(p.gflop for p in planned):>9,.0f} {'':>9} {format_seconds(total):>10}")
    return lines


def format_seconds(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{seconds:.1f} s"


def plan_lines(experiments: Sequence[Experiment], report_dir: str | Path | None) -> list[str]:
    """The plan of ``experiments`` as printed by ``initcore run --dry-run`` and ``pytest bench
    --collect-only``: rates from the report folder's history and the committed baselines, at
    the matmul rate measured now (about a second)."""
    rates = learn(summaries(report_dir, committed_baselines()))
    gflops = matmul_gflops()
    lines = plan_table(plan(experiments, rates, gflops), gflops)
    lines.append(f"  (rates from {rates.rows} report rows; initcore.costs)")
    return lines


# ---------------------------------------------------------------------------------------------
# Actual against planned (pytest bench writes it into the run folder)
# ---------------------------------------------------------------------------------------------

PLAN_FILE = "plan.csv"


def actual_vs_planned(epochs: pd.DataFrame, experiments: Sequence[Experiment], rates: Rates,
                      gflops: float | None) -> pd.DataFrame:
    """Per experiment trained, planned against actual training: model-epochs and seconds. The
    actual seconds are the sum of the per-epoch rows' ``seconds`` (each the grid epoch's wall
    time over its cells: summed over the cells, the training wall time; a model that diverged
    stops adding rows, so a grid with divergences is slightly undercounted)."""
    planned = {p.experiment: p for p in plan(experiments, rates, gflops)}
    rows = []
    for e in experiments:
        mine = epochs[epochs["experiment"] == e.name] if "experiment" in epochs else epochs
        if mine.empty:
            continue
        p, actual = planned[e.name], float(mine["seconds"].sum())
        rows.append({"experiment": e.name, "model": p.model, "planned_model_epochs":
                     p.model_epochs, "trained_model_epochs": len(mine),
                     "matmul_gflops": gflops, "fraction": p.fraction, "rate_from": p.source,
                     "planned_seconds": p.train_seconds, "actual_seconds": actual,
                     "actual_over_planned": actual / p.train_seconds})
    return pd.DataFrame(rows)


def record(folder: Path, experiments: Sequence[Experiment], report_dir: str | Path | None
           ) -> Path | None:
    """Write ``<folder>/plan.csv`` (:func:`actual_vs_planned`) for a bench run folder, planned
    at the run's own matmul calibration with the rates of the runs before it; None when
    nothing was trained."""
    path = folder / reports.EPOCHS_FILE
    if not path.is_file():
        return None
    summary = folder / reports.SUMMARY_FILE
    gflops = None
    try:
        if summary.is_file():
            calibration = reports.load(summary).get("matmul_gflops")
            if calibration is not None and calibration.notna().any():
                gflops = float(calibration.median())
        rates = learn(summaries(report_dir, committed_baselines()))
        table = actual_vs_planned(reports.load(path), experiments, rates, gflops)
    except (OSError, ValueError, KeyError, reports.ReportError):
        return None  # the plan is advice: an unreadable report is the gate's to report
    return reports.write_csv_atomic(table, folder / PLAN_FILE)


def record_lines(folder: Path) -> list[str]:
    """The run's plan.csv as one line per experiment, for the terminal summary."""
    path = folder / PLAN_FILE
    if not path.is_file():
        return []
    table = pd.read_csv(path)
    return [f"{r.experiment}: {r.trained_model_epochs} model-epochs trained in "
            f"{format_seconds(r.actual_seconds)}, planned {format_seconds(r.planned_seconds)} "
            f"({r.actual_over_planned:.2f}x)" for r in table.itertuples()]
