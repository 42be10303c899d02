"""Connectivity rules: who connects to whom (weights and delays are given separately).

Each rule is a frozen dataclass; :func:`build_connectivity` turns it into CSR indices
``(indptr, indices)`` with rows = presynaptic neurons and sorted column indices, drawing
randomness only from the ``numpy.random.Generator`` it is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validation import check_int, check_range

__all__ = [
    "AllToAll",
    "Connectivity",
    "FixedInDegree",
    "FixedProbability",
    "FromMatrix",
    "OneToOne",
    "build_connectivity",
]


@dataclass(frozen=True)
class AllToAll:
    """Every presynaptic neuron to every postsynaptic neuron."""

    allow_autapses: bool = True  # i -> i allowed when pre and post are the same population


@dataclass(frozen=True)
class OneToOne:
    """Neuron i to neuron i (sizes must match)."""


@dataclass(frozen=True)
class FixedProbability:
    """Each pair connected independently with probability ``p`` (Bernoulli)."""

    p: float
    allow_autapses: bool = True

    def __post_init__(self) -> None:
        check_range("p", self.p, 0.0, 1.0)


@dataclass(frozen=True)
class FixedInDegree:
    """Each postsynaptic neuron receives exactly ``k`` distinct presynaptic partners."""

    k: int
    allow_autapses: bool = True

    def __post_init__(self) -> None:
        check_int("k", self.k, 0)


@dataclass(frozen=True)
class FromMatrix:
    """Synapses where ``matrix[i, j] != 0`` (rows pre, columns post); values become weights."""

    matrix: Any = field(repr=False)  # (n_pre, n_post) array-like

    def __post_init__(self) -> None:
        m = np.asarray(
            self.matrix.detach().cpu() if hasattr(self.matrix, "detach") else self.matrix
        )
        if m.ndim != 2:
            raise ValueError(f"matrix must be 2-D (n_pre, n_post), got shape {m.shape}")
        if not np.all(np.isfinite(m)):
            raise ValueError("matrix must be finite (found NaN or inf)")
        object.__setattr__(self, "matrix", m.astype(np.float64))


Connectivity = AllToAll | OneToOne | FixedProbability | FixedInDegree | FromMatrix


def build_connectivity(
    rule: Connectivity, n_pre: int, n_post: int, rng: np.random.Generator, *, same: bool
) -> tuple[np.ndarray, np.ndarray]:
    """CSR ``(indptr (n_pre+1,), indices (nnz,))``, int64, columns sorted within each row.

    ``same`` says pre and post are the same population (for autapse exclusion).
    """
    if isinstance(rule, AllToAll):
        mask = np.ones((n_pre, n_post), dtype=bool)
        if same and not rule.allow_autapses:
            np.fill_diagonal(mask, False)
        return _from_mask(mask)
    if isinstance(rule, OneToOne):
        if n_pre != n_post:
            raise ValueError(f"OneToOne needs equal sizes, got n_pre={n_pre}, n_post={n_post}")
        return np.arange(n_pre + 1, dtype=np.int64), np.arange(n_pre, dtype=np.int64)
    if isinstance(rule, FixedProbability):
        # Row by row: bounded memory for large populations, same stream for any n_post.
        rows = []
        for i in range(n_pre):
            cols = np.flatnonzero(rng.random(n_post) < rule.p)
            if same and not rule.allow_autapses:
                cols = cols[cols != i]
            rows.append(cols)
        return _from_rows(rows, n_pre)
    if isinstance(rule, FixedInDegree):
        limit = n_pre - (1 if same and not rule.allow_autapses else 0)
        if rule.k > limit:
            raise ValueError(f"k = {rule.k} exceeds the {limit} possible presynaptic partners")
        pre_of = np.empty((n_post, rule.k), dtype=np.int64)
        for j in range(n_post):
            if same and not rule.allow_autapses:
                cand = rng.choice(n_pre - 1, size=rule.k, replace=False)
                cand = cand + (cand >= j)
            else:
                cand = rng.choice(n_pre, size=rule.k, replace=False)
            pre_of[j] = cand
        pre = pre_of.ravel()
        post = np.repeat(np.arange(n_post, dtype=np.int64), rule.k)
        order = np.lexsort((post, pre))
        indptr = np.zeros(n_pre + 1, dtype=np.int64)
        np.add.at(indptr, pre + 1, 1)
        return np.cumsum(indptr), post[order]
    if isinstance(rule, FromMatrix):
        m = rule.matrix
        if m.shape != (n_pre, n_post):
            raise ValueError(
                f"matrix shape {m.shape} does not match (n_pre, n_post) = ({n_pre}, {n_post})"
            )
        return _from_mask(m != 0)
    raise ValueError(f"unknown connectivity rule {rule!r}")


def _from_mask(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    indptr = np.concatenate([[0], np.cumsum(mask.sum(1))]).astype(np.int64)
    indices = np.nonzero(mask)[1].astype(np.int64)
    return indptr, indices


def _from_rows(rows: list[np.ndarray], n_pre: int) -> tuple[np.ndarray, np.ndarray]:
    indptr = np.zeros(n_pre + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(r) for r in rows])
    indices = np.concatenate(rows).astype(np.int64) if rows else np.zeros(0, np.int64)
    return indptr, indices
