"""The bound tables of the profiles, as data: per experiment, ``init -> (Bound, ...)``.

Each :class:`~initcore.experiments.Bound` says what one initializer's final (or epoch-k) test
accuracy must satisfy, why (the theory, one line) and the measurement the number came from
(``measured``: the command, seeds, kernels, mean and spread). The experiments that use these
tables, and the profiles that group them, are :mod:`initcore.profiles`; the rule that checks a
bound is :func:`initcore.experiments.check_bound`. No bound is written as a literal in a test
body.
"""

from __future__ import annotations

from .experiments import Bound
from .initializers import builtin_names, builtin_scheme
from .train import Recipe

CHANCE = 0.1  # 10 balanced-ish classes

# ---------------------------------------------------------------------------------------------
# Bounds. Each number was measured with the command in `measured` (see README "Benchmark suite").
# ---------------------------------------------------------------------------------------------

_TRAINS = "a variance-preserving scale lets a 3-layer ReLU net train fast"
_SMOKE_SRC = "mnist-5k, 3 epochs, seeds 0-9 (initcore run --seeds 10)"
# Kernel perturbations: the same 10 seeds re-run under ATEN_CPU_CAPABILITY=default, =avx2,
# OMP_NUM_THREADS=1, =2, and avx2 + MKL_ENABLE_INSTRUCTIONS=AVX2 + one thread (the closest this
# AVX-512 machine comes to an AVX2-only CPU). Each changes which kernels and reduction orders run
# (OMP_NUM_THREADS=2 is this 2-core machine's default and gave identical numbers); 54 of the 130
# cells changed under the portable kernels, by up to 0.6 point for the schemes that train.
_PERTURBED = "5 kernel perturbations x seeds 0-9"
# `pytest bench --seeds auto` trains up to 30 seeds (initcore.options.MAX_SEEDS), and every seed
# must pass a per-seed bound: the floors were re-checked on seeds 0-29 (default kernels, one
# thread; issue 20's smoke run with --seeds auto). Where the lowest of the 30 sat less than 2
# points above a floor, the floor moved to 2 points under it, rounded down to a whole point.
_AUTO_30 = "seeds 0-29 (default kernels, OMP_NUM_THREADS=1, pytest bench --seeds auto)"


def _high(min_acc: float, measured: str, why: str = _TRAINS) -> tuple[Bound, ...]:
    return (Bound(min_acc=min_acc, why=why, measured=measured),)


_NEW_PERTURBED = "ATEN_CPU_CAPABILITY=default OMP_NUM_THREADS=1 x seeds 0-9"
# identity and zero_hadamard are the same weights on the seed recipe's net (no layer widens, so
# ZerO is the partial identity): one measurement, one pair of bounds.
_IDENTITY_SMOKE = (
    Bound(min_acc=0.55, why="the partial identity learns, through a bottleneck: at step 0 the "
          "first layer sees only pixels 0-255 (the top 9 rows, mostly background) and the output "
          "only hidden units 0-9, so only 10 units of each layer get a gradient",
          measured=f"{_SMOKE_SRC}: mean 73.95, std 4.06, min 64.1, max 78.6; {_NEW_PERTURBED}: "
          "mean 73.93, std 4.09, min 63.9, max 78.6 (floor: 8.9 points and 4.6 std under)"),
    Bound(max_acc=0.86, why="and so it trails every variance-scaled scheme (He: min 88.8) after "
          "3 epochs", measured=f"{_SMOKE_SRC}: max 78.6 both kernels (ceiling 7.4 points and "
          "1.8 std above it)"),
)


