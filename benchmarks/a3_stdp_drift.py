"""A3: STDP drift — measured mean weight drift versus eta * int W(tau) C(tau) dtau.

Run from the repo root (peers importable)::

    /work/peers/bin/python benchmarks/a3_stdp_drift.py [--quick]

Six groups of shared-input Poisson pairs (20 Hz, c = 0.5; lags -20, -5, 0, +5, +20 ms and
+12 ms with 4 ms Gaussian jitter), N independent synapses per group, T seconds at dt = 0.5 ms,
additive all-to-all STDP (a+ = 1, a- = 0.8, tau 20 / 30 ms, W(0) = a+ as in Brian2's
pre-before-post order). The same spike trains drive

* ours: :func:`neuroplastic.plasticity.stdp.stdp_sequence` (the compiled numba kernel that runs
  all clock steps in one call, bit-identical to looping ``stdp_step``) on a diagonal CSR
  projection; the per-step torch loop over ``stdp_step`` is also timed, once, on the first
  quarter of the steps (``ours_step_loop_s``, with its x4 estimate for the whole run), and its
  weights there must equal the compiled kernel's bit for bit;
* Brian2 (cython target, else numpy): ``SpikeGeneratorGroup`` -> ``Synapses`` with event-driven
  traces, the textbook STDP model of its documentation.

Reported: the simulation wall time (median of the repetitions; Brian2's first repetition
includes code generation, later ones reuse its cache; ours excludes numba compilation: a call on
a 2-step input comes first, reported as ``ours_first_call_s`` (numba's on-disk cache warm) and,
in a fresh process with an empty cache, ``ours_compile_cold_s``), the largest relative error of the
per-group mean drift against the theory (theory.predicted_drift, continuous and on the clock
grid: with W(0) = a+ coincident independent spikes add r^2 dt W(0)), and the largest difference
between our weights and Brian2's. Norse, BindsNET, snnTorch and SpikingJelly are skipped: their
STDP rules take dense (n_pre, n_post) weights, 9000 x 9000 here. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

THREADS = 1
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[var] = str(THREADS)

import numpy as np  # noqa: E402
import torch  # noqa: E402

from neuroplastic.plasticity.stdp import (  # noqa: E402
    ExponentialWindow,
    STDPParams,
    csr_layout,
    init_stdp_state,
    stdp_sequence,
    stdp_step,
)
from neuroplastic.plasticity.theory import (  # noqa: E402
    SharedInputPoisson,
    predicted_drift,
    sample_shared_input,
)

GROUPS = [(-20.0, 0.0), (-5.0, 0.0), (0.0, 0.0), (5.0, 0.0), (12.0, 4.0), (20.0, 0.0)]
RATE_HZ, C, DT_MS = 20.0, 0.5, 0.5
A_PLUS, A_MINUS, TAU_PLUS, TAU_MINUS = 1.0, 0.8, 20.0, 30.0


def _events(n, duration_ms, seed):
    models = [SharedInputPoisson(RATE_HZ, RATE_HZ, C, d, s) for d, s in GROUPS]
    ev = [sample_shared_input(m, n, duration_ms, dt_ms=DT_MS, seed=seed + k)
          for k, m in enumerate(models)]
    pre_s = np.concatenate([e[0] for e in ev])
    pre_i = np.concatenate([e[1] + k * n for k, e in enumerate(ev)])
    post_s = np.concatenate([e[2] for e in ev])
    post_i = np.concatenate([e[3] + k * n for k, e in enumerate(ev)])
    return models, (pre_s, pre_i, post_s, post_i)


def run_ours(events, total, n_steps):
    pre_s, pre_i, post_s, post_i = events
    pre_r = np.zeros((n_steps, 1, total), dtype=bool)
    post_r = np.zeros((n_steps, 1, total), dtype=bool)
    pre_r[pre_s, 0, pre_i] = True
    post_r[post_s, 0, post_i] = True
    pre_t, post_t = torch.from_numpy(pre_r), torch.from_numpy(post_r)
    win = ExponentialWindow(A_PLUS, A_MINUS, TAU_PLUS, TAU_MINUS, at_zero="causal")
    params = STDPParams(win, w_min=-math.inf, w_max=math.inf)
    csr = csr_layout(torch.arange(total + 1), torch.arange(total), total)

    def sim(steps=n_steps):
        """The compiled kernel over the first ``steps`` steps (all by default)."""
        w = torch.zeros(total, dtype=torch.float64)
        state = init_stdp_state(1, total, total)
        t0 = time.perf_counter()
        w, state = stdp_sequence(w, pre_t[:steps], post_t[:steps], state, params, dt_ms=DT_MS,
                                 csr=csr, backend="numba")
        return time.perf_counter() - t0, w.numpy()

    def sim_step_loop(steps):
        """The per-step torch reference: one stdp_step call per clock step."""
        w = torch.zeros(total, dtype=torch.float64)
        state = init_stdp_state(1, total, total)
        t0 = time.perf_counter()
        for k in range(steps):
            w, state = stdp_step(w, pre_t[k], post_t[k], state, params, dt_ms=DT_MS, csr=csr)
        return time.perf_counter() - t0, w.numpy()

    return sim, sim_step_loop, win


_COLD_COMPILE = """
import time, torch
from neuroplastic.plasticity.stdp import (ExponentialWindow, STDPParams, csr_layout,
                                          init_stdp_state, stdp_sequence)
