"""Parametrizations: how every layer's initial scale and learning rate change with width.

Standard parametrization (SP, the default of every recipe) initializes each layer by its
scheme (He, Xavier, ...: Var(W) ~ 1/fan_in) and trains every layer at one learning rate. Then
the best learning rate drifts with width: a step of size lr moves a width-n layer's output by
O(lr * n) coordinates' worth under SGD (Tensor Programs IV/V). The Maximal Update
Parametrization (muP; Yang & Hu, "Feature Learning in Infinite-Width Neural Networks", ICML
2021; Yang et al., "Tensor Programs V: Tuning Large Neural Networks via Zero-Shot Hyperparameter
Transfer", arXiv 2203.03466) scales each layer so that every layer's update changes its output
by O(1) per coordinate at any width: a small model's tuned learning rate transfers to a wide one.

TP5, Table 3 (muP without output multipliers, n = fan_in or fan_out of the layer as written;
"input" = the first layer, whose fan_in is the data's, "output" = the readout to the classes):

    layer          init Var(W)       SGD lr           Adam lr
    input weights  1/fan_in          eta * fan_out    eta
    hidden weights 1/fan_in          eta              eta / fan_in
    output weights 1/fan_in^2        eta / fan_in     eta / fan_in
    biases         (zero here)       eta * fan_out    eta       (the readout's bias: eta)

Here every width is taken relative to a base width (``base_hidden``): a layer's multiplier is
its width over the base's, ``m = n / n_base``, so at the base width muP *is* SP and the base
model's learning rate is the one that transfers. That is exactly what ``mup`` (PyPI, Microsoft)
does with ``set_base_shapes`` + ``MuReadout`` + ``MuSGD``/``MuAdam``, written in the
"effective" form: ``MuReadout`` stores W * sqrt(m) and divides its input by m, so the readout
that acts is W / sqrt(m) (std sigma / sqrt(fan_in * m)), and MuSGD's lr * m on the stored
readout is lr / m on the acting one (MuAdam's lr on the stored one: also lr / m on the acting
one, up to Adam's eps). tests/test_mup_reference.py checks the two against each other.

So muP here is three per-layer tuples of a :class:`~initcore.train.Recipe` (both trainers honour
them, the schemes stay as they are):

* ``init_mult``: 1 for the input and hidden layers (their scheme already gives Var ~ 1/fan_in),
  1/sqrt(m_in) for the readout ("scaled", mup's ``MuReadout``) or 0 ("zero", mup's
  ``readout_zero_init=True`` and its MLP example).
* ``lr_mult`` (weights) and ``bias_lr_mult``: MuSGD's and MuAdam's rules above.

Weight decay is not rescaled (mup rescales it with the learning rate; the width experiments use
none).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from .train import Recipe

PARAMETRIZATIONS = ("sp", "mup")
READOUTS = ("zero", "scaled")  # muP's readout at init: zeros, or the scheme's / sqrt(m_in)


def width_multipliers(hidden: Sequence[int], base_hidden: Sequence[int]
                      ) -> list[tuple[float, float]]:
    """(m_in, m_out) of every Linear layer, first to last: a hidden width over the base's; the
    data's features and the classes are fixed (multiplier 1)."""
    if len(hidden) != len(base_hidden):
        raise ValueError(f"base widths {tuple(base_hidden)} must have one entry per hidden "
                         f"layer of {tuple(hidden)}")
    if any(not isinstance(b, int) or b < 1 for b in base_hidden):
        raise ValueError(f"base widths must be integers >= 1, got {tuple(base_hidden)}")
    mults = [1.0] + [n / b for n, b in zip(hidden, base_hidden)] + [1.0]
    return list(zip(mults[:-1], mults[1:]))


def mup_multipliers(hidden: Sequence[int], base_hidden: Sequence[int], optimizer: str,
                    readout: str = "zero") -> dict[str, tuple[float, ...]]:
    """The muP ``init_mult``, ``lr_mult`` and ``bias_lr_mult`` of an MLP with ``hidden``
    widths relative to ``base_hidden`` (TP5 Table 3 in mup's base-width form, module docstring).

    SGD (MuSGD): input weights and every hidden-width bias lr * m_out; hidden weights lr * m_out
    / m_in (1 when both widths scale alike); readout weights lr / m_in; readout bias lr.
    Adam (MuAdam): input weights and all biases lr; hidden and readout weights lr / m_in.
    """
    if readout not in READOUTS:
        raise ValueError(f"readout must be one of {', '.join(READOUTS)}, got {readout!r}")
    layers = width_multipliers(hidden, base_hidden)
    last = len(layers) - 1
    init, lr, bias_lr = [], [], []
    for i, (m_in, m_out) in enumerate(layers):
        if i == last:  # readout: fan_in scales, fan_out (the classes) does not
            init.append(0.0 if readout == "zero" else 1 / math.sqrt(m_in))
            lr.append(1 / m_in)
            bias_lr.append(1.0)
        elif optimizer == "sgd":
            init.append(1.0)
            lr.append(m_out if i == 0 else m_out / m_in)
            bias_lr.append(m_out)
        elif optimizer == "adam":
            init.append(1.0)
            lr.append(1.0 if i == 0 else 1 / m_in)
            bias_lr.append(1.0)
        else:
            raise ValueError(f"muP is defined here for sgd and adam, got {optimizer!r}")
    return {"init_mult": tuple(init), "lr_mult": tuple(lr), "bias_lr_mult": tuple(bias_lr)}


def parametrize(recipe: Recipe, parametrization: str, base_hidden: Sequence[int] | None = None,
                readout: str = "zero") -> Recipe:
    """``recipe`` under ``parametrization``: "sp" (every multiplier 1: the recipe as it is,
    multipliers cleared) or "mup" relative to ``base_hidden`` (default: the recipe's own
    widths, where muP equals SP but for the readout's init)."""
    if parametrization == "sp":
        return replace(recipe, init_mult=(), lr_mult=(), bias_lr_mult=())
    if parametrization == "mup":
        base = tuple(recipe.hidden if base_hidden is None else base_hidden)
        return replace(recipe, **mup_multipliers(recipe.hidden, base, recipe.optimizer, readout))
    raise ValueError(f"unknown parametrization {parametrization!r}; valid names: "
                     f"{', '.join(PARAMETRIZATIONS)}")
