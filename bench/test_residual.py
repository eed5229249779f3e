"""Residual nets without normalization: the growth law at init, and what it decides in training.

At init (every profile, ~6 s): in a block ``h + a W2 relu(W1 h)`` the mean square of h grows by
(1 + g) per block, g = prod_k (w Var(W_k)) / 2 (He et al. 2015's per-layer law applied to the
branch; the cross term vanishes because W2 has mean 0): He g = 2, i.e. 3^L; Xavier 1/2;
nn.Linear's default 1/18; depth-scaled He 2/L. Fixup, SkipInit, ReZero and ZerO make every
branch output exactly 0, so the stream leaves the last block exactly as it left the stem.

In training (profiles ``residual`` and ``nightly``): the orderings below, with margins from
seeds measured under the default kernels (docs/residual.md), and the depth-sweep
figure and the MNIST-1D published-vs-measured table written into the run's report folder.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch
from torch import nn

from initcore import initializers, residual_profiles, session
from initcore.bounds import GROWTH_RECIPE, GROWTH_SEEDS, GROWTH_TOL
from initcore.residual import NOMINAL_GAIN, depth_sweep_figure, growth_table
from initcore.residual_schemes import RESIDUAL_SCHEMES


@pytest.fixture(scope="module")
def growth(dataset_loader) -> pd.DataFrame:
    """Seeds GROWTH_SEEDS of the random schemes, seed 0 of the zero-branch ones (~6 s)."""
    mnist5k = dataset_loader("mnist-5k")
    zero_branch = [n for n in RESIDUAL_SCHEMES if n not in GROWTH_TOL]
    return pd.concat([growth_table(list(GROWTH_TOL), GROWTH_SEEDS, mnist5k, GROWTH_RECIPE),
                      growth_table(zero_branch, (0,), mnist5k, GROWTH_RECIPE)])


@pytest.mark.parametrize("init", list(GROWTH_TOL), ids=lambda n: f"init={n}")
def test_residual_growth_at_init_matches_theory(init, growth):
    """log2 E[h_64^2]/E[h_0^2] = 64 log2(1 + g) within GROWTH_TOL[init] for every seed."""
    rows = growth[growth["init"] == init]
    theory = rows["theory_bits"].iloc[0]
    errors = (rows["growth_bits"] - theory).abs()
    assert (errors <= GROWTH_TOL[init]).all(), (
        f"{init}: growth {rows['growth_bits'].round(2).tolist()} bits, theory {theory:.2f} "
        f"(64 log2(1 + {NOMINAL_GAIN[init](64):.4g})), tolerance {GROWTH_TOL[init]}")


@pytest.mark.parametrize("init", [n for n in RESIDUAL_SCHEMES if n != "he_depth_scaled"],
                         ids=lambda n: f"init={n}")
def test_zero_branch_schemes_grow_exactly_zero_bits(init, growth):
    """Fixup (last branch layer 0), SkipInit / ReZero (gain 0), ZerO (last layer 0): every
    branch adds an exact 0, so the growth is exactly 0 bits (not 'close to')."""
    bits = growth[growth["init"] == init]["growth_bits"].tolist()
    assert bits == [0.0], f"{init}: growth {bits} bits, expected exactly 0"


def test_residual_growth_check_catches_mis_scaled_he(dataset_loader):
    """Sensitivity: He weights x 1.1 (10% off in std) must fail He's growth tolerance."""
    name = "he_x1p1_residual"

    def apply(model, generator, _data):
        with torch.no_grad():
            for layer in initializers.linear_layers(model):
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu", generator=generator)
                layer.weight.mul_(1.1)
                nn.init.zeros_(layer.bias)

    initializers.register_scheme(initializers.Scheme(name, "1.1 x he_normal (broken)", "zeros",
                                                     False, apply))
    try:
        rows = growth_table([name], (0,), dataset_loader("mnist-5k"), GROWTH_RECIPE)
    finally:
        initializers.unregister(name)
    theory = math.log2(3) * GROWTH_RECIPE.blocks
    error = abs(rows["growth_bits"].iloc[0] - theory)
    assert error > GROWTH_TOL["he_normal"], (
        f"He x 1.1 grew {rows['growth_bits'].iloc[0]:.1f} bits, within {GROWTH_TOL['he_normal']}"
        f" of He's {theory:.1f}: the tolerance cannot tell a 10% scale error")


# ---------------------------------------------------------------------------------------------
# Training: orderings (profiles residual, nightly)
# ---------------------------------------------------------------------------------------------

