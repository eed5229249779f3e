"""Signal-propagation probes: what each layer of a network sees at initialization.

For a model and a fixed batch of data, per ``nn.Linear`` layer ``l`` (1-based, forward order) with
pre-activation ``z_l = W_l h_{l-1} + b_l`` and activation ``h_l = phi(z_l)``:

==========================  =====================================================================
metric                      definition
==========================  =====================================================================
``preact_second_moment``    ``q_l = mean(z_l^2)`` over batch and units (the mean-field "length")
``act_std``                 ``std(h_l)`` over batch and units (hidden layers only)
``dead_frac``               fraction of units with ``z_l <= 0`` on every example (ReLU only)
``grad_preact_var``         ``Var(dL/dz_l)`` with L the *summed* cross-entropy, so each example's
                            row is its own back-propagated gradient (independent of batch size)
``weight_grad_norm``        ``||dL/dW_l||_F`` with L the batch-*mean* cross-entropy (the SGD step)
``fan_in_weight_var``       ``n_l Var(W_l)`` of the drawn weights, ``n_l`` the fan-in
``act_deriv_sq``            ``mean(phi'(z_l)^2)``, the backward gain of the nonlinearity (hidden)
==========================  =====================================================================

The theory these are read against (He et al. 2015, eq. 7-10; Glorot & Bengio 2010): for ReLU,
zero biases and symmetric pre-activations, ``q_{l+1} = n Var(W) q_l / 2`` forward and
``Var(dL/dz_l) = n_out Var(W_{l+1}) Var(dL/dz_{l+1}) / 2`` backward -- so the per-layer ratio of
second moments is ``n Var(W) / 2``: 1 for He, 1/2 for Xavier/LeCun/orthogonal, 1/6 for torch's
default ``U(+-1/sqrt(n))``. :func:`ratio_table` lays measured ratios next to that prediction.

Probes run in float64, so a signal that grows 128x per layer (``random_large``) or shrinks 80x
(``random_normal``) over 30 layers is measured instead of overflowing float32 to inf or 0.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .data import Dataset
from .train import DATA_ORDER_OFFSET, Recipe, build_model, epoch_order

PROBE_COLUMNS = ["init", "activation", "depth", "width", "seed", "steps", "layer", "metric",
                 "value"]
METRICS = ("preact_second_moment", "act_std", "dead_frac", "grad_preact_var", "weight_grad_norm",
           "fan_in_weight_var", "act_deriv_sq")
PROBE_BATCH = 512  # examples in the fixed probe batch
PROBE_BATCH_SEED = 0  # the probe batch is rows randperm(Generator(0))[:PROBE_BATCH] of x_train
PROBES_FILE = "probes.csv"
# activation -> E[phi(z)^2] / E[z^2] for symmetric z: the per-layer ratio is n Var(W) times this
# (He et al. 2015, eq. 8). Activations whose ratio depends on q (tanh, sigmoid ...) get no theory.
THEORY_GAIN = {"relu": 0.5, "linear": 1.0}


_INITIALIZED: dict[tuple, nn.Module] = {}  # (init, seed, dataset name, recipe) -> the net at init


def initialized(init: str, seed: int, data: Dataset, recipe: Recipe) -> nn.Module:
    """A fresh copy of ``build_model(init, seed, data, recipe)``, built once per process.

    The bench suite probes the same nets at initialization under several laws (the ReLU ratio
    net of bench/test_theory.py is also bench/test_newcomers.py's signal-at-depth net), and the
    data-dependent schemes cost seconds per build: MetaInit's 100 second-order steps on the
    16 x 256 net took 11-12 s here, LSUV ~0.5 s. A copy, so a test may change it."""
    key = (init, seed, data.name, recipe)
    if key not in _INITIALIZED:
        _INITIALIZED[key] = build_model(init, seed, data, recipe)
    return copy.deepcopy(_INITIALIZED[key])


def probe_batch(data: Dataset, size: int = PROBE_BATCH) -> tuple[Tensor, Tensor]:
    """The fixed probe batch: the same ``size`` training rows for every scheme and seed."""
    generator = torch.Generator().manual_seed(PROBE_BATCH_SEED)
    rows = torch.randperm(data.x_train.shape[0], generator=generator)[:size]
    return data.x_train[rows], data.y_train[rows]


def probe_model(model: nn.Sequential, x: Tensor, y: Tensor) -> dict[str, list[float]]:
    """metric -> per-layer values (index 0 is layer 1) of ``model`` on the batch ``(x, y)``.

    ``model`` is a Sequential of Flatten / Linear / activation modules (an :class:`MLP`); it is
    probed in float64 on a copy, and left untouched.
    """
    model = _float64_copy(model)
    x = x.to(torch.float64)
    pre: list[Tensor] = []  # z_l, (B, n_l), kept with their gradients
    post: list[Tensor] = []  # h_l = phi(z_l), hidden layers only
    slopes: list[Tensor] = []  # phi'(z_l), elementwise (every activation here is elementwise)
    h = x
    for module in model:
        if not isinstance(module, nn.Linear | nn.Flatten):  # an activation module
            z = h.detach().requires_grad_()
            slopes.append(torch.autograd.grad(module(z).sum(), z)[0])
        h = module(h)
        if isinstance(module, nn.Linear):
            h.retain_grad()
            pre.append(h)
        elif not isinstance(module, nn.Flatten):
            post.append(h)
    F.cross_entropy(h, y, reduction="sum").backward()
    linears = [m for m in model if isinstance(m, nn.Linear)]
    batch = x.shape[0]
    out: dict[str, list[float]] = {m: [] for m in METRICS}
    for i, (z, layer) in enumerate(zip(pre, linears)):
        out["preact_second_moment"].append(z.detach().pow(2).mean().item())
        out["grad_preact_var"].append(z.grad.var().item())
        # dL_mean/dW = dL_sum/dW / B: the gradient an SGD step on this batch would take.
        out["weight_grad_norm"].append(layer.weight.grad.norm().item() / batch)
        out["fan_in_weight_var"].append(layer.in_features * layer.weight.detach().var().item())
        hidden = i < len(post)
        out["act_std"].append(post[i].detach().std().item() if hidden else math.nan)
        out["act_deriv_sq"].append(slopes[i].pow(2).mean().item() if hidden else math.nan)
        dead = (z.detach() <= 0).all(0).double().mean().item()
        out["dead_frac"].append(dead if hidden and _is_relu(model) else math.nan)
    return out


def _float64_copy(model: nn.Module) -> nn.Module:
    clone = copy.deepcopy(model).to(torch.float64)
    clone.zero_grad(set_to_none=True)
    return clone


def _is_relu(model: nn.Module) -> bool:
    return any(isinstance(m, nn.ReLU) for m in model)


def train_steps(model: nn.Module, data: Dataset, config: Recipe, seed: int, steps: int
                ) -> nn.Module:
    """``steps`` SGD-momentum steps of the seed recipe (the batches ``train`` would see)."""
    if steps <= 0:
        return model
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum)
    order_generator = torch.Generator().manual_seed(seed + DATA_ORDER_OFFSET)
    n = data.x_train.shape[0]
    done = 0
    while done < steps:
        order = epoch_order(order_generator, n, "cpu")
        for first in range(0, n, config.batch_size):
            rows = order[first:first + config.batch_size]
            loss = F.cross_entropy(model(data.x_train[rows]), data.y_train[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            done += 1
            if done == steps:
                break
    return model


def probe(inits: Sequence[str], data: Dataset, *, depth: int, width: int,
          activation: str = "relu", seeds: Sequence[int] = (0,), steps: int = 0,
          batch: int = PROBE_BATCH) -> pd.DataFrame:
    """The long probe table of a ``depth`` x ``width`` MLP per (init, seed), after ``steps`` steps.

    ``depth`` counts hidden layers: the net is ``n_features -> width x depth -> n_classes``, so it
    has ``depth + 1`` linear layers. Each model is built exactly as training builds it
    (:func:`initcore.train.build_model`), so LSUV sees the training inputs it would see.
    """
    if depth < 1 or width < 1:
        raise ValueError(f"depth and width must be >= 1, got depth={depth}, width={width}")
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    config = Recipe(hidden=(width,) * depth, activation=activation)
    x, y = probe_batch(data, batch)
    rows = []
    for init in inits:
        for seed in seeds:
            model = train_steps(build_model(init, seed, data, config), data, config, seed, steps)
            for metric, values in probe_model(model, x, y).items():
                for layer, value in enumerate(values, start=1):
                    if not math.isnan(value):
                        rows.append((init, activation, depth, width, seed, steps, layer, metric,
                                     value))
    return pd.DataFrame(rows, columns=PROBE_COLUMNS)


def ratio_table(probes: pd.DataFrame) -> pd.DataFrame:
    """Per (init, activation, depth, width): measured ``q_{l+1} / q_l`` next to ``n Var(W) / 2``.

    Ratios are taken over the hidden layers ``l = 2..depth`` (layer 1 sees the data, and the last
    layer's fan-out is the class count). ``ratio_geo`` is the geometric mean over layers and seeds,
    ``ratio_min``/``ratio_max`` the range of the single-layer ratios; ``theory`` is ``n Var(W) / 2``
    of the drawn weights for ReLU (``n Var(W)`` for linear, NaN for the other activations).
    ``grad_first/last`` is ``Var(dL/dz_1) / Var(dL/dz_depth)``: < 1 when gradients vanish toward
    the input, > 1 when they explode.
    """
    keys = ["init", "activation", "depth", "width"]
    rows = []
    for key, part in probes.groupby(keys, sort=False):
        depth = key[2]

        q = _per_layer(part, "preact_second_moment")
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = (q.loc[:, 2:depth].to_numpy() / q.loc[:, 1:depth - 1].to_numpy()).ravel()
        ratios = ratios[(ratios > 0) & (ratios < math.inf)]  # an all-zero net has no ratio
        grad = _per_layer(part, "grad_preact_var").mean()
        nvar = _per_layer(part, "fan_in_weight_var").loc[:, 2:depth].to_numpy().mean()
        rows.append({
            **dict(zip(keys, key)),
            "ratio_geo": float(np.exp(np.log(ratios).mean())) if ratios.size else math.nan,
            "ratio_min": float(ratios.min()) if ratios.size else math.nan,
            "ratio_max": float(ratios.max()) if ratios.size else math.nan,
            "theory": nvar * THEORY_GAIN[key[1]] if key[1] in THEORY_GAIN else math.nan,
            "q_1": q[1].mean(), f"q_{depth}": q[depth].mean(),
            "grad_first/last": grad[1] / grad[depth] if grad[depth] > 0 else math.nan,
        })
    return pd.DataFrame(rows)


def _per_layer(part: pd.DataFrame, metric: str) -> pd.DataFrame:
    """(seeds, layers) table of one metric."""
    rows = part[part["metric"] == metric]
    return rows.pivot_table(index="seed", columns="layer", values="value")
