"""CUBA: the Vogels & Abbott (2005) current-based balanced network, as in Brian2's
``examples/CUBA.py`` — 4000 LIF neurons (3200 excitatory, 800 inhibitory), connection
probability 0.02, exponential synaptic currents (τ_e 5 ms, τ_i 10 ms), dt 0.1 ms."""

from __future__ import annotations

import functools
import json
import time

import numpy as np

from ..lab.checkpointer import Checkpointer
from ..network import Network
from ..network.spike_summary import SpikeSummary
from ..neurons import Analog, LIFParams
from ..synapses import FixedInDegree, FixedProbability
from .base import Result, register
from .configs.cuba import CubaConfig

__all__ = ["CubaConfig", "build_cuba", "isi_cv", "run"]


def build_cuba(cfg: CubaConfig, *, in_degree: int | None = None, batch: int = 1,
               device: str = "cpu") -> Network:
    """The network of Brian2's CUBA example (units: mV, ms; R = 1 MΩ so nA ≙ mV).

    ``in_degree``: instead of ``p_connect`` (a Bernoulli draw per pair, O(N²) to build), give
    every neuron exactly this many inputs, ``exc_fraction`` of them excitatory (O(synapses):
    for large networks, as NEST's ``fixed_indegree``). ``batch`` independent trials (own
    initial potentials, noise and inputs; shared connectivity) on ``device`` (``"cuda"``: the
    torch loop, static projections)."""
    params = LIFParams(tau_mem_ms=20.0, v_rest_mv=-49.0, v_reset_mv=-60.0, v_thresh_mv=-50.0,
                       t_ref_ms=5.0, tau_syn_ms=(5.0, 10.0))
    backend = "auto" if cfg.backend == "nest" else cfg.backend  # nest: built by interop.nest
    net = Network(cfg.dt_ms, seed=cfg.seed, backend=backend, dtype=cfg.dtype, batch=batch,
                  device=device)
    n_exc = int(round(cfg.n_neurons * cfg.exc_fraction))
    sub = Analog(noise_sigma_mv=cfg.noise_sigma_mv)
    net.add_lif("exc", n_exc, params, sub, v_init=(-60.0, -50.0))
    net.add_lif("inh", cfg.n_neurons - n_exc, params, sub, v_init=(-60.0, -50.0))
    k_exc = None if in_degree is None else int(round(in_degree * cfg.exc_fraction))
    for pre, w, ch, sign in (("exc", cfg.w_exc_mv, 0, "excitatory"),
                             ("inh", cfg.w_inh_mv, 1, "inhibitory")):
        if in_degree is None:
            rule = FixedProbability(cfg.p_connect)
        else:
            rule = FixedInDegree(k_exc if pre == "exc" else in_degree - k_exc)
        for post in ("exc", "inh"):
            net.connect(pre, post, rule, weight=w, channel=ch, sign=sign)
    return net


def isi_cv(steps: np.ndarray, neurons: np.ndarray, n: int) -> np.ndarray:
    """Coefficient of variation (standard deviation over mean, ``ddof = 0``) of the
    inter-spike intervals of each neuron with ≥ 3 spikes, in neuron order - two passes (the
    mean, then the squared deviations from it) over each neuron's intervals, all neurons at
    once (a loop over 400k neurons took longer than their simulation)."""
    order = np.lexsort((steps, neurons))
    s, nid = np.asarray(steps)[order], np.asarray(neurons)[order]
    if s.size < 3:
        return np.zeros(0)
    isi = np.diff(s).astype(np.float64)
    same = nid[1:] == nid[:-1]  # interval k: between spikes k and k + 1 of one neuron
    isi, who = isi[same], nid[1:][same]
    if isi.size == 0:
        return np.zeros(0)
    starts = np.flatnonzero(np.r_[True, who[1:] != who[:-1]])
    count = np.diff(np.r_[starts, isi.size])
    mean = np.add.reduceat(isi, starts) / count
    dev = isi - np.repeat(mean, count)
    cv = np.sqrt(np.add.reduceat(dev * dev, starts) / count) / mean
    return cv[count >= 2]


def _synops_from_spikes(net: Network, mons: dict) -> dict[str, int]:
    """Synaptic events per projection: each presynaptic spike times the row's fan-out."""
    out = {}
    for name, proj in net.projections.items():
        fan = np.diff(proj.indptr.numpy())
        out[name] = int(fan[mons[proj.pre].neurons.numpy()].sum())
    return out


