"""muP as a recipe: per-layer init and learning-rate multipliers, honoured by both trainers.

The reference for the multipliers is TP5 Table 3 in mup's base-width form
(initcore/parametrization.py); against the ``mup`` package itself: tests/test_mup_reference.py.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from initcore.data import Dataset
from initcore.grid import train_grid
from initcore.initializers import linear_layers
from initcore.parametrization import mup_multipliers, parametrize, width_multipliers
from initcore.train import Recipe, build_model, make_optimizer, train

SMALL = Recipe(hidden=(32, 32), epochs=1, bias=True)


def test_recipe_multipliers_default_to_one_and_stay_out_of_describe() -> None:
    assert SMALL.multipliers("lr_mult") == (1.0, 1.0, 1.0)
    assert "mult" not in SMALL.describe(), SMALL.describe()
    assert "lr_mult=4,1,0.25" in replace(SMALL, lr_mult=(4, 1, 0.25)).describe()


@pytest.mark.parametrize("field,value", [
    ("lr_mult", (1.0, 1.0)),  # one short
    ("lr_mult", (1.0, 0.0, 1.0)),  # a frozen layer
    ("bias_lr_mult", (1.0, -1.0, 1.0)),
    ("init_mult", (1.0, float("nan"), 1.0)),
    ("init_mult", (1.0, -0.5, 1.0)),
    ("lr_mult", (1.0, True, 1.0)),
])
def test_recipe_multipliers_rejected_in_one_line(field: str, value: tuple) -> None:
    with pytest.raises(ValueError, match=field) as info:
        replace(SMALL, **{field: value})
    assert "\n" not in str(info.value)


def test_recipe_multipliers_from_lists_become_tuples() -> None:  # a TOML file gives lists
    assert replace(SMALL, lr_mult=[2, 1, 0.5]).lr_mult == (2, 1, 0.5)


def test_mup_multipliers_follow_musgd_and_muadam() -> None:
    """Widths 256 over base 64 (m = 4), mup's rules for an MLP (module docstring)."""
    sgd = mup_multipliers((256, 256), (64, 64), "sgd", "zero")
    assert sgd == {"init_mult": (1.0, 1.0, 0.0), "lr_mult": (4.0, 1.0, 0.25),
                   "bias_lr_mult": (4.0, 4.0, 1.0)}
    adam = mup_multipliers((256, 256), (64, 64), "adam", "scaled")
    assert adam == {"init_mult": (1.0, 1.0, 0.5), "lr_mult": (1.0, 0.25, 0.25),
                    "bias_lr_mult": (1.0, 1.0, 1.0)}
    # unequal widths: a hidden layer 512 -> 256 over 64 -> 64 has SGD lr * m_out / m_in
    assert mup_multipliers((512, 256), (64, 64), "sgd")["lr_mult"] == (8.0, 0.5, 0.25)
    assert width_multipliers((512, 256), (64, 64)) == [(1.0, 8.0), (8.0, 4.0), (4.0, 1.0)]


def test_mup_at_base_width_is_sp_but_for_the_readout() -> None:
    mup = parametrize(SMALL, "mup", readout="scaled")
    assert mup.multipliers("lr_mult") == mup.multipliers("init_mult") == (1.0, 1.0, 1.0)
    assert parametrize(mup, "sp") == SMALL


@pytest.mark.parametrize("bad", [
    lambda: parametrize(SMALL, "ntk"),
    lambda: parametrize(SMALL, "mup", base_hidden=(32,)),
    lambda: parametrize(SMALL, "mup", base_hidden=(0, 32)),
    lambda: parametrize(SMALL, "mup", readout="big"),
])
def test_parametrize_bad_input_is_one_line(bad) -> None:
    with pytest.raises(ValueError) as info:
        bad()
    assert "\n" not in str(info.value)


