"""Throughput of the residual grid trainer (torch.func ensembling + autograd + torch.optim)
against the hand-written MLP grid trainer, as a fraction of this machine's fp32 matmul rate
(initcore.speed's calibration, best of before/after): one epoch of mnist-5k, G = 8 models, a
ResMLP of 16 blocks x 256 (32 square layers) and a plain MLP of 32 hidden layers of 256.
"""

from __future__ import annotations

import time

from initcore import data
from initcore.grid import train_grid
from initcore.speed import matmul_gflops
from initcore.train import Recipe

mnist5k = data.load("mnist-5k")
n = mnist5k.x_train.shape[0]
calibration = matmul_gflops()
rows = []
for label, config, weights in (
    ("resmlp 16x256 (torch.func)", Recipe(arch="resmlp", blocks=16, width=256, epochs=1),
     784 * 256 + 32 * 256 * 256 + 256 * 10),
    ("mlp 32x256 (hand-written)", Recipe(hidden=(256,) * 32, epochs=1, lr=0.001),
     784 * 256 + 31 * 256 * 256 + 256 * 10),
):
    train_grid(["he_normal"], [0], mnist5k, config)  # warm-up
    start = time.perf_counter()
    train_grid(["he_normal"], range(8), mnist5k, config)
    seconds = time.perf_counter() - start
    gflops = 6 * weights * n * 8 / seconds / 1e9
    rows.append((label, seconds, gflops))
calibration = max(calibration, matmul_gflops())
print(f"fp32 matmul: {calibration:.1f} GFLOP/s")
for label, seconds, gflops in rows:
    print(f"{label}: {seconds:.1f} s for 8 model-epochs, {gflops:.1f} GFLOP/s, "
          f"{gflops / calibration:.1%} of the matmul rate")
