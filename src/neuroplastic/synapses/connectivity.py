"""Connectivity rules: who connects to whom (weights and delays are given separately).

Each rule is a frozen dataclass; :func:`build_connectivity` turns it into CSR indices
``(indptr, indices)`` with rows = presynaptic neurons and sorted column indices, drawing
randomness only from the ``numpy.random.Generator`` it is given.

Above :data:`SMALL_PAIRS` pairs the random rules cost O(synapses), not O(pairs): a sparse
:class:`FixedProbability` draws each row's size from the binomial law and then that many
distinct partners uniformly (:func:`_distinct_sorted`), which is the distribution of
independent Bernoulli pairs; :class:`FixedInDegree` draws each column's ``k`` partners the same
way and transposes. Smaller networks keep the original draws (a uniform per pair; one
``choice`` per column), so their connectivity for a seed is unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Callable
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
    rule: Connectivity, n_pre: int, n_post: int, rng: np.random.Generator, *, same: bool,
    index_dtype: Any = np.int64, alloc: Callable[[int], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """CSR ``(indptr (n_pre+1,), indices (nnz,))``, columns sorted within each row; ``indptr``
    is int64, ``indices`` of ``index_dtype`` (int64, or int32, as the simulator stores them:
    half the memory; needs ``n_post < 2**31``). The connectivity does not depend on it.

    ``same`` says pre and post are the same population (for autapse exclusion).
    ``alloc(n)``: where the int32 ``indices`` go (``index_dtype`` int32 only; e.g.
    :meth:`~neuroplastic.network._arena.IndexArena.take`): the returned ``indices`` is always
    an array it returned - the samplers write into it directly, other rules are copied in.
    """
    idt = np.dtype(index_dtype)
    if idt not in (np.dtype(np.int32), np.dtype(np.int64)):
        raise ValueError(f"index_dtype must be int32 or int64, got {idt}")
    if idt == np.int32 and n_post >= 2**31:
        raise ValueError(f"int32 indices need n_post < 2**31, got {n_post}")
    if alloc is not None and idt != np.int32:
        raise ValueError(f"alloc gives int32 indices; index_dtype is {idt}")
    taken: list[np.ndarray] = []

    def take(n: int) -> np.ndarray:
        out = alloc(n)  # type: ignore[misc]
        if out.shape != (n,) or out.dtype != np.int32:
            raise ValueError(f"alloc({n}) must return an int32 array of shape ({n},), got "
                             f"{out.dtype} {out.shape}")
        taken.append(out)
        return out

    indptr, indices = _build(rule, n_pre, n_post, rng, same, take if alloc else None)
    indices = indices.astype(idt, copy=False)
    if alloc is not None and not any(indices is t for t in taken):
        out = take(indices.size)
        out[:] = indices
        indices = out
    return indptr, indices


def _build(rule: Connectivity, n_pre: int, n_post: int, rng: np.random.Generator,
           same: bool, alloc: Callable[[int], np.ndarray] | None = None
           ) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(rule, AllToAll):
        mask = np.ones((n_pre, n_post), dtype=bool)
        if same and not rule.allow_autapses:
            np.fill_diagonal(mask, False)
        return _from_mask(mask)
    if isinstance(rule, OneToOne):
        if n_pre != n_post:
            raise ValueError(f"OneToOne needs equal sizes, got n_pre={n_pre}, n_post={n_post}")
        return np.arange(n_pre + 1, dtype=np.int64), np.arange(n_pre, dtype=np.int64)
    no_self = same and not getattr(rule, "allow_autapses", True)  # FromMatrix: none
    small = n_pre * n_post <= SMALL_PAIRS
    if isinstance(rule, FixedProbability):
        if rule.p > DENSE_P or small:
            return _bernoulli_rows(rule.p, n_pre, n_post, rng, no_self)
        m = n_post - (1 if no_self else 0)
        counts = rng.binomial(m, rule.p, size=n_pre).astype(np.int64)
        return _sampled_csr(counts, m, rng, no_self, alloc)
    if isinstance(rule, FixedInDegree):
        limit = n_pre - (1 if no_self else 0)
        if rule.k > limit:
            raise ValueError(f"k = {rule.k} exceeds the {limit} possible presynaptic partners")
        if small:
            return _in_degree_per_column(rule.k, n_pre, n_post, rng, no_self)
        counts = np.full(n_post, rule.k, dtype=np.int64)
        ptr, pre = _sampled_csr(counts, limit, rng, no_self)
        # (post, pre) rows -> (pre, post) rows: a stable counting sort keeps posts ascending
        indptr = np.empty(n_pre + 1, dtype=np.int64)
        indices = (alloc(pre.size) if alloc is not None and n_post < 2**31
                   else np.empty(pre.size, dtype=np.int32 if n_post < 2**31 else np.int64))
        _kernels().transpose_csr(ptr, pre, n_pre, indptr, indices)
        return indptr, indices
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


# Above this connection probability a Bernoulli draw per pair (O(pairs), but pairs are then
# at most 1 / DENSE_P times the synapses) replaces the per-row sampling.
DENSE_P = 0.25
# Up to this many pairs the random rules keep their original per-pair / per-column draws (same
# connectivity for a seed as before the O(synapses) samplers, which are used above it).
SMALL_PAIRS = 1 << 24
_CHUNK = 1 << 19  # pairs per block of Bernoulli draws (4 MiB of uniforms: the peak memory of
# building a 4k network is its blocks; the stream does not depend on the block size)


def _bernoulli_rows(p: float, n_pre: int, n_post: int, rng: np.random.Generator,
                    no_self: bool) -> tuple[np.ndarray, np.ndarray]:
    """Each pair independently with probability ``p``, rows drawn in blocks (one uniform per
    pair, row after row: the same stream as one row at a time)."""
    step = max(1, _CHUNK // max(n_post, 1))
    indptr = np.zeros(n_pre + 1, dtype=np.int64)
    parts = []
    for a in range(0, n_pre, step):
        mask = rng.random((min(step, n_pre - a), n_post)) < p
        if no_self:
            r = np.arange(a, a + mask.shape[0])
            mask[r - a, r] = False
        indptr[a + 1 : a + 1 + mask.shape[0]] = mask.sum(1)
        parts.append(np.nonzero(mask)[1])
    np.cumsum(indptr, out=indptr)
    indices = np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)
    return indptr, indices


def _in_degree_per_column(k: int, n_pre: int, n_post: int, rng: np.random.Generator,
                          no_self: bool) -> tuple[np.ndarray, np.ndarray]:
    """``k`` distinct partners per column with one ``rng.choice`` each (small networks)."""
    pre_of = np.empty((n_post, k), dtype=np.int64)
    for j in range(n_post):
        if no_self:
            cand = rng.choice(n_pre - 1, size=k, replace=False)
            cand = cand + (cand >= j)
        else:
            cand = rng.choice(n_pre, size=k, replace=False)
        pre_of[j] = cand
    pre = pre_of.ravel()
    post = np.repeat(np.arange(n_post, dtype=np.int64), k)
    order = np.lexsort((post, pre))
    indptr = np.zeros(n_pre + 1, dtype=np.int64)
    np.add.at(indptr, pre + 1, 1)
    return np.cumsum(indptr), post[order]


def _distinct_sorted(counts: np.ndarray, m: int, rng: np.random.Generator) -> np.ndarray:
    """Row ``r`` of the result: ``counts[r]`` distinct integers uniform in ``[0, m)``, sorted,
    then padding ``m``. Draws with replacement and redraws the repeats until none is left: the
    procedure commutes with every relabelling of ``[0, m)``, so each set of ``counts[r]`` values
    is equally likely (sampling without replacement). Rows asking for more than a quarter of
    ``[0, m)`` take the first ``counts[r]`` values of a random permutation instead."""
    R = counts.size
    K = int(counts.max()) if R else 0
    dt = np.int32 if m < 2**31 - 1 else np.int64
    valid = np.arange(K) < counts[:, None]
    x = np.full((R, K), m, dtype=dt)
    if 4 * K > m:  # dense rows: O(R m), at most 4 times the synapses when all rows are dense
        perm = rng.permuted(np.broadcast_to(np.arange(m, dtype=dt), (R, m)), axis=1)[:, :K]
        x[valid] = perm[valid]
        x.sort(axis=1)
        return x
    x[valid] = rng.integers(0, m, size=int(counts.sum()), dtype=dt)
    rows = np.arange(R)
    while rows.size:
        sub = np.sort(x[rows], axis=1)
        dup = (sub[:, 1:] == sub[:, :-1]) & (sub[:, 1:] < m)
        rr, cc = np.nonzero(dup)
        sub[rr, cc + 1] = rng.integers(0, m, size=rr.size, dtype=dt)
        x[rows] = sub
        rows = rows[np.unique(rr)]
    return x


# seconds spent compiling / loading the compiled samplers in this process (a one-time cost;
# Network adds it to its compile_s)
KERNEL_LOAD_S = [0.0]


def _kernels():
    """The compiled samplers: built ahead of time (``neuroplastic compile``: no numba in the
    process), else :mod:`neuroplastic.kernels.connectivity_numba`, loaded once."""
    t0 = time.perf_counter()
    from ..kernels import aot

    built = aot.load("connectivity")
    if built is not None:
        KERNEL_LOAD_S[0] += time.perf_counter() - t0
        return built
    from ..kernels import connectivity_numba as k  # the first import loads numba itself

    if not k.transpose_csr.signatures:
        k.warm_up()
        KERNEL_LOAD_S[0] += time.perf_counter() - t0
    return k


def _sampled_csr(counts: np.ndarray, m: int, rng: np.random.Generator, no_self: bool,
                 alloc: Callable[[int], np.ndarray] | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """CSR of :func:`_distinct_sorted` ``(counts, m)`` (then :func:`_rows_csr`) with the same
    draws in the same order, hence the same result, built on the CSR values (int32 when ``m``
    allows; in ``alloc(nnz)`` when given, then int32): no padded ``(rows, max count)``
    matrix of every row, the sorting compiled. The first pass (:func:`_draw_sorted_rows`)
    draws and sorts block after block of rows; then the repeats are redrawn (row-major order)
    and their rows sorted again until none is left."""
    R = counts.size
    K = int(counts.max()) if R else 0
    if K == 0 or 4 * K > m:  # nothing to draw, or dense rows (permutations): the numpy path
        return _rows_csr(_distinct_sorted(counts, m, rng), counts, no_self)
    indptr = np.zeros(R + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    dt = np.int32 if m < 2**31 - 1 else np.int64
    total = int(indptr[-1])
    x = alloc(total) if alloc is not None and dt == np.int32 else np.empty(total, dtype=dt)
    pos, keep = _draw_sorted_rows(indptr, x, m, rng)
    rows = np.arange(R, dtype=np.int64)
    while True:
        x[pos] = rng.integers(0, m, size=pos.size, dtype=dt)
        rows = rows[keep]
        if not rows.size:
            break
        found = np.empty(int(counts[rows].sum()), dtype=np.int64)
        n, keep = _kernels().sort_rows_find_repeats(indptr, x, rows, m, found)
        pos = found[:n]
    if no_self:
        _kernels().skip_own_index(indptr, x)
    return indptr, x


# Rows drawn, padded, sorted and copied back together in the first pass (about
# _BLOCK_VALUES values: ~1 MiB of int32, in cache from the draw to the copy back).
_BLOCK_ROWS = 2048
_BLOCK_VALUES = 1 << 18


def _draw_sorted_rows(indptr: np.ndarray, x: np.ndarray, m: int, rng: np.random.Generator,
                      block: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The first pass of :func:`_sampled_csr`: draw the values of every row (uniform in
    ``[0, m)``, row after row - in blocks of rows: numpy's bounded integers take the same
    bits from the stream in pieces as in one call), sort each row, and write them into ``x``.
    Returns the global positions of the values equal to their left neighbour (row-major
    order) and the flags of the rows that have one. The rows of a block are padded (with
    ``m``) to 16, 32, 64, ... values, the next width that holds them, and sorted by numpy's
    row-wise sort (SIMD sorting networks of that width: on rows of ~16-80 values faster than
    the compiled bucket + insertion sort the later passes use; same result), while the block
    is in cache; the padding and the copy back are compiled."""
    k = _kernels()
    R = indptr.size - 1
    counts = np.diff(indptr)
    widest = int(counts.max()) if R else 0
    n_cls = 1
    while (16 << (n_cls - 1)) < widest:
        n_cls += 1
    if block is None:
        block = max(1, min(_BLOCK_ROWS, _BLOCK_VALUES // max(widest, 1)))
    keep = np.zeros(R, dtype=np.bool_)
    buf = np.empty(block * (16 << (n_cls - 1)), dtype=x.dtype)
    found = np.empty(block * widest, dtype=np.int64)  # written only where a repeat is
    n_class, off = np.zeros(n_cls, dtype=np.int64), np.zeros(n_cls, dtype=np.int64)
    parts = []
    for r0 in range(0, R, block):
        r1 = min(R, r0 + block)
        vals = rng.integers(0, m, size=int(indptr[r1] - indptr[r0]), dtype=x.dtype)
        k.pad_rows(indptr, vals, r0, r1, buf, m, n_class, off)  # m: after every value
        for c, (rows, at) in enumerate(zip(n_class.tolist(), off.tolist())):
            if rows:
                buf[at : at + rows * (16 << c)].reshape(rows, 16 << c).sort(axis=1)
        n = k.unpad_rows(indptr, x, r0, r1, buf, off, found, keep)
        if n:
            parts.append(found[:n].copy())
    pos = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    return pos, keep


def _rows_csr(x: np.ndarray, counts: np.ndarray, no_self: bool) -> tuple[np.ndarray, np.ndarray]:
    """CSR of the padded rows of :func:`_distinct_sorted`; ``no_self``: values drawn from
    ``[0, m - 1)`` skip the row's own index (``v -> v + (v >= row)``, order kept)."""
    indptr = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    if x.shape[1] == 0:
        return indptr, np.zeros(0, dtype=x.dtype)
    valid = np.arange(x.shape[1]) < counts[:, None]
    if no_self:
        x = x + (x >= np.arange(counts.size, dtype=x.dtype)[:, None])
    return indptr, x[valid]
