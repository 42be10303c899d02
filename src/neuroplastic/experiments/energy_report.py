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
(b) **Surrogate-trained counterpart** — a feed-forward LIF network ``64 → n_hidden_trained
    (× n_hidden_layers) → 10`` trained with surrogate gradients on Poisson-encoded 8×8 digits
    (:func:`~neuroplastic.data.spike_digits`) once per firing-rate regularisation strength
    (:class:`~neuroplastic.surrogate.RateRegularizer`); the test set is counted from the
    recorded spikes (:func:`~neuroplastic.energy.counters.count_module_activity`) and priced
    per inference (one test sample). The dense-ANN reference ``cmos45_ann`` runs the same layers
    once per sample (``dense_equivalent="per_inference"``, a static ANN on the image).

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
``rate_hz_output``, ``sim_wall_s``.

Part (b), prefixed ``trained_``: the same report keys for the *selected* model (the sparsest
one whose test accuracy is within ``accuracy_tolerance`` of the best), plus
``trained_accuracy``, ``trained_strength``; and per strength ``i`` (in config order)
``trained_s{i}_strength``, ``trained_s{i}_accuracy``, ``trained_s{i}_spike_rate`` (mean spikes
per neuron per step over all LIF layers), ``trained_s{i}_synops_per_inference``,
``trained_s{i}_energy_per_inference_j_<profile>``; ``train_wall_s``. Training runs with one
torch thread (restored afterwards): on these tiny matrices more threads only add overhead.

Figures: ``energy_simulator`` and ``energy_trained`` (bar charts of
:func:`~neuroplastic.energy.report.plot_energy`), ``tradeoff`` (accuracy vs SynOps per
inference and vs energy per inference on Loihi and 45 nm CMOS, the dense ANN as a line).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn
from tqdm.auto import tqdm

from .._validation import check_int, check_positive, check_range
from ..data import spike_digits
from ..energy import PROFILES, count_module_activity, energy_report, plot_energy
from ..energy.network import energy_from_network
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

__all__ = ["EnergyReportConfig", "build_poisson_network", "run"]


@dataclass(frozen=True)
class EnergyReportConfig:
    # --- (a) simulator network
    n_input: int = 400  # Poisson sources
    n_hidden: int = 200  # LIF neurons of the first layer
    n_output: int = 50  # LIF neurons of the second layer
    input_rate_hz: float = 20.0  # rate of every Poisson source
    p_connect: float = 0.1  # connection probability of both projections
    w_input_mv: float = 4.0  # weight (nA = mV at 1 MOhm) of input -> hidden synapses
    w_hidden_mv: float = 7.0  # weight of hidden -> output synapses
    duration_ms: float = 500.0  # simulated time
    dt_ms: float = 0.5  # clock step
    # --- (b) surrogate-trained network
    train: bool = True  # run part (b)
    n_hidden_trained: int = 96  # LIF neurons of each hidden layer of the trained network
    n_hidden_layers: int = 2  # hidden layers of the trained network
    num_steps: int = 20  # time steps per digit (1 ms each)
    max_rate_hz: float = 200.0  # Poisson rate of a black pixel
    epochs: int = 8  # training epochs per strength
    batch_size: int = 64  # training batch size
    lr: float = 1e-2  # Adam learning rate
    strengths: tuple[float, ...] = (0.0, 1.0, 3.0, 10.0)  # RateRegularizer strengths
    rate_target: float = 0.0  # RateRegularizer target (spikes per neuron per step)
    accuracy_tolerance: float = 0.03  # accuracy loss accepted when selecting the sparse model
    seed: int = 0  # seeds the network, the data split/encoding and the training

    def __post_init__(self) -> None:
        for name in ("n_input", "n_hidden", "n_output", "n_hidden_trained", "n_hidden_layers",
                     "num_steps"):
            check_int(name, getattr(self, name), 1)
        check_int("epochs", self.epochs, 1)
        check_int("batch_size", self.batch_size, 1)
        check_int("seed", self.seed, 0)
        for name in ("input_rate_hz", "duration_ms", "dt_ms", "max_rate_hz", "lr"):
            check_positive(name, getattr(self, name))
        check_range("p_connect", self.p_connect, 0.0, 1.0)
        check_range("rate_target", self.rate_target, 0.0, 1.0)
        check_range("accuracy_tolerance", self.accuracy_tolerance, 0.0, 1.0)
        if not self.strengths:
            raise ValueError("strengths must hold at least one value, got ()")
        for s in self.strengths:
            check_range("strengths", s, 0.0, float("inf"))


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
    for pop in ("input", "hidden", "output"):
        net.monitor_spikes(pop)
    return net


def _simulator_part(cfg: EnergyReportConfig, progress: bool) -> tuple[dict, dict, dict]:
    net = build_poisson_network(cfg)
    t0 = time.perf_counter()
    net.run(cfg.duration_ms, progress=progress)
    wall = time.perf_counter() - t0
    duration_s = net.step * cfg.dt_ms * 1e-3
    counts = energy_from_network(net, duration_s)
    report = energy_report(counts, duration_s=duration_s, profiles=tuple(PROFILES))
    metrics = report.to_dict()
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
    for pop, n in (("input", cfg.n_input), ("hidden", cfg.n_hidden), ("output", cfg.n_output)):
        metrics[f"rate_hz_{pop}"] = float(net.spike_counts(pop).sum()) / (n * duration_s)
    metrics["sim_wall_s"] = wall
    mons = {pop: net.spike_monitors[pop] for pop in ("input", "hidden", "output")}
    arrays = {
        f"raster_{pop}": torch.stack([m.steps, m.neurons]) for pop, m in mons.items()
    }
    figures = {"energy_simulator": plot_energy(report)}
    figures["energy_simulator"].axes[0].set_title(
        "Simulator network: " + figures["energy_simulator"].axes[0].get_title(), fontsize=9
    )
    return metrics, figures, arrays


