"""Izhikevich (2007) distal reward: dopamine-modulated STDP finds the one rewarded synapse.

Izhikevich, E. M. (2007) Solving the distal reward problem through linkage of STDP and dopamine
signaling. Cerebral Cortex 17:2443 — Fig. 1, as in its MATLAB program ``daspnet.m``: 1000
Izhikevich neurons (800 regular-spiking excitatory, 200 fast-spiking inhibitory), 100 random
synapses each (excitatory onto any neuron, inhibitory onto excitatory ones), excitatory weights
start at 1 (maximum 4), inhibitory ones are fixed at −1, every neuron receives uniform random
"thalamic" input in [−6.5, 6.5] mV each 1 ms step, conduction delay 1 ms (``D = 1`` in
``daspnet.m``; ``max_delay_ms`` spreads delays over 1..D ms as in ``spnet.m``). Targets are drawn
with replacement, so ~10% of the excitatory synapses repeat a (source, target) pair; MATLAB's
``I(ind) = I(ind) + s(n, del)'`` then delivers only the last of the repeats (the others still
learn). We do the same by default (``sum_multapses=False``). Summing them instead doubles the
drive of those pairs, which then run away under STDP: in the 1 h run (seed 0) 63% of the
weights that ended at the maximum were such repeats and the rewarded synapse ended below the
others' 99th percentile.

Every STDP pairing (A+ = 0.1, A− = 0.15, τ = 20 ms) is added to a synaptic eligibility trace
``c`` that decays ×0.99 per 10 ms (τ_c ≈ 1 s); every 10 ms each excitatory weight moves by
``(0.002 + DA)·c``; dopamine decays ×0.995 per ms (τ_DA ≈ 200 ms) and jumps by 0.5 at each
reward. A reward is delivered 1–3 s after the postsynaptic neuron ``n2`` of one chosen synapse
``n1 → n2`` fires within 20 ms after ``n1`` — long after the eligibility of any particular
pairing has been buried under the network's other activity. Over an hour the chosen synapse
grows to the maximum while the other weights stay low (the paper's Fig. 1: most end near 0).

Measured, 1 h, final weight / maximum (rewarded; others' 99th percentile; others' median):
``max_delay_ms=1`` (``daspnet.m``) seed 0: 0.95; 0.99; 0.08 — seed 1: 1.00; 0.93; 0.07 — seed 2:
0.98; 0.98; 0.08. ``max_delay_ms=20`` (default, as in the paper) seed 0: 1.00; 0.999; 0.09 — seed
1: 0.99; 0.94; 0.07 — seed 2: 1.00; 0.99; 0.08. The rewarded synapse reaches the maximum after
10-35 min and then fluctuates below it (a reward multiplies the eligibility of that moment by ~10,
so one n2-before-n1 pairing shortly before a reward costs ~1.5); 0.3-1% of the others are also at
the maximum at 1 h and their 99th percentile is still rising, so "above the others' 99th
percentile" holds narrowly or, for seed 0 at ``max_delay_ms=1``, not at the last sample. Both
percentile and weight then round to 1.00, so the metrics say instead where the rewarded synapse
stands: ``rewarded_rank`` among all ``exc_synapses`` (1 = the strongest; equal weights share a
rank), ``rewarded_is_strongest``, ``rewarded_weight_over_mean`` (its weight over the mean of all
excitatory weights) and ``rewarded_rank_percentile`` (the percentage of the others below it).

Resumable at every simulated second (the network's mutable arrays and the recorded series are
checkpointed; the input is counter-based, keyed by the step).

The whole loop is one compiled kernel (:mod:`neuroplastic.kernels.izhikevich_numba`), run in
blocks of 1 s; a numpy reference of the same arithmetic is tested to agree bit for bit.
``backend="nest"`` builds the same network in NEST instead (``izhikevich`` neurons,
``stdp_dopamine_synapse`` + ``volume_transmitter``; the mapping and the stated differences are in
:class:`neuroplastic.interop.nest.DistalRewardNest`); it needs ``max_delay_ms=1`` and, where a
neuron repeats a target, ``sum_multapses=True``, and is not checkpointed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from .._validation import check_int
from ..lab.checkpointer import Checkpointer
from .base import Result, register
from .configs.distal_reward import DistalRewardConfig

__all__ = ["DaspnetNetwork", "DistalRewardConfig", "build_network", "run", "simulate"]


@dataclass
class DaspnetNetwork:
    """All arrays of the network (mutated in place by :func:`simulate`)."""

    config: DistalRewardConfig
    seed32: int
    v: np.ndarray
    u: np.ndarray
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    d: np.ndarray
    post: np.ndarray  # (N, M) int32 targets
    s: np.ndarray  # (N, M) weights
    sd: np.ndarray  # (N, M) eligibility traces
    grp: np.ndarray  # (N, D + 1) delay groups of columns
    deliver: np.ndarray  # (N, M) bool: the synapse's weight reaches the target's current
    in_ptr: np.ndarray
    in_syn: np.ndarray
    in_delay: np.ndarray
    trace: np.ndarray  # (D + 1, N)
    fired_ring: np.ndarray  # (D, N)
    fired_cnt: np.ndarray  # (D,)
    sched: np.ndarray  # pending rewards
    scal: np.ndarray  # [DA]
    iscal: np.ndarray  # [last n1 spike step]
    n2: int
    step: int = 0  # steps simulated so far
    counts: np.ndarray = field(default_factory=lambda: np.zeros(4, dtype=np.int64))
    reward_steps: np.ndarray = field(default_factory=lambda: np.zeros(1 << 16, dtype=np.int64))


def build_network(config: DistalRewardConfig) -> DaspnetNetwork:
    """Random connectivity and initial state of ``daspnet.m`` (deterministic in ``seed``)."""
    ne, ni, m, dmax = config.n_exc, config.n_inh, config.synapses_per_neuron, config.max_delay_ms
    n = ne + ni
    rng = np.random.default_rng([config.seed, 2007])
    seed32 = int(np.random.SeedSequence([config.seed, 32]).generate_state(1)[0])
    post = np.concatenate(
        [rng.integers(0, n, size=(ne, m)), rng.integers(0, ne, size=(ni, m))]
    ).astype(np.int32)
    s = np.concatenate([np.full((ne, m), config.w_init), np.full((ni, m), config.w_inh)])
    s[config.n1, config.syn] = 0.0
    per = m // dmax
    grp = np.empty((n, dmax + 1), dtype=np.int64)
    grp[:ne] = np.arange(dmax + 1) * per
    grp[ne:, 0] = 0
    grp[ne:, 1:] = m
    deliver = np.ones((n, m), dtype=np.bool_)
    if not config.sum_multapses:
        # MATLAB ``I(ind) = I(ind) + s(n, del)'``: a target repeated within one delay group gets
        # the weight of its last synapse only (earlier repeats still learn, but drive nothing)
        for i in range(n):
            for j in range(dmax if i < ne else 1):
                cols = np.arange(grp[i, j], grp[i, j + 1])
                rev = post[i, cols][::-1]
                first_in_rev = np.zeros(cols.size, dtype=np.bool_)
                first_in_rev[np.unique(rev, return_index=True)[1]] = True
                deliver[i, cols] = first_in_rev[::-1]
    flat = np.arange(ne * m, dtype=np.int64)
    targets = post[:ne].reshape(-1)
    order = np.argsort(targets, kind="stable")
    in_ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(targets, minlength=n), out=in_ptr[1:])
    in_syn = flat[order]
    in_delay = (1 + (in_syn % m) // per).astype(np.int64)
    v = np.full(n, -65.0)
    ring = 1 << int(np.ceil(np.log2(config.reward_delay_min_ms + config.reward_delay_span_ms + 2)))
    return DaspnetNetwork(
        config=config,
        seed32=seed32,
        v=v,
        u=0.2 * v,
        a=np.concatenate([np.full(ne, 0.02), np.full(ni, 0.1)]),
        b=np.full(n, 0.2),
        c=np.full(n, -65.0),
        d=np.concatenate([np.full(ne, 8.0), np.full(ni, 2.0)]),
        post=post,
        s=s,
        sd=np.zeros((n, m)),
        grp=grp,
        deliver=deliver,
        in_ptr=in_ptr,
        in_syn=in_syn,
        in_delay=in_delay,
        trace=np.zeros((dmax + 1, n)),
        fired_ring=np.zeros((dmax, n), dtype=np.int32),
        fired_cnt=np.zeros(dmax, dtype=np.int64),
        sched=np.zeros(ring, dtype=np.int32),
        scal=np.zeros(1),
        iscal=np.full(1, -(10**9), dtype=np.int64),
        n2=int(post[config.n1, config.syn]),
    )


def simulate(
    net: DaspnetNetwork, n_steps: int, *, compiled: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Advance ``net`` by ``n_steps`` 1 ms steps (a multiple of 10).

    Returns the chosen synapse's weight, its eligibility and the dopamine level every 10 ms.
    ``compiled=False`` runs the numpy reference (slow; for tests).
    """
    from ..kernels.izhikevich_numba import run_block, run_block_reference

    check_int("n_steps", n_steps, 0)
    if n_steps % 10 or net.step % 10:
        raise ValueError(f"n_steps must be a multiple of 10 ms, got {n_steps}")
    cfg = net.config
    rec = [np.zeros(n_steps // 10) for _ in range(3)]
    fn = run_block if compiled else run_block_reference
    fn(
        net.step, n_steps, net.seed32, cfg.n_exc, cfg.max_delay_ms,
        net.v, net.u, net.a, net.b, net.c, net.d,
        net.post, net.s, net.sd, net.grp, net.deliver, net.in_ptr, net.in_syn, net.in_delay,
        net.trace, net.fired_ring, net.fired_cnt, net.sched, net.scal, net.iscal,
        cfg.n1, cfg.syn, net.n2, cfg.w_max, cfg.interval_ms,
        cfg.reward_delay_min_ms, float(cfg.reward_delay_span_ms), cfg.da_release,
        rec[0], rec[1], rec[2], net.counts, net.reward_steps,
    )  # fmt: skip
    net.step += n_steps
    return rec[0], rec[1], rec[2]


def _others(net: DaspnetNetwork) -> np.ndarray:
    cfg = net.config
    w = net.s[: cfg.n_exc].copy()
    w[cfg.n1, cfg.syn] = np.nan
    return w[~np.isnan(w)]


def _figures(t_w, w, c, t_stats, pct, others, chosen, reward_t, w_max):
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(8, 5.5), sharex=True, height_ratios=(3, 1))
    ax.fill_between(t_stats / 60, pct[:, 0], pct[:, 4], color="0.85", label="others: 1–99 %")
    ax.fill_between(t_stats / 60, pct[:, 1], pct[:, 3], color="0.65", label="others: 25–75 %")
    ax.plot(t_stats / 60, pct[:, 2], color="k", lw=1, label="others: median")
    ax.plot(t_stats / 60, pct[:, 5], color="tab:green", lw=1, label="others: mean")
    ax.plot(t_w / 60, w, color="tab:red", lw=1.2, label="rewarded synapse")
    ax.set_ylabel("weight")
    ax.set_ylim(-0.05 * w_max, 1.05 * w_max)
    ax.legend(loc="center right", fontsize=8)
    ax.set_title("Distal reward (Izhikevich 2007, Fig. 1)")
    ax2.plot(t_w / 60, c, color="tab:blue", lw=0.5, label="eligibility c of the rewarded synapse")
    ax2.plot(reward_t / 60, np.zeros_like(reward_t), "rx", ms=3, label="rewards")
    ax2.set_xlabel("time (min)")
    ax2.legend(loc="upper right", fontsize=8)
    fig.tight_layout()

    fig2, axh = plt.subplots(figsize=(6, 3.6))
    axh.hist(others, bins=np.linspace(0, w_max, 101), color="0.5", label="other exc. synapses")
    axh.set_yscale("log")
    for q, ls in ((50, ":"), (99, "--")):
        x = np.percentile(others, q)
        axh.axvline(x, color="k", ls=ls, lw=1, label=f"others' {q}th percentile ({x:.2f})")
    axh.plot([chosen], [1], "r^", ms=9, label=f"rewarded synapse ({chosen:.2f})")
    axh.set_xlabel("excitatory weight")
    axh.set_ylabel("synapses")
    axh.legend(fontsize=7, loc="upper center")
    axh.set_title("final weights", fontsize=10)
    axh.text(
        0.99, 0.55, "paper (Fig. 1): the rewarded synapse\nat the maximum, the rest stay low",
        transform=axh.transAxes, ha="right", fontsize=7, color="tab:red",
    )  # fmt: skip
    fig2.tight_layout()
    return {"weights_vs_time": fig, "final_weight_histogram": fig2}


@register(
    "distal-reward", DistalRewardConfig, "Izhikevich 2007 distal reward with DA-modulated STDP"
)
def run(config: DistalRewardConfig, *, progress: bool = True,
        checkpoint: Checkpointer | None = None) -> Result:
    net = build_network(config)
    nest_sim = None
    if config.backend == "nest":  # the same network in NEST (interop.nest.DistalRewardNest)
        from ..interop.nest import DistalRewardNest

        try:
            nest_sim = DistalRewardNest(net)
        except NotImplementedError as err:  # what NEST cannot express: the user's choice
            raise ValueError(f"backend='nest': {err}") from err
        checkpoint = None  # a NEST kernel's state is not checkpointed: runs restart from 0

        def advance(n_steps: int):
            return nest_sim.simulate(n_steps)
    else:
        simulate(net, 10)  # compile (cached on disk after the first run) outside the timing
        net = build_network(config)

        def advance(n_steps: int):
            return simulate(net, n_steps)
    every = config.stats_every_s
    ws, cs = [], []
    t_stats, pct = [0.0], [np.r_[np.percentile(_others(net), [1, 25, 50, 75, 99]), config.w_init]]
    wall = 0.0
    start = 0
    state = checkpoint.load() if checkpoint is not None else None
    if state is not None:  # the network's mutable arrays and the recorded series
        start, tensors, meta = state
        for name in _MUTABLE:
            arr = tensors[f"net/{name}"].numpy()
            setattr(net, name, arr.copy() if arr.ndim else arr.item())
        ws, cs = [tensors["ws"].numpy().copy()], [tensors["cs"].numpy().copy()]
        pct = list(tensors["pct"].numpy().copy())
        t_stats = [float(t) for t in meta["t_stats"]]
    for sec in tqdm(range(start, config.duration_s), disable=not progress,
                    desc="distal-reward", unit="s", initial=start, total=config.duration_s):
        t0 = time.perf_counter()
        w, c, _ = advance(1000)
        wall += time.perf_counter() - t0
        ws.append(w)
        cs.append(c)
        if (sec + 1) % every == 0 or sec + 1 == config.duration_s:
            if nest_sim is not None:
                net.s = nest_sim.weights()
            o = _others(net)
            t_stats.append(float(sec + 1))
            pct.append(np.r_[np.percentile(o, [1, 25, 50, 75, 99]), o.mean()])
        if checkpoint is not None and sec + 1 < config.duration_s and checkpoint.due():
            tensors = {f"net/{name}": np.asarray(getattr(net, name)) for name in _MUTABLE}
            tensors.update(ws=np.concatenate(ws), cs=np.concatenate(cs), pct=np.asarray(pct))
            checkpoint.save(sec + 1, tensors, {"t_stats": t_stats})
    w = np.concatenate(ws)
    c = np.concatenate(cs)
    t_w = np.arange(1, w.size + 1) * 0.01
    t_stats_a, pct_a = np.asarray(t_stats), np.asarray(pct)
    others = _others(net)
    chosen = float(net.s[config.n1, config.syn])
    n_rew = int(net.counts[2])
    reward_t = (net.reward_steps[: min(n_rew, net.reward_steps.size)] + 1) * 1e-3
    n = config.n_exc + config.n_inh
    all_exc = np.r_[others, chosen]
    metrics = {
        "rewarded_weight_frac": chosen / config.w_max,
        # the final value is one sample of a fluctuating weight: also its mean over the last 10 min
        "rewarded_weight_frac_last10min": float(w[-60_000:].mean()) / config.w_max,
        # where the rewarded synapse stands among all excitatory (plastic) synapses
        "rewarded_rank": int((others > chosen).sum()) + 1,  # 1 = the strongest (ties share)
        "rewarded_is_strongest": bool(chosen >= others.max()),
        "rewarded_rank_percentile": float((others < chosen).mean() * 100),
        "exc_synapses": int(all_exc.size),
        "others_frac_at_max": float((others >= 0.999 * config.w_max).mean()),
        "others_frac_at_zero": float((others <= 0.0).mean()),
        "others_median_frac": float(np.median(others)) / config.w_max,
        "others_mean_frac": float(others.mean()) / config.w_max,
        "simulated_s": config.duration_s,
        "spikes_exc": int(net.counts[0]),
        "spikes_inh": int(net.counts[1]),
        "rate_exc_hz": net.counts[0] / config.n_exc / config.duration_s,
        "rate_inh_hz": net.counts[1] / max(config.n_inh, 1) / config.duration_s,
        "spikes": int(net.counts[0] + net.counts[1]),
        "rewards": n_rew,
        "reward_triggers": int(net.counts[3]),
        "n2": net.n2,
        "neurons": n,
        "synapses": n * config.synapses_per_neuron,
        "backend": config.backend,
    }
    if all_exc.mean() > 0:  # all excitatory weights at 0: no ratio to report
        metrics["rewarded_weight_over_mean"] = chosen / float(all_exc.mean())
    figures = _figures(t_w, w, c, t_stats_a, pct_a, others, chosen, reward_t, config.w_max)
    arrays = {
        "rewarded_weight_every_10ms": w.astype(np.float32),
        "rewarded_eligibility_every_10ms": c.astype(np.float32),
        "others_percentiles_1_25_50_75_99_mean": pct_a,
        "stats_times_s": t_stats_a,
        "reward_times_s": reward_t,
        "final_exc_weights": net.s[: config.n_exc].astype(np.float32),
    }
    curves = {"rewarded_weight_frac_per_s": (w[99::100] / config.w_max).tolist(),
              "others_median_frac": (pct_a[:, 2] / config.w_max).tolist()}
    timings = {"sim_wall_s": wall}
    if nest_sim is not None:
        nest_sim.close()
        timings["nest_build_s"] = nest_sim.build_s
    return Result(metrics=metrics, figures=figures, arrays=arrays, curves=curves,
                  timings=timings)


# what simulate() changes in a DaspnetNetwork (the rest is rebuilt from the config)
_MUTABLE = ("v", "u", "s", "sd", "trace", "fired_ring", "fired_cnt", "sched", "scal", "iscal",
            "step", "counts", "reward_steps")
