"""Initialization schemes for residual nets without normalization, and the layer roles they read.

A deep residual net ``h_l = h_(l-1) + a_l F_l(h_(l-1))`` (:class:`initcore.models.ResMLP`) with
He weights in both branch layers and a = 1 grows the mean square of h by (1 + g) per block,
g = prod_k (w Var(W_k)) / 2 (the ReLU halves it once): g = 2 for He, i.e. 3^L (101 bits of log2
growth over 64 blocks), 1/2 for Xavier (37 bits), 1/18 for nn.Linear's default (5 bits). The
schemes here keep it bounded by making every branch start at zero (0 bits) or small:

* ``fixup`` -- Zhang, Dauphin & Ma (2019), Fixup Initialization: Residual Learning Without
  Normalization (arXiv:1901.09321), rules 1-3: classifier and the last layer of every branch 0;
  the other branch layers He x L^(-1/(2m-2)) (m layers per branch: L^(-1/2) for m = 2, std
  sqrt(2/fan_out) L^(-1/2) as hongyi-zhang/Fixup ``cifar/models/fixup_resnet_cifar.py``, equal to
  fan_in for square layers); scalar multiplier 1 and scalar biases 0. The stem is He (the paper's
  "standard method"). A 1-layer branch (m = 1, outside the paper: its rule has no exponent)
  keeps He and starts its multiplier at 0: a zero W in ``act(W h)`` would get no gradient
  through relu'(0) = 0.
* ``skipinit`` -- De & Smith (2020), Batch Normalization Biases Residual Blocks Towards the
  Identity Function in Deep Networks (arXiv:2002.10444): He everywhere, the scalar gain at the
  end of every branch initialized to 0 (learnable).
* ``rezero`` -- Bachlechner et al. (2020), ReZero is All You Need (arXiv:2003.04887), as the
  notebook ``ReZero-Deep_Fast_NeuralNetwork.ipynb`` of tbachlechner/ReZero-examples builds its
  deep fully connected net: every layer drawn by nn.Linear's default (weights and biases), then
  the stem re-drawn He (``kaiming_normal_``), every branch layer ``xavier_normal_(gain=sqrt(2))``
  (He's variance for square layers), the classifier left at nn.Linear's default; alpha = 0,
  learnable. On this block it differs from skipinit only in the biases and the classifier.
* ``zero_residual`` -- ZerO for residual nets, Zhao et al. (2022), ZerO Initialization
  (arXiv:2110.12661), Sec. 3 (its ResNet rule: the last layer of every residual branch 0, the
  others by ZerO's Algorithm 1): the stem and the classifier by :func:`zero_hadamard_` (784 -> w
  narrows, so the stem is the partial identity I*: it keeps the first w pixels -- for w = 256 the
  top 9 of the 28 rows, mostly blank border --; w -> 10 keeps the first 10 units), the branch's
  first layer the identity, its last 0 (a 1-layer branch: identity and gain 0). Deterministic.
* ``he_depth_scaled`` -- He everywhere, the branch's last layer scaled by 1/sqrt(L): the
  depth-muP branch multiplier of Bordelon et al. (2023), Depthwise Hyperparameter Transfer in
  Residual Networks (arXiv:2309.16620) and Yang et al. (2023), Tensor Programs VI
  (arXiv:2310.02244), put into the weights. g = 2/L, so the growth is L log2(1 + 2/L): not 0,
  but bounded by log2(e^2) = 2.885 bits at any depth.

Schemes see a model through :func:`layer_roles`: each ``nn.Linear`` with its role (stem, branch
layer k of block l of L, classifier), for a :class:`~initcore.models.ResMLP` and (stem, hidden,
classifier) for a plain MLP. A user's scheme reads the same roles: a per-layer function
registered with ``initcore.register`` that takes a keyword ``role`` gets each layer's
:class:`LayerRole`; a whole-model one calls ``initcore.layer_roles(model)`` and reaches the
gains as ``model.blocks[l].gain``. The schemes are registered by :mod:`initcore.initializers`
(:data:`SCHEMES`); they refuse a net without residual blocks (one line).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .init_functions import linear_layers, torch_default_, zero_hadamard_

KINDS = ("input", "hidden", "branch", "output")


@dataclass(frozen=True)
class LayerRole:
    """Where one ``nn.Linear`` sits in its net, as a scheme needs to know it."""

    kind: str  # one of KINDS: "input" (stem), "hidden" (plain MLP), "branch", "output"
    index: int  # position among the net's Linear layers, 0-based
    n_blocks: int  # L, residual blocks in the net (0 for a plain MLP)
    branch_layers: int  # m, Linear layers per branch (0 for a plain MLP)
    block: int | None = None  # a branch layer's block, 0..L-1
    position: int | None = None  # a branch layer's place in its branch, 0..m-1

    @property
    def branch_last(self) -> bool:
        """True for the last layer of a residual branch (Fixup and ZerO zero it)."""
        return self.kind == "branch" and self.position == self.branch_layers - 1


def is_residual(model: nn.Module) -> bool:
    """True for a net with residual blocks (``model.blocks``, each with a ``branch``)."""
    blocks = getattr(model, "blocks", None)
    return isinstance(blocks, nn.ModuleList) and all(hasattr(b, "branch") for b in blocks) and (
        hasattr(model, "input") and hasattr(model, "head"))


def layer_roles(model: nn.Module) -> list[tuple[nn.Linear, LayerRole]]:
    """Every ``nn.Linear`` of ``model`` in forward order with its :class:`LayerRole`."""
    if not is_residual(model):
        layers = linear_layers(model)
        last = len(layers) - 1
        return [(layer, LayerRole("input" if i == 0 and last else "output" if i == last
                                  else "hidden", i, 0, 0)) for i, layer in enumerate(layers)]
    blocks = model.blocks
    m = len(blocks[0].branch) if len(blocks) else 0
    roles = [(model.input, LayerRole("input", 0, len(blocks), m))]
    for b, block in enumerate(blocks):
        for k, layer in enumerate(block.branch):
            roles.append((layer, LayerRole("branch", len(roles), len(blocks), m, b, k)))
    roles.append((model.head, LayerRole("output", len(roles), len(blocks), m)))
    return roles


def _he(weight: Tensor, g: torch.Generator, scale: float = 1.0) -> None:
    nn.init.kaiming_normal_(weight, nonlinearity="relu", generator=g)
    if scale != 1.0:
        weight.mul_(scale)


def _residual_roles(model: nn.Module, name: str) -> list[tuple[nn.Linear, LayerRole]]:
    if not is_residual(model):
        raise ValueError(f"initializer {name!r} is for residual nets (ResMLP, --arch resmlp), "
                         f"not a {type(model).__name__}")
    return layer_roles(model)


def _set_block_scalars(model: nn.Module, gain: float, name: str) -> None:
    """Every block's gain to ``gain`` (ValueError if it must be 0 and the net has none), and
    Fixup's scalar biases to 0."""
    for block in model.blocks:
        if block.gain is None:
            if gain != 1.0:
                raise ValueError(f"initializer {name!r} needs the branch gain "
                                 "(a ResMLP built with gain=True)")
        else:
            block.gain.fill_(gain)
        if block.scalar_bias is not None:
            block.scalar_bias.zero_()


