"""Throughput measurement: matmul calibration and model-epochs per second of the trainers.

The calibration is the fp32 GEMM rate of this machine measured in the same process and run as the
training it is compared with, so ratios (fraction of the matmul rate, speed-up over the notebook
loop, throughput relative to a baseline) do not depend on how fast or busy the machine is.
FLOPs of training are counted as 6 x weights per sample (2 forward, 4 backward: the standard
estimate for dense layers, Kaplan et al. 2020).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_gflops(size: int = 1024, repeats: int = 10, device: str = "cpu",
                  warmup_seconds: float = 0.5) -> float:
    """Best-of-``repeats`` fp32 GEMM rate in GFLOP/s on a (size x size) @ (size x size) product.

    GEMMs run for ``warmup_seconds`` first: a cold start (thread pool, clock ramp-up) measured
    up to 20% low here. Callers measure before and after their work and keep the higher rate
    (:func:`calibrated`), since a single reading still drifts with the machine's other load.
    """
    dev = torch.device(device)
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=generator).to(dev)
    b = torch.randn(size, size, generator=generator).to(dev)
    start = time.perf_counter()
    while time.perf_counter() - start < warmup_seconds:
        a @ b
    _sync(dev)
    best = float("inf")
    for _ in range(repeats):
        _sync(dev)
        start = time.perf_counter()
        a @ b
        _sync(dev)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def calibrated(work, device: str = "cpu"):
    """(result of ``work()``, matmul GFLOP/s): the higher of calibrations before and after."""
    before = matmul_gflops(device=device)
    result = work()
    return result, max(before, matmul_gflops(device=device))


def training_flops_per_sample(sizes: Sequence[int]) -> int:
    """6 x (number of weights) FLOPs per training sample of an MLP with layer ``sizes``."""
    return 6 * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


# ---------------------------------------------------------------------------------------------
# The three ways to train one epoch, timed on the same work
# ---------------------------------------------------------------------------------------------

NOTEBOOK_WORKERS = 2  # the seed notebook's DataLoader(..., num_workers=2)


class _NotebookMNIST(torch.utils.data.Dataset):
    """torchvision.datasets.MNIST.__getitem__, minus the file: a PIL image per sample through
    ToTensor and Normalize((0.5,), (0.5,)), as the seed notebook's loader pays for every sample.
    At module level so that DataLoader worker processes can receive it under any start method."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        import torchvision.transforms as T

        self.images, self.labels = images, labels
        self.transform = T.Compose([T.ToTensor(), T.Normalize((0.5,), (0.5,))])

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        from PIL import Image

        return self.transform(Image.fromarray(self.images[i].numpy(), mode="L")), \
            int(self.labels[i])


def notebook_epoch(dataset, config, seed: int = 0, num_workers: int = NOTEBOOK_WORKERS) -> float:
    """Seconds for one epoch of the seed notebook's loop: a DataLoader over per-sample
    ToTensor/Normalize transforms of PIL images (what torchvision's MNIST does), batch 64, shuffle,
    ``num_workers`` loader processes (the notebook's 2 by default; 0 loads in the training process,
    the faster choice on a 2-core machine, where the workers compete with training for the cores).

    ``dataset`` is an initcore Dataset; its pixels are turned back into the uint8 images the
    notebook's torchvision dataset would hold, so the loop pays the same per-sample cost.
    """
    from torch.utils.data import DataLoader

    from .train import build_model

    images = ((dataset.x_train * 0.5 + 0.5) * 255).round().to(torch.uint8).view(-1, 28, 28)
    loader = DataLoader(_NotebookMNIST(images, dataset.y_train.cpu()),
                        batch_size=config.batch_size, shuffle=True, num_workers=num_workers,
                        generator=torch.Generator().manual_seed(seed))
    device = torch.device(config.device)
    model = build_model("he_normal", seed, dataset, config).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum)
    loss_fn = torch.nn.CrossEntropyLoss()
    _sync(device)
    start = time.perf_counter()  # worker start-up included: the notebook pays it every epoch
    for x, y in loader:
        optimizer.zero_grad()
        loss_fn(model(x.to(device)), y.to(device)).backward()
        optimizer.step()
    _sync(device)
    return time.perf_counter() - start


def single_epochs(dataset, config, inits: Sequence[str], seed: int = 0) -> float:
    """Seconds to train each of ``inits`` for one epoch with train(), one model at a time."""
    from dataclasses import replace

    from .train import train

    one_epoch = replace(config, epochs=1)
    return sum(train(init, seed, dataset, one_epoch).epochs[0].seconds for init in inits)


def grid_epoch(dataset, config, inits: Sequence[str], seeds: Sequence[int]) -> float:
    """Wall seconds of one epoch of train_grid over inits x seeds (training steps only)."""
    from dataclasses import replace

    from .grid import train_grid

    results = train_grid(inits, seeds, dataset, replace(config, epochs=1))
    return results[0].epochs[0].seconds * len(results)  # stored per model: undo the division