SMOKE_BOUNDS: dict[str, tuple[Bound, ...]] = {
    # A constant predictor scores the share of its class: exactly 10% on the balanced test split.
    "zeros": (Bound(max_acc=0.101, why="W=b=0: hidden gradients are exactly 0, only the output "
                    "bias learns -> constant prediction", measured=f"{_SMOKE_SRC}: 10.00% all; "
                    f"{_PERTURBED}: 10.00% all"),),
    "seed_zero": (Bound(max_acc=0.15, why="W=0 with random biases: every hidden unit ignores the "
                        "input until W2 moves; stays at chance in 189 steps",
                        measured=f"{_SMOKE_SRC}: 10.00% all seeds, also after 5 epochs; "
                        f"{_PERTURBED}: 10.00% all"),),
    "random_large": (Bound(max_acc=0.30, may_diverge=True, why="N(0,1): pre-activations grow "
                           "~sqrt(fan_in/2) per layer; the first steps (loss ~1500) kill almost "
                           "every hidden ReLU, and the few survivors learn little",
                           measured=f"{_SMOKE_SRC}: mean 10.09, std 0.28, max 10.9; "
                           f"{_PERTURBED}: 10.00% but seed 6 under the portable kernels "
                           "(ATEN_CPU_CAPABILITY=default), 16.4%: some units survived there"),),
    "random_normal": (Bound(min_acc=0.50, max_acc=0.75, why="N(0,0.01^2): the signal shrinks "
                            "~10x per layer, so it learns, but far slower than He/Xavier",
                            measured=f"{_SMOKE_SRC}: mean 63.17, std 2.30, min 58.9, max 67.0; "
                            f"{_PERTURBED}: min 58.9, max 67.0"),),
    "torch_default": _high(0.82, f"{_SMOKE_SRC}: mean 87.46, std 1.03, min 85.6; {_PERTURBED}: "
                           "min 85.5", "Var=1/(3 fan_in) shrinks the signal but 3 layers still "
                           "train"),
    "xavier_uniform": _high(0.84, f"{_SMOKE_SRC}: mean 89.46, std 0.82, min 87.9; {_PERTURBED}: "
                            f"min 87.9; {_AUTO_30}: min 86.7"),
    "xavier_normal": _high(0.84, f"{_SMOKE_SRC}: mean 89.65, std 0.99, min 88.6; {_PERTURBED}: "
                           f"min 88.0; {_AUTO_30}: min 86.0"),
    "he_uniform": _high(0.84, f"{_SMOKE_SRC}: mean 89.79, std 0.92, min 88.3; {_PERTURBED}: "
                        f"min 88.2; {_AUTO_30}: min 86.8"),
    "he_normal": _high(0.85, f"{_SMOKE_SRC}: mean 90.01, std 0.91, min 88.8; {_PERTURBED}: "
                       "min 88.6"),
    "lecun_normal": _high(0.84, f"{_SMOKE_SRC}: mean 88.86, std 0.74, min 87.9; {_PERTURBED}: "
                          f"min 87.9; {_AUTO_30}: min 86.7"),
    "orthogonal": _high(0.84, f"{_SMOKE_SRC}: mean 88.80, std 0.78, min 87.5; {_PERTURBED}: "
                        f"min 87.4; {_AUTO_30}: min 86.6"),
    "lsuv": _high(0.84, f"{_SMOKE_SRC}: mean 89.40, std 1.00, min 87.7; {_PERTURBED}: min 87.6; "
                  f"{_AUTO_30}: min 86.3"),
    "seed_random": _high(0.83, f"{_SMOKE_SRC}: mean 89.52, std 0.81, min 88.3; {_PERTURBED}: "
                         f"min 88.3; {_AUTO_30}: min 85.7"),
    # The schemes since 2016 (issue 12), measured with default kernels and under
    # ATEN_CPU_CAPABILITY=default OMP_NUM_THREADS=1 (_NEW_PERTURBED), seeds 0-9 each.
    "lecun_uniform": _high(0.85, f"{_SMOKE_SRC}: mean 89.07, std 0.86, min 87.7, max 89.9; "
                           f"{_NEW_PERTURBED}: mean 89.08, std 0.88, min 87.7"),
    "lecun_truncated_normal": _high(0.84, f"{_SMOKE_SRC}: mean 88.88, std 1.14, min 86.4, max "
                                    f"90.6; {_NEW_PERTURBED}: mean 88.91, std 1.05, min 87.0"),
    "he_truncated_normal": _high(0.85, f"{_SMOKE_SRC}: mean 89.73, std 1.24, min 87.3, max 91.2; "
                                 f"{_NEW_PERTURBED}: mean 89.43, std 1.13, min 87.3"),
    "orthogonal_relu": _high(0.84, f"{_SMOKE_SRC}: mean 89.45, std 1.00, min 87.7, max 91.3; "
                             f"{_NEW_PERTURBED}: mean 89.38, std 1.08, min 87.4; "
                             f"{_AUTO_30}: min 86.8"),
    "identity": _IDENTITY_SMOKE,
    "zero_hadamard": _IDENTITY_SMOKE,
    # metainit has no per-seed floor: on seeds 0-9 it learned (min 36.5%), but over seeds 0-29
    # its spread is 19.8 points and seed 26 ends at 10.5% (chance), seed 17 at 22.9% (_AUTO_30;
    # mean 60.36). MetaInit's GradQuotient favours small norms in a 3-layer net (0.03-0.2 x He's
    # after 100 steps) and its signSGD steps of 0.1 in absolute norm swing such small norms by
    # tens of percent from seed to seed. It keeps the checks every scheme without bounds of its
    # own gets (bench/test_newcomers.py) and the leaderboard's verdicts.
}
# Every lower bound sits >= 2 points under the lowest of the 60 (seed, kernel) runs and >= 3.5
# std under the mean, and >= 2 points under the lowest of seeds 0-29 (_AUTO_30). For the schemes
# of issue 12 (20 runs each): the same rule, except identity (see _IDENTITY_SMOKE) and metainit
# (no floor: see above).

_SEED_SRC = "full MNIST, seed recipe, seeds 0-2 (initcore run --dataset mnist --seeds 3)"
_CONSTANT = ("a constant predictor scores at most the largest class share: 11.35% ('1') "
             "on the MNIST test set")


def _seed_high(final_min: float, measured: str, why: str = _TRAINS) -> tuple[Bound, ...]:
    return (Bound(min_acc=final_min, why=why, measured=f"{_SEED_SRC}, epoch 10: {measured}"),)


