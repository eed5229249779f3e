"""The ReZero notebook's anchor on our data: epoch-1 train loss of a 64 x 256 fully connected
net, Vanilla vs Residual vs ReZero (docs/residual.md, "The ReZero notebook's anchor").

tbachlechner/ReZero-examples ``ReZero-Deep_Fast_NeuralNetwork.ipynb`` (class ``DeepNN``,
``setup_and_train``): CIFAR-10 scaled to [-1, 1], stem ``Linear(3072, 256)`` He + relu, 64
layers of width 256, a ``Linear(256, 10)`` classifier (nn.Linear's default), Adagrad lr 0.01,
batch 100, loss = mean of the epoch's batch losses; its epoch-1 losses: Vanilla 54,693.80,
Residual 131,269.63, ReZero 1.68. The three versions:

* Vanilla  ``h = relu(W h + b)``            W xavier_normal(gain sqrt 2) (He for square W)
* Residual ``h = h + relu(W h + b)``        W xavier_normal(gain sqrt 0.25) (arXiv:1712.08969)
* ReZero   ``h = h + alpha relu(W h + b)``  W xavier_normal(gain sqrt 2), alpha = 0 (learnable)

Vanilla and Residual are the notebook's net as written there; ReZero is this suite's ``rezero``
scheme on ``ResMLP(blocks=64, width=256, branch_layers=1)``, which draws the same weights. Here
on mnist-5k (784 inputs, [-1, 1]), one epoch = 40 steps (the notebook's: 500)::

    python docs/scripts/rezero_anchor.py [SEEDS...]       # default seeds 0 1 2; ~1-2 min
"""

from __future__ import annotations

import math
import sys

import torch
import torch.nn.functional as F
from torch import nn

from initcore import data
from initcore.train import Recipe, build_model

DEPTH, WIDTH, LR, BATCH = 64, 256, 0.01, 100
NOTEBOOK = {"Vanilla": 54693.80, "Residual": 131269.63, "ReZero": 1.68}


class DeepNN(nn.Module):
    """The notebook's ``DeepNN`` for versions Vanilla and Residual (784 inputs)."""

    def __init__(self, n_in: int, version: str) -> None:
        super().__init__()
        self.version = version
        self.linear_input = nn.Linear(n_in, WIDTH)
        self.linear_layers = nn.ModuleList(nn.Linear(WIDTH, WIDTH) for _ in range(DEPTH))
        self.linear_output = nn.Linear(WIDTH, 10)
        nn.init.kaiming_normal_(self.linear_input.weight, a=0, mode="fan_in",
                                nonlinearity="relu")
        gain = math.sqrt(2.0) if version == "Vanilla" else math.sqrt(0.25)
        for layer in self.linear_layers:
            nn.init.xavier_normal_(layer.weight, gain=gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.linear_input(x))
        for layer in self.linear_layers:
            x = F.relu(layer(x)) if self.version == "Vanilla" else x + F.relu(layer(x))
        return self.linear_output(x)


def epoch_one(model: nn.Module, ds: data.Dataset, seed: int) -> tuple[float, float]:
    """Epoch-1 mean batch loss (the notebook's ``cur_loss``) and test accuracy after it."""
    optimizer = torch.optim.Adagrad(model.parameters(), lr=LR)
    order = torch.randperm(len(ds.y_train), generator=torch.Generator().manual_seed(seed))
    losses = []
    for start in range(0, len(order), BATCH):
        idx = order[start:start + BATCH]
        optimizer.zero_grad()
        loss = F.cross_entropy(model(ds.x_train[idx]), ds.y_train[idx])
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        acc = (model(ds.x_test).argmax(1) == ds.y_test).double().mean().item()
    return sum(losses) / len(losses), acc


def main(seeds: list[int]) -> None:
    ds = data.rescale(data.load("mnist-5k"), "symmetric")
    rezero = Recipe(arch="resmlp", blocks=DEPTH, width=WIDTH, branch_layers=1)
    print("| version | seed | epoch-1 train loss | test acc % | notebook epoch-1 loss (CIFAR-10) |")
    print("|---|---|---|---|---|")
    for version in NOTEBOOK:
        for seed in seeds:
            torch.manual_seed(seed)  # the notebook draws biases and the classifier globally
            model = (build_model("rezero", seed, ds, rezero) if version == "ReZero"
                     else DeepNN(ds.n_features, version))
            loss, acc = epoch_one(model, ds, seed)
            print(f"| {version} | {seed} | {loss:.6g} | {100 * acc:.1f} | {NOTEBOOK[version]:,} |",
                  flush=True)


if __name__ == "__main__":
    main([int(s) for s in sys.argv[1:]] or [0, 1, 2])
