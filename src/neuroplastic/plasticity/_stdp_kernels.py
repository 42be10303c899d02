"""Compiled multi-step pair-based STDP on traces (numba, CPU, one core).

:func:`stdp_sequence_kernel` runs ``T`` clock steps of :func:`neuroplastic.plasticity.stdp.
stdp_step` in one call. The arithmetic follows the torch code operation by operation (same
products, same order of additions per synapse, no fast-math, no FMA contraction), so both give
bit-identical weights and traces; only the per-step normalisation of dense weights
(``norm_target``) sums columns in a different order than ``torch.sum``.

Schedule of one step (as :func:`stdp_step`):

1. decay every trace by its factor (``x *= e^{-dt/tau}``) and list the spikes of the step in
   ``torch.nonzero`` order (trial, then neuron);
2. rows of the presynaptic neurons that spiked, all trials in order:
   ``d = a_acausal * x_post[j] (+ W(0) * s_post[j])``; then columns of the postsynaptic neurons
   that spiked: ``d = a_causal * x_pre[i]``; each change soft-bounded against the weight at the
   start of the step (``update='multiplicative'``), multiplied by ``eta * batch scale`` and added
   in that order (the order of ``index_add_``); multiplicative changes are first computed into
   buffers so that every one of them sees the start-of-step weights;
3. clip the touched synapses to ``[w_min, w_max]``;
4. optionally scale each postsynaptic neuron's incoming weights to sum to ``norm_target``;
5. bump the traces of the neurons that spiked (+1, or reset to 1 for nearest pairing).

Only spiking rows and columns are touched in steps 2–3: the cost is ∝ spikes × fan-out plus
``O(batch * (n_pre + n_post))`` per step for the trace decay and the spike scan.

Weights ``w`` are float64 ``(n_w, size)``: ``n_w = batch`` for per-trial weights, 1 for shared
ones; ``size = nnz`` (CSR positions) or ``n_pre * n_post`` (dense, row-major).
Coefficients ``prm`` (float64): ``dec_pre, dec_post, a_causal, a_acausal, w_zero, scale, w_min,
w_max, norm_target``; ``flags`` (int64): ``dense, has_w_zero, multiplicative, clip, nearest,
per_trial, normalise``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from neuroplastic.kernels._checks import checked


def raster_words(raster):
    """Bytes of a C-contiguous boolean numpy raster, the aligned 8-byte words inside them and the
    offset of the first word (no copies)."""
    flat = raster.reshape(-1).view(np.uint8)
    head = (-flat.ctypes.data) % 8 if flat.size else 0
    n_words = (flat.size - head) // 8 if flat.size > head else 0
    return flat, flat[head : head + 8 * n_words].view(np.uint64), head


@njit(cache=True, inline="always")
def _soft(dw, w_old, multiplicative, w_min, w_max):
    """Soft bound of one change, as ``torch.where(dw > 0, dw*(w_max-w), dw*(w-w_min))``."""
    if not multiplicative:
        return dw
    if dw > 0:
        return dw * (w_max - w_old)
    return dw * (w_old - w_min)


@njit(cache=True, inline="always")
def _clamp(x, w_min, w_max):
    """``torch.clamp``: NaN stays NaN, infinite bounds do nothing."""
    if x < w_min:
        x = w_min
    if x > w_max:
        x = w_max
    return x


@njit(cache=True, error_model="numpy", inline="always")
def _row_changes(w, wb, b, i, t, post, x_post, indptr, indices, dense, n_post, a_a, w0,
                 has_w0, mult, w_min, w_max, scale, buf, n_buf):
    """Changes of row ``i`` (trial ``b``): added to ``w`` (additive) or written to ``buf``."""
    if dense:
        start, stop = i * n_post, (i + 1) * n_post
    else:
        start, stop = indptr[i], indptr[i + 1]
    for k in range(start, stop):
        j = k - start if dense else indices[k]
        p0 = a_a * x_post[b, j]
        if mult:
            w_old = w[wb, k]
            d = 0.0 + _soft(p0, w_old, True, w_min, w_max)
            if has_w0:
                p1 = w0 * (1.0 if post[t, b, j] else 0.0)
                d = d + _soft(p1, w_old, True, w_min, w_max)
            buf[n_buf] = d * scale
            n_buf += 1
        else:
            if has_w0:
                d = (0.0 + p0) + w0 * (1.0 if post[t, b, j] else 0.0)
            else:
                d = p0
            w[wb, k] += d * scale
    return n_buf


@njit(cache=True, error_model="numpy", inline="always")
def _col_changes(w, wb, b, j, x_pre, col_ptr, perm, perm_rows, dense, n_pre, n_post, a_c,
                 mult, w_min, w_max, scale, buf, n_buf):
    """Changes of column ``j`` (trial ``b``): added to ``w`` (additive) or written to ``buf``."""
    if dense:
        start, stop = 0, n_pre
    else:
        start, stop = col_ptr[j], col_ptr[j + 1]
    for q in range(start, stop):
        if dense:
            i, k = q, q * n_post + j
        else:
            i, k = perm_rows[q], perm[q]
        d = a_c * x_pre[b, i]
        if mult:
            buf[n_buf] = (0.0 + _soft(d, w[wb, k], True, w_min, w_max)) * scale
            n_buf += 1
        else:
            w[wb, k] += d * scale
    return n_buf


@njit(cache=True, error_model="numpy", inline="always")
def _apply_row(w, wb, i, indptr, dense, n_post, buf, n_buf, clip, w_min, w_max, add):
    """Add buffered changes of row ``i`` (``add``) or clip it to the bounds."""
    if dense:
        start, stop = i * n_post, (i + 1) * n_post
    else:
        start, stop = indptr[i], indptr[i + 1]
    for k in range(start, stop):
        if add:
            w[wb, k] += buf[n_buf]
            n_buf += 1
        elif clip:
            w[wb, k] = _clamp(w[wb, k], w_min, w_max)
    return n_buf


@njit(cache=True, error_model="numpy", inline="always")
def _apply_col(w, wb, j, col_ptr, perm, dense, n_pre, n_post, buf, n_buf, clip, w_min, w_max,
               add):
    """Add buffered changes of column ``j`` (``add``) or clip it to the bounds."""
    if dense:
        start, stop = 0, n_pre
    else:
        start, stop = col_ptr[j], col_ptr[j + 1]
    for q in range(start, stop):
        k = q * n_post + j if dense else perm[q]
        if add:
            w[wb, k] += buf[n_buf]
            n_buf += 1
        elif clip:
            w[wb, k] = _clamp(w[wb, k], w_min, w_max)
    return n_buf


@njit(cache=True, error_model="numpy")
def _normalise(w, indices, dense, n_pre, n_post, target, s):
    """Scale each post neuron's incoming weights to sum to ``target`` (columns summing to 0 are
    left alone); the factor is ``(1/s) * target`` as torch's ``target / s``."""
    for wb in range(w.shape[0]):
        for j in range(n_post):
            s[j] = 0.0
        if dense:
            for i in range(n_pre):
                for j in range(n_post):
                    s[j] += w[wb, i * n_post + j]
        else:
            for k in range(w.shape[1]):
                s[indices[k]] += w[wb, k]
        for j in range(n_post):
            s[j] = (1.0 / s[j]) * target if s[j] != 0.0 else 1.0
        if dense:
            for i in range(n_pre):
                for j in range(n_post):
                    w[wb, i * n_post + j] *= s[j]
        else:
            for k in range(w.shape[1]):
                w[wb, k] *= s[indices[k]]