_SEED_SRC_10 = ("full MNIST, seed recipe, seeds 0-9, default kernels / ATEN_CPU_CAPABILITY=default "
                "OMP_NUM_THREADS=1")


def _seed_high_10(final_min: float, measured: str, why: str = _TRAINS) -> tuple[Bound, ...]:
    return (Bound(min_acc=final_min, why=why, measured=f"{_SEED_SRC_10}, epoch 10: {measured}"),)


# identity = zero_hadamard on this net (no layer widens): one measurement.
_IDENTITY_SEED = (
    Bound(epoch=1, max_acc=0.945, why="the partial identity starts through a 10-unit bottleneck "
          "(only hidden units 0-9 reach the output): after one epoch it is behind He (95.0+)",
          measured=f"{_SEED_SRC_10}, epoch 1: mean 91.93, std 0.73, max 92.69 / mean 91.84, "
          "std 0.79, max 92.71 (ceiling 1.8 points, 2.3 std above)"),
    Bound(min_acc=0.95, why="but the bottleneck opens as the weights move: it trains",
          measured=f"{_SEED_SRC_10}, epoch 10: mean 96.96, std 0.29, min 96.37 / mean 97.03, "
          "std 0.28, min 96.59 (0.7 point under the variance-scaled schemes)"),
)

SEED_BOUNDS: dict[str, tuple[Bound, ...]] = {
    "zeros": (Bound(max_acc=0.1135, why="W=b=0: only the output bias learns; " + _CONSTANT,
                    measured=f"{_SEED_SRC}: 11.35% every seed and epoch"),),
    "random_large": (Bound(max_acc=0.1135, may_diverge=True,
                           why="N(0,1): the first steps' huge gradients kill every hidden ReLU, "
                           "leaving the output bias alone, as with zeros; " + _CONSTANT,
                           measured=f"{_SEED_SRC}: 11.35% every seed and epoch"),),
    "seed_zero": (
        Bound(epoch=1, max_acc=0.15, why="W=0, random b: hidden units ignore the input until "
              "the weights, starting from the output layer, move: a delay of epochs",
              measured=f"{_SEED_SRC}, epoch 1: 11.35% all seeds (take-off in epoch 3-6)"),
        Bound(min_acc=0.90, why="the random biases break the symmetry, so it does learn",
              measured=f"{_SEED_SRC}, epoch 10: mean 96.44, std 0.29, min 96.16 (re-run: "
              "mean 96.42, std 0.17, min 96.25); the take-off epoch varies, hence the wide margin"),
    ),
    "random_normal": (
        Bound(epoch=1, max_acc=0.94, why="N(0,0.01^2) shrinks the signal ~10x per layer: "
              "after one epoch it is still behind He/Xavier (95.4)",
              measured=f"{_SEED_SRC}, epoch 1: mean 93.07, std 0.27, max 93.31; re-run: "
              "mean 93.07, std 0.28, max 93.38"),
        Bound(min_acc=0.96, why="but 3 layers recover: 10 epochs end with the others",
              measured=f"{_SEED_SRC}, epoch 10: mean 97.73, std 0.09, min 97.64; re-run: "
              "mean 97.64, std 0.15, min 97.46"),
    ),
    "he_normal": (
        Bound(epoch=1, min_acc=0.94, why="Var=2/fan_in keeps ReLU signal variance: fast start",
              measured=f"{_SEED_SRC}, epoch 1: mean 95.43, std 0.41, min 94.96; re-run: "
              "mean 95.37, std 0.35, min 94.98"),
        Bound(min_acc=0.96, why=_TRAINS,
              measured=f"{_SEED_SRC}, epoch 10: mean 97.80, std 0.26, min 97.52; re-run "
              "with the hand-written grid step: mean 97.71, std 0.08, min 97.63"),
    ),
    "he_uniform": _seed_high(0.96, "mean 97.84, std 0.05, min 97.80; re-run with the "
                             "hand-written grid step: mean 97.75, std 0.15, min 97.60"),
    "xavier_normal": _seed_high(0.96, "mean 97.69, std 0.43, min 97.42; re-run with the "
                                "hand-written grid step: mean 97.71, std 0.15, min 97.55"),
    "xavier_uniform": _seed_high(0.96, "mean 97.69, std 0.14, min 97.55; re-run with the "
                                 "hand-written grid step: mean 97.55, std 0.09, min 97.49"),
    "lecun_normal": _seed_high(0.96, "mean 97.78, std 0.13, min 97.67; re-run with the "
                               "hand-written grid step: mean 97.67, std 0.23, min 97.47"),
    "orthogonal": _seed_high(0.96, "mean 97.88, std 0.23, min 97.62; re-run with the "
                             "hand-written grid step: mean 97.77, std 0.38, min 97.34"),
    "lsuv": _seed_high(0.955, "mean 97.41, std 0.40, min 97.04; re-run with the "
                       "hand-written grid step: mean 97.67, std 0.27, min 97.48"),
    "torch_default": _seed_high(0.96, "mean 97.81, std 0.24, min 97.56; re-run with the "
                                "hand-written grid step: mean 97.83, std 0.07, min 97.75"),
    "seed_random": _seed_high(0.96, "mean 97.72, std 0.22, min 97.47; re-run with the "
                              "hand-written grid step: mean 97.80, std 0.15, min 97.62"),
    # The schemes of issue 12: seeds 0-9, default kernels / ATEN_CPU_CAPABILITY=default
    # OMP_NUM_THREADS=1 (initcore run --dataset mnist --init NAME --seeds 10).
    "lecun_uniform": _seed_high_10(0.96, "mean 97.67, std 0.24, min 97.31 / mean 97.60, "
                                   "std 0.22, min 97.23"),
    "lecun_truncated_normal": _seed_high_10(0.96, "mean 97.76, std 0.19, min 97.45 / mean "
                                            "97.78, std 0.18, min 97.35"),
    "he_truncated_normal": _seed_high_10(0.96, "mean 97.68, std 0.26, min 97.12 / mean 97.75, "
                                         "std 0.18, min 97.31"),
    "orthogonal_relu": _seed_high_10(0.96, "mean 97.66, std 0.30, min 97.11 / mean 97.76, "
                                     "std 0.24, min 97.23"),
    "metainit": _seed_high_10(0.96, "mean 97.68, std 0.18, min 97.25 / mean 97.77, std 0.15, "
                              "min 97.43 (epoch 1: 91.1-94.5, behind He, not bounded)",
                              why="MetaInit's small learned norms start slower, but a 3-layer "
                              "net recovers within 10 epochs"),
    "identity": _IDENTITY_SEED,
    "zero_hadamard": _IDENTITY_SEED,
}
# Final lower bounds sit >= 0.9 point under the lowest seed and >= 3.5 std under the mean.

