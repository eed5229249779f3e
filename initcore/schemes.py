"""initcore's own schemes, each a one-line special case where it can be: the registry fills as
this module is imported (:mod:`initcore.initializers` imports it).

* Schemes torch has (Xavier/Glorot, He/Kaiming, orthogonal) call ``torch.nn.init`` directly.
* What torch lacks -- the general :func:`~initcore.init_functions.variance_scaling_` rule
  (LeCun, truncated He), ZerO, the data-dependent LSUV and MetaInit -- is in
  :mod:`initcore.init_functions`, one in-place function each.

To add a scheme: a function here with :func:`~initcore.registry.register_per_layer` (or
:func:`~initcore.registry.register_model`), and its bounds in :mod:`initcore.bounds`.
"""

from __future__ import annotations

import torch
from torch import nn

from .init_functions import (
    linear_layers,
    lsuv_,
    metainit_,
    torch_default_,
    zero_hadamard_,
)
from .registry import (
    VarianceScaling,
    get,
    register_model,
    register_per_layer,
    register_variance_scaling,
)
from .residual_schemes import SCHEMES as RESIDUAL_SCHEME_TABLE

# The variance-scaling schemes as data (scale, mode, distribution): their formula text, the
# tests' laws of W (tests/test_initializers.py) and the theory checks' signal ratios
# (initcore.bounds.RELU_RATIO) are derived from these. Xavier and He draw through torch.nn.init
# (the numbers of torch's own functions); the LeCun family through variance_scaling_.
XAVIER_UNIFORM = VarianceScaling(1.0, "fan_avg", "uniform")
XAVIER_NORMAL = VarianceScaling(1.0, "fan_avg", "normal")
HE_UNIFORM = VarianceScaling(2.0, "fan_in", "uniform")
HE_NORMAL = VarianceScaling(2.0, "fan_in", "normal")
LECUN_NORMAL = VarianceScaling(1.0, "fan_in", "normal")
LECUN_UNIFORM = VarianceScaling(1.0, "fan_in", "uniform")
LECUN_TRUNCATED_NORMAL = VarianceScaling(1.0, "fan_in", "truncated_normal")
HE_TRUNCATED_NORMAL = VarianceScaling(2.0, "fan_in", "truncated_normal")

LSUV_BATCH = 512  # rows of training data LSUV measures on (the paper uses one mini-batch)


@register_per_layer("zeros", "W = 0, b = 0")
def zeros(w, g):
    return nn.init.zeros_(w)


@register_per_layer("random_normal", "N(0, 0.01^2)  (naive small random)")
def random_normal(w, g):
    return nn.init.normal_(w, 0.0, 0.01, generator=g)


@register_per_layer("random_large", "N(0, 1)  (naive unit random)")
def random_large(w, g):
    return nn.init.normal_(w, 0.0, 1.0, generator=g)


@register_model("torch_default", "U(+-1/sqrt(fan_in)): Var = 1/(3 fan_in) (nn.Linear)",
                 bias="torch_default", needs_data=False)
def torch_default(model, g, _data):
    with torch.no_grad():
        for layer in linear_layers(model):
            torch_default_(layer.weight, layer.bias, g)


@register_variance_scaling("xavier_uniform", XAVIER_UNIFORM)
def xavier_uniform(w, g):
    return nn.init.xavier_uniform_(w, generator=g)


@register_variance_scaling("xavier_normal", XAVIER_NORMAL)
def xavier_normal(w, g):
    return nn.init.xavier_normal_(w, generator=g)


@register_variance_scaling("he_uniform", HE_UNIFORM)
def he_uniform(w, g):
    return nn.init.kaiming_uniform_(w, nonlinearity="relu", generator=g)


@register_variance_scaling("he_normal", HE_NORMAL)
def he_normal(w, g):
    return nn.init.kaiming_normal_(w, nonlinearity="relu", generator=g)


@register_variance_scaling("lecun_normal", LECUN_NORMAL)
def lecun_normal(w, g):
    return LECUN_NORMAL.fill_(w, g)


@register_variance_scaling("lecun_uniform", LECUN_UNIFORM)
def lecun_uniform(w, g):
    """LeCun et al. (1998) as Keras and JAX define it: variance_scaling(1, fan_in, uniform)."""
    return LECUN_UNIFORM.fill_(w, g)


