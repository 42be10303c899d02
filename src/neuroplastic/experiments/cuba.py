"""CUBA: the Vogels & Abbott (2005) current-based balanced network, as in Brian2's
``examples/CUBA.py`` — 4000 LIF neurons (3200 excitatory, 800 inhibitory), connection
probability 0.02, exponential synaptic currents (τ_e 5 ms, τ_i 10 ms), dt 0.1 ms."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .._validation import check_choice, check_int, check_positive, check_range
from ..network import Network
from ..neurons import Analog, LIFParams
from ..synapses import FixedProbability
from .base import Result, register


@dataclass(frozen=True)
class CubaConfig:
    n_neurons: int = 4000  # total; 80% excitatory
    exc_fraction: float = 0.8  # Vogels & Abbott: 3200 / 800
    p_connect: float = 0.02  # connection probability
    duration_ms: float = 1000.0  # biological time simulated
    dt_ms: float = 0.1  # clock step (Brian2's example uses 0.1 ms)
    w_exc_mv: float = 1.62  # 60 * 0.27 / 10 mV, Brian2's we
    w_inh_mv: float = 9.0  # |-20 * 4.5 / 10| mV, Brian2's wi
    noise_sigma_mv: float = 0.0  # optional thermal membrane noise (analog substrate)
    backend: str = "auto"  # numba (compiled) or torch (reference)
    seed: int = 0  # every random stream derives from it

    def __post_init__(self) -> None:
        check_int("n_neurons", self.n_neurons, 10)
        check_range("exc_fraction", self.exc_fraction, 0.0, 1.0)
        check_range("p_connect", self.p_connect, 0.0, 1.0)
        check_positive("duration_ms", self.duration_ms)
        check_positive("dt_ms", self.dt_ms)
        check_choice("backend", self.backend, ("auto", "numba", "torch"))
        check_int("seed", self.seed, 0)


def build_cuba(cfg: CubaConfig) -> Network:
    """The network of Brian2's CUBA example (units: mV, ms; R = 1 MΩ so nA ≙ mV)."""
    params = LIFParams(tau_mem_ms=20.0, v_rest_mv=-49.0, v_reset_mv=-60.0, v_thresh_mv=-50.0,
                       t_ref_ms=5.0, tau_syn_ms=(5.0, 10.0))
    net = Network(cfg.dt_ms, seed=cfg.seed, backend=cfg.backend)
    n_exc = int(round(cfg.n_neurons * cfg.exc_fraction))
    sub = Analog(noise_sigma_mv=cfg.noise_sigma_mv)
    net.add_lif("exc", n_exc, params, sub, v_init=(-60.0, -50.0))
    net.add_lif("inh", cfg.n_neurons - n_exc, params, sub, v_init=(-60.0, -50.0))
    for pre, w, ch, sign in (("exc", cfg.w_exc_mv, 0, "excitatory"),
                             ("inh", cfg.w_inh_mv, 1, "inhibitory")):
        for post in ("exc", "inh"):
            net.connect(pre, post, FixedProbability(cfg.p_connect), weight=w, channel=ch,
                        sign=sign)
    return net


def isi_cv(steps: np.ndarray, neurons: np.ndarray, n: int) -> np.ndarray:
    """Coefficient of variation of the inter-spike intervals of each neuron with ≥ 3 spikes."""
    order = np.lexsort((steps, neurons))
    s, nid = steps[order], neurons[order]
    cvs = []
    bounds = np.searchsorted(nid, np.arange(n + 1))
    for i in range(n):
        a, b = bounds[i], bounds[i + 1]
        if b - a >= 3:
            isi = np.diff(s[a:b]).astype(np.float64)
            cvs.append(isi.std() / isi.mean())
    return np.asarray(cvs)


@register("cuba", CubaConfig, "Vogels & Abbott (2005) CUBA network, Brian2's CUBA.py")
def run(config: CubaConfig, *, progress: bool = True) -> Result:
    import matplotlib.pyplot as plt

    t0 = time.perf_counter()
    net = build_cuba(config)
    mons = {k: net.monitor_spikes(k) for k in ("exc", "inh")}
    rate = net.monitor_rate("exc")
    net._ensure_built()
    build_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    net.run(config.duration_ms, progress=progress)
    sim_wall_s = time.perf_counter() - t1
    steps = np.concatenate([mons["exc"].steps.numpy(), mons["inh"].steps.numpy()])
    n_exc = mons["exc"].n
    neurons = np.concatenate([mons["exc"].neurons.numpy(), mons["inh"].neurons.numpy() + n_exc])
    n = config.n_neurons
    counts = np.bincount(neurons, minlength=n)
    rates = counts / (config.duration_ms * 1e-3)
    cvs = isi_cv(steps, neurons, n)
    synops = net.synops
    n_syn = sum(p.nnz for p in net.projections.values())
    metrics = {
        "spikes_total": int(len(steps)),
        "rate_hz_mean": float(rates.mean()),
        "isi_cv_mean": float(cvs.mean()) if len(cvs) else float("nan"),
        "neurons_with_isi_cv": int(len(cvs)),
        "synops_total": int(sum(synops.values())),
        "synapses": int(n_syn),
        "sim_wall_s": sim_wall_s,
        "compile_s": net.compile_s,
        "build_s": build_s,
        "backend": net.backend,
        "steps": net.step,
    }
    figs = {}
    fig, ax = plt.subplots(figsize=(8, 4))
    show = neurons < 500
    ax.plot(steps[show] * config.dt_ms, neurons[show], ",k")
    ax.set(xlabel="time (ms)", ylabel="neuron", title="Spike raster (first 500 neurons)")
    figs["raster"] = fig
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.hist(rates, bins=40, color="tab:blue")
    ax.set(xlabel="firing rate (Hz)", ylabel="neurons", title="Rate distribution")
    figs["rate_histogram"] = fig
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.hist(cvs, bins=40, color="tab:orange")
    ax.set(xlabel="ISI CV", ylabel="neurons", title=f"ISI CV (mean {metrics['isi_cv_mean']:.2f})")
    figs["isi_cv"] = fig
    fig, ax = plt.subplots(figsize=(8, 3))
    r = rate.rate_hz[:, 0].numpy()
    win = max(1, int(round(1.0 / config.dt_ms)))
    smooth = np.convolve(r, np.ones(win) / win, mode="same")
    ax.plot(np.arange(len(smooth)) * config.dt_ms, smooth, lw=0.7)
    ax.set(xlabel="time (ms)", ylabel="rate (Hz)", title="Excitatory population rate (1 ms)")
    figs["population_rate"] = fig
    fig, ax = plt.subplots(figsize=(6, 3))
    names = list(synops)
    ax.bar(names, [synops[k] for k in names], color="tab:green")
    ax.set(ylabel="synaptic events", title="SynOps per projection")
    figs["synops"] = fig
    return Result(metrics=metrics, figures=figs)