# ---------------------------------------------------------------------------------------------
# Deep experiments (signal propagation; bench/test_deep.py). 30 hidden ReLU layers: He keeps the
# per-layer signal ratio n Var(W)/2 at 1, Xavier at 1/2 (2^-30 after 30 layers), torch_default at
# 1/6 until its biases dominate. A constant predictor scores 10.00% on mnist-5k's balanced test
# split and 11.35% (class 1) on full MNIST.
# ---------------------------------------------------------------------------------------------
# The smoke profile's deep experiment: 30 x 64 ReLU on mnist-5k at lr 0.001 (momentum 0.9,
# batch 64, 3 epochs). At the seed recipe's lr 0.01 this depth is chaotic: float rounding alone
# moved He's seeds between 9.8% and 37.7% (an AVX2-only CPU failed the He bound with the same
# seeds that passed here), and lr 0.005 let LSUV seeds collapse. At lr 0.001 every He and LSUV
# seed climbs steadily (per-seed numbers still move by up to 15 points with the kernels, the
# floor does not), while Xavier (2^-30 of the signal and of the gradient) and torch_default stay
# at the constant prediction: what separates them is the vanishing signal alone.
_SHORT_SRC = ("mnist-5k, 30 x 64 ReLU, lr 0.001, 3 epochs, seeds 0-9 x 5 kernel perturbations "
              "(default, ATEN_CPU_CAPABILITY=default/avx2, OMP_NUM_THREADS=1, avx2 + "
              "MKL_ENABLE_INSTRUCTIONS=AVX2 + 1 thread), 50 runs")
DEEP_SHORT_BOUNDS: dict[str, tuple[Bound, ...]] = {
    "he_normal": (Bound(min_acc=0.20, why="ratio 1 per layer: signal and gradient reach every "
                        "layer, the net trains", measured=f"{_SHORT_SRC}: epoch 3 min 24.5, "
                        "mean 40.1-42.6 per kernel, max 51.9; seeds 0-4: min 28.5"),),
    "lsuv": (Bound(min_acc=0.25, why="orthogonal weights rescaled to unit output variance per "
                   "layer: trains fastest at depth", measured=f"{_SHORT_SRC}: epoch 3 min 43.4, "
                   f"mean 57.1-59.9 per kernel, max 69.7; {_AUTO_30}: mean 53.56, std 10.07, "
                   "min 27.7 (seed 16)"),),
    "xavier_normal": (Bound(max_acc=0.15, why="ratio 1/2 per layer: 2^-30 of the signal reaches "
                            "the output; stalled at the constant prediction",
                            measured=f"{_SHORT_SRC}: 10.00% in 48 of 50 runs; 11.5 and 10.4% "
                            "(seeds 4, 9, portable kernels) starting to move in epoch 3"),),
    "torch_default": (Bound(max_acc=0.12, why="ratio 1/6 per layer until the random biases "
                            "dominate: input-independent output, constant prediction",
                            measured=f"{_SHORT_SRC}: 10.00% every run, every epoch"),),
}


