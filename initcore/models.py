"""The networks: a multilayer perceptron of any depth, width and activation.

The seed recipe's net is ``MLP([784, 256, 128, 10], "relu")``. The activations also exist as plain
functions (:data:`ACTIVATION_FNS`) for the vectorized grid trainer, which runs G stacked copies of
the same architecture without building modules.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# name -> (module factory, functional form). leaky_relu uses torch's default slope 0.01.
_ACTIVATIONS: dict[str, tuple[Callable[[], nn.Module], Callable[[Tensor], Tensor]]] = {
    "relu": (nn.ReLU, F.relu),
    "tanh": (nn.Tanh, torch.tanh),
    "sigmoid": (nn.Sigmoid, torch.sigmoid),
    "selu": (nn.SELU, F.selu),
    "leaky_relu": (nn.LeakyReLU, F.leaky_relu),
    "gelu": (nn.GELU, F.gelu),
    "linear": (nn.Identity, lambda x: x),
}
ACTIVATIONS = tuple(_ACTIVATIONS)
ACTIVATION_FNS = {name: fn for name, (_, fn) in _ACTIVATIONS.items()}


def check_activation(name: str) -> str:
    """Return ``name`` if it is a known activation, else ValueError listing the valid ones."""
    if name not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; valid names: {', '.join(ACTIVATIONS)}")
    return name


class MLP(nn.Sequential):
    """Fully connected net ``sizes[0] -> sizes[1] -> ... -> sizes[-1]``.

    Every layer but the last is followed by ``activation``; the last layer outputs logits.
    ``bias=False`` builds every layer without a bias (``layer.bias is None``), as the ZerO
    paper's MLP; the initializers leave a missing bias alone.
    Inputs of any shape ``(B, ...)`` are flattened to ``(B, sizes[0])``.
    """

    def __init__(self, sizes: Sequence[int], activation: str = "relu", bias: bool = True) -> None:
        if len(sizes) < 2 or any(int(s) < 1 for s in sizes):
            raise ValueError(f"MLP sizes must be >= 2 positive integers, got {list(sizes)}")
        module_factory = _ACTIVATIONS[check_activation(activation)][0]
        layers: list[nn.Module] = [nn.Flatten()]
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(n_in, n_out, bias=bias))
            if i < len(sizes) - 2:
                layers.append(module_factory())
        super().__init__(*layers)
        self.sizes = tuple(int(s) for s in sizes)
        self.activation = activation
        self.bias = bias

    def describe(self) -> str:
        """Short architecture name used in reports, e.g. ``mlp-784-256-128-10-relu``."""
        return mlp_name(self.sizes, self.activation)


def mlp_sizes(n_inputs: int, hidden: Sequence[int], n_classes: int) -> list[int]:
    """The full size list of an MLP from its input size, hidden widths and class count."""
    return [n_inputs, *hidden, n_classes]


def mlp_name(sizes: Sequence[int], activation: str) -> str:
    """The architecture name reports use: ``mlp-<sizes joined by ->-<activation>``, e.g.
    ``mlp-784-256-128-10-relu``."""
    return "mlp-" + "-".join(map(str, sizes)) + f"-{activation}"


class ResidualBlock(nn.Module):
    """One block ``h -> h + a * F(h) (+ s4)`` of a :class:`ResMLP`, with no normalization.

    The branch F has ``branch_layers`` square Linear layers (width w):

    * 2 (the default; Fixup's and SkipInit's basic block): ``F(h) = W2 act(W1 h + b1) + b2``;
    * 1 (the ReZero notebook's fully connected net, TP6's block depth 1): ``F(h) = act(W h + b)``.

    ``gain`` (a learnable scalar ``a``, 1 at construction) is the branch multiplier of Fixup
    (``scale``), SkipInit and ReZero (``alpha``, set to 0 by those schemes); without it a = 1.
    ``scalar_bias`` adds Fixup's four learnable scalar biases, 0 at construction
    (``bias1a``, ``bias1b``, ``bias2a``, ``bias2b`` of hongyi-zhang/Fixup's FixupBasicBlock):
    ``F(h) = W2 (act(W1 (h + s1) + b1 + s2) + s3) + b2`` and the block adds ``s4`` after the gain;
    a 1-layer branch uses s1 and s2 (``act(W (h + s1) + b + s2)``) and s4.
    """

    def __init__(self, width: int, branch_layers: int = 2, activation: str = "relu",
                 bias: bool = True, gain: bool = True, scalar_bias: bool = False) -> None:
        super().__init__()
        if branch_layers not in (1, 2):
            raise ValueError(f"branch layers must be 1 or 2, got {branch_layers!r}")
        self.branch = nn.ModuleList(nn.Linear(width, width, bias=bias)
                                    for _ in range(branch_layers))
        self.act = ACTIVATION_FNS[check_activation(activation)]
        self.gain = nn.Parameter(torch.ones(())) if gain else None
        self.scalar_bias = nn.Parameter(torch.zeros(4)) if scalar_bias else None

    def forward(self, h: Tensor) -> Tensor:
        s = self.scalar_bias
        z = h if s is None else h + s[0]
        z = self.branch[0](z)
        z = self.act(z if s is None else z + s[1])
        if len(self.branch) == 2:
            z = self.branch[1](z if s is None else z + s[2])
        if self.gain is not None:
            z = self.gain * z
        return h + z if s is None else h + z + s[3]


class ResMLP(nn.Module):
    """A residual MLP without normalization: ``n_in -> w``, ``blocks`` x :class:`ResidualBlock`
    of width w, ``w -> n_classes``.

    Forward: ``h_0 = act(W_in x + b_in)`` (the stem of the ReZero notebook and of Fixup's
    ResNet), ``h_l = h_(l-1) + a_l F_l(h_(l-1))``, logits ``W_out h_L + b_out``. Its Linear
    layers, in the order :func:`initcore.initializers.linear_layers` and the schemes see them:
    input, block 1's branch layers, ..., block L's, classifier. Inputs ``(B, ...)`` are
    flattened. ``blocks = 0`` is a one-hidden-layer MLP.
    """

    def __init__(self, n_in: int, width: int, blocks: int, n_classes: int,
                 branch_layers: int = 2, activation: str = "relu", bias: bool = True,
                 gain: bool = True, scalar_bias: bool = False) -> None:
        super().__init__()
        if min(n_in, width, n_classes) < 1 or blocks < 0:
            raise ValueError(f"ResMLP needs positive sizes and blocks >= 0, got n_in={n_in}, "
                             f"width={width}, blocks={blocks}, n_classes={n_classes}")
        self.input = nn.Linear(n_in, width, bias=bias)
        self.act = ACTIVATION_FNS[check_activation(activation)]
        self.blocks = nn.ModuleList(
            ResidualBlock(width, branch_layers, activation, bias, gain, scalar_bias)
            for _ in range(blocks))
        self.head = nn.Linear(width, n_classes, bias=bias)
        self.sizes = (n_in, width, n_classes)
        self.n_blocks, self.branch_layers, self.activation = blocks, branch_layers, activation
        self.bias, self.has_gain, self.has_scalar_bias = bias, gain, scalar_bias

    def stream(self, x: Tensor) -> list[Tensor]:
        """The residual stream ``[h_0, h_1, ..., h_L]`` (each (B, w)) for inputs x."""
        h = self.act(self.input(x.flatten(1)))
        hs = [h]
        for block in self.blocks:
            h = block(h)
            hs.append(h)
        return hs

    def forward(self, x: Tensor) -> Tensor:
        h = self.act(self.input(x.flatten(1)))
        for block in self.blocks:
            h = block(h)
        return self.head(h)

    def describe(self) -> str:
        """Short architecture name used in reports, e.g. ``resmlp-784-64x256-b2-10-relu``."""
        return resmlp_name(self.sizes[0], self.n_blocks, self.sizes[1], self.sizes[2],
                           self.branch_layers, self.activation, self.has_gain,
                           self.has_scalar_bias)


def resmlp_name(n_in: int, blocks: int, width: int, n_classes: int, branch_layers: int,
                activation: str, gain: bool = True, scalar_bias: bool = False) -> str:
    """The name reports use for a :class:`ResMLP`: ``resmlp-<in>-<blocks>x<width>-b<branch
    layers>-<classes>-<activation>``, ``-nogain`` / ``-sbias`` appended when the blocks lack the
    gain / have Fixup's scalar biases, e.g. ``resmlp-784-64x256-b2-10-relu``."""
    name = f"resmlp-{n_in}-{blocks}x{width}-b{branch_layers}-{n_classes}-{activation}"
    return name + ("" if gain else "-nogain") + ("-sbias" if scalar_bias else "")
