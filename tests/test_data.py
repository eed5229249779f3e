"""Datasets: the embedded MNIST-5k, full MNIST from a read-only folder, and bad IDX files.

Corrupt-file tests build a tiny MNIST folder of their own (the `make_mnist` fixture: 20 train /
10 test synthetic digits, valid IDX files, gzipped) and break one file at a time, so they run
without the real data.
"""

from __future__ import annotations

import gzip
import importlib.resources
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from initcore import data
from initcore.data import DataError

MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def assert_one_line(message: str) -> None:
    assert "\n" not in message, f"a user-facing error must be one line: {message!r}"


# ---------------------------------------------------------------------------------------------
# MNIST-5k
# ---------------------------------------------------------------------------------------------

def test_mnist5k_shapes_and_types(mnist5k: data.Dataset) -> None:
    assert mnist5k.x_train.shape == (4000, 784), f"x_train {tuple(mnist5k.x_train.shape)}"
    assert mnist5k.x_test.shape == (1000, 784), f"x_test {tuple(mnist5k.x_test.shape)}"
    assert mnist5k.y_train.shape == (4000,) and mnist5k.y_test.shape == (1000,), "label shapes"
    assert mnist5k.x_train.dtype == torch.float32, f"pixels float32: {mnist5k.x_train.dtype}"
    assert mnist5k.y_train.dtype == torch.int64, f"labels int64: {mnist5k.y_train.dtype}"
    assert (mnist5k.n_features, mnist5k.n_classes) == (784, 10), "n_features / n_classes"


def test_mnist5k_split_is_stratified(mnist5k: data.Dataset) -> None:
    train = torch.bincount(mnist5k.y_train, minlength=10).tolist()
    test = torch.bincount(mnist5k.y_test, minlength=10).tolist()
    assert train == [400] * 10, f"train label counts {train}, expected 400 per digit"
    assert test == [100] * 10, f"test label counts {test}, expected 100 per digit"


def test_mnist5k_normalized_to_unit_interval(mnist5k: data.Dataset) -> None:
    for split in (mnist5k.x_train, mnist5k.x_test):
        # Exactly -1 and 1: the background (0) and full ink (255) both occur in MNIST.
        assert split.min().item() == -1.0 and split.max().item() == 1.0, (
            f"pixels span [{split.min().item()}, {split.max().item()}], expected [-1, 1]")
        grey = torch.round((split * 0.5 + 0.5) * 255)
        assert torch.equal(data.normalize(grey.to(torch.uint8)), split), (
            "every pixel should be (k/255 - 0.5)/0.5 for an integer grey level k")


def test_mnist5k_known_pixel_matches_csv(mnist5k: data.Dataset) -> None:
    # The first row of the shipped CSV, read independently of initcore.data.
    package, resource = data.MNIST_5K_RESOURCE
    with importlib.resources.as_file(importlib.resources.files(package) / resource) as path, \
            gzip.open(path, "rt") as f:
        first = np.array(f.readline().strip().split(","), dtype=np.float32)
    grey, label = torch.from_numpy(first[:-1]), int(first[-1])
    expected = (grey / 255 - 0.5) / 0.5  # the seed recipe's normalization, in float32
    # Row 0 of the CSV is the first row of whichever split it fell into (splits keep file order).
    hits = [name for name, x, y in (("train", mnist5k.x_train, mnist5k.y_train),
                                    ("test", mnist5k.x_test, mnist5k.y_test))
            if torch.equal(x[0], expected) and int(y[0]) == label]
    assert hits, "row 0 of mnist_5k.csv.gz is neither x_train[0] nor x_test[0] after normalizing"
    x0 = (mnist5k.x_train if hits == ["train"] else mnist5k.x_test)[0]
    k = int(torch.nonzero((grey > 0) & (grey < 255))[0])  # first pixel of intermediate grey
    exact = (float(grey[k]) / 255 - 0.5) / 0.5  # in float64; float32 rounds it by < 6e-8
    assert abs(float(x0[k]) - exact) < 1e-7, f"pixel {k}: grey {grey[k]} -> {x0[k]}, not {exact}"


def test_normalize_formula_exact() -> None:
    pixels = torch.tensor([[0, 51, 127, 128, 255]], dtype=torch.uint8)
    got = data.normalize(pixels)
    expected = (pixels.float() / 255.0 - 0.5) / 0.5
    assert torch.equal(got, expected), f"normalize: {got.tolist()}, expected {expected.tolist()}"
    assert got[0, 0] == -1.0 and got[0, -1] == 1.0, f"0 -> -1 and 255 -> 1 exactly: {got.tolist()}"
    assert data.normalize(torch.zeros(3, 28, 28, dtype=torch.uint8)).shape == (3, 784), "flatten"


def test_mnist5k_split_deterministic(mnist5k: data.Dataset) -> None:
    again = data.load("mnist-5k")
    for field in ("x_train", "y_train", "x_test", "y_test"):
        assert torch.equal(getattr(again, field), getattr(mnist5k, field)), (
            f"{field} differs between two loads of mnist-5k")


# ---------------------------------------------------------------------------------------------
# Full MNIST (read-only folder, parsed in memory: nothing written anywhere)
# ---------------------------------------------------------------------------------------------

