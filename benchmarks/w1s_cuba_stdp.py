"""W1-STDP: the CUBA network of W1 with pair STDP on every excitatory synapse, side by side
with Brian2 (cython runtime) — the simulator's plasticity stage under a network workload.

4000 LIF neurons (3200 exc / 800 inh), 2 % connectivity (~256k excitatory synapses learn),
1 s at dt = 0.1 ms, 1 thread. Rule on exc -> exc and exc -> inh: all-to-all pair STDP on traces,
additive, a+ = 0.01 mV, a- = 0.0105 mV, tau 20 / 20 ms, weights clipped to [0, 2 we]
(Brian2: the textbook ``apre``/``apost`` event-driven traces of its documentation). Reports the
simulation-loop time (median of --reps; compilation separately), spikes, and the mean learned
excitatory weight of each simulator (a sanity check that both learn alike: the networks are
statistically, not spike-for-spike, equal). Last line: JSON.

    python benchmarks/w1s_cuba_stdp.py [--reps 3] [--quick]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import machine, median, pin_threads, run_peer  # noqa: E402

THREADS = 1
WE, A_PLUS, A_MINUS, TAU = 1.62, 0.01, 0.0105, 20.0


def ours(reps: int, duration_ms: float) -> dict:
    from neuroplastic.experiments.cuba import CubaConfig
    from neuroplastic.network import Network
    from neuroplastic.neurons import Analog, LIFParams
    from neuroplastic.plasticity import ExponentialWindow, STDPParams
    from neuroplastic.synapses import FixedProbability

    cfg = CubaConfig()
    params = LIFParams(tau_mem_ms=20.0, v_rest_mv=-49.0, v_reset_mv=-60.0, v_thresh_mv=-50.0,
                       t_ref_ms=5.0, tau_syn_ms=(5.0, 10.0))
    stdp = STDPParams(ExponentialWindow(A_PLUS, A_MINUS, TAU, TAU), w_min=0.0, w_max=2 * WE)
    loops, spikes, compile_s, w_mean, n_plastic = [], [], [], [], 0
    for rep in range(reps):
        net = Network(cfg.dt_ms, seed=rep)
        net.add_lif("exc", 3200, params, Analog(), v_init=(-60.0, -50.0))
        net.add_lif("inh", 800, params, Analog(), v_init=(-60.0, -50.0))
        for post in ("exc", "inh"):
            net.connect("exc", post, FixedProbability(cfg.p_connect), weight=WE, channel=0,
                        sign="excitatory", plasticity=stdp)
            net.connect("inh", post, FixedProbability(cfg.p_connect), weight=cfg.w_inh_mv,
                        channel=1, sign="inhibitory")
        mons = [net.monitor_spikes("exc"), net.monitor_spikes("inh")]
        net._ensure_built()
        compile_s.append(net.compile_s)
        t0 = time.perf_counter()
        net.run(duration_ms)
        loops.append(time.perf_counter() - t0)
        spikes.append(sum(int(m.count) for m in mons))
        ws = [net.weights(n) for n in ("exc->exc", "exc->inh")]
        n_plastic = sum(int(w.numel()) for w in ws)
        w_mean.append(float(sum(float(w.sum()) for w in ws) / n_plastic))
    return {"sim_loop_s": median(loops), "all_s": loops, "compile_s": compile_s[0],
            "spikes": median(spikes), "plastic_synapses": n_plastic,
            "mean_exc_weight_mv": median(w_mean)}


def brian2_peer(reps: int, duration_ms: float) -> dict:
    import brian2 as b2
    from brian2 import NeuronGroup, SpikeMonitor, Synapses, defaultclock, ms, mV

    b2.prefs.codegen.target = "cython"
    b2.prefs.codegen.runtime.cython.cache_dir = tempfile.mkdtemp(prefix="w1s-brian2-")
    eqs = """
    dv/dt  = (ge+gi-(v-El))/taum : volt (unless refractory)
    dge/dt = -ge/taue : volt
    dgi/dt = -gi/taui : volt
    """
    ns = dict(taum=20 * ms, taue=5 * ms, taui=10 * ms, Vt=-50 * mV, Vr=-60 * mV, El=-49 * mV,
              we=WE * mV, wi=-9.0 * mV, Apre=A_PLUS * mV, Apost=-A_MINUS * mV,
              taupre=TAU * ms, taupost=TAU * ms, wmax=2 * WE * mV)
    loops, spikes, compile_s, w_mean, n_plastic = [], [], None, [], 0
    for rep in range(reps + 1):  # rep 0 pays the cold compilation
        b2.start_scope()
        defaultclock.dt = 0.1 * ms
        b2.seed(rep)
        P = NeuronGroup(4000, eqs, threshold="v>Vt", reset="v = Vr", refractory=5 * ms,
                        method="exact", namespace=ns, name="P")
        P.v = "Vr + rand() * (Vt - Vr)"
        Ce = Synapses(P, P, model="""w : volt
                                     dapre/dt = -apre / taupre : volt (event-driven)
                                     dapost/dt = -apost / taupost : volt (event-driven)""",
                      on_pre="""ge += w
                                apre += Apre
                                w = clip(w + apost, 0*mV, wmax)""",
                      on_post="""apost += Apost
                                 w = clip(w + apre, 0*mV, wmax)""",
                      namespace=ns, name="Ce")
        Ci = Synapses(P, P, on_pre="gi += wi", namespace=ns, name="Ci")
        Ce.connect("i<3200", p=0.02)
        Ce.w = "we"
        Ci.connect("i>=3200", p=0.02)
        mon = SpikeMonitor(P, record=False, name="mon")
        net = b2.Network(P, Ce, Ci, mon, name="net")
        t0 = time.perf_counter()
        net.run(duration_ms * ms)
        call = time.perf_counter() - t0
        if rep == 0:
            compile_s = call - b2.device._last_run_time
            continue
        loops.append(b2.device._last_run_time)
        spikes.append(int(mon.num_spikes))
        n_plastic = len(Ce)
        w_mean.append(float(Ce.w[:].mean() / mV))
    return {"sim_loop_s": median(loops), "all_s": loops, "compile_s": compile_s,
            "spikes": median(spikes), "plastic_synapses": n_plastic,
            "mean_exc_weight_mv": median(w_mean), "brian2": b2.__version__}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="200 ms, 1 repetition")
    ap.add_argument("--peer", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--duration-ms", type=float, default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    pin_threads(THREADS)
    reps, dur = (1, 200.0) if a.quick else (a.reps, 1000.0)
    if a.peer:
        print(json.dumps(brian2_peer(a.reps, a.duration_ms)))
        return
    res = ours(reps, dur)
    print(f"neuroplastic: loop {res['sim_loop_s']:.3f} s, compile {res['compile_s']:.2f} s, "
          f"{res['spikes']} spikes, mean learned exc weight {res['mean_exc_weight_mv']:.4f} mV",
          flush=True)
    peers = {}
    b = None
    if importlib.util.find_spec("brian2") is None:
        print("brian2 not installed: skipped", file=sys.stderr)
    else:
        b = run_peer(__file__, ["--peer", "--reps", str(reps), "--duration-ms", str(dur)])
    if b is not None:
        peers["brian2-cython"] = b
        print(f"brian2 cython: loop {b['sim_loop_s']:.3f} s, compile {b['compile_s']:.2f} s, "
              f"{b['spikes']} spikes, mean learned exc weight {b['mean_exc_weight_mv']:.4f} mV",
              flush=True)
    best = min((p["sim_loop_s"] for p in peers.values()), default=None)
    print(json.dumps({
        "workload": f"CUBA 4000 LIF + pair STDP on all excitatory synapses, {dur:.0f} ms at "
                    "dt 0.1 ms",
        "unit": "s", "ours": res["sim_loop_s"],
        "peers": {k: v["sim_loop_s"] for k, v in peers.items()},
        "ratio_vs_best_peer": res["sim_loop_s"] / best if best else None, "better": "lower",
        "ours_detail": res, "peer_detail": peers, "machine": machine(), "threads": THREADS,
    }))


if __name__ == "__main__":
    main()
