"""Deep networks: where initialization decides whether a net trains at all.

The profile's deep experiments (``Experiment.deep``: 30 hidden layers) and its activation sweep
(``Experiment.sweep``: the seed architecture with other activations) are trained once per
session by the ``trained`` fixture. Their per-cell accuracy bounds live in initcore/bounds.py
and are checked, with every other cell, by bench/test_accuracy.py; this file asserts what a
single cell cannot say:

* He et al. (2015), Fig. 3: a 30-layer plain ReLU net trains with He's init (Var = 2/n, the
  per-layer signal ratio n Var(W)/2 = 1) and stalls with Xavier's (ratio 1/2: the signal
  reaching the output is 2^-30 of the input's, and so is the gradient reaching layer 1). The
  deep ReLU experiments train at lr 0.001: at the seed recipe's 0.01 this depth is chaotic and
  float rounding alone decides which seeds train, so no verdict could hold on another CPU. At
  0.001 every He and LSUV seed trains on every kernel tried, and Xavier stays at the constant
  prediction through epoch 1 (momentum only starts to free it later).
* torch_default (ratio 1/6 plus its random biases) drowns the input under the biases: the net
  is input-independent at init and predicts a single class after training.
* tanh at depth 30: Xavier (Var = 1/n, the edge of chaos for zero bias) trains; a badly scaled
  init does not.
* The activation sweep (relu, tanh, sigmoid, selu x the registry): its table of final accuracies
  is written to the run's report folder as ``activation_sweep.csv``.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from initcore import probes, reports
from initcore.bounds import EXPLODED, ORDERINGS, STALLED, VANISHED


def _present(profile, experiment: str, *inits: str) -> bool:
    names = {e.name: e for e in profile.experiments}
    return experiment in names and all(i in names[experiment].inits for i in inits)


def _accuracies_or_zero(run, init: str, epoch: int) -> list[float]:
    """Per-seed accuracy at ``epoch``; a seed that diverged (NaN) or stopped before counts as 0:
    it hurts the better scheme's claim and cannot help the worse one."""
    accuracies = [0.0 if math.isnan(a) else a for a in run.accuracies(init, epoch)]
    return accuracies + [0.0] * (len(run.experiment.seeds) - len(accuracies))


@pytest.mark.parametrize("experiment,better,worse,epoch,statistic,gap", ORDERINGS,
                         ids=[f"{e}-{b}>{w}@{k}-{s}" for e, b, w, k, s, _ in ORDERINGS])
def test_deep_init_ordering(experiment, better, worse, epoch, statistic, gap, profile, trained):
    """He et al. (2015), Fig. 3: at depth 30 the per-layer signal ratio n Var(W)/2 compounds to
    ratio^30 (He and LSUV: 1; Xavier: 2^-30 ~ 1e-9; torch_default: 6^-30 until its biases take
    over), and the back-propagated gradient shrinks the same way toward the input; so the schemes
    that keep the ratio at 1 train first. `better` beats `worse` at `epoch` by `gap`."""
    if not _present(profile, experiment, better, worse):
        pytest.skip(f"profile {profile.name} has no {experiment} with {better} and {worse}")
    run = trained(experiment)
    good, bad = _accuracies_or_zero(run, better, epoch), _accuracies_or_zero(run, worse, epoch)
    if statistic == "every":
        margin = min(good) - max(bad)
    elif statistic == "mean":
        margin = sum(good) / len(good) - sum(bad) / len(bad)
    else:
        raise ValueError(f"statistic {statistic} not supported, please use one of every, mean")
    assert margin >= gap, (
        f"{experiment} epoch {epoch}: {better} {[f'{a:.2%}' for a in good]} vs {worse} "
        f"{[f'{a:.2%}' for a in bad]}: {statistic} margin {margin:.2%} < {gap:.0%}")


def test_deep_torch_default_predicts_one_class(profile, trained, dataset_loader):
    """torch_default in a deep ReLU net: q_{l+1} = q_l / 6 + Var(b) sinks to the bias floor
    2/(5n) within a few layers, so what reaches the output is (almost) the same for every input:
    after training the net still predicts one class for (nearly) every test digit."""
    deep = [e for e in profile.experiments if e.deep and
            e.config.activation == "relu" and "torch_default" in e.inits]
    if not deep:
        pytest.skip(f"profile {profile.name} has no deep ReLU experiment with torch_default")
    for experiment in deep:
        dataset = dataset_loader(experiment.dataset)
        for result in trained(experiment.name).runs("torch_default"):
            with torch.no_grad():
                predictions = result.model(dataset.x_test).argmax(1)
            top = predictions.bincount().max().item() / len(predictions)
            assert top >= 0.99, (f"{experiment.name} torch_default seed {result.seed}: its most "
                                 f"frequent class is only {top:.1%} of the predictions")




