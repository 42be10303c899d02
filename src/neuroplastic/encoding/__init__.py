"""Spike encoders: static values -> rate or latency codes, time series -> delta events.

Every encoder takes plain tensors and returns time-major boolean spikes ``(time, batch, ...)``;
parameters are frozen, validated dataclasses; randomness arrives only as ``generator=``.
"""

from .delta import DeltaEncoder, DeltaParams, delta_decode, delta_encode
from .latency import LatencyEncoder, LatencyParams, latency_decode, latency_encode, latency_times
from .rate import PoissonEncoder, PoissonParams, poisson_encode, rate_decode

__all__ = [
    "DeltaEncoder",
    "DeltaParams",
    "LatencyEncoder",
    "LatencyParams",
    "PoissonEncoder",
    "PoissonParams",
    "delta_decode",
    "delta_encode",
    "latency_decode",
    "latency_encode",
    "latency_times",
    "poisson_encode",
    "rate_decode",
]
