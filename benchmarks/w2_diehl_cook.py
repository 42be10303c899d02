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
* Brian2 2.9 (optional, ``--brian2``; slow): :func:`bench_brian2`, our own Brian2 model of the
  same current-based network (cython target, single-threaded; no ``one_spike`` equivalent),
  at ``--brian2-dt`` ms (default 0.1 ms, the step of Brian2's published replication
  ``examples/frompapers/Diehl_Cook_2015.py``, ~1.1 samples/s, quoted in BENCHMARKS.md),
  warm-up (code generation and compilation) excluded.

``--accuracy`` measures accuracy instead of speed: ours and BindsNET are trained on the same
``--n-train`` shuffled upsampled digits in the same order (learning on), their neurons are
labelled on the responses to the last ``--n-label`` training samples (learning off), and the
next ``--n-test`` held-out samples are classified by all-neuron voting (ours:
``DiehlCook.label``/``predict``; BindsNET: ``bindsnet.evaluation.assign_labels`` /
``all_activity``). The JSON holds ``accuracy_ours`` and ``accuracy_bindsnet``.

Throughput is measured after a warm-up of ``--warmup`` samples (≥ 50, compilation included
there), as the median over ``--reps`` blocks of ``--samples`` samples. Equal activity is
checked, not assumed: spikes per sample fall as the thresholds grow during training, so ours'
mean excitatory spikes per sample is taken over exactly the samples on which the peer is timed
(same images, same order, same point of training) and compared with the peer's; the run prints
whether they agree within 15 % (``activity_matched`` in the JSON).
Both libraries start from fresh random weights, so the two activities differ by what the
implementations do, not by the training history.

Run: ``python benchmarks/w2_diehl_cook.py [--quick] [--n 100 400] [--threads 2] [--brian2]``
or ``python benchmarks/w2_diehl_cook.py --accuracy --n-train 400 --n-label 200 --n-test 200``
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

STUBS = Path(__file__).resolve().parent / "peer_stubs"  # torchvision stand-in for bindsnet


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


def bench_brian2(n: int, imgs, args) -> dict | None:
    """Brian2 (cython target, 1 thread) model of the same current-based network as ours and
    BindsNET (written from the equations, not Brian2's example): voltage jumps by ``w`` mV per
    input spike, pair STDP with event-driven traces (set to 1 on a spike, 20 ms decay), adaptive
    threshold, exc→inh one-to-one 22.5 mV, inh→exc all-but-self −17.5 mV, column normalisation
    to 78.4 and a state reset after each 350 ms sample (no rest). ``one_spike`` has no Brian2
    equivalent and is not applied. Timed at ``--brian2-dt`` (0.1 ms as Brian2's replication).
    """
    try:
        import brian2 as b2
    except Exception as err:  # missing peer: skip and say so
        print(f"brian2 not available ({type(err).__name__}: {err}); skipped", flush=True)
        return None
    import numpy as np

    mV, ms, Hz = b2.mV, b2.ms, b2.Hz
    b2.prefs.codegen.target = "cython"
    b2.prefs.logging.console_log_level = "ERROR"
    b2.start_scope()
    b2.seed(args.seed)
    b2.defaultclock.dt = args.brian2_dt * ms
    X = imgs.reshape(len(imgs), 784).double().numpy()
    inp = b2.PoissonGroup(784, rates=np.zeros(784) * Hz)
    exc = b2.NeuronGroup(
        n,
        """dv/dt = (-65*mV - v) / (100*ms) : volt (unless refractory)
           dtheta/dt = -theta / (1e7*ms) : volt""",
        threshold="v > -52*mV + theta",
        reset="v = -60*mV; theta += 0.05*mV",
        refractory=5 * ms,
        method="exact",
    )
    inh = b2.NeuronGroup(
        n,
        "dv/dt = (-60*mV - v) / (10*ms) : volt (unless refractory)",
        threshold="v > -40*mV",
        reset="v = -45*mV",
        refractory=2 * ms,
        method="exact",
    )
    s_in = b2.Synapses(
        inp,
        exc,
        """w : 1
           dpre/dt = -pre / (20*ms) : 1 (event-driven)
           dpost/dt = -post / (20*ms) : 1 (event-driven)""",
        on_pre="""v_post += w * mV * int(not_refractory_post)
                  pre = 1
                  w = clip(w - 1e-4 * post, 0, 1)""",
        on_post="""post = 1
                   w = clip(w + 1e-2 * pre, 0, 1)""",
    )
    s_in.connect()
    rng = np.random.default_rng(args.seed)
    w = 0.3 * rng.random(784 * n)
    post_idx = np.asarray(s_in.j[:])

    def normalise(w):
        return w * (78.4 / np.bincount(post_idx, w, n)[post_idx])

    s_in.w = normalise(w)
    s_ei = b2.Synapses(exc, inh, on_pre="v_post += 22.5*mV")
    s_ei.connect(j="i")
    s_ie = b2.Synapses(inh, exc, on_pre="v_post -= 17.5*mV")
    s_ie.connect(condition="i != j")
    mon = b2.SpikeMonitor(exc, record=False)
    net = b2.Network(inp, exc, inh, s_in, s_ei, s_ie, mon)
    exc.v, inh.v = -65 * mV, -60 * mV
    state = {"k": 0}

    # the underlying arrays, changed in place between runs (no code generation per sample)
    arr = {
        k: g.variables[k].get_value()
        for g, k in ((inp, "rates"), (s_in, "w"), (s_in, "pre"), (s_in, "post"))
    }
    v_e, v_i = exc.variables["v"].get_value(), inh.variables["v"].get_value()

    def one() -> int:
        arr["rates"][:] = X[state["k"] % len(X)] * args.intensity
        state["k"] += 1
        c0 = int(mon.num_spikes)
        net.run(350 * ms)
        arr["w"][:] = normalise(arr["w"])
        v_e[:], v_i[:] = -65e-3, -60e-3  # volts
        arr["pre"][:], arr["post"][:] = 0.0, 0.0
        return int(mon.num_spikes) - c0

    t0 = time.perf_counter()
    for _ in range(args.brian2_warmup):
        one()
    warm_s = time.perf_counter() - t0
    rates, spikes = [], []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        spikes += [one() for _ in range(args.brian2_samples)]
        rates.append(args.brian2_samples / (time.perf_counter() - t0))
    return {
        "samples_per_s": statistics.median(rates),
        "samples_per_s_all": rates,
        "exc_spikes_per_sample": statistics.fmean(spikes),
        "dt_ms": args.brian2_dt,
        "warmup_s_incl_compile": warm_s,
        "window": [args.brian2_warmup, args.brian2_warmup + args.reps * args.brian2_samples],
    }


