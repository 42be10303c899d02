"""Compiled presentation loop of the Diehl & Cook (2015) network (numba, CPU, one core).

One call presents one image: it resets the per-presentation state, runs ``n_steps`` clock
steps of the excitatory/inhibitory LIF layers with event-driven propagation (only rows of input
neurons that spiked are read), applies pair STDP on the input→excitatory weights (only rows of
presynaptic spikes and columns of postsynaptic spikes are touched) and finally normalises every
excitatory neuron's incoming weight column. The arithmetic follows the torch reference
:func:`neuroplastic.models.diehl_cook.present_reference` operation by operation (same order of
additions, no fast-math, no FMA contraction), so both give bit-identical spikes and weights.

Importance gate (optional, ``gated``): every weight change inside the loop — each
pre-triggered depression, each post-triggered potentiation and the final normalisation — keeps
the fraction ``gate[i, j]`` in [0, 1] of that change, ``w = w_old + g (w_new - w_old)``,
exactly ``w_new`` where ``g == 1`` and ``w_old`` where ``g == 0``
(:func:`neuroplastic.continual.gate.gated_update`). The gated loops are separate copies, so a
model without a gate runs the ungated code unchanged.

Input spikes are Bernoulli draws per step from a counter-based integer hash (splitmix64's
finaliser) of ``(presentation key, step, input)``: input ``i`` spikes at step ``t`` when
``mix64(key + (t * n_input + i) * GOLDEN) >> 11 < floor(p_i * 2**53)``. Only integer arithmetic
decides a spike, so the numpy reference reproduces the stream exactly, and the draws depend
only on the key, never on chunking or on what ran before.

Coefficients ``prm`` (float64), in this order: ``decay_exc, v_rest_exc, v_reset_exc,
v_thresh_exc, decay_inh, v_rest_inh, v_reset_inh, v_thresh_inh, w_exc_inh, w_inh_exc,
decay_theta, decay_theta_rest, eta_pre, eta_post, w_max, theta_plus``; ``iprm`` (int64):
``ref_exc_steps, ref_inh_steps``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from neuroplastic.kernels._checks import checked

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
TWO53 = 9007199254740992.0  # 2**53


@njit(cache=True, inline="always")
def mix64(z):
    """splitmix64 finaliser (uint64 -> uint64, wrapping arithmetic)."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True)
def presentation_key(base, sample, attempt):
    """Key of one presentation: depends only on (stream base, sample index, attempt)."""
    k = mix64(base ^ mix64(np.uint64(sample) * GOLDEN + np.uint64(1)))
    return mix64(k + np.uint64(attempt) * GOLDEN)


@njit(cache=True)
def _spike_thresholds(xv, rate_hz, dt_ms):
    """Integer thresholds ``floor(min(x * rate * dt / 1000, 1) * 2**53)`` (uint64)."""
    scale = rate_hz * dt_ms * 1e-3
    out = np.empty(xv.shape[0], dtype=np.uint64)
    for k in range(xv.shape[0]):
        p = xv[k] * scale
        if p > 1.0:
            p = 1.0
        out[k] = np.uint64(np.floor(p * TWO53))
    return out


@njit(cache=True, inline="always")
def _gated(w_old, w_new, g):
    """``w_old + g (w_new - w_old)``; exactly ``w_new`` at ``g == 1``, ``w_old`` at ``g == 0``."""
    if g == 1.0:
        return w_new
    if g == 0.0:
        return w_old
    return w_old + g * (w_new - w_old)


