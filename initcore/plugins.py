"""Schemes from outside initcore: installed packages (entry points of the group
``initcore.initializers``) and ``--init package.module:function`` references.

Entry points are loaded the first time the registry is listed or searched (this module adds
:func:`load_entry_points` to :func:`initcore.registry.add_loader` when it is imported, which
:mod:`initcore.initializers` does).
"""

from __future__ import annotations

import importlib
import os
import sys
from importlib import metadata

from . import user_calls
from .errors import one_line
from .registry import SCHEME_ATTRIBUTE, add_loader, get, register, registered

ENTRY_POINT_GROUP = "initcore.initializers"  # where installed packages declare their schemes
NO_PLUGINS_ENV = "INITCORE_NO_PLUGINS"  # set to 1: do not load entry-point schemes


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
            with user_calls.time_limit(f"loading {where}"):
                loaded = entry.load()
            if callable(loaded) and not hasattr(loaded, SCHEME_ATTRIBUTE):
                register(entry.name)(loaded)
        except Exception as e:  # any failure of third-party code: one line, with its name
            raise PluginError(f"{where}: {type(e).__name__}: {one_line(e)} "
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
        with user_calls.time_limit(f"--init {reference}: importing {module_name!r}"):
            target = importlib.import_module(module_name)
    except user_calls.UserCodeTimeout as e:
        raise PluginError(str(e)) from None
    except Exception as e:  # the user's module: any error in it is reported in one line
        raise PluginError(f"--init {reference}: cannot import {module_name!r} "
                          f"({type(e).__name__}: {one_line(e)})") from None
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise PluginError(f"--init {reference}: module {module_name!r} has no {attribute!r}")
        target = getattr(target, part)
    name = getattr(target, SCHEME_ATTRIBUTE, None)
    if name is not None and registered(name):
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



add_loader(load_entry_points)
