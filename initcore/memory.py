"""Peak memory of training a grid, measured in a fresh process.

The grid trainer (:mod:`initcore.grid`) stacks every model's weights and momentum; how much
memory a grid really takes (allocator slack, activations, the data) is measured here, not
estimated: a spawned child loads the data, resets its peak resident set size (Linux's VmHWM,
proc(5)), trains the grid for one epoch and reports its peak. ``initcore speed`` prints the
table for a profile's grids; ``bench/test_timing.py`` records it in the benchmark JSON.
"""

from __future__ import annotations

import gc
import importlib
import multiprocessing
import queue as queue_module
from collections.abc import Sequence
from dataclasses import replace

import pandas as pd
import torch

from . import data, initializers
from .grid import train_grid
from .train import Recipe, make_model


def status_mb(field: str) -> float:
    """A memory field of /proc/self/status (VmRSS: resident now, VmHWM: peak), in MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # reported in kB
    raise OSError(f"/proc/self/status has no {field}")


def reset_peak_rss() -> bool:
    """Reset this process's peak RSS (VmHWM) to its current RSS (Linux >= 4.0, proc(5)).

    False where that is not possible (no /proc, or clear_refs not writable): the peak then also
    counts whatever loading the data took.
    """
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def rss_now_and_peak_mb() -> tuple[float, float]:
    """(resident now, peak so far) in MiB: /proc where there is one, else getrusage's peak."""
    try:
        return status_mb("VmRSS"), status_mb("VmHWM")
    except OSError:
        import resource  # POSIX only: imported where /proc is missing, not on every platform
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB; bytes on macOS
        peak_mb = peak / 2**20 if sys.platform == "darwin" else peak / 1024
        return peak_mb, peak_mb


def _grid_memory_child(dataset_name, data_dir, download, inits, seeds, config, rows,
                       results, origins=None) -> None:
    """The spawned process of :func:`grid_peak_memory`; puts its numbers (or its exception)
    on the ``results`` queue. ``origins``: name -> "module:function" of the user's schemes
    (``--init``, ``initcore.register``), which a fresh process must import again."""
    try:
        for name, origin in (origins or {}).items():
            if name not in initializers.list_initializers():
                importlib.import_module(origin.split(":")[0])  # runs its @register, if any
            if name not in initializers.list_initializers():
                initializers.resolve(origin)  # a plain function, registered under its name
        dataset = data.load(dataset_name, data_dir, download)
        # Fewer steps, same memory: the full dataset stays loaded (x_train[:rows] is a view) and
        # every step allocates the same tensors; evaluation runs on the whole test split.
        dataset = replace(dataset, x_train=dataset.x_train[:rows], y_train=dataset.y_train[:rows])
        gc.collect()
        reset = reset_peak_rss()  # loading (CSV parsing, decompression) peaks above what it keeps
        before = rss_now_and_peak_mb()[0]
        train_grid(inits, seeds, dataset, replace(config, epochs=1))
        net = make_model(config, dataset.n_features, dataset.n_classes)  # MLP or ResMLP
        n_params = sum(p.numel() for p in net.parameters())
        model = config.model_name(dataset.n_features, dataset.n_classes)
        device = torch.device(config.device)
        device_peak = (torch.cuda.max_memory_allocated(device) / 2**20
                       if device.type == "cuda" else float("nan"))
        results.put((before, rss_now_and_peak_mb()[1], n_params, device_peak, reset, model))
    except Exception as e:  # reported by the parent in one line
        results.put(e)


# Training rows of the measured epoch: 20 steps of batch 64. The peak is reached in the first
# steps and the evaluation on the whole test split; more steps only cost time. Measured
# 2026-12-03, one fresh process each: the residual experiment's 40 ResMLPs peaked at 3,354 MiB
# on 1,280 rows (25 s), 3,301 on 2,560 (46 s), 3,324 and 3,326 on 6,400 (65-75 s), 3,268 on 640
# (-1.7%); the smoke seed-recipe grid at 960-975 MiB on 128-6,400 rows (10.6 s vs 14.6 s).
MEMORY_ROWS = 1_280


def grid_peak_memory(dataset_name: str, data_dir, inits: Sequence[str], seeds: Sequence[int],
                     config: Recipe, rows: int = MEMORY_ROWS, download: bool = False) -> dict:
    """Peak resident memory (MiB) of training the grid inits x seeds for one epoch of ``rows``
    training rows (:data:`MEMORY_ROWS`).

    Measured in a fresh process (multiprocessing "spawn"), so nothing this process holds counts.
    Once the dataset is loaded, the child resets its peak RSS (Linux's VmHWM) and records its RSS
    (``before_mb``: Python, torch, the dataset); ``peak_rss_mb`` is its peak while building and
    training the grid, and ``grid_mb`` the difference: what the grid added. Where the peak
    cannot be reset (``peak_reset_after_load`` False: no Linux /proc), ``peak_rss_mb`` includes
    the loading and ``before_mb`` / ``grid_mb`` are NaN.
    The stacked weights and momentum buffers alone take 2 x 4 bytes x G x parameters
    (``stacked_mb``). On a GPU, ``device_peak_mb`` is torch's peak allocation there (NaN on a
    CPU).
    """
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    origins = {name: initializers.get(name).origin for name in inits
               if not initializers.get(name).built_in}
    child = context.Process(target=_grid_memory_child, args=(
        dataset_name, None if data_dir is None else str(data_dir), download, list(inits),
        list(seeds), config, rows, results, origins))
    child.start()
    outcome = None
    while outcome is None:
        try:
            outcome = results.get(timeout=1.0)
        except queue_module.Empty:
            if not child.is_alive():  # finished or killed (e.g. out of memory): one last look
                try:
                    outcome = results.get(timeout=5.0)
                except queue_module.Empty:
                    raise RuntimeError(f"the memory-measuring process died (exit code "
                                       f"{child.exitcode})") from None
    child.join(timeout=60)
    if isinstance(outcome, Exception):
        raise outcome
    before, peak, n_params, device_peak, reset, model = outcome
    if not reset:
        before = float("nan")  # getrusage only knows the peak, which loading may have set
    models = len(inits) * len(dict.fromkeys(seeds))
    return {"model": model, "models": models, "before_mb": before, "peak_rss_mb": peak,
            "grid_mb": peak - before,
            "stacked_mb": 2 * 4 * models * n_params / 2**20,
            "device_peak_mb": device_peak, "peak_reset_after_load": reset}


def memory_table(experiments: Sequence, dataset_name: str, data_dir, device: str = "cpu",
                 label: str = "", download: bool = False) -> pd.DataFrame:
    """Peak memory of each experiment's grid (an :class:`initcore.experiments.Experiment`:
    its inits, seeds and config), trained on ``dataset_name``; ``label`` (e.g. the profile's
    name) prefixes each row's method."""
    rows = []
    for experiment in experiments:
        config = replace(experiment.config, device=device)
        memory = grid_peak_memory(dataset_name, data_dir, experiment.inits, experiment.seeds,
                                  config, download=download)
        rows.append({"sweep": "memory", "method": f"{label}: {experiment.name}", **memory})
    return pd.DataFrame(rows)
