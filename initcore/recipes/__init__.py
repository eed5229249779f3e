"""Recipes as TOML files: the shipped recipes of published MNIST-MLP tables, and the loader.

A recipe file holds the fields of :class:`initcore.train.Recipe` at its top level (any left out
keep the seed recipe's default) and, optionally, an ``[about]`` table of strings that say where
the recipe comes from (paper, code, what it leaves out)::

    hidden = [784, 2048, 2048]
    bias = false
    input_scaling = "unit"
    lr = 0.1
    momentum = 0.0
    schedule = "step"
    step_size = 12
    gamma = 0.7
    epochs = 20

    [about]
    paper = "Zhao et al. 2022, ZerO initialization"

An unknown key, a value of the wrong type or out of range is a :class:`RecipeError`: one line
naming the file and the key. Shipped recipes (``initcore/recipes/*.toml``, package data) are
found by name with :func:`shipped` and listed by :func:`list_shipped`.
"""

from __future__ import annotations

import importlib.resources
import sys
from dataclasses import fields
from pathlib import Path

from ..train import Recipe

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 (requires-python >= 3.10)
    import tomli as tomllib

FIELDS = {f.name: f for f in fields(Recipe)}
# The type each key must have in TOML (the dataclass annotations are strings under
# `from __future__ import annotations`): int where an integer is meant, float accepts an int.
_KINDS = {"hidden": "list of integers", "activation": "string", "bias": "boolean",
          "input_scaling": "string", "epochs": "integer", "batch_size": "integer",
          "optimizer": "string", "lr": "number", "momentum": "number", "betas": "list of numbers",
          "eps": "number", "weight_decay": "number", "schedule": "string",
          "step_size": "integer", "gamma": "number", "device": "string",
          "init_mult": "list of numbers", "lr_mult": "list of numbers",
          "bias_lr_mult": "list of numbers", "arch": "string",
          "blocks": "integer", "width": "integer", "branch_layers": "integer",
          "branch_gain": "boolean", "scalar_bias": "boolean"}


class RecipeError(ValueError):
    """A recipe file cannot be used: the message is one line naming the file (and the key)."""


def _type_ok(kind: str, value: object) -> bool:
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if kind == "integer":
        return is_int
    if kind == "number":
        return is_int or isinstance(value, float)
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "list of integers":
        return isinstance(value, list) and all(_type_ok("integer", v) for v in value)
    return isinstance(value, list) and all(_type_ok("number", v) for v in value)


def from_mapping(table: dict, where: str = "recipe", base: Recipe | None = None) -> Recipe:
    """A Recipe from a parsed TOML table (``about`` ignored), on top of ``base`` (default: the
    seed recipe); RecipeError naming ``where`` and the key for anything wrong."""
    values = {}
    for key, value in table.items():
        if key == "about":
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise RecipeError(f"{where}: [about] must be a table of strings")
            continue
        if key not in FIELDS:
            raise RecipeError(f"{where}: unknown key {key!r}; valid keys: "
                              f"{', '.join(FIELDS)}, [about]")
        if not _type_ok(_KINDS[key], value):
            kind = _KINDS[key]
            article = "an" if kind[0] in "aeiou" else "a"
            raise RecipeError(f"{where}: {key} must be {article} {kind}, got {value!r}")
        values[key] = tuple(value) if isinstance(value, list) else value
    try:
        return _replace(base or Recipe(), values)
    except ValueError as e:
        raise RecipeError(f"{where}: {e}") from None


def _replace(base: Recipe, values: dict) -> Recipe:
    return Recipe(**{**base.as_dict(), **values})


def about(path: str | Path) -> dict[str, str]:
    """The ``[about]`` table of a recipe file (empty if it has none)."""
    return dict(_parse(Path(path)).get("about", {}))


def _parse(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise RecipeError(f"{path}: cannot read the recipe file ({e.strerror or e})") from None
    except tomllib.TOMLDecodeError as e:
        raise RecipeError(f"{path}: not valid TOML ({e})") from None


def load(path: str | Path, base: Recipe | None = None) -> Recipe:
    """The Recipe of TOML file ``path`` (keys it leaves out: from ``base``, default the seed
    recipe); RecipeError (one line naming the file and the key) if it is unusable."""
    path = Path(path)
    return from_mapping(_parse(path), str(path), base)


def shipped_path(name: str) -> Path:
    """The file of the shipped recipe ``name`` (``zero_mnist`` -> .../recipes/zero_mnist.toml);
    RecipeError listing the shipped names if there is none."""
    path = Path(str(importlib.resources.files(__name__).joinpath(f"{name}.toml")))
    if not path.is_file():
        raise RecipeError(f"no shipped recipe {name!r}; shipped: {', '.join(list_shipped())}")
    return path


def shipped(name: str) -> Recipe:
    """The shipped recipe ``name`` (see :func:`list_shipped`)."""
    return load(shipped_path(name))


def list_shipped() -> list[str]:
    """Names of the recipe files shipped in the package."""
    folder = importlib.resources.files(__name__)
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))
