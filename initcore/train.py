"""Training: the seed recipe for one model (:func:`train`); many at once: :mod:`initcore.grid`.

The seed recipe: MLP 784-256-128-10 with ReLU, cross-entropy, SGD lr 0.01 momentum 0.9, batch 64,
10 epochs, a new shuffle every epoch, test accuracy at the end. Data are indexed straight out of
the in-memory tensors (no DataLoader, no per-sample transforms).

Randomness is explicit: a model's initial weights come from ``Generator(seed)`` and its data order
from ``Generator(seed + DATA_ORDER_OFFSET)``, so a (scheme, seed) cell is reproducible on its own
and two schemes with the same seed see the same batches. A model whose loss turns NaN/inf, or whose
weights hold NaN/inf at the end of an epoch, is marked diverged and frozen (no step is taken on a
NaN/inf loss; the weights may already hold inf if the step before overflowed); the others go on.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import initializers
from .data import Dataset
from .device import available_memory, sync
from .models import MLP, check_activation, mlp_name, mlp_sizes

DATA_ORDER_OFFSET = 1_000_003  # data-order generator seed = seed + this (a prime, far from seeds)
FLOAT32_MAX = float(torch.finfo(torch.float32).max)
EVAL_CHUNK = 2_500  # test rows evaluated at once (bounds memory when G models evaluate together)


class Progress(Protocol):
    def update(self, n: int = 1) -> object: ...


def estimate_bytes(config: TrainConfig, n_models: int, n_features: int, n_classes: int,
                   n_train: int, n_params_factor: int = 4) -> int:
    """A lower estimate of the memory that training ``n_models`` models of ``config`` takes:
    weights, gradients, momentum and the kept copy of every model (``n_params_factor`` float32
    copies), plus the activations of one training batch and one evaluation chunk of every model.
    Meant to refuse the impossible (hundreds of GB) before the first allocation, not to budget."""
    sizes = mlp_sizes(n_features, config.hidden, n_classes)
    params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    units = sum(sizes[1:])
    rows = 3 * min(config.batch_size, n_train) + EVAL_CHUNK  # forward + backward, and evaluation
    return 4 * n_models * (n_params_factor * params + rows * units)


def check_memory(config: TrainConfig, n_models: int, data: Dataset) -> None:
    """ValueError (one line) if training cannot fit in the memory left on the device, so a run
    that would die in its first allocation (or swap for hours) is refused before it starts."""
    n_features, n_classes = data.n_features, data.n_classes
    need = estimate_bytes(config, n_models, n_features, n_classes, data.x_train.shape[0])
    free = available_memory(config.device)
    if free is not None and need > free:
        raise ValueError(
            f"{n_models} model(s) of {config.model_name(n_features, n_classes)} need about "
            f"{need / 2**30:,.1f} GiB of memory on {config.device}, only {free / 2**30:,.1f} GiB "
            "is available: use fewer or smaller hidden layers, fewer seeds or initializers")


# Far beyond any published MNIST recipe (tens of epochs): a larger number is a typo that would
# otherwise run "forever" instead of failing in one line.
MAX_EPOCHS = 100_000

@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run except the scheme, the seed and the data."""

    hidden: tuple[int, ...] = (256, 128)  # hidden layer widths (units)
    activation: str = "relu"  # nonlinearity after every hidden layer (models.ACTIVATIONS)
    epochs: int = 10  # passes over the training set
    batch_size: int = 64  # samples per SGD step; the last, partial batch of an epoch is kept
    lr: float = 0.01  # SGD learning rate
    momentum: float = 0.9  # SGD (heavy-ball) momentum, torch.optim.SGD convention
    device: str = "cpu"  # where data and models live ("cpu", "cuda", "cuda:1", ...)

    def __post_init__(self) -> None:
        if not isinstance(self.epochs, int) or not 1 <= self.epochs <= MAX_EPOCHS:
            raise ValueError(f"epochs must be an integer in 1..{MAX_EPOCHS:,}, "
                             f"got {self.epochs!r}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"batch size must be an integer >= 1, got {self.batch_size!r}")
        if not (isinstance(self.lr, int | float) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"learning rate must be a finite number > 0, got {self.lr!r}")
        if self.lr > FLOAT32_MAX:  # the weights are float32: such a step cannot be taken
            raise ValueError(f"learning rate must be <= {FLOAT32_MAX:.3g} (the float32 range), "
                             f"got {self.lr!r}")
        if not (isinstance(self.momentum, int | float) and 0 <= self.momentum < 1):
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")
        if not self.hidden or any(not isinstance(h, int) or h < 1 for h in self.hidden):
            raise ValueError(f"hidden widths must be integers >= 1, got {self.hidden!r}")
        check_activation(self.activation)

    def model_name(self, n_features: int = 784, n_classes: int = 10) -> str:
        """Architecture name used in reports, e.g. ``mlp-784-256-128-10-relu``."""
        return mlp_name(mlp_sizes(n_features, self.hidden, n_classes), self.activation)


@dataclass(frozen=True)
class EpochMetrics:
    epoch: int  # 1-based
    train_loss: float  # mean of the epoch's per-batch losses (NaN if the model diverged in it)
    test_loss: float  # mean cross-entropy over the test set
    test_acc: float  # fraction of the test set classified correctly, in [0, 1]
    seconds: float  # wall time of the epoch's training steps (evaluation excluded)
    diverged: bool  # loss became NaN/inf in this epoch or earlier


@dataclass
class RunResult:
    init: str
    seed: int
    epochs: list[EpochMetrics] = field(default_factory=list)
    model: nn.Module | None = None  # the trained (or frozen, if diverged) model, on the CPU

    @property
    def diverged(self) -> bool:
        return bool(self.epochs) and self.epochs[-1].diverged

    @property
    def final_acc(self) -> float:
        return self.epochs[-1].test_acc if self.epochs else math.nan


def build_model(init: str, seed: int, data: Dataset, config: TrainConfig) -> MLP:
    """The MLP of ``config``, initialized on the CPU by scheme ``init`` from Generator(seed);
    ValueError (one line) if the scheme left a parameter non-finite or of another shape."""
    scheme = initializers.get(init)
    model = MLP(mlp_sizes(data.n_features, config.hidden, data.n_classes), config.activation)
    shapes = [p.shape for p in model.parameters()]
    generator = torch.Generator().manual_seed(seed)
    scheme(model, generator, data.x_train.cpu() if scheme.needs_data else None)
    _check_initialized(model, shapes, init)
    return model


def _check_initialized(model: nn.Module, shapes: list[torch.Size], init: str) -> None:
    """ValueError naming the first parameter that ``init`` resized or left non-finite: a
    user's scheme must fail where it is wrong, not as a NaN loss epochs later."""
    named = list(model.named_parameters())
    if len(named) != len(shapes):
        raise ValueError(f"initializer {init!r} changed the model's parameters "
                         f"({len(shapes)} before, {len(named)} after)")
    for (name, param), shape in zip(named, shapes):
        if param.shape != shape:
            raise ValueError(f"initializer {init!r} changed the shape of {name} from "
                             f"{tuple(shape)} to {tuple(param.shape)}")
        if not torch.isfinite(param).all():
            raise ValueError(f"initializer {init!r} left NaN or inf in {name}")


# A small net to try a user's scheme on before any work: two hidden layers, one of them
# square, so that a scheme that only handles some shapes fails here, in a second.
CHECK_HIDDEN = (64, 64)
CHECK_ROWS = 256


def check_scheme(init: str, n_features: int = 784, n_classes: int = 10) -> None:
    """Initialize a small MLP with scheme ``init`` (seed 0; random N(0, 1) inputs for a scheme
    that needs data); ValueError (one line) if it raises, resizes a parameter or leaves NaN."""
    inputs = torch.randn(CHECK_ROWS, n_features, generator=torch.Generator().manual_seed(0))
    probe = Dataset("check", inputs, torch.zeros(CHECK_ROWS, dtype=torch.long), inputs[:1],
                    torch.zeros(1, dtype=torch.long), n_classes=n_classes)
    try:
        build_model(init, 0, probe, TrainConfig(hidden=CHECK_HIDDEN))
    except ValueError:
        raise
    except Exception as e:  # the user's code: whatever it raises becomes one line
        raise ValueError(f"initializer {init!r} failed on a {n_features}-64-64-{n_classes} "
                         f"MLP: {type(e).__name__}: {' '.join(str(e).split())}") from None


def epoch_order(generator: torch.Generator, n: int, device: str | torch.device) -> Tensor:
    """A fresh permutation of the n training rows (drawn on the CPU for reproducibility)."""
    return torch.randperm(n, generator=generator).to(device)


@torch.no_grad()
def evaluate(model: nn.Module, x: Tensor, y: Tensor) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of ``model`` on (x, y)."""
    loss_sum, correct = 0.0, 0
    for start in range(0, x.shape[0], EVAL_CHUNK):
        logits = model(x[start:start + EVAL_CHUNK])
        target = y[start:start + EVAL_CHUNK]
        loss_sum += F.cross_entropy(logits, target, reduction="sum").item()
        correct += (logits.argmax(1) == target).sum().item()
    return loss_sum / x.shape[0], correct / x.shape[0]


def train(
    init: str, seed: int, data: Dataset, config: TrainConfig = TrainConfig(),
    progress: Progress | None = None,
) -> RunResult:
    """Train one model with the seed recipe; per-epoch metrics, stopping if the loss diverges."""
    # --- setup -----------------------------------------------------------------------------
    device = torch.device(config.device)
    data = data.to(device)
    model = build_model(init, seed, data, config).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum)
    order_generator = torch.Generator().manual_seed(seed + DATA_ORDER_OFFSET)
    n = data.x_train.shape[0]
    result = RunResult(init, seed)

    for epoch in range(1, config.epochs + 1):
        # --- train (the timed region) -------------------------------------------------------
        sync(device)
        start = time.perf_counter()
        order = epoch_order(order_generator, n, device)
        losses = []
        diverged = False
        for first in range(0, n, config.batch_size):
            rows = order[first:first + config.batch_size]
            loss = F.cross_entropy(model(data.x_train[rows]), data.y_train[rows])
            if not torch.isfinite(loss):
                diverged = True  # freeze at the last finite weights: no step on a NaN/inf loss
                break
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())
        # A finite loss can hide overflowed weights (e.g. a -inf bias of an unused class).
        diverged = diverged or not all(torch.isfinite(p).all() for p in model.parameters())
        sync(device)
        seconds = time.perf_counter() - start

        # --- evaluate -----------------------------------------------------------------------
        if diverged:
            result.epochs.append(EpochMetrics(epoch, math.nan, math.nan, math.nan, seconds, True))
        else:
            test_loss, test_acc = evaluate(model, data.x_test, data.y_test)
            train_loss = torch.stack(losses).mean().item()
            result.epochs.append(
                EpochMetrics(epoch, train_loss, test_loss, test_acc, seconds, False))
        if progress is not None:  # a diverged model's skipped epochs count as done
            progress.update(config.epochs - epoch + 1 if diverged else 1)
        if diverged:
            break
    result.model = model.cpu()
    return result