def _zero_biases(model: nn.Module) -> None:
    for layer in linear_layers(model):
        if layer.bias is not None:
            layer.bias.zero_()


def fixup(model: nn.Module, g: torch.Generator, _data: Tensor | None) -> None:
    roles = _residual_roles(model, "fixup")
    with torch.no_grad():
        _zero_biases(model)
        m = roles[0][1].branch_layers
        n_blocks = roles[0][1].n_blocks
        for layer, role in roles:
            if role.kind == "output" or (role.branch_last and m > 1):
                layer.weight.zero_()
            elif role.kind == "branch" and m > 1:
                _he(layer.weight, g, n_blocks ** (-1 / (2 * m - 2)))
            else:
                _he(layer.weight, g)
        _set_block_scalars(model, 0.0 if m == 1 else 1.0, "fixup")


def skipinit(model: nn.Module, g: torch.Generator, _data: Tensor | None) -> None:
    roles = _residual_roles(model, "skipinit")
    with torch.no_grad():
        _zero_biases(model)
        for layer, _role in roles:
            _he(layer.weight, g)
        _set_block_scalars(model, 0.0, "skipinit")


def rezero(model: nn.Module, g: torch.Generator, _data: Tensor | None) -> None:
    roles = _residual_roles(model, "rezero")
    with torch.no_grad():
        for layer, _role in roles:  # the model as nn.Linear builds it, layer by layer
            torch_default_(layer.weight, layer.bias, g)
        for layer, role in roles:
            if role.kind == "input":
                _he(layer.weight, g)
            elif role.kind == "branch":
                nn.init.xavier_normal_(layer.weight, gain=math.sqrt(2.0), generator=g)
        _set_block_scalars(model, 0.0, "rezero")


