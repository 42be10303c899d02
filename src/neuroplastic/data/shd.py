"""Spiking Heidelberg Digits (SHD) and Spiking Speech Commands (SSC) from their HDF5 files.

Cramer, Stradmann, Schemmel & Zenke (2022), *The Heidelberg spiking data sets for the systematic
evaluation of spiking neural networks*, IEEE TNNLS 33(7):2744–2757 (doi:10.1109/TNNLS.2020.3044364).
SHD: 20 classes (digits 0–9 in English and German), 700 cochlear channels. The files
(``shd_train.h5``, ``shd_test.h5``; CC BY 4.0, from zenkelab.org/datasets) are not shipped:
download them yourself and pass the path.

File layout (from the data set's README)::

    spikes/times   vlen float arrays, one per sample: spike times in seconds
    spikes/units   vlen uint16 arrays: channel (0..699) of each spike
    labels         uint, one per sample: word id
    extra/speaker  speaker id per sample      (optional here)
    extra/keys     word id -> word (strings)  (optional here)
    extra/meta_info/{gender, age, body_height}  (ignored)

Reading needs ``h5py``, an optional dependency (``pip install h5py``, extra ``data``), imported
only when a file is opened.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from .._validation import check_int, check_positive

__all__ = [
    "SHDBinning",
    "SHDDataset",
    "bin_spikes",
    "collate_time_major",
    "import_h5py",
]

NUM_CHANNELS = 700


def import_h5py():
    """Import ``h5py`` or explain how to get it."""
    try:
        import h5py
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Reading SHD/SSC HDF5 files needs h5py, which is not installed: "
            "`pip install h5py` (optional extra 'data': `pip install neuroplastic[data]`)."
        ) from err
    return h5py


@dataclass(frozen=True)
class SHDBinning:
    """How spike events become a dense raster."""

    dt_ms: float = 14.0  # bin width (ms); Zenke's SHD tutorial: 100 bins over 1.4 s
    max_time_s: float = 1.4  # spikes at or after this time are dropped (s)
    num_units: int = NUM_CHANNELS  # channels (700 for SHD/SSC)

    def __post_init__(self) -> None:
        check_positive("dt_ms", self.dt_ms)
        check_positive("max_time_s", self.max_time_s)
        check_int("num_units", self.num_units, low=1)

    @property
    def num_steps(self) -> int:
        """``ceil(max_time / dt)`` bins; the last may extend past ``max_time_s``."""
        return max(1, math.ceil(self.max_time_s * 1e3 / self.dt_ms - 1e-9))


def bin_spikes(
    times_s: np.ndarray | Tensor, units: np.ndarray | Tensor, binning: SHDBinning
) -> Tensor:
    """Dense boolean raster of one sample.

    Parameters
    ----------
    times_s : array, shape ``(n_spikes,)``
        Spike times (s).
    units : array, shape ``(n_spikes,)``
        Channel of each spike, ``0 <= unit < num_units``.
    binning : SHDBinning

    Returns
    -------
    Tensor, shape ``(num_steps, num_units)``, dtype bool
        ``True`` in bin ``floor(t / dt)`` of each spike with ``0 <= t < max_time_s``; several
        spikes of one channel in one bin collapse into one (choose ``dt_ms`` small to avoid it).
    """
    t = np.asarray(times_s, dtype=np.float64).ravel()
    u = np.asarray(units, dtype=np.int64).ravel()
    if t.shape != u.shape:
        raise ValueError(f"times_s and units must have the same length, got {t.shape}, {u.shape}")
    if u.size and (u.min() < 0 or u.max() >= binning.num_units):
        raise ValueError(f"units must lie in [0, {binning.num_units}), got [{u.min()}, {u.max()}]")
    keep = (t >= 0) & (t < binning.max_time_s)
    k = np.floor(t[keep] * 1e3 / binning.dt_ms).astype(np.int64)
    k = np.minimum(k, binning.num_steps - 1)  # guards round-off just below max_time_s
    out = torch.zeros((binning.num_steps, binning.num_units), dtype=torch.bool)
    out[torch.from_numpy(k), torch.from_numpy(u[keep])] = True
    return out


class SHDDataset(Dataset):
    """SHD/SSC file as a map-style dataset of ``(raster (time, 700) bool, label int)``.

    The whole file is read into memory at construction (SHD train: 8156 samples, a few hundred
    MB at most) and closed, so the dataset is safe to use with worker processes. Batch with
    :func:`collate_time_major` to get ``(time, batch, 700)``.

    Parameters
    ----------
    path : str or os.PathLike
        An ``shd_*.h5`` / ``ssc_*.h5`` file.
    binning : SHDBinning, optional
        Bin width, window and channel count.

    Attributes
    ----------
    labels : Tensor, shape ``(n,)`` int64
    speakers : Tensor or None, shape ``(n,)`` int64 (``extra/speaker`` when present)
    keys : list of str or None (``extra/keys``: word of each label when present)
    """

    def __init__(self, path: str | os.PathLike, binning: SHDBinning | None = None) -> None:
        h5py = import_h5py()
        self.binning = binning if binning is not None else SHDBinning()
        with h5py.File(path, "r") as f:
            for name in ("spikes/times", "spikes/units", "labels"):
                if name not in f:
                    raise ValueError(f"{os.fspath(path)!r} is not an SHD-layout file: no {name!r}")
            self._times = [np.asarray(a, dtype=np.float64) for a in f["spikes/times"][()]]
            self._units = [np.asarray(a, dtype=np.int64) for a in f["spikes/units"][()]]
            self.labels = torch.as_tensor(np.asarray(f["labels"][()], dtype=np.int64))
            self.speakers = (
                torch.as_tensor(np.asarray(f["extra/speaker"][()], dtype=np.int64))
                if "extra/speaker" in f
                else None
            )
            self.keys = (
                [k.decode() if isinstance(k, bytes) else str(k) for k in f["extra/keys"][()]]
                if "extra/keys" in f
                else None
            )
        n = len(self.labels)
        if len(self._times) != n or len(self._units) != n:
            raise ValueError(
                f"inconsistent file: {len(self._times)} times, {len(self._units)} units, {n} labels"
            )

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        raster = bin_spikes(self._times[index], self._units[index], self.binning)
        return raster, int(self.labels[index])

    def spike_events(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The raw events of one sample: ``(times_s float64, units int64)``."""
        return self._times[index], self._units[index]


def collate_time_major(batch: Sequence[tuple[Tensor, int]]) -> tuple[Tensor, Tensor]:
    """Stack ``(raster (time, units), label)`` pairs into ``((time, batch, units), (batch,))``."""
    rasters = torch.stack([r for r, _ in batch], dim=1)
    labels = torch.as_tensor([y for _, y in batch], dtype=torch.int64)
    return rasters, labels
