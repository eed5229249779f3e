"""The peak-memory benchmark measures in a fresh (spawned) process: a user's scheme, known to
this process only through ``--init module:function``, must be known there too (it was not:
``pytest bench --init my_module:my_init`` failed test_peak_memory with "unknown initializer")."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from initcore import initializers
from initcore.memory import grid_peak_memory
from initcore.train import Recipe

MODULE = '''
def my_mem_init(weight, generator):
    """N(0, 1.5/fan_in)"""
    weight.normal_(0.0, (1.5 / weight.shape[1]) ** 0.5, generator=generator)
'''


def test_peak_memory_of_a_grid_with_a_user_scheme(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "my_mem_module.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    name = initializers.resolve("my_mem_module:my_mem_init")
    try:
        memory = grid_peak_memory("mnist-5k", None, [name, "he_normal"], [0],
                                  Recipe(hidden=(16,)), rows=256)
    finally:
        initializers.unregister(name)
        sys.modules.pop("my_mem_module", None)
    assert memory["models"] == 2 and memory["peak_rss_mb"] > 0, memory
