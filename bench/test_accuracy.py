"""Accuracy: every initializer of the profile against the bounds that theory and measurement give.

One test per (experiment, initializer) cell, parametrized from the profile's bound tables
(initcore/bounds.py); the grid behind them is trained once per session (the ``trained``
fixture of initcore/pytest_plugin.py).
"""

from __future__ import annotations

import pytest
import torch

from initcore.experiments import check_bound
from initcore.initializers import linear_layers


def test_accuracy_within_bounds(cell, trained):
    """The final (or epoch-k) test accuracy of every seed satisfies each bound of its cell."""
    experiment_name, init = cell
    run = trained(experiment_name)
    problems = []
    for bound in run.experiment.bounds[init]:
        diverged = [r.diverged for r in sorted(run.runs(init), key=lambda r: r.seed)]
        accuracies = run.accuracies(init, bound.epoch)
        accuracies += [float("nan")] * (len(diverged) - len(accuracies))  # stopped early
        problems += [f"{p} [{bound.why}; bound from {bound.measured}]"
                     for p in check_bound(bound, accuracies, diverged)]
    assert not problems, f"{init} ({experiment_name}) broke its bounds: " + " | ".join(problems)


def test_zeros_learns_only_output_bias(profile, trained, dataset_loader):
    """W = 0, b = 0 in a ReLU MLP: every hidden pre-activation is 0, so every hidden weight and
    bias gets an exactly zero gradient (ReLU'(0) = 0 in PyTorch, and the inputs to later layers
    are 0). Only the output bias learns: the net predicts one class for every input, and its
    accuracy is exactly that class's share of the test set (11.35% for class 1 on full MNIST)."""
    experiment = next((e for e in profile.experiments
                       if "zeros" in e.inits and e.config.activation == "relu"), None)
    if experiment is None:
        pytest.skip("no ReLU experiment with zeros in this profile")
    run = trained(experiment.name)
    dataset = dataset_loader(experiment.dataset)
    for result in run.runs("zeros"):
        layers = linear_layers(result.model)
        for index, layer in enumerate(layers[:-1]):
            moved = torch.count_nonzero(layer.weight) + torch.count_nonzero(layer.bias)
            assert moved == 0, f"zeros seed {result.seed}: hidden layer {index} moved away from 0"
        assert torch.count_nonzero(layers[-1].weight) == 0, \
            f"zeros seed {result.seed}: output weight moved away from 0"
        with torch.no_grad():
            predictions = result.model(dataset.x_test).argmax(1)
        classes = predictions.unique()
        assert len(classes) == 1, f"zeros seed {result.seed}: predicts {classes.tolist()}"
        share = (dataset.y_test == classes[0]).double().mean().item()
        assert result.final_acc == pytest.approx(share, abs=1e-9), (
            f"zeros seed {result.seed}: accuracy {result.final_acc} != share {share} "
            f"of its constant class {classes.item()}")
