"""``initcore list``: the initializer registry, one line per scheme with its formula."""

from __future__ import annotations

import argparse

import pandas as pd

from .. import initializers

HELP = "list the initializers with their formulas"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options."""


def handle(_args: argparse.Namespace) -> int:
    rows = [{"name": s.name, "formula": s.formula, "bias": s.bias, "needs_data": s.needs_data}
            for s in map(initializers.get, initializers.list_initializers())]
    print(pd.DataFrame(rows).to_string(index=False))
    return 0
