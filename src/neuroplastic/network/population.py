"""A named block of the network's global neuron index space."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..neurons.lif import LIFParams, Substrate

__all__ = ["Population"]


@dataclass(frozen=True)
class Population:
    """A named block of the global neuron index space."""

    name: str
    kind: Literal["lif", "poisson", "spike_times"]
    n: int
    start: int  # global index of neuron 0 (assigned at build; LIF first, then sources)
    params: LIFParams | None = None
    substrate: Substrate | None = None