# ---------------------------------------------------------------------------------------------
# Peak memory
# ---------------------------------------------------------------------------------------------

def _status_mb(field: str) -> float:
    """A memory field of /proc/self/status (VmRSS: resident now, VmHWM: peak), in MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # reported in kB
    raise OSError(f"/proc/self/status has no {field}")


def _reset_peak_rss() -> bool:
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


def _rss_now_and_peak_mb() -> tuple[float, float]:
    """(resident now, peak so far) in MiB: /proc where there is one, else getrusage's peak."""
    try:
        return _status_mb("VmRSS"), _status_mb("VmHWM")
    except OSError:
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB; bytes on macOS
        peak_mb = peak / 2**20 if sys.platform == "darwin" else peak / 1024
        return peak_mb, peak_mb


def _grid_memory_child(dataset_name, data_dir, download, inits, seeds, config, rows,
                       queue) -> None:
    import gc
    from dataclasses import replace

    from . import data as data_module
    from .grid import train_grid
    from .models import mlp_sizes

    try:
        dataset = data_module.load(dataset_name, data_dir, download)
        # Fewer steps, same memory: the full dataset stays loaded (x_train[:rows] is a view) and
        # every step allocates the same tensors; evaluation runs on the whole test split.
        dataset = replace(dataset, x_train=dataset.x_train[:rows], y_train=dataset.y_train[:rows])
        gc.collect()
        reset = _reset_peak_rss()  # loading (CSV parsing, decompression) peaks above what it keeps
        before = _rss_now_and_peak_mb()[0]
        train_grid(inits, seeds, dataset, replace(config, epochs=1))
        sizes = mlp_sizes(dataset.n_features, config.hidden, dataset.n_classes)
        n_params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
        device = torch.device(config.device)
        device_peak = (torch.cuda.max_memory_allocated(device) / 2**20
                       if device.type == "cuda" else float("nan"))
        queue.put((before, _rss_now_and_peak_mb()[1], n_params, device_peak, reset))
    except Exception as e:  # reported by the parent in one line
        queue.put(e)


