"""One grid of docs/speed.md's "Beside another process" table: 4 schemes x 4 seeds x 2 epochs
of the seed net on mnist-5k, after a one-epoch warm-up, timed in this process.

    python docs/scripts/threads_under_load.py LABEL                      # default threads
    OMP_WAIT_POLICY=PASSIVE python docs/scripts/threads_under_load.py LABEL
    OMP_NUM_THREADS=1 python docs/scripts/threads_under_load.py LABEL
    python -c "while True: pass" & ...; kill %1                           # the busy condition
"""

from __future__ import annotations

import sys
import time

import torch

from initcore import data
from initcore.grid import train_grid
from initcore.train import Recipe

INITS = ("he_normal", "xavier_normal", "torch_default", "lecun_normal")


def main(label: str) -> None:
    mnist5k = data.load("mnist-5k")
    train_grid(INITS, [0], mnist5k, Recipe(epochs=1))  # warm-up: allocator, thread pool
    started = time.perf_counter()
    train_grid(INITS, range(4), mnist5k, Recipe(epochs=2))
    seconds = time.perf_counter() - started
    print(f"{label}: {torch.get_num_threads()} threads, 32 model-epochs on mnist-5k: "
          f"{seconds:.2f} s")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "run")
