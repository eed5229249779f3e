"""The Ray backend: each shard of a grid is one Ray core task (not Ray Tune, whose one trial per
configuration would break the grid batching); the driver collects the results and alone writes
the reports.

    initcore run --backend ray [--ray-address ADDR] [--shards N]
    pytest bench --backend ray [--ray-address ADDR] [--shards N]

Ray is an optional extra (``pip install -e '.[ray]'``) and is imported only when this backend
runs, never when initcore is imported. A task asks for ``cpus`` CPUs (and one GPU when the
device is CUDA) and trains with as many torch threads (Ray sets OMP_NUM_THREADS the same way),
so its digits equal a local run's at that thread count (see :mod:`initcore.shards`). The code
ships to the workers as a ``py_modules`` runtime environment: the initcore package of the
driver, so a cluster whose nodes have only Ray and torch runs the driver's exact code. A task
whose worker or node dies is retried (``max_retries``); a shard that fails for good is named in
:class:`ShardsFailed`, which keeps every finished shard's results.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import data
from .shards import PartResult, Shard, train_part

MAX_RETRIES = 3  # re-runs of a task whose worker or node died (Ray's default is 3 as well)


@dataclass(frozen=True)
class RayOptions:
    """Where the tasks run and what each asks for."""

    address: str | None = None  # None: a Ray instance started for this run on this machine
    shards: int | None = None  # None: one per `cpus` CPUs of the cluster
    cpus: int = 1  # CPUs (and torch threads) per task
    gpus: float = 0.0  # GPUs per task (1 when the device is CUDA)
    max_retries: int = MAX_RETRIES


class ShardsFailed(Exception):
    """Shards that failed for good (name -> one-line reason), with the finished ones' results."""

    def __init__(self, failed: dict[str, str], done: list[PartResult]) -> None:
        self.failed, self.done = failed, done
        names = ", ".join(f"{name} ({why})" for name, why in failed.items())
        super().__init__(f"{len(failed)} shard(s) failed: {names}")


def import_ray():
    """The ray module; ValueError (one line) when the extra is not installed."""
    try:
        import ray  # the optional extra: imported only when this backend runs
    except ImportError as e:
        raise ValueError("--backend ray needs Ray: pip install -e '.[ray]' "
                         f"(or pip install 'ray>=2.9') ({e})") from None
    return ray


RAY_CONNECT_TIMEOUT = 10.0  # seconds to open a TCP connection to --ray-address (a LAN: ms)


def check_address(address: str | None, timeout: float = RAY_CONNECT_TIMEOUT) -> None:
    """ValueError (one line) when ``address`` (``host:port`` or ``ray://host:port``) does not
    accept a TCP connection within ``timeout`` seconds: ray.init would retry it for ever.
    None, "auto" and "local" (Ray finds or starts its own) are not checked."""
    if address is None or address in ("auto", "local"):
        return
    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--ray-address {address!r}: expected host:port or ray://host:port")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as e:
        raise ValueError(f"--ray-address {address}: cannot reach Ray there "
                         f"({e.strerror or type(e).__name__}, {timeout:g} s): is the cluster "
                         "up and the address its head's?") from None


def code_env() -> dict:
    """The runtime environment that ships this initcore package to every worker."""
    return {"py_modules": [str(Path(__file__).resolve().parent)],
            "env_vars": {"PYTHONHASHSEED": "0"}}


def train_shard(shard: Shard, data_dir: str, download: bool, threads: int) -> list[PartResult]:
    """The body of a task: train the shard's parts, one grid each, on this worker."""
    import ray  # runs on a Ray worker, where the extra is installed
    import torch

    torch.set_num_threads(threads)
    node = ray.get_runtime_context().get_node_id()
    datasets: dict[str, data.Dataset] = {}
    done = []
    for part in shard.parts:
        if part.dataset not in datasets:
            datasets[part.dataset] = data.load(part.dataset, data_dir, download)
        done.append(train_part(shard.name, part, datasets[part.dataset], node=node))
    return done


def cluster_cpus(options: RayOptions) -> int:
    """The number of tasks the connected cluster runs at once: its CPUs over ``cpus``."""
    ray = import_ray()
    return max(1, int(ray.cluster_resources().get("CPU", 1)) // options.cpus)


def run(make_shards: Callable[[int], Sequence[Shard]], options: RayOptions,
        data_dir: str | None, download: bool,
        on_done: Callable[[Shard, list[PartResult]], None] | None = None) -> list[PartResult]:
    """Connect to (or start) Ray, cut the grid into shards with ``make_shards(n)`` (n: the
    ``shards`` option, else one per task slot of the cluster), run each as a task and return
    every part's result. ShardsFailed when a shard fails for good after its retries."""
    ray = import_ray()
    started = not ray.is_initialized()
    if started:
        check_address(options.address)  # an unreachable head: one line, not retries for ever
        # Local folders can only be shipped at the job level, so the code goes with ray.init;
        # a caller that has connected already must have passed code_env() there itself.
        ray.init(address=options.address, runtime_env=code_env(), log_to_driver=False,
                 include_dashboard=False, configure_logging=False)
    try:
        shards = list(make_shards(options.shards or cluster_cpus(options)))
        # The worker's cwd is Ray's, not ours: the data folder goes as an absolute path.
        folder = str(Path(data_dir or data.default_data_dir()).resolve())
        task = ray.remote(train_shard)
        pending = {task.options(name=s.name, num_cpus=options.cpus, num_gpus=options.gpus,
                                max_retries=options.max_retries
                                ).remote(s, folder, download, options.cpus): s
                   for s in shards}
        done: list[PartResult] = []
        failed: dict[str, str] = {}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                shard = pending.pop(ref)
                try:
                    parts = ray.get(ref)
                except ray.exceptions.RayError as e:  # the task raised, or died past retries
                    failed[shard.name] = _reason(e)
                    continue
                done += parts
                if on_done is not None:
                    on_done(shard, parts)
        if failed:
            raise ShardsFailed(failed, done)
        return done
    finally:
        if started:
            ray.shutdown()


def _reason(error: BaseException) -> str:
    """The last line of a task's error (the exception itself, not Ray's traceback)."""
    cause = getattr(error, "cause", None)
    text = str(cause if cause is not None else error).strip().splitlines()
    return (text[-1] if text else type(error).__name__)[:200]

