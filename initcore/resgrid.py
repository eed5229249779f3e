"""The grid trainer for residual nets: G models (initializers x seeds) of one ResMLP as one
computation, by ``torch.func`` model ensembling.

The MLP grid trainer (:mod:`initcore.grid`) writes the backward pass of a plain MLP by hand. A
residual net has more kinds of parameters (branch gains, Fixup's scalar biases) and a
different backward, so here the G models' parameters are stacked by
``torch.func.stack_module_state`` into one ``(G, ...)`` tensor per parameter, the forward of one
model is ``torch.func.functional_call`` vectorized over G by ``torch.vmap`` (every Linear becomes
one batched matmul over the models, as in the MLP trainer), and autograd gives the gradients of
the sum of the G losses -- the gradient of model g's own loss in slice g, since no model's
output depends on another's parameters. The optimizer is ``torch.optim`` itself (SGD with
momentum and weight decay, Adam), applied to the stacked tensors: its updates are elementwise,
so each slice takes exactly the step a separate optimizer would take on that model alone.
Each model is built by :func:`initcore.train.build_model` and sees the data order
:func:`initcore.train.train` gives its seed, so the two trainers agree to float tolerance
(tests/test_resmlp.py).

A model whose loss turns NaN/inf is marked diverged at that step: its loss leaves the sum
(``torch.where``, so no NaN reaches another slice), its gradients are zeroed, and its
parameters as they were then are put back at the end (the optimizer's momentum would move
them on): frozen, as :func:`initcore.train.train` freezes it.

References: torch.func "Model ensembling" tutorial (``stack_module_state``, ``vmap``).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .data import Dataset
from .device import sync
from .train import (
    DATA_ORDER_OFFSET,
    EVAL_CHUNK,
    EpochMetrics,
    Progress,
    Recipe,
    RunResult,
    epoch_order,
)


def _optimizer(params: list[Tensor], config: Recipe) -> torch.optim.Optimizer:
    """torch.optim's SGD or Adam of ``config`` over the stacked parameters (lr set per epoch)."""
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, betas=config.betas, eps=config.eps,
                                weight_decay=config.weight_decay)
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum,
                               weight_decay=config.weight_decay)
    raise ValueError(f"optimizer {config.optimizer!r} not supported, use one of sgd, adam")


