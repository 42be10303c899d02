"""Compiled event-driven network loop (numba, CPU).

One call advances the whole network by up to ``n_steps`` clock steps. The arithmetic follows
:func:`neuroplastic.neurons.lif.lif_step` and the reference loop in
:mod:`neuroplastic.kernels.network_torch` operation by operation (same order of additions,
no fast-math, no FMA contraction) so that both produce bit-identical spikes and states.

Schedule of one step ``t`` (as Brian2): integrate LIF neurons → threshold → reset; read the
source spikes; count and record; propagate spikes projection by projection (delay 0 straight
into the synaptic current, delay ``d`` into ring-buffer slot ``(t + d) % D``); add the slot
``t % D`` into the currents; quantize currents of digital neurons.

Plastic projections (pair STDP on traces) learn in the same step, right after propagation
(step 4b): this step's spikes were delivered with the weights of the start of the step, then
each plastic projection applies :func:`neuroplastic.plasticity.stdp_step` to them — decay its
traces, rows of spiking pre neurons, columns of spiking post neurons, clip, bump the traces —
with the arithmetic of the torch code (and of ``plasticity._stdp_kernels``) operation by
operation, so weights and traces are bit-identical to the reference loop.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from neuroplastic.kernels._checks import checked
from neuroplastic.kernels.network_spec import RUN_STEPS
from neuroplastic.plasticity._stdp_kernels import _soft  # the soft bound of stdp_sequence


@njit(cache=True, inline="always")
def _quantize(x, q, mode):
    if q <= 0.0:
        return x
    y = x / q
    if mode == 0:
        r = np.floor(y + 0.5)
    elif mode == 1:
        r = np.floor(y)
    else:
        r = np.trunc(y)
    return r * q


@njit(cache=True, inline="always")
def _overflow(x, q, lo, hi, mode):
    if q <= 0.0:
        return x
    if mode == 0:
        if x < lo:
            return lo
        if x > hi:
            return hi
        return x
    span = hi - lo + q
    return ((x - lo) % span) + lo


@njit(cache=True, inline="always")
def _fused_segment(lo, hi, two, has_noise, has_cur, vb, e0, e1, rb, flag, cur, nz, decay_v,
                   v_rest, v_thresh, drive_ext, ds, dr, noise_scale, v_reset, sub_reset,
                   ref_steps, zero):
    """Membrane update, threshold and reset of neurons ``lo .. hi`` whose coefficients are all
    equal (read once, as scalars, from neuron ``lo``): one pass over the state instead of one
    per coefficient, and no per-spike reads of the coefficients afterwards (at 400k neurons
    those reads miss the cache). Per neuron the same operations in the same order as the
    general path of :func:`_run_steps` (hence bit-identical): integrate, ``spike = free and
    a > v_thresh``, then the reset value (``a - (v_thresh - v_reset)`` or ``v_reset``) and the
    refractory count ``max(ref_steps - 1, 0)`` where it spiked. ``two``: a second synaptic
    channel ``e1``; without ``has_cur`` the external current of the segment is +0.0 everywhere
    and is not read (``drive_ext * 0.0``, the same operation). ``zero``: +0.0 in the state's
    precision (float64 or float32: no literal may promote the float32 arithmetic), also the
    segment's (zero) threshold offset."""
    vr = v_rest[lo]
    dv = decay_v[lo]
    de = drive_ext[lo]
    d0 = ds[0, lo]
    r0 = dr[0, lo]
    d1 = ds[1, lo] if two else zero
    r1 = dr[1, lo] if two else zero
    sn = noise_scale[lo]
    th = v_thresh[lo] + zero
    gap = v_thresh[lo] - v_reset[lo]
    vz = v_reset[lo]
    sub = sub_reset[lo] == 1
    r_spk = max(ref_steps[lo] - 1, 0)
    # unsigned indices: no negative-index wraparound, so that LLVM vectorizes the loop
    for i in range(np.uint64(lo), np.uint64(hi)):
        c = cur[i] if has_cur else zero
        a = (vr + (vb[i] - vr) * dv) + de * c
        x0 = e0[i]
        a = a + r0 * x0
        e0[i] = x0 * d0
        if two:
            x1 = e1[i]
            a = a + r1 * x1
            e1[i] = x1 * d1
        if has_noise:
            a = a + sn * nz[i]
        r = rb[i]
        free = r == 0
        spike = free & (a > th)
        flag[i] = spike
        after = (a - gap) if sub else vz
        vb[i] = after if spike else (a if free else vb[i])
        rb[i] = r_spk if spike else max(r - 1, 0)