# (experiment, better, worse, statistic, gap), final epoch; statistic "every": every seed of
# `better` beats every seed of `worse` (diverged = 0) by `gap`. Margins: docs/residual.md.
ORDERINGS = residual_profiles.ORDERINGS


def _accuracies_or_zero(run, init: str) -> list[float]:
    accuracies = [0.0 if math.isnan(a) else a for a in run.accuracies(init)]
    return accuracies + [0.0] * (len(run.experiment.seeds) - len(accuracies))


@pytest.mark.parametrize("experiment,better,worse,gap", ORDERINGS,
                         ids=[f"{e}-{b}>{w}" for e, b, w, _ in ORDERINGS])
def test_residual_ordering(experiment, better, worse, gap, profile, trained):
    """Zero-branch schemes train where plain He and Xavier blow up (3^64, 1.5^64 in mean
    square): every seed of ``better`` beats every seed of ``worse`` by ``gap``."""
    names = {e.name: e for e in profile.experiments}
    if experiment not in names or not {better, worse} <= set(names[experiment].inits):
        pytest.skip(f"profile {profile.name} has no {experiment} with {better} and {worse}")
    run = trained(experiment)
    good, bad = _accuracies_or_zero(run, better), _accuracies_or_zero(run, worse)
    assert min(good) - max(bad) >= gap, (
        f"{experiment}: {better} {[f'{a:.2%}' for a in good]} vs {worse} "
        f"{[f'{a:.2%}' for a in bad]}: margin {min(good) - max(bad):.2%} < {gap:.0%}")


def test_residual_depth_sweep_figure(profile, trained, dataset_loader, pytestconfig):
    """Accuracy after 1 epoch and growth at init against depth, per scheme: written as
    ``residual_depth_sweep.csv`` / ``.png`` into the run folder. Asserts that the zero-branch
    schemes' growth is 0 at every depth and He's grows as L log2 3."""
    names = {e.name: e for e in profile.experiments}
    sweep = [names[n] for n in ("residual", *(e.name for e in residual_profiles.DEPTH_SWEEP))
             if n in names]
    if len(sweep) < 2:
        pytest.skip(f"profile {profile.name} has no depth sweep")
    mnist5k = dataset_loader("mnist-5k")
    frames = []
    for experiment in sweep:
        run = trained(experiment.name)
        rows = run.epochs[run.epochs["epoch"] == 1][["init", "seed", "test_acc", "diverged"]]
        growth = growth_table(experiment.inits, experiment.seeds, mnist5k, experiment.config)
        frames.append(rows.merge(growth, on=["init", "seed"]))
    table = pd.concat(frames, ignore_index=True)
    out = session.run_dir(pytestconfig)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "residual_depth_sweep.csv", index=False)
    depth_sweep_figure(table, out / "residual_depth_sweep.png")
    zero = table[table["init"].isin(["fixup", "skipinit", "rezero"])]
    assert (zero["growth_bits"] == 0).all(), "a zero-branch scheme grew at some depth"
    he = table[table["init"] == "he_normal"]
    error = (he["growth_bits"] - he["blocks"] * math.log2(3)).abs()
    assert (error <= GROWTH_TOL["he_normal"]).all(), f"He's growth off L log2 3: {error.max()}"


def test_mnist1d_published_baselines(profile, trained, pytestconfig):
    """MNIST-1D (Greydanus 2020) with the paper's recipe: logistic regression and the MLP end
    within MNIST1D_TOL of the published 32 % and 68 % (mean over seeds). The table is written as
    ``mnist1d_published.csv`` into the run folder."""
    rows = []
    for name, published in residual_profiles.MNIST1D_PUBLISHED.items():
        if name not in {e.name for e in profile.experiments}:
            continue
        accuracies = trained(name).accuracies("torch_default")
        rows.append({"experiment": name, "published": published,
                     "measured_mean": sum(accuracies) / len(accuracies),
                     "measured_min": min(accuracies), "measured_max": max(accuracies),
                     "seeds": len(accuracies)})
    if not rows:
        pytest.skip(f"profile {profile.name} has no MNIST-1D baseline")
    table = pd.DataFrame(rows)
    out = session.run_dir(pytestconfig)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "mnist1d_published.csv", index=False)
    off = table[(table["measured_mean"] - table["published"]).abs()
                > residual_profiles.MNIST1D_TOL]
    assert off.empty, f"MNIST-1D off the published figures:\n{off.to_string()}"
