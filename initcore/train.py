"""Training: a :class:`Recipe` for one model (:func:`train`); many at once: :mod:`initcore.grid`.

The seed recipe (``Recipe()``): MLP 784-256-128-10 with ReLU, cross-entropy, SGD lr 0.01
momentum 0.9, batch 64, 10 epochs, inputs in [-1, 1], a new shuffle every epoch, test accuracy
at the end. Other recipes change the optimizer (Adam), weight decay, the learning-rate schedule,
biases and input scaling (published MNIST-MLP tables: :mod:`initcore.recipes`). Data are
indexed straight out of the in-memory tensors (no DataLoader, no per-sample transforms).

Randomness is explicit: a model's initial weights come from ``Generator(seed)`` and its data order
from ``Generator(seed + DATA_ORDER_OFFSET)``, so a (scheme, seed) cell is reproducible on its own
and two schemes with the same seed see the same batches. A model whose loss turns NaN/inf, or whose
weights hold NaN/inf at the end of an epoch, is marked diverged and frozen (no step is taken on a
NaN/inf loss; the weights may already hold inf if the step before overflowed); the others go on.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import initializers, user_schemes
from .data import SCALINGS, Dataset, rescale
from .device import available_memory, sync
from .models import MLP, ResMLP, check_activation, mlp_name, mlp_sizes, resmlp_name
from .user_schemes import architectures_of

DATA_ORDER_OFFSET = 1_000_003  # data-order generator seed = seed + this (a prime, far from seeds)
FLOAT32_MAX = float(torch.finfo(torch.float32).max)
MAX_BATCH = 2**31 - 1  # rows of one batch: torch indexes rows with int32 in many kernels
EVAL_CHUNK = 2_500  # test rows evaluated at once (bounds memory when G models evaluate together)


class Progress(Protocol):
    def update(self, n: int = 1) -> object: ...


def estimate_bytes(config: Recipe, n_models: int, n_features: int, n_classes: int,
                   n_train: int, n_params_factor: int | None = None) -> int:
    """A lower estimate of the memory that training ``n_models`` models of ``config`` takes:
    weights, gradients, the optimizer's state and the kept copy of every model
    (``n_params_factor`` float32 copies: 4 for SGD, 5 for Adam's two moments), plus the
    activations of one training batch and one evaluation chunk of every model.
    Meant to refuse the impossible (hundreds of GB) before the first allocation, not to budget."""
    if n_params_factor is None:
        n_params_factor = 5 if config.optimizer == "adam" else 4
    if config.arch == "resmlp":
        w, depth = config.width, config.blocks * config.branch_layers
        params = (n_features + 1) * w + depth * (w + 1) * w + (w + 1) * n_classes
        units = w * (1 + depth) + n_classes
    else:
        sizes = mlp_sizes(n_features, config.hidden, n_classes)
        params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
        units = sum(sizes[1:])
    rows = 3 * min(config.batch_size, n_train) + EVAL_CHUNK  # forward + backward, and evaluation
    return 4 * n_models * (n_params_factor * params + rows * units)


def check_memory(config: Recipe, n_models: int, data: Dataset) -> None:
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

OPTIMIZERS = ("sgd", "adam")
MULTIPLIERS = ("init_mult", "lr_mult", "bias_lr_mult")  # the per-layer Recipe fields
SCHEDULES = ("constant", "step", "cosine")


def _number(value: object) -> bool:
    """A real number (bool excluded: ``True`` is an int to Python, never a meant rate)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class Recipe:
    """Everything that defines a training run except the scheme, the seed and the data.

    The defaults are the seed notebook's recipe. The optimizer, weight decay and schedule follow
    ``torch.optim``'s conventions exactly (tests/test_recipes.py checks both trainers against
    torch.optim.SGD/Adam, StepLR and CosineAnnealingLR); :meth:`describe` is the compact form the
    reports record and the regression gate keys on.
    """

    # -- architecture --
    hidden: tuple[int, ...] = (256, 128)  # hidden layer widths (units)
    activation: str = "relu"  # nonlinearity after every hidden layer (models.ACTIVATIONS)
    bias: bool = True  # False: every Linear layer without a bias (e.g. the ZerO paper's MLP)
    # -- data --
    input_scaling: str = "symmetric"  # data.SCALINGS: "unit" [0,1] (ToTensor), "symmetric"
    # [-1,1] (the seed notebook), "standard" (training set's pixel mean/std, as Normalize(
    # (0.1307,), (0.3081,)) does for MNIST); applied once to the in-memory tensors
    epochs: int = 10  # passes over the training set
    batch_size: int = 64  # samples per step; the last, partial batch of an epoch is kept
    # -- optimizer (torch.optim conventions) --
    optimizer: str = "sgd"  # "sgd" (torch.optim.SGD; momentum 0 is plain SGD) or "adam"
    lr: float = 0.01  # learning rate at epoch 1 (the schedule's base rate)
    momentum: float = 0.9  # SGD heavy-ball momentum (ignored by adam)
    betas: tuple[float, float] = (0.9, 0.999)  # Adam's moment decay rates (ignored by sgd)
    eps: float = 1e-8  # Adam's denominator guard (ignored by sgd)
    weight_decay: float = 0.0  # L2 penalty added to the gradient: g + wd * p, biases included
    # -- learning-rate schedule, stepped once per epoch (after it), as torch.optim.lr_scheduler --
    schedule: str = "constant"  # "constant", "step" (StepLR) or "cosine" (CosineAnnealingLR)
    step_size: int = 1  # "step": lr is multiplied by gamma every step_size epochs
    gamma: float = 0.1  # "step": the factor
    # "cosine": lr_e = lr * (1 + cos(pi * e / epochs)) / 2 for epoch e = 0..epochs-1 (T_max =
    # epochs, eta_min = 0)
    device: str = "cpu"  # where data and models live ("cpu", "cuda", "cuda:1", ...)
    # -- per-layer multipliers (a parametrization such as muP: initcore.parametrization) --
    # One number per Linear layer, first to last; () means 1 for every layer (the default,
    # standard parametrization). Weight decay is not rescaled by them.
    init_mult: tuple[float, ...] = ()  # each layer's weights are multiplied by this after the
    # scheme initialized them (0: zero-initialized, e.g. muP's readout); biases are left alone
    lr_mult: tuple[float, ...] = ()  # each layer's weights train at lr * lr_mult[l]
    bias_lr_mult: tuple[float, ...] = ()  # each layer's bias trains at lr * bias_lr_mult[l]
    # -- residual architecture (arch "resmlp": models.ResMLP; `hidden` is then unused) --
    arch: str = "mlp"  # "mlp" (models.MLP of `hidden`) or "resmlp" (stem, blocks, classifier)
    blocks: int = 8  # resmlp: residual blocks L
    width: int = 256  # resmlp: width w of the stem's output and of every block (units)
    branch_layers: int = 2  # resmlp: Linear layers per branch, 2 (W2 act(W1 h)) or 1 (act(W h))
    branch_gain: bool = True  # resmlp: a learnable scalar a per branch (h + a F(h)), 1 at build
    scalar_bias: bool = False  # resmlp: Fixup's four learnable scalar biases per block

    def __post_init__(self) -> None:
        # tuples from lists (a TOML file gives lists); frozen, so through object.__setattr__
        if isinstance(self.hidden, list):
            object.__setattr__(self, "hidden", tuple(self.hidden))
        if isinstance(self.betas, list):
            object.__setattr__(self, "betas", tuple(self.betas))
        for name in MULTIPLIERS:
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))
        if not isinstance(self.epochs, int) or not 1 <= self.epochs <= MAX_EPOCHS:
            raise ValueError(f"epochs must be an integer in 1..{MAX_EPOCHS:,}, "
                             f"got {self.epochs!r}")
        if not isinstance(self.batch_size, int) or not 1 <= self.batch_size <= MAX_BATCH:
            raise ValueError(f"batch size must be an integer in 1..{MAX_BATCH:,} (torch's "
                             f"int32 row index), got {self.batch_size!r}")
        if not (_number(self.lr) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"learning rate must be a finite number > 0, got {self.lr!r}")
        if self.lr > FLOAT32_MAX:  # the weights are float32: such a step cannot be taken
            raise ValueError(f"learning rate must be <= {FLOAT32_MAX:.3g} (the float32 range), "
                             f"got {self.lr!r}")
        if not (_number(self.momentum) and 0 <= self.momentum < 1):
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")
        if any(not isinstance(h, int) or isinstance(h, bool) or h < 1 for h in self.hidden):
            raise ValueError(f"hidden widths must be integers >= 1, got {self.hidden!r}")
        check_activation(self.activation)
        if not isinstance(self.bias, bool):
            raise ValueError(f"bias must be true or false, got {self.bias!r}")
        if self.input_scaling not in SCALINGS:
            raise ValueError(f"input scaling must be one of {', '.join(SCALINGS)}, "
                             f"got {self.input_scaling!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, "
                             f"got {self.optimizer!r}")
        if not (isinstance(self.betas, tuple) and len(self.betas) == 2
                and all(_number(b) and 0 <= b < 1 for b in self.betas)):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        if not (_number(self.eps) and math.isfinite(self.eps) and self.eps > 0):
            raise ValueError(f"eps must be a finite number > 0, got {self.eps!r}")
        if not (_number(self.weight_decay) and math.isfinite(self.weight_decay)
                and self.weight_decay >= 0):
            raise ValueError(f"weight decay must be a finite number >= 0, "
                             f"got {self.weight_decay!r}")
        if self.weight_decay > FLOAT32_MAX:  # as the learning rate: beyond float32's range
            raise ValueError(f"weight decay must be <= {FLOAT32_MAX:.3g} (the float32 range), "
                             f"got {self.weight_decay!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, "
                             f"got {self.schedule!r}")
        if not isinstance(self.step_size, int) or isinstance(self.step_size, bool) or (
                self.step_size < 1):
            raise ValueError(f"step size must be an integer >= 1 (epochs), "
                             f"got {self.step_size!r}")
        if not (_number(self.gamma) and 0 < self.gamma <= 1):
            raise ValueError(f"gamma must be in (0, 1], got {self.gamma!r}")
        if self.arch != "mlp" and any(getattr(self, n) for n in MULTIPLIERS):
            # one number per Linear layer of an MLP; a ResMLP also has gains and scalar biases
            # that neither trainer would know where to put
            raise ValueError(f"{', '.join(MULTIPLIERS)} are per layer of an MLP: arch "
                             f"{self.arch!r} takes none")
        n_layers = len(self.hidden) + 1
        for name in MULTIPLIERS:
            mult = getattr(self, name)
            zero_ok = name == "init_mult"  # a zero learning rate would be a frozen layer
            if not isinstance(mult, tuple) or len(mult) not in (0, n_layers) or not all(
                    _number(m) and math.isfinite(m) and (m >= 0 if zero_ok else m > 0)
                    for m in mult):
                raise ValueError(f"{name} must be empty or {n_layers} finite numbers "
                                 f"{'>= 0' if zero_ok else '> 0'} (one per layer), "
                                 f"got {mult!r}")
        _check_residual(self)

    def multipliers(self, name: str) -> tuple[float, ...]:
        """``init_mult``, ``lr_mult`` or ``bias_lr_mult`` with () spelled out as 1 per layer."""
        return getattr(self, name) or (1.0,) * (len(self.hidden) + 1)

    def model_name(self, n_features: int, n_classes: int) -> str:
        """Architecture name used in reports, e.g. ``mlp-784-256-128-10-relu`` or
        ``resmlp-784-64x256-b2-10-relu`` (``-nobias`` appended for a net without biases).
        The sizes are the dataset's, always given: a default of 784 once named every MNIST-1D
        net (40 features) ``mlp-784-...`` in the reports, a regression key."""
        if self.arch == "resmlp":
            name = resmlp_name(n_features, self.blocks, self.width, n_classes,
                               self.branch_layers, self.activation, self.branch_gain,
                               self.scalar_bias)
        else:
            name = mlp_name(mlp_sizes(n_features, self.hidden, n_classes), self.activation)
        return name if self.bias else f"{name}-nobias"

    def lr_at(self, epoch: int) -> float:
        """The learning rate of (1-based) ``epoch``: the closed form of StepLR /
        CosineAnnealingLR stepped once after every epoch (torch's chainable form equals it up
        to rounding, tests/test_recipes.py)."""
        e = epoch - 1  # epochs done before this one
        if self.schedule == "step":
            return self.lr * self.gamma ** (e // self.step_size)
        if self.schedule == "cosine":
            return self.lr * (1 + math.cos(math.pi * e / self.epochs)) / 2
        return self.lr

    def describe(self) -> str:
        """The recipe in one line, as reports record it and the regression gate keys on it:
        everything that changes the numbers but the architecture (the ``model`` column) and
        the device (its own column). Only the fields that apply are shown (no betas for sgd)."""
        parts = [f"{self.optimizer} lr={self.lr:g}"]
        if self.optimizer == "sgd":
            parts.append(f"momentum={self.momentum:g}")
        else:
            parts.append(f"betas={self.betas[0]:g},{self.betas[1]:g} eps={self.eps:g}")
        parts.append(f"wd={self.weight_decay:g}")
        if self.schedule == "step":
            parts.append(f"step={self.step_size}x{self.gamma:g}")
        elif self.schedule == "cosine":
            parts.append("cosine")
        parts += [f"batch={self.batch_size}", f"epochs={self.epochs}",
                  f"inputs={self.input_scaling}"]
        for name in MULTIPLIERS:  # shown only when set: older reports' recipes are unchanged
            if getattr(self, name):
                parts.append(f"{name}=" + ",".join(f"{m:.4g}" for m in getattr(self, name)))
        return " ".join(parts)

    def as_dict(self) -> dict:
        """Every field, as run.json and a recipe TOML file hold them (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def __getattr__(name: str):
    """``TrainConfig``, the former name of :class:`Recipe`: still importable, with a
    DeprecationWarning (one name for the recipe type from now on)."""
    if name == "TrainConfig":
        import warnings

        warnings.warn("initcore.train.TrainConfig is deprecated: use initcore.train.Recipe",
                      DeprecationWarning, stacklevel=2)
        return Recipe
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


ARCHS = ("mlp", "resmlp")


def _check_residual(recipe: Recipe) -> None:
    """ValueError (one line) for a residual-architecture field out of range."""
    if recipe.arch not in ARCHS:
        raise ValueError(f"architecture must be one of {', '.join(ARCHS)}, got {recipe.arch!r}")
    for name, low in (("blocks", 0), ("width", 1)):
        value = getattr(recipe, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if recipe.branch_layers not in (1, 2) or isinstance(recipe.branch_layers, bool):
        raise ValueError(f"branch layers must be 1 or 2, got {recipe.branch_layers!r}")
    for name in ("branch_gain", "scalar_bias"):
        if not isinstance(getattr(recipe, name), bool):
            raise ValueError(f"{name.replace('_', ' ')} must be true or false, "
                             f"got {getattr(recipe, name)!r}")


def make_model(config: Recipe, n_features: int, n_classes: int) -> nn.Module:
    """The untrained net of ``config``: :class:`MLP` or :class:`ResMLP` (nn.Linear's init)."""
    if config.arch == "resmlp":
        return ResMLP(n_features, config.width, config.blocks, n_classes, config.branch_layers,
                      config.activation, config.bias, config.branch_gain, config.scalar_bias)
    return MLP(mlp_sizes(n_features, config.hidden, n_classes), config.activation,
               bias=config.bias)


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


def build_model(init: str, seed: int, data: Dataset, config: Recipe) -> nn.Module:
    """The net of ``config`` (MLP or ResMLP), initialized on the CPU by scheme ``init`` from
    Generator(seed);
    ValueError (one line) if the scheme left a parameter non-finite or of another shape.
    A data-dependent scheme (LSUV) sees ``data`` as given: scale it first (:func:`rescale`)."""
    scheme = initializers.get(init)
    model = make_model(config, data.n_features, data.n_classes)
    shapes = [p.shape for p in model.parameters()]
    dtype = torch.get_default_dtype()
    generator = torch.Generator().manual_seed(seed)
    scheme(model, generator, data.x_train.cpu() if scheme.needs_data else None)
    _check_initialized(model, shapes, init, dtype)
    if config.init_mult:  # a parametrization's per-layer scale (e.g. muP's readout)
        with torch.no_grad():
            for layer, mult in zip(initializers.linear_layers(model), config.init_mult):
                layer.weight.mul_(mult)
    return model


def _check_initialized(model: nn.Module, shapes: list[torch.Size], init: str,
                       dtype: torch.dtype = torch.float32) -> None:
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
        if param.dtype != dtype or torch.get_default_dtype() != dtype:
            torch.set_default_dtype(dtype)
            raise ValueError(f"initializer {init!r} changed the dtype of {name} (or torch's "
                             f"default dtype) from {dtype}")
        if not torch.isfinite(param).all():
            raise ValueError(f"initializer {init!r} left NaN or inf in {name}")


def check_scheme(init: str, n_features: int = 784, n_classes: int = 10) -> None:
    """Try scheme ``init`` on the trial net (``n_features``-64-64-``n_classes``) before any
    work: :func:`initcore.user_schemes.check_scheme` (raises, resizes, retypes, NaN, global RNG,
    determinism); ValueError (one line) if it fails."""
    user_schemes.check_scheme(init, architectures_of([], n_features, n_classes))


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


def make_optimizer(model: nn.Module, config: Recipe
                   ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """The torch.optim optimizer and per-epoch scheduler of ``config`` for ``model``; with
    per-layer learning-rate multipliers, one parameter group per weight and bias."""
    params: list = list(model.parameters())
    if config.lr_mult or config.bias_lr_mult:
        params = []
        for layer, w_mult, b_mult in zip(initializers.linear_layers(model),
                                         config.multipliers("lr_mult"),
                                         config.multipliers("bias_lr_mult")):
            params.append({"params": [layer.weight], "lr": config.lr * w_mult})
            if layer.bias is not None:
                params.append({"params": [layer.bias], "lr": config.lr * b_mult})
    if config.optimizer == "adam":
        optimizer: torch.optim.Optimizer = torch.optim.Adam(
            params, lr=config.lr, betas=config.betas, eps=config.eps,
            weight_decay=config.weight_decay)
    else:
        optimizer = torch.optim.SGD(params, lr=config.lr, momentum=config.momentum,
                                    weight_decay=config.weight_decay)
    if config.schedule == "step":
        scheduler: torch.optim.lr_scheduler.LRScheduler = torch.optim.lr_scheduler.StepLR(
            optimizer, step_size=config.step_size, gamma=config.gamma)
    elif config.schedule == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    else:
        scheduler = torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)
    return optimizer, scheduler


def train(
    init: str, seed: int, data: Dataset, config: Recipe = Recipe(),
    progress: Progress | None = None,
) -> RunResult:
    """Train one model with ``config``'s recipe (torch.optim); per-epoch metrics, stopping if
    the loss diverges."""
    # --- setup -----------------------------------------------------------------------------
    device = torch.device(config.device)
    data = rescale(data, config.input_scaling).to(device)
    model = build_model(init, seed, data, config).to(device)
    optimizer, scheduler = make_optimizer(model, config)
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
        scheduler.step()  # per epoch, after it (lr_scheduler's convention)
    result.model = model.cpu()
    return result
