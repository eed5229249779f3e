"""The initializer registry against its formulas and against torch.nn.init.

Statistical tolerances (n = 1,000,000 i.i.d. weights of one 2000 -> 500 layer; the shape is not
square so that fan_in = 2000, fan_out = 500 and their mean 1250 give different variances):

* sample mean: standard error sigma / sqrt(n) = 0.001 sigma.
* sample variance s^2: Var(s^2) = (mu4 - sigma^4) / n + O(1/n^2). For a normal mu4 = 3 sigma^4, so
  SE(s^2) = sigma^2 sqrt(2 / (n - 1)) = 0.0014 sigma^2. For U(-a, a), mu4 = a^4/5 = 9/5 sigma^4,
  so SE(s^2) = sigma^2 sqrt(0.8 / n). A normal truncated at +-2 std has kurtosis 2.37 < 3, so
  the normal's SE bounds it.
* We accept 6 standard errors: a correct scheme fails with probability ~2e-9 per check (and the
  generators are seeded, so a pass is reproducible), while a wrong fan (xavier vs he here: a
  variance off by 25%) misses by ~180 standard errors.
* Shape: a normal sample of 10^6 exceeds 4 sigma somewhere with probability 1 - e^-63, a uniform
  never exceeds its bound a, and reaches beyond a (1 - 20/n) with probability 1 - e^-20.
"""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats
from torch import nn

from initcore import initializers
from initcore.initializers import LSUV_BATCH, linear_layers, variance_scaling_
from initcore.models import MLP
from initcore.residual_schemes import RESIDUAL_SCHEMES

# The schemes of plain MLPs; the residual-net schemes have their own tests (test_resmlp.py).
NAMES = [n for n in initializers.list_initializers() if n not in RESIDUAL_SCHEMES]
SEED_RECIPE = [784, 256, 128, 10]
FAN_IN, FAN_OUT = 2000, 500  # the big test layer: nn.Linear(FAN_IN, FAN_OUT), 10^6 weights
N = FAN_IN * FAN_OUT
K_SE = 6.0  # standard errors a sample statistic may stray (see the module docstring)

# name -> (law of W, its scale as a function of (fan_in, fan_out)); scale is sigma for "normal"
# and "truncated_normal" (the std after truncation), the bound a for "uniform", the gain g for
# "orthogonal" (W W^T = g^2 I). "scaled_orthogonal": W W^T = c^2 I (LSUV). "eye": W = I* exactly
# (identity; ZerO on a layer that does not widen). "rescaled_lecun": the lecun_normal draw from the
# same generator times one positive number (MetaInit tunes norms, never directions).
WEIGHT_LAWS = {
    # the variance-scaling schemes: from their declaration, (scale, mode, distribution)
    **{n: initializers.get(n).variance.law() for n in NAMES if initializers.get(n).variance},
    "zeros": ("zero", None),
    "random_normal": ("normal", lambda fi, fo: 0.01),
    "random_large": ("normal", lambda fi, fo: 1.0),
    "torch_default": ("uniform", lambda fi, fo: 1 / math.sqrt(fi)),
    "orthogonal": ("orthogonal", lambda fi, fo: 1.0),
    "orthogonal_relu": ("orthogonal", lambda fi, fo: math.sqrt(2)),
    "identity": ("eye", None),
    "zero_hadamard": ("eye", None),
    "lsuv": ("scaled_orthogonal", None),
    "metainit": ("rescaled_lecun", None),
    "seed_zero": ("zero", None),
    "seed_random": ("uniform", lambda fi, fo: math.sqrt(6 / (fi + fo))),
}
# Schemes whose biases are nn.Linear's U(+-1/sqrt(fan_in)); every other scheme zeroes them.
TORCH_DEFAULT_BIAS = {"torch_default", "seed_zero", "seed_random"}
DATA_SCHEMES = {"lsuv", "metainit"}  # the schemes that must see training inputs
DETERMINISTIC = {"zeros", "identity", "zero_hadamard"}  # the same weights for every seed

