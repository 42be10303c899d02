"""W1-scale: the CUBA network (Vogels & Abbott 2005) at growing size, in-degree ~80, 1 s of
biological time at dt = 0.1 ms, one thread, side by side with Brian2 (cython ``run()``) and NEST
(``iaf_psc_exp``).

Per size N (default 4k, 40k, 400k; ``--sizes`` to choose, 4M only on request because its
~320M synapses need ~10 GiB in every simulator): build and run wall time separately, peak RSS of
the process, spike count, each the median of ``--reps`` (default 3) fresh processes run
round-robin over the targets (NEST once: its run takes minutes; every repeat is in the
JSON); then the slope of run time against N (log-log least squares; 1 = linear), beside the
slope of a bare memory stream of the neuron state over the same sizes (``w1s_roofline.py``:
how far from linear this machine's caches allow any loop over every neuron per step; JSON
``slopes.stream``, ``--no-roofline`` skips it); our build
time excludes the one-time compile / cache load of the numba kernels (``compile_s``, printed
apart, as Brian2 compiles apart); CPU times are printed too (robust on a loaded machine).
Every target runs in its own subprocess (``--peer ...``) so that the peak RSS
(``resource.getrusage(RUSAGE_SELF).ru_maxrss`` at its end) is its own. Run from the repo root:

    python benchmarks/w1s_scale.py [--sizes 4000 40000 400000] [--json]

Ours runs the network loop compiled ahead of time (``neuroplastic compile``, built first into a
temporary folder, its time printed apart like Brian2's compilation): the process then never
imports numba below the sizes whose connectivity sampler needs it (~105 MiB less at 4k);
``--jit`` measures numba's JIT (cache) path instead. Same bits either way (tested).

Connectivity: ours and Brian2 connect every pair with probability 80/N (``FixedProbability``,
above 2^24 pairs sampled in O(synapses): binomial row sizes, then distinct partners per row, as
Brian2's ``connect(p=...)``), so both have the same law of in- and out-degrees (mean 80);
NEST gives every neuron exactly 80 inputs (``fixed_indegree``) because its
``pairwise_bernoulli`` costs O(N^2) to build. NEST's smallest delay is one step, so its
spikes arrive one step later than ours and Brian2's (zero delay). ``--nest-max-n`` skips NEST
above a size (its single-thread run is ~10x ours here). Brian2 runs in
the peer venv (``--peer-python``, default ``/work/peers-venv/bin/python``), NEST in this one; a
peer that cannot be imported is skipped (its columns are null). ``--json`` prints one JSON
object as the last line: ``rows`` = ``[{n, ours_s, ours_rss_mib, ours_f32_s, ours_f32_rss_mib,
brian2_s, brian2_rss_mib, nest_s}, ...]`` (``ours``: float64, the default; ``ours_f32``:
``Network(dtype="float32")``) (run times in s; null where a peer is missing) plus details.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import loglog_slope as slope  # noqa: E402
from _common import machine, pin_threads  # noqa: E402

THREADS = 1
IN_DEGREE = 80
DURATION_MS = 1000.0
PEER_PYTHON = "/work/peers-venv/bin/python"


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def ours(n: int, seed: int, dtype: str = "float64") -> dict:
    from neuroplastic.experiments.cuba import CubaConfig, build_cuba

    t0, c0 = time.perf_counter(), time.process_time()
    net = build_cuba(CubaConfig(n_neurons=n, seed=seed, p_connect=IN_DEGREE / n, dtype=dtype))
    net._ensure_built()
    # build: connectivity, stores, coefficients, state; compile_s (numba's one-time compile or
    # load from its cache, samplers included) is reported apart, as Brian2's compilation is
    build_s = time.perf_counter() - t0 - net.compile_s
    build_cpu_s = time.process_time() - c0 - net.compile_s
    t1, c1 = time.perf_counter(), time.process_time()
    net.run(DURATION_MS, progress=False)
    run_s = time.perf_counter() - t1
    run_cpu_s = time.process_time() - c1
    spikes = int(net.spike_counts("exc").sum() + net.spike_counts("inh").sum())
    return {"build_s": build_s, "build_cpu_s": build_cpu_s, "compile_s": net.compile_s,
            "run_s": run_s, "run_cpu_s": run_cpu_s, "spikes": spikes,
            "synapses": sum(p.nnz for p in net.projections.values()), "rss_mib": _rss_mib()}


def brian2(n: int, seed: int) -> dict:
    import brian2 as b2
    from brian2 import NeuronGroup, SpikeMonitor, Synapses, defaultclock, ms, mV, second

    b2.prefs.codegen.target = "cython"
    t0 = time.perf_counter()
    defaultclock.dt = 0.1 * ms
    b2.seed(seed)
    eqs = """
    dv/dt  = (ge+gi-(v-El))/taum : volt (unless refractory)
    dge/dt = -ge/taue : volt
    dgi/dt = -gi/taui : volt
    """
    ns = dict(taum=20 * ms, taue=5 * ms, taui=10 * ms, Vt=-50 * mV, Vr=-60 * mV, El=-49 * mV,
              we=60 * 0.27 / 10 * mV, wi=-20 * 4.5 / 10 * mV)
    n_exc = int(round(0.8 * n))
    P = NeuronGroup(n, eqs, threshold="v>Vt", reset="v = Vr", refractory=5 * ms,
                    method="exact", namespace=ns)
    P.v = "Vr + rand() * (Vt - Vr)"
    Ce = Synapses(P, P, on_pre="ge += we", namespace=ns)
    Ci = Synapses(P, P, on_pre="gi += wi", namespace=ns)
    Ce.connect(f"i<{n_exc}", p=IN_DEGREE / n)
    Ci.connect(f"i>={n_exc}", p=IN_DEGREE / n)
    mon = SpikeMonitor(P, record=False)
    net = b2.Network(P, Ce, Ci, mon)
    build_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    net.run(1 * second)
    call_s = time.perf_counter() - t1
    run_s = b2.device._last_run_time
    return {"build_s": build_s + (call_s - run_s), "run_s": run_s, "spikes": int(mon.num_spikes),
            "synapses": int(len(Ce) + len(Ci)), "rss_mib": _rss_mib(), "brian2": b2.__version__}


def nest_peer(n: int, seed: int) -> dict:
    from neuroplastic.interop.nest import require_nest

    nest = require_nest()
    t0 = time.perf_counter()
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": 0.1, "rng_seed": seed + 1, "local_num_threads": 1})
    n_exc = int(round(0.8 * n))
    # CUBA in NEST units: R = 1 MOhm -> C_m = 1000 tau_m pF; weights in pA (1 nA = 1 mV here);
    # refractory 5 ms = 50 steps, of which NEST freezes t_ref / h after the spike step
    pop = nest.Create("iaf_psc_exp", n, params={
        "C_m": 20000.0, "tau_m": 20.0, "E_L": -49.0, "V_reset": -60.0, "V_th": -50.0,
        "t_ref": 4.9, "tau_syn_ex": 5.0, "tau_syn_in": 10.0,
        "V_m": nest.random.uniform(-60.0, -50.0)})
    k_exc = int(round(0.8 * IN_DEGREE))
    nest.Connect(pop[:n_exc], pop, {"rule": "fixed_indegree", "indegree": k_exc},
                 {"weight": 1620.0, "delay": 0.1})
    nest.Connect(pop[n_exc:], pop, {"rule": "fixed_indegree", "indegree": IN_DEGREE - k_exc},
                 {"weight": -9000.0, "delay": 0.1})
    rec = nest.Create("spike_recorder")
    nest.Connect(pop, rec)
    nest.Prepare()
    build_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    nest.Run(DURATION_MS)
    run_s = time.perf_counter() - t1
    nest.Cleanup()
    return {"build_s": build_s, "run_s": run_s, "spikes": int(rec.get("n_events")),
            "synapses": int(nest.GetKernelStatus("num_connections")), "rss_mib": _rss_mib(),
            "nest": nest.__version__}


def ours_f32(n: int, seed: int) -> dict:
    """Ours with Network(dtype="float32"): the same network and random draws, float32 state
    and weights (int16 refractory counters)."""
    return ours(n, seed, "float32")


PEERS = {"ours": ours, "ours_f32": ours_f32, "brian2": brian2, "nest": nest_peer}


def _subprocess(python: str, peer: str, n: int, seed: int, timeout: float,
                env: dict | None = None) -> dict | None:
    cmd = [python, __file__, "--peer", peer, "--n", str(n), "--seed", str(seed)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **(env or {})})
    except subprocess.TimeoutExpired:
        print(f"{peer} N={n}: over {timeout:.0f} s, skipped", flush=True)
        return None
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        print(f"{peer} N={n}: failed ({proc.stderr.strip().splitlines()[-1:]}), skipped",
              flush=True)
        return None
    return json.loads(lines[-1])


def _median_of(runs: list[dict]) -> dict | None:
    """Each numeric figure's median over the repeats (spikes are equal across repeats: same
    seed); ``build_first_s``: the first repeat's build (a fresh process after other work)."""
    if not runs:
        return None
    out = {k: statistics.median(r[k] for r in runs) for k in runs[0]
           if isinstance(runs[0][k], (int, float))}
    out.update(repeats=len(runs), build_first_s=runs[0]["build_s"],
               build_max_s=max(r["build_s"] for r in runs))
    return out


