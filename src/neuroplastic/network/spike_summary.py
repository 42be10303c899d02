"""Spike statistics of a long or large run without keeping every spike.

A :class:`~neuroplastic.network.monitors.SpikeMonitor` keeps each spike (16 bytes): a CUBA network
of 4 M neurons records ~22 M spikes per simulated second. :class:`SpikeSummary` instead folds
the spikes recorded so far into per-neuron figures - spike count, and the count, mean and sum
of squared deviations of the inter-spike intervals (merged piece by piece with the pairwise
update of Chan, Golub & LeVeque, 1979) - plus each trial's spike total and the spikes of the
first few neurons of trial 0 (a raster). Memory is O(neurons), whatever the run's length, and
the monitors can be cleared after each fold. Intervals are counted in steps; a neuron's first
spike in a piece closes the interval opened by its last spike of the previous pieces.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

__all__ = ["SpikeSummary"]

_FIELDS = ("counts", "isi_n", "isi_mean", "isi_m2", "last", "trial_totals")


@dataclass
class SpikeSummary:
    """Running statistics of the spikes of ``n`` neurons in ``trials`` trials (see the
    module). ``raster``: trial 0's spikes of neurons ``0 .. raster - 1`` are kept whole."""

    n: int
    trials: int = 1
    raster: int = 500
    counts: np.ndarray = field(init=False, repr=False)  # trial 0's spikes per neuron
    isi_n: np.ndarray = field(init=False, repr=False)  # intervals per neuron (trial 0)
    isi_mean: np.ndarray = field(init=False, repr=False)  # their mean, in steps
    isi_m2: np.ndarray = field(init=False, repr=False)  # their sum of squared deviations
    last: np.ndarray = field(init=False, repr=False)  # step of the last spike, -1: none yet
    trial_totals: np.ndarray = field(init=False, repr=False)  # spikes per trial, all neurons
    _raster: list = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for name, value, low in (("n", self.n, 1), ("trials", self.trials, 1),
                                 ("raster", self.raster, 0)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        self.counts = np.zeros(self.n, dtype=np.int64)
        self.isi_n = np.zeros(self.n, dtype=np.int64)
        self.isi_mean = np.zeros(self.n, dtype=np.float64)
        self.isi_m2 = np.zeros(self.n, dtype=np.float64)
        self.last = np.full(self.n, -1, dtype=np.int64)
        self.trial_totals = np.zeros(self.trials, dtype=np.int64)
        self._raster = []

    def fold(self, steps: np.ndarray, batch: np.ndarray, neurons: np.ndarray) -> None:
        """Add the spikes ``(step, trial, neuron)`` recorded since the last fold. Each
        neuron's spikes must come in time order and after those already folded (as monitors
        record them; the populations' monitors may follow one another)."""
        steps, batch, neurons = (np.asarray(a).astype(np.int64, copy=False)
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
        self.trial_totals += np.bincount(batch, minlength=self.trials)
        first = batch == 0
        s, nid = steps[first], neurons[first]
        show = nid < self.raster
        if show.any():
            self._raster.append((s[show], nid[show]))
        if s.size == 0:
            return
        order = np.argsort(nid, kind="stable")  # by neuron, each neuron's spikes in time order
        s, nid = s[order], nid[order]
        prev = np.empty_like(s)
        prev[1:] = s[:-1]
        opens = np.ones(s.size, dtype=bool)  # a neuron's first spike in this piece
        opens[1:] = nid[1:] != nid[:-1]
        prev[opens] = self.last[nid[opens]]
        if bool((s < prev).any()):
            raise ValueError("spikes must be folded in time order per neuron")
        ok = prev >= 0
        isi, who = (s - prev)[ok].astype(np.float64), nid[ok]
        nb = np.bincount(who, minlength=self.n)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_b = np.bincount(who, weights=isi, minlength=self.n) / nb
        m2_b = np.bincount(who, weights=(isi - mean_b[who]) ** 2, minlength=self.n)
        has = nb > 0
        na, nb_, mb = self.isi_n[has], nb[has], mean_b[has]
        tot = na + nb_
        delta = mb - self.isi_mean[has]
        self.isi_mean[has] += delta * nb_ / tot
        self.isi_m2[has] += m2_b[has] + delta * delta * na * nb_ / tot
        self.isi_n[has] = tot
        self.counts += np.bincount(nid, minlength=self.n)
        closes = np.ones(s.size, dtype=bool)  # a neuron's last spike in this piece
        closes[:-1] = nid[1:] != nid[:-1]
        self.last[nid[closes]] = s[closes]

    def fold_monitors(self, monitors: list, offsets: list[int]) -> None:
        """Fold and clear spike monitors; ``offsets[i]``: the index of monitor ``i``'s first
        neuron among the ``n``."""
        for mon, off in zip(monitors, offsets):
            self.fold(mon.steps.numpy(), mon.batch.numpy(), mon.neurons.numpy() + off)
            mon.clear()

    def isi_cv(self) -> np.ndarray:
        """Coefficient of variation (standard deviation over mean, ``ddof = 0``) of the
        intervals of each neuron of trial 0 with at least 3 spikes, in neuron order."""
        keep = self.isi_n >= 2
        return np.sqrt(self.isi_m2[keep] / self.isi_n[keep]) / self.isi_mean[keep]

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
        out = {prefix + k: torch.from_numpy(getattr(self, k).copy()) for k in _FIELDS}
        steps, neurons = self.raster_spikes()
        out[prefix + "raster_steps"] = torch.from_numpy(steps.copy())
        out[prefix + "raster_neurons"] = torch.from_numpy(neurons.copy())
        return out

    def load(self, tensors: dict[str, Tensor], prefix: str = "summary/") -> None:
        """Replace the summary by the one :meth:`tensors` wrote (shapes checked first)."""
        for k in (*_FIELDS, "raster_steps", "raster_neurons"):
            if prefix + k not in tensors:
                raise ValueError(f"the checkpoint lacks the spike summary's {prefix + k!r}")
        for k in _FIELDS:
            want = getattr(self, k)
            got = tensors[prefix + k]
            if tuple(got.shape) != want.shape:
                raise ValueError(f"{prefix + k} has shape {tuple(got.shape)}, expected "
                                 f"{want.shape}")
        for k in _FIELDS:
            getattr(self, k)[:] = tensors[prefix + k].numpy()
        steps = tensors[prefix + "raster_steps"].numpy().copy()
        self._raster = [(steps, tensors[prefix + "raster_neurons"].numpy().copy())] if (
            steps.size) else []
