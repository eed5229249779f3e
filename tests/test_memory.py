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
    for grid in (one, many):
        assert grid["grid_mb"] >= grid["stacked_mb"], grid
        assert grid["peak_rss_mb"] >= grid["before_mb"] + grid["grid_mb"] - 1e-6, grid
    assert many["grid_mb"] > one["grid_mb"] + 0.9 * (many["stacked_mb"] - one["stacked_mb"]), (
        f"16 models should add at least their stacked tensors over 1: {one} vs {many}")


def test_rss_readings_fall_back_without_proc(monkeypatch) -> None:
    now, peak = memory.rss_now_and_peak_mb()
    assert 0 < now <= peak, (now, peak)

    def no_proc(field: str) -> float:
        raise OSError("no /proc here")

    monkeypatch.setattr(memory, "status_mb", no_proc)
    now, peak = memory.rss_now_and_peak_mb()
    assert now == peak > 10, f"getrusage's peak in MiB expected, got {peak}"
