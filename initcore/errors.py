"""The one-line error: how every message of initcore reaches a user (CLI, pytest, plugins).

Bad input gets one clear line and a non-zero exit, never a traceback; pandas', torch's and a
user's own exceptions can span several lines, so their text is folded here, once.
"""

from __future__ import annotations


def one_line(error: BaseException | str, limit: int | None = None) -> str:
    """The message of ``error`` on one line (whitespace runs folded to one space), cut to
    ``limit`` characters if given; the exception's type name when it has no message."""
    text = " ".join(str(error).split())
    if limit is not None:
        text = text[:limit]
    if text or isinstance(error, str):
        return text
    return type(error).__name__
