"""Timing with pytest-benchmark: initialization cost per scheme and training throughput.

Speed targets live here and in the reports, never in a pass/fail assertion: this machine is
shared and noisy. ``benchmark.pedantic`` fixes the rounds so a training run is not repeated by
auto-calibration. Under pytest-xdist pytest-benchmark disables itself; these tests then skip.
Every benchmark saves its derived rates in ``extra_info`` (and so in the run's benchmark.json).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from initcore import initializers, residual_schemes
from initcore.bounds import PEAK_MEMORY_LIMIT_MB
from initcore.grid import train_grid
from initcore.memory import grid_peak_memory
from initcore.models import MLP, mlp_sizes
from initcore.speed import SEED_INITS, notebook_epoch, training_flops_per_sample
from initcore.train import train

# The schemes of plain MLPs (residual-net schemes: bench/test_residual.py).
MLP_SCHEMES = [n for n in initializers.list_initializers()
               if n not in residual_schemes.RESIDUAL_SCHEMES]


@pytest.fixture
def timed(benchmark):
    if benchmark.disabled:
        pytest.skip("pytest-benchmark is disabled (e.g. under pytest-xdist)")
    return benchmark


def _experiment(profile):
    """The profile's reference experiment (the seed recipe where it has one)."""
    experiment = profile.reference_experiment()
    if experiment is None:
        pytest.skip(f"profile {profile.name!r} (this shard of it) has no reference experiment")
    return experiment


@pytest.mark.parametrize("init", MLP_SCHEMES,
                         ids=[f"init={n}" for n in MLP_SCHEMES])
def test_init_cost(init, timed, profile, dataset_loader):
    """Seconds to initialize the profile's MLP once (orthogonal's QR and LSUV's passes show)."""
    experiment = _experiment(profile)
    dataset = dataset_loader(experiment.dataset)
    sizes = mlp_sizes(dataset.n_features, experiment.config.hidden, dataset.n_classes)
    scheme = initializers.get(init)
    inputs = dataset.x_train if scheme.needs_data else None

    def setup():
        return (MLP(sizes, experiment.config.activation), torch.Generator().manual_seed(0),
                inputs), {}

    timed.group = "init-cost"
    timed.extra_info.update(formula=scheme.formula, needs_data=scheme.needs_data,
                            model="-".join(map(str, sizes)))
    # Data-dependent schemes run a forward pass per layer (LSUV) or 100 second-order steps
    # (MetaInit, ~1.6 s on mnist-5k): 3 rounds and no warm-up, instead of 6 calls at ~10 s.
    rounds, warmup = (3, 0) if scheme.needs_data else (5, 1)
    timed.pedantic(scheme, setup=setup, rounds=rounds, iterations=1, warmup_rounds=warmup)


@pytest.fixture(scope="module")
def throughput_setup(profile, dataset_loader, calibration):
    experiment = _experiment(profile)
    dataset = dataset_loader(experiment.dataset)
    config = replace(experiment.config, epochs=1)
    sizes = mlp_sizes(dataset.n_features, config.hidden, dataset.n_classes)
    flops = training_flops_per_sample(sizes) * dataset.x_train.shape[0]
    return dataset, config, flops, calibration


def _record(benchmark, models: int, flops: float, calibration: float) -> None:
    seconds = benchmark.stats.stats.min
    benchmark.extra_info.update(
        models=models, model_epochs_per_s=models / seconds,
        gflops=models * flops / seconds / 1e9, matmul_gflops=calibration,
        fraction_of_matmul=models * flops / seconds / 1e9 / calibration)


@pytest.mark.parametrize("workers", [2, 0], ids=["notebook-workers=2", "workers=0"])
def test_throughput_notebook_loop(workers, timed, throughput_setup):
    """One epoch of the seed notebook's DataLoader loop (per-sample PIL transforms), 1 model:
    with its own num_workers=2, and with none (the best plain DataLoader loop on 2 cores)."""
    dataset, config, flops, calibration = throughput_setup
    if dataset.n_features != 28 * 28:  # e.g. the residual profile's reference, MNIST-1D
        pytest.skip(f"the notebook's loop reads 28 x 28 images; {dataset.name} has "
                    f"{dataset.n_features} features")
    timed.group = "throughput"
    timed.pedantic(notebook_epoch, args=(dataset, config), kwargs={"num_workers": workers},
                   rounds=1, iterations=1)
    _record(timed, 1, flops, calibration)


def test_throughput_single(timed, throughput_setup):
    """One epoch of train() for each of the notebook's 4 initializers, one model at a time."""
    dataset, config, flops, calibration = throughput_setup

    def run():
        for init in SEED_INITS:
            train(init, 0, dataset, config)

    timed.group = "throughput"
    timed.pedantic(run, rounds=1, iterations=1)
    _record(timed, len(SEED_INITS), flops, calibration)


@pytest.mark.parametrize("models", [4, 16], ids=lambda g: f"G={g}")
def test_throughput_grid(models, timed, throughput_setup):
    """One epoch of train_grid() over G models at once (he_normal, seeds 0..G-1)."""
    dataset, config, flops, calibration = throughput_setup
    timed.group = "throughput"
    timed.pedantic(train_grid, args=(("he_normal",), range(models), dataset, config),
                   rounds=1, iterations=1)
    _record(timed, models, flops, calibration)




def test_peak_memory(experiment_name, benchmark, profile, bench_session):
    """Peak resident memory of training each of the profile's grids, in a fresh process.

    Memory is not noise-sensitive as time is, so this one asserts: a grid must stay within
    PEAK_MEMORY_LIMIT_MB. With pytest-benchmark on, the numbers also go to the benchmark JSON's
    extra_info (group "memory"); under xdist (benchmark disabled) the check still runs.
    """
    experiment = next(e for e in profile.experiments if e.name == experiment_name)
    args = (experiment.dataset, bench_session.data_dir, experiment.inits,
            experiment.seeds, replace(experiment.config, device=bench_session.device))
    kwargs = {"download": bench_session.download}
    if benchmark.disabled:
        memory = grid_peak_memory(*args, **kwargs)
    else:
        benchmark.group = "memory"
        memory = benchmark.pedantic(grid_peak_memory, args=args, kwargs=kwargs, rounds=1,
                                    iterations=1)
        benchmark.extra_info.update(memory)
    assert memory["peak_rss_mb"] < PEAK_MEMORY_LIMIT_MB, (
        f"{experiment_name}: training {memory['models']} models peaked at "
        f"{memory['peak_rss_mb']:.0f} MiB > {PEAK_MEMORY_LIMIT_MB} MiB")