# The torch.nn.init call each scheme must reproduce bit for bit from the same generator state.
# torch_default is checked against a fresh nn.Linear instead; lsuv and metainit have no torch
# counterpart. The truncated normals as Keras and JAX define them (variance_scaling with
# distribution "truncated_normal"): a normal of std sigma / 0.8796 (the std of N(0, 1) cut at +-2,
# from scipy here), cut at 2 of its stds, so that the std after the cut is sigma.
_TRUNC_STD = float(stats.truncnorm(-2, 2).std())


def _keras_truncated_normal(w, g, scale):
    std = math.sqrt(scale / w.shape[1]) / _TRUNC_STD
    return nn.init.trunc_normal_(w, 0.0, std, -2 * std, 2 * std, generator=g)


TORCH_REFERENCE = {
    "zeros": lambda w, g: nn.init.zeros_(w),
    "random_normal": lambda w, g: nn.init.normal_(w, 0.0, 0.01, generator=g),
    "random_large": lambda w, g: nn.init.normal_(w, 0.0, 1.0, generator=g),
    "xavier_uniform": lambda w, g: nn.init.xavier_uniform_(w, generator=g),
    "xavier_normal": lambda w, g: nn.init.xavier_normal_(w, generator=g),
    "he_uniform": lambda w, g: nn.init.kaiming_uniform_(w, nonlinearity="relu", generator=g),
    "he_normal": lambda w, g: nn.init.kaiming_normal_(w, nonlinearity="relu", generator=g),
    # LeCun normal is Kaiming with gain 1: N(0, 1/fan_in).
    "lecun_normal": lambda w, g: nn.init.kaiming_normal_(w, nonlinearity="linear", generator=g),
    "orthogonal": lambda w, g: nn.init.orthogonal_(w, gain=1.0, generator=g),
    # LeCun uniform is Kaiming uniform with gain 1: U(+-sqrt(3/fan_in)).
    "lecun_uniform": lambda w, g: nn.init.kaiming_uniform_(w, nonlinearity="linear", generator=g),
    "lecun_truncated_normal": lambda w, g: _keras_truncated_normal(w, g, 1.0),
    "he_truncated_normal": lambda w, g: _keras_truncated_normal(w, g, 2.0),
    "orthogonal_relu": lambda w, g: nn.init.orthogonal_(w, gain=math.sqrt(2), generator=g),
    "identity": lambda w, g: nn.init.eye_(w),
    # Every layer of the seed recipe's MLP (784-256-128-10) narrows: ZerO is the partial identity.
    "zero_hadamard": lambda w, g: nn.init.eye_(w),
    "seed_zero": lambda w, g: nn.init.zeros_(w),
    "seed_random": lambda w, g: nn.init.xavier_uniform_(w, generator=g),
}


def by_name(name: str) -> str:
    return f"init={name}"


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def init_model(name: str, model: nn.Module, seed: int = 0,
               inputs: torch.Tensor | None = None) -> nn.Module:
    """Apply scheme ``name``; data-driven schemes get ``inputs`` (default: N(0, 3^2) rows, so
    that LSUV has to rescale: an orthogonal layer keeps the input std, here 3)."""
    scheme = initializers.get(name)
    if scheme.needs_data and inputs is None:
        n_in = linear_layers(model)[0].in_features
        inputs = 3 * torch.randn(2 * LSUV_BATCH, n_in, generator=gen(12345))
    return scheme(model, gen(seed), inputs)


def check_normal(w: torch.Tensor, sigma: float, what: str) -> None:
    w = w.double()
    n = w.numel()
    mean_tol = K_SE * sigma / math.sqrt(n)
    var_tol = K_SE * sigma**2 * math.sqrt(2 / (n - 1))
    mean = w.mean().item()
    assert abs(mean) < mean_tol, f"{what}: mean {mean:.3g} beyond {mean_tol:.3g} (6 SE)"
    var = w.var().item()
    assert abs(var - sigma**2) < var_tol, (
        f"{what}: variance {var:.6g}, formula {sigma**2:.6g}, tolerance {var_tol:.3g} (6 SE)")
    assert w.abs().max().item() > 4 * sigma, f"{what}: no weight beyond 4 sigma: not a normal?"