def _importable(python: str, module: str) -> bool:
    if not os.path.exists(python):
        return False
    code = f"import {module}"
    return subprocess.run([python, "-c", code], capture_output=True).returncode == 0


def _roofline(sizes: list[int]) -> dict | None:
    """``w1s_roofline.py --json`` for these sizes in a fresh process (one thread): the slope of
    a bare memory stream of the neuron state and of our neuron pass, or None if it fails."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "w1s_roofline.py")
    cmd = [sys.executable, script, "--json", "--sizes", *map(str, sizes)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        print(f"roofline failed ({proc.stderr.strip().splitlines()[-1:]}), skipped", flush=True)
        return None
    return json.loads(lines[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[4_000, 40_000, 400_000])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="print one JSON object as last line")
    ap.add_argument("--peer-python", default=PEER_PYTHON, help="python with brian2")
    ap.add_argument("--timeout", type=float, default=1800.0, help="per target and size, s")
    ap.add_argument("--nest-max-n", type=int, default=None, help="skip NEST above this N")
    ap.add_argument("--jit", action="store_true",
                    help="ours with numba's JIT (its cache) instead of the loop compiled ahead "
                         "of time by `neuroplastic compile` (built first, into a temporary folder)")
    ap.add_argument("--reps", type=int, default=3,
                    help="fresh processes per target and size; the table gives the median of "
                         "each figure, the JSON every repeat (NEST: one run)")
    ap.add_argument("--no-roofline", action="store_true",
                    help="skip the slope of a bare memory stream of the same state "
                         "(benchmarks/w1s_roofline.py, ~10 s): the reference for 'linear'")
    ap.add_argument("--peer", choices=sorted(PEERS), help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.reps < 1:
        ap.error(f"--reps must be >= 1 (fresh processes per target and size), got {args.reps}")
    pin_threads(THREADS)
    if args.peer:
        print(json.dumps(PEERS[args.peer](args.n, args.seed)))
        return
    ours_env = {"NEUROPLASTIC_AOT": "0"}
    aot_build_s = None
    if not args.jit:  # the one-time build, as Brian2's compilation, reported apart
        aot_dir = tempfile.mkdtemp(prefix="np-aot-")
        atexit.register(shutil.rmtree, aot_dir, ignore_errors=True)  # ~5 MB per run otherwise
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "neuroplastic.cli", "compile", "--dir", aot_dir],
                       check=True, capture_output=True, text=True)
        aot_build_s = time.perf_counter() - t0
        ours_env = {"NEUROPLASTIC_AOT_DIR": aot_dir}
        print(f"ours: the loop compiled ahead of time in {aot_build_s:.1f} s (once per machine "
              "and version; --jit: numba's JIT instead)", flush=True)
    targets = {"ours": sys.executable, "ours_f32": sys.executable}
    if _importable(args.peer_python, "brian2"):
        targets["brian2"] = args.peer_python
    else:
        print(f"brian2 not importable with {args.peer_python}: its columns are null")
    if _importable(sys.executable, "nest"):
        targets["nest"] = sys.executable
    else:
        print("nest-simulator not installed: its columns are null")
    rows, details, reps = [], {}, {}
    print(f"{'N':>9} {'target':>8} {'build s':>8} {'run s':>8} {'RSS MiB':>8} {'spikes':>9}")
    for n in args.sizes:
        row: dict = {"n": n}
        runs: dict[str, list] = {name: [] for name in targets}
        active = dict(targets)
        if "nest" in active and args.nest_max_n is not None and n > args.nest_max_n:
            print(f"nest N={n}: above --nest-max-n {args.nest_max_n}, skipped")
            del active["nest"]
        # repeats round-robin over the targets, each in a fresh process, so that a slow machine
        # state (after idle, a VM reads evicted library pages back) does not always hit one
        for rep in range(args.reps):
            for name, py in active.items():
                if name == "nest" and rep > 0:
                    continue  # one NEST run per size (its run is minutes; no build share asked)
                r = _subprocess(py, name, n, args.seed, args.timeout,
                                ours_env if name.startswith("ours") else None)
                if r is None:
                    continue
                runs[name].append(r)
                extra = ""
                if "run_cpu_s" in r:
                    extra = (f"  (CPU: build {r['build_cpu_s']:.2f} s, run {r['run_cpu_s']:.3f} s;"
                             f" one-time compile/load {r['compile_s']:.2f} s)")
                print(f"{n:>9} {name:>8} {r['build_s']:>8.2f} {r['run_s']:>8.3f} "
                      f"{r['rss_mib']:>8.0f} {r['spikes']:>9}{extra}", flush=True)
        for name in targets:
            details[f"{name}:{n}"] = _median_of(runs[name])
            reps[f"{name}:{n}"] = runs[name]
        def get(k: str, f: str, n: int = n):
            return (details.get(f"{k}:{n}") or {}).get(f)

        row.update(ours_s=get("ours", "run_s"), ours_rss_mib=get("ours", "rss_mib"),
                   ours_build_s=get("ours", "build_s"), ours_run_cpu_s=get("ours", "run_cpu_s"),
                   ours_build_cpu_s=get("ours", "build_cpu_s"),
                   ours_f32_s=get("ours_f32", "run_s"), ours_f32_rss_mib=get("ours_f32", "rss_mib"),
                   ours_f32_build_s=get("ours_f32", "build_s"),
                   ours_f32_run_cpu_s=get("ours_f32", "run_cpu_s"),
                   ours_f32_build_cpu_s=get("ours_f32", "build_cpu_s"),
                   brian2_s=get("brian2", "run_s"), brian2_rss_mib=get("brian2", "rss_mib"),
                   nest_s=get("nest", "run_s"))
        rows.append(row)
    slopes = {k: slope([r["n"] for r in rows], [r[f"{k}_s"] for r in rows])
              for k in ("ours", "ours_f32", "brian2", "nest")}
    for k in ("ours", "ours_f32"):
        slopes[f"{k}_cpu"] = slope([r["n"] for r in rows], [r[f"{k}_run_cpu_s"] for r in rows])
    roofline = None
    if not args.no_roofline and len(args.sizes) > 1:
        roofline = _roofline(args.sizes)
        if roofline is not None:
            slopes["stream"] = roofline["slopes"]["stream"]
            slopes["neuron_pass"] = roofline["slopes"]["pass"]
    for k, s in slopes.items():
        if s is not None and k not in ("stream", "neuron_pass"):
            print(f"slope of run time vs N (log-log), {k}: {s:.3f}")
    if roofline is not None:
        print(f"slope of a bare memory stream of the neuron state (the plainest loop over its "
              f"bytes, once per step: what this machine's caches allow): {slopes['stream']:.3f}; "
              f"our neuron pass alone: {slopes['neuron_pass']:.3f} (benchmarks/w1s_roofline.py)")
    for r in rows:
        for k in ("ours", "ours_f32"):
            if r[f"{k}_build_s"] is not None and r[f"{k}_s"]:
                d = details[f"{k}:{r['n']}"]
                print(f"N={r['n']}: {k} build is {100 * r[f'{k}_build_s'] / r[f'{k}_s']:.1f} % "
                      f"of the run (wall, median of {d['repeats']}; the slowest build "
                      f"{100 * d['build_max_s'] / r[f'{k}_s']:.1f} %), "
                      f"{100 * r[f'{k}_build_cpu_s'] / r[f'{k}_run_cpu_s']:.1f} % (CPU), "
                      "compile/load apart")
    if args.json:
        print(json.dumps({"workload": "W1-scale", "unit": "s", "better": "lower", "rows": rows,
                          "slopes": slopes, "details": details, "in_degree": IN_DEGREE,
                          "duration_ms": DURATION_MS, "machine": machine(),
                          "threads": THREADS, "ours_kernel": "jit" if args.jit else "aot",
                          "aot_build_s": aot_build_s, "reps": args.reps, "repeats": reps,
                          "roofline": roofline}))


if __name__ == "__main__":
    main()
