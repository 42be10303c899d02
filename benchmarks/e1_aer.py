"""E1: event I/O throughput — EVT 3.0 read/write, .npev, AER encode/decode.

Run from the repo root (peers importable)::

    /work/peers/bin/python benchmarks/e1_aer.py [--quick] [--evt3 FILE.raw]

Writes a synthetic 1280x720 EVT 3.0 recording with our writer (one EVT_ADDR_X word per
event, times spanning several 24-bit wraps), then reads the same file with our reader and with
``expelliarmus`` (C reader, the one Tonic uses for Prophesee data) when installed. ``--evt3``
adds a real recording (e.g. expelliarmus's ``tests/sample-files/evt3_sample.raw``). Reports
millions of events per second (median of the repetitions) and checks that both readers agree
on x, y, p (expelliarmus adds 4096 us whenever EVT_TIME_LOW decreases, so its times differ).
The last line is the JSON summary (workload: EVT 3.0 read).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import machine  # noqa: E402

THREADS = 1
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[var] = str(THREADS)

import numpy as np  # noqa: E402
import torch  # noqa: E402

from neuroplastic.events import (  # noqa: E402
    AERFormat,
    EventStream,
    decode,
    encode_ticks,
    read_evt3,
    read_npev,
    write_evt3,
    write_npev,
)
from neuroplastic.events.formats import encode_evt3_words  # noqa: E402


def _median_time(fn, reps):
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _synthetic(n, seed=0):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, 60_000_000, n))  # 60 s: three wraps of the 24-bit time base
    x = rng.integers(0, 1280, n)
    y = rng.integers(0, 720, n)
    p = rng.integers(0, 2, n)
    return EventStream(address=y * 1280 + x, ticks=t, polarity=p, x=x, y=y)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--evt3", type=Path, default=None, help="an extra real EVT 3.0 file")
    args = ap.parse_args()
    torch.set_num_threads(THREADS)

    n = 200_000 if args.quick else 2_000_000
    reps = 3 if args.quick else 5
    try:
        from expelliarmus import Wizard
    except ImportError:
        Wizard = None
        print("expelliarmus not installed: peer skipped")

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        stream = _synthetic(n)
        warm = Path(tmp) / "warm.raw"  # load the compiled kernels (numba cache) before timing
        write_evt3(warm, _synthetic(100), width=1280, height=720)
        read_evt3(warm)
        raw = Path(tmp) / "synthetic.raw"
        t_write = _median_time(lambda: write_evt3(raw, stream, width=1280, height=720), reps)
        results["ours EVT3 write"] = n / t_write / 1e6
        args_enc = (stream.x, stream.y, stream.ticks, stream.polarity)
        t_enc_np = _median_time(lambda: encode_evt3_words(*args_enc, backend="numpy"), reps)
        t_enc_nb = _median_time(lambda: encode_evt3_words(*args_enc), reps)
        results["ours EVT3 encode words (numba)"] = n / t_enc_nb / 1e6
        results["ours EVT3 encode words (numpy reference)"] = n / t_enc_np / 1e6
        files = [("synthetic", raw)]
        if args.evt3 is not None:
            files.append((args.evt3.name, args.evt3))
        read_ours = read_peer = None
        for label, path in files:
            rec = read_evt3(path)
            m = len(rec.events)
            t_ours = _median_time(lambda p=path: read_evt3(p), reps)
            results[f"ours EVT3 read ({label})"] = m / t_ours / 1e6
            t_np = _median_time(lambda p=path: read_evt3(p, backend="numpy"), reps)
            results[f"ours EVT3 read, numpy reference ({label})"] = m / t_np / 1e6
            assert read_evt3(path, backend="numpy").events.equals(rec.events)
            if label == "synthetic":
                assert rec.events.equals(stream)
                read_ours = m / t_ours / 1e6
            if Wizard is not None:
                wiz = Wizard(encoding="evt3")
                ev = wiz.read(path)
                same_xyp = all(
                    np.array_equal(ev[f].astype(np.int64), col.astype(np.int64))
                    for f, col in (
                        ("x", rec.events.x),
                        ("y", rec.events.y),
                        ("p", rec.events.polarity),
                    )
                )
                t_diff = int(np.count_nonzero(ev["t"] != rec.events.ticks))
                print(
                    f"{label}: {m} events; expelliarmus agrees on x,y,p: {same_xyp}; "
                    f"timestamps differing: {t_diff}"
                )
                t_peer = _median_time(lambda p=path, w=wiz: w.read(p), reps)
                results[f"expelliarmus EVT3 read ({label})"] = m / t_peer / 1e6
                if label == "synthetic":
                    read_peer = m / t_peer / 1e6
            print(f"{label}: {path.stat().st_size / 2**20:.1f} MiB")
        if Wizard is not None:
            arr = np.empty(n, dtype=[("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("p", "u1")])
            arr["t"], arr["x"], arr["y"], arr["p"] = (
                stream.ticks,
                stream.x,
                stream.y,
                (stream.polarity),
            )
            out = Path(tmp) / "peer.raw"
            t_pw = _median_time(lambda: Wizard(encoding="evt3").save(out, arr), reps)
            results["expelliarmus EVT3 write"] = n / t_pw / 1e6

        npev = Path(tmp) / "s.npev"
        results["ours npev write"] = n / _median_time(lambda: write_npev(npev, stream), reps) / 1e6
        results["ours npev read"] = n / _median_time(lambda: read_npev(npev), reps) / 1e6

        fmt = AERFormat(1.0, 16, 21)  # 38-bit words (uint64), wraps every 65.5 ms
        words = encode_ticks(stream.ticks, stream.address, stream.polarity, fmt)
        t_enc = _median_time(
            lambda: encode_ticks(stream.ticks, stream.address, stream.polarity, fmt), reps
        )
        t_dec = _median_time(lambda: decode(words, fmt), reps)
        assert decode(words, fmt).ticks.tolist() == stream.ticks.tolist()
        results["ours AER encode"] = n / t_enc / 1e6
        results["ours AER decode"] = n / t_dec / 1e6

    for name, value in results.items():
        print(f"{name:45s} {value:8.2f} Mev/s")
    peers = {} if read_peer is None else {"expelliarmus": round(read_peer, 3)}
    summary = {
        "workload": f"EVT 3.0 read, {n} events 1280x720 (synthetic, our writer)",
        "unit": "Mevents/s",
        "ours": round(read_ours, 3),
        "peers": peers,
        "ratio_vs_best_peer": round(read_ours / max(peers.values()), 3) if peers else None,
        "better": "higher",
        "machine": machine(),
        "threads": THREADS,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
