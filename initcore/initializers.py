"""The registry of weight-initialization schemes.

Organised like jax's initializers, filled in like ``torch.nn.init``:

* Schemes torch has (Xavier/Glorot, He/Kaiming, orthogonal) call ``torch.nn.init`` directly.
* What torch lacks -- the general :func:`variance_scaling_` rule (LeCun, truncated He),
  :func:`zero_hadamard_` (ZerO), the data-dependent :func:`lsuv_` and :func:`metainit_` -- is in
  :mod:`initcore.init_functions` (re-exported here), one in-place function each.

A registered :class:`Scheme` initializes every ``nn.Linear`` of a model in order, weight then bias,
from one explicit ``torch.Generator`` -- so every (scheme, seed) cell is reproducible on its own.
Biases are zero unless the scheme says otherwise.

The registry (as timm's): a private table reached only through functions. :func:`register` is
the public decorator (re-exported as ``initcore.register``): it takes a per-layer function
``fn(weight, generator)`` or a whole-model one ``fn(model, generator, data)``, told apart by
their signature, and the scheme's claims. The built-in schemes below use the internal
decorators :func:`register_per_layer` and :func:`register_model`; :func:`get`,
:func:`list_initializers`, :func:`register_scheme` and :func:`unregister` (for a ready-made
:class:`Scheme`, e.g. a test's deliberately broken one) complete it. Installed packages add
schemes through the entry-point group ``initcore.initializers`` (:data:`ENTRY_POINT_GROUP`),
loaded the first time the registry is listed or searched.

References:
    Glorot & Bengio (2010), Understanding the difficulty of training deep feedforward networks.
    He et al. (2015), Delving deep into rectifiers (arXiv:1502.01852).
    LeCun et al. (1998), Efficient BackProp.
    Saxe et al. (2014), Exact solutions to the nonlinear dynamics of learning in deep linear nets.
    Mishkin & Matas (2016), All you need is a good init (arXiv:1511.06422).
    Dauphin & Schoenholz (2019), MetaInit: Initializing learning by learning to initialize
        (NeurIPS 2019).
    Zhao et al. (2022), ZerO Initialization: Initializing Neural Networks with only Zeros and Ones
        (arXiv:2110.12661).
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata

import torch
from torch import Tensor, nn

from .init_functions import (  # re-exported: callers reach them through the registry module
    TRUNCATED_NORMAL_STD as TRUNCATED_NORMAL_STD,
)
from .init_functions import (
    gradient_quotient as gradient_quotient,
)
from .init_functions import (
    linear_layers as linear_layers,
)
from .init_functions import (
    lsuv_ as lsuv_,
)
from .init_functions import (
    metainit_ as metainit_,
)
from .init_functions import (
    torch_default_ as torch_default_,
)
from .init_functions import (
    variance_scaling_ as variance_scaling_,
)
from .init_functions import (
    zero_hadamard_ as zero_hadamard_,
)

# ---------------------------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------------------------

WeightFn = Callable[[Tensor, torch.Generator], object]
ModelFn = Callable[[nn.Module, torch.Generator, "Tensor | None"], None]

BIAS_RULES = ("zeros", "torch_default")
BUILT_IN = "built-in"  # Scheme.origin of the schemes defined in this module
ENTRY_POINT_GROUP = "initcore.initializers"  # where installed packages declare their schemes
NO_PLUGINS_ENV = "INITCORE_NO_PLUGINS"  # set to 1: do not load entry-point schemes
CLAIM_KINDS = ("not_worse_than", "better_than", "accuracy")


@dataclass(frozen=True)
class Claim:
    """What a scheme's author says it achieves in one experiment; ``pytest bench`` tests it with
    the regression gate's statistics (Welch, per-seed final accuracy) and fails if the data
    contradict it.

    * ``not_worse_than``: its mean accuracy is not significantly below ``other``'s (one-sided
      Welch at the gate's alpha, and a drop larger than the gate's MIN_ACC_DROP).
    * ``better_than``: its mean accuracy is significantly above ``other``'s (one-sided Welch).
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

LSUV_BATCH = 512  # rows of training data LSUV measures on (the paper uses one mini-batch)


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

    def apply(model: nn.Module, generator: torch.Generator, _data: Tensor | None) -> None:
        with torch.no_grad():
            if bias == "torch_default":
                # The seed notebook built the model (nn.Linear draws W then b, layer by layer)
                # and then replaced the weights: draw in that order, so its biases are exactly
                # those of a fresh model built after torch.manual_seed(seed).
                for layer in linear_layers(model):
                    torch_default_(layer.weight, layer.bias, generator)
            for layer in linear_layers(model):
                weight_fn(layer.weight, generator)
                if bias == "zeros" and layer.bias is not None:
                    nn.init.zeros_(layer.bias)

    return apply


