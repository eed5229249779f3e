"""The coordinate check of bench/test_width.py on other seeds (docs/width.md, "across seeds and
perturbed kernels"): l1(4096) / l1(1024) per (parametrization, optimizer, layer, t). Run under
the heavy lock, e.g. with ``ATEN_CPU_CAPABILITY=default OMP_NUM_THREADS=1``::

    python docs/scripts/width_coordcheck_seeds.py 3,4,5
"""

from __future__ import annotations

import sys

import pandas as pd

from initcore.data import load
from initcore.train import Recipe
from initcore.width import COORD_LR, COORD_WIDTHS, coord_check, flat_ratios


def main(seeds: tuple[int, ...]) -> None:
    data = load("mnist-5k")
    tables = []
    for optimizer, lr in COORD_LR.items():  # the bench's recipe (bench/test_width.py)
        recipe = Recipe(hidden=(64, 64), bias=False, momentum=0.0, optimizer=optimizer, lr=lr,
                        batch_size=64, epochs=1)
        for param in ("sp", "mup"):
            tables.append(coord_check(data, recipe, param, widths=COORD_WIDTHS, base_width=64,
                                      steps=3, seeds=seeds))
    ratios = flat_ratios(pd.concat(tables, ignore_index=True), 1024, 4096)
    print(ratios.pivot_table(index=["parametrization", "optimizer", "layer"], columns="t",
                             values="ratio").round(3).to_string())
    print("every muP ratio in mup's band:", bool(ratios[ratios.parametrization == "mup"]
                                                  ["in_band"].all()))


if __name__ == "__main__":
    main(tuple(int(s) for s in sys.argv[1].split(",")))
