"""Checking a user's scheme before any work, on the architectures it will be trained on.

A scheme from outside initcore (``initcore.register``, a plugin, ``--init module:function``)
is tried on every architecture of the run -- the profile's experiments or the command's
``--hidden`` -- and on a small trial net (two hidden layers of 64, one square, so a scheme
that only handles some shapes fails in a second), each model built as training builds it.
It is refused (ValueError, one line naming the scheme, the architecture and what is wrong) if:

* it raises, or does not finish within the time limit (:mod:`initcore.user_calls`);
* it resizes a parameter, changes its dtype, or leaves NaN/inf in it (e.g. NaN only on layers
  wider than the trial net: caught on the profile's own widths, not as a traceback in the
  middle of training some other scheme's test);
* it changes torch's default dtype (every later model would be built in it);
* it draws from torch's global random generator instead of the ``generator`` it is given:
  its results would not be reproducible per (scheme, seed), which every report assumes;
* called twice with a generator of the same seed, it gives different weights.

The global RNG state and default dtype are restored before the error is raised.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch

from . import initializers
from .errors import one_line
from .models import MLP, ResMLP, mlp_sizes, resmlp_name

TRIAL_HIDDEN = (64, 64)  # the trial net's hidden widths (the former check_scheme's net)
DATA_ROWS = 256  # rows of N(0, 1) inputs a data-dependent scheme sees in the check
# (inputs, hidden, classes, act, bias, residual): residual is None for an MLP of `hidden`, else
# a ResMLP's (blocks, width, branch_layers, branch_gain, scalar_bias) (recipe arch "resmlp")
Residual = tuple[int, int, int, bool, bool]
Architecture = tuple[int, tuple[int, ...], int, str, bool, "Residual | None"]


def architectures_of(configs: Iterable, n_features: int = 784, n_classes: int = 10
                     ) -> list[Architecture]:
    """The distinct architectures of recipes (``hidden``, ``activation``, ``bias`` fields, and
    a residual net's ``blocks``, ``width``, ``branch_layers``, ``branch_gain``, ``scalar_bias``
    when ``arch`` is "resmlp"), with the trial net first."""
    found = [(n_features, TRIAL_HIDDEN, n_classes, "relu", True, None)]
    for config in configs:
        residual = None
        if getattr(config, "arch", "mlp") == "resmlp":
            residual = (config.blocks, config.width, config.branch_layers, config.branch_gain,
                        config.scalar_bias)
        found.append((n_features, tuple(config.hidden), n_classes,
                      getattr(config, "activation", "relu"), getattr(config, "bias", True),
                      residual))
    return list(dict.fromkeys(found))


def check_scheme(name: str, architectures: Sequence[Architecture] | None = None) -> None:
    """Try scheme ``name`` on each architecture (default: the trial net on 784 inputs, 10
    classes), twice with Generator(0); ValueError (one line) for any problem listed in the
    module doc."""
    for arch in architectures or architectures_of([]):
        first = _init_once(name, arch)
        second = _init_once(name, arch)
        for (param, a), b in zip(first.items(), second.values()):
            if not torch.equal(a, b):
                raise ValueError(f"initializer {name!r} is not deterministic on "
                                 f"{_describe(arch)}: the same generator seed gave different "
                                 f"{param} twice (draw every random number from the "
                                 "generator it is given)")


def _describe(arch: Architecture) -> str:
    """``a 784-64-64-10 MLP`` (the activation named when it is not ReLU), or a residual net's
    report name (``resmlp-784-64x256-b2-10-relu``)."""
    n_in, hidden, n_out, activation, _, residual = arch
    if residual is not None:
        blocks, width, branch_layers, gain, scalar_bias = residual
        return resmlp_name(n_in, blocks, width, n_out, branch_layers, activation, gain,
                           scalar_bias)
    act = "" if activation == "relu" else f" {activation}"
    return "a " + "-".join(map(str, mlp_sizes(n_in, hidden, n_out))) + f"{act} MLP"


def _init_once(name: str, arch: Architecture) -> dict[str, torch.Tensor]:
    """The parameters of one model of ``arch`` initialized by ``name`` from Generator(0)."""
    scheme = initializers.get(name)
    n_in, hidden, n_out, activation, bias, residual = arch
    if residual is None:
        model = MLP(mlp_sizes(n_in, hidden, n_out), activation, bias=bias)
    else:
        blocks, width, branch_layers, gain, scalar_bias = residual
        model = ResMLP(n_in, width, blocks, n_out, branch_layers, activation, bias, gain,
                       scalar_bias)
    shapes = {k: (p.shape, p.dtype) for k, p in model.named_parameters()}
    data = (torch.randn(DATA_ROWS, n_in, generator=torch.Generator().manual_seed(0))
            if scheme.needs_data else None)
    where = f"initializer {name!r} on {_describe(arch)}"
    failed = f"initializer {name!r} failed on {_describe(arch)}"
    on = f"on {_describe(arch)}"
    rng, dtype = torch.get_rng_state(), torch.get_default_dtype()
    try:
        scheme(model, torch.Generator().manual_seed(0), data)
    except ValueError as e:
        raise ValueError(f"{where}: {one_line(e)}") from None
    except Exception as e:  # the user's code: whatever it raises becomes one line
        raise ValueError(f"{failed}: {type(e).__name__}: {one_line(e)}") from None
    finally:
        new_dtype = torch.get_default_dtype()
        torch.set_default_dtype(dtype)
        drew_global = not torch.equal(torch.get_rng_state(), rng)
        torch.set_rng_state(rng)
    if new_dtype != dtype:
        raise ValueError(f"{where}: it changed torch's default dtype from {dtype} to "
                         f"{new_dtype}; an initializer must leave it alone")
    if drew_global:
        raise ValueError(f"{where}: it draws from torch's global random generator, so its "
                         "weights would not be reproducible per seed; draw from the "
                         "generator it is given (e.g. torch.nn.init.normal_(w, 0, s, "
                         "generator=generator))")
    params = dict(model.named_parameters())
    if {k: (p.shape, p.dtype) for k, p in params.items()} != shapes:
        for k, (shape, kind) in shapes.items():
            p = params.get(k)
            if p is None:
                raise ValueError(f"initializer {name!r} removed {k} ({on})")
            if p.shape != shape:
                raise ValueError(f"initializer {name!r} changed the shape of {k} from "
                                 f"{tuple(shape)} to {tuple(p.shape)} ({on})")
            if p.dtype != kind:
                raise ValueError(f"initializer {name!r} changed the dtype of {k} from {kind} "
                                 f"to {p.dtype} ({on})")
        raise ValueError(f"initializer {name!r} changed the model's parameters ({on})")
    for k, p in params.items():
        if not torch.isfinite(p).all():
            raise ValueError(f"initializer {name!r} left NaN or inf in {k} ({on})")
    return {k: p.detach().clone() for k, p in params.items()}
