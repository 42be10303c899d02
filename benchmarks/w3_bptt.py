"""W3: surrogate-gradient BPTT training step, LIF 700-256-256-20, T=100, batch 64.

Bernoulli input spikes (5% density, time-major, pre-generated), decay 0.9 per step, threshold 1,
subtractive reset, cross-entropy on output spike counts, Adam 1e-3, identical weight init
N(0, (2/sqrt(fan_in))^2) and zero biases for every library. One timed step = zero_grad + forward
+ loss + backward + optimizer step. Each library runs in its own subprocess (peak RSS is that
process's); the sweep over libraries is repeated ``--reps`` times and the median of the
per-run medians is reported.

    python benchmarks/w3_bptt.py [--quick] [--threads 2] [--reps 3]
    python benchmarks/w3_bptt.py --device cuda [--batch 64]   # on a GPU

Run with the peers' interpreter (/work/peers/bin/python) so that they are importable.
``--device cuda`` times each step between CUDA synchronisations and reports the peak of
device memory allocated (``torch.cuda.max_memory_allocated``) beside the process's RSS; our
layers then run their Triton kernels, SpikingJelly its own CUDA/Triton path (the one it
selects is printed), the others their torch loops.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

T, B, NIN, NH, NOUT, BETA, THR, GAIN = 100, 64, 700, 256, 20, 0.9, 1.0, 2.0
B = int(os.environ.get("W3_BATCH", B))  # --batch (passed to the workers through the env)
DENSE_GFLOP = 3 * 2 * T * B * (NIN * NH + NH * NH + NH * NOUT) / 1e9  # fwd + 2x bwd, dense
LIBS = ("neuroplastic", "neuroplastic-dense", "torch-loop", "spikingjelly", "snntorch", "norse")


def pin(threads: int) -> None:
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[k] = str(threads)


def build(lib: str):
    """Return (model, forward(x) -> spike counts (B, NOUT), after_step or None)."""
    import torch
    from torch import nn

    if lib.startswith("neuroplastic"):
        from neuroplastic.surrogate import LIF, EventLinear, Sequential, discrete_lif_params

        md = 0.0 if lib.endswith("dense") else 0.1  # default: event-driven below 10% density
        p = discrete_lif_params(BETA, THR, reset_mode="subtract")
        net = Sequential(EventLinear(NIN, NH, max_density=md), LIF(NH, p),
                         EventLinear(NH, NH, max_density=md), LIF(NH, p),
                         EventLinear(NH, NOUT, max_density=md), LIF(NOUT, p))
        return net, lambda x: net(x)[0].sum(0), None
    if lib == "torch-loop":  # hand-written: one GEMM per layer, loop over time for the LIF
        class Spike(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return (x > 0).to(x.dtype)

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return g / (25.0 * x.abs() + 1.0) ** 2

        fcs = nn.ModuleList([nn.Linear(NIN, NH), nn.Linear(NH, NH), nn.Linear(NH, NOUT)])

        def fwd(x):
            h = x
            for fc in fcs:
                cur, v, out = fc(h), None, []
                for t in range(T):
                    v = cur[t] if v is None else BETA * v + cur[t]
                    s = Spike.apply(v - THR)
                    v = v - s * THR
                    out.append(s)
                h = torch.stack(out)
            return h.sum(0)

        return fcs, fwd, None
    if lib == "spikingjelly":
        # on a GPU: its Triton kernels (the pip wheel has no native CUDA build); an error if
        # they cannot run, rather than a silent fall-back to its torch loop
        os.environ.setdefault("SJ_LIF_CUDA_IMPLEMENTATION", "triton")
        from spikingjelly.activation_based import functional, layer, neuron, surrogate

        def lif():
            return neuron.LIFNode(tau=10.0, decay_input=False, v_threshold=THR, v_reset=None,
                                  surrogate_function=surrogate.Sigmoid(), step_mode="m")

        net = nn.Sequential(layer.Linear(NIN, NH), lif(), layer.Linear(NH, NH), lif(),
                            layer.Linear(NH, NOUT), lif())
        functional.set_step_mode(net, "m")
        return net, lambda x: net(x).sum(0), lambda: functional.reset_net(net)
    if lib == "snntorch":
        import snntorch as snn
        from snntorch import surrogate

        sg = surrogate.fast_sigmoid(slope=25)
        fcs = nn.ModuleList([nn.Linear(NIN, NH), nn.Linear(NH, NH), nn.Linear(NH, NOUT)])
        lifs = nn.ModuleList([snn.Leaky(beta=BETA, threshold=THR, spike_grad=sg)
                              for _ in range(3)])
        model = nn.ModuleList([fcs, lifs])

        def fwd(x):
            mem = [m.init_leaky() for m in lifs]
            cnt = 0
            for t in range(T):
                h = x[t]
                for k in range(3):
                    h, mem[k] = lifs[k](fcs[k](h), mem[k])
                cnt = cnt + h
            return cnt

        return model, fwd, None
    if lib == "norse":
        # LIFBoxCell (no synaptic current; Norse's LIFCell low-pass filters the input through
        # one and stayed silent here): v <- v + 0.1 (i - v) with dt 1 ms and tau_mem_inv 100,
        # i.e. decay 0.9 as ours once the current is scaled by 10. Norse only has a hard reset.
        import norse.torch as norse

        prm = norse.LIFBoxParameters(tau_mem_inv=torch.tensor(100.0), v_th=torch.tensor(THR))
        fcs = nn.ModuleList([nn.Linear(NIN, NH), nn.Linear(NH, NH), nn.Linear(NH, NOUT)])
        cells = nn.ModuleList([norse.LIFBoxCell(p=prm, dt=1e-3) for _ in range(3)])

        def fwd(x):
            h = x
            for fc, cell in zip(fcs, cells):
                cur, st, out = fc(h) * (1.0 - BETA) ** -1, None, []
                for t in range(T):
                    z, st = cell(cur[t], st)
                    out.append(z)
                h = torch.stack(out)
            return h.sum(0)

        return nn.ModuleList([fcs, cells]), fwd, None
    raise ValueError(lib)


def worker(lib: str, threads: int, warmup: int, steps: int, seed: int,
           device: str = "cpu") -> dict:
    import torch

    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(seed)
    model, fwd, after = build(lib)
    g = torch.Generator().manual_seed(seed)
    xs = [(torch.rand(T, B, NIN, generator=g) < 0.05).float() for _ in range(4)]
    ys = [torch.randint(0, NOUT, (B,), generator=g) for _ in range(4)]
    with torch.no_grad():
        for prm in model.parameters():
            if prm.dim() == 2:
                prm.normal_(0.0, GAIN / prm.shape[1] ** 0.5)
            else:
                prm.zero_()
    cuda = device.startswith("cuda")
    if cuda:
        model.to(device)
        xs = [x.to(device) for x in xs]
        ys = [y.to(device) for y in ys]
        sync = torch.cuda.synchronize
    else:
        def sync():
            return None
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    ce = torch.nn.CrossEntropyLoss()
    times, losses, rates = [], [], []
    for it in range(warmup + steps):
        x, y = xs[it % 4], ys[it % 4]
        if cuda and it == warmup:
            torch.cuda.reset_peak_memory_stats()
        sync()
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        counts = fwd(x)
        loss = ce(counts, y)
        loss.backward()
        opt.step()
        if after is not None:
            after()
        sync()
        t1 = time.perf_counter()
        if it >= warmup:
            times.append((t1 - t0) * 1e3)
            losses.append(float(loss))
            rates.append(float(counts.detach().mean()) / T)
    engine = None
    if lib.startswith("neuroplastic"):
        from neuroplastic.surrogate.functional import _device_engine, kernel_engine

        if cuda:
            engine = "triton" if _device_engine(xs[0]) is not None else "torch"
        else:
            k = kernel_engine()
            engine = "torch" if k is None else ("c" if type(k).__name__ == "CEngine" else "numba")
    elif lib == "spikingjelly" and cuda:
        engine = f"{os.environ['SJ_LIF_CUDA_IMPLEMENTATION']} (SJ_LIF_CUDA_IMPLEMENTATION)"
    return {
        "lib": lib, "engine": engine, "ms": statistics.median(times), "ms_min": min(times),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "peak_gpu_mib": torch.cuda.max_memory_allocated() / 2**20 if cuda else None,
        "first_loss": losses[0], "last_loss": losses[-1], "out_rate": statistics.mean(rates),
    }


def sgemm_gflops(threads: int) -> float:
    import torch

    torch.set_num_threads(threads)
    a = torch.randn(2048, 2048)
    b = torch.randn(2048, 2048)
    a @ b
    ts = []
    for _ in range(5):
        t0 = time.perf_counter()
        a @ b
        ts.append(time.perf_counter() - t0)
    return 2 * 2048**3 / min(ts) / 1e9


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--libs", default=",".join(LIBS))
    ap.add_argument("--worker", default=None)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--batch", type=int, default=B, help="trials per step (W3: 64)")
    a = ap.parse_args()
    pin(a.threads)
    os.environ["W3_BATCH"] = str(a.batch)
    if a.worker:
        print(json.dumps(worker(a.worker, a.threads, a.warmup, a.steps, 0, a.device)),
              flush=True)
        return
    cuda = a.device.startswith("cuda")
    dense_gflop = DENSE_GFLOP * a.batch / B  # this process read W3_BATCH before it was set
    if cuda and a.libs == ",".join(LIBS):  # dense and event-driven are one path on a GPU
        a.libs = ",".join(lib for lib in LIBS if lib != "neuroplastic-dense")
    if a.quick:
        a.reps, a.warmup, a.steps = 1, 2, 3
    peak = sgemm_gflops(a.threads) if not cuda else float("nan")
    runs: dict[str, list[dict]] = {}
    skipped: dict[str, str] = {}
    for rep in range(a.reps):
        for lib in a.libs.split(","):
            if lib in skipped:
                continue
            cmd = [sys.executable, os.path.abspath(__file__), "--worker", lib, "--threads",
                   str(a.threads), "--warmup", str(a.warmup), "--steps", str(a.steps),
                   "--device", a.device, "--batch", str(a.batch)]
            r = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
            if r.returncode != 0:
                tail = (r.stderr.strip().splitlines() or ["?"])[-1]
                skipped[lib] = tail
                print(f"skip {lib}: {tail}", file=sys.stderr)
                continue
            row = json.loads(r.stdout.strip().splitlines()[-1])
            impl = sorted({ln.split("implementation=")[1].split()[0]
                           for ln in r.stderr.splitlines() if "implementation=" in ln})
            row["impl"] = impl or None  # the kernel path a peer reports choosing
            runs.setdefault(lib, []).append(row)
            gpu = (f"  peak GPU {row['peak_gpu_mib']:7.1f} MiB" if row["peak_gpu_mib"] is not None
                   else "")
            print(f"rep {rep} {lib:20s} {row['ms']:8.2f} ms/step  peak RSS "
                  f"{row['peak_rss_mib']:6.0f} MiB{gpu}  out rate {row['out_rate']:.4f}"
                  f"  engine {row['engine'] or ','.join(impl) or '-'}", flush=True)
    summary = {}
    for lib, rows in runs.items():
        summary[lib] = {
            "ms": statistics.median(r["ms"] for r in rows),
            "peak_rss_mib": statistics.median(r["peak_rss_mib"] for r in rows),
            "out_rate": statistics.median(r["out_rate"] for r in rows),
            "peak_gpu_mib": rows[0]["peak_gpu_mib"],
        }
    print(f"device {a.device}, batch {a.batch}; sgemm peak {peak:.1f} GFLOP/s ({a.threads} "
          f"threads); dense-equivalent work {dense_gflop:.2f} GFLOP/step")
    for lib, s in summary.items():
        eff = dense_gflop / (s["ms"] / 1e3)
        print(f"{lib:20s} {s['ms']:8.1f} ms  {s['peak_rss_mib']:6.0f} MiB  "
              f"{eff:6.1f} dense-equiv GFLOP/s = {eff / peak:.2f} x sgemm peak")
    for lib, why in skipped.items():
        print(f"{lib}: skipped ({why})")
    ours = summary.get("neuroplastic", {}).get("ms", float("nan"))
    peers = {k: v["ms"] for k, v in summary.items() if not k.startswith("neuroplastic")}
    best = min(peers.values()) if peers else float("nan")
    print(json.dumps({
        "workload": "W3", "unit": "ms/step", "ours": ours, "peers": peers,
        "ratio_vs_best_peer": ours / best if peers else None, "better": "lower",
        "peak_rss_mib": {k: v["peak_rss_mib"] for k, v in summary.items()},
        "ours_dense_projection_ms": summary.get("neuroplastic-dense", {}).get("ms"),
        "ours_kernel_engine": runs.get("neuroplastic", [{}])[0].get("engine"),
        "peak_gpu_mib": {k: v["peak_gpu_mib"] for k, v in summary.items()} if cuda else None,
        "device": a.device, "batch": a.batch,
        "gpu": __import__("torch").cuda.get_device_name() if cuda else None,
        "sgemm_gflops": round(peak, 1),
        "ours_fraction_of_sgemm_peak": (dense_gflop / (ours / 1e3)) / peak,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "threads": a.threads,
    }))


if __name__ == "__main__":
    main()
