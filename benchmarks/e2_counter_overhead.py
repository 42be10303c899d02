"""E2: what the energy counters cost — W1 (CUBA, 1 s at dt = 0.1 ms) with and without them.

Our compiled network loop always counts spikes per neuron (``spike_count``) and synaptic
events per projection (``synops``), the exact counters the energy report prices. To measure
their cost without touching the kernel, this script loads the source of
:mod:`neuroplastic.kernels.network_numba` and compiles variants of it as temporary modules:

* ``counted``     — the source unchanged;
* ``no_counters`` — the ``spike_count[i] += 1`` and ``synops[p] += z - a`` lines removed;
* ``no_counts``   — also the per-step population counts of rate monitors
  (``pop_counts[...] += 1``) removed: no counting at all.

All three are compiled the same way (no numba cache) and swapped in as the network's kernel;
the no-counter variants must reproduce the counted run's spikes exactly (checked). Reps are
interleaved (counted, no_counters, no_counts, counted, ...) on fresh CUBA networks (seed =
rep), so that machine-load drift hits every variant alike; the overhead of each rep is the
paired ratio of CPU times (``time.thread_time``, robust to other processes on a shared machine)
and the result is the median over reps (wall-clock medians are printed too). Run from the repo
root::

    python benchmarks/e2_counter_overhead.py [--quick] [--reps 11]

No peer: Brian2 and the others do not count SynOps inside their loops. The last line is the
JSON summary (overhead of the energy counters in percent; target < 5 %).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import machine, median, pin_threads  # noqa: E402

THREADS = 1
STRIPS = {
    "no_counters": ("spike_count[i] += 1", "synops[p] += z - a"),
    "no_counts": ("spike_count[i] += 1", "synops[p] += z - a", "pop_counts[k, b, pop_of[i]] += 1"),
}


def _variants(tmp: Path) -> dict:
    import neuroplastic.kernels.network_numba as kernel_mod

    src = Path(kernel_mod.__file__).read_text().replace("cache=True", "cache=False")
    sources = {"counted": src}
    for name, lines in STRIPS.items():
        out = []
        removed = {line: 0 for line in lines}
        for row in src.splitlines(keepends=True):
            if row.strip() in removed:
                removed[row.strip()] += 1
                continue
            out.append(row)
        if any(n != 1 for n in removed.values()):
            raise SystemExit(f"kernel source changed: expected each of {lines} once, {removed}")
        sources[name] = "".join(out)
    mods = {}
    for name, text in sources.items():
        path = tmp / f"e2_kernel_{name}.py"
        path.write_text(text)
        spec = importlib.util.spec_from_file_location(f"e2_kernel_{name}", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        mods[name] = mod.run_steps
    return mods


def _run_once(run_steps, seed: int, duration_ms: float) -> tuple[float, float, int, object]:
    import neuroplastic.kernels.network_numba as kernel_mod
    from neuroplastic.experiments.cuba import CubaConfig, build_cuba

    original = kernel_mod.run_steps
    kernel_mod.run_steps = run_steps  # the simulation imports it at call time
    try:
        net = build_cuba(CubaConfig(seed=seed))
        mons = [net.monitor_spikes("exc"), net.monitor_spikes("inh")]  # as in W1
        net._ensure_built()  # compiles this variant on first use (not timed)
        t0, c0 = time.perf_counter(), time.thread_time()
        net.run(duration_ms)
        cpu, wall = time.thread_time() - c0, time.perf_counter() - t0
    finally:
        kernel_mod.run_steps = original
    spikes = sum(m.count for m in mons)
    return wall, cpu, spikes, (mons[0].steps.numpy(), mons[0].neurons.numpy(), net.synops)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="200 ms of CUBA instead of 1 s")
    ap.add_argument("--reps", type=int, default=11)
    args = ap.parse_args()
    pin_threads(THREADS)
    reps = max(args.reps, 5)
    duration = 200.0 if args.quick else 1000.0
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        kernels = _variants(Path(tmp))
        for fn in kernels.values():  # compile every variant before timing
            _run_once(fn, 0, 1.0)
        print(f"compiled {len(kernels)} kernel variants in {time.perf_counter() - t0:.1f} s")
        # correctness: no variant may change the dynamics
        ref = _run_once(kernels["counted"], 0, 100.0)[3]
        for name in STRIPS:
            got = _run_once(kernels[name], 0, 100.0)[3]
            assert all(
                a.shape == b.shape and (a == b).all() for a, b in zip(got[:2], ref[:2])
            ), f"{name} changed the spikes"
            assert sum(got[2].values()) == 0 < sum(ref[2].values()), name
        times = {name: {"wall": [], "cpu": []} for name in kernels}
        spikes = []
        for rep in range(reps):
            for name, fn in kernels.items():
                wall, cpu, n_spk, _ = _run_once(fn, rep, duration)
                times[name]["wall"].append(wall)
                times[name]["cpu"].append(cpu)
                if name == "counted":
                    spikes.append(n_spk)
            print(f"rep {rep}: " + ", ".join(
                f"{n} {times[n]['cpu'][-1]:.3f} s" for n in kernels), flush=True)
    overhead = {}
    for name in STRIPS:
        for clock in ("cpu", "wall"):
            ratios = [c / s for c, s in zip(times["counted"][clock], times[name][clock])]
            overhead[f"{name}_{clock}"] = 100.0 * (median(ratios) - 1.0)
    for name, t in times.items():
        cpu, wall = median(t["cpu"]), median(t["wall"])
        print(f"{name:12s} cpu median {cpu:.4f} s, wall median {wall:.4f} s")
    for key, val in overhead.items():
        print(f"overhead of counting vs {key}: {val:+.2f} %")
    print(f"spikes per run (median): {median(spikes)}; machine: {machine()}")
    summary = {
        "workload": f"CUBA 4000 neurons, {duration:g} ms at dt 0.1 ms: overhead of the energy "
                    "counters (spike_count + synops) in the compiled loop, paired CPU-time ratio",
        "unit": "% of the loop time",
        "ours": round(overhead["no_counters_cpu"], 3),
        "peers": {},
        "ratio_vs_best_peer": None,
        "better": "lower",
        "machine": machine(),
        "threads": THREADS,
        "reps": reps,
        "overhead_all_counting_percent": round(overhead["no_counts_cpu"], 3),
        "overhead_wall_percent": round(overhead["no_counters_wall"], 3),
        "counted_cpu_s": round(median(times["counted"]["cpu"]), 4),
        "no_counters_cpu_s": round(median(times["no_counters"]["cpu"]), 4),
        "target_percent": 5.0,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