def zero_residual(model: nn.Module, g: torch.Generator, _data: Tensor | None) -> None:
    roles = _residual_roles(model, "zero_residual")
    with torch.no_grad():
        _zero_biases(model)
        m = roles[0][1].branch_layers
        for layer, role in roles:
            if role.kind in ("input", "output"):
                zero_hadamard_(layer.weight)
            elif role.branch_last and m > 1:
                layer.weight.zero_()
            else:
                nn.init.eye_(layer.weight)
        _set_block_scalars(model, 0.0 if m == 1 else 1.0, "zero_residual")


def he_depth_scaled(model: nn.Module, g: torch.Generator, _data: Tensor | None) -> None:
    roles = _residual_roles(model, "he_depth_scaled")
    with torch.no_grad():
        _zero_biases(model)
        for layer, role in roles:
            scale = 1 / math.sqrt(role.n_blocks) if role.branch_last else 1.0
            _he(layer.weight, g, scale)
        _set_block_scalars(model, 1.0, "he_depth_scaled")


# name -> (formula, bias rule, function): registered as built-in schemes by initcore.initializers
SCHEMES: dict[str, tuple[str, str, Callable]] = {
    "fixup": ("Fixup: classifier and each branch's last layer 0, other branch layers "
              "N(0, 2/fan) L^(-1/(2m-2)), stem N(0, 2/fan_in); scale 1, scalar biases 0",
              "zeros", fixup),
    "skipinit": ("SkipInit: N(0, 2/fan_in) every layer, branch gain a = 0 (learnable)",
                 "zeros", skipinit),
    "rezero": ("ReZero: stem N(0, 2/fan_in), branch N(0, 2/w) (xavier_normal x sqrt 2), classifier "
               "and biases U(+-1/sqrt(fan_in)); alpha = 0 (learnable)", "torch_default", rezero),
    "zero_residual": ("ZerO on residual blocks: stem and classifier ZerO (I* or Hadamard), "
                      "branch I then 0", "zeros", zero_residual),
    "he_depth_scaled": ("N(0, 2/fan_in), each branch's last layer x 1/sqrt(L)", "zeros",
                        he_depth_scaled),
}
RESIDUAL_SCHEMES = tuple(SCHEMES)  # the schemes that need a residual net


def predicted_growth_bits(model: nn.Module) -> float:
    """log2 of the predicted ratio of the residual stream's mean square, last block over the
    stem's output, from the weights as drawn: sum_l log2(1 + a_l^2 g_l), with
    g_l = prod_k (w Var(W_lk)) / 2 for a 2-layer ReLU branch ``W2 relu(W1 h)`` (He et al. 2015,
    eq. 7-10: E[(W z)^2] = w Var(W) E[z^2], relu keeps half of a symmetric z's). The cross term
    E[h . F(h)] is 0 because W_lm has mean 0 and is independent of h. Exact for 2-layer ReLU
    branches with zero biases in the wide limit; ValueError for other nets."""
    if not is_residual(model) or model.activation != "relu" or model.branch_layers != 2:
        raise ValueError("the growth formula is for ResMLPs with 2-layer ReLU branches")
    bits = 0.0
    for block in model.blocks:
        width = block.branch[0].in_features
        g = math.prod(width * layer.weight.double().var(unbiased=False).item()
                      + width * layer.weight.double().mean().item() ** 2
                      for layer in block.branch) / 2
        a = 1.0 if block.gain is None else block.gain.item()
        bits += math.log2(1 + a * a * g)
    return bits


def theory_growth_bits(branch_gain: float, n_blocks: int) -> float:
    """The formula with a branch gain g the same in every block: L log2(1 + g)
    (He g = 2: L log2 3; Xavier g = 1/2; nn.Linear's default g = 1/18; depth-scaled He 2/L)."""
    return n_blocks * math.log2(1 + branch_gain)


@torch.no_grad()
def measured_growth_bits(model: nn.Module, x: Tensor) -> float:
    """log2( E[h_L^2] / E[h_0^2] ): the residual stream's mean square after the last block over
    the stem's output, on inputs ``x`` (float64 sums of the float32 forward); NaN if the stem
    outputs 0 for every input (ZerO's partial-identity stem on blank border pixels)."""
    stream = model.stream(x)
    first, last = stream[0].double().pow(2).mean(), stream[-1].double().pow(2).mean()
    return math.log2(last.item() / first.item()) if first.item() > 0 else math.nan