@njit(cache=True)
def _stdp_projection(
    p, B, lo, hi, post0, n_post, po, so, indptr, indices, weights, wsh, prm, flg, xoff, x,
    csc_ptr, csc_perm, csc_rows, co, cso, spk, nspk, sflag, pre_b, pre_i, post_b, post_j,
    rbuf, cbuf, gated, gate, wflag, tk, tw,
):
    """One step of pair STDP on plastic projection ``p`` (see :func:`stdp_step`); weights and
    traces in place. Returns the (possibly grown) change buffers.

    ``gated``: the projection has a per-synapse gate ``gate`` (global synapse ids): the step's
    change of every touched synapse is scaled, ``w = w_old + g (w_new - w_old)`` (exactly
    ``w_new`` where ``g == 1`` and ``w_old`` where ``g == 0``, as
    :func:`neuroplastic.continual.gate.gated_update`). The old weights of the touched synapses
    are listed once each in ``tk``/``tw`` (``wflag`` marks them; cleared again on return).
    Synapse ``k`` (global id) has its weight at ``weights[wsh + k]``."""
    dec_pre, dec_post, a_c, a_a, w0, scale = prm[0], prm[1], prm[2], prm[3], prm[4], prm[5]
    w_min, w_max = prm[6], prm[7]
    has_w0, mult, clip, nearest = flg[0] != 0, flg[1] != 0, flg[2] != 0, flg[3] != 0
    n_pre = hi - lo
    xa, xb = xoff[0], xoff[1]
    # 1. decay the traces; list the spikes in torch.nonzero order (trial, then neuron)
    for b in range(B):
        for i in range(n_pre):
            x[b, xa + i] *= dec_pre
        for j in range(n_post):
            x[b, xb + j] *= dec_post
    m_pre = 0
    m_post = 0
    for b in range(B):
        for s in range(nspk[b]):
            i = spk[b, s]
            if i >= lo and i < hi:
                pre_b[m_pre] = b
                pre_i[m_pre] = i - lo
                m_pre += 1
        for s in range(nspk[b]):
            i = spk[b, s]
            if i >= post0 and i < post0 + n_post:
                post_b[m_post] = b
                post_j[m_post] = i - post0
                m_post += 1
    if m_pre == 0 and m_post == 0:
        return rbuf, cbuf
    n_t = 0
    if gated:  # list the synapses this step touches, with their weights before it
        for a in range(m_pre):
            r = pre_i[a]
            for e in range(indptr[po + r], indptr[po + r + 1]):
                k = so + e
                if not wflag[k]:
                    wflag[k] = 1
                    tk[n_t] = k
                    tw[n_t] = weights[wsh + k]
                    n_t += 1
        for a in range(m_post):
            j = post_j[a]
            for q in range(csc_ptr[co + j], csc_ptr[co + j + 1]):
                k = so + csc_perm[cso + q]
                if not wflag[k]:
                    wflag[k] = 1
                    tk[n_t] = k
                    tw[n_t] = weights[wsh + k]
                    n_t += 1
    if mult:  # every change sees the weights at the start of the step: buffer them
        n_r = 0
        for a in range(m_pre):
            r = pre_i[a]
            n_r += indptr[po + r + 1] - indptr[po + r]
        n_c = 0
        for a in range(m_post):
            j = post_j[a]
            n_c += csc_ptr[co + j + 1] - csc_ptr[co + j]
        if n_r > rbuf.shape[0]:
            rbuf = np.empty(max(n_r, 2 * rbuf.shape[0]))
        if n_c > cbuf.shape[0]:
            cbuf = np.empty(max(n_c, 2 * cbuf.shape[0]))
    # 2. rows of the spiking pre neurons (acausal pairs, + W(0) for coincident post spikes)
    n_r = 0
    for a in range(m_pre):
        b = pre_b[a]
        r = pre_i[a]
        for e in range(indptr[po + r], indptr[po + r + 1]):
            j = indices[so + e]
            p0 = a_a * x[b, xb + j]
            k = so + e
            if mult:
                w_old = weights[wsh + k]
                d = 0.0 + _soft(p0, w_old, True, w_min, w_max)
                if has_w0:
                    p1 = w0 * (1.0 if sflag[b, post0 + j] else 0.0)
                    d = d + _soft(p1, w_old, True, w_min, w_max)
                rbuf[n_r] = d * scale
                n_r += 1
            else:
                if has_w0:
                    d = (0.0 + p0) + w0 * (1.0 if sflag[b, post0 + j] else 0.0)
                else:
                    d = p0
                weights[wsh + k] += d * scale
    # 3. columns of the spiking post neurons (causal pairs)
    n_c = 0
    for a in range(m_post):
        b = post_b[a]
        j = post_j[a]
        for q in range(csc_ptr[co + j], csc_ptr[co + j + 1]):
            k = so + csc_perm[cso + q]
            d = a_c * x[b, xa + csc_rows[cso + q]]
            if mult:
                cbuf[n_c] = (0.0 + _soft(d, weights[wsh + k], True, w_min, w_max)) * scale
                n_c += 1
            else:
                weights[wsh + k] += d * scale
    # 4. add the buffered changes (rows, then columns), then clip the touched synapses
    if mult:
        n_r = 0
        for a in range(m_pre):
            r = pre_i[a]
            for e in range(indptr[po + r], indptr[po + r + 1]):
                weights[wsh + so + e] += rbuf[n_r]
                n_r += 1
        n_c = 0
        for a in range(m_post):
            j = post_j[a]
            for q in range(csc_ptr[co + j], csc_ptr[co + j + 1]):
                weights[wsh + so + csc_perm[cso + q]] += cbuf[n_c]
                n_c += 1
    if clip:
        for a in range(m_pre):
            r = pre_i[a]
            for e in range(indptr[po + r], indptr[po + r + 1]):
                y = weights[wsh + so + e]
                if y < w_min:
                    y = w_min
                if y > w_max:
                    y = w_max
                weights[wsh + so + e] = y
        for a in range(m_post):
            j = post_j[a]
            for q in range(csc_ptr[co + j], csc_ptr[co + j + 1]):
                k = so + csc_perm[cso + q]
                y = weights[wsh + k]
                if y < w_min:
                    y = w_min
                if y > w_max:
                    y = w_max
                weights[wsh + k] = y
    # 4b. gate the step's change of every touched synapse
    if gated:
        for a in range(n_t):
            k = tk[a]
            g = gate[k]
            if g == 0.0:
                weights[wsh + k] = tw[a]
            elif g != 1.0:
                weights[wsh + k] = tw[a] + g * (weights[wsh + k] - tw[a])
            wflag[k] = 0
    # 5. bump the traces of the neurons that spiked
    for a in range(m_pre):
        if nearest:
            x[pre_b[a], xa + pre_i[a]] = 1.0
        else:
            x[pre_b[a], xa + pre_i[a]] += 1.0
    for a in range(m_post):
        if nearest:
            x[post_b[a], xb + post_j[a]] = 1.0
        else:
            x[post_b[a], xb + post_j[a]] += 1.0
    return rbuf, cbuf


