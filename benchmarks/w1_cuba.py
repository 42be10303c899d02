"""W1: the CUBA network (Vogels & Abbott 2005, Brian2's examples/CUBA.py), 1 s biological
time at dt = 0.1 ms, side by side with Brian2 (cython runtime and cpp_standalone).

Reports the simulation-loop wall time (one-time compilation reported separately), spikes and
synapses, median of --reps repetitions, 1 thread for everybody. Brian2's cython runtime and its
``cpp_standalone`` device are both measured in the same run by default (``--quick``: cython
only). Run from the repo root:

    python benchmarks/w1_cuba.py [--quick] [--reps 3] [--brian2-stats 5] [--json]

Brian2 runs in subprocesses of this script (``--peer ...``) so that its global device state
cannot leak between targets, with this interpreter if it imports brian2, else with
``--peer-python`` (default ``/work/peers-venv/bin/python``, made by
``benchmarks/install-peers.sh``). A peer that is not installed is skipped, and said so. The last
line is one JSON object; with ``--json`` it also carries the flat keys ``ours_s``,
``brian2_cython_s`` and ``brian2_standalone_s`` (loop seconds, null where a peer is missing),
and ``ours_f32_s``: ours with ``dtype="float32"`` (float32 state and weights; ``ours_s`` is the
float64 reference precision).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import machine, median, pin_threads, run_peer  # noqa: E402

THREADS = 1
PEER_PYTHON = "/work/peers-venv/bin/python"


def ours(reps: int, backend: str = "numba", dtype: str = "float64") -> dict:
    from neuroplastic.experiments.cuba import CubaConfig, build_cuba

    loops, cpus, spikes, compile_s, n_syn = [], [], [], [], 0
    for rep in range(reps):
        net = build_cuba(CubaConfig(seed=rep, backend=backend, dtype=dtype))
        net.monitor_spikes("exc"), net.monitor_spikes("inh")
        net._ensure_built()
        compile_s.append(net.compile_s)
        t0, c0 = time.perf_counter(), time.process_time()
        net.run(1000.0 if backend == "numba" else 100.0)
        loops.append((time.perf_counter() - t0) * (1 if backend == "numba" else 10))
        cpus.append((time.process_time() - c0) * (1 if backend == "numba" else 10))
        spikes.append(sum(int(m.count) for m in net.spike_monitors.values()))
        n_syn = sum(p.nnz for p in net.projections.values())
    # cpu_s: the least CPU time of the loop over the repetitions (robust on a loaded machine)
    return {"sim_loop_s": median(loops), "all_s": loops, "cpu_s": min(cpus),
            "compile_s": compile_s[0],
            "spikes": median(spikes), "synapses": n_syn}


def brian2_peer(target: str, reps: int, seed: int, stats: bool) -> dict:
    import brian2 as b2
    from brian2 import NeuronGroup, SpikeMonitor, Synapses, defaultclock, ms, mV, second

    cache = tempfile.mkdtemp(prefix="w1-brian2-")

    def build():
        eqs = """
        dv/dt  = (ge+gi-(v-El))/taum : volt (unless refractory)
        dge/dt = -ge/taue : volt
        dgi/dt = -gi/taui : volt
        """
        ns = dict(taum=20 * ms, taue=5 * ms, taui=10 * ms, Vt=-50 * mV, Vr=-60 * mV,
                  El=-49 * mV, we=60 * 0.27 / 10 * mV, wi=-20 * 4.5 / 10 * mV)
        P = NeuronGroup(4000, eqs, threshold="v>Vt", reset="v = Vr", refractory=5 * ms,
                        method="exact", namespace=ns, name="P")
        P.v = "Vr + rand() * (Vt - Vr)"
        Ce = Synapses(P, P, on_pre="ge += we", namespace=ns, name="Ce")
        Ci = Synapses(P, P, on_pre="gi += wi", namespace=ns, name="Ci")
        Ce.connect("i<3200", p=0.02)
        Ci.connect("i>=3200", p=0.02)
        mon = SpikeMonitor(P, record=stats, name="mon")
        return b2.Network(P, Ce, Ci, mon, name="net"), mon, Ce, Ci

    loops, spikes, compile_s, rates, cvs = [], [], None, [], []
    if target == "cython":
        b2.prefs.codegen.target = "cython"
        b2.prefs.codegen.runtime.cython.cache_dir = os.path.join(cache, "cython")
        for rep in range(reps + 1):  # rep 0 pays the cold compilation
            b2.start_scope()
            defaultclock.dt = 0.1 * ms
            b2.seed(seed + rep)
            net, mon, Ce, Ci = build()
            t0 = time.perf_counter()
            net.run(1 * second)
            call = time.perf_counter() - t0
            if rep == 0:
                compile_s = call - b2.device._last_run_time
            else:
                loops.append(b2.device._last_run_time)
            spikes.append(int(mon.num_spikes))
            if stats:
                rates.append(mon.num_spikes / 4000.0)
                cvs.append(_cv(mon))
    else:
        out = os.path.join(cache, "standalone")
        b2.set_device("cpp_standalone", build_on_run=False)
        defaultclock.dt = 0.1 * ms
        b2.seed(seed)
        net, mon, Ce, Ci = build()
        net.run(1 * second)
        t0 = time.perf_counter()
        b2.device.build(directory=out, compile=True, run=False)
        compile_s = time.perf_counter() - t0
        for _ in range(reps):
            b2.device.run(directory=out, with_output=False)
            loops.append(b2.device._last_run_time)
            spikes.append(int(mon.num_spikes))
    n_syn = int(len(Ce) + len(Ci))
    shutil.rmtree(cache, ignore_errors=True)
    res = {"sim_loop_s": median(loops), "all_s": loops, "compile_s": compile_s,
           "spikes": median(spikes), "synapses": n_syn,
           "brian2": b2.__version__}
    if stats:
        res.update(rate_hz_mean=sum(rates) / len(rates), isi_cv_mean=sum(cvs) / len(cvs))
    return res


def _cv(mon) -> float:
    import numpy as np

    from neuroplastic.experiments.cuba import isi_cv

    steps = np.round(np.asarray(mon.t / mon.t.unit) / 1e-4).astype(np.int64)
    return float(isi_cv(steps, np.asarray(mon.i), 4000).mean())


def _brian2_python(peer_python: str) -> str | None:
    """This interpreter if it imports brian2, else ``peer_python`` if that one does."""
    for py in (sys.executable, peer_python):
        if os.path.exists(py) and subprocess.run(
            [py, "-c", "import brian2"], capture_output=True
        ).returncode == 0:
            return py
    return None


def _peer(python: str, args: list[str]) -> dict | None:
    if python == sys.executable:
        return run_peer(__file__, args)
    proc = subprocess.run([python, __file__, *args], capture_output=True, text=True,
                          timeout=1800)
    lines = [ln for ln in proc.stdout.strip().splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        print(proc.stderr[-2000:], file=sys.stderr)
        return None
    return json.loads(lines[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer repetitions, no standalone")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--peer", choices=["cython", "cpp_standalone"], help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true",
                    help="add ours_s, brian2_cython_s, brian2_standalone_s to the last line")
    ap.add_argument("--peer-python", default=PEER_PYTHON,
                    help="python that imports brian2 (when this one does not)")
    ap.add_argument("--brian2-stats", type=int, default=0, metavar="SEEDS",
                    help="also measure Brian2's mean rate and ISI CV over SEEDS seeds")
    args = ap.parse_args()
    pin_threads(THREADS)
    if args.peer:
        stats = args.brian2_stats > 0
        reps = args.brian2_stats if stats else args.reps
        print(json.dumps(brian2_peer(args.peer, reps, args.seed, stats)))
        return
    reps = 1 if args.quick else args.reps
    results = {"ours": ours(reps), "ours_f32": ours(reps, dtype="float32")}
    for k, label in (("ours", "float64"), ("ours_f32", "float32")):
        print(f"neuroplastic (numba, {label}): loop {results[k]['sim_loop_s']:.4f} s "
              f"(least CPU time {results[k]['cpu_s']:.4f} s), compile/load "
              f"{results[k]['compile_s']:.2f} s, {results[k]['spikes']} spikes", flush=True)
    py = _brian2_python(args.peer_python)
    targets = [] if py is None else (["cython"] if args.quick else ["cython", "cpp_standalone"])
    if py is None:
        print("brian2 not installed: skipping the Brian2 peers "
              "(benchmarks/install-peers.sh installs them)")
    peers = {}
    for t in targets:
        r = _peer(py, ["--peer", t, "--reps", str(reps), "--seed", str(args.seed)])
        if r is None:
            print(f"brian2 {t}: failed to run, skipped")
            continue
        peers[f"brian2-{t}"] = r
        print(f"brian2 {t}: loop {r['sim_loop_s']:.4f} s, compile {r['compile_s']:.2f} s, "
              f"{r['spikes']} spikes", flush=True)
    if args.brian2_stats and targets:
        r = _peer(py, ["--peer", "cython", "--brian2-stats", str(args.brian2_stats)])
        if r:
            print(f"brian2 statistics over {args.brian2_stats} seeds: rate "
                  f"{r['rate_hz_mean']:.3f} Hz, ISI CV {r['isi_cv_mean']:.4f}")
    best = min((p["sim_loop_s"] for p in peers.values()), default=None)
    flat = {}
    if args.json:
        loop = lambda k: peers[k]["sim_loop_s"] if k in peers else None  # noqa: E731
        flat = {"ours_s": results["ours"]["sim_loop_s"], "brian2_cython_s": loop("brian2-cython"),
                "brian2_standalone_s": loop("brian2-cpp_standalone"),
                "ours_f32_s": results["ours_f32"]["sim_loop_s"]}
    print(json.dumps({
        **flat,
        "workload": "W1", "unit": "s", "better": "lower",
        "ours": results["ours"]["sim_loop_s"], "ours_compile_s": results["ours"]["compile_s"],
        "ours_spikes": results["ours"]["spikes"], "ours_cpu_s": results["ours"]["cpu_s"],
        "peers": {k: v["sim_loop_s"] for k, v in peers.items()},
        "peers_compile_s": {k: v["compile_s"] for k, v in peers.items()},
        "peers_spikes": {k: v["spikes"] for k, v in peers.items()},
        "ratio_vs_best_peer": (results["ours"]["sim_loop_s"] / best) if best else None,
        "ratio_vs_peer": {k: results["ours"]["sim_loop_s"] / v["sim_loop_s"]
                          for k, v in peers.items()},
        "ours_f32": results["ours_f32"]["sim_loop_s"],
        "ours_f32_cpu_s": results["ours_f32"]["cpu_s"],
        "ours_f32_spikes": results["ours_f32"]["spikes"],
        "ratio_f32_vs_peer": {k: results["ours_f32"]["sim_loop_s"] / v["sim_loop_s"]
                              for k, v in peers.items()},
        "machine": machine(), "threads": THREADS,
    }))


if __name__ == "__main__":
    main()
