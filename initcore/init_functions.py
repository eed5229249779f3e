"""The in-place initialization functions behind the registry's schemes, as ``torch.nn.init``
has them: each fills a tensor (or a model) and returns it, drawing from an explicit generator.

* :func:`variance_scaling_` is the one general rule (``Var(W) = scale / n``, with ``n`` the fan-in,
  fan-out or their mean, drawn from a normal, truncated normal or uniform distribution), as
  ``jax.nn.initializers.variance_scaling``; LeCun and the truncated He are special cases of it.
* :func:`torch_default_` is what ``nn.Linear.reset_parameters`` does, from a generator.
* :func:`zero_hadamard_` is ZerO's Algorithm 1 (Zhao et al. 2022), which torch lacks.
* :func:`lsuv_` (Mishkin & Matas 2016) and :func:`metainit_` (Dauphin & Schoenholz 2019) need the
  whole model and data.

The names and formulas a user sees are in :mod:`initcore.initializers` (the registry), which
re-exports these functions.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# Standard deviation of a standard normal truncated to (-2, 2): dividing by it makes a truncated
# normal keep the variance the formula asks for (same constant as jax.nn.initializers).
TRUNCATED_NORMAL_STD = 0.87962566103423978

_VALID_MODES = ("fan_in", "fan_out", "fan_avg")
_VALID_DISTRIBUTIONS = ("normal", "truncated_normal", "uniform")


def variance_scaling_(
    tensor: Tensor,
    scale: float = 1.0,
    mode: str = "fan_in",
    distribution: str = "truncated_normal",
    generator: torch.Generator | None = None,
) -> Tensor:
    """Fill ``tensor`` so that ``Var(W) = scale / n`` (the general rule behind Xavier, He, LeCun).

    ``n`` is ``fan_in``, ``fan_out`` or ``(fan_in + fan_out) / 2`` by ``mode``. The distribution is
    ``N(0, scale/n)``, a normal truncated to two standard deviations and rescaled to keep the
    variance, or ``U(-a, a)`` with ``a = sqrt(3 * scale / n)``.

    Args:
        tensor: a weight of at least 2 dimensions, filled in place.
        scale: the numerator of the variance (1 LeCun, 2 He, 1 with fan_avg Xavier/Glorot).
        mode: one of ``fan_in``, ``fan_out``, ``fan_avg``.
        distribution: one of ``normal``, ``truncated_normal``, ``uniform``.
        generator: the source of randomness.

    >>> w = variance_scaling_(torch.empty(256, 784), 2.0, "fan_in", "normal")
    >>> abs(w.var().item() * 784 / 2 - 1) < 0.02
    True
    """
    fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(tensor)
    if mode == "fan_in":
        n = fan_in
    elif mode == "fan_out":
        n = fan_out
    elif mode == "fan_avg":
        n = (fan_in + fan_out) / 2
    else:
        raise ValueError(f"Mode {mode} not supported, please use one of {_VALID_MODES}")
    variance = scale / n
    if distribution == "normal":
        return nn.init.normal_(tensor, 0.0, math.sqrt(variance), generator=generator)
    if distribution == "truncated_normal":
        std = math.sqrt(variance) / TRUNCATED_NORMAL_STD
        return nn.init.trunc_normal_(tensor, 0.0, std, -2 * std, 2 * std, generator=generator)
    if distribution == "uniform":
        bound = math.sqrt(3.0 * variance)
        return nn.init.uniform_(tensor, -bound, bound, generator=generator)
    raise ValueError(
        f"Distribution {distribution} not supported, please use one of {_VALID_DISTRIBUTIONS}"
    )


def torch_default_(weight: Tensor, bias: Tensor | None, generator: torch.Generator | None) -> None:
    """Exactly what ``nn.Linear.reset_parameters`` does, from an explicit generator.

    ``W ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` (kaiming_uniform with ``a = sqrt(5)``, so
    ``Var(W) = 1 / (3 fan_in)``) and ``b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, drawn weight first.
    """
    nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
    if bias is not None:
        fan_in, _ = nn.init._calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        nn.init.uniform_(bias, -bound, bound, generator=generator)


def linear_layers(model: nn.Module) -> list[nn.Linear]:
    """The ``nn.Linear`` modules of ``model`` in forward (registration) order."""
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def lsuv_(
    model: nn.Module,
    inputs: Tensor,
    tol: float = 0.1,
    max_iters: int = 10,
) -> nn.Module:
    """Layer-sequential unit-variance init (Mishkin & Matas 2016), after an orthonormal pre-init.

    For each linear layer in order: forward ``inputs``, measure the std of that layer's output and
    divide its weight by it, until ``|std - 1| < tol`` (the paper's Tol_var) or ``max_iters``.
    Earlier layers are already normalised when a later one is measured, so the whole net has unit
    output std per layer on this batch. The caller does the orthonormal pre-init.
    """
    captured: dict[str, Tensor] = {}

    def keep_output(_module: nn.Module, _inp: tuple[Tensor, ...], out: Tensor) -> None:
        captured["out"] = out

    with torch.no_grad():
        for layer in linear_layers(model):
            handle = layer.register_forward_hook(keep_output)
            try:
                for _ in range(max_iters):
                    model(inputs)
                    std = captured["out"].std().item()
                    if not math.isfinite(std) or std == 0.0 or abs(std - 1.0) < tol:
                        break
                    layer.weight.div_(std)
            finally:
                handle.remove()
    return model


def zero_hadamard_(weight: Tensor) -> Tensor:
    """ZerO (Zhao et al. 2022, Algorithm 1): a deterministic init from zeros, ones and a Hadamard.

    For a weight of shape ``(m, n)`` (out, in):

    * ``m <= n``: the partial identity ``I*`` (``W_ij = 1`` if ``i == j``, else 0): the square
      identity when ``m == n``, the first ``m`` inputs passed through when the layer shrinks;
    * ``m > n`` (the layer expands): ``W = I*_{m x p} H_p I*_{p x n} / sqrt(p)``, with ``H_p``
      the Hadamard matrix of size ``p = 2^ceil(log2 m)`` (entries +-1; ``H_p / sqrt(p)`` is
      orthogonal), so that the expanded units are not copies of the inputs (the paper's
      Theorem 1: partial identity alone keeps the rank of the hidden layers below the input
      dimension; the Hadamard transform breaks that degeneracy).

    Follows the paper's reference code ``ZerO_Init_on_matrix`` (github jiaweizzhao/
    ZerO-initialization, example_mnist.ipynb) line for line; the scale ``2^(-ceil(log2 m) / 2)``
    is its ``1 / 2**(clog_m / 2)``. No randomness: every seed gives the same weights.
    """
    m, n = weight.shape
    with torch.no_grad():
        if m <= n:
            return nn.init.eye_(weight)
        log_p = math.ceil(math.log2(m))
        p = 2**log_p
        from scipy.linalg import hadamard  # here: scipy.linalg takes ~0.2 s to import (issue 23)
        h = torch.from_numpy(hadamard(p)).to(weight.dtype) / 2 ** (log_p / 2)
        return weight.copy_(h[:m, :n])  # I*_{m x p} H I*_{p x n}: the leading m x n block


def gradient_quotient(loss: Tensor, params: list[Tensor], eps: float = 1e-5) -> Tensor:
    """MetaInit's GradQuotient (Dauphin & Schoenholz 2019, eq. 1), differentiable.

    ``GQ = mean_i |(g_i - (H g)_i) / g_i - 1|`` over every parameter entry ``i``, with ``g`` the
    gradient of ``loss`` and ``H g`` the Hessian-vector product (the gradient of ``|g|^2 / 2``):
    how much one gradient step of size 1 changes the gradient, relative to itself. 0 when the
    loss is locally linear. ``g`` is pushed away from 0 by ``eps`` (with its sign) as in the
    paper's code, so that dead entries do not divide by zero.
    """
    grads = torch.autograd.grad(loss, params, create_graph=True)
    hvp = torch.autograd.grad(sum((g**2).sum() / 2 for g in grads), params, create_graph=True)
    total = sum((((g - hg) / (g + eps * (2 * (g >= 0).to(g.dtype) - 1).detach()) - 1)
                 .abs().sum()) for g, hg in zip(grads, hvp))
    return total / sum(p.numel() for p in params)


def metainit_(
    model: nn.Module,
    inputs: Tensor,
    n_classes: int,
    generator: torch.Generator,
    steps: int = 100,
    batch: int = 64,
    lr: float = 0.1,
    momentum: float = 0.9,
    eps: float = 1e-5,
) -> list[float]:
    """MetaInit (Dauphin & Schoenholz 2019, Algorithm 1): tune the norm of every weight matrix
    by signSGD with momentum on the GradQuotient; returns GQ before each step.

    Each step draws ``batch`` rows of ``inputs`` and uniform random labels from ``generator``
    (the paper's code draws labels at random too; its inputs are N(0, 1) noise, here they are
    training rows, as LSUV sees them), computes ``GQ`` (:func:`gradient_quotient`) over every
    parameter, and for each matrix ``W`` (not the biases) the derivative of ``GQ`` along the
    direction ``W / |W|`` (the norm); then ``v = momentum v - lr sign(dGQ/d|W|)`` and ``W`` is
    rescaled to norm ``|W| + v``. Only the norms change, never the directions. The paper's code
    runs 500 steps; here ``steps`` bounds the cost (100 steps of batch 64 on the seed MLP:
    about 1 s on one CPU core).
    """
    params = list(model.parameters())
    matrices = [p for p in params if p.dim() >= 2]
    velocity = [0.0] * len(matrices)
    history = []
    for _ in range(steps):
        rows = torch.randint(0, inputs.shape[0], (batch,), generator=generator)
        labels = torch.randint(0, n_classes, (batch,), generator=generator)
        with torch.enable_grad():  # GQ is a second derivative: autograd even under no_grad
            loss = F.cross_entropy(model(inputs[rows]), labels.to(inputs.device))
            gq = gradient_quotient(loss, params, eps)
            d_gq = torch.autograd.grad(gq, matrices)
        history.append(gq.item())
        with torch.no_grad():
            for j, (w, d) in enumerate(zip(matrices, d_gq)):
                norm = w.norm().item()
                direction = torch.sign((w * d).sum() / norm).item()  # sign of dGQ/d|W|
                velocity[j] = momentum * velocity[j] - lr * direction
                w.mul_((norm + velocity[j]) / norm)
    return history
