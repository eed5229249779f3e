"""Small helpers shared by the command-line test modules (fixtures live in conftest.py)."""

from __future__ import annotations

from pathlib import Path


def files_under(folder: Path) -> list[str]:
    """Every file under ``folder``, relative, sorted: what a command wrote."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
