"""W1-scale on NEST through our backend, split three ways: 1 process x 1 thread, 1 process x 2
threads (OpenMP), 2 MPI ranks x 1 thread (``mpirun``) — side by side with our own simulator
(compiled loop, 1 thread) on the same CUBA network (Vogels & Abbott 2005, in-degree ~80,
1 s at dt = 0.1 ms).

The network is built by :func:`neuroplastic.interop.nest.to_nest` (exact connectivity, synapse
by synapse) and run by :func:`run_nest`, which gathers the ranks' spikes (mpi4py). CUBA has no
random input, so every NEST split must give the same spikes (checked and printed). Needs an
MPI-enabled NEST (``benchmarks/install-nest-mpi.sh PREFIX``; the PyPI wheel has none) and
``mpirun``; all NEST columns use that build. Run from the repo root:

    NEUROPLASTIC_NEST_MPI=PREFIX python benchmarks/w1s_nest_mpi.py [--sizes 4000 40000] [--json]

Per row: build (our connectivity draw, plus ``to_nest`` for NEST; numba's one-time compile or
cache load excluded) and run wall time, spikes, peak RSS (the largest of the ranks).
``--json`` prints one JSON object as the last line (``rows``: ``{n, ours_s, nest_1x1_s,
nest_1x2_s, nest_2x1_s, ...}``, null where a split could not run).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import machine  # noqa: E402

IN_DEGREE = 80
DURATION_MS = 1000.0
SPLITS = {"nest_1x1": (1, 1), "nest_1x2": (1, 2), "nest_2x1": (2, 1)}  # (ranks, threads)


def _cuba(n: int, seed: int):
    from neuroplastic.experiments.cuba import CubaConfig, build_cuba

    net = build_cuba(CubaConfig(n_neurons=n, seed=seed, p_connect=IN_DEGREE / n))
    net.monitor_spikes("exc"), net.monitor_spikes("inh")
    return net


def worker(target: str, n: int, seed: int, threads: int) -> dict | None:
    """One measurement in this process (under mpirun: one rank; rank 0 reports)."""
    if target == "ours":  # the W1-scale measurement itself (same network, same timing)
        from w1s_scale import ours

        return ours(n, seed)
    import neuroplastic.experiments.cuba  # noqa: F401 - imports are not build time
    from neuroplastic.interop.nest import _mpi_comm, require_nest, run_nest, to_nest

    nest = require_nest()
    t0 = time.perf_counter()
    net = _cuba(n, seed)  # connectivity drawn here (to_nest copies it)
    model = to_nest(net, threads=threads, zero_delay="one_step")
    build_s = time.perf_counter() - t0 - net.compile_s
    res = run_nest(net, DURATION_MS, model=model, progress=False)
    spikes = sum(m.count for m in res.spike_monitors.values())
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    comm = _mpi_comm()
    if comm is not None:
        rss = max(comm.allgather(rss))
        build_s, run_s = (max(comm.allgather(x)) for x in (build_s, res.sim_s))
    else:
        run_s = res.sim_s
    if nest.Rank() != 0:
        return None
    return {"build_s": build_s, "run_s": run_s, "spikes": spikes, "rss_mib": rss,
            "processes": nest.NumProcesses(),
            "virtual_processes": nest.GetKernelStatus("total_num_virtual_procs")}


def _launch(target: str, n: int, seed: int, prefix: str, timeout: float) -> dict | None:
    ranks, threads = SPLITS.get(target, (1, 1))
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", target, "--n", str(n),
           "--seed", str(seed), "--threads", str(threads)]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), NUMBA_NUM_THREADS="1")
    if target != "ours":
        with open(os.path.join(prefix, "pythonpath")) as f:
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (f.read().strip(), env.get("PYTHONPATH", "")) if p)
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
        if ranks > 1:
            cmd = [shutil.which("mpirun") or "mpirun", "-np", str(ranks), "--oversubscribe",
                   "--bind-to", "none", *cmd]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        print(f"{target} N={n}: over {timeout:.0f} s, skipped", flush=True)
        return None
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        print(f"{target} N={n}: failed ({proc.stderr.strip().splitlines()[-3:]})", flush=True)
        return None
    return json.loads(lines[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[4000, 40000])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=1800.0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        out = worker(args.worker, args.n, args.seed, args.threads)
        if out is not None:
            print(json.dumps(out), flush=True)
        return
    prefix = os.environ.get("NEUROPLASTIC_NEST_MPI", "")
    have = bool(prefix) and os.path.exists(os.path.join(prefix, "pythonpath")) and bool(
        shutil.which("mpirun"))
    print(f"W1-scale on NEST, split by ranks x threads; {machine()}", flush=True)
    if not have:
        print("no MPI-enabled NEST (set NEUROPLASTIC_NEST_MPI=PREFIX after "
              "benchmarks/install-nest-mpi.sh PREFIX; mpirun on PATH): NEST columns skipped")
    targets = ["ours", *(SPLITS if have else ())]
    rows = []
    print(f"{'N':>9} {'target':>9} {'build s':>8} {'run s':>8} {'RSS MiB':>8} {'spikes':>9} "
          f"{'run / ours':>10}", flush=True)
    for n in args.sizes:
        row: dict = {"n": n}
        for t in targets:
            r = _launch(t, n, args.seed, prefix, args.timeout)
            row[t] = r
            row[f"{t}_s"] = r and r["run_s"]
            if r:
                ratio = r["run_s"] / row["ours_s"] if row.get("ours_s") else float("nan")
                print(f"{n:>9} {t:>9} {r['build_s']:>8.2f} {r['run_s']:>8.2f} "
                      f"{r['rss_mib']:>8.0f} {r['spikes']:>9} {ratio:>10.1f}", flush=True)
        nest_spikes = {row[t]["spikes"] for t in SPLITS if row.get(t)}
        if len(nest_spikes) > 1:
            print(f"N={n}: the NEST splits disagree on the spike count: {sorted(nest_spikes)}")
        row["nest_splits_agree"] = len(nest_spikes) <= 1
        if row.get("nest_1x1_s") and row.get("nest_2x1_s"):
            print(f"N={n}: 2 ranks speed-up {row['nest_1x1_s'] / row['nest_2x1_s']:.2f}x, "
                  f"2 threads {row['nest_1x1_s'] / row['nest_1x2_s']:.2f}x "
                  f"(ideal 2x on 2 cores)", flush=True)
        rows.append(row)
    if args.json:
        print(json.dumps({"machine": machine(), "duration_ms": DURATION_MS, "rows": rows}))


if __name__ == "__main__":
    main()
