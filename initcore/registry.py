"""The registry of weight-initialization schemes: a private table reached only through functions.

As timm's ``_registry.py``: :func:`register` is the public decorator (re-exported as
``initcore.register``): it takes a per-layer function ``fn(weight, generator)`` or a whole-model
one ``fn(model, generator, data)``, told apart by their signature, and the scheme's claims. The
built-in schemes (:mod:`initcore.schemes`) use the internal decorators
:func:`register_per_layer` and :func:`register_model`; :func:`get`, :func:`list_initializers`,
:func:`register_scheme` and :func:`unregister` (for a ready-made :class:`Scheme`, e.g. a test's
deliberately broken one) complete it. Schemes of installed packages are loaded
(:mod:`initcore.plugins`, through :func:`add_loader`) the first time the registry is listed or
searched. The public face of all three is :mod:`initcore.initializers`.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from . import user_calls
from .init_functions import linear_layers, torch_default_, variance_scaling_
from .residual_schemes import layer_roles

WeightFn = Callable[[Tensor, torch.Generator], object]
ModelFn = Callable[[nn.Module, torch.Generator, "Tensor | None"], None]

BIAS_RULES = ("zeros", "torch_default")
BUILT_IN = "built-in"  # Scheme.origin of initcore's own schemes (initcore.schemes)
CLAIM_KINDS = ("not_worse_than", "better_than", "accuracy")


@dataclass(frozen=True)
class Claim:
    """What a scheme's author says it achieves in one experiment; ``pytest bench`` tests it with
    the leaderboard's paired verdict (``initcore.verdicts.pair``: per-seed final accuracy, margin
    0.5 point, error rate the gate's ALPHA) and fails if the data contradict it.

    * ``not_worse_than``: the verdict against ``other`` is not ``worse``.
    * ``better_than``: the verdict against ``other`` is ``better``.
    * ``accuracy``: every seed's final accuracy lies within [min_acc, max_acc].

    Build them with :func:`not_worse_than`, :func:`better_than`, :func:`accuracy`.
    """

    kind: str  # one of CLAIM_KINDS
    experiment: str  # the profile experiment it is about, e.g. "deep-relu-short"
    other: str | None = None  # the scheme compared with (the two comparative kinds)
    min_acc: float | None = None  # kind "accuracy": lower bound on every seed (fraction)
    max_acc: float | None = None  # kind "accuracy": upper bound on every seed (fraction)

    def __post_init__(self) -> None:
        if self.kind not in CLAIM_KINDS:
            raise ValueError(f"claim kind {self.kind!r} not supported, use one of {CLAIM_KINDS}")
        if self.kind == "accuracy" and self.min_acc is None and self.max_acc is None:
            raise ValueError("an accuracy claim needs min_acc or max_acc")
        if self.kind != "accuracy" and not self.other:
            raise ValueError(f"a {self.kind} claim needs the scheme it is compared with")

    def __str__(self) -> str:
        if self.kind == "accuracy":
            low = "" if self.min_acc is None else f">= {self.min_acc:.2%}"
            high = "" if self.max_acc is None else f"<= {self.max_acc:.2%}"
            return f"accuracy {' and '.join(x for x in (low, high) if x)} on {self.experiment}"
        return f"{self.kind.replace('_', ' ')} {self.other} on {self.experiment}"


def not_worse_than(other: str, experiment: str) -> Claim:
    """Claim: not significantly worse than scheme ``other`` in ``experiment``."""
    return Claim("not_worse_than", experiment, other=other)


def better_than(other: str, experiment: str) -> Claim:
    """Claim: significantly better than scheme ``other`` in ``experiment``."""
    return Claim("better_than", experiment, other=other)


def accuracy(experiment: str, min_acc: float | None = None,
             max_acc: float | None = None) -> Claim:
    """Claim: every seed's final test accuracy in ``experiment`` lies in [min_acc, max_acc]."""
    return Claim("accuracy", experiment, min_acc=min_acc, max_acc=max_acc)



MODES = ("fan_in", "fan_out", "fan_avg")
DISTRIBUTIONS = ("normal", "uniform", "truncated_normal")


