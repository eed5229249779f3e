"""The ``initcore`` command line: one parser, one command table, one module per command.

    initcore list                               the registry, with formulas       (cli/listing.py)
    initcore run --dataset mnist --init he_normal xavier_normal --seeds 3       (cli/run.py)
    initcore repair [REPORT_DIR]                make a report folder whole again  (cli/repair.py)
    initcore compare BASELINE CURRENT           regression check, exit 1 if worse (cli/compare.py)
    initcore merge SHARD_DIR...                 shard run folders into one run    (cli/merge.py)
    initcore speed --dataset mnist              throughput and peak memory        (cli/speed.py)
    initcore probe --depth 30 --init all        signal propagation at init        (cli/probe.py)
    initcore plot REPORT_DIR                    PNG figures of a report folder    (cli/plot.py)
    initcore coordcheck                         SP vs muP coordinate check  (cli/coordcheck.py)

A command module has ``HELP`` (one line), ``add_arguments(parser)`` and ``handle(args) -> int``;
the option groups they share are in :mod:`initcore.cli.common`. To add a command, write its
module and add it to :data:`COMMANDS`.

Bad input (unknown names, impossible numbers, missing or corrupt data, an unwritable report
folder) prints one line ``initcore: error: ...`` on stderr and exits with status 2, before any
report file is written.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from ..data import DataError
from ..reports import ReportError
from . import compare, coordcheck, listing, merge, plot, probe, repair, run, speed
from .common import EXIT_INTERRUPTED, EXIT_USAGE, Interrupted, Parser, UsageError, one_line

# command name -> its module; the order is the order of `initcore --help`.
COMMANDS = {"list": listing, "run": run, "repair": repair, "compare": compare, "merge": merge,
            "speed": speed, "probe": probe, "plot": plot, "coordcheck": coordcheck}

__all__ = ["COMMANDS", "EXIT_USAGE", "UsageError", "build_parser", "main"]


def build_parser() -> Parser:
    """The whole command line: one subparser per entry of :data:`COMMANDS`."""
    parser = Parser(prog="initcore", description="Benchmark neural-network weight initialization.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name, module in COMMANDS.items():
        module.add_arguments(commands.add_parser(name, help=module.HELP))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line on ``argv`` (default: sys.argv[1:]); returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command].handle(args)
    except (UsageError, ValueError, DataError, ReportError) as e:
        print(f"initcore: error: {one_line(e)}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `initcore list | head`: the reader left, nothing to report
        # Point stdout at devnull so the interpreter's final flush cannot fail again (Python's
        # documented recipe); 141 = 128 + SIGPIPE, what a shell reports for such a writer.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as e:  # a file or folder given on the command line cannot be used
        where = f"{e.filename}: " if e.filename else ""
        print(f"initcore: error: {where}{e.strerror or e}", file=sys.stderr)
        return EXIT_USAGE
    except MemoryError:
        print("initcore: error: out of memory: use smaller or fewer models", file=sys.stderr)
        return EXIT_USAGE
    except Interrupted as e:
        print(f"initcore: {e}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print("initcore: interrupted; no report written for the unfinished run", file=sys.stderr)
        return EXIT_INTERRUPTED
