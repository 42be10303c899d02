r"""Observation encoders: population codes that turn an observation into firing rates.

* :class:`PopulationCode` — each observation dimension drives its own population of
  Gaussian-tuned neurons with preferred values evenly spread over ``[low, high]``
  (rate :math:`\exp(-(x-c_i)^2/2\sigma^2)`, :math:`\sigma` = centre spacing × ``width``).
* :class:`PlaceCells` — a *conjunctive* code: ``n_tilings`` populations of place cells whose
  box-shaped place fields tile the whole observation box, each population offset by a fraction
  of a field (tile coding; Albus 1975's CMAC, the cerebellar granule-layer model). Exactly one
  cell per population fires, so the code is sparse (``n_tilings`` active of
  ``n_tilings * bins**d``) and interactions between dimensions are represented.
* :class:`MicrostimulusCode` — the temporal state code of Ludvig, Sutton & Kehoe (2008): every
  stimulus onset starts a memory trace :math:`y(t)=e^{-t/\tau}` that decays with time; ``m``
  microstimuli read it through Gaussian basis functions of the trace *height*,

  .. math:: f_i(t) = y(t)\,\exp\!\Big(-\frac{(y(t)-i/m)^2}{2\sigma^2}\Big),\quad i=1..m,

  so that successive microstimuli peak later, grow broader and weaker — a representation of
  *time since the event* that lets a TD learner bridge a delay. ``presence=True`` adds one
  feature per stimulus that is 1 from onset on (the "presence" representation).

All encoders are stateless except :class:`MicrostimulusCode` (its traces, reset per episode;
:meth:`~MicrostimulusCode.state_dict` for checkpoints) and return ``float64`` numpy vectors.
"""

from __future__ import annotations

import math

import numpy as np

from .._validation import check_finite, check_int, check_positive

__all__ = ["MicrostimulusCode", "PlaceCells", "PopulationCode"]


def _bounds(low, high, name: str = "low") -> tuple[np.ndarray, np.ndarray]:
    lo = np.asarray(low, dtype=np.float64).reshape(-1)
    hi = np.asarray(high, dtype=np.float64).reshape(-1)
    if lo.shape != hi.shape or lo.size == 0:
        raise ValueError(f"{name} and high must be non-empty and of the same shape")
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise ValueError(f"{name} and high must be finite (give explicit bounds for unbounded "
                         "observation dimensions)")
    if not np.all(lo < hi):
        raise ValueError(f"{name} must be below high in every dimension")
    return lo, hi


class PopulationCode:
    """Independent Gaussian-tuned populations, ``n_per_dim`` neurons per dimension."""

    def __init__(self, low, high, n_per_dim: int = 10, width: float = 1.0) -> None:
        self.low, self.high = _bounds(low, high)
        self.n_per_dim = check_int("n_per_dim", n_per_dim, 2, 10_000)
        self.width = check_positive("width", width)
        self.centres = np.linspace(self.low, self.high, self.n_per_dim).T  # (d, n)
        self.sigma = (self.high - self.low) / (self.n_per_dim - 1) * self.width
        self.size = self.low.size * self.n_per_dim

    def __call__(self, x) -> np.ndarray:
        x = np.clip(np.asarray(x, dtype=np.float64).reshape(-1), self.low, self.high)
        z = (x[:, None] - self.centres) / self.sigma[:, None]
        return np.exp(-0.5 * z * z).reshape(-1)


