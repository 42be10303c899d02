"""scikit-learn's bundled handwritten digits (1797 images of 8×8 pixels, 10 classes) as tensors.

No download: the data ship with scikit-learn (``sklearn.datasets.load_digits``, the UCI
"Optical Recognition of Handwritten Digits" test set). Pixel counts 0..16 are divided by 16 so
inputs lie in [0, 1]; the train/test split is stratified and fixed by ``seed``
(``sklearn.model_selection.train_test_split``). :func:`spike_digits` adds a Poisson rate code
for surrogate-gradient training.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from .._validation import check_int, check_range
from ..encoding.rate import PoissonParams, poisson_encode

__all__ = ["DigitsSplit", "SpikeDigits", "load_digits", "spike_digits"]

NUM_PIXELS = 64  # 8 x 8
NUM_CLASSES = 10


class DigitsSplit(NamedTuple):
    """A stratified train/test split of the digits (pixels in [0, 1])."""

    x_train: Tensor  # (n_train, 64) float
    y_train: Tensor  # (n_train,) int64 in 0..9
    x_test: Tensor  # (n_test, 64) float
    y_test: Tensor  # (n_test,) int64


class SpikeDigits(NamedTuple):
    """Poisson-encoded digits, time-major."""

    spikes_train: Tensor  # (time, n_train, 64) bool
    y_train: Tensor  # (n_train,) int64
    spikes_test: Tensor  # (time, n_test, 64) bool
    y_test: Tensor  # (n_test,) int64


def load_digits(
    *, test_size: float = 0.25, seed: int = 0, dtype: torch.dtype = torch.float32
) -> DigitsSplit:
    """Load the 8×8 digits, scaled to [0, 1], with a deterministic stratified split.

    Parameters
    ----------
    test_size : float
        Fraction of the 1797 samples held out for testing, in (0, 1).
    seed : int
        Seed of the split (``random_state`` of ``train_test_split``).
    dtype : torch.dtype
        Float dtype of the pixel tensors.

    Returns
    -------
    DigitsSplit
        ``x_*`` of shape ``(n, 64)`` in [0, 1], ``y_*`` int64 labels; with the default
        ``test_size`` 1347 train and 450 test samples, every class in both in its proportion.
    """
    from sklearn.datasets import load_digits as _sk_load_digits
    from sklearn.model_selection import train_test_split

    check_range("test_size", test_size, 0.0, 1.0)
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be in (0, 1), got {test_size!r}")
    check_int("seed", seed, low=0)
    bunch = _sk_load_digits()
    x = np.asarray(bunch.data, dtype=np.float64) / 16.0
    y = np.asarray(bunch.target, dtype=np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=test_size, random_state=seed, stratify=y
    )
    return DigitsSplit(
        torch.as_tensor(x_tr, dtype=dtype),
        torch.as_tensor(y_tr),
        torch.as_tensor(x_te, dtype=dtype),
        torch.as_tensor(y_te),
    )


def spike_digits(
    *,
    num_steps: int = 100,
    max_rate_hz: float = 100.0,
    dt_ms: float = 1.0,
    test_size: float = 0.25,
    seed: int = 0,
) -> SpikeDigits:
    """Digits as Poisson spike trains: pixel value ``v`` fires at ``v * max_rate_hz``.

    Parameters
    ----------
    num_steps : int
        Time steps per sample.
    max_rate_hz : float
        Rate of a fully black pixel (Hz); ``max_rate_hz * dt_ms / 1000 <= 1``.
    dt_ms : float
        Clock step (ms).
    test_size : float
        Held-out fraction, as in :func:`load_digits`.
    seed : int
        Seeds both the split and the spike draws (train and test use independent streams).

    Returns
    -------
    SpikeDigits
        ``spikes_*`` of shape ``(num_steps, n, 64)`` bool and the labels.
    """
    params = PoissonParams(num_steps=num_steps, max_rate_hz=max_rate_hz, dt_ms=dt_ms)
    split = load_digits(test_size=test_size, seed=seed)
    ss = np.random.SeedSequence(seed).spawn(2)
    g_train = torch.Generator().manual_seed(int(ss[0].generate_state(1, np.uint64)[0] >> 1))
    g_test = torch.Generator().manual_seed(int(ss[1].generate_state(1, np.uint64)[0] >> 1))
    return SpikeDigits(
        poisson_encode(split.x_train, params, generator=g_train),
        split.y_train,
        poisson_encode(split.x_test, params, generator=g_test),
        split.y_test,
    )