def check_truncated_normal(w: torch.Tensor, sigma: float, what: str) -> None:
    """Std sigma after the cut, no weight beyond the cut 2 sigma / 0.8796, and the cut reached:
    P(|z| in (1.99, 2) | |z| < 2) = 2 * 0.0011 / 0.9545 per weight, so 10^6 weights reach it."""
    w = w.double()
    n = w.numel()
    mean_tol = K_SE * sigma / math.sqrt(n)
    var_tol = K_SE * sigma**2 * math.sqrt(2 / (n - 1))  # the normal's SE bounds the truncated's
    assert abs(w.mean().item()) < mean_tol, f"{what}: mean {w.mean().item():.3g} beyond 6 SE"
    assert abs(w.var().item() - sigma**2) < var_tol, (
        f"{what}: variance {w.var().item():.6g}, formula {sigma**2:.6g}, tol {var_tol:.3g}")
    cut = 2 * sigma / _TRUNC_STD
    top = w.abs().max().item()
    assert top <= cut * (1 + 1e-6), f"{what}: |w| = {top:.6g} beyond the cut {cut:.6g}"
    assert top > 0.995 * cut, f"{what}: max |w| = {top:.6g} never nears the cut {cut:.6g}"


def check_uniform(w: torch.Tensor, bound: float, what: str) -> None:
    w = w.double()
    n = w.numel()
    sigma2 = bound**2 / 3
    mean_tol = K_SE * math.sqrt(sigma2 / n)
    var_tol = K_SE * sigma2 * math.sqrt(0.8 / n)
    mean = w.mean().item()
    assert abs(mean) < mean_tol, f"{what}: mean {mean:.3g} beyond {mean_tol:.3g} (6 SE)"
    assert abs(w.var().item() - sigma2) < var_tol, (
        f"{what}: variance {w.var().item():.6g}, formula a^2/3 = {sigma2:.6g}, tol {var_tol:.3g}")
    top = w.abs().max().item()
    # Upper: the bound itself, plus float32 rounding of a (relative 6e-8).
    assert top <= bound * (1 + 1e-6), f"{what}: |w| = {top:.8g} exceeds the bound {bound:.8g}"
    assert top > bound * (1 - 20 / n), f"{what}: max |w| = {top:.8g} never nears {bound:.8g}"


# ---------------------------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------------------------

def test_registry_every_scheme_has_a_law_and_a_reference() -> None:
    registered, laws = set(NAMES), set(WEIGHT_LAWS)
    assert registered == laws, (
        f"tests/test_initializers.py WEIGHT_LAWS is out of date with the registry: "
        f"add {sorted(registered - laws)}, drop {sorted(laws - registered)}")
    referenced = set(TORCH_REFERENCE) | {"torch_default", "lsuv", "metainit"}
    assert registered == referenced, (
        f"TORCH_REFERENCE is out of date with the registry: {sorted(registered ^ referenced)}")


def test_registry_unknown_name_lists_valid_names() -> None:
    with pytest.raises(ValueError) as info:
        initializers.get("he_norml")
    message = str(info.value)
    assert "he_norml" in message, f"the error should repeat the bad name: {message}"
    missing = [name for name in NAMES if name not in message]
    assert not missing, f"the error should list every valid name, lacks {missing}: {message}"


@pytest.mark.parametrize("alias", sorted(initializers.ALIASES))
def test_registry_alias_resolves_to_canonical(alias: str) -> None:
    target = initializers.ALIASES[alias]
    assert initializers.get(alias) is initializers.get(target), f"{alias} should be {target}"
    assert alias not in NAMES, f"alias {alias} should not be listed as a scheme of its own"


@pytest.mark.parametrize("name", NAMES, ids=by_name)
def test_registry_scheme_declares_formula_and_bias(name: str) -> None:
    scheme = initializers.get(name)
    assert scheme.name == name, f"registered as {name} but named {scheme.name}"
    assert scheme.formula.strip(), f"{name} has no formula to show in `initcore list`"
    expected_bias = "torch_default" if name in TORCH_DEFAULT_BIAS else "zeros"
    assert scheme.bias == expected_bias, f"{name}: bias rule {scheme.bias}, not {expected_bias}"
    assert scheme.needs_data == (name in DATA_SCHEMES), f"{name}: needs_data={scheme.needs_data}"


