r"""Randman: spike-timing classification on smooth random manifolds (Zenke & Vogels, 2021).

Re-implementation (numpy, not copied) of the generator in Zenke's public ``randman`` package
(github.com/fzenke/randman, default ``TorchRandman`` backend) and of the spiking-dataset recipe
``make_tempo_randman`` used for F. Zenke & T. P. Vogels (2021), *The remarkable robustness of
surrogate gradient learning for instilling complex function in spiking neural networks*,
Neural Computation 33(4):899–925, doi:10.1162/neco_a_01367.

**Manifold.** Each class :math:`c` is a random smooth map from the intrinsic coordinates
:math:`x \in [0,1]^D` to :math:`M` units,

.. math::

    y_u(x) = \prod_{d=1}^{D} g_{u,d}(x_d), \qquad
    g_{u,d}(\xi) = \sum_{i=0}^{F-1} a_{u,d,i}\, s_i \sin\!\big(2\pi(i\,f_{u,d,i}\,\xi
    + \phi_{u,d,i})\big), \qquad s_i = \frac{1}{(i+1)^\alpha + 1},

with :math:`a, f, \phi \sim U[0,1]` i.i.d., :math:`a_{u,d,0} = 0` (no constant offset) and
:math:`F = \min(\lceil \text{prec}^{-1/\alpha}\rceil, F_\max)` components; the power-law
fall-off :math:`\alpha` sets the smoothness (larger = smoother).

**Spikes.** Samples :math:`x \sim U[0,1]^D` are drawn per class; each unit's values are
min–max standardized over that class's samples, :math:`\tilde y = (y - \min)/(\max - \min +
10^{-7})`, and unit :math:`u` fires exactly one spike at :math:`t_u = \tilde y_u\,\cdot
\text{step\_frac} \cdot T\,\Delta t`. Spike counts carry no information: classes differ only in
relative spike timing.

**Defaults** follow the paper's Randman script (``netrandman`` in the Zenke-lab simulation code,
which calls ``make_tempo_randman``): 10 classes, 20 input units, manifold dimension 1,
:math:`\alpha = 1`, 1000 samples per class, 100 steps of 1 ms with spikes in the first half
(``step_frac = 0.5``), one spike per unit; 80/10/10 train/valid/test split.

Differences from the reference: randomness comes from one ``numpy.random.SeedSequence`` (no
global seeding), and a class's manifold does not depend on the number of samples drawn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from .._validation import check_int, check_positive, check_range

__all__ = [
    "RandmanData",
    "RandmanParams",
    "RandomManifold",
    "class_manifolds",
    "make_randman",
    "make_random_manifold",
    "spike_times_to_dense",
    "split_randman",
]

_STANDARDIZE_EPS = 1e-7  # as in the reference standardization
_CHUNK_ELEMENTS = 2_000_000  # samples x units x dims x freqs evaluated at once (~16 MB)


@dataclass(frozen=True)
class RandmanParams:
    """Configuration of a Randman spike-timing data set (defaults: the paper's 10-class task)."""

    num_classes: int = 10  # one random manifold per class
    num_units: int = 20  # embedding dimension = number of input neurons
    dim_manifold: int = 1  # intrinsic manifold dimension D
    alpha: float = 1.0  # spectral fall-off exponent: smoothness of the manifolds
    num_samples_per_class: int = 1000  # points drawn from each manifold
    num_steps: int = 100  # length of a trial (time steps)
    step_frac: float = 0.5  # spikes fall in the first step_frac * num_steps steps
    dt_ms: float = 1.0  # clock step (ms)
    prec: float = 1e-3  # frequency cutoff: F = min(ceil(prec ** (-1/alpha)), max_f_cutoff)
    max_f_cutoff: int = 1000  # upper limit on the number of Fourier components F

    def __post_init__(self) -> None:
        check_int("num_classes", self.num_classes, low=1)
        check_int("num_units", self.num_units, low=1)
        check_int("dim_manifold", self.dim_manifold, low=1)
        check_positive("alpha", self.alpha)
        check_int("num_samples_per_class", self.num_samples_per_class, low=1)
        check_int("num_steps", self.num_steps, low=1)
        check_range("step_frac", self.step_frac, 0.0, 1.0)
        if self.step_frac <= 0.0:
            raise ValueError(f"step_frac must be in (0, 1], got {self.step_frac!r}")
        check_positive("dt_ms", self.dt_ms)
        check_range("prec", self.prec, 0.0, 1.0)
        if not 0.0 < self.prec < 1.0:
            raise ValueError(f"prec must be in (0, 1), got {self.prec!r}")
        check_int("max_f_cutoff", self.max_f_cutoff, low=1)

    @property
    def num_freqs(self) -> int:
        """Number of Fourier components F per 1-d function."""
        return _num_freqs(self.alpha, self.prec, self.max_f_cutoff)

    @property
    def spike_window_ms(self) -> float:
        """Spikes fall in ``[0, spike_window_ms]``: ``step_frac * num_steps * dt_ms`` (ms)."""
        return self.step_frac * self.num_steps * self.dt_ms


def _num_freqs(alpha: float, prec: float, max_f_cutoff: int) -> int:
    return int(min(math.ceil(prec ** (-1.0 / alpha)), max_f_cutoff))


@dataclass(frozen=True, eq=False)
class RandomManifold:
    """One smooth random manifold :math:`[0,1]^D \\to \\mathbb{R}^M` (see module docstring).

    Arrays have shape ``(num_units, dim_manifold, num_freqs)``; ``spectrum`` ``(num_freqs,)``.
    """

    amplitude: np.ndarray  # a, U[0,1], a[..., 0] = 0
    frequency: np.ndarray  # f, U[0,1]; component i oscillates at i * f cycles per unit length
    phase: np.ndarray  # phi, U[0,1] (in cycles)
    spectrum: np.ndarray  # s_i = 1 / ((i + 1)**alpha + 1)

    @property
    def num_units(self) -> int:
        return self.amplitude.shape[0]

    @property
    def dim_manifold(self) -> int:
        return self.amplitude.shape[1]

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        """Embed intrinsic coordinates.

        Parameters
        ----------
        x : array, shape ``(n, dim_manifold)``
            Coordinates (nominally in [0, 1]).

        Returns
        -------
        array, shape ``(n, num_units)``, float64
        """
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.dim_manifold:
            raise ValueError(f"x must have shape (n, {self.dim_manifold}), got {x.shape}")
        u_, d_, f_ = self.amplitude.shape
        i = np.arange(f_, dtype=np.float64)
        # torch's vectorised float64 sin is ~2x faster than numpy's here; same arithmetic.
        w = torch.as_tensor(2.0 * np.pi * i * self.frequency)  # (U, D, F) rad per unit length
        ph = torch.as_tensor(2.0 * np.pi * self.phase)
        coef = torch.as_tensor(self.amplitude * self.spectrum)  # (U, D, F)
        xt = torch.as_tensor(x)
        out = torch.empty((x.shape[0], u_), dtype=torch.float64)
        step = max(1, _CHUNK_ELEMENTS // (u_ * d_ * f_))
        for lo in range(0, x.shape[0], step):
            arg = xt[lo : lo + step, None, :, None] * w + ph  # (n, U, D, F)
            g = (torch.sin(arg) * coef).sum(dim=-1)  # (n, U, D)
            out[lo : lo + step] = g.prod(dim=-1)
        return out.numpy()

    def lipschitz_bound(self) -> np.ndarray:
        """Per-unit, per-coordinate bounds ``L[u, d] >= sup |dy_u / dx_d|``.

        From the series: :math:`|g'_{u,d}| \\le 2\\pi\\sum_i |a| s_i\\, i f` and
        :math:`|g_{u,e}| \\le \\sum_i |a| s_i`, so
        :math:`|\\partial_d y_u| \\le 2\\pi\\sum_i |a_{u,d,i}| s_i i f_{u,d,i}
        \\prod_{e \\ne d}\\sum_i |a_{u,e,i}| s_i`.

        Returns
        -------
        array, shape ``(num_units, dim_manifold)``
        """
        i = np.arange(self.spectrum.shape[0], dtype=np.float64)
        coef = np.abs(self.amplitude) * self.spectrum
        deriv = 2.0 * np.pi * np.sum(coef * i * self.frequency, axis=2)  # (U, D)
        sup = np.sum(coef, axis=2)  # (U, D)
        out = np.empty_like(deriv)
        for d in range(self.dim_manifold):
            others = np.prod(np.delete(sup, d, axis=1), axis=1)
            out[:, d] = deriv[:, d] * others
        return out


def make_random_manifold(
    num_units: int,
    dim_manifold: int,
    *,
    alpha: float,
    rng: np.random.Generator,
    prec: float = 1e-3,
    max_f_cutoff: int = 1000,
) -> RandomManifold:
    """Draw one random manifold (amplitudes, frequencies, phases i.i.d. U[0, 1]).

    Parameters
    ----------
    num_units, dim_manifold : int
        Embedding dimension M and intrinsic dimension D.
    alpha : float
        Power-law fall-off of the spectrum (smoothness).
    rng : numpy.random.Generator
        The only source of randomness.
    prec, max_f_cutoff
        Determine the number of components, ``min(ceil(prec ** (-1/alpha)), max_f_cutoff)``.
    """
    check_int("num_units", num_units, low=1)
    check_int("dim_manifold", dim_manifold, low=1)
    check_positive("alpha", alpha)
    f = _num_freqs(alpha, prec, max_f_cutoff)
    params = rng.random((3, num_units, dim_manifold, f))
    amplitude, frequency, phase = params[0], params[1], params[2]
    amplitude[..., 0] = 0.0  # no constant offset (reference: use_bias=False)
    spectrum = 1.0 / ((np.arange(f, dtype=np.float64) + 1.0) ** alpha + 1.0)
    return RandomManifold(amplitude, frequency, phase, spectrum)


class RandmanData(NamedTuple):
    """A Randman spike-timing data set (one spike per unit and sample)."""

    times_ms: Tensor  # (n, num_units) float32: spike time of each unit, in [0, spike_window_ms]
    labels: Tensor  # (n,) int64 class = manifold index
    coords: Tensor  # (n, dim_manifold) float64 intrinsic coordinates of each sample

    def dense(self, num_steps: int, dt_ms: float) -> Tensor:
        """Spike raster ``(num_steps, n, num_units)`` bool (see :func:`spike_times_to_dense`)."""
        return spike_times_to_dense(self.times_ms, num_steps=num_steps, dt_ms=dt_ms)


def make_randman(params: RandmanParams | None = None, *, seed: int = 0) -> RandmanData:
    """Generate a shuffled Randman classification data set.

    Parameters
    ----------
    params : RandmanParams, optional
        Task configuration; defaults to the paper's 10-class, 20-unit, D = 1, alpha = 1 task.
    seed : int
        Fixes the manifolds, the sample coordinates and the shuffle.

    Returns
    -------
    RandmanData
        ``num_classes * num_samples_per_class`` samples in random order; use
        :meth:`RandmanData.dense` (or :func:`spike_times_to_dense`) for a
        ``(time, batch, units)`` raster and :func:`split_randman` for train/valid/test.
    """
    p = params if params is not None else RandmanParams()
    check_int("seed", seed, low=0)
    children = np.random.SeedSequence(seed).spawn(p.num_classes + 1)
    times, labels, coords = [], [], []
    for c in range(p.num_classes):
        rng = np.random.default_rng(children[c])
        man = make_random_manifold(
            p.num_units,
            p.dim_manifold,
            alpha=p.alpha,
            rng=rng,
            prec=p.prec,
            max_f_cutoff=p.max_f_cutoff,
        )
        x = rng.random((p.num_samples_per_class, p.dim_manifold))
        y = man.evaluate(x)
        lo, hi = y.min(axis=0), y.max(axis=0)
        times.append((y - lo) / (hi - lo + _STANDARDIZE_EPS) * p.spike_window_ms)
        labels.append(np.full(p.num_samples_per_class, c, dtype=np.int64))
        coords.append(x)
    perm = np.random.default_rng(children[-1]).permutation(p.num_classes * p.num_samples_per_class)
    t = np.concatenate(times)[perm]
    return RandmanData(
        torch.as_tensor(t, dtype=torch.float32),
        torch.as_tensor(np.concatenate(labels)[perm]),
        torch.as_tensor(np.concatenate(coords)[perm]),
    )


def class_manifolds(params: RandmanParams, *, seed: int = 0) -> list[RandomManifold]:
    """The manifolds :func:`make_randman` uses for ``(params, seed)``, one per class."""
    children = np.random.SeedSequence(seed).spawn(params.num_classes + 1)
    return [
        make_random_manifold(
            params.num_units,
            params.dim_manifold,
            alpha=params.alpha,
            rng=np.random.default_rng(children[c]),
            prec=params.prec,
            max_f_cutoff=params.max_f_cutoff,
        )
        for c in range(params.num_classes)
    ]


def spike_times_to_dense(times_ms: Tensor, *, num_steps: int, dt_ms: float) -> Tensor:
    """Bin spike times into a time-major boolean raster.

    Parameters
    ----------
    times_ms : Tensor, shape ``(batch, units)``
        One spike time per unit (ms); ``nan``/``inf``/negative or ``>= num_steps * dt_ms``
        means no spike in the window.
    num_steps : int
        Number of bins.
    dt_ms : float
        Bin width (ms); a spike at ``t`` lands in bin ``floor(t / dt_ms)``.

    Returns
    -------
    Tensor, shape ``(num_steps, batch, units)``, dtype bool
    """
    check_int("num_steps", num_steps, low=1)
    check_positive("dt_ms", dt_ms)
    t = times_ms.to(torch.float64)
    valid = torch.isfinite(t) & (t >= 0)
    k = torch.floor(torch.where(valid, t, torch.zeros_like(t)) / dt_ms).long()
    valid &= k < num_steps
    k = torch.where(valid, k, torch.full_like(k, -1))
    steps = torch.arange(num_steps, device=times_ms.device).view(-1, 1, 1)
    return steps == k.unsqueeze(0)


def split_randman(
    data: RandmanData, fractions: tuple[float, ...] = (0.8, 0.1, 0.1)
) -> tuple[RandmanData, ...]:
    """Cut an (already shuffled) data set into consecutive parts, e.g. train/valid/test.

    Parameters
    ----------
    data : RandmanData
    fractions : tuple of float
        Positive fractions summing to at most 1 (the paper uses 0.8/0.1/0.1).
    """
    if not fractions or any(f <= 0 for f in fractions) or sum(fractions) > 1.0 + 1e-9:
        raise ValueError(f"fractions must be positive and sum to <= 1, got {fractions!r}")
    n = data.labels.shape[0]
    parts, start = [], 0
    for f in fractions:
        end = start + int(f * n)
        parts.append(RandmanData(*(a[start:end] for a in data)))
        start = end
    return tuple(parts)
