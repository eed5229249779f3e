"""The width experiments' machinery (initcore/width.py, ``initcore coordcheck``) on tiny nets;
their results (SP vs muP) are asserted by bench/test_width.py."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from initcore.cli import main
from initcore.data import Dataset
from initcore.train import Recipe
from initcore.width import coord_check, flat_ratios, lr_sweep, optima

TINY = Recipe(hidden=(16, 16), bias=False, momentum=0.0, lr=0.1, batch_size=32, epochs=1)


def test_coord_check_mup_equals_sp_at_the_base_width(small_data: Dataset) -> None:
    """At the base width every multiplier is 1: with the "scaled" readout (1/sqrt(1) = 1) muP's
    curves are SP's, number for number; with the zero readout the output is exactly 0 at t=1."""
    kwargs = dict(widths=(16,), base_width=16, steps=3, seeds=(0, 1))
    sp = coord_check(small_data, TINY, "sp", **kwargs)
    mup = coord_check(small_data, TINY, "mup", readout="scaled", **kwargs)
    assert sp["l1"].tolist() == mup["l1"].tolist()
    zero = coord_check(small_data, TINY, "mup", readout="zero", **kwargs)
    first = zero[(zero["t"] == 1) & (zero["layer"] == "readout")]
    assert (first["l1"] == 0).all() and (zero[zero["t"] == 3]["l1"] > 0).all()
    assert set(zero["layer"]) == {"input", "hidden1", "readout"}


def test_flat_ratios_band_and_zero_rows() -> None:
    rows = [("mup", "sgd", 0.1, 0, w, layer, t, v) for w, layer, t, v in [
        (64, "input", 1, 1.0), (256, "input", 1, 1.19), (64, "readout", 1, 0.0),
        (256, "readout", 1, 0.0), (64, "readout", 2, 1.0), (256, "readout", 2, 1.21)]]
    table = pd.DataFrame(rows, columns=["parametrization", "optimizer", "lr", "seed", "width",
                                        "layer", "t", "l1"])
    out = flat_ratios(table, 64, 256).set_index(["layer", "t"])
    assert out.loc[("input", 1), "in_band"] and not out.loc[("readout", 2), "in_band"]
    assert out.loc[("readout", 1), "in_band"] and math.isnan(out.loc[("readout", 1), "ratio"])


def test_lr_sweep_marks_divergence_and_optima_skip_it(small_data: Dataset) -> None:
    table = lr_sweep(small_data, TINY, "sp", (16,), (-4, 60), base_width=16, seeds=(0,))
    huge = table[table["log2_lr"] == 60].iloc[0]
    assert huge["diverged"] and huge["train_loss"] == math.inf, huge
    assert optima(table)["best_log2_lr"].tolist() == [-4]


def test_coordcheck_cli_writes_table_and_figure(tmp_path, capsys) -> None:
    status = main(["coordcheck", "--widths", "16,32", "--steps", "2", "--seeds", "1",
                   "--base-width", "16", "--report-dir", str(tmp_path), "--run-id", "cc"])
    assert status == 0
    table = pd.read_csv(tmp_path / "cc" / "coordcheck.csv")
    assert len(table) == 2 * 2 * 2 * 3 * 2  # optimizers x params x widths x layers x steps
    assert (tmp_path / "cc" / "coordcheck.png").stat().st_size > 0
    assert "mup sgd:" in capsys.readouterr().out


@pytest.mark.parametrize("argv,message", [
    (["--widths", "64"], "at least two widths"),
    (["--steps", "0"], "--steps must be >= 1"),
    (["--sgd-lr", "-1"], "--sgd-lr must be > 0"),
    (["--init", "he_normal", "lsuv"], "--init takes one scheme"),
    (["--init", "nope"], "unknown initializer"),
    (["--optimizers", "lbfgs"], "invalid choice"),
])
def test_coordcheck_cli_bad_input_is_one_line(tmp_path, capsys, argv, message) -> None:
    assert main(["coordcheck", *argv, "--report-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not any(tmp_path.iterdir()), "nothing may be written on bad input"


def test_sweep_multipliers_fold_into_the_recipe() -> None:
    """mup's demo as recipe multipliers: an input multiplier a scales the first layer's lr by a
    (the acting weights are unchanged); the zero readout zeroes the last layer's init only."""
    from initcore.width import width_recipe, with_input_mult, zero_readout
    sp = zero_readout(with_input_mult(width_recipe(TINY, 64, "sp", 16), 1 / 256))
    assert sp.lr_mult == (1 / 256, 1.0, 1.0) and sp.init_mult == (1.0, 1.0, 0.0)
    mup = with_input_mult(width_recipe(TINY, 64, "mup", 16), 1 / 256)  # muP: input lr x m = 4
    assert mup.lr_mult == pytest.approx((4 / 256, 1.0, 1 / 4)), mup.lr_mult
    assert mup.init_mult[-1] == 0.0
