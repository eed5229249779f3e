"""Every option of initcore that more than one front end (or command) uses, declared once.

The option groups are functions in the style of pytest-benchmark's (``add_display_options(
addoption, prefix)``): the first argument is the function that registers one option, either
argparse's ``parser.add_argument`` (``initcore run``, ``initcore probe`` ...) or pytest's
``group.addoption`` (the plugin, ``pytest bench``). Each option has a parse-time type, so a
bad value is refused while the command line is read, in one line naming the option.

    options.add_data_options(parser.add_argument)                        # initcore run
    options.add_bench_options(group.addoption, prefix="initcore-")       # the plugin, anywhere
    options.add_bench_options(group.addoption, prefix="")                # bench/conftest.py

Names that cannot collide: the plugin is loaded into every pytest session of every project
that has initcore installed, so what it registers there is prefixed (``--initcore-profile``,
as pytest-benchmark registers ``--benchmark-*``); the short forms (``--profile``, ``--seeds``
...) are registered by the suite's own ``bench/conftest.py``, an initial conftest of ``pytest
bench``, with the same destination (``initcore_profile``), so ``pytest bench --profile smoke``
works and another project's ``--profile`` is its own.

The rules between options (``--shard`` against ``--backend ray`` ...) are :func:`check_rules`,
for both front ends. This module imports no torch: the plugin imports it in every session.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PLUGIN_PREFIX = "initcore-"  # what the plugin puts before every option it registers globally
DEST_PREFIX = "initcore_"  # the pytest destination of every bench option (both spellings)
DEFAULT_BASELINE_DIR = "reports/baseline"  # the committed baselines, one folder per profile
AUTO = "auto"  # --seeds auto: seeds in grids until every comparison is decided (initcore.verdicts)
MAX_SEEDS = 30  # default budget of --seeds auto (--max-seeds): initcore.verdicts' max_seeds


# ---------------------------------------------------------------------------------------------
# Parse-time types (argparse and pytest both report an ArgumentTypeError's message)
# ---------------------------------------------------------------------------------------------

def at_least_one(flag: str) -> Callable[[str], int]:
    """Type of an integer option >= 1: ``--seeds must be >= 1, got 0`` otherwise."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} expects an integer, got {text!r}") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{flag} must be >= 1, got {value}")
        return value
    return parse


def seed_count(flag: str) -> Callable[[str], int | str]:
    """Type of ``--seeds`` on the two front doors: an integer >= 1, or ``auto``."""
    count = at_least_one(flag)

    def parse(text: str) -> int | str:
        return AUTO if text.strip() == AUTO else count(text)
    return parse


def positive_points(flag: str) -> Callable[[str], float]:
    """Type of a margin in accuracy points: a number > 0."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} expects a number of points, got "
                                             f"{text!r}") from None
        if not 0 < value < 100:  # also refuses nan and inf
            raise argparse.ArgumentTypeError(f"{flag} must be > 0 and < 100 points, got {text}")
        return value
    return parse


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` -> (i, n) with 1 <= i <= n; ValueError (one line) otherwise."""
    match = re.fullmatch(r"\s*(\d{1,6})\s*/\s*(\d{1,6})\s*", text)
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise ValueError(f"--shard must be i/n with 1 <= i <= n (e.g. 2/4), got {text!r}")
    return int(match[1]), int(match[2])


