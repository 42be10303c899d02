"""W3 side study: event-driven vs dense projection (forward + weight gradient) by input density.

The layer-1 shape of W3 (rows T * B = 6400, 700 -> 256, float32, 2 threads): ``EventLinear``
with the event path forced on (``max_density=1``) against the dense product
(``max_density=0``), same weights and inputs, spikes (0/1) at each density. Prints one line per
density and a JSON summary (the density where the event path stops paying) as the last line.

    python benchmarks/w3_event_crossover.py [--threads 2] [--reps 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import machine, pin_threads  # noqa: E402

DENSITIES = (0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=7)
    a = ap.parse_args()
    pin_threads(a.threads)
    import torch

    from neuroplastic.surrogate import EventLinear, kernel_engine

    torch.set_num_threads(a.threads)
    g = torch.Generator().manual_seed(0)
    event = EventLinear(700, 256, max_density=1.0)
    dense = EventLinear(700, 256, max_density=0.0)
    dense.load_state_dict(event.state_dict())

    def step(layer, x, gy):
        layer.zero_grad(set_to_none=True)
        y = layer(x)
        y.backward(gy)

    rows = []
    for d in DENSITIES:
        x = (torch.rand(100, 64, 700, generator=g) < d).float()
        gy = torch.randn(100, 64, 256, generator=g)
        ms = {}
        for name, layer in (("event", event), ("dense", dense)):
            step(layer, x, gy)
            ts = []
            for _ in range(a.reps):
                t0 = time.perf_counter()
                step(layer, x, gy)
                ts.append((time.perf_counter() - t0) * 1e3)
            ms[name] = statistics.median(ts)
        rows.append({"density": d, **ms, "ratio": ms["event"] / ms["dense"]})
        print(f"density {d:5.2f}: event {ms['event']:7.2f} ms  dense {ms['dense']:7.2f} ms  "
              f"ratio {ms['event'] / ms['dense']:.2f}", flush=True)
    paying = [r["density"] for r in rows if r["ratio"] < 1.0]
    print(json.dumps({
        "workload": "event vs dense projection, 6400 x 700 -> 256, forward + weight gradient",
        "unit": "ms", "rows": rows, "event_pays_up_to_density": max(paying) if paying else None,
        "engine": repr(kernel_engine()), "machine": machine(), "threads": a.threads,
    }))


if __name__ == "__main__":
    main()