def _split(imgs, args):
    """Shuffled train / held-out split of the upsampled digits (same for both libraries)."""
    import torch
    from sklearn.datasets import load_digits

    y = torch.as_tensor(load_digits().target, dtype=torch.int64)
    perm = torch.randperm(len(imgs), generator=torch.Generator().manual_seed(args.seed))
    tr, te = perm[: args.n_train], perm[args.n_train : args.n_train + args.n_test]
    return imgs[tr], y[tr], imgs[te], y[te]


def accuracy_ours(n: int, split, args) -> dict:
    """Train on the training samples in order (learning on), label the neurons on the
    last ``--n-label`` training samples (learning off), classify the held-out samples by
    all-neuron voting."""
    import torch

    from neuroplastic.models import DiehlCook, DiehlCookParams

    xtr, ytr, xte, yte = split
    xtr = xtr.reshape(len(xtr), 784).to(torch.float64)
    xte = xte.reshape(len(xte), 784).to(torch.float64)
    params = DiehlCookParams(
        n_input=784, max_rate_hz=args.intensity, max_boosts=0, one_spike=args.one_spike
    )
    model = DiehlCook(n, params, seed=args.seed)
    t0 = time.perf_counter()
    model.partial_fit(xtr)
    train_s = time.perf_counter() - t0
    k = args.n_label or len(xtr)
    model.label(xtr[-k:], ytr[-k:])
    r = model.transform(xte)
    pred = model.predict(xte, responses=r)
    return {
        "accuracy": float((pred == yte).double().mean()),
        "train_s_incl_compile": train_s,
        "train_exc_spikes_per_sample": statistics.fmean(model.history_["exc_spikes"]),
        "test_exc_spikes_per_sample": float(r.sum(1).double().mean()),
        "silent_test_samples": int((r.sum(1) == 0).sum()),
        "total_s": time.perf_counter() - t0,
    }


def accuracy_bindsnet(n: int, split, args) -> dict | None:
    """The same protocol with BindsNET: ``bindsnet.evaluation.assign_labels`` on the
    training responses (learning off), ``all_activity`` voting on the held-out samples."""
    sys.path.insert(0, str(STUBS))
    try:
        from bindsnet.encoding import poisson
        from bindsnet.evaluation import all_activity, assign_labels
        from bindsnet.models import DiehlAndCook2015
        from bindsnet.network.monitors import Monitor
    except Exception as err:  # missing peer: skip and say so
        print(f"bindsnet not available ({type(err).__name__}: {err}); skipped", flush=True)
        return None
    import torch

    xtr, ytr, xte, yte = split
    torch.manual_seed(args.seed)
    T = 350
    net = DiehlAndCook2015(n_inpt=784, n_neurons=n, dt=1.0, inpt_shape=(1, 28, 28))
    mon = Monitor(net.layers["Ae"], state_vars=["s"], time=T)
    net.add_monitor(mon, name="Ae_spikes")

    def present(x) -> torch.Tensor:
        spikes_in = poisson(datum=x * args.intensity, time=T, dt=1.0)
        net.run(inputs={"X": spikes_in.view(T, 1, 1, 28, 28)}, time=T)
        c = mon.get("s").reshape(T, n).sum(0)  # (n_exc,) counts of this sample
        net.reset_state_variables()
        return c

    t0 = time.perf_counter()
    net.train(True)
    tr_spk = [int(present(x).sum()) for x in xtr]
    train_s = time.perf_counter() - t0
    net.train(False)  # learning off: weights, thresholds and normalisation frozen
    k = args.n_label or len(xtr)
    r_lab = torch.stack([present(x) for x in xtr[-k:]])
    r_te = torch.stack([present(x) for x in xte])
    # BindsNET's functions take (n_samples, time, n_neurons) rasters and sum over time
    assignments, _, _ = assign_labels(r_lab[:, None].float(), ytr[-k:], 10)
    pred = all_activity(r_te[:, None].float(), assignments, 10)
    return {
        "accuracy": float((pred == yte).double().mean()),
        "train_s": train_s,
        "train_samples_per_s": len(xtr) / train_s,
        "train_exc_spikes_per_sample": statistics.fmean(tr_spk),
        "test_exc_spikes_per_sample": float(r_te.sum(1).double().mean()),
        "silent_test_samples": int((r_te.sum(1) == 0).sum()),
        "total_s": time.perf_counter() - t0,
    }