class PlaceCells:
    """``n_tilings`` offset grids of box place fields over ``[low, high]`` (tile coding)."""

    def __init__(self, low, high, bins: int = 6, n_tilings: int = 8) -> None:
        self.low, self.high = _bounds(low, high)
        self.bins = check_int("bins", bins, 1, 1000)
        self.n_tilings = check_int("n_tilings", n_tilings, 1, 1024)
        d = self.low.size
        self.cells_per_tiling = (self.bins + 1) ** d
        if self.cells_per_tiling * self.n_tilings > 20_000_000:
            raise ValueError(f"bins ** dims * n_tilings = {self.cells_per_tiling * n_tilings} "
                             "place cells is too many (> 2e7)")
        self.size = self.cells_per_tiling * self.n_tilings
        self.width = (self.high - self.low) / self.bins
        # asymmetric offsets (Miller & Glanz): displacement vector 1, 3, 5, ... per dimension
        disp = np.array([2 * k + 1 for k in range(d)], dtype=np.float64)
        self.offsets = (np.arange(self.n_tilings)[:, None] * disp[None, :] / self.n_tilings
                        % 1.0) * self.width  # (T, d)
        self.strides = (self.bins + 1) ** np.arange(d)

    def active(self, x) -> np.ndarray:
        """Indices of the ``n_tilings`` firing place cells."""
        x = np.clip(np.asarray(x, dtype=np.float64).reshape(-1), self.low, self.high)
        idx = np.floor((x[None, :] - self.low + self.offsets) / self.width).astype(np.int64)
        idx = np.clip(idx, 0, self.bins)
        return idx @ self.strides + np.arange(self.n_tilings) * self.cells_per_tiling

    def __call__(self, x) -> np.ndarray:
        out = np.zeros(self.size)
        out[self.active(x)] = 1.0
        return out


class MicrostimulusCode:
    """Microstimulus temporal state code (Ludvig, Sutton & Kehoe 2008) of stimulus onsets.

    Parameters
    ----------
    n_stimuli
        Observation channels; a channel going from 0 to > 0 is an onset and restarts its trace.
    n_micro
        Microstimuli per stimulus (``m``).
    tau_s
        Memory-trace time constant (s): the code spans a few ``tau_s`` after an onset.
    sigma
        Width of the basis functions in trace height (0.08 in the paper).
    dt_s
        Time step (s).
    presence
        Add a presence feature per stimulus (1 from onset to the end of the episode).
    bias
        Add a constant feature (1).
    """

    def __init__(self, n_stimuli: int, n_micro: int = 10, tau_s: float = 10.0,
                 sigma: float = 0.08, dt_s: float = 0.5, presence: bool = False,
                 bias: bool = True) -> None:
        self.n_stimuli = check_int("n_stimuli", n_stimuli, 1, 10_000)
        self.n_micro = check_int("n_micro", n_micro, 0, 10_000)
        self.tau_s = check_positive("tau_s", tau_s)
        self.sigma = check_positive("sigma", sigma)
        self.dt_s = check_positive("dt_s", dt_s)
        self.presence = bool(presence)
        self.bias = bool(bias)
        self.decay = math.exp(-self.dt_s / self.tau_s)
        self.centres = np.arange(1, self.n_micro + 1) / max(self.n_micro, 1)
        self.size = (self.n_stimuli * (self.n_micro + int(self.presence)) + int(self.bias))
        if self.size == 0:
            raise ValueError("n_micro = 0 needs presence=True or bias=True (no features)")
        self.reset()

    def reset(self) -> None:
        """Forget all stimuli (call at the start of every episode)."""
        self.trace = np.zeros(self.n_stimuli)
        self.seen = np.zeros(self.n_stimuli)
        self.prev = np.zeros(self.n_stimuli)

    def __call__(self, obs) -> np.ndarray:
        o = np.asarray(obs, dtype=np.float64).reshape(-1)
        if o.size != self.n_stimuli:
            raise ValueError(f"obs must have n_stimuli = {self.n_stimuli} channels, got {o.size}")
        check_finite("obs", float(o.sum()))
        onset = (o > 0) & ~(self.prev > 0)
        self.trace = np.where(onset, 1.0, self.trace * self.decay)
        self.seen = np.where(onset, 1.0, self.seen)
        self.prev = o.copy()
        parts = []
        if self.n_micro:
            y = self.trace[:, None]
            parts.append((y * np.exp(-((y - self.centres) ** 2) / (2 * self.sigma ** 2)))
                         .reshape(-1))
        if self.presence:
            parts.append(self.seen.copy())
        if self.bias:
            parts.append(np.ones(1))
        return np.concatenate(parts)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"trace": self.trace.copy(), "seen": self.seen.copy(), "prev": self.prev.copy()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        for k in ("trace", "seen", "prev"):
            v = np.asarray(state[k], dtype=np.float64)
            if v.shape != (self.n_stimuli,):
                raise ValueError(f"state {k!r} must have shape ({self.n_stimuli},)")
            setattr(self, k, v.copy())
