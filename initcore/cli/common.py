"""What every ``initcore`` command shares: the one-line usage error, the option groups (data,
device, report folder, initializers) and the checks made before any work or any file.

The options are declared once, in :mod:`initcore.options` (the pytest plugin registers the
same table); a command adds the groups it needs in its ``add_arguments``. Bad input raises
:class:`UsageError` (or ValueError, DataError, ReportError), which :func:`initcore.cli.main`
prints as one line ``initcore: error: ...`` with exit status 2.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence

from .. import errors, initializers, options
from ..device import check_device
from ..user_schemes import architectures_of, check_scheme

EXIT_USAGE = 2  # bad input: one line on stderr, nothing written
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT


class UsageError(Exception):
    """Bad command-line input; the message is one line."""


class Interrupted(Exception):
    """Ctrl-C with something on disk: the message says what state the report is in."""


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage dump) and exit status 2."""

    def error(self, message: str):  # type: ignore[override]
        # "argument --seeds: --seeds must be >= 1, got 0": the option is named once
        raise UsageError(re.sub(r"^argument (--[\w-]+): (?=\1 )", "", message))


# ---------------------------------------------------------------------------------------------
# Option groups: initcore.options (declared once, for the command line and the pytest plugin)
# ---------------------------------------------------------------------------------------------

def add_data_options(parser: argparse.ArgumentParser) -> None:
    """--dataset (checked while parsing), --data-dir, --download."""
    options.add_data_options(parser.add_argument)


def add_device_option(parser: argparse.ArgumentParser) -> None:
    """--device; check it with :func:`checked_device` before any work."""
    options.add_device_option(parser.add_argument)


def add_report_options(parser: argparse.ArgumentParser) -> None:
    """--report-dir and --run-id: where the run folder goes and its name."""
    options.add_report_options(parser.add_argument)


def add_init_option(parser: argparse.ArgumentParser) -> None:
    """--init NAME ... (or 'all'); expand and check it with :func:`resolve_inits`."""
    options.add_init_option(parser.add_argument)


def add_shard_options(parser: argparse.ArgumentParser) -> None:
    """--shard i/n, --backend local|ray, --ray-address, --shards, --cpus-per-shard (README
    "Scaling out"); read them with :func:`shard_request`."""
    options.add_scale_out_options(parser.add_argument)


# ---------------------------------------------------------------------------------------------
# Checks before any work
# ---------------------------------------------------------------------------------------------

def resolve_inits(names: Sequence[str], configs: Sequence = ()) -> list[str]:
    """Expand ``all`` (the schemes that apply to the recipes' architectures), load
    ``module:function`` references, and check every name against the registry (ValueError lists
    valid ones); a scheme from outside initcore is tried once on a small model and on the
    architectures of ``configs`` (recipes) first (:func:`initcore.user_schemes.check_scheme`),
    so that one that leaves NaN, changes a weight's shape or dtype, or is not reproducible per
    seed fails in one line before any work."""
    resolved = [initializers.resolve(n) for n in names if n != "all"]
    if "all" in names:
        # 'all' means every scheme that can build these nets: the residual-net schemes
        # (Fixup, ReZero, ...) only when a recipe is a ResMLP; named explicitly on an MLP,
        # they still fail in one line.
        residual = any(getattr(c, "arch", "mlp") == "resmlp" for c in configs)
        resolved = [n for n in initializers.list_initializers()
                    if residual or n not in initializers.RESIDUAL_SCHEMES] + resolved
    resolved = list(dict.fromkeys(resolved))
    for name in resolved:
        if not initializers.get(name).built_in:
            check_scheme(name, architectures_of(configs))
    return resolved


def checked_device(device: str) -> str:
    """``device`` if torch can use it here; UsageError (one line) otherwise."""
    try:
        check_device(device)
    except ValueError as e:
        raise UsageError(str(e)) from e
    return device


def check_at_least(args: argparse.Namespace, minimum: int, *names: str) -> None:
    """UsageError ``--<name> must be >= minimum, got ...`` for the first option below it."""
    for name in names:
        value = getattr(args, name)
        if value is not None and value < minimum:
            raise UsageError(f"--{name.replace('_', '-')} must be >= {minimum}, got {value}")


def check_at_most(args: argparse.Namespace, maximum: int, *names: str) -> None:
    """UsageError ``--<name> must be <= maximum, got ...``: a count so large that the command
    would run for ever (``--steps 10**30``) is refused at once, not after years."""
    for name in names:
        value = getattr(args, name)
        if value is not None and value > maximum:
            raise UsageError(f"--{name.replace('_', '-')} must be <= {maximum:,}, got {value:.3g}")


def one_line(error: BaseException) -> str:
    """The message of ``error`` on one line (pandas and torch messages can span several)."""
    return errors.one_line(error)


def shard_request(args: argparse.Namespace) -> tuple[int, int] | None:
    """(i, n) of --shard, None without it; UsageError for impossible combinations (the rules
    of :func:`initcore.options.check_rules`)."""
    try:
        return options.check_rules(options.namespace_getter(args))
    except ValueError as e:
        raise UsageError(str(e)) from None
