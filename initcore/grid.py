"""The grid trainer: G models (initializers x seeds, one architecture) trained as one computation.

The seed recipe's MLP is far too small to keep a CPU busy one model at a time: Python overhead
and small matmuls dominate. Here the G models' weights are stacked into ``(G, fan_in, fan_out)``
tensors and every layer is one batched matmul (``torch.baddbmm``) over all models.

The backward pass and the optimizer steps (SGD with momentum and weight decay, Adam) are written
out by hand rather than left to autograd and ``torch.optim``, for two reasons. Speed: the step is
bound by memory traffic over the stacked weights as much as by the matmuls (G = 16 models hold 15
MB of weights and as much momentum, half the L3 cache). By hand, the weight gradient is accumulated
into the momentum buffer by the GEMM itself (``buf.mul_(momentum).baddbmm_(a^T, d)``), so no
gradient tensor is written and read back; measured 1.4x faster than the autograd step at G = 16,
batch 64 (numbers in the README's speed section). Isolation: a model whose loss turns NaN/inf stops
updating at that step (no step is taken on a NaN/inf loss, as in ``train``); its back-propagated
signals are zeroed slice by slice, so NaN in one model never reaches another.

Each model is built by exactly the code :func:`initcore.train.build_model` uses and sees the same
data order as :func:`initcore.train.train` gives the same seed, so the two trainers agree to float
tolerance (tests/test_grid.py; the hand-written backward equals autograd's to 1e-15 in float64).
The recipe's schedule sets one learning rate per epoch (:meth:`initcore.train.Recipe.lr_at`), the
same for every model of the grid; tests/test_recipes.py checks Adam, weight decay, StepLR and
CosineAnnealingLR against torch.optim.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from . import distinct
from .data import Dataset, rescale
from .device import sync
from .initializers import linear_layers
from .models import ACTIVATION_FNS
from .resgrid import train_module_models
from .train import (
    DATA_ORDER_OFFSET,
    EVAL_CHUNK,
    EpochMetrics,
    Progress,
    Recipe,
    RunResult,
    build_model,
    epoch_order,
)


def stack_parameters(models: list, device: torch.device) -> list[Tensor | None]:
    """[W1, b1, W2, ...]: W as (G, fan_in, fan_out), b as (G, 1, fan_out), or None for the
    biases of a net built without them."""
    params: list[Tensor | None] = []
    for layers in zip(*(linear_layers(m) for m in models)):
        weight = torch.stack([layer.weight.detach().T for layer in layers])  # (G, in, out)
        params.append(weight.to(device).contiguous())
        if layers[0].bias is None:
            params.append(None)
        else:  # (G, 1, out)
            bias = torch.stack([layer.bias.detach().unsqueeze(0) for layer in layers])
            params.append(bias.to(device).contiguous())
    return params


def unstack_into(models: list, params: list[Tensor | None]) -> None:
    """Copy the trained stacked parameters back into the per-model modules (on the CPU)."""
    with torch.no_grad():
        for g, model in enumerate(models):
            for layer, weight, bias in zip(linear_layers(model), params[0::2], params[1::2]):
                layer.weight.copy_(weight[g].T.cpu())
                if bias is not None:
                    layer.bias.copy_(bias[g, 0].cpu())


def _linear(h: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """b + h @ W for every model at once, (G, B, in) -> (G, B, out)."""
    return torch.bmm(h, weight) if bias is None else torch.baddbmm(bias, h, weight)


def grid_forward(params: list[Tensor | None], x: Tensor, activation: str) -> Tensor:
    """Logits (G, B, C) of all G models; x is (G, B, in), or (B, in) shared by every model."""
    act = ACTIVATION_FNS[activation]
    weights, biases = params[0::2], params[1::2]
    h = x if x.dim() == 3 else x.expand(weights[0].shape[0], -1, -1)
    for i, (weight, bias) in enumerate(zip(weights, biases)):
        h = _linear(h, weight, bias)  # (G, B, out) = b + h @ W
        if i < len(weights) - 1:
            h = act(h)
    return h


@torch.no_grad()
def grid_evaluate(params: list[Tensor | None], x: Tensor, y: Tensor, activation: str
                  ) -> tuple[Tensor, Tensor]:
    """Per-model (mean cross-entropy, accuracy) on (x, y), each a (G,) tensor."""
    loss_sum = correct = 0
    for start in range(0, x.shape[0], EVAL_CHUNK):
        logits = grid_forward(params, x[start:start + EVAL_CHUNK], activation)  # (G, B, C)
        target = y[start:start + EVAL_CHUNK].expand(logits.shape[0], -1)  # (G, B)
        loss = F.cross_entropy(logits.transpose(1, 2), target, reduction="none")  # (G, B)
        loss_sum = loss_sum + loss.double().sum(1)
        correct = correct + (logits.argmax(2) == target).sum(1)
    return loss_sum / x.shape[0], correct.double() / x.shape[0]  # float64, as train() reports


# The backward of each activation from its output a, d -> d * act'(z): the fused kernels autograd
# itself calls for these functions (one pass over d, bitwise autograd's result). Activations not
# listed (selu, gelu, leaky_relu) are differentiated by torch.func.vjp instead.
_BACKWARD_FROM_OUTPUT = {
    "relu": lambda d, a: torch.ops.aten.threshold_backward(d, a, 0),  # d * (a > 0)
    "tanh": torch.ops.aten.tanh_backward,  # d * (1 - a^2)
    "sigmoid": torch.ops.aten.sigmoid_backward,  # d * a * (1 - a)
}


def _activate(z: Tensor, activation: str):
    """(act(z), backward), where backward(d) = d * act'(z): the gradient at z."""
    if activation == "linear":
        return z, lambda d: d
    backward = _BACKWARD_FROM_OUTPUT.get(activation)
    if backward is None:
        a, vjp = torch.func.vjp(ACTIVATION_FNS[activation], z)
        return a, lambda d: vjp(d)[0]
    a = ACTIVATION_FNS[activation](z)
    return a, lambda d: backward(d, a)


