"""The grid trainer against the fp32 matmul limit (docs/speed.md, "Against the matmul limit").

One process, full MNIST (INITCORE_DATA_DIR), run under the shared lock:

1. the fp32 GEMM calibration (initcore.speed.matmul_gflops), before and after, best kept;
2. one epoch of the seed net (784-256-128-10, batch 64) by train_grid at G = 4, 16, 64
   (he_normal, seeds 0..G-1), as a fraction of the calibration (6 x weights FLOPs per row);
3. one epoch of a ResMLP of 64 blocks x 128 (torch.func trainer) at G = 4, the same way;
4. small nets, where per-step overhead sets the time: the residual profile's ResMLP (64 x 128,
   mnist-5k) at G = 8 and MNIST-1D's MLP recipe at G = 5;
5. the seed notebook's own loop (DataLoader, 2 workers) for one epoch, and train_grid at G = 4
   with the notebook's four inits: the ratio of model-epochs per second;
6. torch.profiler over 150 steps of the seed net at G = 16: the operators' self CPU time.

    PYTHONPATH=. INITCORE_DATA_DIR=/work/shared/data flock /work/heavy.lock \\
        python docs/scripts/speed_budget.py
"""

from __future__ import annotations

import os
import time
from dataclasses import replace

import torch
from torch.profiler import ProfilerActivity, profile

from initcore import costs, data
from initcore.experiments import Experiment
from initcore.grid import sgd_momentum_step, stack_parameters
from initcore.residual_profiles import MNIST1D_RECIPE
from initcore.speed import SEED_INITS, grid_epoch, matmul_gflops, notebook_epoch
from initcore.train import DATA_ORDER_OFFSET, Recipe, build_model, epoch_order

mnist = data.load("mnist", os.environ.get("INITCORE_DATA_DIR"))
rows = mnist.x_train.shape[0]
before = matmul_gflops()
print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
      f"matmul before {before:.1f} GFLOP/s", flush=True)

SEED = Recipe(epochs=1)
RESMLP = Recipe(arch="resmlp", blocks=64, width=128, epochs=1)
measured = []
for label, config, models in (("seed net", SEED, 4), ("seed net", SEED, 16),
                              ("seed net", SEED, 64), ("resmlp 64x128", RESMLP, 4)):
    init = "fixup" if config.arch == "resmlp" else "he_normal"  # He diverges at 64 blocks
    experiment = Experiment("x", "mnist", config, (init,), tuple(range(models)))
    seconds = grid_epoch(mnist, config, (init,), range(models))
    gflop = 6 * costs.weights(experiment) * rows * models / 1e9
    measured.append((label, models, seconds, gflop / seconds))
    print(f"{label} G={models}: {seconds:.2f} s/epoch, {seconds / models:.3f} s/model-epoch, "
          f"{gflop / seconds:.1f} GFLOP/s", flush=True)

# Small nets, where per-step overhead rather than FLOPs sets the time: the residual profile's
# ResMLP (64 x 128, mnist-5k) at G = 8 and MNIST-1D's MLP recipe at G = 5.
mnist5k, mnist1d = data.load("mnist-5k"), data.load("mnist1d")
for label, dataset, config, models in (
        ("resmlp 64x128 mnist-5k", mnist5k, RESMLP, 8),
        ("mnist1d-mlp recipe", mnist1d, replace(MNIST1D_RECIPE, epochs=1), 5)):
    init = "fixup" if config.arch == "resmlp" else "he_normal"  # He diverges at 64 blocks
    experiment = Experiment("x", dataset.name, config, (init,), tuple(range(models)))
    seconds = grid_epoch(dataset, config, (init,), range(models))
    gflop = 6 * costs.weights(experiment) * dataset.x_train.shape[0] * models / 1e9
    n_steps = -(-dataset.x_train.shape[0] // config.batch_size)
    measured.append((label, models, seconds, gflop / seconds))
    print(f"{label} G={models}: {seconds:.2f} s/epoch, {seconds / n_steps * 1e3:.2f} ms/step, "
          f"{gflop / seconds:.1f} GFLOP/s", flush=True)

notebook = notebook_epoch(mnist, SEED)  # 2 DataLoader workers, as the notebook
grid4 = grid_epoch(mnist, SEED, SEED_INITS, (0,))
print(f"notebook loop (2 workers): {notebook:.2f} s/epoch; train_grid G=4 notebook inits: "
      f"{grid4 / 4:.3f} s/model-epoch; ratio {notebook / (grid4 / 4):.1f}x", flush=True)

# --- profile 150 steps at G = 16 ---------------------------------------------------------------
models = [build_model("he_normal", s, mnist, SEED) for s in range(16)]
params = stack_parameters(models, torch.device("cpu"))
buffers = [None if p is None else torch.zeros_like(p) for p in params]
alive = torch.ones(16, dtype=torch.bool)
orders = torch.stack([epoch_order(torch.Generator().manual_seed(s + DATA_ORDER_OFFSET), rows,
                                  "cpu") for s in range(16)])


def steps(n: int) -> None:
    for first in range(0, n * 64, 64):
        batch = orders[:, first:first + 64]
        x = mnist.x_train.index_select(0, batch.flatten()).view(*batch.shape, -1)
        sgd_momentum_step(params, buffers, x, mnist.y_train[batch], alive, "relu", 0.01, 0.9)


steps(20)  # warm-up
start = time.perf_counter()
steps(150)
plain = time.perf_counter() - start
with profile(activities=[ProfilerActivity.CPU]) as prof:
    steps(150)
print(f"150 steps at G=16: {plain:.2f} s unprofiled")
print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=18))

after = matmul_gflops()
calibration = max(before, after)
print(f"matmul after {after:.1f}, kept {calibration:.1f} GFLOP/s")
for label, models, seconds, gflops in measured:
    print(f"| {label} | {models} | {seconds / models:.3f} | {gflops:.0f} | "
          f"{gflops / calibration:.0%} |")
