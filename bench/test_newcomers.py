"""What every scheme gets without bounds of its own -- a user's (``--init module:function``, a
plugin, ``initcore.register``), or a built-in one in an experiment that has no bound for it:

* it trains above chance, or is reported (xfail, and ``trains = no`` in leaderboard.csv) as not
  training; a diverged seed is reported the same way;
* each claim its author registered (``initcore.not_worse_than``, ``better_than``, ``accuracy``)
  is tested with the leaderboard's paired verdicts, and fails when the data contradict it.

Its place among the others (mean +- std, rank, Welch tests against the best built-in scheme and
against He) is the run's ``leaderboard.csv`` (:mod:`initcore.leaderboard`), written when the
session ends and printed in its summary. The theory checks every scheme gets are in
bench/test_theory.py (``test_relu_ratio_matches_drawn_weights``: the measured n Var(W)/2 per
layer) and :func:`test_signal_at_depth_reported` here: whether the signal vanishes, holds or
explodes over 16 ReLU layers, recorded for every scheme in the run's ``theory.csv``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from initcore import initializers, leaderboard, probes, regression, reports, session, verdicts
from initcore.bounds import DEPTH_LOG_TOL, VERDICT_DECADES
from initcore.experiments import Bound, check_bound
from initcore.residual_schemes import RESIDUAL_SCHEMES
from initcore.train import Recipe

# The schemes of plain MLPs (residual-net schemes: bench/test_residual.py).
MLP_SCHEMES = [n for n in initializers.list_initializers()
               if n not in RESIDUAL_SCHEMES]


def majority_share(dataset) -> float:
    """The test-set share of the most frequent class: what a net that learned nothing but the
    output bias scores (11.35% on full MNIST, 10% on the balanced mnist-5k)."""
    counts = np.bincount(dataset.y_test.cpu().numpy(), minlength=dataset.n_classes)
    return float(counts.max() / counts.sum())


def test_scheme_trains_above_chance(open_cell, trained, dataset_loader):
    """Every seed ends above the majority-class share + 20 points (leaderboard.trains_threshold:
    why this margin); if not, the scheme is reported as not training (xfail)."""
    experiment_name, init = open_cell
    run = trained(experiment_name)
    accuracies = run.accuracies(init)
    diverged = [r.diverged for r in sorted(run.runs(init), key=lambda r: r.seed)]
    assert accuracies, f"{init} was not trained in {experiment_name}"
    threshold = leaderboard.trains_threshold(majority_share(dataset_loader(
        run.experiment.dataset)))
    shown = ", ".join(f"{a:.2%}" for a in accuracies)
    if any(diverged) or not all(a > threshold for a in accuracies):
        pytest.xfail(f"NOT TRAINING: {init} on {experiment_name}: final accuracies {shown}, "
                     f"diverged {sum(diverged)}/{len(diverged)} (trains means every seed > "
                     f"{threshold:.2%})")


def test_scheme_claim(claim, profile, trained):
    """A registered claim holds in this run's data: the leaderboard's paired verdict
    (:mod:`initcore.verdicts`) at the gate's ALPHA (one claim is one hypothesis):
    ``not_worse_than`` fails on ``worse``, ``better_than`` needs ``better``."""
    name, what = claim
    experiment = next((e for e in profile.experiments if e.name == what.experiment), None)
    if experiment is None:
        pytest.skip(f"claim '{what}' of {name}: profile {profile.name!r} has no experiment "
                    f"{what.experiment!r}")
    run = trained(experiment.name)
    mine = np.array(run.accuracies(name), dtype=float)
    if what.kind == "accuracy":
        diverged = [r.diverged for r in sorted(run.runs(name), key=lambda r: r.seed)]
        problems = check_bound(Bound(what.min_acc, what.max_acc), list(mine), diverged)
        assert not problems, f"{name}: claim '{what}' contradicted: " + "; ".join(problems)
        return
    if what.other not in experiment.inits:
        pytest.skip(f"claim '{what}' of {name}: {what.other} is not trained in "
                    f"{experiment.name}")
    theirs = np.array(run.accuracies(what.other), dtype=float)
    # The leaderboard's verdict (initcore.verdicts: paired per seed, margin 0.5 pt), at the
    # gate's ALPHA: one claim is one hypothesis.
    result = verdicts.pair(mine, theirs, verdicts.MARGIN, regression.ALPHA)
    said = (f"{name} {100 * _mean(mine):.2f}% vs {what.other} {100 * _mean(theirs):.2f}% over "
            f"{len(mine)} seeds: {result.verdict}, paired effect {100 * result.effect:+.2f} pt "
            f"[{100 * result.low:+.2f}, {100 * result.high:+.2f}] ({result.test}, error "
            f"<= {regression.ALPHA:g}, margin {100 * verdicts.MARGIN:g} pt)")
    if what.kind == "not_worse_than":
        assert result.verdict != "worse", f"claim '{what}' contradicted: {said}"
    else:  # better_than: the verdict must be "better"
        assert result.verdict == "better", f"claim '{what}' not supported: {said}"


def _mean(values: np.ndarray) -> float:
    """Mean over seeds; a diverged seed (NaN) counts as chance-free zero accuracy."""
    return float(np.nan_to_num(values, nan=0.0).mean()) if len(values) else math.nan


# ---------------------------------------------------------------------------------------------
# Signal at depth, for every registered scheme
# ---------------------------------------------------------------------------------------------

DEPTH, WIDTH, BATCH = 16, 256, 256  # the ReLU net of bench/test_theory.py's ratio checks
THEORY_FILE = leaderboard.THEORY_FILE


def verdict(log10_gain: float) -> str:
    if not math.isfinite(log10_gain):
        return "no signal"
    if log10_gain < -VERDICT_DECADES:
        return "vanishes"
    return "explodes" if log10_gain > VERDICT_DECADES else "holds"


@pytest.mark.parametrize("init", MLP_SCHEMES, ids=lambda n: f"init={n}")
def test_signal_at_depth_reported(init, dataset_loader, pytestconfig):
    """16 x 256 ReLU, zero biases, probed at init on 256 MNIST-5k rows: the measured
    n Var(W)/2 of every hidden layer, and the gain q_16/q_2 of the second moment over the 14
    hidden-to-hidden steps after the first (the first hidden layer sees raw pixels, not a
    ReLU output: a one-time change there is no trend). For random weights the gain must match
    the product of the layers' n Var(W)/2 (He et al. 2015, eq. 10) within DEPTH_LOG_TOL; a
    scheme whose weights do not depend on the seed (identity, ZerO) is recorded, not held to
    that law (bench/test_theory.py checks its own). The row, with the verdict
    vanishes/holds/explodes, goes into the run's theory.csv."""
    mnist5k = dataset_loader("mnist-5k")
    recipe = Recipe(hidden=(WIDTH,) * DEPTH)
    model = probes.initialized(init, 0, mnist5k, recipe)  # bench/test_theory.py's ratio net
    # Whether the weights depend on the seed does not depend on the depth: asked of a 2-layer
    # net of the same width (MetaInit on the 16-layer net is ~11 s per build, on this one ~1 s).
    shallow = Recipe(hidden=(WIDTH,) * 2)
    deterministic = all(torch.equal(a, b) for a, b in zip(
        probes.initialized(init, 0, mnist5k, shallow).parameters(),
        probes.initialized(init, 1, mnist5k, shallow).parameters()))
    with torch.no_grad():
        for layer in initializers.linear_layers(model):
            layer.bias.zero_()
    probed = probes.probe_model(model, *probes.probe_batch(mnist5k, BATCH))
    n_var_half = np.array(probed["fan_in_weight_var"][1:DEPTH]) / 2  # layers 2..16
    q = np.array(probed["preact_second_moment"][:DEPTH])
    with np.errstate(divide="ignore", invalid="ignore"):
        log_gain = float(np.log(q[-1] / q[1]))  # q_16 / q_2: layers 3..16 multiply it
        predicted = float(np.log(n_var_half[1:]).sum())
    row = pd.DataFrame([{
        "init": init, "depth": DEPTH, "width": WIDTH, "seed": 0,
        "n_var_half_mean": float(n_var_half.mean()), "n_var_half_min": float(n_var_half.min()),
        "n_var_half_max": float(n_var_half.max()),
        "n_var_half_layers": " ".join(f"{v:.4g}" for v in n_var_half),
        "q_gain": math.exp(log_gain) if math.isfinite(log_gain) else float("nan"),
        "predicted_gain": math.exp(predicted) if math.isfinite(predicted) else float("nan"),
        "deterministic": deterministic, "signal": verdict(log_gain / math.log(10))}])
    # Every process of the session appends (under the table's lock): xdist workers too.
    reports.append_history(row, session.run_dir(pytestconfig) / THEORY_FILE)
    if n_var_half.min() == 0 or q[1] == 0:
        pytest.skip(f"{init} draws all-zero weights: no signal to follow")
    if deterministic:
        pytest.skip(f"{init}: the same weights for every seed, He's law for random weights "
                    f"does not apply (recorded: q_{DEPTH}/q_2 = {math.exp(log_gain):.3g})")
    assert abs(log_gain - predicted) < DEPTH_LOG_TOL, (
        f"{init}: q_{DEPTH}/q_2 = {math.exp(log_gain):.3g} but the layers' n Var(W)/2 multiply "
        f"to {math.exp(predicted):.3g} (log error {abs(log_gain - predicted):.2f} >= "
        f"{DEPTH_LOG_TOL})")