def run_accuracy(args, imgs) -> None:
    """``--accuracy``: both libraries on the same training/label/test protocol."""
    n = (args.n or [100])[0]
    split = _split(imgs, args)
    ours = accuracy_ours(n, split, args)
    print(f"N={n} ours: {json.dumps(ours)}", flush=True)
    peer = None if args.no_peers else accuracy_bindsnet(n, split, args)
    if peer is not None:
        print(f"N={n} bindsnet: {json.dumps(peer)}", flush=True)
    print(f"N={n}, train {args.n_train} / label {args.n_label or args.n_train} / test "
          f"{args.n_test}: accuracy ours "
          f"{ours['accuracy']:.3f}, bindsnet "
          f"{peer['accuracy'] if peer else float('nan'):.3f}", flush=True)  # fmt: skip
    summary = {
        "workload": "W2-accuracy",
        "unit": "test accuracy",
        "ours": round(ours["accuracy"], 4),
        "peers": {"bindsnet": round(peer["accuracy"], 4)} if peer else {},
        "ratio_vs_best_peer": (
            round(ours["accuracy"] / peer["accuracy"], 3) if peer and peer["accuracy"] else None
        ),
        "better": "higher",
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, load {os.getloadavg()[0]:.1f}",
        "threads": args.threads,
        "n_exc": n,
        "n_train": args.n_train,
        "n_label": args.n_label or args.n_train,
        "n_test": args.n_test,
        "intensity_hz": args.intensity,
        "one_spike": args.one_spike,
        "accuracy_ours": round(ours["accuracy"], 4),
        "accuracy_bindsnet": round(peer["accuracy"], 4) if peer else None,
        "exc_spikes_per_sample_test": {
            "ours": round(ours["test_exc_spikes_per_sample"], 1),
            "bindsnet": round(peer["test_exc_spikes_per_sample"], 1) if peer else None,
        },
        "exc_spikes_per_sample_train": {
            "ours": round(ours["train_exc_spikes_per_sample"], 1),
            "bindsnet": round(peer["train_exc_spikes_per_sample"], 1) if peer else None,
        },
    }
    print(json.dumps(summary))


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
    ap.add_argument("--brian2", action="store_true",
                    help="also time a Brian2 model (slow; first N only)")  # fmt: skip
    ap.add_argument("--brian2-dt", type=float, default=0.1, help="Brian2 time step (ms)")
    ap.add_argument("--brian2-warmup", type=int, default=2, help="Brian2 warm-up samples")
    ap.add_argument("--brian2-samples", type=int, default=2, help="Brian2 samples per rep")
    ap.add_argument(
        "--accuracy",
        action="store_true",
        help="train/label/test both on the same split; accuracy, not speed",
    )
    ap.add_argument("--n-train", type=int, default=600, help="--accuracy: training samples")
    ap.add_argument("--n-label", type=int, default=0,
                    help="--accuracy: label on the last K training samples (0: all)")  # fmt: skip
    ap.add_argument("--n-test", type=int, default=300, help="--accuracy: held-out samples")
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
    if args.accuracy:
        run_accuracy(args, imgs)
        return
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
    b2 = bench_brian2(n0, imgs, args) if args.brian2 and not args.no_peers else None
    if b2 is not None:
        print(f"N={n0} brian2: {json.dumps(b2)}", flush=True)
    peers = {"bindsnet": round(peer0["samples_per_s"], 3)} if peer0 else {}
    if b2 is not None:
        peers[f"brian2-dt{b2['dt_ms']:g}ms"] = round(b2["samples_per_s"], 3)
    best = max(peers.values(), default=None)
    summary = {
        "workload": "W2",
        "unit": "samples/s",
        "ours": round(ours0["samples_per_s"], 2),
        "peers": peers,
        "ratio_vs_best_peer": round(ours0["samples_per_s"] / best, 2) if best else None,
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
            "brian2": round(b2["exc_spikes_per_sample"], 1) if b2 else None,
            "brian2_window": b2["window"] if b2 else None,
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