def _step(params: list[Tensor | None], x: Tensor, y: Tensor, alive: Tensor, activation: str,
          update: Callable[[int, Tensor, Tensor, Callable[[Tensor], Tensor], Tensor], None]
          ) -> Tensor:
    """Forward and hand-written backward of one step on every live model; for each layer i,
    from the last to the first, ``update(i, h_in, d, isolate, scale)`` takes the step (the
    weight gradient is h_in^T d, the bias gradient sum_b d); returns the (G,) losses.

    Forward: h_l = act(z_l), z_l = b_l + h_(l-1) W_l. Loss: mean cross-entropy per model, so the
    gradient at the logits is d_L = (softmax(z_L) - onehot(y)) / B. Backward, layer by layer:
    dW_l = h_(l-1)^T d_l, db_l = sum_b d_l, d_(l-1) = (d_l W_l^T) * act'(z_(l-1)). ``alive`` is
    updated in place: a model whose loss is not finite dies before its step, its signals are
    zeroed (``isolate``: ``torch.where``, so NaN/inf cannot leak through a multiplication by 0)
    and ``scale`` (G, 1, 1) is 0 for it, 1 for the others: its parameters stay as they were.
    """
    weights, biases = params[0::2], params[1::2]
    inputs, backwards = [], []
    h = x
    for i, (weight, bias) in enumerate(zip(weights, biases)):
        inputs.append(h)
        h = _linear(h, weight, bias)  # (G, B, out)
        if i < len(weights) - 1:
            h, backward = _activate(h, activation)
            backwards.append(backward)
    log_probs = h.log_softmax(2)  # (G, B, C)
    losses = -log_probs.gather(2, y.unsqueeze(2)).mean((1, 2))  # (G,)
    alive &= torch.isfinite(losses)
    keep = alive.view(-1, 1, 1)
    # Zeroing dead models' signals costs ~5% of a step. On a CPU, reading `alive` costs nothing,
    # so it is skipped while every model lives; on a GPU that read would stall the queue.
    isolate = (lambda t: torch.where(keep, t, 0.0)) if (
        x.device.type != "cpu" or not alive.all()) else (lambda t: t)

    d = log_probs.exp_()
    d.scatter_add_(2, y.unsqueeze(2), torch.full_like(d[:, :, :1], -1.0))
    d = isolate(d.div_(y.shape[1]))  # gradient of the mean loss at the logits
    scale = keep.to(weights[0].dtype)  # a dead model's scale is 0: its weights stay frozen
    for i in reversed(range(len(weights))):
        h_in = inputs[i] if i == 0 else isolate(inputs[i])  # the data (i = 0) is finite
        if i > 0:  # back-propagate through the weights before they are updated
            d_below = backwards[i - 1](torch.bmm(d, weights[i].transpose(1, 2)))
        # Each layer is updated as soon as its gradient is known, while it is still warm in
        # cache; the first layer (the largest) is updated last, just before the next step's
        # forward reads it again.
        update(i, h_in, d, isolate, scale)
        if i > 0:
            d = isolate(d_below)
    return losses