def _simulate(net: Network, config: CubaConfig, checkpoint: Checkpointer | None,
              progress: bool, summary: SpikeSummary | None = None) -> None:
    """Run the built network for ``config.duration_ms``; with a ``checkpoint``, in pieces of
    ~1 s of wall time (a run shorter than that is one piece and never saved; with
    ``every_s == 0``, "at every opportunity", pieces of a tenth of the run), saving the whole
    simulation state (neurons, currents, clock, recorded spikes, rates and ``summary``) when
    one is due, after first restoring the newest good one - the same bits as one
    uninterrupted call (the clock's random blocks and the compiled loop do not depend on where
    a run is cut: the resume test). With a ``summary``, the spike monitors are folded into it
    and cleared after every piece."""
    resumable = checkpoint is not None and config.device == "cpu"  # GPU runs: restart from 0
    if not resumable and (summary is None or config.device != "cpu"):
        net.run(config.duration_ms, progress=progress)
        _fold(net, summary)
        return
    from tqdm.auto import tqdm

    from ..network._state import fingerprint, restore_state, state_tensors
    from ..network.checkpoint import Checkpoint, CheckpointError

    @functools.cache
    def structure() -> dict:  # the fingerprint (hashes the connectivity): made when needed
        return json.loads(json.dumps(fingerprint(net)))  # as it reads back from JSON

    state = checkpoint.load() if resumable else None
    if state is not None:
        step, tensors, meta = state
        if meta.get("fingerprint") != structure():
            raise CheckpointError(f"the checkpoint in {checkpoint.directory} was saved by a "
                                  "differently built network (config or version changed)")
        if (summary is not None) != ("summary/counts" in tensors):
            raise CheckpointError(f"the checkpoint in {checkpoint.directory} was saved with "
                                  "another choice of spikes (all / summary)")
        restore_state(net, Checkpoint(step, structure(), tensors, meta, checkpoint.directory))
        if summary is not None:
            summary.load(tensors)
    total = int(round(config.duration_ms / config.dt_ms))
    piece = max(1, int(1e9 / (config.n_neurons * config.trials)))  # ~1 s: ~1 ns per update
    if resumable and checkpoint.every_s == 0:
        piece = min(piece, -(-total // 10))
    with tqdm(total=total, initial=net.step, disable=not progress, unit="step",
              unit_scale=True, desc="cuba") as bar:
        while net.step < total:
            n = min(piece, total - net.step)
            net.run(n * config.dt_ms, progress=False)
            _fold(net, summary)
            bar.update(n)
            if resumable and net.step < total and checkpoint.due():
                tensors = state_tensors(net)
                if summary is not None:
                    tensors.update(summary.tensors())
                checkpoint.save(net.step, tensors, {"fingerprint": structure()})


def _fold(net: Network, summary: SpikeSummary | None,
          mons: dict | None = None) -> None:
    """Fold the populations' spike monitors (``mons``, else the network's) into ``summary``
    and clear them (nothing without a summary)."""
    if summary is None:
        return
    mons = mons if mons is not None else net.spike_monitors
    summary.fold_monitors([mons["exc"], mons["inh"]], [0, mons["exc"].n])


@register("cuba", CubaConfig, "Vogels & Abbott (2005) CUBA network, Brian2's CUBA.py")
def run(config: CubaConfig, *, progress: bool = True,
        checkpoint: Checkpointer | None = None) -> Result:
    """The CUBA network (see :func:`build_cuba`); resumable after a kill with a
    ``checkpoint`` (not on NEST, whose kernel state is not checkpointed: it restarts)."""
    import matplotlib.pyplot as plt

    if config.device != "cpu":
        from ..surrogate.trainer import _check_device

        _check_device(config.device)  # no CUDA device: a clear error before any work
    t0 = time.perf_counter()
    net = build_cuba(config, batch=config.trials, device=config.device)
    mons = {k: net.monitor_spikes(k) for k in ("exc", "inh")}
    rate = net.monitor_rate("exc")
    summary = SpikeSummary(config.n_neurons, config.trials) if config.summarize else None
    compile_s = 0.0
    if config.backend == "nest":
        from ..interop.nest import run_nest, to_nest

        # NEST's smallest delay: one step
        model = to_nest(net, threads=config.nest_threads, zero_delay="one_step")
        build_s = time.perf_counter() - t0
        res = run_nest(net, config.duration_ms, model=model,
                       progress=None if progress else False)  # a bar on long runs only
        sim_wall_s = res.sim_s
        mons, rate = res.spike_monitors, res.rate_monitors["exc"]
        synops = _synops_from_spikes(net, mons)
        _fold(net, summary, mons)
        steps_done = res.steps
        nest_vps = res.virtual_processes
    else:
        net._ensure_built()
        build_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        _simulate(net, config, checkpoint, progress, summary)
        sim_wall_s = time.perf_counter() - t1
        synops, steps_done, compile_s = net.synops, net.step, net.compile_s
        nest_vps = 0
    n_exc = mons["exc"].n
    n = config.n_neurons
    if summary is None:
        trial = np.concatenate([mons["exc"].batch.numpy(), mons["inh"].batch.numpy()])
        per_trial = np.bincount(trial, minlength=config.trials)
        first = trial == 0  # trial 0 is the single-trial run (same draws), shown and analysed
        steps = np.concatenate([mons["exc"].steps.numpy(), mons["inh"].steps.numpy()])[first]
        neurons = np.concatenate([mons["exc"].neurons.numpy(),
                                  mons["inh"].neurons.numpy() + n_exc])[first]
        counts = np.bincount(neurons, minlength=n)
        cvs = isi_cv(steps, neurons, n)
        arrays = {"spike_steps": steps, "spike_neurons": neurons}
    else:  # the same figures from the folded summary (raster: its first 500 neurons)
        per_trial, counts, cvs = summary.trial_totals, summary.counts, summary.isi_cv()
        steps, neurons = summary.raster_spikes()
        arrays = {"raster_steps": steps, "raster_neurons": neurons}
    shown = neurons < 500  # the raster's neurons
    spikes_total = int(per_trial.sum())  # totals count every trial
    per_trial = per_trial / n / (config.duration_ms * 1e-3)
    rates = counts / (config.duration_ms * 1e-3)
    n_syn = sum(p.nnz for p in net.projections.values())
    metrics = {
        "spikes_total": spikes_total,
        "spikes_kept": "summary" if summary is not None else "all",
        "rate_hz_mean": float(rates.mean()),
        "neurons_with_isi_cv": int(len(cvs)),
        "synops_total": int(sum(synops.values())),
        "synapses": int(n_syn),
        "backend": config.backend if config.backend == "nest" else net.backend,
        # the compiled loop: built ahead of time (neuroplastic compile) or by numba's JIT
        **({"kernels": net.kernel_origin} if net.kernel_origin else {}),
        "dtype": config.dtype,
        "steps": steps_done,
        "trials": config.trials,
        "device": config.device,
    }
    if nest_vps:  # how NEST split the work: processes (MPI ranks) x threads
        metrics["nest_processes"] = nest_vps // config.nest_threads
        metrics["nest_threads"] = config.nest_threads
    if config.trials > 1:  # across trials: the spread a single run cannot show
        metrics["rate_hz_trials_mean"] = float(per_trial.mean())
        metrics["rate_hz_trials_sd"] = float(per_trial.std(ddof=1))
    if len(cvs):  # undefined without neurons of >= 3 spikes: omitted, never NaN
        metrics["isi_cv_mean"] = float(cvs.mean())
    figs = {}
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(steps[shown] * config.dt_ms, neurons[shown], ",k")
    ax.set(xlabel="time (ms)", ylabel="neuron", title="Spike raster (first 500 neurons)")
    figs["raster"] = fig
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.hist(rates, bins=40, color="tab:blue")
    ax.set(xlabel="firing rate (Hz)", ylabel="neurons", title="Rate distribution")
    figs["rate_histogram"] = fig
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.hist(cvs, bins=40, color="tab:orange")
    title = f"ISI CV (mean {cvs.mean():.2f})" if len(cvs) else "ISI CV (no neuron has 3 spikes)"
    ax.set(xlabel="ISI CV", ylabel="neurons", title=title)
    figs["isi_cv"] = fig
    fig, ax = plt.subplots(figsize=(8, 3))
    r = rate.rate_hz[:, 0].numpy()
    win = max(1, int(round(1.0 / config.dt_ms)))
    smooth = np.convolve(r, np.ones(win) / win, mode="same")
    ax.plot(np.arange(len(smooth)) * config.dt_ms, smooth, lw=0.7)
    ax.set(xlabel="time (ms)", ylabel="rate (Hz)", title="Excitatory population rate (1 ms)")
    figs["population_rate"] = fig
    if config.trials > 1:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.hist(per_trial, bins=min(40, config.trials), color="tab:purple")
        ax.set(xlabel="mean firing rate (Hz)", ylabel="trials",
               title=f"Rate of each of {config.trials} trials")
        ax.yaxis.get_major_locator().set_params(integer=True)
        figs["trial_rates"] = fig
    fig, ax = plt.subplots(figsize=(6, 3))
    names = list(synops)
    ax.bar(names, [synops[k] for k in names], color="tab:green")
    ax.set(ylabel="synaptic events", title="SynOps per projection")
    figs["synops"] = fig
    bins = smooth[::win]  # population rate in 1 ms bins
    return Result(metrics=metrics, figures=figs,
                  timings={"sim_wall_s": sim_wall_s, "compile_s": compile_s,
                           "build_s": build_s},
                  curves={"exc_population_rate_hz_1ms": bins.tolist()},
                  arrays={"rates_hz": rates, **arrays})