@dataclass(frozen=True)
class VarianceScaling:
    """A variance-scaling scheme as data (jax's ``variance_scaling(scale, mode, distribution)``):
    Var(W) = scale / n, with n the layer's fan_in, fan_out or their mean (fan_avg). The formula
    text, the tests' laws of W and the theory checks' signal ratios all come from here.

    Glorot & Bengio (2010): scale 1, fan_avg; He et al. (2015): scale 2, fan_in; LeCun et al.
    (1998): scale 1, fan_in."""

    scale: float  # Var(W) * n
    mode: str  # one of MODES: which n
    distribution: str  # one of DISTRIBUTIONS; truncated_normal: cut at 2 std, rescaled

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"Mode {self.mode} not supported, please use one of {MODES}")
        if self.distribution not in DISTRIBUTIONS:
            raise ValueError(f"Distribution {self.distribution} not supported, please use one "
                             f"of {DISTRIBUTIONS}")

    def fill_(self, weight: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Draw ``weight`` in place from this law (init_functions.variance_scaling_)."""
        return variance_scaling_(weight, self.scale, self.mode, self.distribution,
                                 generator=generator)

    def variance(self, fan_in: int, fan_out: int) -> float:
        """Var(W) of a fan_in -> fan_out layer."""
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        return self.scale / n

    def law(self) -> tuple[str, Callable[[int, int], float]]:
        """(distribution, its scale as a function of (fan_in, fan_out)): sigma for normal and
        truncated_normal (the std after the cut), the bound a = sqrt(3 Var) for uniform."""
        if self.distribution == "uniform":
            return "uniform", lambda fi, fo: math.sqrt(3 * self.variance(fi, fo))
        return self.distribution, lambda fi, fo: math.sqrt(self.variance(fi, fo))

    def relu_ratio(self) -> float:
        """n Var(W) / 2 in a net of equal widths (fan_in = fan_out = n): the factor by which a
        ReLU layer scales the second moment of the signal (He et al. 2015, eq. 10)."""
        return self.scale / 2

    def formula(self) -> str:
        """The formula text (``initcore list``, reports), e.g. ``N(0, 2/fan_in)``."""
        c = self.scale * (2 if self.mode == "fan_avg" else 1)
        n = "(fan_in+fan_out)" if self.mode == "fan_avg" else self.mode
        var = f"{c:g}/{n}"
        if self.distribution == "normal":
            return f"N(0, {var})"
        if self.distribution == "uniform":
            return f"U(+-sqrt({3 * c:g}/{n})): Var = {var}"
        return f"N(0, s^2) cut at +-2s, s = sqrt({var})/0.8796: Var = {var}"


@dataclass(frozen=True)
class Scheme:
    """One named initialization scheme, as the registry, the CLI and the reports see it."""

    name: str
    formula: str  # the distribution of W as text, shown by `initcore list` and in reports
    bias: str  # how biases are set: "zeros" or "torch_default" (U(+-1/sqrt(fan_in)))
    needs_data: bool  # True when the scheme must see training inputs (LSUV)
    apply: ModelFn  # initializes every nn.Linear of a model in place
    origin: str = BUILT_IN  # BUILT_IN, or where a user's scheme came from ("module:function")
    claims: tuple[Claim, ...] = ()  # what the scheme's author says it achieves; bench tests them
    variance: VarianceScaling | None = None  # a variance-scaling scheme's (scale, mode, law)

    @property
    def built_in(self) -> bool:
        """Whether initcore itself defines the scheme (the field a newcomer is ranked against)."""
        return self.origin == BUILT_IN

    def __call__(
        self, model: nn.Module, generator: torch.Generator, data: Tensor | None = None
    ) -> nn.Module:
        """Initialize ``model`` in place; ``data`` (training inputs) is required if needs_data."""
        if self.needs_data and data is None:
            raise ValueError(f"initializer {self.name!r} needs training data to initialize")
        self.apply(model, generator, data)
        return model


_REGISTRY: dict[str, Scheme] = {}


def register_scheme(scheme: Scheme, replace: bool = False) -> Scheme:
    """Add ``scheme`` to the registry under ``scheme.name``; ValueError if the name (or an alias)
    is taken, unless ``replace``. Returns ``scheme``."""
    if not replace and (scheme.name in _REGISTRY or scheme.name in ALIASES):
        raise ValueError(f"initializer {scheme.name!r} is already registered")
    taken = _REGISTRY.get(ALIASES.get(scheme.name, scheme.name))
    if taken is not None and taken.built_in and not scheme.built_in \
            and not user_calls.replacement_allowed(taken.name):
        # One rule for every way in (register, plugin, --init): a built-in's name is refused
        # unless the user running initcore asks, so one name means one function everywhere.
        raise ValueError(f"initializer {scheme.name!r} ({scheme.origin}) would replace the "
                         f"built-in {taken.name!r}: refused; rename it, or set "
                         f"{user_calls.REPLACE_ENV}={taken.name} to benchmark it under that name")
    if taken is not None and taken.name != scheme.name:
        del _REGISTRY[taken.name]  # an alias's scheme: the new one takes the alias's name
    _REGISTRY[scheme.name] = scheme
    return scheme


def unregister(name: str) -> Scheme:
    """Remove the scheme called ``name`` from the registry and return it; ValueError listing the
    valid names if there is none."""
    scheme = get(name)
    del _REGISTRY[scheme.name]
    return scheme


def _per_layer(weight_fn: WeightFn, bias: str) -> ModelFn:
    """A model-level function that applies ``weight_fn`` to every Linear layer's weight in order
    and sets the biases by the rule ``bias`` (one of BIAS_RULES)."""
    if bias not in BIAS_RULES:
        raise ValueError(f"Bias rule {bias} not supported, please use one of {BIAS_RULES}")

    takes_role = _takes_role(weight_fn)

    def apply(model: nn.Module, generator: torch.Generator, _data: Tensor | None) -> None:
        with torch.no_grad():
            if bias == "torch_default":
                # The seed notebook built the model (nn.Linear draws W then b, layer by layer)
                # and then replaced the weights: draw in that order, so its biases are exactly
                # those of a fresh model built after torch.manual_seed(seed).
                for layer in linear_layers(model):
                    torch_default_(layer.weight, layer.bias, generator)
            for layer, role in layer_roles(model):
                if takes_role:  # fn(weight, generator, *, role): where the layer sits
                    weight_fn(layer.weight, generator, role=role)
                else:
                    weight_fn(layer.weight, generator)
                if bias == "zeros" and layer.bias is not None:
                    nn.init.zeros_(layer.bias)

    return apply


def _takes_role(fn: Callable) -> bool:
    """True if ``fn`` accepts a keyword ``role`` (a :class:`~initcore.residual_schemes.LayerRole`:
    stem, hidden, branch layer k of block l of L, classifier), which :func:`_per_layer` passes."""
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "role" in parameters and parameters["role"].kind in (
        inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def register_per_layer(name: str, formula: str, bias: str = "zeros"):
    """Decorator (built-in schemes): register a weight-level function ``fn(weight, generator)``
    as a scheme applied to every Linear layer in order; biases follow the rule ``bias``."""

    def decorate(weight_fn: WeightFn) -> WeightFn:
        register_scheme(Scheme(name, formula, bias, needs_data=False,
                               apply=_per_layer(weight_fn, bias)))
        return weight_fn

    return decorate


def register_variance_scaling(name: str, variance: VarianceScaling):
    """Decorator (built-in schemes): register ``fn(weight, generator)``, which draws W with
    Var = ``variance``'s, as a per-layer scheme whose formula is ``variance.formula()``."""

    def decorate(weight_fn: WeightFn) -> WeightFn:
        register_scheme(Scheme(name, variance.formula(), "zeros", needs_data=False,
                               apply=_per_layer(weight_fn, "zeros"), variance=variance))
        return weight_fn

    return decorate


def register_model(name: str, formula: str, bias: str, needs_data: bool):
    """Decorator (built-in schemes): register a model-level function ``fn(model, generator,
    data)`` (one that must see the whole net or the training inputs) as a scheme."""

    def decorate(model_fn: ModelFn) -> ModelFn:
        register_scheme(Scheme(name, formula, bias, needs_data, apply=model_fn))
        return model_fn

    return decorate


SCHEME_ATTRIBUTE = "__initcore_scheme__"  # set on a registered function: the scheme's name


def signature_kind(fn: Callable) -> str:
    """"layer" for ``fn(weight, generator)``, "model" for ``fn(model, generator, data)``;
    also the forms users write (``f(weight, generator=None)``, ``torch.nn.init``'s functions):
    see :func:`initcore.user_calls.adapt`. ValueError (one line) otherwise."""
    return user_calls.adapt(fn)[0]


def register(name: str | None = None, formula: str | None = None, *, bias: str | None = None,
             needs_data: bool = False, claims: Sequence[Claim] = (), replace: bool = False):
    """Decorator: register a scheme of your own; the function is returned unchanged.

    ``@initcore.register("my_init", "N(0, 1.5/fan_in)")`` on either

    * ``fn(weight, generator)``: called on every ``nn.Linear`` weight in order, in place, under
      ``torch.no_grad``; biases follow ``bias`` ("zeros", the default, or "torch_default");
    * ``fn(model, generator, data)``: initializes the whole model in place (biases included:
      ``bias`` then only describes what it does, default "set by the scheme"); ``data`` is the
      training inputs when ``needs_data``, else None.

    Draw all randomness from ``generator`` (a seeded ``torch.Generator``): the suite's results
    are reproducible per (scheme, seed) only if the scheme is. ``name`` defaults to the
    function's name and ``formula`` to the first line of its docstring. ``claims`` are what the
    scheme is said to achieve (:func:`not_worse_than`, :func:`better_than`, :func:`accuracy`);
    ``pytest bench`` tests each. ValueError (one line) for a taken name or a wrong signature.
    """

    def decorate(fn: Callable) -> Callable:
        kind, call = user_calls.adapt(fn)
        scheme_name = name or getattr(fn, "__name__", "")
        if not scheme_name.isidentifier():
            raise ValueError(f"initializer name {scheme_name!r} must be a Python identifier")
        text = formula or (inspect.getdoc(fn) or "").split("\n")[0].strip() or "(no formula given)"
        if kind == "layer" and needs_data:
            raise ValueError(f"{scheme_name}: a scheme that needs data must take "
                             "(model, generator, data)")
        if kind == "layer":
            rule = bias or "zeros"
            apply = _per_layer(call, rule)
        else:
            rule, apply = bias or "set by the scheme", fn
        origin = f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', scheme_name)}"
        apply = user_calls.limited(apply, f"initializer {scheme_name!r} ({origin})")
        register_scheme(Scheme(scheme_name, text, rule, needs_data, apply, origin=origin,
                               claims=tuple(claims)), replace=replace)
        try:
            setattr(fn, SCHEME_ATTRIBUTE, scheme_name)
        except (AttributeError, TypeError):
            pass  # a builtin or a callable object that takes no attributes: the name is enough
        return fn

    return decorate



# Aliases: torch's (kaiming) and Keras's (glorot) names; listed once under their canonical name.
# Not jax's meaning: jax's glorot_normal / he_normal are truncated normals, these are not.
ALIASES = {"kaiming_normal": "he_normal", "kaiming_uniform": "he_uniform",
           "glorot_normal": "xavier_normal", "glorot_uniform": "xavier_uniform"}


_LOADERS: list[Callable[[], object]] = []  # called before a lookup misses (plugin loading)


def add_loader(loader: Callable[[], object]) -> None:
    """Have ``loader`` (which registers schemes, once) run before the registry is listed or a
    name is not found: how installed plugins join (:mod:`initcore.plugins`)."""
    if loader not in _LOADERS:
        _LOADERS.append(loader)


def _load_plugins() -> None:
    for loader in list(_LOADERS):
        loader()


def registered(name: str) -> bool:
    """Whether ``name`` is a registered scheme's canonical name (no plugin is loaded)."""
    return name in _REGISTRY


def builtin_scheme(name: str) -> Scheme:
    """The built-in scheme called ``name``, without loading plugins (for tables built at import
    time, where a broken plugin must not fail the import); KeyError if there is none."""
    scheme = _REGISTRY[ALIASES.get(name, name)]
    if not scheme.built_in:
        raise KeyError(name)
    return scheme


def builtin_names() -> list[str]:
    """The schemes initcore itself defines, in registration order (no plugin is loaded)."""
    return [name for name, scheme in _REGISTRY.items() if scheme.built_in]


def list_initializers() -> list[str]:
    """Canonical names of every registered scheme, in registration order: the built-in ones,
    then those of installed plugins and of ``register`` calls."""
    _load_plugins()
    return list(_REGISTRY)


def get(name: str) -> Scheme:
    """The scheme called ``name`` (or an alias of it); ValueError listing valid names if unknown."""
    key = ALIASES.get(name, name)
    _load_plugins()  # always (once): a plugin may take a name, or be broken
    if key not in _REGISTRY:
        raise ValueError(
            f"unknown initializer {name!r}; valid names: {', '.join(list_initializers())}"
        )
    return _REGISTRY[key]


def initialize(
    model: nn.Module, name: str, seed: int, data: Tensor | None = None
) -> nn.Module:
    """Initialize ``model`` with scheme ``name`` from a fresh generator seeded with ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    return get(name)(model, generator, data)