@register_variance_scaling("lecun_truncated_normal", LECUN_TRUNCATED_NORMAL)
def lecun_truncated_normal(w, g):
    """Keras/JAX ``lecun_normal``: variance_scaling(1, fan_in, truncated_normal). The normal is
    cut at 2 of its standard deviations and widened by 1/0.8796 so the variance stays 1/fan_in
    (Klambauer et al. 2017 pair it with SELU)."""
    return LECUN_TRUNCATED_NORMAL.fill_(w, g)


@register_variance_scaling("he_truncated_normal", HE_TRUNCATED_NORMAL)
def he_truncated_normal(w, g):
    """Keras/JAX ``he_normal`` (He et al. 2015): variance_scaling(2, fan_in, truncated_normal),
    the truncated normal keeping Var = 2/fan_in. (torch's kaiming_normal_, our he_normal, does
    not truncate.)"""
    return HE_TRUNCATED_NORMAL.fill_(w, g)


@register_per_layer("orthogonal", "W = Q, Q^T Q = I (QR of a Gaussian; gain 1)")
def orthogonal(w, g):
    return nn.init.orthogonal_(w, gain=1.0, generator=g)


@register_per_layer("orthogonal_relu", "W = sqrt(2) Q, Q^T Q = I (QR of a Gaussian; ReLU gain)")
def orthogonal_relu(w, g):
    """Saxe et al. (2014) orthogonal weights times the ReLU gain sqrt(2) (He et al. 2015): every
    singular value is sqrt(2), so n Var(W)/2 = 1 per layer, as He's, for square layers."""
    return nn.init.orthogonal_(w, gain=nn.init.calculate_gain("relu"), generator=g)


@register_per_layer("identity", "W = I* (W_ij = 1 if i == j else 0: identity, or its leading "
                    "block)")
def identity(w, g):
    """The (partial) identity, ``torch.nn.init.eye_``: square layers pass their input through,
    others keep the first min(in, out) coordinates (Zhao et al. 2022, Definition 1). Not
    random: every seed gives the same weights."""
    return nn.init.eye_(w)


@register_per_layer("zero_hadamard", "ZerO: I* if out <= in, else I*_(out x p) H_p I*_(p x in) / "
                    "sqrt(p), p = 2^ceil(log2 out)")
def zero_hadamard(w, g):
    """ZerO (Zhao et al. 2022), see :func:`zero_hadamard_`. On a net whose layers never widen
    (the seed recipe's 784-256-128-10) it is exactly ``identity``."""
    return zero_hadamard_(w)


@register_model("lsuv", "orthogonal, then W_l /= std(layer l output) until std = 1 +- 0.1",
                 bias="zeros", needs_data=True)
def lsuv(model, g, data):
    get("orthogonal").apply(model, g, None)
    rows = torch.randperm(data.shape[0], generator=g)[:LSUV_BATCH]
    lsuv_(model, data[rows].to(next(model.parameters()).device))


METAINIT_STEPS = 100  # the paper's code runs 500; 100 reach the plateau of GQ here (see metainit_)


@register_model("metainit", "N(0, 1/fan_in), then each |W_l| tuned by signSGD on the "
                "GradQuotient |Hg/g| (100 steps)", bias="zeros", needs_data=True)
def metainit(model, g, data):
    """MetaInit (Dauphin & Schoenholz 2019): LeCun-normal directions (a scale that is not the
    ReLU's, left for MetaInit to find), then :func:`metainit_` on batches of ``data`` with
    random labels. Biases zero."""
    get("lecun_normal").apply(model, g, None)
    n_classes = linear_layers(model)[-1].out_features
    metainit_(model, data.to(next(model.parameters()).device), n_classes, g,
              steps=METAINIT_STEPS)


@register_per_layer("seed_zero", "W = 0, b ~ U(+-1/sqrt(fan_in))  (seed notebook 'zero')",
                     bias="torch_default")
def seed_zero(w, g):
    return nn.init.zeros_(w)


@register_per_layer(
    "seed_random", "xavier_uniform W, b ~ U(+-1/sqrt(fan_in))  (seed notebook 'random')",
    bias="torch_default",
)
def seed_random(w, g):
    return nn.init.xavier_uniform_(w, generator=g)


# The residual-net schemes (Fixup, SkipInit, ReZero, ZerO, depth-scaled He) read each layer's
# role; their maths and papers are in initcore.residual_schemes.
for _name, (_formula, _bias, _fn) in RESIDUAL_SCHEME_TABLE.items():
    register_model(_name, _formula, bias=_bias, needs_data=False)(_fn)
