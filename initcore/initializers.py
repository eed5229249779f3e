"""The registry of weight-initialization schemes.

Organised like jax's initializers, filled in like ``torch.nn.init``:

* Schemes torch has (Xavier/Glorot, He/Kaiming, orthogonal) call ``torch.nn.init`` directly.
* What torch lacks -- the general :func:`variance_scaling_` rule (LeCun, truncated He),
  :func:`zero_hadamard_` (ZerO), the data-dependent :func:`lsuv_` and :func:`metainit_` -- is in
  :mod:`initcore.init_functions` (re-exported here), one in-place function each.

A registered :class:`Scheme` initializes every ``nn.Linear`` of a model in order, weight then bias,
from one explicit ``torch.Generator`` -- so every (scheme, seed) cell is reproducible on its own.
Biases are zero unless the scheme says otherwise.

This module is the public face of three (import from here; nothing moved out of reach): the
registry (:mod:`initcore.registry`, as timm's: a private table reached only through functions),
initcore's own schemes (:mod:`initcore.schemes`) and schemes from outside (:mod:`initcore.plugins`:
entry points and ``module:function`` references). :func:`register` is the public decorator
(re-exported as ``initcore.register``): it takes a per-layer function ``fn(weight, generator)``
or a whole-model one ``fn(model, generator, data)``, told apart by their signature, and the
scheme's claims. The built-in schemes use the internal
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

from . import schemes as schemes  # initcore's own schemes: registered as it is imported
from .init_functions import (  # re-exported: callers reach them through the registry module
    TRUNCATED_NORMAL_STD as TRUNCATED_NORMAL_STD,
)
from .init_functions import gradient_quotient as gradient_quotient
from .init_functions import linear_layers as linear_layers
from .init_functions import lsuv_ as lsuv_
from .init_functions import metainit_ as metainit_
from .init_functions import torch_default_ as torch_default_
from .init_functions import variance_scaling_ as variance_scaling_
from .init_functions import zero_hadamard_ as zero_hadamard_
from .plugins import ENTRY_POINT_GROUP as ENTRY_POINT_GROUP
from .plugins import NO_PLUGINS_ENV as NO_PLUGINS_ENV
from .plugins import PluginError as PluginError
from .plugins import load_entry_points as load_entry_points
from .plugins import load_reference as load_reference
from .plugins import resolve as resolve
from .registry import ALIASES as ALIASES
from .registry import BIAS_RULES as BIAS_RULES
from .registry import BUILT_IN as BUILT_IN
from .registry import CLAIM_KINDS as CLAIM_KINDS
from .registry import SCHEME_ATTRIBUTE as SCHEME_ATTRIBUTE
from .registry import Claim as Claim
from .registry import ModelFn as ModelFn
from .registry import Scheme as Scheme
from .registry import WeightFn as WeightFn
from .registry import accuracy as accuracy
from .registry import better_than as better_than
from .registry import builtin_names as builtin_names
from .registry import builtin_scheme as builtin_scheme
from .registry import get as get
from .registry import initialize as initialize
from .registry import list_initializers as list_initializers
from .registry import not_worse_than as not_worse_than
from .registry import register as register
from .registry import register_model as register_model
from .registry import register_per_layer as register_per_layer
from .registry import register_scheme as register_scheme
from .registry import signature_kind as signature_kind
from .registry import unregister as unregister
from .residual_schemes import RESIDUAL_SCHEMES as RESIDUAL_SCHEMES
from .residual_schemes import layer_roles as layer_roles
from .schemes import LSUV_BATCH as LSUV_BATCH
from .schemes import METAINIT_STEPS as METAINIT_STEPS
