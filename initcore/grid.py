"""The grid trainer: G models (initializers x seeds, one architecture) trained as one computation.

The seed recipe's MLP is far too small to keep a CPU busy one model at a time: Python overhead
and small matmuls dominate. Here the G models' weights are stacked into ``(G, fan_in, fan_out)``
tensors and every layer is one batched matmul (``torch.baddbmm``) over all models, with one
backward pass and one (hand-written) SGD-momentum step for all.

Each model is built by exactly the code :func:`initcore.train.build_model` uses and sees the same
data order as :func:`initcore.train.train` gives the same seed, so the two trainers agree to float
tolerance (tests/test_grid.py). The SGD step is written here, not taken from ``torch.optim``,
because it must freeze diverged models slice by slice: a model whose loss turns NaN/inf stops
updating at that step (no step is taken on a NaN/inf loss, as in ``train``), and since
every operation acts on one slice of the stacked tensors, NaN in one model never reaches another.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .data import Dataset
from .initializers import linear_layers
from .models import ACTIVATION_FNS


def _stack_parameters(models: list, device: torch.device) -> list[Tensor]:
    """[W1, b1, W2, ...]: W as (G, fan_in, fan_out), b as (G, 1, fan_out); leaves needing grad."""
    params = []
    for layers in zip(*(linear_layers(m) for m in models)):
        weight = torch.stack([layer.weight.detach().T for layer in layers])  # (G, in, out)
        bias = torch.stack([layer.bias.detach().unsqueeze(0) for layer in layers])  # (G, 1, out)
        params += [weight.to(device).contiguous(), bias.to(device).contiguous()]
    return [p.requires_grad_() for p in params]


def _unstack_into(models: list, params: list[Tensor]) -> None:
    """Copy the trained stacked parameters back into the per-model modules (on the CPU)."""
    with torch.no_grad():
        for g, model in enumerate(models):
            for layer, weight, bias in zip(linear_layers(model), params[0::2], params[1::2]):
                layer.weight.copy_(weight[g].T.cpu())
                layer.bias.copy_(bias[g, 0].cpu())


def grid_forward(params: list[Tensor], x: Tensor, activation: str) -> Tensor:
    """Logits (G, B, C) of all G models; x is (G, B, in), or (B, in) shared by every model."""
    act = ACTIVATION_FNS[activation]
    weights, biases = params[0::2], params[1::2]
    h = x if x.dim() == 3 else x.expand(weights[0].shape[0], -1, -1)
    for i, (weight, bias) in enumerate(zip(weights, biases)):
        h = torch.baddbmm(bias, h, weight)  # (G, B, out) = b + h @ W
        if i < len(weights) - 1:
            h = act(h)
    return h


@torch.no_grad()
def grid_evaluate(params: list[Tensor], x: Tensor, y: Tensor, activation: str
                  ) -> tuple[Tensor, Tensor]:
    """Per-model (mean cross-entropy, accuracy) on (x, y), each a (G,) tensor."""
    from .train import EVAL_CHUNK

    loss_sum = correct = 0
    for start in range(0, x.shape[0], EVAL_CHUNK):
        logits = grid_forward(params, x[start:start + EVAL_CHUNK], activation)  # (G, B, C)
        target = y[start:start + EVAL_CHUNK].expand(logits.shape[0], -1)  # (G, B)
        loss = F.cross_entropy(logits.transpose(1, 2), target, reduction="none")  # (G, B)
        loss_sum = loss_sum + loss.double().sum(1)
        correct = correct + (logits.argmax(2) == target).sum(1)
    return loss_sum / x.shape[0], correct.double() / x.shape[0]  # float64, as train() reports


def _sgd_momentum_step(params: list[Tensor], buffers: list[Tensor], alive: Tensor,
                       lr: float, momentum: float) -> None:
    """torch.optim.SGD's update (buf = m*buf + grad; p -= lr*buf), applied to live models only."""
    keep = alive.view(-1, 1, 1)
    scale = keep.to(params[0].dtype)
    for p, buf in zip(params, buffers):
        grad = torch.where(keep, p.grad, 0.0)  # a dead model's NaN gradient never enters buf
        buf.mul_(momentum).add_(grad)
        p.addcmul_(buf, scale, value=-lr)