# ---------------------------------------------------------------------------------------------
# Each scheme against its formula
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES, ids=by_name)
def test_initializer_weights_follow_formula(name: str) -> None:
    layer = nn.Linear(FAN_IN, FAN_OUT)
    init_model(name, nn.Sequential(layer), seed=1)
    w = layer.weight.detach()
    law, scale = WEIGHT_LAWS[name]
    what = f"{name} on Linear({FAN_IN}, {FAN_OUT})"
    if law == "zero":
        assert torch.count_nonzero(w) == 0, f"{what}: {torch.count_nonzero(w)} nonzero weights"
    elif law == "normal":
        check_normal(w, scale(FAN_IN, FAN_OUT), what)
    elif law == "uniform":
        check_uniform(w, scale(FAN_IN, FAN_OUT), what)
    elif law == "truncated_normal":
        check_truncated_normal(w, scale(FAN_IN, FAN_OUT), what)
    elif law == "eye":
        assert torch.equal(w, torch.eye(FAN_OUT, FAN_IN)), f"{what}: W is not the partial identity"
    elif law == "rescaled_lecun":
        reference = nn.init.kaiming_normal_(torch.empty(FAN_OUT, FAN_IN), nonlinearity="linear",
                                            generator=gen(1))
        c = (w.double().norm() / reference.double().norm()).item()
        # 1e-5: float32 rounding of the rescaling, repeated once per MetaInit step.
        err = (w.double() / c - reference.double()).abs().max().item()
        assert err < 1e-5 * reference.abs().max().item(), (
            f"{what}: W / {c:.4g} differs from the lecun_normal draw by {err:.3g}: MetaInit "
            "changed a direction, not only the norm")
    elif law in ("orthogonal", "scaled_orthogonal"):
        gram = (w @ w.T).double()  # (FAN_OUT, FAN_OUT): rows orthonormal since FAN_OUT < FAN_IN
        c2 = (gram.diagonal().mean().item() if law == "scaled_orthogonal"
              else scale(FAN_IN, FAN_OUT) ** 2)
        if law == "scaled_orthogonal":  # LSUV divided the orthogonal W by the output std, ~3
            assert 0.05 < c2 < 0.2, f"{what}: row norm^2 {c2:.4g}, expected about 1/9"
        # 1e-5: float32 rounding of 2000-term dot products (measured 7e-7 for both schemes).
        err = (gram / c2 - torch.eye(FAN_OUT, dtype=torch.float64)).abs().max().item()
        assert err < 1e-5, f"{what}: W W^T / {c2:.4g} differs from I by {err:.3g}"
        if law == "orthogonal":  # the diagonal checks the gain itself: W W^T = g^2 I
            mean_diag = gram.diagonal().mean().item()
            assert abs(mean_diag - c2) < 1e-5 * c2, f"{what}: row norm^2 {mean_diag:.6g} != {c2}"
    else:
        raise AssertionError(f"unknown law {law!r} in WEIGHT_LAWS")


@pytest.mark.parametrize("name", NAMES, ids=by_name)
def test_initializer_biases_zero_unless_torch_default(name: str) -> None:
    model = init_model(name, MLP(SEED_RECIPE), seed=2)
    for i, layer in enumerate(linear_layers(model)):
        b = layer.bias.detach()
        if name in TORCH_DEFAULT_BIAS:
            bound = 1 / math.sqrt(layer.in_features)
            assert b.abs().max() <= bound, f"{name} layer {i}: |b| beyond 1/sqrt(fan_in)"
            # A uniform float32 draw is exactly 0 with probability ~2^-24 per entry.
            assert torch.count_nonzero(b) == b.numel(), f"{name} layer {i}: zero bias entries"
        else:
            assert torch.count_nonzero(b) == 0, f"{name} layer {i}: biases should be exactly 0"


def test_zeros_weights_and_biases_exactly_zero() -> None:
    model = init_model("zeros", MLP(SEED_RECIPE))
    for i, p in enumerate(model.parameters()):
        assert torch.count_nonzero(p) == 0, f"zeros: parameter {i} has nonzero entries"


def test_seed_zero_weights_zero_biases_random() -> None:
    model = init_model("seed_zero", MLP(SEED_RECIPE))
    for i, layer in enumerate(linear_layers(model)):
        assert torch.count_nonzero(layer.weight) == 0, f"seed_zero layer {i}: weights not 0"
        assert torch.count_nonzero(layer.bias) == layer.bias.numel(), (
            f"seed_zero layer {i}: the notebook's 'zero' case keeps nn.Linear's random biases")


