"""Compiled CPU loops (numba) behind the fused multi-step layers.

Private module: :mod:`neuroplastic.surrogate.functional` calls these from custom autograd
functions; the plain torch loop there is the reference they are tested against.

* ``lif_forward`` / ``lif_backward`` — the membrane recurrence over time and its reverse-time
  adjoint (surrogate gradient), SIMD-vectorised over ``batch * neurons`` (running state in
  private buffers, so LLVM can prove no aliasing); single-threaded on purpose: a parallel
  loop on a loaded 2-core machine waited for descheduled workers.
* ``csr_from_dense`` / ``spmm_forward`` / ``spmm_grad_weight`` — event-driven projection: only
  the non-zero input entries (spikes) touch the weights.

Arithmetic follows :func:`neuroplastic.neurons.lif.lif_step` operation by operation (no
fast-math, no FMA contraction), so the spikes agree bit for bit with the reference.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..kernels._checks import checked
from ._cengine import (
    CSR_FROM_DENSE,
    LIF_BACKWARD,
    LIF_FORWARD,
    LINEAR_SCAN,
    LINEAR_SCAN_BACKWARD,
    spmm_forward_spec,
    spmm_grad_weight_spec,
)

# surrogate codes (order of SURROGATE_KINDS in spike.py)
FAST_SIGMOID, ARCTAN, SIGMOID, TRIANGLE = 0, 1, 2, 3


@njit(cache=True, error_model="numpy")
def _surrogate_row(m, thr, kind, c, out):
    """``out[j] = sigma'(m[j] - thr[j])`` for one row; ``c`` = (1, k, pi k / 2, k / 2) in the
    arrays' dtype, so that the arithmetic matches :func:`..spike.surrogate_grad` in that dtype.

    The branch on ``kind`` sits outside the loops (each loop vectorises on its own);
    ``error_model="numpy"`` drops Python's zero-division check, which blocked vectorisation.
    """
    one, k, ka, kh = c[0], c[1], c[2], c[3]
    N = out.shape[0]
    if kind == 0:
        for j in range(N):
            d = k * abs(m[j] - thr[j]) + one
            out[j] = one / (d * d)
    elif kind == 1:
        for j in range(N):
            a = ka * (m[j] - thr[j])
            out[j] = kh / (one + a * a)
    elif kind == 2:
        for j in range(N):
            z = one / (one + np.exp(-(k * (m[j] - thr[j]))))
            out[j] = k * z * (one - z)
    else:
        for j in range(N):
            t = one - k * abs(m[j] - thr[j])
            out[j] = k * max(t, one - one)


@njit(cache=True)
def _lif_forward(cur, v0, v_rest, decay, drive, thr, v_reset, subtract, n_chunks, spk, mem, v_out):
    """Membrane recurrence over ``T`` steps for ``N = batch * n`` flattened neurons.

    cur, spk, mem: (T, N); v0, v_out and the coefficients: (N,) (tiled over the batch).
    ``mem`` receives the pre-reset membrane ``u_t``, ``spk`` the spikes as 0/1.
    ``n_chunks`` is unused (kept for the call signature): the inner loop runs over whole rows
    with the running membrane in a private buffer, which lets LLVM vectorise it.
    """
    T, N = cur.shape
    one = np.float32(1.0)
    zero = np.float32(0.0)
    rs = thr - v_reset
    v = v0.copy()
    for t in range(T):
        c = cur[t]
        m = mem[t]
        sp = spk[t]
        for j in range(N):
            acc = v_rest[j] + (v[j] - v_rest[j]) * decay[j]
            acc = acc + drive[j] * c[j]
            m[j] = acc
            s = one if acc - thr[j] > zero else zero
            sp[j] = s
            if subtract:
                v[j] = acc - s * rs[j]
            else:
                v[j] = acc * (one - s) + v_reset[j] * s
    v_out[:] = v


@njit(cache=True, error_model="numpy")
def _lif_backward(
    g_spk, g_vT, mem, v0, v_rest, decay, drive, thr, v_reset, subtract, detach_reset,
    kind, consts, n_chunks, g_cur, g_v0, g_decay, g_thr,
):
    """Reverse-time adjoint of :func:`lif_forward` (same flattened layout).

    The spikes are recomputed from the saved pre-reset membrane (``H(u - thr)``, as in the
    forward pass). Writes dL/dcur (T, N), dL/dv0 (N,) and per-neuron-and-batch sums over time
    of dL/ddecay and dL/dthr (N,). Reset: subtract ``v = u - s (thr - v_reset)``; hard
    ``v = u (1 - s) + v_reset s``; with ``detach_reset`` no gradient flows through ``s`` there.
    ``consts`` = (1, k, pi k / 2, k / 2) in the arrays' dtype (see :func:`_surrogate_row`).
    Each step runs a few short loops over private row buffers (surrogate, previous membrane,
    then the adjoint), each simple enough for LLVM to vectorise; ``n_chunks`` is unused.
    """
    T, N = g_cur.shape
    one = consts[0]
    zero = one - one
    gvb = g_vT.copy()  # running dL/dv_t
    gdb = np.zeros_like(g_decay)
    gtb = np.zeros_like(g_thr)
    sgb = np.empty_like(g_thr)  # surrogate derivative of this step
    vpb = np.empty_like(g_thr)  # post-reset membrane of the previous step, minus v_rest
    rs = thr - v_reset
    for t in range(T - 1, -1, -1):
        mt = mem[t]
        gst = g_spk[t]
        gct = g_cur[t]
        _surrogate_row(mt, thr, kind, consts, sgb)
        if t > 0:
            mp = mem[t - 1]
            if subtract:
                for j in range(N):
                    sp = one if mp[j] - thr[j] > zero else zero
                    vpb[j] = (mp[j] - sp * rs[j]) - v_rest[j]
            else:
                for j in range(N):
                    sp = one if mp[j] - thr[j] > zero else zero
                    vpb[j] = (mp[j] * (one - sp) + v_reset[j] * sp) - v_rest[j]
        else:
            for j in range(N):
                vpb[j] = v0[j] - v_rest[j]
        if subtract:
            for j in range(N):
                gv = gvb[j]
                gs = gst[j]
                if not detach_reset:
                    gs = gs - gv * rs[j]
                gx = gs * sgb[j]
                gu = gv + gx
                s = one if mt[j] - thr[j] > zero else zero
                gtb[j] = (gtb[j] - gv * s) - gx
                gct[j] = drive[j] * gu
                gdb[j] = gdb[j] + gu * vpb[j]
                gvb[j] = gu * decay[j]
        else:
            for j in range(N):
                gv = gvb[j]
                gs = gst[j]
                if not detach_reset:
                    gs = gs + gv * (v_reset[j] - mt[j])
                gx = gs * sgb[j]
                s = one if mt[j] - thr[j] > zero else zero
                gu = gv * (one - s) + gx
                gtb[j] = gtb[j] - gx
                gct[j] = drive[j] * gu
                gdb[j] = gdb[j] + gu * vpb[j]
                gvb[j] = gu * decay[j]
    g_v0[:] = gvb
    g_decay[:] = gdb
    g_thr[:] = gtb


@njit(cache=True)
def _linear_scan(x, c0, decay, n_chunks, out, c_last):
    """``out[t] = c_t`` with ``c_0 = c0``, ``c_{t+1} = c_t * decay + x[t]``; ``c_last = c_T``.

    The synaptic current seen by the membrane at step ``t`` (arrivals of step ``t`` act from
    step ``t + 1``, as :func:`~neuroplastic.neurons.lif.receive_synaptic`).
    """
    T, N = x.shape
    width = (N + n_chunks - 1) // n_chunks
    for ch in prange(n_chunks):
        j0 = ch * width
        j1 = min(N, j0 + width)
        for j in range(j0, j1):
            c_last[j] = c0[j]
        for t in range(T):
            for j in range(j0, j1):
                out[t, j] = c_last[j]
                c_last[j] = c_last[j] * decay[j] + x[t, j]


@njit(cache=True)
def _linear_scan_backward(g_out, g_last, decay, n_chunks, g_x, g_c0):
    """Adjoint of :func:`linear_scan`."""
    T, N = g_out.shape
    width = (N + n_chunks - 1) // n_chunks
    for ch in prange(n_chunks):
        j0 = ch * width
        j1 = min(N, j0 + width)
        for j in range(j0, j1):
            g_c0[j] = g_last[j]  # running dL/dc_{t+1}
        for t in range(T - 1, -1, -1):
            for j in range(j0, j1):
                g_x[t, j] = g_c0[j]
                g_c0[j] = g_c0[j] * decay[j] + g_out[t, j]


@njit(parallel=True, cache=True)
def _csr_from_dense(x, max_nnz, n_chunks=1):
    """Row-compressed copy of ``x`` (R, N); returns (indptr, indices, values, nnz).

    Stops early (nnz = -1) once more than ``max_nnz`` entries are non-zero, so a dense
    input costs one counting pass only. ``n_chunks`` is unused (numba picks its threads).
    """
    R, N = x.shape
    counts = np.zeros(R + 1, dtype=np.int64)
    for r in prange(R):
        c = 0
        for j in range(N):
            if x[r, j] != 0:
                c += 1
        counts[r + 1] = c
    indptr = np.cumsum(counts)
    nnz = indptr[R]
    if nnz > max_nnz:
        return indptr, np.zeros(0, np.int64), np.zeros(0, x.dtype), -1
    indices = np.empty(nnz, dtype=np.int64)
    values = np.empty(nnz, dtype=x.dtype)
    for r in prange(R):
        p = indptr[r]
        for j in range(N):
            if x[r, j] != 0:
                indices[p] = j
                values[p] = x[r, j]
                p += 1
    return indptr, indices, values, nnz


@njit(parallel=True, cache=True, error_model="numpy")
def _spmm_forward(indptr, indices, values, wt, bias, has_bias, out, n_chunks=1):
    """out[r] = bias + sum_p values[p] * wt[indices[p]]  (wt is W^T, shape (N_in, N_out)).

    ``n_chunks`` is unused (numba picks its threads)."""
    R, M = out.shape
    for r in prange(R):
        o = out[r]
        if has_bias:
            for c in range(M):
                o[c] = bias[c]
        else:
            for c in range(M):
                o[c] = 0.0
        for p in range(indptr[r], indptr[r + 1]):
            w = wt[indices[p]]
            a = values[p]
            for c in range(M):
                o[c] += a * w[c]


@njit(parallel=True, cache=True, error_model="numpy")
def _spmm_grad_weight(indptr, indices, values, g, n_in, n_blocks):
    """W^T gradient (N_in, N_out): row j sums ``x[r, j] * g[r]`` over rows with ``x[r, j] != 0``.

    Column blocks in parallel, each accumulated in a private contiguous buffer (fits in L2
    for the layer sizes of W3) and copied out once.
    """
    R, M = g.shape
    gwt = np.empty((n_in, M), g.dtype)
    width = (M + n_blocks - 1) // n_blocks
    for blk in prange(n_blocks):
        c0 = blk * width
        c1 = min(M, c0 + width)
        w = max(c1 - c0, 0)
        acc = np.zeros((n_in, w), g.dtype)
        for r in range(R):
            gr = g[r, c0:c1]
            for p in range(indptr[r], indptr[r + 1]):
                ar = acc[indices[p]]
                a = values[p]
                for c in range(w):
                    ar[c] += a * gr[c]
        gwt[:, c0:c1] = acc
    return gwt


# ----------------------------------------------------------------------------- entry points
# The compiled functions above do no bounds checks: they are called only through these, which
# check every argument against the spec shared with the C engine (kernels/_checks.py).
lif_forward = checked(LIF_FORWARD, "lif_forward (numba)")(_lif_forward)
lif_backward = checked(LIF_BACKWARD, "lif_backward (numba)")(_lif_backward)
linear_scan = checked(LINEAR_SCAN, "linear_scan (numba)")(_linear_scan)
linear_scan_backward = checked(LINEAR_SCAN_BACKWARD, "linear_scan_backward (numba)")(
    _linear_scan_backward
)
csr_from_dense = checked(CSR_FROM_DENSE, "csr_from_dense (numba)")(_csr_from_dense)
spmm_forward = checked(spmm_forward_spec("i8"), "spmm_forward (numba)")(_spmm_forward)
spmm_grad_weight = checked(spmm_grad_weight_spec("i8", "n_blocks"), "spmm_grad_weight (numba)")(
    _spmm_grad_weight
)
