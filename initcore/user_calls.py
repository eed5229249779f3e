"""Calling users' code: the signatures users write, a time limit on their imports and calls,
and the one rule for a user's scheme that takes a built-in's name.

A user's initializer is any callable written the way users write them (DESIGN.md, "Users'
repositories"):

* ``f(weight, generator)`` and ``f(model, generator, data)``: initcore's own two forms;
* ``f(weight, generator=None)``, ``f(weight, *, generator=None)``, and every function of
  ``torch.nn.init`` whose only required argument is the tensor (``orthogonal_(tensor, gain=1,
  generator=None)``, ``kaiming_normal_``, ``xavier_uniform_``, ``trunc_normal_`` ...): called
  as ``f(weight, generator=g)``;
* ``f(weight, g=None)`` (a second positional parameter with a default, no ``generator``):
  called as ``f(weight, g)``;
* ``f(weight)`` (no randomness: ``zeros_``, ``eye_``, ``dirac_``): called as ``f(weight)``.

A function with more required arguments (``constant_(tensor, val)``, ``sparse_(tensor,
sparsity)``) is refused in one line naming them.

Users' code can block (a sleep at import, a lock, a network call). Every import of a user's
module or plugin and every call of a user's scheme runs under :func:`time_limit`: after
$INITCORE_USER_CODE_TIMEOUT seconds (default :data:`DEFAULT_TIMEOUT`; 0 = no limit; one
environment variable serves both front doors and plugin loading, which runs before any option
is parsed) it is interrupted with one line saying what did
not finish and how to allow more. The limit uses SIGALRM, so it applies in the main thread of a
POSIX process (the CLI and pytest's main thread); elsewhere the code runs unlimited.

A leaf module (standard library only): the registry (:mod:`initcore.initializers`) calls it.
"""

from __future__ import annotations

import inspect
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

TIMEOUT_ENV = "INITCORE_USER_CODE_TIMEOUT"  # seconds for one import or call of users' code
# 120 s: a user's scheme initializes one model in well under a second (the slowest built-in,
# MetaInit, takes ~2 s on the deep 30x256 net on 2 cores); an import of torch-heavy user code
# takes a few seconds. Two minutes only stops what would otherwise never end.
DEFAULT_TIMEOUT = 120.0
REPLACE_ENV = "INITCORE_REPLACE_BUILTIN"  # comma-separated built-in names a user may replace


class UserCodeTimeout(ValueError):
    """A user's import or call did not finish within the time limit (one line for the user)."""


class _Expired(BaseException):
    """Raised inside the user's code by the alarm: a BaseException, so ``except Exception``
    in that code cannot swallow it."""


def timeout_seconds() -> float:
    """The time limit from $INITCORE_USER_CODE_TIMEOUT (0: none); ValueError (one line) for a
    value that is not a number >= 0."""
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"{TIMEOUT_ENV}={raw!r}: expected seconds >= 0 (0 = no limit)")
    return value


@contextmanager
def time_limit(what: str, seconds: float | None = None) -> Iterator[None]:
    """Run the block with a time limit of ``seconds`` (default :func:`timeout_seconds`);
    UserCodeTimeout naming ``what`` when it runs over. An alarm set by someone else (e.g.
    pytest-timeout) is restored afterwards, less the time spent here."""
    seconds = timeout_seconds() if seconds is None else seconds
    usable = (seconds > 0 and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def expire(signum, frame):
        raise _Expired

    start = time.monotonic()
    old_handler = signal.signal(signal.SIGALRM, expire)
    old_delay, old_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _Expired:
        raise UserCodeTimeout(
            f"{what} did not finish within {seconds:g} s (it may hang); to allow more, set "
            f"{TIMEOUT_ENV}=SECONDS (0 = no limit)") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
        if old_delay > 0:
            left = max(old_delay - (time.monotonic() - start), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, left, old_interval)


def limited(fn: Callable, what: str) -> Callable:
    """``fn`` with every call under :func:`time_limit` (``what`` names it in the message)."""

    def call(*args, **kwargs):
        with time_limit(what):
            return fn(*args, **kwargs)

    call.__wrapped__ = fn  # type: ignore[attr-defined]
    return call


# ---------------------------------------------------------------------------------------------
# Signatures
# ---------------------------------------------------------------------------------------------

def adapt(fn: Callable) -> tuple[str, Callable]:
    """``("layer", g)`` with ``g(weight, generator)`` or ``("model", fn)`` for
    ``fn(model, generator, data)``: the user's callable in the form the registry calls (see
    the module doc for the forms accepted). ValueError (one line) for anything else."""
    what = getattr(fn, "__qualname__", repr(fn))
    if not callable(fn):
        raise ValueError(f"{what} is not a function")
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        raise ValueError(f"cannot read the signature of {what}") from None
    positional_kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    required = [p for p in parameters if p.default is p.empty and p.kind in positional_kinds]
    required_keywords = [p for p in parameters  # role: the layer's place (residual nets)
                         if p.default is p.empty and p.kind == p.KEYWORD_ONLY
                         and p.name != "role"]
    wrong = ValueError(
        f"{what}({', '.join(p.name for p in required + required_keywords)}) has the wrong "
        "signature: an initializer takes (weight, generator), (weight, generator=None), "
        "(weight) or (model, generator, data)")
    if any(p.kind == p.VAR_POSITIONAL for p in parameters) or required_keywords:
        raise wrong
    if len(required) == 2:
        return "layer", fn
    if len(required) == 3:
        return "model", fn
    if len(required) != 1:
        raise wrong
    by_keyword = any(p.name == "generator" and p.kind != p.POSITIONAL_ONLY for p in parameters)
    if by_keyword:
        return "layer", lambda weight, generator: fn(weight, generator=generator)
    optional = [p for p in parameters if p.kind in positional_kinds and p not in required]
    if optional:  # f(weight, g=None): the second positional parameter takes the generator
        return "layer", lambda weight, generator: fn(weight, generator)
    return "layer", lambda weight, generator: fn(weight)


# ---------------------------------------------------------------------------------------------
# Names taken by built-in schemes
# ---------------------------------------------------------------------------------------------

def replacement_allowed(name: str) -> bool:
    """Whether the user running initcore asked that a scheme of their own may take the built-in
    name ``name``: ``INITCORE_REPLACE_BUILTIN=name[,name...]`` (or ``all``). A module's own
    ``replace=True`` is not enough: the person reading the report must have asked for it,
    since the report would show someone else's function under a built-in's name."""
    allowed = {n.strip() for n in os.environ.get(REPLACE_ENV, "").split(",") if n.strip()}
    return name in allowed or "all" in allowed