@njit(cache=True)
def _run_steps(
    t0,
    n_steps,
    n_lif,
    n_total,
    # state
    v,
    isyn,
    theta,
    ref_left,
    buf,
    # per-neuron coefficients
    decay_v,
    v_rest,
    v_reset,
    v_thresh,
    drive_ext,
    decay_syn,
    drive_syn,
    noise_scale,
    decay_theta,
    theta_plus,
    ref_steps,
    sub_reset,
    q_step,
    q_lo,
    q_hi,
    q_coef_unused,
    rounding,
    overflow,
    digital_idx,
    # LIF neurons in segments seg_bounds[s] .. seg_bounds[s + 1]; seg_fast[s] != 0: analog,
    # every coefficient equal, no threshold adaptation, at most 2 channels (fused update)
    seg_bounds,
    seg_fast,
    # inputs for this segment (row k = step t0 + k)
    i_ext,
    i_ext_t,
    has_i_ext_t,
    noise,
    has_noise,
    src_spikes,
    # projections
    proj_pre_start,
    proj_pre_stop,
    proj_post_start,
    proj_channel,
    proj_ptr_off,
    proj_syn_off,
    indptr,
    indices,
    weights,
    proj_woff,
    proj_wval,
    delays,
    proj_delay,
    # plasticity (pair STDP on traces; see Simulation._build_plasticity)
    proj_plastic,
    stdp_prm,
    stdp_flags,
    stdp_xoff,
    stdp_x,
    csc_ptr,
    csc_perm,
    csc_rows,
    csc_ptr_off,
    csc_syn_off,
    # importance gates of plastic projections (continual.gate): proj_gated[p] != 0 when
    # projection p has one; gate holds one factor in [0, 1] per synapse (all nnz) when any has
    proj_gated,
    gate,
    # counters and monitors
    spike_count,
    synops,
    pop_of,
    pop_counts,
    mon_mask,
    ev_step,
    ev_batch,
    ev_neuron,
    ev_n,
    rec_idx,
    rec_stride,
    rec_v,
    rec_theta,
    rec_isyn,
    rec_n,
):
    """Advance up to ``n_steps``; returns the number of steps done (stops early only when the
    spike-event buffer could overflow in the next step)."""
    B = v.shape[0]
    N = n_total
    C = isyn.shape[1]
    D = buf.shape[0]
    P = proj_pre_start.shape[0]
    ev_cap = ev_step.shape[0]
    n_mon = 0
    for i in range(N):
        if mon_mask[i]:
            n_mon += 1
    # runs of equal pop_of (populations are contiguous ranges): spikes are listed in ascending
    # order, so a walk over the runs finds each spike's population without reading pop_of at
    # random (a cache miss per spike on large networks)
    n_runs = 1 if N else 0
    for i in range(1, N):
        if pop_of[i] != pop_of[i - 1]:
            n_runs += 1
    run_end = np.empty(n_runs, dtype=np.int64)
    run_pop = np.empty(n_runs, dtype=np.int64)
    u = 0
    for i in range(N):
        if i + 1 == N or pop_of[i + 1] != pop_of[i]:
            run_end[u] = i + 1
            run_pop[u] = pop_of[i]
            u += 1
    spk = np.empty((B, N), dtype=np.int64)  # spiking neuron ids per batch
    nspk = np.zeros(B, dtype=np.int64)
    row_a = np.empty(N, dtype=np.int64)  # bounds of the rows of a step's spikes (step 4)
    row_z = np.empty(N, dtype=np.int64)
    touched = np.zeros(1, dtype=np.int64)  # sum of the indices read ahead: keeps the loads
    # the state's precision (float64, or float32: then every float of the membrane update is
    # float32 — arrays, coefficients, this zero — and no float64 literal promotes it)
    zero = np.zeros(1, v.dtype)[0]
    acc = np.empty(n_lif, v.dtype)
    n_dig = digital_idx.shape[0]
    dacc = np.empty(n_dig, v.dtype)
    n_words = (n_lif + 7) // 8
    flag = np.zeros(n_words * 8, dtype=np.uint8)  # padded: scanned 8 bytes at a time
    flag_words = flag.view(np.uint64)
    has_theta = False
    for i in range(n_lif):
        if theta_plus[i] != 0.0:
            has_theta = True
    R = rec_idx.shape[0]
    has_plastic = False
    for p in range(P):
        if proj_plastic[p]:
            has_plastic = True
    sflag = np.zeros((B, N) if has_plastic else (0, 0), dtype=np.uint8)
    pl_b = np.empty(B * N if has_plastic else 0, dtype=np.int64)
    pl_i = np.empty(B * N if has_plastic else 0, dtype=np.int64)
    pl_b2 = np.empty(B * N if has_plastic else 0, dtype=np.int64)
    pl_j = np.empty(B * N if has_plastic else 0, dtype=np.int64)
    rbuf = np.empty(16)
    cbuf = np.empty(16)
    any_gated = False
    for p in range(P):
        if proj_plastic[p] and proj_gated[p]:
            any_gated = True
    n_syn = gate.shape[0] if any_gated else 0
    wflag = np.zeros(n_syn, dtype=np.uint8)
    tk = np.empty(n_syn, dtype=np.int64)
    tw = np.empty(n_syn)
    S = seg_fast.shape[0]
    fast = np.zeros(S, dtype=np.bool_)
    seg_cur = np.ones(S, dtype=np.bool_)
    for sg in range(S):  # a fast segment also needs a zero threshold offset (theta)
        fast[sg] = seg_fast[sg] != 0 and C <= 2
        seg_cur[sg] = has_i_ext_t
        for b in range(B):
            for i in range(seg_bounds[sg], seg_bounds[sg + 1]):
                if theta[b, i] != 0.0:
                    fast[sg] = False
                if i_ext[b, i] != 0.0 or np.signbit(i_ext[b, i]):  # only +0.0 is skipped
                    seg_cur[sg] = True
    for k in range(n_steps):
        t = t0 + k
        if ev_n[0] + B * n_mon > ev_cap:
            return k
        for b in range(B):
            ns = 0
            cur = i_ext_t[k, b] if has_i_ext_t else i_ext[b]
            # ---- 1a. digital neurons: the same map in fixed point, every product quantized
            for di in range(n_dig):
                i = digital_idx[di]
                q = q_step[i]
                rm = rounding[i]
                x = v_rest[i] + _quantize((v[b, i] - v_rest[i]) * decay_v[i], q, rm)
                x = x + _quantize(drive_ext[i] * cur[i], q, rm)
                for c in range(C):
                    x = x + _quantize(drive_syn[c, i] * isyn[b, c, i], q, rm)
                dacc[di] = _overflow(x, q, q_lo[i], q_hi[i], overflow[i])
            # ---- 1b. membrane update, analog arithmetic (vectorizable loops on 1-D views)
            vb = v[b]
            thb = theta[b]
            rb = ref_left[b]
            nz = noise[k, b] if has_noise else cur
            for sg in range(S):
                lo = seg_bounds[sg]
                hi = seg_bounds[sg + 1]
                ulo = np.uint64(lo)  # unsigned: no wraparound, the loops vectorize
                uhi = np.uint64(hi)
                if fast[sg]:
                    _fused_segment(lo, hi, C == 2, has_noise, seg_cur[sg], vb, isyn[b, 0],
                                   isyn[b, C - 1], rb, flag, cur, nz, decay_v, v_rest,
                                   v_thresh, drive_ext, decay_syn, drive_syn, noise_scale,
                                   v_reset, sub_reset, ref_steps, zero)
                    continue
                for i in range(ulo, uhi):
                    acc[i] = (v_rest[i] + (vb[i] - v_rest[i]) * decay_v[i]) + drive_ext[i] * cur[i]
                for c in range(C):
                    ib = isyn[b, c]
                    ds = decay_syn[c]
                    dr = drive_syn[c]
                    for i in range(ulo, uhi):
                        acc[i] = acc[i] + dr[i] * ib[i]
                    for i in range(ulo, uhi):
                        ib[i] = ib[i] * ds[i]
                if has_noise:
                    for i in range(ulo, uhi):
                        acc[i] = acc[i] + noise_scale[i] * nz[i]
                if has_theta:
                    for i in range(ulo, uhi):
                        thb[i] = thb[i] * decay_theta[i]
            for di in range(n_dig):
                i = digital_idx[di]
                q = q_step[i]
                acc[i] = dacc[di]
                for c in range(C):
                    isyn[b, c, i] = _overflow(
                        _quantize(isyn[b, c, i], q, rounding[i]), q, q_lo[i], q_hi[i], overflow[i]
                    )
                theta[b, i] = _overflow(
                    _quantize(theta[b, i], q, rounding[i]), q, q_lo[i], q_hi[i], overflow[i]
                )
            # ---- 1c. threshold and refractoriness (branch-free loops that vectorize; one
            # written array per loop keeps LLVM's alias checks cheap), then reset the spikers
            for sg in range(S):
                if fast[sg]:
                    continue
                ulo = np.uint64(seg_bounds[sg])
                uhi = np.uint64(seg_bounds[sg + 1])
                for i in range(ulo, uhi):
                    flag[i] = (rb[i] == 0) & (acc[i] > v_thresh[i] + thb[i])
                for i in range(ulo, uhi):
                    vb[i] = acc[i] if rb[i] == 0 else vb[i]
                for i in range(ulo, uhi):
                    rb[i] = max(rb[i] - 1, 0)
            sg = 0  # the segment of neuron i (spikes are listed in ascending order)
            for w in range(n_words):
                if flag_words[w] == 0:
                    continue
                for i in range(8 * w, 8 * w + 8):
                    if not flag[i]:
                        continue
                    while sg + 1 < S and i >= seg_bounds[sg + 1]:
                        sg += 1
                    spk[b, ns] = i
                    ns += 1
                    if fast[sg]:  # reset already, in the fused pass
                        continue
                    if sub_reset[i] == 1:
                        vb[i] = vb[i] - (v_thresh[i] - v_reset[i])
                    else:
                        vb[i] = v_reset[i]
                    r = ref_steps[i] - 1
                    rb[i] = r if r > 0 else 0
                    if has_theta:
                        thb[i] = _overflow(
                            thb[i] + theta_plus[i], q_step[i], q_lo[i], q_hi[i], overflow[i]
                        )
            # ---- 2. sources
            for i in range(n_lif, N):
                if src_spikes[k, b, i - n_lif]:
                    spk[b, ns] = i
                    ns += 1
            nspk[b] = ns
            # ---- 3. counters and monitors
            u = 0
            for s in range(ns):
                i = spk[b, s]
                spike_count[i] += 1
                while i >= run_end[u]:
                    u += 1
                pop_counts[k, b, run_pop[u]] += 1
                if n_mon and mon_mask[i]:
                    e = ev_n[0]
                    ev_step[e] = t
                    ev_batch[e] = b
                    ev_neuron[e] = i
                    ev_n[0] = e + 1
        # ---- 4. propagate, projection-major, neurons ascending, synapses in row order
        slot_now = t % D
        for p in range(P):
            lo = proj_pre_start[p]
            hi = proj_pre_stop[p]
            ch = proj_channel[p]
            post0 = proj_post_start[p]
            po = proj_ptr_off[p]
            so = proj_syn_off[p]
            dp = proj_delay[p] - 1  # -1: per-synapse delays
            wo = proj_woff[p]  # -1: one weight wv for every synapse (no per-synapse array)
            wv = proj_wval[p]
            for b in range(B):
                # first the bounds of this step's rows, then one load per cache line of each
                # row (16 int32 indices): independent loads whose cache misses overlap, where
                # the scatter below would wait for them row after row (at 400k neurons the
                # rows and row pointers are out of cache: the step is ~25 % faster)
                m = 0
                for s in range(nspk[b]):
                    i = spk[b, s]
                    if i < lo or i >= hi:
                        continue
                    r = i - lo
                    row_a[m] = indptr[po + r]
                    row_z[m] = indptr[po + r + 1]
                    m += 1
                for q in range(m):
                    for e in range(row_a[q], row_z[q], 16):
                        touched[0] += indices[so + e]
                for q in range(m):
                    a = row_a[q]
                    z = row_z[q]
                    synops[p] += z - a
                    ix = indices[so + a : so + z]
                    if dp >= 0:  # one delay for all: straight in, or one ring-buffer slot
                        tgt = isyn[b, ch] if dp == 0 else buf[(t + dp) % D, b, ch]
                        if wo < 0:
                            for e in range(np.uint64(z - a)):
                                tgt[post0 + ix[e]] += wv
                        else:
                            ws = weights[wo + a : wo + z]
                            for e in range(np.uint64(z - a)):
                                tgt[post0 + ix[e]] += ws[e]
                        continue
                    for e in range(z - a):
                        j = post0 + ix[e]
                        d = delays[so + a + e]
                        w = wv if wo < 0 else weights[wo + a + e]
                        if d == 0:
                            isyn[b, ch, j] += w
                        else:
                            buf[(t + d) % D, b, ch, j] += w
        # ---- 4b. plasticity: pair STDP on this step's spikes, projection by projection
        if has_plastic:
            for b in range(B):
                for s in range(nspk[b]):
                    sflag[b, spk[b, s]] = 1
            for p in range(P):
                if not proj_plastic[p]:
                    continue
                rbuf, cbuf = _stdp_projection(
                    p, B, proj_pre_start[p], proj_pre_stop[p], proj_post_start[p],
                    stdp_xoff[p, 2],
                    proj_ptr_off[p], proj_syn_off[p], indptr, indices, weights,
                    proj_woff[p] - proj_syn_off[p], stdp_prm[p],
                    stdp_flags[p], stdp_xoff[p], stdp_x, csc_ptr, csc_perm, csc_rows,
                    csc_ptr_off[p], csc_syn_off[p], spk, nspk, sflag, pl_b, pl_i, pl_b2, pl_j,
                    rbuf, cbuf, proj_gated[p] != 0, gate, wflag, tk, tw,
                )
            for b in range(B):
                for s in range(nspk[b]):
                    sflag[b, spk[b, s]] = 0
        # ---- 5. delayed arrivals of this step
        if D > 1:
            for b in range(B):
                for c in range(C):
                    for i in range(n_lif):
                        x = buf[slot_now, b, c, i]
                        if x != 0.0:
                            isyn[b, c, i] = isyn[b, c, i] + x
                            buf[slot_now, b, c, i] = 0.0
        # ---- 6. digital neurons keep their currents on the fixed-point grid
        for di in range(digital_idx.shape[0]):
            i = digital_idx[di]
            for b in range(B):
                for c in range(C):
                    isyn[b, c, i] = _overflow(
                        _quantize(isyn[b, c, i], q_step[i], rounding[i]),
                        q_step[i],
                        q_lo[i],
                        q_hi[i],
                        overflow[i],
                    )
        # ---- 7. sampled state
        if R > 0 and t % rec_stride == 0:
            m = rec_n[0]
            for b in range(B):
                for r in range(R):
                    i = rec_idx[r]
                    rec_v[m, b, r] = v[b, i]
                    rec_theta[m, b, r] = theta[b, i]
                    for c in range(C):
                        rec_isyn[m, b, r, c] = isyn[b, c, i]
            rec_n[0] = m + 1
    return n_steps


# ----------------------------------------------------------------------------- entry point
run_steps = checked(RUN_STEPS, "run_steps")(_run_steps)
