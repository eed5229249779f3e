"""Shared fixtures of the unit tests: the embedded MNIST-5k, a small subset of it, full MNIST.

The unit tests check properties, not speed, so they keep every run small (1,000 training rows,
1-2 epochs, narrow hidden layers where the property does not depend on width) and run torch on
one thread. On a shared 2-core machine two intra-op threads fight the other jobs for the cores and
tiny matmuls get several times slower (measured while another training run held both cores: 13
single-model epochs on 1,000 rows took 0.7 s on one thread and 3.7 s on two).
"""

from __future__ import annotations

import gzip
import os
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

import initcore
from initcore import data, initializers

SMALL_TRAIN_ROWS = 1_000  # training rows of the `small_data` subset
MNIST_STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


# pytest-xdist tells a worker's own code which worker it is through these variables; a test that
# starts `pytest bench` or `initcore` as a child process would pass them on, and the child would
# then believe it is an xdist worker (pytest-benchmark disables itself, and a bench session skips
# writing its report folder). xdist itself knows its workers by `config.workerinput`, not by
# these, so the unit tests drop them once per worker: every child is a session of its own, and
# `pytest tests -n 2` is safe.
XDIST_WORKER_ENV = ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID")


@pytest.fixture(scope="session", autouse=True)
def _children_are_sessions_of_their_own() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as env:
        workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
        if workers > 1 and "OMP_NUM_THREADS" not in os.environ:
            # Each worker's children (`pytest bench`, `initcore run`) get the worker's share of
            # the cores: two workers' children on 2 threads each oversubscribe a 2-core machine,
            # and their OpenMP threads wait for each other at every barrier. Measured on 2
            # cores, `-n 2`, tests/test_bench_session.py + test_integrity_gate.py (35 tests):
            # 92.4 s with the default threads, 66.0 s with one each.
            env.setenv("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
        for name in XDIST_WORKER_ENV:
            env.delenv(name, raising=False)
        yield


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """One intra-op thread for each test module, module-scoped fixtures included; restored
    afterwards, so benchmarks run in the same session keep their own setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def mnist5k() -> data.Dataset:
    """The embedded MNIST-5k, 4,000 train / 1,000 test rows (loaded once per session)."""
    return data.load("mnist-5k")


@pytest.fixture(scope="session")
def small_data(mnist5k: data.Dataset) -> data.Dataset:
    """1,000 training rows drawn at random (seed 0) from MNIST-5k, with its whole test split.

    Drawn, not sliced: the MNIST-5k training split is ordered by class, so its first 1,000 rows
    hold only the digits 0, 1 and 2.
    """
    rows = torch.randperm(mnist5k.x_train.shape[0],
                          generator=torch.Generator().manual_seed(0))[:SMALL_TRAIN_ROWS]
    return data.Dataset("mnist-5k-1k", mnist5k.x_train[rows], mnist5k.y_train[rows],
                        mnist5k.x_test, mnist5k.y_test)


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The read-only folder holding full MNIST (env INITCORE_DATA_DIR); skip the test if absent."""
    folder = os.environ.get("INITCORE_DATA_DIR")
    if not folder:
        pytest.skip("full MNIST: INITCORE_DATA_DIR is not set (CI sets it to ../shared/data)")
    raw = Path(folder) / "MNIST" / "raw"
    missing = [s for s in MNIST_STEMS
               if not (raw / s).exists() and not (raw / f"{s}.gz").exists()]
    if missing:
        pytest.skip(f"full MNIST: {raw} lacks {', '.join(missing)} (INITCORE_DATA_DIR={folder})")
    return Path(folder)


def idx_bytes(array: np.ndarray) -> bytes:
    """An unsigned-byte IDX file: magic 2051 (images, 3 dims) or 2049 (labels, 1 dim)."""
    array = np.asarray(array, dtype=np.uint8)
    magic = {3: 2051, 1: 2049}[array.ndim]
    return struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.tobytes()


def write_tiny_mnist(root: Path, seed: int = 0, n_train: int = 20, n_test: int = 10) -> Path:
    """A tiny valid MNIST folder, gzip-only like the shared data; returns root/MNIST/raw.

    Random grey levels as images, labels 0..9 repeating: enough for every check the loader makes.
    """
    rng = np.random.default_rng(seed)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28))
        (raw / f"{split}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images)))
        (raw / f"{split}-labels-idx1-ubyte.gz").write_bytes(
            gzip.compress(idx_bytes(np.arange(n) % 10)))
    return raw


@pytest.fixture
def make_mnist() -> Callable[..., Path]:
    """``make_mnist(root, seed=0)`` writes a tiny valid MNIST under root; see write_tiny_mnist."""
    return write_tiny_mnist


class ProgressCounter:
    """A progress sink for the trainers' ``progress=`` argument that counts model-epochs."""

    def __init__(self) -> None:
        self.n = 0

    def update(self, n: int = 1) -> None:
        self.n += n


@pytest.fixture
def register_scheme() -> Iterator[Callable[[initializers.Scheme], str]]:
    """``register_scheme(scheme)`` adds a test-only scheme to the registry (its public API) and
    returns its name; every scheme added is unregistered after the test."""
    added: list[str] = []

    def register(scheme: initializers.Scheme) -> str:
        initializers.register_scheme(scheme)
        added.append(scheme.name)
        return scheme.name

    yield register
    for name in added:
        initializers.unregister(name)


@pytest.fixture
def user_scheme() -> Iterator[Callable[..., Callable]]:
    """``user_scheme(name, formula, **options)``: ``initcore.register`` as a user calls it, for
    one test; every scheme registered through it is removed again (``initcore.unregister``)."""
    added: list[str] = []

    def register(name: str, formula: str | None = None, **options) -> Callable:
        decorate = initcore.register(name, formula, **options)

        def keep(fn: Callable) -> Callable:
            decorate(fn)
            added.append(name)
            return fn

        return keep

    yield register
    for name in added:
        initcore.unregister(name)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty folder, so a forgotten --report-dir cannot write into the repository."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