@njit(cache=True)
def _present(
    idx,
    thr,
    key,
    n_steps,
    w,
    theta,
    learn,
    normalize,
    target_sum,
    prm,
    iprm,
    table_pre,
    table_post,
    counts,
    raster,
    record,
    gated,
    gate,
):
    """Present one sample; returns ``(exc_spikes, inh_spikes, input_spikes, synops)``.

    Parameters
    ----------
    idx : int64 (nnz,)
        Input neurons that can spike (nonzero pixels), ascending.
    thr : uint64 (nnz,)
        Their spike thresholds (:func:`spike_thresholds`).
    key : uint64
        Presentation key (:func:`presentation_key`).
    n_steps : int
        Clock steps.
    w : float64 (n_input, n_exc)
        Input→excitatory weights, updated in place when ``learn``.
    theta : float64 (n_exc,)
        Adaptive thresholds (mV), updated in place when ``learn``.
    counts : int64 (n_exc,)
        Output: spikes of each excitatory neuron in this presentation (overwritten).
    raster : uint8 (n_steps, n_exc)
        Output when ``record``: the excitatory spike raster.
    gated, gate : bool, float64 (n_input, n_exc)
        With ``gated``, the per-synapse gate of every weight change (see the module notes).
    """
    nnz = idx.shape[0]
    n_in = w.shape[0]
    N = w.shape[1]
    dec_e = prm[0]
    rest_e = prm[1]
    reset_e = prm[2]
    thr_e = prm[3]
    dec_i = prm[4]
    rest_i = prm[5]
    reset_i = prm[6]
    thr_i = prm[7]
    w_ei = prm[8]
    w_ie = prm[9]
    dec_th = prm[10]
    dec_th_rest = prm[11]
    eta_pre = prm[12]
    eta_post = prm[13]
    w_max = prm[14]
    th_plus = prm[15]
    ref_e_steps = iprm[0]
    ref_i_steps = iprm[1]
    one_spike = iprm[2] != 0

    v_e = np.full(N, rest_e)
    v_i = np.full(N, rest_i)
    ref_e = np.zeros(N, dtype=np.int64)
    ref_i = np.zeros(N, dtype=np.int64)
    s_e_prev = np.zeros(N, dtype=np.uint8)
    s_i_prev = np.zeros(N, dtype=np.uint8)
    s_e = np.zeros(N, dtype=np.uint8)
    s_i = np.zeros(N, dtype=np.uint8)
    inp = np.zeros(N)
    xpost = np.zeros(N)
    last_pre = np.full(n_in, -1, dtype=np.int64)
    last_post = np.full(N, -1, dtype=np.int64)
    post_list = np.empty(N, dtype=np.int64)
    pre_list = np.empty(nnz, dtype=np.int64)
    seen_pre = np.empty(nnz, dtype=np.int64)  # inputs that spiked in this presentation
    seen_post = np.empty(N, dtype=np.int64)  # excitatory neurons that spiked
    n_seen_pre = 0
    n_seen_post = 0
    for j in range(N):
        counts[j] = 0
    n_exc = 0
    n_inh = 0
    n_inp = 0
    synops = 0
    n_inh_prev = 0
    for t in range(n_steps):
        # ---- input spikes of this step (counter-based Bernoulli draws)
        n_pre = 0
        base = key + np.uint64(t * n_in) * GOLDEN
        for k in range(nnz):
            h = mix64(base + np.uint64(idx[k]) * GOLDEN)
            if (h >> _S11) < thr[k]:
                i = idx[k]
                pre_list[n_pre] = i
                n_pre += 1
                if learn:
                    if last_pre[i] < 0:
                        seen_pre[n_seen_pre] = i
                        n_seen_pre += 1
                    last_pre[i] = t
        n_inp += n_pre
        synops += n_pre * N
        # ---- event-driven propagation of the spiking rows, fused with pre-triggered
        #      depression by the post trace of earlier steps (Brian2's on_pre order)
        for j in range(N):
            inp[j] = 0.0
        if learn and n_seen_post > 0 and n_pre > 0:
            for b in range(n_seen_post):
                j = seen_post[b]
                xpost[j] = table_post[t - last_post[j]]
            if gated:
                for a in range(n_pre):
                    i = pre_list[a]
                    for j in range(N):
                        wij = w[i, j]
                        inp[j] += wij
                        x = wij - eta_pre * xpost[j]
                        if x < 0.0:
                            x = 0.0
                        w[i, j] = _gated(wij, x, gate[i, j])
            else:
                for a in range(n_pre):
                    i = pre_list[a]
                    for j in range(N):
                        wij = w[i, j]
                        inp[j] += wij
                        x = wij - eta_pre * xpost[j]
                        if x < 0.0:
                            x = 0.0
                        w[i, j] = x
        else:
            for a in range(n_pre):
                i = pre_list[a]
                for j in range(N):
                    inp[j] += w[i, j]
        # ---- excitatory layer: decay, integrate (unless refractory), threshold, reset
        n_post = 0
        best_over = 0.0
        best_j = 0
        for j in range(N):
            v = rest_e + (v_e[j] - rest_e) * dec_e
            if learn:
                theta[j] = theta[j] * dec_th
            s_e[j] = 0
            if ref_e[j] > 0:
                ref_e[j] -= 1
            else:
                v = v + inp[j]
                v = v - w_ie * float(n_inh_prev - s_i_prev[j])
                if v >= thr_e + theta[j]:
                    over = v - (thr_e + theta[j])
                    if n_post == 0 or over > best_over:
                        best_over = over
                        best_j = j
                    s_e[j] = 1
                    v = reset_e
                    ref_e[j] = ref_e_steps
                    post_list[n_post] = j
                    n_post += 1
                    if learn:
                        theta[j] = theta[j] + th_plus
            v_e[j] = v
        if one_spike and n_post > 1:  # keep only the winner's spike
            for b in range(n_post):
                s_e[post_list[b]] = 0
            s_e[best_j] = 1
            post_list[0] = best_j
            n_post = 1
        for b in range(n_post):
            counts[post_list[b]] += 1
        n_exc += n_post
        # ---- inhibitory layer, driven one-to-one by the excitatory spikes of step t-1
        n_inh_now = 0
        for j in range(N):
            v = rest_i + (v_i[j] - rest_i) * dec_i
            s_i[j] = 0
            if ref_i[j] > 0:
                ref_i[j] -= 1
            else:
                if s_e_prev[j]:
                    v = v + w_ei
                if v >= thr_i:
                    s_i[j] = 1
                    v = reset_i
                    ref_i[j] = ref_i_steps
                    n_inh_now += 1
            v_i[j] = v
        synops += n_post + n_inh_now * (N - 1)
        n_inh += n_inh_now
        if record:
            for j in range(N):
                raster[t, j] = s_e[j]
        # ---- post-triggered potentiation by the pre trace (this step's pre spikes included)
        if learn and n_post > 0:
            for a in range(n_seen_pre):  # row-major sweep: each touched row read once
                i = seen_pre[a]
                dw = eta_post * table_pre[t - last_pre[i]]
                if gated:
                    for b in range(n_post):
                        j = post_list[b]
                        wij = w[i, j]
                        x = wij + dw
                        if x > w_max:
                            x = w_max
                        w[i, j] = _gated(wij, x, gate[i, j])
                else:
                    for b in range(n_post):
                        j = post_list[b]
                        x = w[i, j] + dw
                        if x > w_max:
                            x = w_max
                        w[i, j] = x
            for b in range(n_post):
                j = post_list[b]
                if last_post[j] < 0:
                    seen_post[n_seen_post] = j
                    n_seen_post += 1
                last_post[j] = t
        # ---- this step's spikes become step t-1's
        tmp = s_e_prev
        s_e_prev = s_e
        s_e = tmp
        tmp = s_i_prev
        s_i_prev = s_i
        s_i = tmp
        n_inh_prev = n_inh_now
    if learn:
        for j in range(N):
            theta[j] = theta[j] * dec_th_rest
        if normalize:
            colsum = np.zeros(N)
            for i in range(n_in):
                for j in range(N):
                    colsum[j] += w[i, j]
            for j in range(N):
                if colsum[j] > 0.0:
                    colsum[j] = target_sum / colsum[j]
                else:
                    colsum[j] = 1.0
            if gated:
                for i in range(n_in):
                    for j in range(N):
                        wij = w[i, j]
                        w[i, j] = _gated(wij, wij * colsum[j], gate[i, j])
            else:
                for i in range(n_in):
                    for j in range(N):
                        w[i, j] = w[i, j] * colsum[j]
    return n_exc, n_inh, n_inp, synops