def shard_spec(flag: str) -> Callable[[str], str]:
    """Type of ``--shard``: the text as given (run.json records it), checked to be ``i/n``."""
    def parse(text: str) -> str:
        try:
            parse_shard(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
        return text
    return parse


def dataset_name(flag: str) -> Callable[[str], str]:
    """Type of ``--dataset``: a known dataset name (the list of valid ones otherwise)."""
    def parse(text: str) -> str:
        from .data import DataError, check_dataset  # torch: only a command that has --dataset

        try:
            return check_dataset(text)
        except DataError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    return parse


def positive_int_list(flag: str) -> Callable[[str], tuple[int, ...]]:
    """Type of comma-separated integers >= 1 (hidden widths)."""
    def parse(text: str) -> tuple[int, ...]:
        try:
            widths = tuple(int(part) for part in text.split(",") if part.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated integers, got {text!r}") from None
        if not widths or min(widths) < 1:
            raise argparse.ArgumentTypeError(f"hidden widths must be integers >= 1, got {text!r}")
        return widths
    return parse


# ---------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Option:
    """One option: its name (the flag without ``--``) and what argparse needs to read it."""

    name: str  # "report-dir": the flag is --report-dir (--initcore-report-dir in the plugin)
    help: str
    default: Any = None
    type: Callable[[str], Callable[[str], Any]] | None = None  # flag -> parse-time type
    action: str | None = None  # "store_true", ...
    choices: tuple[str, ...] | None = None
    nargs: str | None = None
    metavar: str | None = None

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")

    def arguments(self, prefix: str = "", dest_prefix: str = "", **changes: Any
                  ) -> tuple[str, dict[str, Any]]:
        """(flag, keyword arguments) for ``add_argument`` / ``addoption``; ``changes`` replace
        the declared default or help (a command whose default differs, e.g. probe's 1 seed)."""
        flag = f"--{prefix}{self.name}"
        kwargs: dict[str, Any] = {"dest": dest_prefix + self.dest, "help": self.help,
                                  "default": self.default}
        if self.type is not None:
            kwargs["type"] = self.type(flag)
        for key in ("action", "choices", "nargs", "metavar"):
            if getattr(self, key) is not None:
                kwargs[key] = getattr(self, key)
        if "type" in changes:  # a parse-time type is made for its flag, as the declared one
            changes = {**changes, "type": changes["type"](flag)}
        kwargs.update(changes)
        return flag, kwargs


OPTIONS: dict[str, Option] = {o.name: o for o in (
    # --- data and device (initcore run / speed / probe, pytest bench) --------------------------
    Option("dataset", "one of mnist-5k (embedded), mnist, fashion-mnist (default: mnist-5k)",
           default="mnist-5k", type=dataset_name),
    Option("data-dir", "folder holding MNIST/raw (default: $INITCORE_DATA_DIR or ./data)"),
    Option("download", "download the dataset through torchvision if it is missing",
           default=False, action="store_true"),
    Option("device", "cpu (default), cuda, cuda:N", default="cpu"),
    # --- what to train ---------------------------------------------------------------------------
    Option("init", "initializer names, 'all', or package.module:function for a scheme of your "
           "own (initcore run: default all; pytest bench: trained in every experiment of the "
           "profile besides the built-in ones, tested and ranked)", default=[], nargs="+",
           metavar="NAME"),
    Option("seeds", "number of seeds, 0..N-1 (pytest bench: overrides the profile's)",
           type=at_least_one),  # the front doors take auto too (SEEDS_AUTO)
    # --seeds auto (initcore.verdicts: group-sequential, Lan-DeMets spending)
    Option("max-seeds", f"budget of --seeds auto: seeds trained at most (default {MAX_SEEDS})",
           type=at_least_one, metavar="N"),
    Option("margin", "equivalence margin of the verdicts, accuracy points (default: each "
           "experiment's, 0.5 = the gate's floor)", type=positive_points, metavar="PT"),
    # the probed / coordinate-checked MLP (initcore probe, initcore coordcheck)
    Option("depth", "hidden layers", type=at_least_one),
    Option("steps", "training steps", type=lambda flag: int),  # probe: 0 = at init
    Option("batch", "rows of the batch", type=at_least_one),
    Option("width", "units per hidden layer (probe) or per residual block (resmlp)",
           type=at_least_one),
    Option("activation", "activation between hidden layers: relu, tanh, sigmoid, selu, gelu, "
           "identity"),
    Option("profile", "experiment profile: smoke (default), seed, nightly, deep, residual, "
           "width, paper", default="smoke"),
    # --- where reports go -------------------------------------------------------------------------
    Option("report-dir", "report folder (default: reports)", default="reports"),
    Option("run-id", "name of the run folder (default: time-based)"),
    Option("baseline-dir", "committed baselines, one folder per profile (default "
           f"{DEFAULT_BASELINE_DIR})", default=DEFAULT_BASELINE_DIR),
    # --- the regression gate (pytest bench) -------------------------------------------------------
    Option("timing-regressions", "fail (not just warn) when calibrated throughput regresses "
           "vs baseline", default=False, action="store_true"),
    Option("update-baseline", "write this run's summary as the profile's new baseline",
           default=False, action="store_true"),
    Option("no-baseline", "skip the regression checks (reported as skipped) instead of failing "
           "when the profile has no baseline", default=False, action="store_true"),
    # --- scaling out (README "Scaling out") -----------------------------------------------------
    Option("shard", "train and check only shard I of N; merge the N run folders with "
           "`initcore merge`, then `initcore compare` them", type=shard_spec, metavar="I/N"),
    Option("backend", "local (default): train here; ray: every shard a Ray task, the reports "
           "written here", default="local", choices=("local", "ray")),
    Option("ray-address", "Ray cluster to join (default: start Ray on this machine)",
           metavar="ADDR"),
    Option("shards", "with --backend ray: number of shards (default: one per task slot)",
           type=at_least_one, metavar="N"),
    Option("cpus-per-shard", "with --backend ray: CPUs (and torch threads) per task (default 1)",
           default=1, type=at_least_one, metavar="C"),
    # --- planning (initcore run; pytest bench prints the plan at --collect-only) --------------
    Option("dry-run", "print the planned model-epochs and the predicted wall time (rates learned "
           "from the report folder's history and the committed baselines), train nothing",
           default=False, action="store_true"),
    # --- CI pages (pytest bench, initcore compare) --------------------------------------------
    Option("markdown", "also write the verdicts (cells judged, regressions, leaderboard top and "
           "your schemes) as markdown to FILE; under GitHub Actions they are appended to "
           "$GITHUB_STEP_SUMMARY", metavar="FILE"),
)}

# The groups, as the front ends take them.
DATA = ("data-dir", "download")
REPORT = ("report-dir", "run-id")
SCALE_OUT = ("shard", "backend", "ray-address", "shards", "cpus-per-shard")
VERDICTS = ("seeds", "max-seeds", "margin")
BENCH = ("profile", *DATA, "device", *REPORT, *VERDICTS, "baseline-dir", "timing-regressions",
         "update-baseline", "no-baseline", "init", *SCALE_OUT, "markdown")
# --seeds on the front doors (pytest bench, initcore run): a count, or auto
SEEDS_AUTO = {"type": seed_count,
              "help": "number of seeds, 0..N-1 (pytest bench: overrides the profile's), or auto: "
                      "grids of the experiment's seed count until every scheme has a verdict "
                      "against He (initcore.verdicts) or --max-seeds are trained"}

Register = Callable[..., Any]  # argparse's add_argument or pytest's addoption


def add(register: Register, names: tuple[str, ...] | list[str], prefix: str = "",
        dest_prefix: str = "", **changes: dict[str, Any]) -> None:
    """Register the options ``names`` of the table; ``changes`` maps an option's name to the
    keyword arguments it takes differently here (``{"seeds": {"default": 1}}``)."""
    for name in names:
        flag, kwargs = OPTIONS[name].arguments(prefix, dest_prefix,
                                                **changes.get(name.replace("-", "_"), {}))
        register(flag, **kwargs)


def add_data_options(register: Register, dataset: bool = True) -> None:
    """--dataset (checked while parsing), --data-dir, --download."""
    add(register, (("dataset",) if dataset else ()) + DATA)


def add_device_option(register: Register) -> None:
    """--device; a command checks it (torch) before any work."""
    add(register, ("device",))


def add_report_options(register: Register) -> None:
    """--report-dir and --run-id: where the run folder goes and its name."""
    add(register, REPORT)


def add_init_option(register: Register) -> None:
    """--init NAME ... (default: all)."""
    add(register, ("init",), init={"default": ["all"]})


def add_scale_out_options(register: Register) -> None:
    """--shard i/n, --backend local|ray, --ray-address, --shards, --cpus-per-shard."""
    add(register, SCALE_OUT)


def add_verdict_options(register: Register, **changes: dict[str, Any]) -> None:
    """--seeds N|auto, --max-seeds N, --margin PT (``initcore run``; ``pytest bench`` has
    them among :data:`BENCH`); ``changes`` as :func:`add` takes them (seeds' default)."""
    add(register, VERDICTS, **{**changes, "seeds": {**SEEDS_AUTO, **changes.get("seeds", {})}})


def add_bench_options(register: Register, prefix: str = PLUGIN_PREFIX) -> None:
    """Every option of ``pytest bench``, each with the destination ``initcore_<name>``: the
    plugin registers them with ``prefix`` "initcore-", the suite's conftest without."""
    add(register, BENCH, prefix=prefix, dest_prefix=DEST_PREFIX, seeds=SEEDS_AUTO)


def bench_flags(prefix: str = PLUGIN_PREFIX) -> list[str]:
    """The flags :func:`add_bench_options` registers with ``prefix``."""
    return [f"--{prefix}{name}" for name in BENCH]


# ---------------------------------------------------------------------------------------------
# Reading and the rules between options
# ---------------------------------------------------------------------------------------------

Getter = Callable[[str], Any]  # option name (dest, "cpus_per_shard") -> its value, None if absent


def bench_getter(config: Any) -> Getter:
    """The values of a pytest session's bench options (``config.getoption``)."""
    return lambda dest: config.getoption(DEST_PREFIX + dest, None)


def namespace_getter(args: argparse.Namespace) -> Getter:
    """The values of a parsed ``initcore`` command line."""
    return lambda dest: getattr(args, dest, None)


def check_rules(get: Getter) -> tuple[int, int] | None:
    """The rules between options, for both front ends; returns (i, n) of ``--shard`` (None
    without it). ValueError (one line) for a combination that cannot run."""
    if get("backend") != "ray" and (get("ray_address") or get("shards") is not None):
        raise ValueError("--ray-address and --shards need --backend ray")
    if get("seeds") == AUTO:
        if get("no_grid") or get("shard") is not None or get("backend") == "ray":
            raise ValueError("--seeds auto trains seeds in grids here, look by look: no "
                             "--no-grid, --shard or --backend ray")
        if get("update_baseline"):
            raise ValueError("--update-baseline needs the profile's fixed seeds, not --seeds auto")
    elif get("max_seeds") is not None:
        raise ValueError("--max-seeds is the budget of --seeds auto: give --seeds auto too")
    shard = get("shard")
    if get("no_grid") and (shard is not None or get("backend") == "ray"):
        raise ValueError("--no-grid trains one model at a time: it cannot be sharded")
    if shard is None:
        return None
    if get("backend") == "ray":
        raise ValueError("--shard runs one shard here; --backend ray runs them all: pick one")
    if get("update_baseline"):
        raise ValueError("--update-baseline needs the whole profile, not a --shard")
    return parse_shard(shard)
