r"""Projections: weighted, delayed synapses from one population to a synaptic channel of another.

Storage is ``sparse`` (CSR: rows = presynaptic neurons) or ``dense`` (an ``(n_pre, n_post)``
matrix whose zeros are absent synapses). Either way propagation is **event-driven**: only the
rows of presynaptic neurons that spiked are read,

.. math:: I_{j,c} \mathrel{+}= \sum_{i\,\in\,\text{spiked}} w_{ij},

and the number of synaptic events (SynOps) is the sum of the fan-outs of those rows.
:func:`propagate_events` implements this; :func:`propagate_dense` is the dense matrix product
it is tested against.
"""

from __future__ import annotations

from dataclasses import InitVar, dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

__all__ = ["Projection", "propagate_dense", "propagate_events"]


@dataclass
class Projection:
    """A built projection. Weights carry their sign (inhibitory weights are negative).

    ``weights`` is always a writable float64 tensor ``(nnz,)`` in CSR order. A projection
    made with one weight for every synapse (a float given as ``weights``) stores no
    per-synapse array until ``weights`` is first read: the simulator then propagates that one
    value (see :class:`~neuroplastic.network.simulation.Simulation`), bit for bit the same."""

    name: str
    pre: str
    post: str
    n_pre: int
    n_post: int
    channel: int
    storage: Literal["sparse", "dense"]
    indptr: Tensor  # (n_pre + 1,) int64
    indices: Tensor  # (nnz,) int32 (Network.connect), post neuron of each synapse, sorted in rows
    weights: InitVar[Tensor | float]  # (nnz,) float64, in CSR order (a property, see below)
    delays: Tensor  # (nnz,) int64, in steps (one shared delay: a stride-0 view, read-only)

    def __post_init__(self, weights: Tensor | float) -> None:
        self._weights = weights  # a tensor, or a float: the weight of every synapse, not stored
        self._owner: Any = None  # the simulation whose weight store holds them, once built

    @property
    def nnz(self) -> int:
        return int(self.indices.numel())

    @property
    def shared_weight(self) -> float | None:
        """The one weight of every synapse while no per-synapse array is stored, else None."""
        return None if isinstance(self._weights, Tensor) else float(self._weights)

    def _get_weights(self) -> Tensor:
        if self._owner is not None:  # built: every weight of the store becomes per synapse
            self._owner.materialize_weights()
        if not isinstance(self._weights, Tensor):
            self._weights = torch.full((self.nnz,), float(self._weights), dtype=torch.float64)
        return self._weights

    def _set_weights(self, w: Tensor) -> None:
        self._weights = w

    @property
    def fan_out(self) -> Tensor:
        """Number of synapses of each presynaptic neuron, ``(n_pre,)``."""
        return self.indptr[1:] - self.indptr[:-1]

    def to_dense(self) -> Tensor:
        """``(n_pre, n_post)`` weight matrix (zeros where there is no synapse)."""
        w = torch.zeros(self.n_pre, self.n_post, dtype=torch.float64)
        rows = torch.repeat_interleave(torch.arange(self.n_pre), self.fan_out)
        w[rows, self.indices] = self.weights
        return w

    def rows_of(self, pre_idx: Tensor) -> tuple[Tensor, Tensor]:
        """Synapse positions (in CSR order) of the given presynaptic neurons, and their rows."""
        start, stop = self.indptr[pre_idx], self.indptr[pre_idx + 1]
        counts = stop - start
        total = int(counts.sum())
        if total == 0:
            z = torch.zeros(0, dtype=torch.int64)
            return z, z
        offsets = torch.repeat_interleave(start - torch.cumsum(counts, 0) + counts, counts)
        pos = torch.arange(total, dtype=torch.int64) + offsets
        return pos, torch.repeat_interleave(pre_idx, counts)


# the weights as a property (a dataclass InitVar cannot carry it in the class body)
Projection.weights = property(  # type: ignore[assignment]
    Projection._get_weights, Projection._set_weights,
    doc="The weights ``(nnz,)`` float64 in CSR order (a view of the simulator's store once "
        "the network is built).",
)


def propagate_events(proj: Projection, spikes: Tensor) -> tuple[Tensor, int]:
    """Event-driven delivery: ``(B, n_pre)`` bool spikes → ``(B, n_post)`` summed weights.

    Only rows of neurons that spiked are touched; returns the input and the SynOp count.
    """
    out = torch.zeros(spikes.shape[0], proj.n_post, dtype=torch.float64)
    synops = 0
    for b in range(spikes.shape[0]):
        idx = torch.nonzero(spikes[b]).flatten()
        if idx.numel() == 0:
            continue
        pos, _ = proj.rows_of(idx)
        out[b].index_add_(0, proj.indices[pos], proj.weights[pos])
        synops += int(pos.numel())
    return out, synops


def propagate_dense(proj: Projection, spikes: Tensor) -> Tensor:
    """Reference: the full matrix product ``spikes @ W`` (every synapse read every step)."""
    return spikes.to(torch.float64) @ proj.to_dense()


def as_numpy_i64(x: Tensor | np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(x, dtype=np.int64))
