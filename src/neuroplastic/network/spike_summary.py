"""Spike statistics of a long or large run without keeping every spike.

A :class:`~neuroplastic.network.monitors.SpikeMonitor` keeps each spike (16 bytes): a CUBA network
of 4 M neurons records ~22 M spikes per simulated second. :class:`SpikeSummary` instead folds
the spikes recorded so far into per-neuron figures - spike count, and the count, mean and sum
of squared deviations of the inter-spike intervals (Welford's update, spike after spike:
:mod:`neuroplastic.kernels.spike_summary_numba`, so the figures are the same bits however the
spikes are cut into folds) - plus each trial's spike total and the spikes of the first few
neurons of trial 0 (a raster). Memory is O(neurons), whatever the run's length, and the
monitors can be cleared after each fold. Intervals are counted in steps; a neuron's first
spike in a fold closes the interval opened by its last spike of the previous folds.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

__all__ = ["SpikeSummary"]

_COLUMNS = ("counts", "isi_n", "isi_mean", "isi_m2", "last")  # as the kernel's COUNT .. LAST
_COUNT, _N, _MEAN, _M2, _LAST = range(len(_COLUMNS))


@functools.cache
def _fold_kernel():
    """The compiled fold: built ahead of time (``neuroplastic compile``), else numba's JIT."""
    from ..kernels import aot

    built = aot.load("summary")
    if built is not None:
        return built.fold_spikes
    from ..kernels.spike_summary_numba import fold_spikes

    return fold_spikes