# Full MNIST, 30 x 256 ReLU, 2 epochs. At the seed recipe's lr 0.01 + momentum 0.9 training was
# erratic and chaotic: float rounding alone changed the trajectory (the autograd grid step and the
# hand-written one gave different runs for the same seeds; an AVX2-only CPU put LSUV seed 4 at
# 45.4% after epoch 1 where this machine gave 70-86%), and any seed could collapse within an
# epoch (He seed 0 fell from 64.8% to 7.4%, LSUV seed 2 from 78.1% to 38.6%). At lr 0.001 He and
# LSUV reach 91-93% in one epoch on every seed, and Xavier and torch_default sit at the constant
# prediction (11.35%) through epoch 1 on every seed: the vanishing signal alone separates them.
_DEEP_SRC = ("mnist, 30 x 256 ReLU, lr 0.001, 2 epochs, seeds 0-4, default kernels / "
             "ATEN_CPU_CAPABILITY=default (portable kernels)")
DEEP_RELU_BOUNDS: dict[str, tuple[Bound, ...]] = {
    "he_normal": (
        Bound(min_acc=0.80, epoch=1, why="ratio 1 per layer: signal and gradient reach every "
              "layer, the net trains within one epoch", measured=f"{_DEEP_SRC}: epoch 1 "
              "90.9, 91.3, 92.0, 91.0, 92.2% / 92.2, 91.9, 92.4, 91.6, 91.1%"),
        Bound(min_acc=0.85, why="and goes on training", measured=f"{_DEEP_SRC}: epoch 2 "
              "92.2-94.2% / 92.1-94.3%")),
    "lsuv": (
        Bound(min_acc=0.80, epoch=1, why="orthogonal weights rescaled to unit output variance "
              "per layer: trains within one epoch", measured=f"{_DEEP_SRC}: epoch 1 "
              "93.0, 93.0, 92.0, 90.9, 91.8% / 93.2, 90.9, 92.4, 90.8, 92.4%"),
        Bound(min_acc=0.85, why="and goes on training", measured=f"{_DEEP_SRC}: epoch 2 "
              "93.9-95.2% / 93.2-94.8%")),
    "xavier_normal": (
        Bound(max_acc=0.12, epoch=1, why="ratio 1/2 per layer: 2^-30 of the signal and of the "
              "gradient get through; stalled at the constant prediction for the first epoch",
              measured=f"{_DEEP_SRC}: epoch 1 11.35% every "
              "seed, both"),
        Bound(max_acc=0.50, why="momentum starts to free some seeds in epoch 2, far behind He",
              measured=f"{_DEEP_SRC}: epoch 2 11.35, 20.5, "
              "20.5, 11.35, 11.35% / 11.35, 20.3, 17.6, 11.35, 11.35%")),
    "torch_default": (
        Bound(max_acc=0.12, epoch=1, why="ratio 1/6 per layer until the random biases dominate: "
              "input-independent output", measured=f"{_DEEP_SRC}: epoch 1 11.35% every "
              "seed, both"),
        Bound(max_acc=0.12, why="still the constant prediction after 2 epochs",
              measured=f"{_DEEP_SRC}: epoch 2 11.35% every seed, "
              "both")),
}
_TANH_SRC = "mnist, 30 x 256 tanh, 2 epochs, seeds 0-4 (grid trainer)"
DEEP_TANH_BOUNDS: dict[str, tuple[Bound, ...]] = {
    "xavier_normal": (
        Bound(min_acc=0.85, epoch=1, why="Var = 1/n is the edge of chaos of zero-bias tanh",
              measured=f"{_TANH_SRC}: epoch 1 91.2, 92.8, 92.7, 90.9, 92.1%"),
        Bound(min_acc=0.85, why="trains", measured=f"{_TANH_SRC}: epoch 2 94.7, 95.0, 91.5, 93.9, "
              "95.1%")),
    "random_large": (Bound(max_acc=0.40, may_diverge=True, why="N(0,1): sigma_w^2 = 256, deep in "
                           "the chaotic phase; every unit saturates at +-1",
                           measured=f"{_TANH_SRC}: epoch 2 27.3, 20.1, 20.9, 30.7, 9.6%"),),
    "torch_default": (Bound(max_acc=0.12, why="Var = 1/(3n): ordered phase, the signal sinks into "
                            "the biases", measured=f"{_TANH_SRC}: 10.28-11.35% every epoch"),),
}

# The activation sweep: the seed architecture and recipe with each other activation (the relu
# column is the seed-recipe experiment). Sanity bounds only: >= 2 points under the lowest seed.
_SWEEP_SRC = "mnist, 784-256-128-10, 10 epochs, seeds 0-2 (grid trainer)"
_ZERO_AT_CHANCE = Bound(max_acc=0.12, why="W=b=0 and phi(0)=0: hidden gradients are exactly 0, "
                        "only the output bias learns -> constant prediction",
                        measured=f"{_SWEEP_SRC}: 11.35% every seed")


def _sweep(min_acc: float, measured: dict[str, str], zeros: bool) -> dict[str, tuple[Bound, ...]]:
    bounds = {init: (Bound(min_acc=min_acc, why="a variance-scaled init trains a 3-layer net",
                           measured=f"{_SWEEP_SRC}: {text}"),) for init, text in measured.items()}
    return {**bounds, "zeros": (_ZERO_AT_CHANCE,)} if zeros else bounds


