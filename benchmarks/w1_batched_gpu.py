"""W1 batched: CUBA (4000 neurons, 1 s) as many independent trials at once, on a GPU (the torch
loop; spikes delivered by one product per projection for all trials, each step replayed as one
CUDA graph unless ``NEUROPLASTIC_CUDA_GRAPHS=0``) beside the compiled CPU loop (numba, one
thread) running the same batch, in one run. Prints wall time per run,
trials per second and the ratio; the last line is one JSON object.

    python benchmarks/w1_batched_gpu.py [--batch 1,16,64] [--dtype float32] [--ms 1000]
                                        [--eager-too]

``--eager-too`` also times each GPU row with the CUDA graphs off (``NEUROPLASTIC_CUDA_GRAPHS=0``,
the same numbers) and prints graphs / eager.

Without a CUDA device only the CPU rows are measured (and it says so).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

for _k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_k, "1")

import torch  # noqa: E402

from neuroplastic.experiments.cuba import CubaConfig, build_cuba  # noqa: E402


def one(batch: int, device: str, dtype: str, ms: float) -> dict:
    t0 = time.perf_counter()
    net = build_cuba(CubaConfig(seed=0, dtype=dtype), batch=batch, device=device)
    mon = net.monitor_rate("exc")
    net._ensure_built()
    if device == "cpu":
        net.run(1.0)  # compile/load the kernel outside the timed run
        net.reset_state()
    build = time.perf_counter() - t0
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t1 = time.perf_counter()
    net.run(ms, progress=False)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    wall = time.perf_counter() - t1
    spikes = int(net.spike_counts("exc").sum() + net.spike_counts("inh").sum())
    del mon
    return {"batch": batch, "device": device, "dtype": dtype, "wall_s": wall, "build_s": build,
            "trials_per_s": batch / wall, "rate_hz": spikes / batch / 4000 / (ms / 1e3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", default="1,16,64")
    ap.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    ap.add_argument("--ms", type=float, default=1000.0)
    ap.add_argument("--eager-too", action="store_true",
                    help="also time the GPU rows with CUDA graphs off")
    a = ap.parse_args()
    torch.set_num_threads(1)
    cuda = torch.cuda.is_available()
    if not cuda:
        print("no CUDA device: GPU rows skipped")
    rows = []
    for b in (int(x) for x in a.batch.split(",")):
        pair = {}
        for dev in (["cuda"] if cuda else []) + ["cpu"]:
            r = one(b, dev, a.dtype, a.ms)
            rows.append(r)
            pair[dev] = r
            print(f"batch {b:4d} {dev:5s} {r['wall_s']:8.2f} s  {r['trials_per_s']:8.2f} "
                  f"trials/s  rate {r['rate_hz']:.2f} Hz  build {r['build_s']:.2f} s", flush=True)
        if len(pair) == 2:
            print(f"batch {b:4d} GPU / CPU wall time: "
                  f"{pair['cuda']['wall_s'] / pair['cpu']['wall_s']:.3f}", flush=True)
        if cuda and a.eager_too:
            before = os.environ.get("NEUROPLASTIC_CUDA_GRAPHS")
            os.environ["NEUROPLASTIC_CUDA_GRAPHS"] = "0"
            try:
                r = one(b, "cuda", a.dtype, a.ms)
            finally:
                if before is None:
                    del os.environ["NEUROPLASTIC_CUDA_GRAPHS"]
                else:
                    os.environ["NEUROPLASTIC_CUDA_GRAPHS"] = before
            r["device"] = "cuda-eager"
            rows.append(r)
            assert r["rate_hz"] == pair["cuda"]["rate_hz"], "graphs changed the spikes"
            print(f"batch {b:4d} eager {r['wall_s']:8.2f} s; graphs / eager: "
                  f"{pair['cuda']['wall_s'] / r['wall_s']:.3f}", flush=True)
    print(json.dumps({
        "workload": "W1-batched", "rows": rows, "ms": a.ms,
        "gpu": torch.cuda.get_device_name() if cuda else None,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
