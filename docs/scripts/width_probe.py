"""Probe SP's learning-rate drift (docs/width.md, "what was tried"): the final train loss per
(parametrization, width, log2 lr) of the MLP 784-w-w-10 (no biases, lecun_normal) on mnist-5k,
with the readout zero-initialized under SP too and `mup`'s demo multipliers folded into the
recipe (examples/MLP/demo.ipynb: ``input_mult`` 1/256, ``output_mult`` 32). Run under the heavy
lock; arguments are key=value, e.g.::

    python docs/scripts/width_probe.py act=tanh om=1 im=1 mom=0 lrs=-5,-4,-3,-2,-1

An output multiplier alpha (logits = alpha * W h) acts as readout weights alpha * W: init
multiplier alpha, learning-rate multiplier alpha^2 (the gradient on W is alpha times that on the
acting weights, and the step moves the acting weights alpha times more). An input multiplier a
(weights / sqrt(a) at init, preactivation * sqrt(a)) leaves the acting weights as they were and
multiplies the first layer's learning rate by a. Exact for SGD (with or without momentum).
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import replace

from initcore.data import load
from initcore.grid import train_grid
from initcore.train import Recipe
from initcore.width import width_recipe


def with_demo_multipliers(recipe: Recipe, input_mult: float, output_mult: float) -> Recipe:
    """``recipe`` with mup's input/output multipliers folded in and the readout zero-initialized."""
    lr = list(recipe.multipliers("lr_mult"))
    init = list(recipe.multipliers("init_mult"))
    lr[0] *= input_mult
    lr[-1] *= output_mult ** 2
    init[-1] = 0.0  # mup's demo zero-initializes the readout under SP and muP
    return replace(recipe, lr_mult=tuple(lr), init_mult=tuple(init),
                   bias_lr_mult=recipe.multipliers("bias_lr_mult"))


def main(args: dict[str, str]) -> None:
    widths = [int(w) for w in args.get("widths", "128,256,512,1024").split(",")]
    log2_lrs = [float(x) for x in args.get("lrs", "-8,-6,-4").split(",")]
    seeds = [int(s) for s in args.get("seeds", "0").split(",")]
    base = int(args.get("base", widths[0]))
    recipe = Recipe(hidden=(base, base), bias=False, momentum=float(args.get("mom", 0)),
                    batch_size=64, epochs=int(args.get("epochs", 3)),
                    input_scaling=args.get("scaling", "symmetric"),
                    activation=args.get("act", "relu"))
    data = load(args.get("data", "mnist-5k"))
    for param in args.get("params", "sp,mup").split(","):
        for width in widths:
            start, row = time.perf_counter(), []
            for log2_lr in log2_lrs:
                config = replace(with_demo_multipliers(
                    width_recipe(recipe, width, param, base, "zero"),
                    float(args.get("im", 1 / 256)), float(args.get("om", 32))), lr=2.0 ** log2_lr)
                runs = train_grid(["lecun_normal"], seeds, data, config)
                losses = [math.inf if r.diverged else r.epochs[-1].train_loss for r in runs]
                row.append(f"{log2_lr:g}:{sum(losses) / len(losses):.3f}")
            print(param, width, " ".join(row), f"[{time.perf_counter() - start:.0f}s]",
                  flush=True)


if __name__ == "__main__":
    main(dict(arg.split("=", 1) for arg in sys.argv[1:]))
