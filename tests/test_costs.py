"""The cost model (initcore.costs): work counted on the nets themselves, rates learned from
report rows, and `initcore run --dry-run` planning without training or writing."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import run_bench

from initcore import cli, costs, profiles
from initcore.experiments import Experiment
from initcore.train import Recipe

SEED = Experiment("seed-recipe", "mnist", Recipe(), ("he_normal", "zeros"), (0, 1, 2))
RESMLP = Experiment("res", "mnist-5k", Recipe(arch="resmlp", blocks=4, width=32, epochs=1),
                    ("fixup",), (0,))


def test_costs_weights_of_the_seed_net() -> None:
    assert costs.weights(SEED) == 784 * 256 + 256 * 128 + 128 * 10
    assert costs.model_epochs(SEED) == 2 * 3 * 10


@pytest.mark.parametrize("experiment", [SEED, RESMLP, *profiles.get("nightly").experiments],
                         ids=lambda e: e.name)
def test_costs_name_parser_counts_the_weights_of_the_net(experiment: Experiment) -> None:
    """Rates are learned from report rows, which name the architecture only: the name parser
    must count what the net has."""
    _, _, features, classes = costs.shape_of(experiment.dataset)
    name = experiment.config.model_name(features, classes)
    assert costs.weights_of_name(name) == costs.weights(experiment), name


def summary_row(experiment: Experiment, fraction: float, gflops: float) -> dict:
    """A report's summary row of ``experiment`` trained at ``fraction`` of ``gflops``."""
    _, _, features, classes = costs.shape_of(experiment.dataset)
    seconds = 6 * costs.weights(experiment) * costs.shape_of(experiment.dataset)[0] / (
        fraction * gflops * 1e9)
    return {"model": experiment.config.model_name(features, classes),
            "dataset": experiment.dataset, "seconds_per_epoch": seconds, "matmul_gflops": gflops}


def test_costs_rates_learned_from_reports_predict_their_own_runs() -> None:
    rows = [summary_row(SEED, f, g) for f, g in ((0.5, 100.0), (0.6, 200.0), (0.7, 150.0))]
    rates = costs.learn([pd.DataFrame(rows), pd.DataFrame({"unrelated": [1]})])
    assert rates.by_model[rows[0]["model"]] == pytest.approx(0.6), rates
    assert rates.gflops == pytest.approx(150.0)
    (planned,) = costs.plan([SEED], rates, gflops=120.0)
    expected = costs.flops(SEED, 60) / (0.6 * 120.0 * 1e9)
    assert planned.seconds == pytest.approx(expected), planned
    assert planned.source == "reports"


def test_costs_unreported_architecture_takes_its_kind_then_the_built_in() -> None:
    rates = costs.learn([pd.DataFrame([summary_row(SEED, 0.5, 100.0)])])
    assert rates.fraction("mlp-784-64-10-relu") == (0.5, "reports (mlp)")
    fraction, source = rates.fraction("resmlp-784-4x32-b2-10-relu")
    assert (fraction, source) == (costs.FALLBACK_FRACTION["resmlp"], "built-in")
    (planned,) = costs.plan([RESMLP], costs.Rates())  # no report at all
    assert math.isclose(planned.seconds, costs.flops(RESMLP, 1) / 1e9 / (
        costs.FALLBACK_FRACTION["resmlp"] * costs.FALLBACK_GFLOPS)), planned


def test_costs_dry_run_plans_and_writes_nothing(workdir: Path, capsys) -> None:
    code = cli.main(["run", "--init", "he_normal", "zeros", "--seeds", "2", "--epochs", "3",
                     "--dry-run", "--report-dir", str(workdir / "r")])
    out, err = capsys.readouterr()
    assert code == 0, f"exit {code}: {err}"
    assert "model-epochs" in out and "predicted" in out, out
    line = next(s for s in out.splitlines() if s.strip().startswith("run "))
    assert line.split()[1:3] == ["4", "12"], f"4 models, 12 model-epochs expected: {line}"
    assert not (workdir / "r").exists(), "a dry run wrote the report folder"


def test_costs_actual_vs_planned_sums_each_experiments_rows() -> None:
    """Actual training seconds are the per-epoch rows' seconds summed over the experiment (each
    the grid epoch's wall time over its cells): 2 cells x 3 epochs at 0.5 s -> 3 s."""
    two = Experiment("two", "mnist-5k", Recipe(epochs=3), ("he_normal", "zeros"), (0,))
    epochs = pd.DataFrame({"experiment": ["two"] * 6 + ["other"] * 2, "seconds": [0.5] * 8})
    rates = costs.learn([pd.DataFrame([summary_row(two, 0.5, 100.0)])])
    (row,) = costs.actual_vs_planned(epochs, [two], rates, 100.0).to_dict("records")
    assert row["actual_seconds"] == 3.0 and row["trained_model_epochs"] == 6, row
    planned = 6 * costs.weights(two) * 4_000 * 6 / (0.5 * 100.0 * 1e9)
    assert row["planned_seconds"] == pytest.approx(planned), row
    assert row["actual_over_planned"] == pytest.approx(3.0 / planned)


def test_costs_bench_collect_only_prints_the_plan() -> None:
    result = run_bench("--collect-only", "--profile", "smoke", timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    plan = [line for line in result.stdout.splitlines() if line.startswith("  seed-recipe")]
    assert plan and plan[0].split()[1:3] == ["60", "180"], result.stdout[-2000:]