@njit(cache=True, error_model="numpy", inline="always")
def _decay_and_scan(x, dec, flat, words, head, t, sb, si):
    """``x *= dec`` for every trace; list the neurons spiking at step ``t`` in (trial, neuron)
    order into ``sb``/``si``; return their count.

    ``flat`` is the raster's bytes (uint8, ``(T * batch * n,)``), ``words`` the 8-byte words
    of ``flat[head:]`` (aligned): spikes are rare, so whole words of zeros are skipped.
    """
    batch, n = x.shape
    for b in range(batch):
        for i in range(n):
            x[b, i] *= dec
    start = t * batch * n
    stop = start + batch * n
    m = 0
    pos = start
    w_first = (start - head + 7) // 8 if start > head else 0
    w_last = min((stop - head) // 8 if stop > head else 0, words.shape[0])
    if w_first < w_last:
        for p in range(start, head + 8 * w_first):
            if flat[p]:
                si[m] = p - start
                m += 1
        for wi in range(w_first, w_last):
            if words[wi] != 0:
                p0 = head + 8 * wi
                for p in range(p0, p0 + 8):
                    if flat[p]:
                        si[m] = p - start
                        m += 1
        pos = head + 8 * w_last
    for p in range(pos, stop):
        if flat[p]:
            si[m] = p - start
            m += 1
    # positions within the step -> (trial, neuron)
    if batch == 1:
        for a in range(m):
            sb[a] = 0
    else:
        for a in range(m):
            b = si[a] // n
            sb[a] = b
            si[a] -= b * n
    return m


@njit(cache=True, error_model="numpy", inline="always")
def _bump(x, sb, si, m, nearest):
    for a in range(m):
        if nearest:
            x[sb[a], si[a]] = 1.0
        else:
            x[sb[a], si[a]] += 1.0


@njit(cache=True, error_model="numpy")
def _stdp_sequence_kernel(w, pre, post, pre_bytes, pre_words, post_bytes, post_words, heads,
                         x_pre, x_post, indptr, indices, col_ptr, perm, perm_rows, prm, flags):
    """Run ``pre.shape[0]`` steps of pair STDP; ``w``, ``x_pre``, ``x_post`` updated in place.

    Parameters
    ----------
    w : float64 (n_w, size)
        Weights, flat per trial (module docstring).
    pre, post : bool (T, batch, n_pre), (T, batch, n_post)
        Spike rasters.
    pre_bytes, pre_words, post_bytes, post_words, heads
        The rasters' bytes (uint8, flat), the aligned 8-byte words (uint64) from byte
        ``heads[0]`` (pre) / ``heads[1]`` (post) on; see :func:`raster_words`.
    x_pre, x_post : float64 (batch, n_pre), (batch, n_post)
        Traces (in/out).
    indptr, indices, col_ptr, perm, perm_rows : int64
        CSR layout and its column view (:class:`CSRLayout`); unused (may be empty) for dense.
    prm : float64 (9,), flags : int64 (7,)
        See the module docstring.
    """
    n_steps, batch, n_pre = pre.shape
    n_post = post.shape[2]
    dec_pre, dec_post, a_c, a_a, w0, scale = prm[0], prm[1], prm[2], prm[3], prm[4], prm[5]
    w_min, w_max, target = prm[6], prm[7], prm[8]
    dense = flags[0] != 0
    has_w0 = flags[1] != 0
    mult = flags[2] != 0
    clip = flags[3] != 0
    nearest = flags[4] != 0
    per_trial = flags[5] != 0
    normalise = flags[6] != 0

    pre_b = np.empty(batch * n_pre, dtype=np.int64)
    pre_i = np.empty(batch * n_pre, dtype=np.int64)
    post_b = np.empty(batch * n_post, dtype=np.int64)
    post_j = np.empty(batch * n_post, dtype=np.int64)
    s = np.empty(n_post)
    rbuf = np.empty(16 if mult else 0)
    cbuf = np.empty(16 if mult else 0)
    for t in range(n_steps):
        m_pre = _decay_and_scan(x_pre, dec_pre, pre_bytes, pre_words, heads[0], t, pre_b, pre_i)
        m_post = _decay_and_scan(x_post, dec_post, post_bytes, post_words, heads[1], t, post_b,
                                 post_j)
        if m_pre == 0 and m_post == 0:
            if normalise:
                _normalise(w, indices, dense, n_pre, n_post, target, s)
            continue
        if mult:  # size the change buffers for this step
            n_r = 0
            for a in range(m_pre):
                i = pre_i[a]
                n_r += n_post if dense else indptr[i + 1] - indptr[i]
            n_c = 0
            for a in range(m_post):
                j = post_j[a]
                n_c += n_pre if dense else col_ptr[j + 1] - col_ptr[j]
            if n_r > rbuf.shape[0]:
                rbuf = np.empty(max(n_r, 2 * rbuf.shape[0]))
            if n_c > cbuf.shape[0]:
                cbuf = np.empty(max(n_c, 2 * cbuf.shape[0]))
        # changes: all rows (every trial, in order), then all columns
        n_r = 0
        for a in range(m_pre):
            b = pre_b[a]
            n_r = _row_changes(w, b if per_trial else 0, b, pre_i[a], t, post, x_post, indptr,
                               indices, dense, n_post, a_a, w0, has_w0, mult, w_min, w_max,
                               scale, rbuf, n_r)
        n_c = 0
        for a in range(m_post):
            b = post_b[a]
            n_c = _col_changes(w, b if per_trial else 0, b, post_j[a], x_pre, col_ptr, perm,
                               perm_rows, dense, n_pre, n_post, a_c, mult, w_min, w_max, scale,
                               cbuf, n_c)
        # passes over the touched synapses: add the buffered changes, then clip
        for add in (True, False):
            if (add and not mult) or (not add and not clip):
                continue
            q = 0
            for a in range(m_pre):
                b = pre_b[a]
                q = _apply_row(w, b if per_trial else 0, pre_i[a], indptr, dense, n_post, rbuf,
                               q, clip, w_min, w_max, add)
            q = 0
            for a in range(m_post):
                b = post_b[a]
                q = _apply_col(w, b if per_trial else 0, post_j[a], col_ptr, perm, dense, n_pre,
                               n_post, cbuf, q, clip, w_min, w_max, add)
        if normalise:
            _normalise(w, indices, dense, n_pre, n_post, target, s)
        _bump(x_pre, pre_b, pre_i, m_pre, nearest)
        _bump(x_post, post_b, post_j, m_post, nearest)


def _w_spec(a) -> str:
    """``w``: one row per trial (per_trial) or one shared row; CSR positions or dense."""
    rows = "B" if a["flags"][5] else "1"
    return f"f8[{rows},{'n_pre*n_post' if a['flags'][0] else 'size'}] out"


def _csr(spec: str):
    return lambda a: None if a["flags"][0] else spec


# What every argument of the compiled kernel must be (neuroplastic/kernels/_checks.py): it does
# no bounds checks. The CSR arrays are only read for sparse weights (flags[0] == 0).
STDP_SEQUENCE = {
    "prm": "f8[9]", "flags": "i8[7]",
    "pre": "b1[T,B,n_pre]", "post": "b1[T,B,n_post]",
    "pre_bytes": "u1[T*B*n_pre]", "pre_words": "u8[*]",
    "post_bytes": "u1[T*B*n_post]", "post_words": "u8[*]", "heads": "i8[2] >=0 <8",
    "w": _w_spec, "x_pre": "f8[B,n_pre] out", "x_post": "f8[B,n_post] out",
    "indices": _csr("i8[size] >=0 <n_post"), "indptr": _csr("i8[n_pre+1] >=0 <=size"),
    "col_ptr": _csr("i8[n_post+1] >=0 <=size"), "perm": _csr("i8[size] >=0 <size"),
    "perm_rows": _csr("i8[size] >=0 <n_pre"),
}
stdp_sequence_kernel = checked(STDP_SEQUENCE, "stdp_sequence_kernel")(_stdp_sequence_kernel)
