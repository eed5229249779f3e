"""Unit tests of initcore.probes, initcore.plots and the `probe` / `plot` commands (fast)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from initcore import plots, probes
from initcore.cli import main
from initcore.data import Dataset
from initcore.models import MLP
from initcore.reports import ReportError


@pytest.fixture(scope="module")
def tiny_data() -> Dataset:
    """Gaussian 'images' (784 features, 10 classes): enough for shapes and laws, no file I/O."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(600, 784, generator=g)
    y = torch.randint(0, 10, (600,), generator=g)
    return Dataset("tiny", x[:500], y[:500], x[500:], y[500:])


def test_probe_model_metrics_per_layer():
    model = MLP([20, 16, 16, 5], "relu")
    x, y = torch.randn(32, 20), torch.randint(0, 5, (32,))
    out = probes.probe_model(model, x, y)
    assert set(out) == set(probes.METRICS), "every metric is reported"
    assert all(len(v) == 3 for v in out.values()), "one value per linear layer"
    assert math.isnan(out["act_std"][2]) and math.isnan(out["dead_frac"][2]), \
        "the output layer has no activation"
    assert all(0 <= d <= 1 for d in out["dead_frac"][:2])
    assert model[1].weight.grad is None, "the probed model itself is left untouched"


def test_probe_model_identity_net_keeps_signal():
    """Linear activation, identity weights, zero bias: every layer sees the input unchanged."""
    model = MLP([8, 8, 8, 8], "linear")
    with torch.no_grad():
        for layer in [m for m in model if isinstance(m, nn.Linear)]:
            layer.weight.copy_(torch.eye(8))
            layer.bias.zero_()
    x = torch.randn(64, 8, dtype=torch.float64)
    out = probes.probe_model(model, x, torch.randint(0, 8, (64,)))
    q = out["preact_second_moment"]
    assert q == pytest.approx([x.pow(2).mean().item()] * 3, rel=1e-12)
    g = out["grad_preact_var"]
    assert g == pytest.approx([g[0]] * 3, rel=1e-12), "identity backward keeps the gradient"
    assert out["act_deriv_sq"][:2] == pytest.approx([1.0, 1.0])
    assert out["fan_in_weight_var"][0] == pytest.approx(8 * torch.eye(8).var().item())


def test_probe_model_float64_survives_exploding_signal():
    """N(0, 1) weights at width 64 grow the signal ~32x a layer: float64 measures 30 layers of it,
    where float32 would overflow to inf."""
    model = MLP([784, *(64,) * 30, 10], "relu")
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for layer in [m for m in model if isinstance(m, nn.Linear)]:
            layer.weight.normal_(0, 1, generator=g)
            layer.bias.zero_()
    out = probes.probe_model(model, torch.randn(16, 784), torch.randint(0, 10, (16,)))
    assert all(math.isfinite(v) and v > 0 for v in out["preact_second_moment"])
    assert out["preact_second_moment"][-1] > 1e40


def test_probe_table_schema_and_determinism(tiny_data):
    kwargs = dict(depth=4, width=32, activation="relu", seeds=(0, 1), batch=64)
    a = probes.probe(["he_normal", "xavier_normal"], tiny_data, **kwargs)
    b = probes.probe(["he_normal", "xavier_normal"], tiny_data, **kwargs)
    assert list(a.columns) == probes.PROBE_COLUMNS
    pd.testing.assert_frame_equal(a, b)  # same seeds, same numbers
    assert set(a["layer"]) == set(range(1, 6)), "depth hidden layers plus the output layer"
    assert a["value"].notna().all()
    assert set(a["metric"]) == set(probes.METRICS)


def test_probe_rejects_bad_numbers(tiny_data):
    with pytest.raises(ValueError, match="depth"):
        probes.probe(["he_normal"], tiny_data, depth=0, width=8)
    with pytest.raises(ValueError, match="steps"):
        probes.probe(["he_normal"], tiny_data, depth=2, width=8, steps=-1)
    with pytest.raises(ValueError, match="unknown initializer"):
        probes.probe(["nope"], tiny_data, depth=2, width=8)


def test_probe_after_steps_differs_from_init(tiny_data):
    at_init = probes.probe(["he_normal"], tiny_data, depth=2, width=16, batch=32)
    trained = probes.probe(["he_normal"], tiny_data, depth=2, width=16, batch=32, steps=5)
    assert set(trained["steps"]) == {5}
    assert not np.allclose(at_init["value"], trained["value"])


def test_ratio_table_reads_the_relu_law(tiny_data):
    """He at width 256: measured per-layer ratio ~1 and n Var(W)/2 ~1; Xavier ~1/2."""
    table = probes.probe(["he_normal", "xavier_normal"], tiny_data, depth=8, width=256, batch=128)
    ratios = probes.ratio_table(table).set_index("init")
    assert ratios.loc["he_normal", "theory"] == pytest.approx(1.0, rel=0.02)
    assert ratios.loc["xavier_normal", "theory"] == pytest.approx(0.5, rel=0.02)
    assert ratios.loc["he_normal", "ratio_geo"] == pytest.approx(1.0, rel=0.2)
    assert ratios.loc["xavier_normal", "ratio_geo"] == pytest.approx(0.5, rel=0.2)


