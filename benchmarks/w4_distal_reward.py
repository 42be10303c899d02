"""W4: Izhikevich (2007) distal-reward network (``daspnet.m``), ours vs Brian2 cython.

Run from the repo root (peers importable)::

    /work/peers/bin/python benchmarks/w4_distal_reward.py [--quick] [--reps 3]

Ours: the compiled kernel of :mod:`neuroplastic.experiments.distal_reward` — 1000 Izhikevich
neurons (800 RS / 200 FS), 100 synapses each, 1 ms steps, DA-modulated STDP with eligibility
traces, reward 1–3 s after n2 fires within 20 ms of n1. We time the full hour (3.6 million
steps, one rep unless ``--reps-full``) and, for the side-by-side comparison, a shorter
duration (``--compare-s``, default 60 s simulated) for both simulators.

Brian2 (cython runtime, 1 thread, warm code cache) runs the same network and connectivity
(a neuron's repeated synapses onto one target deliver their current once, as MATLAB's
``I(ind) = I(ind) + s`` does — the ``live`` flag):
the ``daspnet.m`` half-step integration in a ``run_regularly`` operation, STDP traces set to
0.1 at each spike, eligibility ``c`` and weights in a ``Synapses`` object updated every 10 ms,
dopamine a shared variable of the neuron group. The reward rule (n1 → n2 within 20 ms, reward
1–3 s later) needs a Python ``network_operation`` each step; Brian2 is timed with it
("brian2-cython") and, as a lower bound on its cost, without it
("brian2-cython-no-reward-op"). The comparison ratio uses the faster of the two. Times
exclude building the network and code generation (the first
of the repetitions, discarded, warms the cache). Rates are printed so equal activity is
checked, not assumed. The last line is the JSON summary (workload W4, seconds per simulated
``--compare-s``; ``ours_full_hour_s`` holds the 1 h time).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import machine, median, pin_threads, run_peer  # noqa: E402

THREADS = 1
pin_threads(THREADS)

import numpy as np  # noqa: E402


def ours(duration_s: int, reps: int, seed: int) -> dict:
    from neuroplastic.experiments.distal_reward import (
        DistalRewardConfig,
        build_network,
        simulate,
    )

    cfg = DistalRewardConfig(duration_s=duration_s, seed=seed)
    simulate(build_network(cfg), 10)  # compile / load the cached kernel
    times, net = [], None
    for _ in range(reps):
        net = build_network(cfg)
        t0 = time.perf_counter()
        for _ in range(duration_s):
            simulate(net, 1000)
        times.append(time.perf_counter() - t0)
    return {
        "sim_s": median(times),
        "times": times,
        "rate_exc_hz": float(net.counts[0] / cfg.n_exc / duration_s),
        "rate_inh_hz": float(net.counts[1] / cfg.n_inh / duration_s),
        "rewards": int(net.counts[2]),
        "rewarded_weight": float(net.s[cfg.n1, cfg.syn]),
    }


def brian2_peer(duration_s: int, reps: int, seed: int, reward_op: bool) -> dict:
    import brian2 as b2
    from brian2 import NeuronGroup, SpikeMonitor, Synapses, defaultclock, ms

    from neuroplastic.experiments.distal_reward import DistalRewardConfig, build_network

    b2.prefs.codegen.target = "cython"
    b2.prefs.logging.console_log_level = "WARNING"
    cfg = DistalRewardConfig(duration_s=duration_s, seed=seed)
    ref = build_network(cfg)  # identical connectivity
    ne, n, m = cfg.n_exc, cfg.n_exc + cfg.n_inh, cfg.synapses_per_neuron
    n1, n2 = cfg.n1, ref.n2

    def build():
        b2.start_scope()
        b2.seed(seed)
        defaultclock.dt = 1 * ms
        g = NeuronGroup(
            n,
            """v : 1
            u : 1
            a : 1
            d : 1
            isyn : 1
            xs : 1
            DA : 1 (shared)""",
            threshold="v >= 30",
            reset="v = -65\nu += d\nxs = 0.1",
            method="euler",
            refractory=0 * ms,  # gives the lastspike variable the reward rule reads
        )
        g.v = -65.0
        g.u = -13.0
        g.a = np.r_[np.full(ne, 0.02), np.full(n - ne, 0.1)]
        g.d = np.r_[np.full(ne, 8.0), np.full(n - ne, 2.0)]
        g.run_regularly(
            """itot = 13*(rand() - 0.5) + isyn
            v = v + 0.5*((0.04*v + 5)*v + 140 - u + itot)
            v = v + 0.5*((0.04*v + 5)*v + 140 - u + itot)
            u = u + a*(0.2*v - u)
            isyn = 0
            xs = 0.95*xs""",
            when="end",
        )
        g.run_regularly("DA = 0.995*DA", when="end", name="da_decay")
        se = Synapses(
            g,
            g,
            "w : 1\nc : 1\nlive : 1 (constant)",
            on_pre="isyn_post += live*w\nc -= 1.5*xs_post",
            on_post="c += xs_pre",
        )
        pre = np.repeat(np.arange(ne), m)
        se.connect(i=pre, j=ref.post[:ne].reshape(-1).astype(np.int64))
        se.w = ref.s[:ne].reshape(-1)
        se.live = ref.deliver[:ne].reshape(-1).astype(float)  # MATLAB I(ind)=I(ind)+s semantics
        se.run_regularly(
            "w = clip(w + (0.002 + DA_pre)*c, 0, 4)\nc = 0.99*c", dt=10 * ms, when="end"
        )
        si = Synapses(g, g, "w : 1", on_pre="isyn_post += w")
        keep = ref.deliver[ne:].reshape(-1)  # inhibitory weights are fixed: drop the shadowed
        si.connect(
            i=np.repeat(np.arange(ne, n), m)[keep],
            j=ref.post[ne:].reshape(-1)[keep].astype(np.int64),
        )
        si.w = -1.0
        objs = [g, se, si]
        state = {"n1_last": -(10**9), "pending": {}, "rewards": 0, "k": 0}
        if reward_op:
            last = g.variables["lastspike"].get_value()  # the runtime's own arrays
            da_arr = g.variables["DA"].get_value()
            rng = np.random.default_rng(seed)

            @b2.network_operation(dt=1 * ms, when="end")
            def reward():
                k = state["k"]
                state["k"] = k + 1
                if abs(last[n1] * 1000 - k) < 0.5:
                    state["n1_last"] = k
                if abs(last[n2] * 1000 - k) < 0.5 and 0 < k - state["n1_last"] < 20:
                    due = k + 1000 + int(np.ceil(2000 * rng.random()))
                    state["pending"][due] = 1
                if state["pending"].pop(k, None):
                    da_arr[0] += 0.5
                    state["rewards"] += 1

            objs += [reward]
        spk = SpikeMonitor(g, record=False)
        net = b2.Network(*objs, spk)
        return net, spk, se, state

    times = []
    for rep in range(reps + 1):  # the first run warms the code cache and is discarded
        net, spk, se, state = build()
        dur = (1 if rep == 0 else duration_s) * b2.second
        t0 = time.perf_counter()
        net.run(dur)
        if rep > 0:
            times.append(time.perf_counter() - t0)
    counts = np.asarray(spk.count)
    return {
        "sim_s": median(times),
        "times": times,
        "rate_exc_hz": float(counts[:ne].sum() / ne / duration_s),
        "rate_inh_hz": float(counts[ne:].sum() / (n - ne) / duration_s),
        "rewards": state["rewards"],
        "brian2": b2.__version__,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="10 s comparison, 60 s 'full' run")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--compare-s", type=int, default=60)
    ap.add_argument("--full-s", type=int, default=3600)
    ap.add_argument("--reps-full", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--no-reward-op", action="store_true", help="time Brian2 only without the Python reward op"
    )
    ap.add_argument("--peer", choices=["with-op", "no-op"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.quick:
        args.compare_s, args.full_s = 10, 60
    if args.peer:
        r = brian2_peer(args.compare_s, args.reps, args.seed, args.peer == "with-op")
        print(json.dumps(r))
        return

    full = ours(args.full_s, args.reps_full, args.seed)
    print(
        f"ours, {args.full_s} s simulated: {full['sim_s']:.2f} s wall, "
        f"exc {full['rate_exc_hz']:.2f} Hz, inh {full['rate_inh_hz']:.2f} Hz, "
        f"{full['rewards']} rewards, rewarded weight {full['rewarded_weight']:.2f}"
    )
    short = ours(args.compare_s, args.reps, args.seed)
    print(
        f"ours, {args.compare_s} s simulated: {short['sim_s']:.3f} s (median of {args.reps}), exc "
        f"{short['rate_exc_hz']:.2f} Hz, inh {short['rate_inh_hz']:.2f} Hz"
    )
    peers = {}
    try:
        import brian2  # noqa: F401
    except ImportError:
        print("brian2 not installed: skipping the Brian2 peer")
    else:
        base = ["--compare-s", str(args.compare_s), "--reps", str(args.reps)]
        variants = [("no-op", "brian2-cython-no-reward-op"), ("with-op", "brian2-cython")]
        for tag, name in variants[: 1 if args.no_reward_op else 2]:
            r = run_peer(__file__, [*base, "--seed", str(args.seed), "--peer", tag], timeout=3000)
            if r is None:
                print(f"{name}: failed to run, skipped")
                continue
            peers[name] = r["sim_s"]
            print(
                f"{name}, {args.compare_s} s simulated: {r['sim_s']:.2f} s (median of "
                f"{args.reps}), exc {r['rate_exc_hz']:.2f} Hz, inh {r['rate_inh_hz']:.2f} Hz, "
                f"{r['rewards']} rewards"
            )
    best = min(peers.values()) if peers else None
    print(
        json.dumps(
            {
                "workload": f"W4 distal reward ({args.compare_s} s simulated)",
                "unit": "s",
                "ours": short["sim_s"],
                "peers": peers,
                "ratio_vs_best_peer": short["sim_s"] / best if best else None,
                "better": "lower",
                "machine": machine(),
                "threads": THREADS,
                "ours_full_s_simulated": args.full_s,
                "ours_full_hour_s": full["sim_s"],
            }
        )
    )


if __name__ == "__main__":
    main()
