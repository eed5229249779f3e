"""Throughput measurement: matmul calibration and model-epochs per second of the trainers.

The calibration is the fp32 GEMM rate of this machine measured in the same process and run as the
training it is compared with, so ratios (fraction of the matmul rate, speed-up over the notebook
loop, throughput relative to a baseline) do not depend on how fast or busy the machine is.
FLOPs of training are counted as 6 x weights per sample (2 forward, 4 backward: the standard
estimate for dense layers, Kaplan et al. 2020). Peak memory is :mod:`initcore.memory`'s; the
``initcore speed`` command that prints both is :mod:`initcore.cli.speed`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

import pandas as pd
import torch
from torch.utils.data import DataLoader

from .device import sync
from .grid import train_grid
from .models import mlp_sizes
from .train import build_model, train


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
    sync(dev)
    best = float("inf")
    for _ in range(repeats):
        sync(dev)
        start = time.perf_counter()
        a @ b
        sync(dev)
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
        # torchvision and PIL are imported only when the notebook loop is timed (start-up time of
        # everything else that imports this module, the bench session's calibration included).
        import torchvision.transforms as T

        self.images, self.labels = images, labels
        self.transform = T.Compose([T.ToTensor(), T.Normalize((0.5,), (0.5,))])

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        from PIL import Image  # see __init__: only where the notebook loop is timed

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
    images = ((dataset.x_train * 0.5 + 0.5) * 255).round().to(torch.uint8).view(-1, 28, 28)
    loader = DataLoader(_NotebookMNIST(images, dataset.y_train.cpu()),
                        batch_size=config.batch_size, shuffle=True, num_workers=num_workers,
                        generator=torch.Generator().manual_seed(seed))
    device = torch.device(config.device)
    model = build_model("he_normal", seed, dataset, config).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum)
    loss_fn = torch.nn.CrossEntropyLoss()
    sync(device)
    start = time.perf_counter()  # worker start-up included: the notebook pays it every epoch
    for x, y in loader:
        optimizer.zero_grad()
        loss_fn(model(x.to(device)), y.to(device)).backward()
        optimizer.step()
    sync(device)
    return time.perf_counter() - start


def single_epochs(dataset, config, inits: Sequence[str], seed: int = 0) -> float:
    """Seconds to train each of ``inits`` for one epoch with train(), one model at a time."""
    one_epoch = replace(config, epochs=1)
    return sum(train(init, seed, dataset, one_epoch).epochs[0].seconds for init in inits)


def grid_epoch(dataset, config, inits: Sequence[str], seeds: Sequence[int]) -> float:
    """Wall seconds of one epoch of train_grid over inits x seeds (training steps only)."""
    results = train_grid(inits, seeds, dataset, replace(config, epochs=1))
    return results[0].epochs[0].seconds * len(results)  # stored per model: undo the division


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------

# The seed notebook's four cases, as it really ran them (see initcore.initializers).
SEED_INITS = ("seed_zero", "seed_random", "xavier_normal", "he_normal")


def _rates(frame, dataset, config, calibration: float):
    """Add model-epochs/s, achieved GFLOP/s and the fraction of the matmul rate to ``frame``."""
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
    runs = ([("models", g, config.batch_size) for g in grid_sizes]
            + [("batch_size", batch_sweep_models, b) for b in batch_sizes])

    def sweep():
        return [{"sweep": name, "models": models, "batch_size": batch,
                 "seconds": grid_epoch(dataset, replace(config, batch_size=batch),
                                       ("he_normal",), range(models))}
                for name, models, batch in runs]

    rows, calibration = calibrated(sweep, config.device)
    return _rates(pd.DataFrame(rows), dataset, config, calibration)