def test_init_mult_scales_each_layer_after_the_scheme(small_data: Dataset) -> None:
    plain = build_model("lecun_normal", 3, small_data, SMALL)
    scaled = build_model("lecun_normal", 3, small_data, replace(SMALL, init_mult=(1, 0.5, 0)))
    for (a, b, mult) in zip(linear_layers(plain), linear_layers(scaled), (1, 0.5, 0)):
        assert torch.equal(b.weight, a.weight * mult), f"init_mult {mult} not applied"
        assert torch.equal(b.bias, a.bias), "biases are left alone"


def test_make_optimizer_one_group_per_parameter_with_its_rate(small_data: Dataset) -> None:
    config = replace(SMALL, lr=0.1, lr_mult=(4, 1, 0.25), bias_lr_mult=(4, 4, 1))
    optimizer, _ = make_optimizer(build_model("he_normal", 0, small_data, config), config)
    rates = [group["lr"] for group in optimizer.param_groups]
    assert rates == pytest.approx([0.4, 0.4, 0.1, 0.4, 0.025, 0.1]), rates


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_lr_mult_equal_everywhere_is_the_same_as_a_larger_lr(small_data: Dataset,
                                                             optimizer: str) -> None:
    """lr 0.004 x multiplier 2.5 on every parameter = lr 0.01, in both trainers."""
    base = replace(SMALL, optimizer=optimizer, lr=0.01)
    mult = replace(base, lr=0.004, lr_mult=(2.5,) * 3, bias_lr_mult=(2.5,) * 3)
    for trainer in (lambda c: train("he_normal", 1, small_data, c),
                    lambda c: train_grid(["he_normal"], [1], small_data, c)[0]):
        a, b = trainer(base), trainer(mult)
        assert math.isclose(a.epochs[-1].train_loss, b.epochs[-1].train_loss, rel_tol=1e-5), (
            f"{optimizer}: {a.epochs[-1]} vs {b.epochs[-1]}")


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_grid_and_single_trainer_agree_under_mup(small_data: Dataset, optimizer: str) -> None:
    """muP at 4x the base width, biases on (every multiplier differs): the grid trainer's
    hand-written per-layer steps against torch.optim's parameter groups. Tolerances as
    tests/test_grid.py (measured there: <= 2.3e-7 on losses, <= 8.3e-6 on weights)."""
    config = parametrize(replace(SMALL, hidden=(128, 128), optimizer=optimizer,
                                 lr=0.05 if optimizer == "sgd" else 1e-3, momentum=0.9),
                         "mup", (32, 32), "scaled")
    assert len(set(config.lr_mult + config.bias_lr_mult)) >= 2, config.describe()
    single = train("lecun_normal", 0, small_data, config)
    grid = train_grid(["lecun_normal"], [0], small_data, config)[0]
    for key in ("train_loss", "test_loss"):
        a, b = getattr(grid.epochs[-1], key), getattr(single.epochs[-1], key)
        assert math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-6), f"{key}: grid {a} vs single {b}"
    for (name, p), q in zip(grid.model.named_parameters(), single.model.parameters()):
        err = ((p - q).abs().max() / q.abs().max().clamp_min(1e-12)).item()
        assert err <= 1e-4, f"{optimizer}: trained {name} differs by {err:.3g} rel"
    # and the multipliers change the result (the check above could not pass by ignoring them)
    sp = train("lecun_normal", 0, small_data, parametrize(config, "sp"))
    assert abs(sp.epochs[-1].train_loss - single.epochs[-1].train_loss) > 1e-3


def test_recipe_file_takes_the_multipliers(tmp_path) -> None:
    from initcore.recipes import RecipeError, load

    path = tmp_path / "mup.toml"
    path.write_text("hidden = [128, 128]\nlr_mult = [2, 1, 0.5]\ninit_mult = [1, 1, 0]\n")
    recipe = load(path)
    assert recipe.lr_mult == (2, 1, 0.5) and recipe.init_mult == (1, 1, 0)
    path.write_text("hidden = [128, 128]\nlr_mult = [2, 1]\n")
    with pytest.raises(RecipeError, match="lr_mult"):
        load(path)
