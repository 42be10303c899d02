r"""Energy report: a simulator network and a surrogate-trained network, priced on every profile.

Two parts, one ``metrics.json``:

(a) **Simulator network** — ``n_input`` Poisson sources at ``input_rate_hz`` drive ``n_hidden``
    LIF neurons, which drive ``n_output`` LIF neurons (both projections
    ``FixedProbability(p_connect)``), simulated for ``duration_ms``. The simulator's own
    counters (spikes per neuron, SynOps per projection) give the
    :class:`~neuroplastic.energy.counters.ActivityCounts`
    (:func:`~neuroplastic.energy.network.energy_from_network`), priced by
    :func:`~neuroplastic.energy.report.energy_report` on every registered profile (one
    inference = the whole run).
(b) **Surrogate-trained counterpart** (``train``) — a feed-forward LIF network
    ``64 → n_hidden_trained (× n_hidden_layers) → 10`` trained with surrogate gradients on
    Poisson-encoded 8×8 digits (:func:`~neuroplastic.data.spike_digits`) once per firing-rate
    regularisation strength (:class:`~neuroplastic.surrogate.RateRegularizer`); the test set is
    counted from the recorded spikes (:func:`~neuroplastic.energy.counters.count_module_activity`)
    and priced per inference (one test sample). The dense-ANN reference ``cmos45_ann`` runs the
    same layers once per sample (``dense_equivalent="per_inference"``, a static ANN on the
    image).

Metrics (flat)
--------------
Part (a), unprefixed: every key of :meth:`EnergyReport.to_dict` — ``synops_counted`` (the
simulator's counters), ``synops_analytic`` (``Σ_layers N r k T`` from the measured rates),
``energy_per_inference_j_<profile>`` for every registered profile (``cmos45``, ``cmos45_ann``,
``cmos45_ann_dram``, ``loihi``, ``truenorth``, ``biology``, ``landauer``),
``power_w_<profile>``, ``ann_ratio_<profile>``, ``layer_<projection>_*`` — plus
``synops_expected_input`` (``N r k T`` with the *configured* Poisson rate: the expectation of
the input projection's count), ``input_synops_counted``, ``input_synops_z`` (their difference
in standard deviations of the Poisson count), ``rate_hz_input``, ``rate_hz_hidden``,
``rate_hz_output``.

Part (b), prefixed ``trained_``: the same report keys for the *selected* model (the sparsest
one whose test accuracy is within ``accuracy_tolerance`` of the best), plus
``trained_accuracy``, ``trained_strength``; and per strength ``i`` (in config order)
``trained_s{i}_strength``, ``trained_s{i}_accuracy``, ``trained_s{i}_spike_rate`` (mean spikes
per neuron per step over all LIF layers), ``trained_s{i}_synops_per_inference``,
``trained_s{i}_energy_per_inference_j_<profile>``. Training runs with one torch thread
(restored afterwards): on these tiny matrices more threads only add overhead.

Timings (``Result.timings``): ``sim_wall_s`` (the simulation), ``train_wall_s`` (training and
counting, summed over resumed segments).

Curves: ``rate_hz_<population>_per_bin`` (population rate of the simulator network in up to 50
equal time bins); per strength (in config order) ``strength_per_strength``,
``accuracy_per_strength``, ``spike_rate_per_strength``, ``synops_per_inference_per_strength``,
``energy_per_inference_j_<loihi|cmos45>_per_strength`` (what the trade-off figure plots); per
epoch of strength ``i`` ``train_loss_s{i}``, ``train_accuracy_s{i}``.

Arrays: ``raster_<population>`` (``(2, spikes)``: step, neuron) and ``model_s{i}.<parameter>``
(the trained weights of strength ``i``).

Figures: ``energy_simulator`` and ``energy_trained`` (bar charts of
:func:`~neuroplastic.energy.report.plot_energy`), ``tradeoff`` (accuracy vs SynOps per
inference and vs energy per inference on Loihi and 45 nm CMOS, the dense ANN as a line).

Resumable: a checkpoint after the simulator part and after every training epoch (the
:class:`EnergyReport` objects as tensors + JSON via :meth:`EnergyReport.to_tensors`, the
rasters, the trained weights, the trainer's model and Adam state); killed and resumed, a run
gives the same metrics, curves and arrays bit for bit as an uninterrupted one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from ..data import spike_digits
from ..energy import (
    PROFILES,
    EnergyReport,
    count_module_activity,
    energy_report,
    plot_energy,
)
from ..energy.network import energy_from_network
from ..lab.checkpointer import Checkpointer
from ..network import Network
from ..neurons import LIFParams
from ..surrogate import (
    LIF,
    RateRegularizer,
    Sequential,
    TimeDistributed,
    Trainer,
    discrete_lif_params,
    record_spikes,
    spike_count_cross_entropy,
    spike_count_predict,
)
from ..synapses import FixedProbability
from .base import Result, register
from .configs.energy_report import EnergyReportConfig
from .surrogate_digits import TensorBatches

__all__ = ["EnergyReportConfig", "build_poisson_network", "run"]

_POPS = ("input", "hidden", "output")
_TRADEOFF_PROFILES = ("loihi", "cmos45")
_RATE_BINS = 50


# ---------------------------------------------------------------------------------- part (a)
_SIM_LIF = LIFParams(tau_mem_ms=20.0, v_rest_mv=-65.0, v_reset_mv=-65.0, v_thresh_mv=-50.0,
                     t_ref_ms=2.0, tau_syn_ms=(5.0,))


def build_poisson_network(cfg: EnergyReportConfig) -> Network:
    """Poisson ``input`` → LIF ``hidden`` → LIF ``output``, projections ``input->hidden`` and
    ``hidden->output`` (fixed probability, excitatory), spike monitors on all three."""
    net = Network(cfg.dt_ms, seed=cfg.seed)
    net.add_poisson("input", np.full(cfg.n_input, cfg.input_rate_hz))
    net.add_lif("hidden", cfg.n_hidden, _SIM_LIF, v_init=(-65.0, -55.0))
    net.add_lif("output", cfg.n_output, _SIM_LIF, v_init=(-65.0, -55.0))
    net.connect("input", "hidden", FixedProbability(cfg.p_connect), weight=cfg.w_input_mv,
                sign="excitatory")
    net.connect("hidden", "output", FixedProbability(cfg.p_connect), weight=cfg.w_hidden_mv,
                sign="excitatory")
    for pop in _POPS:
        net.monitor_spikes(pop)
    return net


def _simulator_part(cfg: EnergyReportConfig, progress: bool):
    """``(metrics, report, rasters, wall_s)`` of the simulator network."""
    net = build_poisson_network(cfg)
    t0 = time.perf_counter()
    net.run(cfg.duration_ms, progress=progress)
    wall = time.perf_counter() - t0
    duration_s = net.step * cfg.dt_ms * 1e-3
    counts = energy_from_network(net, duration_s)
    report = energy_report(counts, duration_s=duration_s, profiles=tuple(PROFILES))
    metrics: dict[str, Any] = report.to_dict()
    # expectation of the input projection's count from the configured rate (no measurement)
    proj = net.projections["input->hidden"]
    k = proj.fan_out.numpy().astype(np.float64)
    lam = cfg.input_rate_hz * duration_s  # expected spikes per source
    expected = lam * k.sum()
    counted = net.synops["input->hidden"]
    metrics["synops_expected_input"] = float(expected)
    metrics["input_synops_counted"] = int(counted)
    # Var(Σ c_i k_i) = λ Σ k_i² for independent Poisson counts c_i
    metrics["input_synops_z"] = float((counted - expected) / np.sqrt(lam * (k * k).sum()))
    for pop, n in zip(_POPS, (cfg.n_input, cfg.n_hidden, cfg.n_output)):
        metrics[f"rate_hz_{pop}"] = float(net.spike_counts(pop).sum()) / (n * duration_s)
    rasters = {f"raster_{pop}": torch.stack([net.spike_monitors[pop].steps,
                                             net.spike_monitors[pop].neurons])
               for pop in _POPS}
    return metrics, report, rasters, wall


def rate_curves(cfg: EnergyReportConfig, rasters: dict[str, torch.Tensor]) -> dict[str, list]:
    """Population rate [Hz] of each population in ``min(steps, 50)`` nearly equal time bins."""
    steps = round(cfg.duration_ms / cfg.dt_ms)
    n_bins = min(steps, _RATE_BINS)
    edges = np.linspace(0, steps, n_bins + 1).round().astype(np.int64)
    width_s = np.diff(edges) * cfg.dt_ms * 1e-3
    out = {}
    for pop, n in zip(_POPS, (cfg.n_input, cfg.n_hidden, cfg.n_output)):
        s = rasters[f"raster_{pop}"][0].numpy()
        b = np.clip(np.searchsorted(edges, s, side="right") - 1, 0, n_bins - 1)
        per_bin = np.bincount(b, minlength=n_bins)
        out[f"rate_hz_{pop}_per_bin"] = (per_bin / (n * width_s)).tolist()
    return out


# ---------------------------------------------------------------------------------- part (b)
def _model(cfg: EnergyReportConfig) -> Sequential:
    with torch.random.fork_rng(devices=[]):  # weight init from the seed, global RNG untouched
        torch.manual_seed(cfg.seed)
        p = discrete_lif_params(0.9, 1.0)
        sizes = [64] + [cfg.n_hidden_trained] * cfg.n_hidden_layers + [10]
        mods: list[nn.Module] = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            mods += [TimeDistributed(nn.Linear(n_in, n_out)), LIF(n_out, p)]
        return Sequential(*mods)


def _count_test(model: Sequential, x: torch.Tensor, y: torch.Tensor):
    """Accuracy and activity counts of the whole test set (one inference per sample)."""
    model.eval()
    with torch.no_grad(), record_spikes(model) as spikes:
        out, _ = model(x)
    acc = float((spike_count_predict(out) == y).float().mean())
    linears = [m.module for m in model.layers if isinstance(m, TimeDistributed)]
    inputs = [x] + spikes[:-1]  # what enters each linear layer
    names = ["input"] + [f"hidden{i + 1}" for i in range(len(linears) - 1)]
    counts = count_module_activity(list(zip(inputs, linears)), names=names)
    rate = float(sum(s.sum() for s in spikes) / sum(s.numel() for s in spikes))
    return acc, counts, rate


@dataclass
class _Row:
    """One trained strength: its test accuracy, spike rate, report, history and weights."""

    strength: float
    accuracy: float
    spike_rate: float
    report: EnergyReport
    history: list[dict[str, float]]
    weights: dict[str, torch.Tensor]


@dataclass
class _State:
    """Everything a resumed run needs (see :func:`_save` / :func:`_restore`)."""

    sim_metrics: dict[str, Any]
    sim_report: EnergyReport
    rasters: dict[str, torch.Tensor]
    rows: list[_Row] = field(default_factory=list)
    trainer: tuple[dict[str, torch.Tensor], dict[str, Any]] | None = None
    timings: dict[str, float] = field(default_factory=dict)


def _report_tensors(prefix: str, report: EnergyReport) -> tuple[dict[str, Any], dict[str, Any]]:
    arrays, meta = report.to_tensors()
    return {f"{prefix}.{k}": v for k, v in arrays.items()}, meta


def _strip(tensors: dict[str, Any], prefix: str) -> dict[str, Any]:
    n = len(prefix) + 1
    return {k[n:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}


def _save(checkpoint: Checkpointer, step: int, st: _State) -> None:
    tensors: dict[str, Any] = dict(st.rasters)
    arrays, sim_meta = _report_tensors("report_sim", st.sim_report)
    tensors.update(arrays)
    rows = []
    for i, row in enumerate(st.rows):
        arrays, rep_meta = _report_tensors(f"report_s{i}", row.report)
        tensors.update(arrays)
        tensors.update({f"model_s{i}.{k}": v for k, v in row.weights.items()})
        rows.append({"strength": row.strength, "accuracy": row.accuracy,
                     "spike_rate": row.spike_rate, "report": rep_meta, "history": row.history})
    trainer_meta = None
    if st.trainer is not None:
        tensors.update({f"trainer.{k}": v for k, v in st.trainer[0].items()})
        trainer_meta = st.trainer[1]
    checkpoint.save(step, tensors, {"sim_metrics": st.sim_metrics, "sim_report": sim_meta,
                                    "rows": rows, "trainer": trainer_meta,
                                    "timings": st.timings})


def _restore(tensors: dict[str, Any], meta: dict[str, Any]) -> _State:
    rows = []
    for i, r in enumerate(meta["rows"]):
        rows.append(_Row(r["strength"], r["accuracy"], r["spike_rate"],
                         EnergyReport.from_tensors(_strip(tensors, f"report_s{i}"), r["report"]),
                         list(r["history"]), _strip(tensors, f"model_s{i}")))
    trainer = None
    if meta["trainer"] is not None:
        trainer = (_strip(tensors, "trainer"), meta["trainer"])
    return _State(
        sim_metrics=dict(meta["sim_metrics"]),
        sim_report=EnergyReport.from_tensors(_strip(tensors, "report_sim"), meta["sim_report"]),
        rasters={f"raster_{p}": tensors[f"raster_{p}"] for p in _POPS},
        rows=rows, trainer=trainer, timings=dict(meta["timings"]),
    )


def _train_strength(cfg: EnergyReportConfig, st: _State, data, x_test: torch.Tensor,
                    checkpoint: Checkpointer | None, step: int) -> int:
    """Train the next strength (from the trainer state in ``st`` if any), append its row."""
    i = len(st.rows)
    s = cfg.strengths[i]
    model = _model(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    reg = RateRegularizer(target=cfg.rate_target, strength=s) if s > 0 else None
    batches = TensorBatches(data.spikes_train, data.y_train, cfg.batch_size, shuffle=True)
    trainer = Trainer(model, opt, spike_count_cross_entropy, batches, epochs=cfg.epochs,
                      regularizer=reg, seed=cfg.seed, progress=False)
    if st.trainer is not None:
        trainer.load_state(*st.trainer)
    while trainer.epoch < cfg.epochs:
        t0 = time.perf_counter()
        trainer.train_epoch()
        step += 1
        if trainer.epoch == cfg.epochs:
            acc, counts, rate = _count_test(model, x_test, data.y_test)
            report = energy_report(counts, duration_s=cfg.num_steps * 1e-3,
                                   profiles=tuple(PROFILES), dense_equivalent="per_inference")
            weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
            st.rows.append(_Row(s, acc, rate, report, list(trainer.history), weights))
            st.trainer = None
        else:
            st.trainer = trainer.state()
        st.timings["train_wall_s"] += time.perf_counter() - t0
        if checkpoint is not None and checkpoint.due():
            _save(checkpoint, step, st)
    return step


def _select(cfg: EnergyReportConfig, rows: list[_Row]) -> _Row:
    """The sparsest model whose accuracy is within ``accuracy_tolerance`` of the best."""
    best = max(r.accuracy for r in rows)
    ok = [r for r in rows if r.accuracy >= best - cfg.accuracy_tolerance]
    return min(ok, key=lambda r: r.report.counts.synops)


def _trained_metrics(chosen: _Row, rows: list[_Row]) -> dict[str, Any]:
    metrics: dict[str, Any] = {f"trained_{k}": v for k, v in chosen.report.to_dict().items()}
    metrics["trained_accuracy"] = chosen.accuracy
    metrics["trained_strength"] = chosen.strength
    for i, r in enumerate(rows):
        rep = r.report
        metrics[f"trained_s{i}_strength"] = r.strength
        metrics[f"trained_s{i}_accuracy"] = r.accuracy
        metrics[f"trained_s{i}_spike_rate"] = r.spike_rate
        metrics[f"trained_s{i}_synops_per_inference"] = rep.counts.synops / rep.n_inferences
        for p in rep.profiles:
            metrics[f"trained_s{i}_energy_per_inference_j_{p.profile}"] = (
                rep.energy_per_inference_j(p.profile)
            )
    return metrics


def _trained_curves(rows: list[_Row]) -> dict[str, list[float]]:
    curves = {
        "strength_per_strength": [r.strength for r in rows],
        "accuracy_per_strength": [r.accuracy for r in rows],
        "spike_rate_per_strength": [r.spike_rate for r in rows],
        "synops_per_inference_per_strength": [
            r.report.counts.synops / r.report.n_inferences for r in rows
        ],
    }
    for prof in _TRADEOFF_PROFILES:
        curves[f"energy_per_inference_j_{prof}_per_strength"] = [
            r.report.energy_per_inference_j(prof) for r in rows
        ]
    for i, r in enumerate(rows):
        curves[f"train_loss_s{i}"] = [h["train_loss"] for h in r.history]
        curves[f"train_accuracy_s{i}"] = [h["train_accuracy"] for h in r.history]
    return curves


def _tradeoff_figure(rows: list[_Row]) -> Figure:
    fig = Figure(figsize=(10.0, 4.0), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2, sharey=True)
    acc = np.array([r.accuracy for r in rows])
    synops = np.array([r.report.counts.synops / r.report.n_inferences for r in rows])
    ax1.plot(synops, acc, "o-", color="tab:green")
    for r, x in zip(rows, synops):
        ax1.annotate(f"λ={r.strength:g}", (x, r.accuracy), fontsize=7,
                     textcoords="offset points", xytext=(3, 3))
    ax1.set(xlabel="SynOps per inference", ylabel="test accuracy",
            title="Sparsity / accuracy (rate regularisation λ)")
    ax1.set_xscale("log")
    for prof, colour in zip(_TRADEOFF_PROFILES, ("tab:blue", "tab:orange")):
        e = np.array([r.report.energy_per_inference_j(prof) for r in rows])
        ax2.plot(e, acc, "o-", color=colour, label=prof)
    ann = rows[0].report.energy_per_inference_j("cmos45_ann")
    ax2.axvline(ann, color="k", ls="--", lw=1, label="dense ANN, 45 nm (once per sample)")
    ax2.set(xlabel="energy per inference [J]", title="Accuracy vs energy")
    ax2.set_xscale("log")
    ax2.legend(fontsize=8)
    return fig


def _titled(report: EnergyReport, title: str) -> Figure:
    fig = plot_energy(report)
    ax = fig.axes[0]
    ax.set_title(f"{title}: {ax.get_title()}", fontsize=9)
    return fig


def _train_all(cfg: EnergyReportConfig, st: _State, checkpoint: Checkpointer | None,
               step: int, progress: bool) -> None:
    from tqdm.auto import tqdm

    data = spike_digits(num_steps=cfg.num_steps, max_rate_hz=cfg.max_rate_hz, dt_ms=1.0,
                        seed=cfg.seed)
    x_test = data.spikes_test.to(torch.float32)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: threads cost more than they give (restored below)
    bar = tqdm(total=len(cfg.strengths), initial=len(st.rows), desc="strengths",
               disable=not progress, leave=False)
    try:
        while len(st.rows) < len(cfg.strengths):
            step = _train_strength(cfg, st, data, x_test, checkpoint, step)
            bar.update(1)
    finally:
        bar.close()
        torch.set_num_threads(threads)


@register("energy-report", EnergyReportConfig,
          "SynOps and energy per inference of a simulator network and of surrogate-trained "
          "digit classifiers at several firing-rate regularisation strengths, on every profile")
def run(config: EnergyReportConfig, *, progress: bool = True,
        checkpoint: Checkpointer | None = None) -> Result:
    state = checkpoint.load() if checkpoint is not None else None
    if state is None:
        metrics, report, rasters, wall = _simulator_part(config, progress)
        st = _State(metrics, report, rasters, timings={"sim_wall_s": wall, "train_wall_s": 0.0})
        step = 1
        if checkpoint is not None and config.train and checkpoint.due():
            _save(checkpoint, step, st)
    else:
        step, tensors, meta = state
        st = _restore(tensors, meta)
    if config.train:
        _train_all(config, st, checkpoint, step, progress)
    metrics = dict(st.sim_metrics)
    curves = rate_curves(config, st.rasters)
    figures = {"energy_simulator": _titled(st.sim_report, "Simulator network")}
    arrays: dict[str, torch.Tensor] = dict(st.rasters)
    timings = {"sim_wall_s": st.timings["sim_wall_s"]}
    if config.train:
        chosen = _select(config, st.rows)
        metrics.update(_trained_metrics(chosen, st.rows))
        curves.update(_trained_curves(st.rows))
        figures["energy_trained"] = _titled(
            chosen.report,
            f"Trained network (strength {chosen.strength:g}, accuracy {chosen.accuracy:.3f})")
        figures["tradeoff"] = _tradeoff_figure(st.rows)
        for i, row in enumerate(st.rows):
            arrays.update({f"model_s{i}.{k}": v for k, v in row.weights.items()})
        timings["train_wall_s"] = st.timings["train_wall_s"]
    return Result(metrics=metrics, figures=figures, arrays=arrays, curves=curves,
                  timings=timings)
