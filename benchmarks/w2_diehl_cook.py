"""W2: Diehl & Cook (2015) unsupervised STDP network, training throughput (samples/s).

Workload (BENCHMARKS.md, W2): 784 Poisson inputs at ``pixel × intensity`` Hz (default 63.75 Hz,
the paper's MNIST pixel/4), N excitatory + N inhibitory neurons, adaptive thresholds, lateral
inhibition, STDP on input→excitatory, 350 steps of 1 ms per sample, batch 1, learning on. Inputs
are scikit-learn's 8×8 digits bilinearly upsampled to 28×28 (exactly as the peer reference
script ``peer-bench/w2_bindsnet.py`` does), cycled in order.

* ours: :class:`neuroplastic.models.DiehlCook` (compiled numba kernel), ``max_boosts=0`` so
  every sample is exactly one 350-step presentation, as for the peer (the input-boost rule
  would re-present a silent sample; here it never triggers anyway), and ``one_spike=True``
  (at most one excitatory spike per step, as BindsNET's ``DiehlAndCookNodes`` default;
  ``--no-one-spike`` turns it off, which roughly doubles our activity). Spikes per sample are
  counted by the kernel.
* BindsNET 0.3.4 ``models.DiehlAndCook2015`` with its constructor defaults (PostPre STDP, the
  same rule as ours), one ``Ae`` spike monitor, ``reset_state_variables()`` after each sample,
  Poisson encoding inside the timed loop — as in the reference script.
* Brian2 (optional, slow; ``--quick`` skips): the replication in Brian2's
  ``examples/frompapers/Diehl_Cook_2015.py`` is not re-implemented here; its published
  number (1.1 / 2.0 samples/s) is quoted in BENCHMARKS.md.

Throughput is measured after a warm-up of ``--warmup`` samples (≥ 50, compilation included
there), as the median over ``--reps`` blocks of ``--samples`` samples. Equal activity is
checked, not assumed: spikes per sample fall as the thresholds grow during training, so ours'
mean excitatory spikes per sample is taken over exactly the samples on which the peer is timed
(same images, same order, same point of training) and compared with the peer's; the run prints
whether they agree within 15 % (``activity_matched`` in the JSON).
Both libraries start from fresh random weights, so the two activities differ by what the
implementations do, not by the training history.

Run: ``python benchmarks/w2_diehl_cook.py [--quick] [--n 100 400] [--threads 2]``
(with ``/work/peers/bin/python`` for BindsNET). The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

STUBS = Path("/work/shared/reference/peer-bench/stubs")  # torchvision stand-in for bindsnet


def _pin_threads(n: int) -> None:
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):  # fmt: skip
        os.environ[var] = str(n)


def _images():
    import torch
    from sklearn.datasets import load_digits

    d = load_digits()
    imgs = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    imgs = torch.nn.functional.interpolate(
        imgs, size=(28, 28), mode="bilinear", align_corners=False
    ).clamp(0, 1)
    return imgs  # (1797, 1, 28, 28)


def bench_ours(n: int, imgs, args) -> dict:
    import torch

    from neuroplastic.models import DiehlCook, DiehlCookParams

    X = imgs.reshape(len(imgs), 784).to(torch.float64)
    params = DiehlCookParams(
        n_input=784, max_rate_hz=args.intensity, max_boosts=0, one_spike=args.one_spike
    )
    model = DiehlCook(n, params, seed=args.seed)
    t0 = time.perf_counter()
    model.partial_fit(X[: args.warmup])
    warm_s = time.perf_counter() - t0
    k = args.warmup
    rates, spikes = [], []
    for _ in range(args.reps):
        idx = torch.arange(k, k + args.samples_ours) % len(X)
        k += args.samples_ours
        h0 = len(model.history_["exc_spikes"])
        t0 = time.perf_counter()
        model.partial_fit(X[idx])
        rates.append(args.samples_ours / (time.perf_counter() - t0))
        spikes += model.history_["exc_spikes"][h0:]
    # activity over exactly the samples the peer is timed on (same images, same order, same
    # point of training): spikes per sample fall as thresholds grow, so windows must coincide
    a, b = args.warmup_peer, args.warmup_peer + args.reps * args.samples_peer
    return {
        "samples_per_s": statistics.median(rates),
        "samples_per_s_all": rates,
        "exc_spikes_per_sample": statistics.fmean(spikes),
        "exc_spikes_per_sample_peer_window": statistics.fmean(model.history_["exc_spikes"][a:b]),
        "peer_window": [a, b],
        "warmup_s_incl_compile": warm_s,
    }


def bench_bindsnet(n: int, imgs, args) -> dict | None:
    sys.path.insert(0, str(STUBS))
    try:
        from bindsnet.encoding import poisson
        from bindsnet.models import DiehlAndCook2015
        from bindsnet.network.monitors import Monitor
    except Exception as err:  # missing peer: skip and say so
        print(f"bindsnet not available ({type(err).__name__}: {err}); skipped", flush=True)
        return None
    import torch

    torch.manual_seed(args.seed)
    T = 350
    net = DiehlAndCook2015(n_inpt=784, n_neurons=n, dt=1.0, inpt_shape=(1, 28, 28))
    mon = Monitor(net.layers["Ae"], state_vars=["s"], time=T)
    net.add_monitor(mon, name="Ae_spikes")
    state = {"k": 0}

    def one() -> int:
        x = imgs[state["k"] % len(imgs)] * args.intensity
        state["k"] += 1
        spikes_in = poisson(datum=x, time=T, dt=1.0)
        net.run(inputs={"X": spikes_in.view(T, 1, 1, 28, 28)}, time=T)
        n_exc = int(mon.get("s").sum())
        net.reset_state_variables()
        return n_exc

    t0 = time.perf_counter()
    for _ in range(args.warmup_peer):
        one()
    warm_s = time.perf_counter() - t0
    rates, spikes = [], []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        spikes += [one() for _ in range(args.samples_peer)]
        rates.append(args.samples_peer / (time.perf_counter() - t0))
    return {
        "samples_per_s": statistics.median(rates),
        "samples_per_s_all": rates,
        "exc_spikes_per_sample": statistics.fmean(spikes),
        "warmup_s": warm_s,
    }


def _matched(ours: dict, peer: dict | None, tol: float = 0.15) -> bool | None:
    """Whether ours' spikes per sample on the peer's timed samples are within ``tol`` of the
    peer's (relative), i.e. whether the two ran at equal activity."""
    if peer is None:
        return None
    o, p = ours["exc_spikes_per_sample_peer_window"], peer["exc_spikes_per_sample"]
    return abs(o - p) <= tol * max(p, 1e-12)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer peer samples, N=100 only")
    ap.add_argument("--n", type=int, nargs="+", default=None, help="excitatory sizes")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--intensity", type=float, default=63.75, help="max input rate (Hz)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=100, help="ours: warm-up samples (>= 50)")
    ap.add_argument("--samples-ours", type=int, default=500)
    ap.add_argument("--warmup-peer", type=int, default=50)
    ap.add_argument("--samples-peer", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--no-one-spike", dest="one_spike", action="store_false",
                    help="ours: allow several exc spikes/step (BindsNET: one)")  # fmt: skip
    args = ap.parse_args()
    if args.quick:
        args.samples_peer, args.warmup_peer = 20, 50
    sizes = args.n or ([100] if args.quick else [100, 400])
    _pin_threads(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    imgs = _images()
    rows = {}
    for n in sizes:
        ours = bench_ours(n, imgs, args)
        print(f"N={n} ours: {json.dumps(ours)}", flush=True)
        peer = None if args.no_peers else bench_bindsnet(n, imgs, args)
        if peer is not None:
            print(f"N={n} bindsnet: {json.dumps(peer)}", flush=True)
            o, p = ours["exc_spikes_per_sample_peer_window"], peer["exc_spikes_per_sample"]
            print(f"N={n} activity on samples {ours['peer_window']}: ours {o:.1f}, bindsnet "
                  f"{p:.1f} exc spikes/sample -> "
                  f"{'matched' if _matched(ours, peer) else 'NOT matched'} (within 15%)",
                  flush=True)  # fmt: skip
        rows[n] = (ours, peer)
    n0 = sizes[0]
    ours0, peer0 = rows[n0]
    peers = {}
    for n, (_, p) in rows.items():
        if p is not None:
            peers[f"bindsnet-N{n}"] = round(p["samples_per_s"], 3)
    summary = {
        "workload": "W2",
        "unit": "samples/s",
        "ours": round(ours0["samples_per_s"], 2),
        "peers": {"bindsnet": round(peer0["samples_per_s"], 3)} if peer0 else {},
        "ratio_vs_best_peer": (
            round(ours0["samples_per_s"] / peer0["samples_per_s"], 2) if peer0 else None
        ),
        "better": "higher",
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, load {os.getloadavg()[0]:.1f}",
        "threads": args.threads,
        "n_exc": n0,
        "intensity_hz": args.intensity,
        "one_spike": args.one_spike,
        "exc_spikes_per_sample": {
            "ours": round(ours0["exc_spikes_per_sample_peer_window"], 1),
            "bindsnet": round(peer0["exc_spikes_per_sample"], 1) if peer0 else None,
            "window": ours0["peer_window"],
        },
        "activity_matched": _matched(ours0, peer0),
        "by_n": {
            str(n): {
                "ours": round(o["samples_per_s"], 2),
                "bindsnet": round(p["samples_per_s"], 3) if p else None,
                "ratio": round(o["samples_per_s"] / p["samples_per_s"], 2) if p else None,
                "ours_exc_spikes": round(o["exc_spikes_per_sample_peer_window"], 1),
                "ours_exc_spikes_timed_blocks": round(o["exc_spikes_per_sample"], 1),
                "bindsnet_exc_spikes": round(p["exc_spikes_per_sample"], 1) if p else None,
                "activity_matched": _matched(o, p),
            }
            for n, (o, p) in rows.items()
        },
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