def register_per_layer(name: str, formula: str, bias: str = "zeros"):
    """Decorator (built-in schemes): register a weight-level function ``fn(weight, generator)``
    as a scheme applied to every Linear layer in order; biases follow the rule ``bias``."""

    def decorate(weight_fn: WeightFn) -> WeightFn:
        register_scheme(Scheme(name, formula, bias, needs_data=False,
                               apply=_per_layer(weight_fn, bias)))
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
    """"layer" for ``fn(weight, generator)``, "model" for ``fn(model, generator, data)``:
    the number of positional parameters without a default; ValueError (one line) otherwise."""
    what = getattr(fn, "__qualname__", repr(fn))
    if not callable(fn):
        raise ValueError(f"{what} is not a function")
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        raise ValueError(f"cannot read the signature of {what}") from None
    positional = [p for p in parameters if p.default is p.empty and p.kind in (
        p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if any(p.kind == p.VAR_POSITIONAL for p in parameters) or len(positional) not in (2, 3):
        shown = ", ".join(p.name for p in positional)
        raise ValueError(f"{what}({shown}) has the wrong signature: an initializer takes "
                         "(weight, generator) or (model, generator, data)")
    return "layer" if len(positional) == 2 else "model"


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
        kind = signature_kind(fn)
        scheme_name = name or getattr(fn, "__name__", "")
        if not scheme_name.isidentifier():
            raise ValueError(f"initializer name {scheme_name!r} must be a Python identifier")
        text = formula or (inspect.getdoc(fn) or "").split("\n")[0].strip() or "(no formula given)"
        if kind == "layer" and needs_data:
            raise ValueError(f"{scheme_name}: a scheme that needs data must take "
                             "(model, generator, data)")
        if kind == "layer":
            rule = bias or "zeros"
            apply = _per_layer(fn, rule)
        else:
            rule, apply = bias or "set by the scheme", fn
        origin = f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', scheme_name)}"
        register_scheme(Scheme(scheme_name, text, rule, needs_data, apply, origin=origin,
                               claims=tuple(claims)), replace=replace)
        try:
            setattr(fn, SCHEME_ATTRIBUTE, scheme_name)
        except (AttributeError, TypeError):
            pass  # a builtin or a callable object that takes no attributes: the name is enough
        return fn

    return decorate


# Aliases by the other common name (torch.nn.init's kaiming_*, Glorot's own), listed once under
# their canonical name. Not jax's meaning of these names: jax's glorot_normal, he_normal and
# lecun_normal are truncated normals (here: lecun_truncated_normal, he_truncated_normal);
# kaiming_normal and glorot_normal below are untruncated, as torch.nn.init's are.
ALIASES = {"kaiming_normal": "he_normal", "kaiming_uniform": "he_uniform",
           "glorot_normal": "xavier_normal", "glorot_uniform": "xavier_uniform"}


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


@register_per_layer("xavier_uniform", "U(+-sqrt(6/(fan_in+fan_out))): Var = 2/(fan_in+fan_out)")
def xavier_uniform(w, g):
    return nn.init.xavier_uniform_(w, generator=g)


@register_per_layer("xavier_normal", "N(0, 2/(fan_in+fan_out))")
def xavier_normal(w, g):
    return nn.init.xavier_normal_(w, generator=g)


@register_per_layer("he_uniform", "U(+-sqrt(6/fan_in)): Var = 2/fan_in")
def he_uniform(w, g):
    return nn.init.kaiming_uniform_(w, nonlinearity="relu", generator=g)


@register_per_layer("he_normal", "N(0, 2/fan_in)")
def he_normal(w, g):
    return nn.init.kaiming_normal_(w, nonlinearity="relu", generator=g)


@register_per_layer("lecun_normal", "N(0, 1/fan_in)")
def lecun_normal(w, g):
    return variance_scaling_(w, 1.0, "fan_in", "normal", generator=g)


@register_per_layer("lecun_uniform", "U(+-sqrt(3/fan_in)): Var = 1/fan_in")
def lecun_uniform(w, g):
    """LeCun et al. (1998) as Keras and JAX define it: variance_scaling(1, fan_in, uniform)."""
    return variance_scaling_(w, 1.0, "fan_in", "uniform", generator=g)


@register_per_layer("lecun_truncated_normal",
                    "N(0, s^2) cut at +-2s, s = sqrt(1/fan_in)/0.8796: Var = 1/fan_in")
def lecun_truncated_normal(w, g):
    """Keras/JAX ``lecun_normal``: variance_scaling(1, fan_in, truncated_normal). The normal is
    cut at 2 of its standard deviations and widened by 1/0.8796 so the variance stays 1/fan_in
    (Klambauer et al. 2017 pair it with SELU)."""
    return variance_scaling_(w, 1.0, "fan_in", "truncated_normal", generator=g)


@register_per_layer("he_truncated_normal",
                    "N(0, s^2) cut at +-2s, s = sqrt(2/fan_in)/0.8796: Var = 2/fan_in")
def he_truncated_normal(w, g):
    """Keras/JAX ``he_normal`` (He et al. 2015): variance_scaling(2, fan_in, truncated_normal),
    the truncated normal keeping Var = 2/fan_in. (torch's kaiming_normal_, our he_normal, does
    not truncate.)"""
    return variance_scaling_(w, 2.0, "fan_in", "truncated_normal", generator=g)


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
    _REGISTRY["orthogonal"].apply(model, g, None)
    rows = torch.randperm(data.shape[0], generator=g)[:LSUV_BATCH]
    lsuv_(model, data[rows].to(next(model.parameters()).device))


METAINIT_STEPS = 100  # the paper's code runs 500; 100 reach the plateau of GQ here (see metainit_)


@register_model("metainit", "N(0, 1/fan_in), then each |W_l| tuned by signSGD on the "
                "GradQuotient |Hg/g| (100 steps)", bias="zeros", needs_data=True)
def metainit(model, g, data):
    """MetaInit (Dauphin & Schoenholz 2019): LeCun-normal directions (a scale that is not the
    ReLU's, left for MetaInit to find), then :func:`metainit_` on batches of ``data`` with
    random labels. Biases zero."""
    _REGISTRY["lecun_normal"].apply(model, g, None)
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


class PluginError(ValueError):
    """An installed plugin (entry point) or a ``module:function`` reference cannot be used."""


_PLUGINS_LOADED: list[str] = []  # entry points loaded so far, "name = value (distribution)"
_plugins_state = {"loaded": False}


def load_entry_points() -> list[str]:
    """Import every entry point of the group ``initcore.initializers`` once (unless the env
    INITCORE_NO_PLUGINS is set): its value is a module whose import registers schemes with
    :func:`register`, or a function, registered (if its module did not already) under the entry
    point's name. Returns the entry points loaded; PluginError (one line) names a broken one."""
    if _plugins_state["loaded"] or os.environ.get(NO_PLUGINS_ENV):
        return list(_PLUGINS_LOADED)
    _plugins_state["loaded"] = True  # before loading: a plugin's own get() must not recurse
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        where = f"entry point {entry.name!r} = {entry.value!r} ({ENTRY_POINT_GROUP})"
        try:
            loaded = entry.load()
            if callable(loaded) and not hasattr(loaded, SCHEME_ATTRIBUTE):
                register(entry.name)(loaded)
        except Exception as e:  # any failure of third-party code: one line, with its name
            raise PluginError(f"{where}: {type(e).__name__}: {' '.join(str(e).split())} "
                              f"(set {NO_PLUGINS_ENV}=1 to skip plugins)") from None
        dist = getattr(entry, "dist", None)
        _PLUGINS_LOADED.append(f"{entry.name} = {entry.value}"
                               + (f" ({dist.name})" if dist is not None else ""))
    return list(_PLUGINS_LOADED)


def load_reference(reference: str) -> str:
    """Register the function a ``package.module:function`` reference names (unless importing its
    module already did, through :func:`register`) and return the scheme's name.

    The module is imported as ``python -m`` would: the current folder comes first on the path,
    so a file ``myfile_module.py`` beside the user is found. PluginError (one line) for a module
    that does not import, a missing attribute, or a function with the wrong signature."""
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise PluginError(f"--init {reference!r}: expected package.module:function")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        target = importlib.import_module(module_name)
    except Exception as e:  # the user's module: any error in it is reported in one line
        raise PluginError(f"--init {reference}: cannot import {module_name!r} "
                          f"({type(e).__name__}: {' '.join(str(e).split())})") from None
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise PluginError(f"--init {reference}: module {module_name!r} has no {attribute!r}")
        target = getattr(target, part)
    name = getattr(target, SCHEME_ATTRIBUTE, None)
    if name is not None and name in _REGISTRY:
        return name
    try:
        register()(target)
    except ValueError as e:
        raise PluginError(f"--init {reference}: {e}") from None
    return getattr(target, SCHEME_ATTRIBUTE, getattr(target, "__name__", reference))


def resolve(name: str) -> str:
    """The canonical registered name of ``name``: a scheme's name or alias, or a
    ``module:function`` reference (loaded and registered). ValueError (one line) otherwise."""
    return load_reference(name) if ":" in name else get(name).name


def builtin_names() -> list[str]:
    """The schemes initcore itself defines, in registration order (no plugin is loaded)."""
    return [name for name, scheme in _REGISTRY.items() if scheme.built_in]


def list_initializers() -> list[str]:
    """Canonical names of every registered scheme, in registration order: the built-in ones,
    then those of installed plugins and of ``register`` calls."""
    load_entry_points()
    return list(_REGISTRY)


def get(name: str) -> Scheme:
    """The scheme called ``name`` (or an alias of it); ValueError listing valid names if unknown."""
    key = ALIASES.get(name, name)
    if key not in _REGISTRY:
        load_entry_points()
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