@pytest.mark.parametrize("shape", [(256, 784), (128, 256), (10, 128), (40, 10)],
                         ids=lambda s: f"shape={s[0]}x{s[1]}")
def test_orthogonal_rows_or_columns_orthonormal(shape: tuple[int, int]) -> None:
    out_f, in_f = shape
    layer = nn.Linear(in_f, out_f)
    init_model("orthogonal", nn.Sequential(layer), seed=3)
    w = layer.weight.detach().double()
    # Rows are orthonormal when there are fewer of them than columns, else the columns are.
    gram = w @ w.T if out_f <= in_f else w.T @ w
    err = (gram - torch.eye(gram.shape[0], dtype=torch.float64)).abs().max().item()
    assert err < 1e-5, f"orthogonal {shape}: Gram matrix off the identity by {err:.3g} (tol 1e-5)"


@pytest.mark.parametrize("shape", [(600, 256), (2048, 784), (1024, 784), (8, 3), (5, 5),
                                   (10, 128)], ids=lambda s: f"shape={s[0]}x{s[1]}")
def test_zero_hadamard_follows_sylvester_formula(shape: tuple[int, int]) -> None:
    """ZerO (Zhao et al. 2022, Algorithm 1): W = I* when out <= in; when the layer widens,
    W_ij = H_ij / sqrt(p) with p = 2^ceil(log2 out) and H the Sylvester Hadamard matrix, whose
    entries are (-1)^popcount(i & j) (written out here independently of scipy.linalg.hadamard)."""
    out_f, in_f = shape
    w = initializers.zero_hadamard_(torch.empty(out_f, in_f)).double()
    if out_f <= in_f:
        assert torch.equal(w, torch.eye(out_f, in_f, dtype=torch.float64)), f"{shape}: not I*"
        return
    p = 2 ** math.ceil(math.log2(out_f))
    i, j = torch.meshgrid(torch.arange(out_f), torch.arange(in_f), indexing="ij")
    parity = torch.tensor([bin(v).count("1") % 2 for v in (i & j).flatten().tolist()])
    expected = (1 - 2 * parity.double()).reshape(out_f, in_f) / math.sqrt(p)
    err = (w - expected).abs().max().item()
    assert err < 1e-7, f"{shape}: W differs from (-1)^popcount(i&j) / sqrt({p}) by {err:.3g}"
    if out_f == p:  # all p rows of an orthogonal H / sqrt(p): the columns are orthonormal
        gram_err = (w.T @ w - torch.eye(in_f, dtype=torch.float64)).abs().max().item()
        assert gram_err < 1e-6, f"{shape}: W^T W differs from I by {gram_err:.3g}"


def test_zero_hadamard_on_the_zero_paper_mlp() -> None:
    """The ZerO paper's MNIST MLP (784-784-2048-2048-10): identity, Hadamard (widening), identity,
    partial identity; the widening layer's columns are orthonormal, so it keeps the norm of its
    input (|Wx| = |x|) instead of copying it into the first 784 units."""
    model = init_model("zero_hadamard", MLP([784, 784, 2048, 2048, 10]))
    w1, w2, w3, w4 = (layer.weight.detach().double() for layer in linear_layers(model))
    assert torch.equal(w1, torch.eye(784, dtype=torch.float64)), "784 -> 784 is not I"
    assert torch.equal(w3, torch.eye(2048, dtype=torch.float64)), "2048 -> 2048 is not I"
    assert torch.equal(w4, torch.eye(10, 2048, dtype=torch.float64)), "2048 -> 10 is not I*"
    assert (w2.abs() - 1 / math.sqrt(2048)).abs().max() < 1e-7, "784 -> 2048: not +-1/sqrt(p)"
    x = torch.randn(16, 784, generator=gen(13), dtype=torch.float64)
    ratio = (x @ w2.T).norm(dim=1) / x.norm(dim=1)
    assert (ratio - 1).abs().max() < 1e-6, f"784 -> 2048 changed |x| by {ratio.tolist()}"
    assert torch.count_nonzero(x @ w2.T) > 784 * 16, "784 -> 2048 only copied the input"


