"""Tutorial: run a parameter sweep on Ray.

Run it with ``.venv/bin/python docs/tutorials/ray_sweep.py [OUT]`` (about 15 s on 2 cores; the
sweep folder goes to ``OUT``, default a temporary folder). Every claim is an ``assert``;
``tests/test_tutorials.py`` runs this file. Where Ray cannot start (no ``ray`` package, a
sandbox without shared memory, ...) it prints ``SKIP: <reason>`` and exits with status 0.

The same sweep from the command line::

    neuroplastic sweep cuba --grid p_connect=0.05,0.1 --seeds 1 \\
        --set n_neurons=400 --set duration_ms=200 --backend ray --workers 2 --out results/sweep
"""

from __future__ import annotations

import csv
import sys
import tempfile
from pathlib import Path

from neuroplastic.lab import plan_sweep, run_sweep

# [plan]
# A grid of configs x seeds of a registered experiment: here the CUBA balanced network,
# shrunk to 400 neurons and 200 ms so that each point takes about a second. Every point's
# config is validated now, before anything runs (a wrong key or value raises ValueError).
plan = plan_sweep(
    "cuba",
    ["p_connect=0.05,0.1"],  # --grid: one key, two values
    1,  # --seeds: seeds 0 .. N-1 of every grid point
    base_overrides=["n_neurons=400", "duration_ms=200"],  # --set: fixed for every point
)
assert [p.key for p in plan.points] == ["p_connect=0.05_seed=0", "p_connect=0.1_seed=0"]
# [plan-end]

# [ray]
try:
    import ray

    # A local Ray instance with 2 CPUs. On a cluster, pass address="ray://host:10001" to
    # run_sweep (or --address on the command line) instead of starting one here.
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
except Exception as e:  # noqa: BLE001 - no ray package, or Ray cannot start on this machine
    print(f"SKIP: Ray is not available here ({type(e).__name__}: {e})")
    sys.exit(0)

out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()) / "sweep-cuba"
try:
    # One Ray task (num_cpus=1) per point; each point is an ordinary result folder.
    failed = run_sweep(plan, out, backend="ray", workers=2, progress=False)
    assert failed == {}, failed
    # Run it again: finished points (metrics.json + DONE) are skipped, nothing is redone.
    assert run_sweep(plan, out, backend="ray", workers=2, progress=False) == {}
finally:
    ray.shutdown()
# [ray-end]

# [results]
for point in plan.points:
    folder = out / "points" / point.key
    assert (folder / "DONE").is_file() and (folder / "metrics.json").is_file()
with open(out / "summary.csv") as f:  # one row per point: grid values, seed, metrics
    rows = list(csv.DictReader(f))
assert [r["p_connect"] for r in rows] == ["0.05", "0.1"]
for r in rows:
    print(f"p_connect {r['p_connect']}: {float(r['rate_hz_mean']):.1f} Hz, "
          f"{int(r['synops_total'])} SynOps")
# Twice the connection probability: about twice the synapses, so more synaptic events.
assert int(rows[1]["synops_total"]) > int(rows[0]["synops_total"])
# summary_mean_ci.csv: mean, std and 95 % CI over the seeds of every grid point.
assert (out / "summary_mean_ci.csv").is_file()
print(f"sweep folder: {out}")
# [results-end]
