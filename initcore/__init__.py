"""initcore: a benchmark and regression suite for neural-network weight initialization.

The public registry API, for a scheme of your own (see README "Benchmark your own
initializer")::

    import initcore

    @initcore.register("my_init", "N(0, 1.5/fan_in)",
                       claims=[initcore.not_worse_than("he_normal", "deep-relu-short")])
    def my_init(weight, generator):
        fan_in = weight.shape[1]
        weight.normal_(0.0, (1.5 / fan_in) ** 0.5, generator=generator)

    initcore.list_initializers()      # every name, built-in ones first
    initcore.get("my_init").formula   # the Scheme: formula, bias rule, origin, claims
    initcore.unregister("my_init")

These names are loaded on first use (PEP 562): ``import initcore`` alone imports no torch, so
the pytest plugin stays light in every pytest session.
"""

from __future__ import annotations

__version__ = "0.1.0"

# public name -> the module of initcore that defines it
_PUBLIC = {name: "initcore.initializers" for name in (
    "register", "get", "list_initializers", "unregister", "resolve", "Scheme", "Claim",
    "not_worse_than", "better_than", "accuracy", "PluginError")}
_PUBLIC.update({name: "initcore.residual_schemes" for name in ("layer_roles", "LayerRole")})

__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name in _PUBLIC:
        import importlib

        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'initcore' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])