# ---------------------------------------------------------------------------------------------
# Against torch.nn.init (same generator -> bit-identical tensors)
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(TORCH_REFERENCE), ids=by_name)
def test_initializer_equals_torch_nn_init(name: str) -> None:
    ours = init_model(name, MLP(SEED_RECIPE), seed=4)
    if name in TORCH_DEFAULT_BIAS:
        # The seed notebook's procedure: seed, build the model (each nn.Linear draws its weight,
        # then its bias, from the global generator), then replace every weight.
        torch.manual_seed(4)
        reference, g = MLP(SEED_RECIPE), None
    else:
        reference, g = MLP(SEED_RECIPE), gen(4)
    with torch.no_grad():
        for layer in linear_layers(reference):
            if name not in TORCH_DEFAULT_BIAS:
                nn.init.zeros_(layer.bias)
            TORCH_REFERENCE[name](layer.weight, g)
    for (pname, p), q in zip(ours.named_parameters(), reference.parameters()):
        assert torch.equal(p, q), (
            f"{name}: {pname} differs from torch.nn.init by {(p - q).abs().max().item():.3g}")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_torch_default_equals_fresh_nn_linear(seed: int) -> None:
    torch.manual_seed(seed)
    fresh = MLP(SEED_RECIPE)  # each nn.Linear draws weight then bias from the global generator
    ours = init_model("torch_default", MLP(SEED_RECIPE), seed=seed)
    for (pname, p), q in zip(ours.named_parameters(), fresh.parameters()):
        assert torch.equal(p, q), f"torch_default seed {seed}: {pname} differs from nn.Linear's"


def test_seed_zero_keeps_nn_linear_biases() -> None:
    # seed_zero draws no weights, so its biases are exactly those of a fresh nn.Linear stack.
    # (seed_random is not: it draws each layer's Xavier weight before the next layer's default
    # bias, so only its first layer matches; test_initializer_equals_torch_nn_init replays that.)
    torch.manual_seed(5)
    fresh = MLP(SEED_RECIPE)
    ours = init_model("seed_zero", MLP(SEED_RECIPE), seed=5)
    for i, (a, b) in enumerate(zip(linear_layers(ours), linear_layers(fresh))):
        assert torch.equal(a.bias, b.bias), f"seed_zero layer {i}: bias is not nn.Linear's draw"


# ---------------------------------------------------------------------------------------------
# variance_scaling_
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, reference", [
    ((2.0, "fan_in", "normal"), lambda w, g: nn.init.kaiming_normal_(
        w, nonlinearity="relu", generator=g)),
    ((2.0, "fan_out", "normal"), lambda w, g: nn.init.kaiming_normal_(
        w, mode="fan_out", nonlinearity="relu", generator=g)),
    ((2.0, "fan_in", "uniform"), lambda w, g: nn.init.kaiming_uniform_(
        w, nonlinearity="relu", generator=g)),
    ((1.0, "fan_in", "normal"), lambda w, g: nn.init.kaiming_normal_(
        w, nonlinearity="linear", generator=g)),
    ((1.0, "fan_avg", "uniform"), lambda w, g: nn.init.xavier_uniform_(w, generator=g)),
    ((1.0, "fan_avg", "normal"), lambda w, g: nn.init.xavier_normal_(w, generator=g)),
], ids=["he_normal", "he_normal_fan_out", "he_uniform", "lecun_normal", "xavier_uniform",
        "xavier_normal"])
def test_variance_scaling_special_cases_equal_torch(args, reference) -> None:
    for shape in [(256, 784), (10, 128), (500, 2000)]:
        ours = variance_scaling_(torch.empty(shape), *args, generator=gen(6))
        theirs = reference(torch.empty(shape), gen(6))
        assert torch.equal(ours, theirs), (
            f"variance_scaling_{args} on {shape} differs from torch by "
            f"{(ours - theirs).abs().max().item():.3g}")