def sgd_momentum_step(params: list[Tensor | None], buffers: list[Tensor | None], x: Tensor,
                       y: Tensor, alive: Tensor, activation: str, lr: float, momentum: float,
                       weight_decay: float = 0.0, lr_mult: Sequence[float] | None = None
                       ) -> Tensor:
    """One step of torch.optim.SGD (momentum, weight decay) on every live model; returns the
    (G,) losses (forward, backward and the isolation of dead models: :func:`_step`).

    The update is SGD's: g = grad + weight_decay * p; buf = momentum * buf + g;
    p -= lr * buf (momentum 0: plain SGD, buf = g). The weight gradient h^T d is accumulated
    into buf by the GEMM itself, so no gradient tensor is written and read back. ``lr_mult``
    (one number per entry of ``params``; None: all 1) scales each parameter's learning rate.
    """
    weights, biases = params[0::2], params[1::2]
    rates = [lr * m for m in lr_mult] if lr_mult is not None else [lr] * len(params)

    def update(i: int, h_in: Tensor, d: Tensor, isolate, scale: Tensor) -> None:
        # buf.mul_(m) then beta = 1, not baddbmm_(beta=m): MKL scales C by beta in a slower
        # pass of its own (measured at G = 16: 2.69 ms against 2.97 ms for this GEMM).
        buffers[2 * i].mul_(momentum).baddbmm_(h_in.transpose(1, 2), d)
        if weight_decay:  # isolate: a dead model's weights may hold inf
            buffers[2 * i].add_(isolate(weights[i]), alpha=weight_decay)
        weights[i].addcmul_(buffers[2 * i], scale, value=-rates[2 * i])
        if biases[i] is not None:
            buffers[2 * i + 1].mul_(momentum).add_(d.sum(1, keepdim=True))
            if weight_decay:
                buffers[2 * i + 1].add_(isolate(biases[i]), alpha=weight_decay)
            biases[i].addcmul_(buffers[2 * i + 1], scale, value=-rates[2 * i + 1])

    return _step(params, x, y, alive, activation, update)


def adam_step(params: list[Tensor | None], moments: list[tuple[Tensor, Tensor] | None],
              x: Tensor, y: Tensor, alive: Tensor, activation: str, lr: float,
              betas: tuple[float, float], eps: float, weight_decay: float, step: int,
              lr_mult: Sequence[float] | None = None) -> Tensor:
    """One step of torch.optim.Adam (Kingma & Ba 2015, Algorithm 1; L2 weight decay as torch's
    ``weight_decay``) on every live model, ``step`` counting from 1; returns the (G,) losses.

    g = grad + weight_decay * p; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
    p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps): torch's bias correction, in
    its order of operations. Unlike SGD, Adam needs the gradient itself (squared for v), so it
    is written to a tensor: measured cost in the README's speed section. ``lr_mult`` (one
    number per entry of ``params``; None: all 1) scales each parameter's learning rate.
    """
    beta1, beta2 = betas
    step_size = lr / (1 - beta1 ** step)
    sizes = [step_size * m for m in lr_mult] if lr_mult is not None else [step_size] * len(params)
    root_correction2 = math.sqrt(1 - beta2 ** step)
    weights, biases = params[0::2], params[1::2]

    def adam(p: Tensor, grad: Tensor, state: tuple[Tensor, Tensor], isolate, scale,
             step_size: float) -> None:
        if weight_decay:  # isolate: a dead model's weights may hold inf
            grad = grad.add_(isolate(p), alpha=weight_decay)
        m, v = state
        m.lerp_(grad, 1 - beta1)
        v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        denom = (v.sqrt() / root_correction2).add_(eps)
        p.addcmul_(m.div(denom), scale, value=-step_size)

    def update(i: int, h_in: Tensor, d: Tensor, isolate, scale: Tensor) -> None:
        adam(weights[i], torch.bmm(h_in.transpose(1, 2), d), moments[2 * i], isolate, scale,
             sizes[2 * i])
        if biases[i] is not None:
            adam(biases[i], d.sum(1, keepdim=True), moments[2 * i + 1], isolate, scale,
                 sizes[2 * i + 1])

    return _step(params, x, y, alive, activation, update)


