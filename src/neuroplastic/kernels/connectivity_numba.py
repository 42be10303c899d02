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
def sort_rows_find_repeats(indptr, x, rows, m, found):
    """Sort each row ``r`` of ``rows`` (ascending) of the CSR values ``x`` in place and write
    to ``found`` (room for one entry per value of those rows) the positions (global, in
    row-major order) of the values equal to their left neighbour. Returns ``(n, keep)``: how
    many positions it wrote, and ``keep[k]``: row ``rows[k]`` has a repeat. Values lie in
    ``[0, m)``."""
    n = 0
    keep = np.zeros(rows.shape[0], dtype=np.bool_)
    longest = 0
    for k in range(rows.shape[0]):
        longest = max(longest, indptr[rows[k] + 1] - indptr[rows[k]])
    cnt = np.empty(longest + 1, dtype=np.int64)
    tmp = np.empty(longest, dtype=x.dtype)
    bk = np.empty(longest, dtype=np.int64)
    for k in range(rows.shape[0]):
        a = indptr[rows[k]]
        seg = x[a : indptr[rows[k] + 1]]
        if seg.shape[0] < 2:
            continue
        _sort_uniform(seg, m, cnt, tmp, bk)
        for e in range(1, seg.shape[0]):
            if seg[e] == seg[e - 1]:
                found[n] = a + e
                n += 1
                keep[k] = True
    return n, keep


@njit(cache=True, inline="always")
def _width_class(c):
    """Class ``k`` of a row of ``c`` values: padded to width ``16 << k``, the smallest such
    width that holds it (numpy's SIMD sort sorts rows of up to 16, 32, 64, ... values with
    networks of that size: a row padded beyond one costs as much as the next)."""
    k = 0
    while (16 << k) < c:
        k += 1
    return k


@njit(cache=True)
def pad_rows(indptr, vals, r0, r1, buf, m, n_class, off):
    """Rows ``r0 .. r1`` of a CSR whose values from ``indptr[r0]`` on are ``vals``, grouped by
    :func:`_width_class` into ``buf``: class ``k``'s rows, in order, as a ``(n_class[k], 16
    << k)`` matrix from ``off[k]``, each row padded with ``m`` (greater than every value).
    Fills ``n_class`` and ``off`` (one entry per class) and returns the values used of
    ``buf``. (Loops over slices: no negative-index checks, so they vectorise.)"""
    for k in range(n_class.shape[0]):
        n_class[k] = 0
    for r in range(r0, r1):
        n_class[_width_class(indptr[r + 1] - indptr[r])] += 1
    used = 0
    for k in range(n_class.shape[0]):
        off[k] = used
        used += n_class[k] * (16 << k)
    cur = off.copy()
    fill = buf.dtype.type(m)
    base = indptr[r0]
    for r in range(r0, r1):
        src = vals[indptr[r] - base : indptr[r + 1] - base]
        k = _width_class(src.shape[0])
        dst = buf[cur[k] : cur[k] + (16 << k)]
        cur[k] += 16 << k
        for j in range(src.shape[0]):
            dst[j] = src[j]
        for j in range(src.shape[0], dst.shape[0]):
            dst[j] = fill
    return used


@njit(cache=True)
def unpad_rows(indptr, x, r0, r1, buf, off, found, keep):
    """The (sorted) rows of ``buf`` back into the CSR values ``x`` (:func:`pad_rows`'
    inverse), writing to ``found`` (room for one entry per value) the global positions of the
    values equal to their left neighbour (row-major order) and flagging their rows in
    ``keep``. Returns how many positions it wrote."""
    cur = off.copy()
    n = 0
    for r in range(r0, r1):
        a = indptr[r]
        dst = x[a : indptr[r + 1]]
        k = _width_class(dst.shape[0])
        src = buf[cur[k] : cur[k] + (16 << k)]
        cur[k] += 16 << k
        rep = 0
        for j in range(dst.shape[0]):
            dst[j] = src[j]
        for j in range(1, dst.shape[0]):  # a branch-free count first; repeats are rare
            rep += src[j] == src[j - 1]
        if rep == 0:
            continue
        keep[r] = True
        for j in range(1, dst.shape[0]):
            if src[j] == src[j - 1]:
                found[n] = a + j
                n += 1
    return n


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
    sort_rows_find_repeats(ptr, x(), np.zeros(1, dtype=np.int64), 3, np.empty(3, dtype=np.int64))
    skip_own_index(ptr, x())
    buf, classes = np.empty(16, dtype=np.int32), np.zeros(1, dtype=np.int64)
    pad_rows(ptr, x(), 0, 1, buf, 3, classes, classes.copy())
    unpad_rows(ptr, x(), 0, 1, buf, classes, np.empty(3, dtype=np.int64), np.zeros(1, np.bool_))
    transpose_csr(ptr, x(), 3, np.empty(4, dtype=np.int64), np.empty(3, dtype=np.int32))