@njit(cache=True)
def _run_samples(
    X,
    base,
    first,
    max_rate,
    boost_rate,
    dt_ms,
    min_spikes,
    max_boosts,
    n_steps,
    w,
    theta,
    learn,
    target_sum,
    prm,
    iprm,
    table_pre,
    table_post,
    counts,
    exc_spikes,
    attempts,
    totals,
    gated,
    gate,
):
    """Present the rows of ``X`` ``(B, n_input)`` one after the other, with the boost rule.

    Sample ``b`` is number ``first + b`` of the stream ``base``. Outputs: ``counts`` ``(B, n_exc)``
    and ``exc_spikes`` ``(B,)`` of the last presentation, ``attempts`` ``(B,)``; ``totals`` (4,)
    accumulates exc, inh, input spikes and synops over all presentations.
    """
    B = X.shape[0]
    n_in = X.shape[1]
    c = np.zeros(w.shape[1], dtype=np.int64)
    raster = np.zeros((1, 1), dtype=np.uint8)
    for b in range(B):
        nnz = 0
        for i in range(n_in):
            if X[b, i] > 0.0:
                nnz += 1
        idx = np.empty(nnz, dtype=np.int64)
        xv = np.empty(nnz)
        k = 0
        for i in range(n_in):
            if X[b, i] > 0.0:
                idx[k] = i
                xv[k] = X[b, i]
                k += 1
        a = 0
        while True:
            rate = max_rate + a * boost_rate
            thr = _spike_thresholds(xv, rate, dt_ms)
            key = presentation_key(base, first + b, a)
            ne, ni, nin, syn = _present(
                idx,
                thr,
                key,
                n_steps,
                w,
                theta,
                learn,
                learn,
                target_sum,
                prm,
                iprm,
                table_pre,
                table_post,
                c,
                raster,
                False,
                gated,
                gate,
            )
            totals[0] += ne
            totals[1] += ni
            totals[2] += nin
            totals[3] += syn
            a += 1
            if ne >= min_spikes or a > max_boosts:
                break
        for j in range(w.shape[1]):
            counts[b, j] = c[j]
        exc_spikes[b] = ne
        attempts[b] = a


