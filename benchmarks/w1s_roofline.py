"""W1-scale, where the slope comes from: the neuron pass against the machine's own streaming rate.

``w1s_scale.py`` reports how the run time of CUBA grows with N. This script splits off the part
that no code change can make linear: the pass over every neuron's state once per step. For each
N it times, on one thread,

* ``pass``: the compiled loop's fused membrane update, threshold and reset
  (:func:`neuroplastic.kernels.network_numba._fused_segment`, the code the simulation runs) over
  float32 state laid out as the simulation's (v, two synaptic currents, int16 refractory
  counter, uint8 spike flag: 15 B per neuron, all read and written every step), and
* ``stream``: the plainest loop over the same number of bytes, ``x[i] = x[i] * c + 1`` on a
  float32 array of 15/4 words per neuron (read and written once per step, vectorized): what
  this machine's caches deliver for a working set of that size, with no simulation in it.

``pass / stream`` near 1 means the neuron pass runs at the memory hierarchy's rate; the
slope of ``stream`` against N is then the machine's (on a VM whose core has a 2 MiB L2 the
state leaves it between 40k and 400k neurons). ``--whole`` also times the full 1 s CUBA run
(connectivity, synaptic events, spike lists) per neuron and step, as ``w1s_scale.py`` does.

Synaptic currents do not decay here (decay factor 1): a current decaying for thousands of
steps becomes subnormal, whose arithmetic is far slower on x86 and would measure the FPU, not
the memory (in CUBA the currents receive input every few steps and stay normal).

    python benchmarks/w1s_roofline.py [--sizes 4000 40000 400000 4000000] [--whole] [--json]
                                      [--plot roofline.png]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import loglog_slope, machine, pin_threads  # noqa: E402

STATE_BYTES = 15  # float32 v, two float32 currents, int16 refractory count, uint8 spike flag
WORK = 4e8  # neuron updates per timing (steps = WORK / N)


def _kernels():
    import numpy as np
    from numba import njit

    from neuroplastic.kernels.network_numba import _fused_segment

    @njit(cache=False)
    def neuron_pass(steps, n, vb, e0, e1, rb, flag, cur, dv, vr, vt, de, ds, dr, sn, vz, sub,
                    ref, zero):
        for _ in range(steps):
            _fused_segment(0, n, True, False, False, vb, e0, e1, rb, flag, cur, cur, dv, vr, vt,
                           de, ds, dr, sn, vz, sub, ref, zero)

    @njit(cache=False)
    def stream(steps, x, c, one):
        for _ in range(steps):
            for i in range(np.uint64(0), np.uint64(x.shape[0])):  # unsigned: vectorizes
                x[i] = x[i] * c + one

    return neuron_pass, stream


def measure(n: int, neuron_pass, stream, reps: int) -> dict:
    import numpy as np

    f = np.float32
    full = lambda x: np.full(n, x, f)  # noqa: E731
    rng = np.random.default_rng(0)
    args = (n, rng.uniform(-60.0, -50.0, n).astype(f), full(0.3), full(-0.2),
            np.zeros(n, np.int16), np.zeros(n, np.uint8), np.zeros(n, f),
            full(math.exp(-0.1 / 20.0)), full(-49.0), full(-50.0), full(0.0),
            np.vstack([full(1.0), full(1.0)]), np.vstack([full(0.005), full(0.01)]),
            full(0.0), full(-60.0), np.zeros(n, np.int64), np.full(n, 50, np.int64), f(0.0))
    x = np.ones(n * STATE_BYTES // 4, f)
    steps = max(1, int(WORK / n))
    neuron_pass(1, *args)
    stream(1, x, f(0.5), f(1.0))
    best = {"pass": math.inf, "stream": math.inf}
    for _ in range(reps):  # the best of reps: the machine's rate, not its interruptions
        t0 = time.perf_counter()
        neuron_pass(steps, *args)
        best["pass"] = min(best["pass"], time.perf_counter() - t0)
        t0 = time.perf_counter()
        stream(steps, x, f(0.5), f(1.0))
        best["stream"] = min(best["stream"], time.perf_counter() - t0)
    per = {k: v / steps / n * 1e9 for k, v in best.items()}
    return {"n": n, "state_mib": n * STATE_BYTES / 2**20, "pass_ns": per["pass"],
            "stream_ns": per["stream"], "pass_over_stream": per["pass"] / per["stream"],
            "stream_gb_s": 2 * STATE_BYTES / per["stream"]}


def whole(n: int, seed: int) -> float:
    """ns per neuron and step of the full 1 s CUBA run (float32), as in w1s_scale.py."""
    from neuroplastic.experiments.cuba import CubaConfig, build_cuba

    net = build_cuba(CubaConfig(n_neurons=n, seed=seed, p_connect=80 / n, dtype="float32"))
    net._ensure_built()
    t0 = time.perf_counter()
    net.run(1000.0, progress=False)
    return (time.perf_counter() - t0) / (n * 10_000) * 1e9


def _plot(rows: list[dict], path: str) -> None:
    """Cost per neuron and step against N, log-log: flat = linear in N."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ns = [r["n"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, label in (("stream_ns", "bare stream of the same bytes"),
                       ("pass_ns", "our neuron pass"), ("whole_ns", "our whole CUBA run")):
        if all(key in r for r in rows):
            ax.plot(ns, [r[key] for r in rows], "o-", label=label)
    ax.set(xscale="log", yscale="log", xlabel="neurons N",
           ylabel="ns per neuron and step (flat = linear)", title="W1-scale roofline, 1 thread")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"plot: {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[4_000, 40_000, 400_000, 4_000_000])
    ap.add_argument("--reps", type=int, default=3, help="timings per size; the best is kept")
    ap.add_argument("--whole", action="store_true",
                    help="also time the full 1 s CUBA run (float32) per neuron and step")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="print one JSON object as last line")
    ap.add_argument("--plot", metavar="PNG", help="also draw ns per neuron and step against N")
    args = ap.parse_args()
    if args.reps < 1 or any(n < 1 for n in args.sizes):
        ap.error("--reps and every size must be >= 1")
    pin_threads(1)
    neuron_pass, stream = _kernels()
    rows = []
    print(f"{'N':>9} {'state MiB':>9} {'pass ns':>8} {'stream ns':>9} {'pass/stream':>11} "
          f"{'stream GB/s':>11}" + (f" {'whole run ns':>12}" if args.whole else ""))
    for n in args.sizes:
        r = measure(n, neuron_pass, stream, args.reps)
        if args.whole:
            r["whole_ns"] = whole(n, args.seed)
        rows.append(r)
        print(f"{n:>9} {r['state_mib']:>9.2f} {r['pass_ns']:>8.3f} {r['stream_ns']:>9.3f} "
              f"{r['pass_over_stream']:>11.2f} {r['stream_gb_s']:>11.1f}"
              + (f" {r['whole_ns']:>12.3f}" if args.whole else ""), flush=True)
    ns = [r["n"] for r in rows]
    slopes = {}
    if len(rows) > 1:
        for k in ("pass", "stream") + (("whole",) if args.whole else ()):
            slopes[k] = loglog_slope(ns, [r[f"{k}_ns"] * r["n"] for r in rows])  # total time
            print(f"slope of {k} time vs N (log-log, {ns[0]}..{ns[-1]}): {slopes[k]:.3f}")
    if args.plot:
        _plot(rows, args.plot)
    if args.json:
        print(json.dumps({"workload": "W1-scale roofline", "unit": "ns per neuron and step",
                          "rows": rows, "slopes": slopes, "state_bytes": STATE_BYTES,
                          "machine": machine(), "threads": 1}))


if __name__ == "__main__":
    main()
