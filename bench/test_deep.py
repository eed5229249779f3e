"""Deep networks: where initialization decides whether a net trains at all.

The profile's deep experiments (``deep-*``: 30 hidden layers; ``sweep-*``: the seed architecture
with other activations) are trained once per session by the ``trained`` fixture. Their per-cell
accuracy bounds live in initcore/bounds.py and are checked, with every other cell, by
bench/test_accuracy.py; this file asserts what a single cell cannot say:

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

# (experiment, better, worse, epoch, statistic, gap). statistic "every": every seed of `better`
# beats every seed of `worse` by `gap` (min - max); "mean": the seed means differ by `gap`. Each
# gap sits well inside the margin measured across seeds and five kernel perturbations (the
# numbers in the comments), so that another CPU's rounding cannot flip the verdict.
ORDERINGS = [
    # full MNIST, 30 x 256 ReLU, lr 0.001, seeds 0-4 (profiles.DEEP_RELU), epoch 1, default
    # kernels / ATEN_CPU_CAPABILITY=default: he_normal 90.9-92.2 / 91.1-92.4%, lsuv 90.9-93.0 /
    # 90.8-93.2%, xavier_normal and torch_default 11.35% every seed: "every" margins >= 79 points.
    # (At the seed recipe's lr 0.01 LSUV led He in the mean; at 0.001 they are level, 92.0 vs
    # 91.5 / 91.9 vs 91.8, so no LSUV-vs-He claim is made here.)
    ("deep-relu", "he_normal", "xavier_normal", 1, "every", 0.50),
    ("deep-relu", "lsuv", "xavier_normal", 1, "every", 0.50),
    ("deep-relu", "he_normal", "torch_default", 1, "every", 0.50),
    # mnist-5k, 30 x 64 ReLU, lr 0.001, epoch 3, seeds 0-4, under 5 kernel perturbations
    # (profiles.DEEP_SHORT): seed means he_normal 38.3-42.8, lsuv 55.5-58.4, xavier_normal
    # 10.0-10.3, torch_default 10.0; He's lowest seed 28.5. Margins: He - Xavier 28.0-32.8
    # points, LSUV - He 12.7-20.1 points, He's lowest - torch_default 18.5 points.
    ("deep-relu-short", "he_normal", "xavier_normal", 3, "mean", 0.15),
    ("deep-relu-short", "he_normal", "torch_default", 3, "every", 0.10),
    ("deep-relu-short", "lsuv", "he_normal", 3, "mean", 0.05),
    # full MNIST, 30 x 256 tanh, seeds 0-4, epoch 2: xavier_normal 91.5-95.1%, random_large
    # 9.6-30.7%, torch_default 10.3-11.35%.
    ("deep-tanh", "xavier_normal", "random_large", 2, "every", 0.40),
    ("deep-tanh", "xavier_normal", "torch_default", 2, "every", 0.40),
]


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
    deep = [e for e in profile.experiments if e.name.startswith("deep-") and
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


# Var(dL/dz_1) / Var(dL/dz_depth) at init, 30 x 256 nets (mnist-5k batch, seeds 0-2): ReLU He
# 1.6, LSUV 1.4, Xavier 2e-9, torch_default 3e-23; tanh Xavier 0.02, torch_default 7e-15,
# N(0, 1) 1e27 (exploding: a different failure, left out of the rule). A gradient below VANISHED
# leaves the early layers untrained; a cell is at the constant prediction when its accuracy is
# <= STALLED (11.35% on MNIST, 10.00% on mnist-5k).
VANISHED, EXPLODED = 1e-6, 1e6
STALLED = 0.12


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
    deep = [e for e in profile.experiments if e.name.startswith("deep-")]
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


SWEEP_PREFIX = "sweep-"
SWEEP_FILE = "activation_sweep.csv"


def test_activation_sweep_table(profile, trained, bench_session):
    """Final test accuracy (mean over seeds), initializer x activation, saved as a report.

    The relu column is the profile's seed-recipe experiment (same architecture and recipe);
    each other column is a ``sweep-<activation>`` experiment. Sanity only: in every column the
    best initializer learns (>= 90%); the per-cell bounds are in the profile.
    """
    sweeps = [e for e in profile.experiments if e.name.startswith(SWEEP_PREFIX)]
    if not sweeps:
        pytest.skip(f"profile {profile.name} has no activation sweep")
    names = [e.name for e in sweeps]
    base = next((e for e in profile.experiments if e.name == "seed-recipe"
                 and e.config.activation == "relu"), None)
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