def train_grid(
    inits: Sequence[str], seeds: Sequence[int], data: Dataset, config: Recipe | None = None,
    progress: Progress | None = None,
) -> list[RunResult]:
    """Train every (init, seed) pair of the grid at once; one RunResult each, init-major order.

    Cells whose initial models are bitwise equal (same seed, so the same data order) are trained
    once and reported under each name (:mod:`initcore.distinct`). ``seconds`` in each
    EpochMetrics is the grid epoch's wall time divided by the cells (the amortized cost of one
    model-epoch); multiply by the cells for the wall time of the epoch.
    """
    config = config or Recipe()
    seeds = list(dict.fromkeys(seeds))  # unique, in the given order
    cells = [(init, seed) for init in inits for seed in seeds]
    data = rescale(data, config.input_scaling)  # once, before LSUV sees the data
    models = [build_model(init, seed, data, config) for init, seed in cells]
    source = distinct.alike(models, [seed for _, seed in cells])
    kept = sorted(set(source))
    # residual nets: torch.func ensembling (initcore.resgrid)
    trainer = train_models if config.arch == "mlp" else train_module_models
    trained = trainer([cells[g] for g in kept], [models[g] for g in kept], data, config,
                      progress, len(cells))
    return distinct.expand(trained, source, cells, models)


def train_models(cells: Sequence[tuple[str, int]], models: list, data: Dataset, config: Recipe,
                 progress: Progress | None = None, share: int | None = None
                 ) -> list[RunResult]:
    """Train the built MLPs ``models`` of ``cells`` (init, seed) as one grid on ``data`` (already
    rescaled); each epoch's wall time is divided by ``share`` (default: the models) for the
    ``seconds`` of a model-epoch, and ``progress`` counts ``share`` model-epochs per epoch."""
    # --- setup -----------------------------------------------------------------------------
    device = torch.device(config.device)
    seeds = list(dict.fromkeys(seed for _, seed in cells))
    n_models = len(cells)
    share = share or n_models
    data = data.to(device)
    params = stack_parameters(models, device)
    if config.optimizer == "adam":  # (m, v) per parameter
        state = [None if p is None else (torch.zeros_like(p), torch.zeros_like(p))
                 for p in params]
    else:  # the momentum buffer per parameter
        state = [None if p is None else torch.zeros_like(p) for p in params]
    n_steps = 0
    lr_mult = None  # per entry of params (W1, b1, W2, ...): the recipe's per-layer multipliers
    if config.lr_mult or config.bias_lr_mult:
        lr_mult = [m for pair in zip(config.multipliers("lr_mult"),
                                     config.multipliers("bias_lr_mult")) for m in pair]
    order_generators = [torch.Generator().manual_seed(s + DATA_ORDER_OFFSET) for s in seeds]
    seed_slot = torch.tensor([seeds.index(seed) for _, seed in cells], device=device)  # (G,)
    alive = torch.ones(n_models, dtype=torch.bool, device=device)
    results = [RunResult(init, seed) for init, seed in cells]
    n = data.x_train.shape[0]

    for epoch in range(1, config.epochs + 1):
        # --- train (the timed region) -------------------------------------------------------
        sync(device)
        start = time.perf_counter()
        orders = torch.stack([epoch_order(g, n, device) for g in order_generators])  # (S, N)
        was_alive = alive.clone()
        loss_sum = torch.zeros(n_models, device=device)
        lr = config.lr_at(epoch)  # the schedule steps per epoch, as torch.optim.lr_scheduler
        for first in range(0, n, config.batch_size):
            rows = orders[:, first:first + config.batch_size][seed_slot]  # (G, B)
            # index_select gathers rows ~5x faster than x_train[rows] (measured, G = 16).
            x = data.x_train.index_select(0, rows.flatten()).view(*rows.shape, -1)
            n_steps += 1
            if config.optimizer == "adam":
                losses = adam_step(params, state, x, data.y_train[rows], alive,
                                   config.activation, lr, config.betas, config.eps,
                                   config.weight_decay, n_steps, lr_mult)
            else:
                losses = sgd_momentum_step(params, state, x, data.y_train[rows], alive,
                                            config.activation, lr, config.momentum,
                                            config.weight_decay, lr_mult)
            loss_sum += torch.where(alive, losses, 0.0)
        steps = math.ceil(n / config.batch_size)
        with torch.no_grad():  # as train(): weights that overflowed mark a model diverged too
            alive &= torch.stack([p.isfinite().flatten(1).all(1) for p in params
                                  if p is not None]).all(0)
        sync(device)
        seconds = (time.perf_counter() - start) / share

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
                progress.update(share * (config.epochs - epoch + 1))
            break
        if progress is not None:
            progress.update(share)
    unstack_into(models, params)
    for result, model in zip(results, models):
        result.model = model
    return results