SWEEP_BOUNDS: dict[str, dict[str, tuple[Bound, ...]]] = {
    "tanh": _sweep(0.95, {"he_normal": "mean 97.78, min 97.70", "xavier_normal": "mean 97.54, "
                          "min 97.31", "lecun_normal": "mean 97.62, min 97.42",
                          "lsuv": "mean 97.74, min 97.65"}, zeros=True),
    # sigmoid(0) = 1/2: zeros is not stuck, its units are symmetric copies (37.8%); no bound.
    "sigmoid": _sweep(0.93, {"he_normal": "mean 96.14, min 95.88", "xavier_normal": "mean 96.09, "
                             "min 95.85", "lecun_normal": "mean 96.02, min 95.85",
                             "lsuv": "mean 96.33, min 95.91"}, zeros=False),
    # SELU + lecun_normal is the self-normalizing pairing (Klambauer et al. 2017).
    "selu": _sweep(0.95, {"lecun_normal": "mean 97.56, min 97.23", "he_normal": "mean 97.65, "
                          "min 97.60", "xavier_normal": "mean 97.61, min 97.43",
                          "lsuv": "mean 97.67, min 97.65"}, zeros=True),
}


# ---------------------------------------------------------------------------------------------
# The paper profile: published MNIST-MLP tables with their own recipes (initcore/recipes/*.toml)
# ---------------------------------------------------------------------------------------------

# Measured once per cell (reproduction runs, README "Published tables, reproduced"), default
# kernels, 2 shared CPU cores. Not re-measured under perturbed kernels or on seeds beyond the
# profile's (a 20-epoch full-MNIST run is minutes per model): each lower bound sits >= 1 point
# under the lowest measured seed and near the published figure minus its difference explained
# in the README, many stds under the mean; tighten them once more seeds are measured.
_SNN_SRC = ("full MNIST, snn_mnist recipe (SGD 1e-3, batch 128, 20 epochs, standardized inputs), "
            "seeds 0-4, grid trainer, 2026-11-30")

PAPER_SNN_SELU_BOUNDS: dict[str, tuple[Bound, ...]] = {
    "lecun_normal": _high(0.915, f"{_SNN_SRC}: mean 92.68, std 0.12, min 92.54, max 92.83; "
                          "published 92.04 (one run, 50k rows, AlphaDropout 0.05)",
                          "SELU with Var(W) = 1/fan_in keeps activations near mean 0, variance 1 "
                          "(Klambauer et al. 2017): plain SGD at lr 1e-3 trains to ~92%"),
}
PAPER_SNN_RELU_BOUNDS: dict[str, tuple[Bound, ...]] = {
    "torch_default": _high(0.895, f"{_SNN_SRC}: mean 90.85, std 0.12, min 90.65, max 90.96; "
                           "published 90.76 (one run, 50k rows, Dropout 0.05)",
                           "the SNN tutorial's ReLU twin: Var = 1/(3 fan_in) shrinks the signal, "
                           "so plain SGD at lr 1e-3 is slower than the SELU net (epoch 1: 57% vs "
                           "85%) and ends ~2 points under it"),
}
# ZerO: ONE seed per scheme was measured (the 20-epoch runs of the 6.4M-weight net take ~7 min
# per model here; the reproduction budget was 30 min of the shared lock), so these bounds are
# not calibrated on seed noise: they check that the paper's result is reproduced to within ~1
# point. Evidence that 0.8 point is wide: after the lr step at epoch 12 the test accuracy moved
# by <= 0.14 point per epoch in every run (2 measured and 3 notebook runs, epochs 13-20), and the
# notebook's three schemes end 98.21-98.39%. Re-measure with seeds 0-1 (the profile's) to
# replace them.
_ZERO_SRC = ("full MNIST, zero_mnist recipe (784-784-2048-2048-10 no bias, plain SGD 0.1, "
             "StepLR 12 x 0.7, batch 64, 20 epochs, [0,1] inputs), seed 0 only, grid trainer, "
             "2026-11-30")
_ZERO_WHY = ("the ZerO notebook's MLP trains to ~98.2-98.4% with every scheme it compares "
             "(Zhao et al. 2022, example_mnist.ipynb)")
PAPER_ZERO_BOUNDS: dict[str, tuple[Bound, ...]] = {
    "he_normal": _high(0.975, f"{_ZERO_SRC}: 98.31 (1 seed; published 98.21, 1 run)",
                       _ZERO_WHY),
    "zero_hadamard": _high(0.975, f"{_ZERO_SRC}: 98.41 with the notebook's own function "
                           "(1 seed; published 98.39, 1 run)", _ZERO_WHY),
}


# ---------------------------------------------------------------------------------------------
# What the suite's other checks expect: orderings of schemes, theory tolerances, budgets. They
# live here with the accuracy bounds, each with the measurement it came from; the bench files
# import them (tests/test_architecture.py fails on a numeric table or threshold in bench/).
# ---------------------------------------------------------------------------------------------

