"""``initcore list``: the initializer registry, one line per scheme with its formula and its
source (built-in, or the module:function of a plugin's or a user's scheme), then the claims
schemes make."""

from __future__ import annotations

import argparse

import pandas as pd

from .. import initializers

HELP = "list the initializers with their formulas"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options."""


def handle(_args: argparse.Namespace) -> int:
    rows = [{"name": s.name, "formula": s.formula, "bias": s.bias, "needs_data": s.needs_data,
             "source": s.origin}
            for s in map(initializers.get, initializers.list_initializers())]
    print(pd.DataFrame(rows).to_string(index=False))
    for scheme in map(initializers.get, initializers.list_initializers()):
        for claim in scheme.claims:
            print(f"claim of {scheme.name}: {claim}")
    return 0