z = torch.zeros(2, 1, 3, dtype=torch.bool)
t0 = time.perf_counter()
stdp_sequence(torch.zeros(3, dtype=torch.float64), z, z, init_stdp_state(1, 3, 3),
              STDPParams(ExponentialWindow()), dt_ms=0.5,
              csr=csr_layout(torch.arange(4), torch.arange(3), 3), backend="numba")
print(time.perf_counter() - t0)
"""


def cold_compile_s():
    """First call in a fresh process with an empty numba cache: the full compile time."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        out = subprocess.run([sys.executable, "-c", _COLD_COMPILE], env=env, check=True,
                             capture_output=True, text=True).stdout
    return float(out.split()[-1])


def run_brian2(events, total, duration_ms):
    import brian2 as b2

    try:
        b2.prefs.codegen.target = "cython"
        target = "cython"
    except Exception:  # pragma: no cover - depends on the peer install
        b2.prefs.codegen.target = "numpy"
        target = "numpy"
    pre_s, pre_i, post_s, post_i = events

    def sim():
        b2.start_scope()
        b2.defaultclock.dt = DT_MS * b2.ms
        # fixed names: the generated code (and Brian2's compiled cache) is the same every rep
        g_pre = b2.SpikeGeneratorGroup(total, pre_i, pre_s * DT_MS * b2.ms, name="a3_pre")
        g_post = b2.SpikeGeneratorGroup(total, post_i, post_s * DT_MS * b2.ms, name="a3_post")
        syn = b2.Synapses(
            g_pre, g_post,
            model="""w : 1
                     dapre/dt = -apre / taupre : 1 (event-driven)
                     dapost/dt = -apost / taupost : 1 (event-driven)""",
            on_pre="""apre += 1
                      w += -aminus * apost""",
            on_post="""apost += 1
                       w += aplus * apre""",
            namespace=dict(taupre=TAU_PLUS * b2.ms, taupost=TAU_MINUS * b2.ms,
                           aplus=A_PLUS, aminus=A_MINUS),
            name="a3_syn",
        )
        syn.connect(j="i")
        net = b2.Network(g_pre, g_post, syn)
        t0 = time.perf_counter()
        net.run(duration_ms * b2.ms)
        return time.perf_counter() - t0, np.asarray(syn.w[:])

    return sim, target


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(THREADS)
    n, duration_ms = (300, 2000.0) if args.quick else (1500, 4000.0)
    total, n_steps = len(GROUPS) * n, int(duration_ms / DT_MS)
    models, events = _events(n, duration_ms, seed=0)

    sim_ours, sim_step_loop, win = run_ours(events, total, n_steps)
    t_first = sim_ours(2)[0]  # compile (or load from numba's cache) outside the timed runs
    t_cold = cold_compile_s()
    runs = [sim_ours() for _ in range(args.reps)]
    t_ours, w_ours = statistics.median(r[0] for r in runs), runs[-1][1]
    loop_steps = n_steps // 4
    t_loop, w_loop = sim_step_loop(loop_steps)
    w_seq_part = sim_ours(loop_steps)[1]
    loop_equal = bool(np.array_equal(w_loop, w_seq_part))
    preds = np.array([predicted_drift(win, m) for m in models])
    preds_grid = np.array([predicted_drift(win, m, dt_ms=DT_MS) for m in models])

    def rel_errors(w, preds=preds):
        drift = (w / (duration_ms * 1e-3)).reshape(len(GROUPS), n).mean(1)
        return (drift - preds) / np.abs(preds), drift

    err_ours, drift_ours = rel_errors(w_ours)
    err_grid, _ = rel_errors(w_ours, preds_grid)
    print(f"workload: {len(GROUPS)} groups x {n} synapses, {duration_ms / 1000:g} s at dt "
          f"{DT_MS} ms ({n_steps} steps), {len(events[0])} pre / {len(events[2])} post spikes")
    for k, (d, s) in enumerate(GROUPS):
        print(f"  lag {d:+5.1f} ms jitter {s:3.1f}: theory {preds[k]:+7.3f}/s (on the "
              f"{DT_MS} ms grid {preds_grid[k]:+7.3f}/s)  ours {drift_ours[k]:+7.3f}/s "
              f"({100 * err_ours[k]:+5.1f} %, grid {100 * err_grid[k]:+5.1f} %)")
    print(f"ours            {t_ours:8.3f} s  (stdp_sequence, compiled; max |rel err| vs theory "
          f"{100 * np.abs(err_ours).max():.1f} %; first call {t_first:.2f} s, cold compile "
          f"{t_cold:.2f} s)")
    print(f"ours step loop  {t_loop:8.3f} s  for {loop_steps} steps (x4 = "
          f"{t_loop * n_steps / loop_steps:.2f} s for the run); weights equal to "
          f"stdp_sequence over those steps: {loop_equal}")

    peers, note = {}, {}
    try:
        sim_b2, target = run_brian2(events, total, duration_ms)
        b2_runs = [sim_b2() for _ in range(args.reps)]
        t_b2, w_b2 = statistics.median(r[0] for r in b2_runs), b2_runs[-1][1]
        err_b2, _ = rel_errors(w_b2)
        diff = float(np.max(np.abs(w_b2 - w_ours)))
        peers[f"brian2-{target}"] = round(t_b2, 4)
        note = {"max_abs_diff_vs_brian2": diff, "brian2_max_rel_err": float(np.abs(err_b2).max())}
        print(f"brian2 {target:8s} {t_b2:8.3f} s  (max |rel err| vs theory "
              f"{100 * np.abs(err_b2).max():.1f} %; first rep {b2_runs[0][0]:.2f} s); "
              f"max |w_ours - w_brian2| = {diff:.2e}")
    except ImportError:
        print("brian2 not installed: skipped")
    for peer in ("norse", "bindsnet", "snntorch", "spikingjelly"):
        print(f"{peer}: skipped (dense-only STDP, {total} x {total} weights)")

    summary = {
        "workload": f"A3 STDP drift, {total} synapses (diagonal CSR), {n_steps} steps of "
                    f"{DT_MS} ms",
        "unit": "s",
        "ours": round(t_ours, 4),
        "peers": peers,
        "ratio_vs_best_peer": round(t_ours / min(peers.values()), 3) if peers else None,
        "better": "lower",
        "machine": f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cpus",
        "threads": THREADS,
        "ours_impl": "stdp_sequence (numba)",
        "ours_first_call_s": round(t_first, 4),
        "ours_compile_cold_s": round(t_cold, 4),
        "ours_step_loop_s": round(t_loop, 4),
        "ours_step_loop_steps": loop_steps,
        "ours_step_loop_full_est_s": round(t_loop * n_steps / loop_steps, 4),
        "step_loop_equals_sequence": loop_equal,
        "max_rel_err_vs_theory": round(float(np.abs(err_ours).max()), 4),
        "max_rel_err_vs_grid_theory": round(float(np.abs(err_grid).max()), 4),
        **note,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
