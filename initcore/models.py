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
