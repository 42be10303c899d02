r"""Izhikevich (2007) dopamine-modulated STDP network (``daspnet.m``): compiled and reference loops.

Two implementations of exactly the same per-step arithmetic:

* :func:`run_block` — numba-compiled, advances the network by a block of 1 ms steps;
* :func:`run_block_reference` — plain numpy, vectorised per step, written independently from
  the MATLAB source; tested to give bit-identical spikes, weights, eligibilities and dopamine.

Schedule of step ``k`` (time ``k + 1`` ms), following ``daspnet.m`` line by line:

1. thalamic input ``I = 13 (r - 0.5)`` per neuron (``r`` uniform, counter-based, see below);
2. neurons with ``v >= 30`` fire: ``v ← c``, ``u ← u + d``; their STDP trace is set to 0.1;
3. LTP: for every excitatory synapse onto a fired neuron, ``c_ij += x_pre`` read ``delay`` steps
   back (the presynaptic trace at the spike's arrival);
4. delivery: spikes fired ``lag = 0 .. D-1`` steps ago reach the synapses of delay ``lag + 1``
   (newest first; within a step in ascending neuron order, synapses in column order):
   ``I_post += s`` where ``deliver`` is set; LTD on excitatory synapses ``c_ij -= 1.5 x_post``.
   ``deliver`` reproduces MATLAB's ``I(ind) = I(ind) + s'``: when ``ind`` repeats a target
   (two synapses of one neuron, same delay, onto the same neuron) only the last one counts;
5. ``v`` two Euler half-steps of 0.5 ms, ``u`` one 1 ms step;
6. trace ``x ← 0.95 x``; dopamine ``DA ← 0.995 DA``;
7. every 10 ms: ``s ← clip(s + (0.002 + DA) c, 0, s_max)`` on excitatory synapses, ``c ← 0.99 c``;
8. if the postsynaptic neuron ``n2`` of the chosen synapse fires less than 20 ms after ``n1``
   (strictly later), a reward is scheduled ``1000 + ceil(2000 r)`` ms later; at a scheduled
   time ``DA += 0.5``.

Eligibility ``c`` (``sd`` in the MATLAB code) is the sum of the STDP window values. Random
numbers are counter-based (a 32-bit integer hash of ``(seed, step, neuron)``,
:func:`uniform_hash`), so a run split into blocks of any length is identical to one call, and
both implementations draw the same numbers without sharing a generator.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from neuroplastic.kernels._checks import checked

__all__ = [
    "REWARD_RING",
    "run_block",
    "run_block_reference",
    "uniform_hash",
]

REWARD_RING = 4096  # slots of the pending-reward ring (rewards come at most 3000 ms later)
_M32 = 0xFFFFFFFF


@njit(cache=True, inline="always")
def _mix32(x):
    """Integer hash of a 32-bit value held in a uint64 (lowbias32, C. Wellons)."""
    m = np.uint64(0xFFFFFFFF)
    x = x & m
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x7FEB352D)) & m
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(0x846CA68B)) & m
    x ^= x >> np.uint64(16)
    return x


@njit(cache=True, inline="always")
def _step_key(seed32, k):
    return _mix32(_mix32(np.uint64(seed32) ^ _mix32(np.uint64(k))) + np.uint64(0x9E3779B9))


@njit(cache=True, inline="always")
def _uniform(key, i):
    return np.float64(_mix32(key + np.uint64(i))) * 2.3283064365386963e-10  # 2**-32


def uniform_hash(seed32: int, k: np.ndarray | int, i: np.ndarray) -> np.ndarray:
    """Uniform numbers in [0, 1) for step(s) ``k`` and indices ``i`` (numpy twin of the kernel):
    shape ``i.shape`` for one step, ``(len(k), len(i))`` for an array of steps."""

    def mix(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.uint64) & np.uint64(_M32)
        x ^= x >> np.uint64(16)
        x = (x * np.uint64(0x7FEB352D)) & np.uint64(_M32)
        x ^= x >> np.uint64(15)
        x = (x * np.uint64(0x846CA68B)) & np.uint64(_M32)
        x ^= x >> np.uint64(16)
        return x

    key = mix(
        mix(np.uint64(seed32) ^ mix(np.asarray(k, dtype=np.uint64))) + np.uint64(0x9E3779B9)
    )
    return mix(key[..., None] + np.asarray(i, dtype=np.uint64)).astype(np.float64) * 2.0**-32


@njit(cache=True)
def _run_block(
    k0,
    n_steps,
    seed32,
    n_exc,
    max_delay,
    # neuron state and parameters (N,)
    v,
    u,
    a,
    b,
    c,
    d,
    # synapses (N, M)
    post,
    s,
    sd,
    grp,  # (N, D + 1) int: synapses of delay j are columns grp[n, j-1] .. grp[n, j]-1
    deliver,  # (N, M) bool: whether the synapse's weight reaches the target's input current
    in_ptr,  # (N + 1,) CSC over excitatory synapses by target
    in_syn,  # flat synapse index n*M + m
    in_delay,  # their delays (1..D)
    # plasticity state
    trace,  # (D + 1, N) STDP trace ring, column (k + D) % (D + 1) is "now"
    fired_ring,  # (D, N) int32 fired neurons of the last D steps
    fired_cnt,  # (D,) counts
    sched,  # (REWARD_RING,) int32 pending rewards per ms
    scal,  # float64 [DA]
    iscal,  # int64 [n1_last_fire_step]
    # experiment constants
    n1,
    syn,
    n2,
    s_max,
    interval,  # coincidence window (ms): n2 within this after n1 triggers a reward (20)
    rew_min,  # reward delay = rew_min + ceil(rew_span * r) ms (1000, 2000)
    rew_span,
    release,  # dopamine per reward (0.5)
    # records
    rec_w,  # (n_steps // 10,) chosen weight every 10 ms
    rec_c,  # (n_steps // 10,) its eligibility every 10 ms
    rec_da,  # (n_steps // 10,) dopamine every 10 ms
    counts,  # int64 [exc spikes, inh spikes, rewards, reward triggers]
    reward_steps,  # int64 (cap,) steps at which DA was released (first counts[2] used)
):
    n = v.shape[0]
    m_syn = post.shape[1]
    dp1 = max_delay + 1
    current = np.empty(n)
    fired = np.empty(n, dtype=np.int32)
    da = scal[0]
    n1_last = iscal[0]
    for kk in range(n_steps):
        k = k0 + kk
        key = _step_key(seed32, k)
        now = (k + max_delay) % dp1
        for i in range(n):
            current[i] = 13.0 * (_uniform(key, i) - 0.5)
        nf = 0
        for i in range(n):
            if v[i] >= 30.0:
                v[i] = c[i]
                u[i] = u[i] + d[i]
                trace[now, i] = 0.1
                fired[nf] = i
                nf += 1
        # LTP: presynaptic trace at the arrival of its spike
        for f in range(nf):
            i = fired[f]
            for q in range(in_ptr[i], in_ptr[i + 1]):
                flat = in_syn[q]
                pre = flat // m_syn
                col = (now - in_delay[q]) % dp1
                sd[pre, flat - pre * m_syn] += trace[col, pre]
        slot = k % max_delay
        for f in range(nf):
            fired_ring[slot, f] = fired[f]
        fired_cnt[slot] = nf
        # delivery and LTD
        for lag in range(max_delay):
            if k - lag < 0:
                break
            sl = (k - lag) % max_delay
            for f in range(fired_cnt[sl]):
                src = fired_ring[sl, f]
                for col in range(grp[src, lag], grp[src, lag + 1]):
                    p = post[src, col]
                    if deliver[src, col]:
                        current[p] += s[src, col]
                    if src < n_exc:
                        sd[src, col] -= 1.5 * trace[now, p]
        nxt = (k + 1 + max_delay) % dp1
        for i in range(n):
            vi = v[i]
            ui = u[i]
            ii = current[i]
            vi = vi + 0.5 * ((0.04 * vi + 5.0) * vi + 140.0 - ui + ii)
            vi = vi + 0.5 * ((0.04 * vi + 5.0) * vi + 140.0 - ui + ii)
            v[i] = vi
            u[i] = ui + a[i] * (b[i] * vi - ui)
            trace[nxt, i] = 0.95 * trace[now, i]
        for f in range(nf):
            if fired[f] < n_exc:
                counts[0] += 1
            else:
                counts[1] += 1
        da = da * 0.995
        if (k + 1) % 10 == 0:
            g = 0.002 + da
            for i in range(n_exc):
                for col in range(m_syn):
                    x = s[i, col] + g * sd[i, col]
                    if x > s_max:
                        x = s_max
                    if x < 0.0:
                        x = 0.0
                    s[i, col] = x
                    sd[i, col] = 0.99 * sd[i, col]
            r = (k + 1) // 10 - 1 - k0 // 10
            if 0 <= r < rec_w.shape[0]:
                rec_w[r] = s[n1, syn]
                rec_c[r] = sd[n1, syn]
                rec_da[r] = da
        fired_n1 = False
        fired_n2 = False
        for f in range(nf):
            if fired[f] == n1:
                fired_n1 = True
            if fired[f] == n2:
                fired_n2 = True
        if fired_n1:
            n1_last = k
        if fired_n2 and k - n1_last < interval and k > n1_last:
            delay = rew_min + np.int64(np.ceil(rew_span * _uniform(key, n)))
            sched[(k + delay) % sched.shape[0]] += 1
            counts[3] += 1
        rs = k % sched.shape[0]
        if sched[rs] > 0:
            da = da + release
            sched[rs] = 0
            if counts[2] < reward_steps.shape[0]:
                reward_steps[counts[2]] = k
            counts[2] += 1
    scal[0] = da
    iscal[0] = n1_last


def run_block_reference(
    k0,
    n_steps,
    seed32,
    n_exc,
    max_delay,
    v,
    u,
    a,
    b,
    c,
    d,
    post,
    s,
    sd,
    grp,
    deliver,
    in_ptr,
    in_syn,
    in_delay,
    trace,
    fired_ring,
    fired_cnt,
    sched,
    scal,
    iscal,
    n1,
    syn,
    n2,
    s_max,
    interval,
    rew_min,
    rew_span,
    release,
    rec_w,
    rec_c,
    rec_da,
    counts,
    reward_steps,
):
    """Plain numpy twin of :func:`run_block` (same arguments, same in-place updates)."""
    n, m_syn = post.shape
    dp1 = max_delay + 1
    sd_flat = sd.reshape(-1)
    for kk in range(n_steps):
        k = k0 + kk
        now = (k + max_delay) % dp1
        rnd = uniform_hash(seed32, k, np.arange(n + 1, dtype=np.uint64))
        current = 13.0 * (rnd[:n] - 0.5)
        fired = np.flatnonzero(v >= 30.0)
        v[fired] = c[fired]
        u[fired] = u[fired] + d[fired]
        trace[now, fired] = 0.1
        for i in fired:
            sl = slice(in_ptr[i], in_ptr[i + 1])
            flat = in_syn[sl]
            sd_flat[flat] += trace[(now - in_delay[sl]) % dp1, flat // m_syn]
        slot = k % max_delay
        fired_ring[slot, : fired.size] = fired
        fired_cnt[slot] = fired.size
        for lag in range(min(max_delay, k + 1)):
            sl = (k - lag) % max_delay
            for src in fired_ring[sl, : fired_cnt[sl]]:
                cols = np.arange(grp[src, lag], grp[src, lag + 1])
                targets = post[src, cols]
                live = deliver[src, cols]
                np.add.at(current, targets[live], s[src, cols][live])
                if src < n_exc:
                    sd[src, cols] -= 1.5 * trace[now, targets]
        v[:] = v + 0.5 * ((0.04 * v + 5.0) * v + 140.0 - u + current)
        v[:] = v + 0.5 * ((0.04 * v + 5.0) * v + 140.0 - u + current)
        u[:] = u + a * (b * v - u)
        trace[(k + 1 + max_delay) % dp1] = 0.95 * trace[now]
        counts[0] += int((fired < n_exc).sum())
        counts[1] += int((fired >= n_exc).sum())
        scal[0] = scal[0] * 0.995
        if (k + 1) % 10 == 0:
            s[:n_exc] = np.maximum(
                0.0, np.minimum(s_max, s[:n_exc] + (0.002 + scal[0]) * sd[:n_exc])
            )
            sd[:n_exc] = 0.99 * sd[:n_exc]
            r = (k + 1) // 10 - 1 - k0 // 10
            if 0 <= r < rec_w.shape[0]:
                rec_w[r], rec_c[r], rec_da[r] = s[n1, syn], sd[n1, syn], scal[0]
        if n1 in fired:
            iscal[0] = k
        if n2 in fired and k - iscal[0] < interval and k > iscal[0]:
            delay = rew_min + int(np.ceil(rew_span * rnd[n]))
            sched[(k + delay) % sched.size] += 1
            counts[3] += 1
        if sched[k % sched.size] > 0:
            scal[0] = scal[0] + release
            sched[k % sched.size] = 0
            if counts[2] < reward_steps.size:
                reward_steps[counts[2]] = k
            counts[2] += 1


# What every argument of :func:`_run_block` must be (neuroplastic/kernels/_checks.py): the loop
# does no bounds checks. n neurons, M synapses per neuron, K excitatory synapses by target.
RUN_BLOCK = {
    "k0": "int >=0", "n_steps": "int >=0", "seed32": "int >=0",
    "v": "f8[n] out", "u": "f8[n] out", **{k: "f8[n]" for k in "abcd"},
    "n_exc": "int >=0 <=n", "max_delay": "int >=1",
    "post": "i4[n,M] >=0 <n", "s": "f8[n,M] out", "sd": "f8[n,M] out",
    "grp": "i8[n,max_delay+1] >=0 <=M", "deliver": "b1[n,M]",
    "in_syn": "i8[K] >=0 <n*M", "in_delay": "i8[K]", "in_ptr": "i8[n+1] >=0 <=K",
    "trace": "f8[max_delay+1,n] out", "fired_ring": "i4[max_delay,n] out >=0 <n",
    "fired_cnt": "i8[max_delay] out >=0 <=n", "sched": "i4[>=1] out", "scal": "f8[1] out",
    "iscal": "i8[1] out",
    "n1": "int >=0 <n", "syn": "int >=0 <M", "n2": "int >=0 <n", "s_max": "float",
    "interval": "int", "rew_min": "int", "rew_span": "float", "release": "float",
    "rec_w": "f8[*] out", "rec_c": "f8[*] out", "rec_da": "f8[*] out",
    "counts": "i8[4] out >=0", "reward_steps": "i8[*] out",
}
run_block = checked(RUN_BLOCK, "run_block")(_run_block)
