"""Measure the residual and MNIST-1D experiments (docs/residual.md): per experiment, every
(init, seed) cell's per-epoch rows and, for residual nets, the log2 growth at init; wall time
per experiment. Run under the heavy lock, once with default kernels and once with
``ATEN_CPU_CAPABILITY=default OMP_NUM_THREADS=1``::

    python docs/scripts/measure_residual.py OUT.csv residual resdepth-2 ... mnist1d-mlp
"""

from __future__ import annotations

import sys
import time

import pandas as pd

from initcore import data, residual_profiles
from initcore.grid import train_grid
from initcore.residual import growth_table

EXPERIMENTS = {e.name: e for e in (residual_profiles.RESIDUAL_EXPERIMENT,
                                   *residual_profiles.DEPTH_SWEEP,
                                   *residual_profiles.MNIST1D_EXPERIMENTS)}


def main(out: str, names: list[str]) -> None:
    frames = []
    for name in names:
        experiment = EXPERIMENTS[name]
        dataset = data.load(experiment.dataset)
        start = time.perf_counter()
        results = train_grid(experiment.inits, experiment.seeds, dataset, experiment.config)
        wall = time.perf_counter() - start
        rows = pd.DataFrame([{"experiment": name, "init": r.init, "seed": r.seed,
                              "epoch": e.epoch, "train_loss": e.train_loss,
                              "test_acc": e.test_acc, "diverged": e.diverged, "wall_s": wall}
                             for r in results for e in r.epochs])
        if experiment.config.arch == "resmlp":
            growth = growth_table(experiment.inits, experiment.seeds, dataset, experiment.config)
            rows = rows.merge(growth, on=["init", "seed"], how="left")
        frames.append(rows)
        last = rows.sort_values("epoch").groupby(["init", "seed"]).tail(1)
        print(f"{name}: {wall:.1f} s", flush=True)
        print(last.groupby("init", sort=False).agg(
            acc=("test_acc", lambda a: f"{100 * a.mean():.2f} +- {100 * a.std():.2f} "
                                       f"[{100 * a.min():.2f}, {100 * a.max():.2f}]"),
            diverged=("diverged", "sum")).to_string(), flush=True)
        pd.concat(frames).to_csv(out, index=False)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
