"""Peak memory of a grid (initcore.memory): measured in a fresh process, and the RSS readings
behind it with and without Linux's /proc."""

from __future__ import annotations

from initcore import memory
from initcore.train import Recipe


def test_grid_peak_memory_counts_the_grid() -> None:
    """Measured in a fresh process: the peak must include at least the stacked weights and
    momentum buffers (2 x 4 bytes x G x parameters), and grow with G. Measured here on mnist-5k:
    1 model adds 9.5 MiB (stacked 1.8), 39 models 207 MiB (stacked 70)."""
    config = Recipe(epochs=1)
    one = memory.grid_peak_memory("mnist-5k", None, ["he_normal"], [0], config, rows=640)
    many = memory.grid_peak_memory("mnist-5k", None, ["he_normal", "xavier_normal"], range(8),
                                   config, rows=640)
    assert many["models"] == 16 and one["models"] == 1
    assert one["model"] == "mlp-784-256-128-10-relu", one["model"]  # named by the child's data
    params = 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
    assert one["stacked_mb"] == 2 * 4 * params / 2**20, one["stacked_mb"]
    for grid in (one, many):
        assert grid["grid_mb"] >= grid["stacked_mb"], grid
        assert grid["peak_rss_mb"] >= grid["before_mb"] + grid["grid_mb"] - 1e-6, grid
    assert many["grid_mb"] > one["grid_mb"] + 0.9 * (many["stacked_mb"] - one["stacked_mb"]), (
        f"16 models should add at least their stacked tensors over 1: {one} vs {many}")


def test_grid_peak_memory_names_and_counts_the_net_it_trains() -> None:
    """A ResMLP on MNIST-1D (40 features): the row names that net (not ``mlp-784-...``, as a
    784-feature default once did) and its stacked tensors count the ResMLP's parameters (stem,
    2 branch layers, the learnable gain, the classifier), not an MLP's."""
    config = Recipe(arch="resmlp", blocks=1, width=8, epochs=1)
    grid = memory.grid_peak_memory("mnist1d", None, ["he_normal"], [0], config, rows=100)
    assert grid["model"] == config.model_name(40, 10) == "resmlp-40-1x8-b2-10-relu", grid
    params = (40 * 8 + 8) + 2 * (8 * 8 + 8) + 1 + (8 * 10 + 10)
    assert grid["stacked_mb"] == 2 * 4 * params / 2**20, (grid["stacked_mb"], params)


def test_rss_readings_fall_back_without_proc(monkeypatch) -> None:
    now, peak = memory.rss_now_and_peak_mb()
    assert 0 < now <= peak, (now, peak)

    def no_proc(field: str) -> float:
        raise OSError("no /proc here")

    monkeypatch.setattr(memory, "status_mb", no_proc)
    now, peak = memory.rss_now_and_peak_mb()
    assert now == peak > 10, f"getrusage's peak in MiB expected, got {peak}"
