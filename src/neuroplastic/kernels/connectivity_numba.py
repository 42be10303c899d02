"""Compiled pieces of the O(synapses) connectivity samplers (:mod:`neuroplastic.synapses.connectivity`).

They work on the CSR form directly (no padded ``(rows, max_count)`` matrix) and draw nothing
themselves: the caller draws with its ``numpy.random.Generator`` exactly the numbers the numpy
procedure draws, in the same order, so that a seed gives the same connectivity as before.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def _insertion_sort(seg):
    for e in range(1, seg.shape[0]):
        v = seg[e]
        f = e - 1
        while f >= 0 and seg[f] > v:
            seg[f + 1] = seg[f]
            f -= 1
        seg[f + 1] = v


@njit(cache=True)
def _sort_uniform(seg, m, cnt, tmp, bk):
    """Sort ``seg`` (values in ``[0, m)``, expected uniform) in place: a counting sort into
    ``len(seg)`` buckets of equal width, then an insertion sort of the nearly sorted result
    (expected O(len(seg)))."""
    c = seg.shape[0]
    if c <= 16:
        _insertion_sort(seg)
        return
    scale = c / m  # bucket of v: floor(v * c / m) (any monotone map would do: the insertion
    for b in range(c + 1):  # sort below makes the result sorted whatever the buckets)
        cnt[b] = 0
    for e in range(c):
        b = min(np.int64(seg[e] * scale), c - 1)
        bk[e] = b
        cnt[b + 1] += 1
    for b in range(c):
        cnt[b + 1] += cnt[b]
    for e in range(c):
        b = bk[e]
        tmp[cnt[b]] = seg[e]
        cnt[b] += 1
    for e in range(c):
        seg[e] = tmp[e]
    _insertion_sort(seg)


@njit(cache=True)
def sort_rows_find_repeats(indptr, x, rows, m, pos):
    """Sort each row ``r`` of ``rows`` (ascending) of the CSR values ``x`` in place and list
    the positions (global, in row-major order) of the values equal to their left neighbour.
    ``pos``: a buffer for those positions (grown when full). Returns ``(pos, n_pos, keep)``:
    ``keep[k]`` says row ``rows[k]`` has a repeat. Values lie in ``[0, m)``."""
    n = 0
    keep = np.zeros(rows.shape[0], dtype=np.bool_)
    longest = 0
    for k in range(rows.shape[0]):
        longest = max(longest, indptr[rows[k] + 1] - indptr[rows[k]])
    cnt = np.empty(longest + 1, dtype=np.int64)
    tmp = np.empty(longest, dtype=x.dtype)
    bk = np.empty(longest, dtype=np.int64)
    for k in range(rows.shape[0]):
        r = rows[k]
        a = indptr[r]
        z = indptr[r + 1]
        if z - a < 2:
            continue
        seg = x[a:z]
        _sort_uniform(seg, m, cnt, tmp, bk)
        for e in range(1, z - a):
            if seg[e] == seg[e - 1]:
                if n == pos.shape[0]:
                    grown = np.empty(2 * pos.shape[0] + 16, dtype=pos.dtype)
                    grown[:n] = pos[:n]
                    pos = grown
                pos[n] = a + e
                n += 1
                keep[k] = True
    return pos, n, keep


@njit(cache=True)
def pad_rows(indptr, x, r0, pad, m):
    """Rows ``r0 .. r0 + len(pad)`` of the CSR values ``x`` into the rows of ``pad``, each
    padded with ``m`` (greater than every value) to ``pad``'s width."""
    for i in range(pad.shape[0]):
        a = indptr[r0 + i]
        c = indptr[r0 + i + 1] - a
        pad[i, :c] = x[a : a + c]
        pad[i, c:] = m


@njit(cache=True)
def unpad_find_repeats(indptr, x, r0, pad, pos, n, keep):
    """The sorted rows of ``pad`` back into ``x`` (:func:`pad_rows`' inverse), appending to
    ``pos[:n]`` the global positions of the values equal to their left neighbour (row-major
    order; ``pos`` grown when full) and flagging their rows in ``keep``. Returns ``(pos, n)``."""
    for i in range(pad.shape[0]):
        a = indptr[r0 + i]
        c = indptr[r0 + i + 1] - a
        row = pad[i, :c]
        x[a : a + c] = row
        rep = 0  # a branch-free count first (vectorised); repeats are rare
        for j in range(1, c):
            rep += row[j] == row[j - 1]
        if rep == 0:
            continue
        keep[r0 + i] = True
        if n + rep > pos.shape[0]:
            grown = np.empty(2 * pos.shape[0] + rep, dtype=pos.dtype)
            grown[:n] = pos[:n]
            pos = grown
        for j in range(1, c):
            if row[j] == row[j - 1]:
                pos[n] = a + j
                n += 1
    return pos, n


@njit(cache=True)
def skip_own_index(indptr, x):
    """Values drawn from ``[0, m - 1)`` skip the row's own index: ``v -> v + (v >= row)``
    (order within the row kept)."""
    for r in range(indptr.shape[0] - 1):
        for e in range(indptr[r], indptr[r + 1]):
            if x[e] >= r:
                x[e] += 1


@njit(cache=True)
def transpose_csr(indptr, x, n_cols, out_ptr, out_idx):
    """Stable counting-sort transpose of a CSR ``(indptr, x)`` with ``n_cols`` columns: row
    ``c`` of the result lists the rows holding column ``c``, ascending."""
    for c in range(n_cols + 1):
        out_ptr[c] = 0
    for e in range(x.shape[0]):
        out_ptr[x[e] + 1] += 1
    for c in range(n_cols):
        out_ptr[c + 1] += out_ptr[c]
    fill = out_ptr[:-1].copy()
    for r in range(indptr.shape[0] - 1):
        for e in range(indptr[r], indptr[r + 1]):
            c = x[e]
            out_idx[fill[c]] = r
            fill[c] += 1


def warm_up() -> None:
    """Compile (or load from numba's cache) every kernel here for the argument types the
    samplers use (int64 row pointers, int32 values)."""
    ptr = np.array([0, 3], dtype=np.int64)
    x = lambda: np.array([2, 0, 2], dtype=np.int32)  # noqa: E731 - values < 3 each time
    sort_rows_find_repeats(ptr, x(), np.zeros(1, dtype=np.int64), 3, np.empty(1, dtype=np.int64))
    skip_own_index(ptr, x())
    pad = np.empty((1, 3), dtype=np.int32)
    pad_rows(ptr, x(), 0, pad, 3)
    unpad_find_repeats(ptr, x(), 0, pad, np.empty(1, dtype=np.int64), 0, np.zeros(1, np.bool_))
    transpose_csr(ptr, x(), 3, np.empty(4, dtype=np.int64), np.empty(3, dtype=np.int32))
