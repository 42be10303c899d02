"""Synapses: connectivity rules, projections (dense or CSR), event-driven propagation."""

from .connectivity import (
    AllToAll,
    Connectivity,
    FixedInDegree,
    FixedProbability,
    FromMatrix,
    OneToOne,
    build_connectivity,
)
from .projection import Projection, propagate_dense, propagate_events

__all__ = [
    "AllToAll",
    "Connectivity",
    "FixedInDegree",
    "FixedProbability",
    "FromMatrix",
    "OneToOne",
    "Projection",
    "build_connectivity",
    "propagate_dense",
    "propagate_events",
]