@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg"])
@pytest.mark.parametrize("distribution", ["normal", "truncated_normal", "uniform"])
def test_variance_scaling_variance_is_scale_over_fan(mode: str, distribution: str) -> None:
    scale = 2.0
    n = {"fan_in": FAN_IN, "fan_out": FAN_OUT, "fan_avg": (FAN_IN + FAN_OUT) / 2}[mode]
    w = variance_scaling_(torch.empty(FAN_OUT, FAN_IN), scale, mode, distribution,
                          generator=gen(7))
    what = f"variance_scaling_({scale}, {mode}, {distribution})"
    sigma = math.sqrt(scale / n)
    if distribution == "uniform":
        check_uniform(w, math.sqrt(3) * sigma, what)
        return
    w64 = w.double()
    var_tol = K_SE * sigma**2 * math.sqrt(2 / (N - 1))  # the normal's SE bounds the truncated
    assert abs(w64.var().item() - sigma**2) < var_tol, (
        f"{what}: variance {w64.var().item():.6g}, scale/n = {sigma**2:.6g} +- {var_tol:.2g}")
    if distribution == "truncated_normal":
        # Truncated at 2 std of the underlying normal, whose std is sigma / 0.8796...
        cut = 2 * sigma / initializers.TRUNCATED_NORMAL_STD
        assert w64.abs().max().item() <= cut * (1 + 1e-6), f"{what}: a weight beyond the cut"


def test_variance_scaling_truncation_constant_matches_scipy() -> None:
    exact = stats.truncnorm(-2, 2).std()
    assert abs(initializers.TRUNCATED_NORMAL_STD - exact) < 1e-12, (
        f"std of N(0,1) truncated to (-2, 2) is {exact!r}, module uses "
        f"{initializers.TRUNCATED_NORMAL_STD!r}")


@pytest.mark.parametrize("kwargs, valid", [
    ({"mode": "fan_sum"}, ("fan_in", "fan_out", "fan_avg")),
    ({"distribution": "cauchy"}, ("normal", "truncated_normal", "uniform")),
], ids=["mode", "distribution"])
def test_variance_scaling_invalid_option_lists_valid(kwargs: dict, valid: tuple) -> None:
    with pytest.raises(ValueError) as info:
        variance_scaling_(torch.empty(4, 4), **kwargs)
    message = str(info.value)
    bad = next(iter(kwargs.values()))
    assert bad in message, f"the error should name the bad value {bad!r}: {message}"
    assert all(v in message for v in valid), f"the error should list {valid}: {message}"


# ---------------------------------------------------------------------------------------------
# Determinism
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES, ids=by_name)
def test_initializer_same_seed_same_weights(name: str) -> None:
    a = init_model(name, MLP([784, 64, 32, 10]), seed=8)
    b = init_model(name, MLP([784, 64, 32, 10]), seed=8)
    for (pname, p), q in zip(a.named_parameters(), b.parameters()):
        assert torch.equal(p, q), f"{name}: {pname} differs between two runs with seed 8"


@pytest.mark.parametrize("name", sorted(DETERMINISTIC - {"zeros"}), ids=by_name)
def test_deterministic_scheme_ignores_the_seed(name: str) -> None:
    a = init_model(name, MLP([784, 64, 32, 10]), seed=8)
    b = init_model(name, MLP([784, 64, 32, 10]), seed=9)
    for (pname, p), q in zip(a.named_parameters(), b.parameters()):
        assert torch.equal(p, q), f"{name}: {pname} depends on the seed; the scheme has no noise"


@pytest.mark.parametrize("name", [n for n in NAMES if n not in DETERMINISTIC], ids=by_name)
def test_initializer_different_seed_different_weights(name: str) -> None:
    a = init_model(name, MLP([784, 64, 32, 10]), seed=8)
    b = init_model(name, MLP([784, 64, 32, 10]), seed=9)
    same = [pname for (pname, p), q in zip(a.named_parameters(), b.parameters())
            if torch.equal(p, q) and torch.count_nonzero(p) > 0]
    assert len(same) == 0, f"{name}: seeds 8 and 9 give identical {same}"


def test_initialize_uses_a_fresh_generator_per_seed() -> None:
    a = initializers.initialize(MLP([784, 64, 10]), "he_normal", seed=10)
    b = init_model("he_normal", MLP([784, 64, 10]), seed=10)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters())), (
        "initialize(model, name, seed) should equal the scheme applied with Generator(seed)")
