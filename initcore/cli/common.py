"""What every ``initcore`` command shares: the one-line usage error, the option groups (data,
device, report folder, initializers) and the checks made before any work or any file.

Each option group is defined here once; a command adds the groups it needs in its
``add_arguments``. Bad input raises :class:`UsageError` (or ValueError, DataError, ReportError),
which :func:`initcore.cli.main` prints as one line ``initcore: error: ...`` with exit status 2.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .. import initializers
from ..data import DATASETS, DataError, check_dataset
from ..device import check_device
from ..shards import parse_shard
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
        raise UsageError(message)


# ---------------------------------------------------------------------------------------------
# Option groups
# ---------------------------------------------------------------------------------------------

def _dataset_name(text: str) -> str:
    """argparse type of --dataset: the unknown-dataset check, made while parsing."""
    try:
        return check_dataset(text)
    except DataError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def positive_int_list(text: str) -> tuple[int, ...]:
    """argparse type of comma-separated integers >= 1 (hidden widths)."""
    try:
        widths = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}") from None
    if not widths or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"hidden widths must be integers >= 1, got {text!r}")
    return widths


def add_data_options(parser: argparse.ArgumentParser) -> None:
    """--dataset (checked while parsing), --data-dir, --download."""
    parser.add_argument("--dataset", default="mnist-5k", type=_dataset_name,
                        help=f"one of {', '.join(DATASETS)} (default: mnist-5k, embedded)")
    parser.add_argument("--data-dir", default=None,
                        help="folder holding MNIST/raw (default: $INITCORE_DATA_DIR or ./data)")
    parser.add_argument("--download", action="store_true",
                        help="download the dataset through torchvision if it is missing")


def add_device_option(parser: argparse.ArgumentParser) -> None:
    """--device; check it with :func:`checked_device` before any work."""
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N")


def add_report_options(parser: argparse.ArgumentParser) -> None:
    """--report-dir and --run-id: where the run folder goes and its name."""
    parser.add_argument("--report-dir", default="reports",
                        help="where reports go (default reports)")
    parser.add_argument("--run-id", default=None,
                        help="name of the run folder (default: time-based)")


def add_init_option(parser: argparse.ArgumentParser) -> None:
    """--init NAME ... (or 'all'); expand and check it with :func:`resolve_inits`."""
    parser.add_argument("--init", nargs="+", default=["all"], metavar="NAME",
                        help="initializer names, 'all' (default), or package.module:function "
                             "for a scheme of your own")


# ---------------------------------------------------------------------------------------------
# Checks before any work
# ---------------------------------------------------------------------------------------------

def resolve_inits(names: Sequence[str], configs: Sequence = ()) -> list[str]:
    """Expand ``all``, load ``module:function`` references, and check every name against the
    registry (ValueError lists valid ones); a scheme from outside initcore is tried once on a
    small model and on the architectures of ``configs`` (recipes) first
    (:func:`initcore.user_schemes.check_scheme`), so that one that leaves NaN, changes a
    weight's shape or dtype, or is not reproducible per seed fails in one line before any work."""
    resolved = [initializers.resolve(n) for n in names if n != "all"]
    if "all" in names:
        resolved = initializers.list_initializers() + resolved
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
    return " ".join(str(error).split()) or type(error).__name__


def add_shard_options(parser: argparse.ArgumentParser) -> None:
    """--shard i/n, --backend local|ray, --ray-address, --shards, --cpus-per-shard (README
    "Scaling out"); read them with :func:`shard_request`."""
    parser.add_argument("--shard", default=None, metavar="I/N",
                        help="train only shard I of N and write its rows (merge the N run "
                             "folders with `initcore merge`)")
    parser.add_argument("--backend", choices=("local", "ray"), default="local",
                        help="local (default): this process; ray: every shard a Ray task")
    parser.add_argument("--ray-address", default=None, metavar="ADDR",
                        help="Ray cluster to join (default: start Ray on this machine)")
    parser.add_argument("--shards", type=int, default=None, metavar="N",
                        help="with --backend ray: number of shards (default: one per task "
                             "slot of the cluster)")
    parser.add_argument("--cpus-per-shard", type=int, default=1, metavar="C",
                        help="with --backend ray: CPUs (and torch threads) per task (default 1)")


def shard_request(args: argparse.Namespace) -> tuple[int, int] | None:
    """(i, n) of --shard, None without it; UsageError for impossible combinations."""
    check_at_least(args, 1, "shards", "cpus_per_shard")
    if args.backend != "ray" and (args.ray_address or args.shards is not None):
        raise UsageError("--ray-address and --shards need --backend ray")
    if args.shard is None:
        return None
    if args.backend == "ray":
        raise UsageError("--shard runs one shard here; --backend ray runs them all: pick one")
    return parse_shard(args.shard)
