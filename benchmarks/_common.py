"""Shared helpers of the benchmark harness (thread pinning, machine description, medians)."""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
import sys


def pin_threads(n: int) -> None:
    """Pin every thread pool to ``n`` threads; call before importing numpy/torch."""
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[k] = str(n)
    try:
        import torch

        torch.set_num_threads(n)
    except Exception:  # noqa: BLE001 - torch is optional for some peers
        pass


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} (load {load:.1f})"


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def run_peer(script: str, args: list[str], timeout: int = 1200) -> dict | None:
    """Run ``script args`` in a subprocess and return the JSON object of its last line."""
    proc = subprocess.run([sys.executable, script, *args], capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        print(proc.stderr[-2000:], file=sys.stderr)
        return None
    lines = [ln for ln in proc.stdout.strip().splitlines() if ln.startswith("{")]
    return json.loads(lines[-1]) if lines else None


def loglog_slope(ns: list[int], ts: list[float | None]) -> float | None:
    """Least-squares slope of log(time) against log(N) (1 = cost linear in N); sizes whose
    time is missing are left out; None with fewer than two points."""
    pts = [(math.log(n), math.log(t)) for n, t in zip(ns, ts) if t]
    if len(pts) < 2:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    return sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)