# ---------------------------------------------------------------------------------- part (b)
class _Batches:
    """Time-major mini-batches ``(x (T, B, 64), y (B,))``, reshuffled by ``generator``."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch: int, shuffle: bool) -> None:
        self.x, self.y, self.batch, self.shuffle = x, y, batch, shuffle
        self.generator = torch.Generator().manual_seed(0)  # reseeded per epoch by the Trainer

    def __iter__(self):
        n = self.y.shape[0]
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        for a in range(0, n, self.batch):
            idx = order[a : a + self.batch]
            yield self.x[:, idx], self.y[idx]

    def __len__(self) -> int:
        return -(-self.y.shape[0] // self.batch)


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


def _train_all(cfg: EnergyReportConfig, x_train, data, x_test, duration_s: float,
               progress: bool) -> list:
    """Train one model per strength; ``[(strength, accuracy, spike_rate, EnergyReport)]``."""
    rows = []
    for s in tqdm(cfg.strengths, desc="strengths", disable=not progress, leave=False):
        model = _model(cfg)
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        reg = RateRegularizer(target=cfg.rate_target, strength=s) if s > 0 else None
        trainer = Trainer(model, opt, spike_count_cross_entropy,
                          _Batches(x_train, data.y_train, cfg.batch_size, True),
                          epochs=cfg.epochs, regularizer=reg, seed=cfg.seed, progress=False)
        trainer.fit()
        acc, counts, rate = _count_test(model, x_test, data.y_test)
        report = energy_report(counts, duration_s=duration_s, profiles=tuple(PROFILES),
                               dense_equivalent="per_inference")
        rows.append((s, acc, rate, report))
    return rows


def _trained_part(cfg: EnergyReportConfig, progress: bool) -> tuple[dict, dict]:
    data = spike_digits(num_steps=cfg.num_steps, max_rate_hz=cfg.max_rate_hz, dt_ms=1.0,
                        seed=cfg.seed)
    x_train = data.spikes_train.to(torch.float32)
    x_test = data.spikes_test.to(torch.float32)
    duration_s = cfg.num_steps * 1e-3
    t0 = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: threads cost more than they give (restored below)
    try:
        rows = _train_all(cfg, x_train, data, x_test, duration_s, progress)
    finally:
        torch.set_num_threads(threads)
    wall = time.perf_counter() - t0
    best = max(r[1] for r in rows)
    ok = [r for r in rows if r[1] >= best - cfg.accuracy_tolerance]
    chosen = min(ok, key=lambda r: r[3].counts.synops)
    metrics: dict = {f"trained_{k}": v for k, v in chosen[3].to_dict().items()}
    metrics["trained_accuracy"] = chosen[1]
    metrics["trained_strength"] = chosen[0]
    for i, (s, acc, rate, rep) in enumerate(rows):
        metrics[f"trained_s{i}_strength"] = s
        metrics[f"trained_s{i}_accuracy"] = acc
        metrics[f"trained_s{i}_spike_rate"] = rate
        metrics[f"trained_s{i}_synops_per_inference"] = rep.counts.synops / rep.n_inferences
        for p in rep.profiles:
            metrics[f"trained_s{i}_energy_per_inference_j_{p.profile}"] = (
                rep.energy_per_inference_j(p.profile)
            )
    metrics["train_wall_s"] = wall
    figures = {"energy_trained": plot_energy(chosen[3]), "tradeoff": _tradeoff_figure(rows)}
    figures["energy_trained"].axes[0].set_title(
        f"Trained network (strength {chosen[0]:g}, accuracy {chosen[1]:.3f}): "
        + figures["energy_trained"].axes[0].get_title(), fontsize=9
    )
    return metrics, figures


def _tradeoff_figure(rows) -> Figure:
    fig = Figure(figsize=(10.0, 4.0), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2, sharey=True)
    acc = np.array([r[1] for r in rows])
    synops = np.array([r[3].counts.synops / r[3].n_inferences for r in rows])
    ax1.plot(synops, acc, "o-", color="tab:green")
    for (s, a, _, _), x in zip(rows, synops):
        ax1.annotate(f"λ={s:g}", (x, a), fontsize=7, textcoords="offset points", xytext=(3, 3))
    ax1.set(xlabel="SynOps per inference", ylabel="test accuracy",
            title="Sparsity / accuracy (rate regularisation λ)")
    ax1.set_xscale("log")
    for prof, colour in (("loihi", "tab:blue"), ("cmos45", "tab:orange")):
        e = np.array([r[3].energy_per_inference_j(prof) for r in rows])
        ax2.plot(e, acc, "o-", color=colour, label=prof)
    ann = rows[0][3].energy_per_inference_j("cmos45_ann")
    ax2.axvline(ann, color="k", ls="--", lw=1, label="dense ANN, 45 nm (once per sample)")
    ax2.set(xlabel="energy per inference [J]", title="Accuracy vs energy")
    ax2.set_xscale("log")
    ax2.legend(fontsize=8)
    return fig


@register("energy-report", EnergyReportConfig,
          "SynOps and energy per inference of a simulator network and of surrogate-trained "
          "digit classifiers at several firing-rate regularisation strengths, on every profile")
def run(config: EnergyReportConfig, *, progress: bool = True) -> Result:
    metrics, figures, arrays = _simulator_part(config, progress)
    if config.train:
        m, f = _trained_part(config, progress)
        metrics.update(m)
        figures.update(f)
    return Result(metrics=metrics, figures=figures, arrays=arrays)