# --- bench/test_deep.py: orderings of schemes at depth, the stall rule -----------------------

# (experiment, better, worse, epoch, statistic, gap). statistic "every": every seed of `better`
# beats every seed of `worse` by `gap` (min - max); "mean": the seed means differ by `gap`. Each
# gap sits well inside the margin measured across seeds and five kernel perturbations (the
# numbers in the comments), so that another CPU's rounding cannot flip the verdict.
ORDERINGS = [
    # full MNIST, 30 x 256 ReLU, lr 0.001, seeds 0-4 (profiles.DEEP_RELU), epoch 1, default
    # kernels / ATEN_CPU_CAPABILITY=default: he_normal 90.9-92.2 / 91.1-92.4%, lsuv 90.9-93.0 /
    # 90.8-93.2%, xavier_normal and torch_default 11.35% every seed: "every" margins >= 79 points.
    # (At the seed recipe's lr 0.01 LSUV led He in the mean; at 0.001 they are level, 92.0 vs
    # 91.5 / 91.9 vs 91.8, so no LSUV-vs-He claim is made here.)
    ("deep-relu", "he_normal", "xavier_normal", 1, "every", 0.50),
    ("deep-relu", "lsuv", "xavier_normal", 1, "every", 0.50),
    ("deep-relu", "he_normal", "torch_default", 1, "every", 0.50),
    # mnist-5k, 30 x 64 ReLU, lr 0.001, epoch 3, seeds 0-4, under 5 kernel perturbations
    # (profiles.DEEP_SHORT): seed means he_normal 38.3-42.8, lsuv 55.5-58.4, xavier_normal
    # 10.0-10.3, torch_default 10.0; He's lowest seed 28.5. Margins: He - Xavier 28.0-32.8
    # points, LSUV - He 12.7-20.1 points, He's lowest - torch_default 18.5 points.
    ("deep-relu-short", "he_normal", "xavier_normal", 3, "mean", 0.15),
    ("deep-relu-short", "he_normal", "torch_default", 3, "every", 0.10),
    ("deep-relu-short", "lsuv", "he_normal", 3, "mean", 0.05),
    # full MNIST, 30 x 256 tanh, seeds 0-4, epoch 2: xavier_normal 91.5-95.1%, random_large
    # 9.6-30.7%, torch_default 10.3-11.35%.
    ("deep-tanh", "xavier_normal", "random_large", 2, "every", 0.40),
    ("deep-tanh", "xavier_normal", "torch_default", 2, "every", 0.40),
]

# Var(dL/dz_1) / Var(dL/dz_depth) at init, 30 x 256 nets (mnist-5k batch, seeds 0-2): ReLU He
# 1.6, LSUV 1.4, Xavier 2e-9, torch_default 3e-23; tanh Xavier 0.02, torch_default 7e-15,
# N(0, 1) 1e27 (exploding: a different failure, left out of the rule). A gradient below VANISHED
# leaves the early layers untrained; a cell is at the constant prediction when its accuracy is
# <= STALLED (11.35% on MNIST, 10.00% on mnist-5k).
VANISHED, EXPLODED = 1e-6, 1e6
STALLED = 0.12

# --- bench/test_newcomers.py: the signal-at-depth verdict ------------------------------------

# q_16 / q_2 beyond 10^+-1 over 14 hidden-to-hidden layers: "explodes" / "vanishes". He and
# LSUV (per-layer ratio 1) measured 0.80-1.13 (q_16/q_1, seed 0); the nearest scheme off the
# critical line, n Var(W)/2 = 0.75 (a 1.5/fan_in normal), loses 0.75^14 = 0.018: far apart, so a
# factor 10 either way separates "holds" from a trend that compounds with depth.
# Xavier/LeCun/orthogonal (ratio 1/2) lose 2^14 = 1.6e4; random_large gains 128^14.
VERDICT_DECADES = 1.0
# The law q_{l+1}/q_l = n Var(W)/2 summed over 14 hidden-to-hidden layers: per layer the
# log-ratio spreads by 0.13 (finite width, bench/test_theory.py), about 0.5 over 14 independent
# layers; 1.5 (3 such spreads, in natural log) is the tolerance of the whole-depth prediction.
DEPTH_LOG_TOL = 1.5

# --- bench/test_theory.py: variance laws at initialization -----------------------------------