@dataclass
class SpikeSummary:
    """Running statistics of the spikes of ``n`` neurons in ``trials`` trials (see the
    module). ``raster``: trial 0's spikes of neurons ``0 .. raster - 1`` are kept whole."""

    n: int
    trials: int = 1
    raster: int = 500
    trial_totals: np.ndarray = field(init=False, repr=False)  # spikes per trial, all neurons
    _stats: np.ndarray = field(init=False, repr=False)  # (n, 5): see _COLUMNS
    _raster: list = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for name, value, low in (("n", self.n, 1), ("trials", self.trials, 1),
                                 ("raster", self.raster, 0)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        # one row per neuron (a fold reads and writes each spiking neuron's row once; counts
        # and steps are integers, exact in float64 below 2**53)
        self._stats = np.zeros((self.n, len(_COLUMNS)), dtype=np.float64)
        self._stats[:, _LAST] = -1.0
        self.trial_totals = np.zeros(self.trials, dtype=np.int64)
        self._raster = []

    @property
    def counts(self) -> np.ndarray:
        """Trial 0's spikes per neuron."""
        return self._stats[:, _COUNT].astype(np.int64)

    @property
    def isi_n(self) -> np.ndarray:
        """Trial 0's intervals per neuron."""
        return self._stats[:, _N].astype(np.int64)

    @property
    def isi_mean(self) -> np.ndarray:
        """Their mean, in steps (0 without any)."""
        return self._stats[:, _MEAN].copy()

    @property
    def isi_m2(self) -> np.ndarray:
        """Their sum of squared deviations from the mean, in steps squared."""
        return self._stats[:, _M2].copy()

    @property
    def last(self) -> np.ndarray:
        """Step of each neuron's last spike (trial 0), -1 before its first."""
        return self._stats[:, _LAST].astype(np.int64)

    def fold(self, steps: np.ndarray, batch: np.ndarray, neurons: np.ndarray) -> None:
        """Add the spikes ``(step, trial, neuron)`` recorded since the last fold. Each
        neuron's spikes must come in time order and after those already folded (as monitors
        record them; the populations' monitors may follow one another)."""
        steps, batch, neurons = (np.ascontiguousarray(a, dtype=np.int64)
                                 for a in (steps, batch, neurons))
        if not (steps.shape == batch.shape == neurons.shape and steps.ndim == 1):
            raise ValueError(f"steps, batch and neurons must be 1-D arrays of one length, got "
                             f"shapes {steps.shape}, {batch.shape}, {neurons.shape}")
        if steps.size == 0:
            return
        if batch.min() < 0 or batch.max() >= self.trials:
            raise ValueError(f"trial indices must lie in [0, {self.trials}), got "
                             f"{batch.min()}..{batch.max()}")
        if neurons.min() < 0 or neurons.max() >= self.n:
            raise ValueError(f"neuron indices must lie in [0, {self.n}), got "
                             f"{neurons.min()}..{neurons.max()}")
        show = (batch == 0) & (neurons < self.raster)
        if show.any():
            self._raster.append((steps[show], neurons[show]))
        bad = _fold_kernel()(steps, batch, neurons, self._stats, self.trial_totals)
        if bad >= 0:
            raise ValueError(f"spikes must be folded in time order per neuron: spike {bad} "
                             f"(neuron {neurons[bad]}, step {steps[bad]}) comes after that "
                             "neuron's spike at step "
                             f"{int(self._stats[neurons[bad], _LAST])}; the spikes before it "
                             "are folded")

    def fold_monitors(self, monitors: list, offsets: list[int]) -> None:
        """Fold and clear spike monitors; ``offsets[i]``: the index of monitor ``i``'s first
        neuron among the ``n``."""
        for mon, off in zip(monitors, offsets):
            self.fold(mon.steps.numpy(), mon.batch.numpy(), mon.neurons.numpy() + off)
            mon.clear()

    def isi_cv(self) -> np.ndarray:
        """Coefficient of variation (standard deviation over mean, ``ddof = 0``) of the
        intervals of each neuron of trial 0 with at least 3 spikes, in neuron order."""
        st = self._stats[self._stats[:, _N] >= 2]
        return np.sqrt(st[:, _M2] / st[:, _N]) / st[:, _MEAN]

    def raster_spikes(self) -> tuple[np.ndarray, np.ndarray]:
        """Steps and neurons of trial 0's spikes of the first ``raster`` neurons, by step and
        within a step by neuron (whatever pieces they were folded in)."""
        if not self._raster:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        steps = np.concatenate([a for a, _ in self._raster])
        neurons = np.concatenate([b for _, b in self._raster])
        order = np.lexsort((neurons, steps))
        steps, neurons = steps[order], neurons[order]
        self._raster = [(steps, neurons)]  # kept in that order
        return steps, neurons

    def tensors(self, prefix: str = "summary/") -> dict[str, Tensor]:
        """The whole summary as tensors (for a checkpoint)."""
        out = {prefix + k: torch.from_numpy(np.ascontiguousarray(self._stats[:, c]))
               for c, k in enumerate(_COLUMNS)}
        out[prefix + "trial_totals"] = torch.from_numpy(self.trial_totals.copy())
        steps, neurons = self.raster_spikes()
        out[prefix + "raster_steps"] = torch.from_numpy(steps.copy())
        out[prefix + "raster_neurons"] = torch.from_numpy(neurons.copy())
        return out

    def load(self, tensors: dict[str, Tensor], prefix: str = "summary/") -> None:
        """Replace the summary by the one :meth:`tensors` wrote (shapes checked first)."""
        keys = (*_COLUMNS, "trial_totals", "raster_steps", "raster_neurons")
        for k in keys:
            if prefix + k not in tensors:
                raise ValueError(f"the checkpoint lacks the spike summary's {prefix + k!r}")
        for k, want in [*((c, (self.n,)) for c in _COLUMNS),
                        ("trial_totals", (self.trials,))]:
            got = tuple(tensors[prefix + k].shape)
            if got != want:
                raise ValueError(f"{prefix + k} has shape {got}, expected {want}")
        for c, k in enumerate(_COLUMNS):
            self._stats[:, c] = tensors[prefix + k].numpy()
        self.trial_totals[:] = tensors[prefix + "trial_totals"].numpy()
        steps = tensors[prefix + "raster_steps"].numpy().copy()
        self._raster = [(steps, tensors[prefix + "raster_neurons"].numpy().copy())] if (
            steps.size) else []