def train_grid(
    inits: Sequence[str], seeds: Sequence[int], data: Dataset, config=None, progress=None,
) -> list:
    """Train every (init, seed) pair of the grid at once; one RunResult each, init-major order.

    ``seconds`` in each EpochMetrics is the grid epoch's wall time divided by G (the amortized
    cost of one model-epoch); multiply by G for the wall time of the epoch.
    """
    from .train import (
        DATA_ORDER_OFFSET,
        EpochMetrics,
        RunResult,
        TrainConfig,
        _sync,
        build_model,
        epoch_order,
    )

    # --- setup -----------------------------------------------------------------------------
    config = config or TrainConfig()
    device = torch.device(config.device)
    seeds = list(dict.fromkeys(seeds))  # unique, in the given order
    cells = [(init, seed) for init in inits for seed in seeds]
    n_models = len(cells)
    models = [build_model(init, seed, data, config) for init, seed in cells]
    data = data.to(device)
    params = _stack_parameters(models, device)
    buffers = [torch.zeros_like(p) for p in params]
    order_generators = [torch.Generator().manual_seed(s + DATA_ORDER_OFFSET) for s in seeds]
    seed_slot = torch.tensor([seeds.index(seed) for _, seed in cells], device=device)  # (G,)
    alive = torch.ones(n_models, dtype=torch.bool, device=device)
    results = [RunResult(init, seed) for init, seed in cells]
    n = data.x_train.shape[0]

    for epoch in range(1, config.epochs + 1):
        # --- train (the timed region) -------------------------------------------------------
        _sync(device)
        start = time.perf_counter()
        orders = torch.stack([epoch_order(g, n, device) for g in order_generators])  # (S, N)
        was_alive = alive.clone()
        loss_sum = torch.zeros(n_models, device=device)
        steps = 0
        for first in range(0, n, config.batch_size):
            rows = orders[:, first:first + config.batch_size][seed_slot]  # (G, B)
            logits = grid_forward(params, data.x_train[rows], config.activation)  # (G, B, C)
            losses = F.cross_entropy(logits.transpose(1, 2), data.y_train[rows],
                                     reduction="none").mean(1)  # (G,)
            for p in params:
                p.grad = None
            # Gradients of a sum are per-slice: model g's gradient depends on its own loss only.
            losses.sum().backward()
            with torch.no_grad():
                alive &= torch.isfinite(losses)
                _sgd_momentum_step(params, buffers, alive, config.lr, config.momentum)
                loss_sum += torch.where(alive, losses, 0.0)
            steps += 1
        with torch.no_grad():  # as train(): weights that overflowed mark a model diverged too
            alive &= torch.stack([p.isfinite().flatten(1).all(1) for p in params]).all(0)
        _sync(device)
        seconds = (time.perf_counter() - start) / n_models

        # --- evaluate -----------------------------------------------------------------------
        test_loss, test_acc = grid_evaluate(params, data.x_test, data.y_test, config.activation)
        rows_out = zip(was_alive.tolist(), alive.tolist(), (loss_sum / steps).tolist(),
                       test_loss.tolist(), test_acc.tolist())
        for result, (was, now, train_loss, t_loss, t_acc) in zip(results, rows_out):
            if not was:
                continue  # diverged in an earlier epoch: frozen, no more rows
            if now:
                result.epochs.append(EpochMetrics(epoch, train_loss, t_loss, t_acc, seconds, False))
            else:
                result.epochs.append(
                    EpochMetrics(epoch, math.nan, math.nan, math.nan, seconds, True))
        if not alive.any():
            if progress is not None:  # every model diverged: the skipped epochs count as done
                progress.update(n_models * (config.epochs - epoch + 1))
            break
        if progress is not None:
            progress.update(n_models)
    _unstack_into(models, params)
    for result, model in zip(results, models):
        result.model = model
    return results