THEORY_WIDTH = 256  # the ReLU ratio net of bench/test_theory.py: 784 -> 256 x 16 -> 10
# n Var(W) / 2 at n = THEORY_WIDTH, from each scheme's formula (equal widths: fan_in = fan_out).
RELU_RATIO = {
    # the variance-scaling schemes: scale / 2, from their declaration (initcore.schemes)
    **{n: builtin_scheme(n).variance.relu_ratio() for n in builtin_names()
       if builtin_scheme(n).variance},
    "orthogonal": 0.5,  # rows of norm 1: Var = 1/n
    "orthogonal_relu": 1.0,  # sqrt(2) Q: rows of norm^2 2, Var = 2/n, as He's
    "torch_default": 1 / 6,  # U(+-1/sqrt(n)): Var = 1/(3n)
    "random_normal": THEORY_WIDTH * 0.01**2 / 2,  # Var = 1e-4: 0.0128, shrinks 78x a layer
    "random_large": THEORY_WIDTH * 1.0 / 2,  # Var = 1: 128, it grows 128x a layer
}
# Mean log-ratio over the 15 hidden-to-hidden layers, 10 seeds (0-9) per scheme, depth 16, width
# 256, batch 256: mean within 0.009 of log(theory) for every scheme above; seed-to-seed std 0.024
# (normal schemes) to 0.050 (uniform ones), largest deviation over the 10 seeds 0.079. Per single
# layer the log-ratio spreads by 0.13 (the ~13% finite-width fluctuation). Tolerance = 0.15, about
# 3 std of the noisiest scheme and 1.9x the largest deviation seen; a scheme off by 10% in scale
# (20% in variance, log 0.19) fails it.
RATIO_LOG_TOL = 0.15

# 8 transitions, seeds 0-4: fan_out mean log-ratio +0.005 (seeds from -0.033 to +0.068); fan_in
# -0.341 (from -0.366 to -0.287) against log(1/sqrt 2) = -0.347. Tolerance 0.15, 2.2x the largest
# deviation (0.068); the two modes lie 0.35 apart, so each check fails for the other mode.
BACKWARD_LOG_TOL = 0.15

# Var(dL/dz_1) / Var(dL/dz_5), seeds 0-4 (MNIST-5k batch of 256):
#   torch_default   0.0062-0.0074 (predicted 0.0070-0.0072: (1/3)^4 = 0.0123 times the tanh slopes)
#   xavier_uniform  0.176-0.194   (predicted 0.183-0.192: E[tanh'(z_l)^2] = 0.50, 0.65, 0.73, 0.79)
# measured vs predicted differ by at most 0.12 in log: tolerance 0.3. The bounds below leave a 2.7x
# margin each way and keep the two schemes 9x apart (measured 25x).
GLOROT_BOUNDS = {"torch_default": (0.0, 0.02), "xavier_uniform": (0.1, 1.5)}
GLOROT_LOG_TOL = 0.3

# Geometric mean of c_l over the 29 hidden-to-hidden layers, from 0.1 x He, 100 steps, seeds 0-9
# (mnist-5k rows, default kernels): 0.806-0.904, mean 0.862; single layers 0.28-1.15 (the ends of
# the net stay lowest). The range sits 0.2 under the lowest seed; it fails a MetaInit that left
# the norms where they started (0.1) and one that overshoots into the exploding phase (1.2 x He:
# n Var(W)/2 = 1.44 a layer).
METAINIT_GAIN_RANGE = (0.6, 1.2)

# --- bench/test_timing.py: the memory budget -------------------------------------------------

# The budget ("within a few GB"). Measured in a fresh process, the whole dataset loaded,
# one epoch of initcore.memory.MEMORY_ROWS rows (6,400 before 2026-12-03): the nightly's grids
# 1.3-1.6 GB (docs/speed.md), the residual experiment's 40 ResMLPs 3.3 GB.
PEAK_MEMORY_LIMIT_MB = 4096

# --- width (bench/test_width.py, docs/width.md) ----------------------------------------------
# SP's readout l1(width 4096) / l1(width 1024) at steps t = 2, 3 of the coordinate check (MLP
# 784-w-w-10, SGD lr 0.1 / Adam lr 1e-3, one batch of 64, seeds 0-2 averaged): measured SGD
# 4.63, 6.04 and Adam 5.73, 7.02 (muP's: 0.99-1.01, inside mup's band 1/1.2 .. 1.2). Bound 2:
# SP's logits grow more than 2x for a 4x wider net, muP's stay within 1.2x.
WIDTH_SP_GROWTH = 2.0


# ---- residual nets at init (bench/test_residual.py) ----
# The net: 64 blocks x 256, 2-layer ReLU branches, on 256 mnist-5k rows.
GROWTH_RECIPE = Recipe(arch="resmlp", blocks=64, width=256)
GROWTH_SEEDS = (0, 1, 2)
# Per-seed tolerance on |measured - L log2(1 + g)| in bits. Measured on seeds 0-9 (default and
# ATEN_CPU_CAPABILITY=default OMP_NUM_THREADS=1 kernels gave identical numbers), mean / std /
# largest error: he_normal 101.01 / 1.10 / 3.26 (theory 101.44), xavier_normal 37.43 / 0.90 /
# 1.35 (37.44), torch_default 5.26 / 0.21 / 0.55 (4.99: its random biases add ~0.3 bit),
# he_depth_scaled 2.77 / 0.14 / 0.29 (2.84). Each tolerance is >= 4.5 seed stds and above the
# largest error seen; He x 1.1 (g = 2.42: 64 log2 3.42 = 113.6 bits, 12 bits off) fails it.
GROWTH_TOL = {"he_normal": 6.0, "xavier_normal": 4.0, "torch_default": 1.5,
              "he_depth_scaled": 1.0}
