"""Monitors: what a run records, with memory bounded by what is asked for.

* :class:`SpikeMonitor` — spikes of one population as ``(step, batch, neuron)`` events
  (address-event form), never a dense raster;
* :class:`StateMonitor` — membrane ``v``, adaptive threshold ``theta`` and synaptic currents
  ``i_syn`` of chosen neurons every ``stride`` steps;
* :class:`RateMonitor` — the population's spike count per step, as a rate in Hz.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

__all__ = ["RateMonitor", "SpikeMonitor", "StateMonitor"]


@dataclass
class SpikeMonitor:
    population: str
    start: int  # global index of the population's first neuron
    n: int
    dt_ms: float
    _steps: list = field(default_factory=list, repr=False)
    _batch: list = field(default_factory=list, repr=False)
    _neurons: list = field(default_factory=list, repr=False)

    def _append(self, steps: np.ndarray, batch: np.ndarray, neurons: np.ndarray) -> None:
        # trials and neurons held as int32 (populations and batches stay below 2**31): 16
        # instead of 24 bytes per recorded spike; read back as int64
        sel = (neurons >= self.start) & (neurons < self.start + self.n)
        if sel.any():
            self._steps.append(steps[sel].astype(np.int64))
            self._batch.append(batch[sel].astype(np.int32))
            self._neurons.append((neurons[sel] - self.start).astype(np.int32))

    def _cat(self, parts: list) -> Tensor:
        if not parts:
            return torch.zeros(0, dtype=torch.int64)
        return torch.from_numpy(np.concatenate(parts).astype(np.int64, copy=False))

    @property
    def steps(self) -> Tensor:
        """Time step of each spike, ``(n_spikes,)`` int64."""
        return self._cat(self._steps)

    @property
    def batch(self) -> Tensor:
        return self._cat(self._batch)

    @property
    def neurons(self) -> Tensor:
        """Index of the spiking neuron within the population."""
        return self._cat(self._neurons)

    @property
    def times_ms(self) -> Tensor:
        return self.steps.to(torch.float64) * self.dt_ms

    @property
    def count(self) -> int:
        return int(sum(len(s) for s in self._steps))

    def clear(self) -> None:
        self._steps.clear()
        self._batch.clear()
        self._neurons.clear()

    def spike_trains(self, batch: int = 0) -> list[Tensor]:
        """Spike times (ms) of each neuron of one trial."""
        sel = self.batch == batch
        t, n = self.times_ms[sel], self.neurons[sel]
        return [t[n == i] for i in range(self.n)]


@dataclass
class StateMonitor:
    population: str
    neurons: Tensor  # local indices recorded
    stride: int
    dt_ms: float
    column: int = 0  # first column of this monitor in the network's sample arrays
    _steps: list = field(default_factory=list, repr=False)
    _v: list = field(default_factory=list, repr=False)
    _theta: list = field(default_factory=list, repr=False)
    _isyn: list = field(default_factory=list, repr=False)

    def _append(self, steps: np.ndarray, v: np.ndarray, theta: np.ndarray, isyn: np.ndarray):
        cols = slice(self.column, self.column + len(self.neurons))
        self._steps.append(steps)
        self._v.append(v[:, :, cols].copy())
        self._theta.append(theta[:, :, cols].copy())
        self._isyn.append(isyn[:, :, cols].copy())

    def _cat(self, parts, shape_tail) -> Tensor:
        if not parts:
            return torch.zeros((0, *shape_tail), dtype=torch.float64)
        return torch.from_numpy(np.concatenate(parts))

    @property
    def times_ms(self) -> Tensor:
        return self._cat(self._steps, ()).to(torch.float64) * self.dt_ms

    @property
    def v(self) -> Tensor:
        """Membrane potential (mV), ``(samples, batch, recorded)``."""
        return self._cat(self._v, (0, len(self.neurons)))

    @property
    def theta(self) -> Tensor:
        return self._cat(self._theta, (0, len(self.neurons)))

    @property
    def i_syn(self) -> Tensor:
        """Synaptic currents (nA), ``(samples, batch, recorded, channels)``."""
        return self._cat(self._isyn, (0, len(self.neurons), 0))

    def clear(self) -> None:
        for x in (self._steps, self._v, self._theta, self._isyn):
            x.clear()


@dataclass
class RateMonitor:
    population: str
    index: int  # population index
    n: int
    dt_ms: float
    _counts: list = field(default_factory=list, repr=False)

    def _append(self, counts: np.ndarray) -> None:
        self._counts.append(counts[:, :, self.index].copy())

    @property
    def counts(self) -> Tensor:
        """Spikes of the population per step, ``(steps, batch)``."""
        if not self._counts:
            return torch.zeros((0, 0), dtype=torch.int64)
        return torch.from_numpy(np.concatenate(self._counts))

    @property
    def rate_hz(self) -> Tensor:
        return self.counts.to(torch.float64) / (self.n * self.dt_ms * 1e-3)

    def clear(self) -> None:
        self._counts.clear()