def grid_peak_memory(dataset_name: str, data_dir, inits: Sequence[str], seeds: Sequence[int],
                     config, rows: int = 6_400, download: bool = False) -> dict:
    """Peak resident memory (MiB) of training the grid inits x seeds for one epoch.

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
    import multiprocessing
    import queue as queue_module

    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_grid_memory_child, args=(
        dataset_name, None if data_dir is None else str(data_dir), download, list(inits),
        list(seeds), config, rows, queue))
    child.start()
    outcome = None
    while outcome is None:
        try:
            outcome = queue.get(timeout=1.0)
        except queue_module.Empty:
            if not child.is_alive():  # finished or killed (e.g. out of memory): one last look
                try:
                    outcome = queue.get(timeout=5.0)
                except queue_module.Empty:
                    raise RuntimeError(f"the memory-measuring process died (exit code "
                                       f"{child.exitcode})") from None
    child.join(timeout=60)
    if isinstance(outcome, Exception):
        raise outcome
    before, peak, n_params, device_peak, reset = outcome
    if not reset:
        before = float("nan")  # getrusage only knows the peak, which loading may have set
    models = len(inits) * len(dict.fromkeys(seeds))
    return {"models": models, "before_mb": before, "peak_rss_mb": peak, "grid_mb": peak - before,
            "stacked_mb": 2 * 4 * models * n_params / 2**20,
            "device_peak_mb": device_peak, "peak_reset_after_load": reset}


def memory_table(dataset_name: str, data_dir, device: str = "cpu",
                 profile_name: str = "nightly", download: bool = False):
    """Peak memory of each grid the profile trains (its experiments), on ``dataset_name``."""
    from dataclasses import replace

    import pandas as pd

    from . import profiles

    rows = []
    for experiment in profiles.get(profile_name).experiments:
        config = replace(experiment.config, device=device)
        memory = grid_peak_memory(dataset_name, data_dir, experiment.inits, experiment.seeds,
                                  config, download=download)
        rows.append({"sweep": "memory", "method": f"{profile_name}: {experiment.name}",
                     "model": config.model_name(), **memory})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------

# The seed notebook's four cases, as it really ran them (see initcore.initializers).
SEED_INITS = ("seed_zero", "seed_random", "xavier_normal", "he_normal")


def _rates(frame, dataset, config, calibration: float):
    """Add model-epochs/s, achieved GFLOP/s and the fraction of the matmul rate to ``frame``."""
    from .models import mlp_sizes

    sizes = mlp_sizes(dataset.n_features, config.hidden, dataset.n_classes)
    flops_per_epoch = training_flops_per_sample(sizes) * dataset.x_train.shape[0]
    frame["model_epochs_per_s"] = frame["models"] / frame["seconds"]
    frame["gflops"] = frame["model_epochs_per_s"] * flops_per_epoch / 1e9
    frame["fraction_of_matmul"] = frame["gflops"] / calibration
    frame["matmul_gflops"] = calibration
    return frame


def throughput_table(dataset, config, inits: Sequence[str] = SEED_INITS):
    """One epoch of the same work four ways: the notebook's loop as it wrote it (2 loader
    workers), the best plain DataLoader loop (no workers), train() per model, train_grid()."""
    import pandas as pd

    (notebook, plain, single, grid), calibration = calibrated(lambda: (
        notebook_epoch(dataset, config), notebook_epoch(dataset, config, num_workers=0),
        single_epochs(dataset, config, inits), grid_epoch(dataset, config, inits, (0,))),
        config.device)
    frame = pd.DataFrame({
        "method": [f"notebook DataLoader loop (num_workers={NOTEBOOK_WORKERS})",
                   "DataLoader loop, num_workers=0", "train(), one model at a time",
                   "train_grid(), all models at once"],
        "models": [1, 1, len(inits), len(inits)],
        "batch_size": config.batch_size,
        "seconds": [notebook, plain, single, grid],
    })
    frame = _rates(frame, dataset, config, calibration)
    frame["speedup_vs_notebook"] = frame["model_epochs_per_s"] / frame["model_epochs_per_s"][0]
    return frame


def scaling_table(dataset, config, grid_sizes: Sequence[int] = (1, 4, 16, 64),
                  batch_sizes: Sequence[int] = (64, 256, 1024), batch_sweep_models: int = 16):
    """train_grid throughput vs the number of models G (batch 64) and vs batch size (G = 16).

    Models are he_normal with seeds 0..G-1, so each has its own data order, as in real grids.
    """
    from dataclasses import replace

    import pandas as pd

    runs = ([("models", g, config.batch_size) for g in grid_sizes]
            + [("batch_size", batch_sweep_models, b) for b in batch_sizes])

    def sweep():
        return [{"sweep": name, "models": models, "batch_size": batch,
                 "seconds": grid_epoch(dataset, replace(config, batch_size=batch),
                                       ("he_normal",), range(models))}
                for name, models, batch in runs]

    rows, calibration = calibrated(sweep, config.device)
    return _rates(pd.DataFrame(rows), dataset, config, calibration)


def add_speed_parser(commands, add_data_options) -> None:
    speed = commands.add_parser(
        "speed", help="throughput: notebook loop vs train() vs train_grid(), and grid scaling")
    add_data_options(speed)
    speed.add_argument("--rows", type=int, default=None,
                       help="train on the first N training rows only (default: all)")
    speed.add_argument("--report-dir", default="reports")
    speed.add_argument("--run-id", default=None)
    speed.add_argument("--no-scaling", action="store_true", help="skip the G / batch sweeps")
    speed.add_argument("--no-memory", action="store_true",
                       help="skip the peak memory of the nightly profile's grids")


def cmd_speed(args) -> int:
    from dataclasses import replace

    import pandas as pd

    from . import data as data_module
    from . import reports
    from .train import TrainConfig, check_device

    config = TrainConfig(device=args.device)
    if args.rows is not None and args.rows < 1:
        raise ValueError(f"--rows must be >= 1, got {args.rows}")
    check_device(args.device)
    run_id = args.run_id if args.run_id is not None else reports.new_run_id()
    run_dir = reports.check_new_run(args.report_dir, run_id)
    dataset = data_module.load(args.dataset, args.data_dir, args.download)
    if args.rows:
        dataset = replace(dataset, x_train=dataset.x_train[:args.rows],
                          y_train=dataset.y_train[:args.rows])
    print(f"{args.dataset}: {dataset.x_train.shape[0]} training rows, "
          f"{config.model_name()}, device {args.device}", flush=True)
    tables = [throughput_table(dataset, config).assign(sweep="methods")]
    print(_format(tables[0], ["method", "models", "seconds", "model_epochs_per_s",
                              "speedup_vs_notebook", "gflops", "fraction_of_matmul"]), flush=True)
    if not args.no_scaling:
        tables.append(scaling_table(dataset, config))
        print(_format(tables[1], ["sweep", "models", "batch_size", "seconds",
                                  "model_epochs_per_s", "gflops", "fraction_of_matmul"]))
    calibrations = " and ".join(f"{t['matmul_gflops'][0]:.1f}" for t in tables)
    print(f"matmul calibration: {calibrations} GFLOP/s (fp32 1024^3 GEMM, best before/after, "
          "per table)")
    if not args.no_memory:
        print(f"peak memory of the nightly profile's grids on {args.dataset} (fresh process each, "
              "MiB):", flush=True)
        tables.append(memory_table(args.dataset, args.data_dir, args.device,
                                   download=args.download))
        print(_format(tables[-1], ["method", "models", "stacked_mb", "before_mb", "grid_mb",
                                   "peak_rss_mb"]))
    path = reports.write_run_table(run_dir, "speed.csv", pd.concat(tables, ignore_index=True))
    print(f"report: {path}")
    return 0


def _format(frame, columns) -> str:
    return frame[columns].to_string(index=False, float_format=lambda v: f"{v:.3g}")