def test_ratio_table_zero_net_has_no_ratio(tiny_data):
    ratios = probes.ratio_table(probes.probe(["zeros"], tiny_data, depth=3, width=8, batch=16))
    assert math.isnan(ratios.loc[0, "ratio_geo"]) and ratios.loc[0, "theory"] == 0


# --- plots ------------------------------------------------------------------------------------

def _epochs_frame() -> pd.DataFrame:
    rows = []
    for init, base in [("he_normal", 0.9), ("zeros", 0.1)]:
        for seed in range(3):
            for epoch in range(1, 4):
                acc = base * epoch / 3 + 0.01 * seed
                rows.append({"dataset": "mnist-5k", "model": "mlp-784-256-128-10-relu",
                             "init": init, "seed": seed, "epoch": epoch, "train_loss": 2.3 / epoch,
                             "test_loss": 2.3 / epoch, "test_acc": acc, "diverged": False})
    rows.append({**rows[-1], "init": "random_large", "test_acc": math.nan,
                 "train_loss": math.nan, "test_loss": math.nan, "diverged": True})
    return pd.DataFrame(rows)


def _is_png(path) -> bool:
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_accuracy_and_losses_write_small_pngs(tmp_path):
    written = plots.plot_accuracy(_epochs_frame(), tmp_path) + plots.plot_losses(
        _epochs_frame(), tmp_path)
    assert [p.name for p in written] == ["accuracy.png", "loss.png"]
    assert all(_is_png(p) and p.stat().st_size < 200_000 for p in written)


def test_plot_accuracy_one_file_per_experiment(tmp_path):
    frame = pd.concat([_epochs_frame().assign(experiment=name) for name in ("a", "deep b")])
    names = sorted(p.name for p in plots.plot_accuracy(frame, tmp_path))
    assert names == ["accuracy-a.png", "accuracy-deep-b.png"]


def test_plot_probes_writes_png(tmp_path, tiny_data):
    table = probes.probe(["he_normal", "zeros"], tiny_data, depth=3, width=16, batch=32)
    (path,) = plots.plot_probes(table, tmp_path)
    assert path.name == "probes.png" and _is_png(path)


def test_plot_report_dir_without_reports_is_an_error(tmp_path):
    with pytest.raises(ReportError, match="nothing to plot"):
        plots.plot_report_dir(tmp_path)
    with pytest.raises(ReportError, match="no report folder"):
        plots.plot_report_dir(tmp_path / "missing")


# --- command line -----------------------------------------------------------------------------

def test_cli_probe_writes_probes_csv_and_plot_reads_it(tmp_path, capsys):
    args = ["probe", "--depth", "3", "--width", "16", "--init", "he_normal", "xavier_normal",
            "--batch", "32", "--report-dir", str(tmp_path), "--run-id", "p"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "n Var(W) / 2" in out and "he_normal" in out
    table = pd.read_csv(tmp_path / "p" / probes.PROBES_FILE)
    assert list(table.columns) == probes.PROBE_COLUMNS
    assert main(["plot", str(tmp_path / "p")]) == 0
    assert _is_png(tmp_path / "p" / "probes.png")


@pytest.mark.parametrize("args,message", [
    (["probe", "--init", "nope"], "unknown initializer 'nope'"),
    (["probe", "--depth", "0"], "--depth must be >= 1"),
    (["probe", "--steps", "-2"], "--steps must be >= 0"),
    (["probe", "--activation", "swish"], "unknown activation 'swish'"),
    (["probe", "--dataset", "cifar"], "unknown dataset 'cifar'"),
    (["plot", "/nonexistent/run"], "no report folder"),
], ids=["init", "depth", "steps", "activation", "dataset", "plot-missing"])
def test_cli_bad_input_is_one_line_exit_2(args, message, capsys, tmp_path):
    assert main([*args, *(["--report-dir", str(tmp_path)] if args[0] == "probe" else [])]) == 2
    err = capsys.readouterr().err
    assert err.startswith("initcore: error: ") and message in err and err.count("\n") == 1
    assert not any(tmp_path.iterdir()), "nothing is written on bad input"


def test_accuracy_zoom_only_when_leaders_cluster_and_others_lag():
    frame = _epochs_frame()  # he_normal ends at 90-92%, zeros at 10-12%: one leader, no zoom
    assert plots._zoom_range(frame) is None
    close = frame[frame["init"] == "he_normal"].assign(init="xavier_normal",
                                                       test_acc=lambda f: f["test_acc"] - 0.01)
    low, high = plots._zoom_range(pd.concat([frame, close]))
    assert low == pytest.approx(100 * (0.9 + 0.01) - plots.ZOOM_POINTS)
    assert high <= 100