def test_deep_vanishing_gradient_at_init_predicts_the_stall(profile, trained, dataset_loader,
                                                            bench_session):
    """Probes at init (initcore.probes, first seed) against the training outcome.

    Var(dL/dz_1) / Var(dL/dz_depth) = prod_l n_{l+1} Var(W_{l+1}) E[phi'(z_l)^2]: below VANISHED
    some seed is still at the constant prediction after epoch 1; between VANISHED and EXPLODED
    every seed leaves it in some epoch (its best epoch is above STALLED). Not "after the last
    epoch": at depth 30 a seed that trained can later collapse -- He seed 0 fell from 64.8% to
    7.4% in epoch 2 of one run -- which says nothing about the gradient at init.
    The probe tables of every deep experiment are written to the run's folder as probes.csv
    (``initcore plot`` draws them).
    """
    deep = [e for e in profile.experiments if e.deep]
    if not deep:
        pytest.skip(f"profile {profile.name} has no deep experiment")
    tables, problems = [], []
    for experiment in deep:
        hidden = experiment.config.hidden
        table = probes.probe(experiment.inits, dataset_loader(experiment.dataset),
                             depth=len(hidden), width=hidden[0],
                             activation=experiment.config.activation,
                             seeds=experiment.seeds[:1], batch=256)
        tables.append(table)
        run = trained(experiment.name)
        ratios = probes.ratio_table(table).set_index("init")["grad_first/last"]
        for init, ratio in ratios.items():
            first = [a for a in run.accuracies(init, 1) if not math.isnan(a)]
            if ratio < VANISHED and first and min(first) > STALLED:
                problems.append(f"{experiment.name} {init}: gradient ratio {ratio:.1e} at init "
                                f"but no seed stalled after epoch 1 ({first})")
            rows = run.epochs[run.epochs["init"] == init]
            # Each seed's best epoch; NaN rows (diverged) are skipped, so a seed that diverged
            # at once has a NaN best and counts as not stalled, as before.
            best = rows.groupby("seed")["test_acc"].max().tolist()
            if VANISHED <= ratio <= EXPLODED and any(b <= STALLED for b in best):
                problems.append(f"{experiment.name} {init}: gradient ratio {ratio:.1e} at init "
                                f"but a seed never left the constant prediction (best epochs "
                                f"{best})")
    reports.write_csv_atomic(pd.concat(tables), bench_session.run_dir / probes.PROBES_FILE)
    assert not problems, " | ".join(problems)


SWEEP_FILE = "activation_sweep.csv"


def test_activation_sweep_table(profile, trained, bench_session):
    """Final test accuracy (mean over seeds), initializer x activation, saved as a report.

    The relu column is the profile's reference experiment, the seed recipe (same architecture
    and recipe); each other column is a sweep experiment (``Experiment.sweep``). Sanity only:
    in every column the best initializer learns (>= 90%); the per-cell bounds are in the
    profile.
    """
    sweeps = [e for e in profile.experiments if e.sweep]
    if not sweeps:
        pytest.skip(f"profile {profile.name} has no activation sweep")
    names = [e.name for e in sweeps]
    base = profile.reference_experiment()
    base = base if base is not None and base.config.activation == "relu" else None
    columns = {}
    for experiment in ([base] if base else []) + sweeps:
        final = trained(experiment.name).summary.set_index("init")["acc_mean"]
        columns[experiment.config.activation] = final
    table = pd.DataFrame(columns)
    table.index.name = "init"
    reports.write_csv_atomic(table.reset_index(), bench_session.run_dir / SWEEP_FILE)
    print(f"\nfinal test accuracy (%), mean over seeds ({', '.join(names)}):")
    print((100 * table).round(2).to_string())
    best = table.max()
    assert (best >= 0.90).all(), f"an activation where no initializer learns: {best.to_dict()}"