def test_mnist_full_from_read_only_folder(mnist_dir: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # nothing may be cached there
    mnist = data.load("mnist", mnist_dir)
    assert mnist.x_train.shape == (60000, 784), f"x_train {tuple(mnist.x_train.shape)}"
    assert mnist.x_test.shape == (10000, 784), f"x_test {tuple(mnist.x_test.shape)}"
    assert torch.bincount(mnist.y_test, minlength=10).tolist() == MNIST_TEST_COUNTS, (
        "test label counts differ from the official MNIST ones")
    assert torch.bincount(mnist.y_train, minlength=10).tolist() == MNIST_TRAIN_COUNTS, (
        "train label counts differ from the official MNIST ones")
    assert -1.0 <= mnist.x_train.min() and mnist.x_train.max() <= 1.0, "normalized range"
    assert not (tmp_path / "home").exists(), "loading should write no decompressed copy"


# ---------------------------------------------------------------------------------------------
# Bad or missing files
# ---------------------------------------------------------------------------------------------

def test_mnist_tiny_folder_loads_without_writing(tmp_path: Path,
                                                make_mnist: Callable[..., Path]) -> None:
    # The positive control of the corrupt-file tests below: the intact folder loads.
    make_mnist(tmp_path / "data")
    before = sorted(tmp_path.rglob("*"))
    tiny = data.load("mnist", tmp_path / "data")
    assert tiny.x_train.shape == (20, 784) and tiny.x_test.shape == (10, 784), "tiny shapes"
    assert tiny.y_test.tolist() == list(range(10)), f"labels {tiny.y_test.tolist()}"
    assert sorted(tmp_path.rglob("*")) == before, "loading should write nothing"


def _truncate_gz(raw: Path) -> str:
    path = raw / "train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:20])
    return path.name


def _not_gzip(raw: Path) -> str:
    path = raw / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(b"<html>404 Not Found</html>\n")  # a failed download saved as .gz
    return path.name


def _bad_magic(raw: Path) -> str:
    path = raw / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(struct.pack(">I", 1234) + bytes(100)))
    return path.name


def _truncated_idx(raw: Path) -> str:
    path = raw / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-100]))
    return path.name


def _too_long_idx(raw: Path) -> str:
    path = raw / "train-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes()) + b"\0"))
    return path.name


def _shorter_than_header(raw: Path) -> str:
    path = raw / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(b"\0\0\x08"))
    return path.name


def _plain_truncated(raw: Path) -> str:
    # An uncompressed file takes precedence over its .gz: it is checked too.
    stem = "t10k-labels-idx1-ubyte"
    (raw / stem).write_bytes(gzip.decompress((raw / f"{stem}.gz").read_bytes())[:-3])
    return stem


def _cut_inside_header(raw: Path) -> str:
    # 12 bytes: the magic number and the image count, but not the row/column sizes.
    path = raw / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:12]))
    return path.name


@pytest.mark.parametrize("corrupt, what", [
    pytest.param(_truncate_gz, "corrupt or truncated gzip", id="truncated_gzip"),
    pytest.param(_not_gzip, "corrupt or truncated gzip", id="not_gzip"),
    pytest.param(_bad_magic, "not an MNIST IDX file", id="bad_magic"),
    pytest.param(_truncated_idx, "truncated", id="truncated_idx"),
    pytest.param(_too_long_idx, "too long", id="too_long_idx"),
    pytest.param(_shorter_than_header, "shorter than an IDX header", id="shorter_than_header"),
    pytest.param(_plain_truncated, "truncated", id="plain_truncated"),
    pytest.param(_cut_inside_header, "shorter than the IDX header", id="cut_inside_header"),
])
def test_mnist_corrupt_file_named_in_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           make_mnist: Callable[..., Path], corrupt,
                                           what: str) -> None:
    raw = make_mnist(tmp_path / "data")
    name = corrupt(raw)
    with pytest.raises(DataError) as info:
        data.load("mnist", tmp_path / "data")
    message = str(info.value)
    assert str(raw / name) in message, f"the error should name {raw / name}: {message}"
    assert what in message, f"the error should say {what!r}: {message}"
    assert_one_line(message)


def test_mnist_missing_says_where_and_download(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        data.load("mnist", tmp_path / "nowhere")
    message = str(info.value)
    assert str(tmp_path / "nowhere" / "MNIST" / "raw") in message, f"where it looked: {message}"
    assert "--download" in message, f"the error should mention --download: {message}"
    assert_one_line(message)


def test_mnist_partly_missing_names_missing_files(tmp_path: Path,
                                                  make_mnist: Callable[..., Path]) -> None:
    raw = make_mnist(tmp_path / "data")
    (raw / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DataError) as info:
        data.load("mnist", tmp_path / "data")
    message = str(info.value)
    assert "t10k-images-idx3-ubyte" in message, f"the missing file should be named: {message}"
    assert "train-images-idx3-ubyte" not in message, f"present files are not missing: {message}"


def test_data_unknown_dataset_lists_valid_names() -> None:
    with pytest.raises(DataError) as info:
        data.load("cifar10")
    message = str(info.value)
    assert "cifar10" in message and all(n in message for n in data.DATASETS), (
        f"the error should name 'cifar10' and list {data.DATASETS}: {message}")


def test_data_default_dir_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INITCORE_DATA_DIR", "/some/where")
    assert data.default_data_dir() == Path("/some/where"), "INITCORE_DATA_DIR should be used"
    monkeypatch.delenv("INITCORE_DATA_DIR")
    assert data.default_data_dir() == Path("data"), "without the env var: ./data"


def test_mnist_folders_never_mixed(tmp_path: Path, make_mnist: Callable[..., Path]) -> None:
    make_mnist(tmp_path / "a", seed=1)
    make_mnist(tmp_path / "b", seed=2)  # same shapes, different pixels
    a, b = data.load("mnist", tmp_path / "a"), data.load("mnist", tmp_path / "b")
    assert not torch.equal(a.x_train, b.x_train), "folder b was served folder a's cached pixels"