def train_module_models(
    cells: Sequence[tuple[str, int]], models: list, data: Dataset, config: Recipe,
    progress: Progress | None = None, share: int | None = None,
) -> list[RunResult]:
    """Train the built residual nets ``models`` of ``cells`` (init, seed) at once on ``data``
    (already rescaled); one RunResult each, in their order, as
    :func:`initcore.grid.train_grid` (which builds them and calls this for
    ``config.arch == "resmlp"``).

    ``seconds`` in each EpochMetrics is the grid epoch's wall time divided by ``share``
    (default: the models), and ``progress`` counts ``share`` model-epochs per epoch.
    """
    # --- setup -----------------------------------------------------------------------------
    device = torch.device(config.device)
    seeds = list(dict.fromkeys(seed for _, seed in cells))
    n_models = len(cells)
    share = share or n_models
    data = data.to(device)
    params, buffers = torch.func.stack_module_state([m.to(device) for m in models])
    names = list(params)
    base = copy.deepcopy(models[0]).to("meta")  # the architecture, without storage

    def one_model(p: dict, b: dict, x: Tensor) -> Tensor:
        return torch.func.functional_call(base, (p, b), (x,))

    forward = torch.vmap(one_model)  # (G, B, in) -> (G, B, C)
    optimizer = _optimizer(list(params.values()), config)
    order_generators = [torch.Generator().manual_seed(s + DATA_ORDER_OFFSET) for s in seeds]
    seed_slot = torch.tensor([seeds.index(seed) for _, seed in cells], device=device)  # (G,)
    alive = torch.ones(n_models, dtype=torch.bool, device=device)
    frozen: dict[int, dict[str, Tensor]] = {}  # model -> its parameters when it diverged
    results = [RunResult(init, seed) for init, seed in cells]
    n = data.x_train.shape[0]

    def freeze_newly_dead(before: Tensor) -> None:
        for g in (before & ~alive).nonzero().flatten().tolist():
            frozen[g] = {k: params[k][g].detach().clone() for k in names}

    for epoch in range(1, config.epochs + 1):
        # --- train (the timed region) -------------------------------------------------------
        sync(device)
        start = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = config.lr_at(epoch)
        orders = torch.stack([epoch_order(g, n, device) for g in order_generators])  # (S, N)
        was_alive = alive.clone()
        loss_sum = torch.zeros(n_models, device=device, dtype=torch.float64)
        for first in range(0, n, config.batch_size):
            rows = orders[:, first:first + config.batch_size][seed_slot]  # (G, B)
            x = data.x_train.index_select(0, rows.flatten()).view(*rows.shape, -1)
            y = data.y_train[rows]  # (G, B)
            logits = forward(params, buffers, x)  # (G, B, C)
            losses = F.cross_entropy(logits.flatten(0, 1), y.flatten(),
                                     reduction="none").view(rows.shape).mean(1)  # (G,)
            before = alive.clone()
            alive &= torch.isfinite(losses).detach()
            if not alive.all():
                freeze_newly_dead(before)
            if not alive.any():
                break
            optimizer.zero_grad(set_to_none=True)
            torch.where(alive, losses, 0.0).sum().backward()
            if not alive.all():  # NaN/inf stays in a dead model's slice; keep it out of state
                for p in params.values():
                    keep = alive.view(-1, *([1] * (p.dim() - 1)))
                    p.grad = torch.where(keep, p.grad, 0.0)
            optimizer.step()
            loss_sum += torch.where(alive, losses.detach(), 0.0).double()
        with torch.no_grad():  # as train(): weights that overflowed mark a model diverged too
            before = alive.clone()
            alive &= torch.stack([p.isfinite().reshape(n_models, -1).all(1)
                                  for p in params.values()]).all(0)
            freeze_newly_dead(before)
        sync(device)
        seconds = (time.perf_counter() - start) / share
        steps = math.ceil(n / config.batch_size)

        # --- evaluate -----------------------------------------------------------------------
        test_loss, test_acc = _evaluate(forward, params, buffers, data.x_test, data.y_test,
                                        n_models)
        rows_out = zip(was_alive.tolist(), alive.tolist(), (loss_sum / steps).tolist(),
                       test_loss.tolist(), test_acc.tolist())
        for result, (was, now, train_loss, t_loss, t_acc) in zip(results, rows_out):
            if not was:
                continue
            if now:
                result.epochs.append(EpochMetrics(epoch, train_loss, t_loss, t_acc, seconds, False))
            else:
                result.epochs.append(
                    EpochMetrics(epoch, math.nan, math.nan, math.nan, seconds, True))
        if not alive.any():
            if progress is not None:
                progress.update(share * (config.epochs - epoch + 1))
            break
        if progress is not None:
            progress.update(share)

    # --- the trained (or frozen) parameters back into the per-model modules ----------------
    with torch.no_grad():
        for g, model in enumerate(models):
            state = frozen.get(g) or {k: params[k][g] for k in names}
            model.load_state_dict({**state, **{k: buffers[k][g] for k in buffers}})
    for result, model in zip(results, models):
        result.model = model.cpu()
    return results


@torch.no_grad()
def _evaluate(forward, params: dict, buffers: dict, x: Tensor, y: Tensor, n_models: int
              ) -> tuple[Tensor, Tensor]:
    """Per-model (mean cross-entropy, accuracy) on (x, y), each a (G,) float64 tensor."""
    loss_sum = correct = 0
    for start in range(0, x.shape[0], EVAL_CHUNK):
        chunk = x[start:start + EVAL_CHUNK].expand(n_models, -1, -1)  # (G, B, in)
        logits = forward(params, buffers, chunk)  # (G, B, C)
        target = y[start:start + EVAL_CHUNK].expand(n_models, -1)  # (G, B)
        loss = F.cross_entropy(logits.transpose(1, 2), target, reduction="none")  # (G, B)
        loss_sum = loss_sum + loss.double().sum(1)
        correct = correct + (logits.argmax(2) == target).sum(1)
    return loss_sum / x.shape[0], correct.double() / x.shape[0]
