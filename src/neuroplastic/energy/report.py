r"""Energy reports: counted activity × hardware profiles, next to :math:`P = N r k E_\mathrm{syn}`.

For each profile the counted energy of a run is

.. math::

    E = S\,(E_\mathrm{synop} + E_\mathrm{mem}) + N_\mathrm{spk} E_\mathrm{spike}
        + U_\mathrm{neuron} E_\mathrm{update} + U_\mathrm{w} E_\mathrm{w}
    \quad\text{(event mode)}, \qquad
    E = M\,(E_\mathrm{MAC} + E_\mathrm{mem}) \quad\text{(dense mode)},

with ``S`` SynOps, ``N_spk`` spikes entering projections, ``U`` neuron / weight updates and ``M``
the MACs of the equivalent dense network — evaluated at every time step
(``dense_equivalent="per_step"``, the same clocked work as the SNN) or once per sample
(``"per_inference"``, a static ANN) — with one weight fetch per MAC (the memory model of the
``cmos45_ann`` reference is a 32-bit SRAM read per MAC, i.e. weights in an 8 KB cache, no reuse
across the batch; ``cmos45_ann_dram`` streams weights from DRAM instead). Activation functions,
input loading and control are not charged.

Next to the counted synaptic energy stands the mean-field figure of every layer,
:math:`P_\mathrm{dyn} = N r k E_\mathrm{syn}` with ``N = n_pre``, ``r`` the layer's mean
presynaptic rate [Hz] and ``k`` its mean fan-out. Counted and analytic SynOps agree exactly when
rates are uncorrelated with fan-out in the sample (``Σ c_i k_i = Σ c_i · mean k``); their ratio
measures that correlation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from .._validation import check_choice, check_nonnegative, check_positive
from .counters import ActivityCounts, LayerCounts
from .profiles import HardwareProfile, get_profile

__all__ = [
    "DEFAULT_PROFILES",
    "DenseEquivalent",
    "EnergyReport",
    "ProfileEnergy",
    "analytic_power_w",
    "analytic_synops",
    "energy_report",
    "layer_energy_j",
    "plot_energy",
]

DenseEquivalent = Literal["per_step", "per_inference"]
_DENSE_EQUIVALENTS = ("per_step", "per_inference")

DEFAULT_PROFILES: tuple[str, ...] = (
    "cmos45",
    "cmos45_ann",
    "loihi",
    "truenorth",
    "biology",
    "landauer",
)


def analytic_power_w(
    n_neurons: float, rate_hz: float, mean_fan_out: float, e_syn_j: float
) -> float:
    r"""Dynamic synaptic power :math:`P = N r k E_\mathrm{syn}` [W].

    >>> analytic_power_w(1000, 10.0, 100.0, 23.6e-12)  # 1e6 SynOp/s on Loihi
    2.36e-05
    """
    return (
        check_nonnegative("n_neurons", n_neurons)
        * check_nonnegative("rate_hz", rate_hz)
        * check_nonnegative("mean_fan_out", mean_fan_out)
        * check_nonnegative("e_syn_j", e_syn_j)
    )


def analytic_synops(
    n_neurons: float, rate_hz: float, mean_fan_out: float, duration_s: float
) -> float:
    """Expected SynOps :math:`N r k \\, t` over ``duration_s`` seconds."""
    return analytic_power_w(n_neurons, rate_hz, mean_fan_out, 1.0) * check_nonnegative(
        "duration_s", duration_s
    )


def _charged_macs(layer: LayerCounts, dense_equivalent: DenseEquivalent) -> int:
    if dense_equivalent == "per_step":
        return layer.dense_macs
    return layer.dense_macs // layer.steps  # exact: dense_macs = per-step MACs x steps x batch


def layer_energy_j(
    layer: LayerCounts,
    profile: HardwareProfile,
    *,
    dense_equivalent: DenseEquivalent = "per_step",
) -> dict[str, float]:
    """Energy [J] of one layer's counts on ``profile``, by component.

    ``dense_equivalent`` (dense profiles only): ``"per_step"`` — the ANN evaluates the layer at
    every time step (a frame-by-frame or recurrent network, ``T`` passes); ``"per_inference"`` —
    a static ANN evaluates it once per sample (one pass).

    Returns
    -------
    dict with keys ``synaptic`` (SynOps or MACs incl. memory), ``spikes``, ``neurons``,
    ``plasticity``, ``total``.
    """
    if profile.mode == "dense":
        parts = {
            "synaptic": _charged_macs(layer, dense_equivalent) * profile.e_mac_j,
            "spikes": 0.0,
            "neurons": (
                layer.neuron_updates
                if dense_equivalent == "per_step"
                else layer.neuron_updates // layer.steps
            )
            * profile.e_neuron_update_j,
            "plasticity": 0.0,
        }
    else:
        parts = {
            "synaptic": layer.synops * profile.e_syn_j,
            "spikes": layer.spikes_in * profile.e_spike_j,
            "neurons": layer.neuron_updates * profile.e_neuron_update_j,
            "plasticity": layer.weight_updates * profile.e_weight_update_j,
        }
    parts["total"] = sum(parts.values())
    return parts


def _profile_kind(profile: HardwareProfile) -> str:
    kinds = {f.kind for f in profile.figures().values()}
    if "bound" in kinds:
        return "bound"
    return "measured" if kinds == {"measured"} else "estimated"


_TENSOR_FORMAT = "neuroplastic-energy-report-v1"
_COUNT_FIELDS = ("n_pre", "n_post", "steps", "batch", "spikes_in", "synops", "n_synapses",
                 "dense_macs", "neuron_updates", "weight_updates")
_ENERGY_FIELDS = ("synaptic_j", "spikes_j", "neurons_j", "plasticity_j", "total_j",
                  "analytic_synaptic_j")


@dataclass(frozen=True)
class ProfileEnergy:
    """Energy of a whole run (all ``batch`` inferences) on one profile [J].

    ``layers`` holds each layer's total in the order of :attr:`ActivityCounts.layers`;
    ``analytic_synaptic_j`` is ``Σ_layers N r k E_syn × duration × batch`` (``nan`` in dense mode).
    """

    profile: str
    mode: str
    kind: str
    synaptic_j: float
    spikes_j: float
    neurons_j: float
    plasticity_j: float
    total_j: float
    layers: tuple[float, ...]
    analytic_synaptic_j: float


@dataclass(frozen=True)
class EnergyReport:
    """Counted and analytic energy of one run on several hardware profiles.

    Build it with :func:`energy_report`. ``duration_s`` is the simulated time of one inference
    (``steps × dt``); the run covers ``counts.batch`` inferences.
    """

    counts: ActivityCounts
    duration_s: float
    profiles: tuple[ProfileEnergy, ...]
    reference: str
    dense_equivalent: DenseEquivalent = "per_step"

    def _get(self, name: str) -> ProfileEnergy:
        for p in self.profiles:
            if p.profile == name:
                return p
        known = ", ".join(p.profile for p in self.profiles)
        raise ValueError(f"profile {name!r} not in this report; it holds: {known}")

    @property
    def n_inferences(self) -> int:
        return self.counts.batch

    def energy_per_inference_j(self, name: str) -> float:
        return self._get(name).total_j / self.n_inferences

    def power_w(self, name: str) -> float:
        """Mean power [W] when inferences run back to back in real time."""
        return self.energy_per_inference_j(name) / self.duration_s

    def ann_ratio(self, name: str) -> float:
        """Energy per inference on ``name`` over that of the dense-ANN ``reference``."""
        ref = self.energy_per_inference_j(self.reference)
        return self.energy_per_inference_j(name) / ref if ref > 0 else math.nan

    @property
    def synops_analytic(self) -> float:
        """``Σ_layers N r k × duration × batch`` (= ``Σ_layers spikes_in × mean fan-out``)."""
        return float(sum(layer.spikes_in * layer.mean_fan_out for layer in self.counts.layers))

    @property
    def mean_rate_hz(self) -> float:
        """Presynaptic spikes per presynaptic neuron per second, pooled over layers."""
        c = self.counts
        return c.spikes / (c.n_pre * c.batch * self.duration_s)

    def to_dict(self) -> dict[str, float | int | str]:
        """Flat metrics (``metrics.json``): totals, then per profile, then per layer."""
        c = self.counts
        out: dict[str, float | int | str] = {
            "duration_s": self.duration_s,
            "n_inferences": c.batch,
            "steps": c.steps,
            "spikes_counted": c.spikes,
            "synops_counted": c.synops,
            "synops_analytic": self.synops_analytic,
            "synops_per_inference": c.synops / c.batch,
            "dense_macs": c.dense_macs,
            "dense_equivalent": self.dense_equivalent,
            "dense_macs_charged": sum(
                _charged_macs(layer, self.dense_equivalent) for layer in c.layers
            ),
            "neuron_updates": c.neuron_updates,
            "weight_updates": c.weight_updates,
            "n_presynaptic": c.n_pre,
            "n_synapses": c.n_synapses,
            "mean_rate_hz": self.mean_rate_hz,
            "mean_fan_out": c.n_synapses / c.n_pre,
            "energy_reference": self.reference,
        }
        for p in self.profiles:
            n = p.profile
            out[f"energy_per_inference_j_{n}"] = p.total_j / c.batch
            out[f"energy_synaptic_per_inference_j_{n}"] = p.synaptic_j / c.batch
            out[f"power_w_{n}"] = self.power_w(n)
            out[f"ann_ratio_{n}"] = self.ann_ratio(n)
            if p.mode == "event":
                out[f"energy_synaptic_analytic_per_inference_j_{n}"] = (
                    p.analytic_synaptic_j / c.batch
                )
                out[f"power_synaptic_analytic_w_{n}"] = (
                    p.analytic_synaptic_j / c.batch / self.duration_s
                )
        for i, layer in enumerate(c.layers):
            out[f"layer_{layer.name}_spikes"] = layer.spikes_in
            out[f"layer_{layer.name}_synops"] = layer.synops
            out[f"layer_{layer.name}_dense_macs"] = layer.dense_macs
            for p in self.profiles:
                out[f"layer_{layer.name}_energy_per_inference_j_{p.profile}"] = (
                    p.layers[i] / c.batch
                )
        return out

    def to_tensors(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """``(arrays, meta)``: the whole report as int64 / float64 arrays and JSON-able meta.

        ``counts`` ``(layers, 10)`` int64 (the :class:`LayerCounts` fields after ``name``, in
        order), ``profiles`` ``(profiles, 6)`` float64 (synaptic, spikes, neurons, plasticity,
        total, analytic synaptic energy [J]) and ``profile_layers`` ``(profiles, layers)``;
        names, modes, kinds and the scalars go in ``meta``. :meth:`from_tensors` rebuilds an
        identical report (no pickle: safetensors + JSON can store both parts).
        """
        layers = self.counts.layers
        counts = np.array([[getattr(layer, f) for f in _COUNT_FIELDS] for layer in layers],
                          dtype=np.int64)
        profiles = np.array([[getattr(p, f) for f in _ENERGY_FIELDS] for p in self.profiles],
                            dtype=np.float64)
        per_layer = np.array([p.layers for p in self.profiles], dtype=np.float64)
        meta = {
            "format": _TENSOR_FORMAT,
            "layers": [layer.name for layer in layers],
            "profiles": [[p.profile, p.mode, p.kind] for p in self.profiles],
            "duration_s": self.duration_s,
            "reference": self.reference,
            "dense_equivalent": self.dense_equivalent,
        }
        return {"counts": counts, "profiles": profiles, "profile_layers": per_layer}, meta

    @classmethod
    def from_tensors(cls, arrays: dict[str, Any], meta: dict[str, Any]) -> EnergyReport:
        """The report :meth:`to_tensors` described (arrays may be torch tensors or ndarrays).

        Raises ``ValueError`` naming what is missing or inconsistent.
        """
        if not isinstance(meta, dict) or meta.get("format") != _TENSOR_FORMAT:
            raise ValueError(f"meta is not an energy report's ({_TENSOR_FORMAT!r}) meta")
        try:
            counts = np.asarray(arrays["counts"])
            energies = np.asarray(arrays["profiles"])
            per_layer = np.asarray(arrays["profile_layers"])
            names, profiles = list(meta["layers"]), [tuple(p) for p in meta["profiles"]]
        except KeyError as e:
            raise ValueError(f"energy report tensors/meta lack {e}") from None
        shapes = {"counts": (counts.shape, (len(names), len(_COUNT_FIELDS))),
                  "profiles": (energies.shape, (len(profiles), len(_ENERGY_FIELDS))),
                  "profile_layers": (per_layer.shape, (len(profiles), len(names)))}
        for key, (got, want) in shapes.items():
            if tuple(got) != want:
                raise ValueError(f"energy report tensor {key!r} has shape {tuple(got)}, "
                                 f"expected {want}")
        layers = tuple(
            LayerCounts(name, *(int(v) for v in row)) for name, row in zip(names, counts)
        )
        out = tuple(
            ProfileEnergy(name, mode, kind,
                          *(float(v) for v in row[:-1]),
                          layers=tuple(float(v) for v in pl),
                          analytic_synaptic_j=float(row[-1]))
            for (name, mode, kind), row, pl in zip(profiles, energies, per_layer)
        )
        return cls(ActivityCounts(layers), float(meta["duration_s"]), out,
                   str(meta["reference"]), meta["dense_equivalent"])

    def to_markdown(self) -> str:
        """A table: profile, kind, J per inference, W, ratio to the dense ANN."""
        rows = [
            "| profile | kind | J / inference | W | × dense ANN |",
            "| --- | --- | --- | --- | --- |",
        ]
        for p in self.profiles:
            rows.append(
                f"| {p.profile} | {p.kind} | {self.energy_per_inference_j(p.profile):.3g} | "
                f"{self.power_w(p.profile):.3g} | {self.ann_ratio(p.profile):.3g} |"
            )
        return "\n".join(rows)


def energy_report(
    counts: ActivityCounts,
    *,
    duration_s: float,
    profiles: Sequence[str | HardwareProfile] = DEFAULT_PROFILES,
    reference: str = "cmos45_ann",
    dense_equivalent: DenseEquivalent = "per_step",
) -> EnergyReport:
    """Energy of a counted run on each profile.

    Parameters
    ----------
    counts : ActivityCounts
        From :mod:`neuroplastic.energy.counters`.
    duration_s : float
        Simulated duration of one inference [s] (``steps × dt``).
    profiles : sequence of str or HardwareProfile
        Registered names (see :data:`~neuroplastic.energy.profiles.PROFILES`) or profiles.
    reference : str
        The dense-ANN profile the ``ann_ratio`` figures divide by; added if missing.
    dense_equivalent : {"per_step", "per_inference"}
        Whether the dense ANN runs every layer at each of the ``T`` steps (same work as the
        clock-driven SNN) or once per sample (a static ANN on the same input).

    Returns
    -------
    EnergyReport
    """
    if not isinstance(counts, ActivityCounts):
        raise ValueError(f"counts must be an ActivityCounts, got {type(counts).__name__}")
    duration_s = check_positive("duration_s", duration_s)
    check_choice("dense_equivalent", dense_equivalent, _DENSE_EQUIVALENTS)
    resolved = [p if isinstance(p, HardwareProfile) else get_profile(p) for p in profiles]
    if reference not in {p.name for p in resolved}:
        resolved.append(get_profile(reference))
    if len({p.name for p in resolved}) != len(resolved):
        raise ValueError(f"profiles must be unique, got {[p.name for p in resolved]}")
    analytic_synops_total = sum(
        analytic_synops(
            layer.n_pre,
            layer.spikes_in / (layer.n_pre * layer.batch * duration_s),
            layer.mean_fan_out,
            duration_s,
        )
        * layer.batch
        for layer in counts.layers
    )
    out = []
    for prof in resolved:
        parts = [
            layer_energy_j(layer, prof, dense_equivalent=dense_equivalent)
            for layer in counts.layers
        ]
        total = {key: float(sum(p[key] for p in parts)) for key in parts[0]}
        out.append(
            ProfileEnergy(
                profile=prof.name,
                mode=prof.mode,
                kind=_profile_kind(prof),
                synaptic_j=total["synaptic"],
                spikes_j=total["spikes"],
                neurons_j=total["neurons"],
                plasticity_j=total["plasticity"],
                total_j=total["total"],
                layers=tuple(float(p["total"]) for p in parts),
                analytic_synaptic_j=(
                    analytic_synops_total * prof.e_syn_j if prof.mode == "event" else math.nan
                ),
            )
        )
    return EnergyReport(counts, duration_s, tuple(out), reference, dense_equivalent)


_KIND_COLOURS = {"measured": "tab:blue", "estimated": "tab:orange", "bound": "tab:grey"}


def plot_energy(report: EnergyReport, *, ax: Any = None) -> Figure:
    """Bar chart of energy per inference across profiles (log scale), coloured by figure kind.

    Uses :class:`matplotlib.figure.Figure` directly (no pyplot global state). Zero energies are
    drawn at the axis floor and labelled ``0``.
    """
    if ax is None:
        fig = Figure(figsize=(7.0, 4.0), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    names = [p.profile for p in report.profiles]
    values = np.array([report.energy_per_inference_j(n) for n in names], dtype=float)
    positive = values[values > 0]
    floor = positive.min() / 10 if positive.size else 1e-24
    heights = np.where(values > 0, values, floor)
    colours = [_KIND_COLOURS[p.kind] for p in report.profiles]
    bars = ax.bar(names, heights, color=colours)
    ax.set_yscale("log")
    ax.set_ylabel("energy per inference [J]")
    ax.set_title(
        f"{report.counts.synops / report.n_inferences:.3g} SynOps, "
        f"{report.to_dict()['dense_macs_charged'] / report.n_inferences:.3g} dense MACs "
        f"({report.dense_equivalent}) per inference"
    )
    for bar, v, name in zip(bars, values, names):
        label = "0" if v == 0 else f"{v:.2g} J\n×{report.ann_ratio(name):.2g}"
        ax.annotate(
            label,
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=7,
        )
    ax.set_ylim(floor / 3, heights.max() * 30)
    ax.tick_params(axis="x", labelrotation=30)
    handles = [Patch(color=colour, label=kind) for kind, colour in _KIND_COLOURS.items()]
    ax.legend(handles=handles, title="figure kind", fontsize=8)
    return fig
