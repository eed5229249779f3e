"""The MLP: every activation, shapes, depth, and its errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from initcore import models
from initcore.initializers import linear_layers
from initcore.models import ACTIVATION_FNS, ACTIVATIONS, MLP
from initcore.train import Recipe

# The torch module each activation name must mean (leaky_relu: torch's default slope 0.01).
MODULES = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "selu": nn.SELU,
           "leaky_relu": nn.LeakyReLU, "gelu": nn.GELU, "linear": nn.Identity}


def test_mlp_activation_table_covers_every_activation() -> None:
    assert set(MODULES) == set(ACTIVATIONS), (
        f"tests/test_models.py MODULES is out of date: {sorted(set(MODULES) ^ set(ACTIVATIONS))}")


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=lambda a: f"activation={a}")
def test_mlp_output_shape_for_every_activation(activation: str) -> None:
    model = MLP([784, 32, 16, 10], activation)
    for shape in [(5, 784), (5, 1, 28, 28), (5, 28, 28)]:
        out = model(torch.zeros(shape))
        assert out.shape == (5, 10), f"{activation}: input {shape} gave output {tuple(out.shape)}"
    assert model.describe() == f"mlp-784-32-16-10-{activation}", f"describe(): {model.describe()}"


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=lambda a: f"activation={a}")
def test_mlp_layers_alternate_linear_and_activation(activation: str) -> None:
    model = MLP([784, 32, 16, 8, 10], activation)
    linears = linear_layers(model)
    assert [(m.in_features, m.out_features) for m in linears] == \
        [(784, 32), (32, 16), (16, 8), (8, 10)], f"{activation}: wrong layer sizes {linears}"
    kinds = [type(m) for m in model if not isinstance(m, nn.Linear | nn.Flatten)]
    expected = MODULES[activation]
    assert kinds == [expected] * 3, f"{activation}: one {expected.__name__} after each hidden layer"
    assert isinstance(model[-1], nn.Linear), f"{activation}: the last layer must output logits"


@pytest.mark.parametrize("sizes", [[784, 10], [784, 64, 10], [784, 8, 8, 8, 8, 8, 10]],
                         ids=lambda s: f"depth={len(s) - 1}")
def test_mlp_depth_is_number_of_linear_layers(sizes: list[int]) -> None:
    model = MLP(sizes)
    assert len(linear_layers(model)) == len(sizes) - 1, f"{sizes}: {len(linear_layers(model))}"
    assert model.sizes == tuple(sizes), f"sizes attribute {model.sizes} != {sizes}"


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=lambda a: f"activation={a}")
def test_mlp_functional_activation_equals_module(activation: str) -> None:
    # The grid trainer uses ACTIVATION_FNS instead of the modules: they must be the same function.
    x = torch.linspace(-6, 6, 1001)
    module = MODULES[activation]()
    assert torch.equal(module(x), ACTIVATION_FNS[activation](x)), (
        f"{activation}: functional form differs from the module")


def test_mlp_unknown_activation_lists_valid_names() -> None:
    with pytest.raises(ValueError) as info:
        MLP([784, 10], "swish")
    message = str(info.value)
    assert "swish" in message and all(a in message for a in ACTIVATIONS), (
        f"the error should name 'swish' and list {ACTIVATIONS}: {message}")


@pytest.mark.parametrize("sizes", [[784], [], [784, 0, 10], [784, -3, 10]])
def test_mlp_bad_sizes_raise(sizes: list[int]) -> None:
    with pytest.raises(ValueError, match="sizes"):
        MLP(sizes)


def test_mlp_sizes_helper() -> None:
    assert models.mlp_sizes(784, (256, 128), 10) == [784, 256, 128, 10], "mlp_sizes order"


def test_mlp_name_is_the_same_from_the_model_and_the_config() -> None:
    config = Recipe(hidden=(32, 16), activation="tanh")
    model = MLP([784, 32, 16, 10], "tanh")
    assert config.model_name(784, 10) == model.describe() == "mlp-784-32-16-10-tanh", (
        f"config {config.model_name(784, 10)!r} vs model {model.describe()!r}")