# ----------------------------------------------------------------------------- entry points
# What every argument must be (neuroplastic/kernels/_checks.py): the loops do no bounds checks.
# The STDP tables are indexed by the steps since the last spike (< n_steps).
_COMMON = {
    "w": "f8[n_in,N] out", "theta": "f8[N] out", "n_steps": "int >=0", "learn": "bool",
    "target_sum": "float", "prm": "f8[16]", "iprm": "i8[3] >=0",
    "table_pre": "f8[>=n_steps]", "table_post": "f8[>=n_steps]", "gated": "bool",
    # the per-synapse gate when gated (else unused, any shape)
    "gate": lambda a: "f8[n_in,N] >=0 <=1" if a["gated"] else "f8[*,*]",
}
PRESENT = {
    **_COMMON, "idx": "i8[nnz] >=0 <n_in", "thr": "u8[nnz]", "key": "int", "normalize": "bool",
    "counts": "i8[N] out", "record": "bool",
    "raster": lambda a: "u1[>=n_steps,N] out" if a["record"] else "u1[*,*] out",
}
RUN_SAMPLES = {
    **_COMMON, "X": "f8[B,n_in]", "base": "int", "first": "int >=0", "max_rate": "float",
    "boost_rate": "float", "dt_ms": "float", "min_spikes": "int", "max_boosts": "int >=0",
    "counts": "i8[B,N] out", "exc_spikes": "i8[B] out", "attempts": "i8[B] out",
    "totals": "i8[4] out",
}
spike_thresholds = checked(
    {"xv": "f8[n]", "rate_hz": "float", "dt_ms": "float"}, "spike_thresholds"
)(_spike_thresholds)
present = checked(PRESENT, "present")(_present)
run_samples = checked(RUN_SAMPLES, "run_samples")(_run_samples)
