r"""Hardware energy profiles as data: every figure carries its value, its source and its kind.

An event-driven network spends dynamic energy per synaptic event,

.. math::

    P_\mathrm{dyn} = N \cdot r \cdot k \cdot E_\mathrm{syn},

(``N`` presynaptic neurons firing at mean rate ``r`` [Hz] onto ``k`` targets each, ``E_syn`` [J]
per synaptic event). A :class:`HardwareProfile` says what one event of each kind costs on one
substrate; :mod:`neuroplastic.energy.report` multiplies these figures by the counts of
:mod:`neuroplastic.energy.counters`.

Each :class:`EnergyFigure` states whether it is

* ``"measured"`` — measured on fabricated silicon or in a physical experiment,
* ``"estimated"`` — derived from circuit simulation, process data or a biophysical model,
* ``"bound"`` — a thermodynamic lower limit.

Two cost models exist (``HardwareProfile.mode``):

* ``"event"`` — spiking hardware: charge ``synop`` (+ ``memory_access``) per synaptic event,
  ``spike`` per spike entering a projection, ``neuron_update`` per neuron per time step and
  ``weight_update`` per plastic synapse update. A missing (``None``) figure costs nothing: either
  the source folds it into another figure (TrueNorth) or no defensible number exists.
* ``"dense"`` — a conventional ANN: charge ``mac`` (+ ``memory_access``, one weight fetch per
  MAC) for every multiply–accumulate of the equivalent dense layer, whatever the activity.

References (see also ``docs/REFERENCES.md``)
--------------------------------------------
* M. Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014, 10–14
  (45 nm, 0.9 V operation and memory table).
* S. Han, J. Pool, J. Tran, W. Dally, "Learning both weights and connections for efficient
  neural networks", NeurIPS 2015, Table 1 (32-bit SRAM 5 pJ, 32-bit DRAM 640 pJ, after Horowitz).
* M. Davies et al., "Loihi: a neuromorphic manycore processor with on-chip learning",
  IEEE Micro 38(1):82–99, 2018, Table 1.
* P. A. Merolla et al., "A million spiking-neuron integrated circuit with a scalable
  communication network and interface", Science 345(6197):668–673, 2014.
* D. Attwell, S. B. Laughlin, "An energy budget for signaling in the grey matter of the brain",
  J. Cereb. Blood Flow Metab. 21:1133–1145, 2001; P. Lennie, "The cost of cortical
  computation", Curr. Biol. 13:493–497, 2003.
* R. Landauer, "Irreversibility and heat generation in the computing process",
  IBM J. Res. Dev. 5:183–191, 1961.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Literal

from scipy import constants

from .._validation import check_choice, check_nonnegative, check_positive

__all__ = [
    "ATP_HYDROLYSIS",
    "EnergyFigure",
    "FigureKind",
    "HardwareProfile",
    "HOROWITZ_45NM",
    "PROFILES",
    "ProfileMode",
    "get_profile",
    "landauer_limit_j",
]

FigureKind = Literal["measured", "estimated", "bound"]
ProfileMode = Literal["event", "dense"]
_KINDS = ("measured", "estimated", "bound")
_MODES = ("event", "dense")

PJ = 1e-12  # joules per picojoule


@dataclass(frozen=True)
class EnergyFigure:
    """One cited energy figure.

    Parameters
    ----------
    value_j : float
        Energy per event [J], finite and >= 0.
    unit_desc : str
        What one event is (``"per 32-bit floating-point add"``).
    source : str
        Citation (authors, venue, year, table) where the number comes from.
    kind : {"measured", "estimated", "bound"}
        How the number was obtained (see module docstring).
    note : str
        Conditions and caveats (process node, voltage, what is included).
    """

    value_j: float
    unit_desc: str
    source: str
    kind: FigureKind
    note: str = ""

    def __post_init__(self) -> None:
        check_nonnegative("value_j", self.value_j)
        check_choice("kind", self.kind, _KINDS)
        if not self.source.strip():
            raise ValueError("source must be a non-empty citation, got ''")
        if not self.unit_desc.strip():
            raise ValueError("unit_desc must describe the event, got ''")


def _sum(parts: tuple[tuple[float, EnergyFigure], ...], unit_desc: str, note: str) -> EnergyFigure:
    """A composite figure ``Σ multiplier × figure``; 'measured' only if all parts are."""
    value = sum(m * f.value_j for m, f in parts)
    kinds = {f.kind for _, f in parts}
    kind: FigureKind = "measured" if kinds == {"measured"} else "estimated"
    sources = "; ".join(dict.fromkeys(f.source for _, f in parts))
    recipe = " + ".join(f"{m:g} x {f.unit_desc} ({f.value_j / PJ:g} pJ)" for m, f in parts)
    return EnergyFigure(value, unit_desc, sources, kind, f"{recipe}. {note}".strip())


def landauer_limit_j(temperature_k: float = 300.0) -> float:
    r"""Landauer's bound :math:`k_B T \ln 2` [J] for erasing one bit at ``temperature_k`` [K].

    >>> round(landauer_limit_j(300.0) / 1e-21, 2)
    2.87
    """
    check_positive("temperature_k", temperature_k)
    return constants.k * temperature_k * math.log(2.0)


# ---------------------------------------------------------------------------------------------
# Primitive figures
# ---------------------------------------------------------------------------------------------
_HOROWITZ = "Horowitz, ISSCC 2014, 'Computing's energy problem', 45 nm energy table"
_HOROWITZ_NOTE = "45 nm CMOS at 0.9 V; table values from process/design data, not one chip."

HOROWITZ_45NM: Mapping[str, EnergyFigure] = MappingProxyType(
    {
        "fp32_add": EnergyFigure(
            0.9 * PJ, "32-bit floating-point add", _HOROWITZ, "estimated", _HOROWITZ_NOTE
        ),
        "fp32_mult": EnergyFigure(
            3.7 * PJ, "32-bit floating-point multiply", _HOROWITZ, "estimated", _HOROWITZ_NOTE
        ),
        "fp32_mac": EnergyFigure(
            4.6 * PJ,
            "32-bit floating-point multiply-accumulate",
            _HOROWITZ,
            "estimated",
            "fp32 mult 3.7 pJ + fp32 add 0.9 pJ. " + _HOROWITZ_NOTE,
        ),
        "int32_add": EnergyFigure(
            0.1 * PJ, "32-bit integer add", _HOROWITZ, "estimated", _HOROWITZ_NOTE
        ),
        "int32_mult": EnergyFigure(
            3.1 * PJ, "32-bit integer multiply", _HOROWITZ, "estimated", _HOROWITZ_NOTE
        ),
        "sram_8kb_64bit": EnergyFigure(
            10.0 * PJ, "64-bit read from an 8 KB SRAM cache", _HOROWITZ, "estimated", _HOROWITZ_NOTE
        ),
        "sram_32bit": EnergyFigure(
            5.0 * PJ,
            "32-bit read from an 8 KB SRAM cache",
            _HOROWITZ + "; Han et al., NeurIPS 2015, Table 1",
            "estimated",
            "Half the 64-bit 8 KB cache access (10 pJ); Han et al. tabulate 5 pJ. "
            + _HOROWITZ_NOTE,
        ),
        "dram_32bit": EnergyFigure(
            640.0 * PJ,
            "32-bit DRAM access",
            "Han et al., NeurIPS 2015, Table 1 (after Horowitz, ISSCC 2014)",
            "estimated",
            "Horowitz gives 1.3-2.6 nJ per 64-bit DRAM access; 640 pJ per 32 bits is Han et "
            "al.'s reading of it.",
        ),
    }
)

ATP_HYDROLYSIS = EnergyFigure(
    30.5e3 / constants.Avogadro,
    "hydrolysis of one ATP molecule (ATP -> ADP + Pi)",
    "Standard free energy of ATP hydrolysis, dG0' = -30.5 kJ/mol (biochemistry textbooks, "
    "e.g. Berg, Tymoczko & Stryer, Biochemistry); divided by N_A (scipy.constants)",
    "measured",
    "Standard conditions (~5.06e-20 J). Under cytosolic conditions |dG| is ~50-60 kJ/mol, so "
    "biological energies here may be low by a factor ~1.6-2.",
)

_ATTWELL = "Attwell & Laughlin, J. Cereb. Blood Flow Metab. 21:1133 (2001)"
_ATP_PER_ACTION_POTENTIAL = 3.84e8  # ATP per action potential, rodent cortical neuron (A&L 2001)
_ATP_PER_VESICLE = 1.64e5  # ATP per vesicle released: postsynaptic ions, presynaptic Ca, recycling
_RELEASE_PROBABILITY = 0.25  # vesicle release probability per spike per synapse used by A&L 2001

_BIO_SPIKE = EnergyFigure(
    _ATP_PER_ACTION_POTENTIAL * ATP_HYDROLYSIS.value_j,
    "action potential of one cortical neuron (axon + soma + dendrites)",
    _ATTWELL + "; ATP energy as ATP_HYDROLYSIS",
    "estimated",
    "3.84e8 ATP per spike (rodent neocortex, squid-axon Na+/K+ overlap; later mammalian "
    "measurements give ~3-4x less, Alle et al. 2009) x 5.06e-20 J per ATP. Lennie (2003) "
    "extends the budget to human cortex.",
)

_BIO_SYNOP = EnergyFigure(
    _RELEASE_PROBABILITY * _ATP_PER_VESICLE * ATP_HYDROLYSIS.value_j,
    "presynaptic spike arriving at one synapse (release with p = 0.25)",
    _ATTWELL + "; ATP energy as ATP_HYDROLYSIS",
    "estimated",
    "1.64e5 ATP per vesicle released (mostly pumping out postsynaptic Na+) x release "
    "probability 0.25 = 4.1e4 ATP per synaptic event, x 5.06e-20 J per ATP.",
)


@dataclass(frozen=True)
class HardwareProfile:
    """What each kind of event costs on one substrate (all figures [J] per event).

    Parameters
    ----------
    name : str
        Registry key.
    description : str
        One line: the substrate and the cost model.
    mode : {"event", "dense"}
        ``"event"`` charges activity (SynOps, spikes, updates); ``"dense"`` charges every MAC of
        the equivalent dense network.
    synop : EnergyFigure or None
        Per synaptic event (one spike delivered over one synapse). Required for ``"event"``.
    mac : EnergyFigure or None
        Per multiply–accumulate. Required for ``"dense"``.
    memory_access : EnergyFigure or None
        Per weight fetch, charged once per SynOp (event) or per MAC (dense).
    spike : EnergyFigure or None
        Per spike entering a projection (routing / axon).
    neuron_update : EnergyFigure or None
        Per neuron per time step (state integration).
    weight_update : EnergyFigure or None
        Per plastic synapse update.
    """

    name: str
    description: str
    mode: ProfileMode
    synop: EnergyFigure | None = None
    mac: EnergyFigure | None = None
    memory_access: EnergyFigure | None = None
    spike: EnergyFigure | None = None
    neuron_update: EnergyFigure | None = None
    weight_update: EnergyFigure | None = None

    def __post_init__(self) -> None:
        check_choice("mode", self.mode, _MODES)
        if self.mode == "event" and self.synop is None:
            raise ValueError(f"profile {self.name!r}: mode 'event' needs a synop figure")
        if self.mode == "dense" and self.mac is None:
            raise ValueError(f"profile {self.name!r}: mode 'dense' needs a mac figure")
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name not in ("name", "description", "mode") and value is not None:
                if not isinstance(value, EnergyFigure):
                    raise ValueError(f"{f.name} must be an EnergyFigure or None, got {value!r}")

    def figures(self) -> dict[str, EnergyFigure]:
        """The figures that are set, by field name."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, EnergyFigure):
                out[f.name] = value
        return out

    def _j(self, name: str) -> float:
        fig = getattr(self, name)
        return 0.0 if fig is None else fig.value_j

    @property
    def e_syn_j(self) -> float:
        """Effective energy per synaptic event [J]: ``synop + memory_access`` (event mode)."""
        return self._j("synop") + self._j("memory_access")

    @property
    def e_mac_j(self) -> float:
        """Effective energy per MAC [J]: ``mac + memory_access`` (dense mode)."""
        return self._j("mac") + self._j("memory_access")

    @property
    def e_spike_j(self) -> float:
        return self._j("spike")

    @property
    def e_neuron_update_j(self) -> float:
        return self._j("neuron_update")

    @property
    def e_weight_update_j(self) -> float:
        return self._j("weight_update")


# ---------------------------------------------------------------------------------------------
# Profiles
# ---------------------------------------------------------------------------------------------
_H = HOROWITZ_45NM

_CMOS45 = HardwareProfile(
    name="cmos45",
    description="Event-driven SNN on 45 nm digital CMOS: one fp32 add + one SRAM weight read "
    "per SynOp",
    mode="event",
    synop=_H["fp32_add"],
    memory_access=_H["sram_32bit"],
    neuron_update=_sum(
        ((1, _H["fp32_mac"]),),
        "neuron state update per time step (leak multiply + input add)",
        "State held in registers; threshold compare neglected.",
    ),
    weight_update=_sum(
        ((1, _H["fp32_mac"]), (2, _H["sram_32bit"])),
        "plastic synapse update (w += eta x trace; read + write weight)",
        "Trace bookkeeping neglected.",
    ),
)

_CMOS45_ANN = HardwareProfile(
    name="cmos45_ann",
    description="Dense ANN on 45 nm digital CMOS: one fp32 MAC + one SRAM weight read per MAC",
    mode="dense",
    mac=_H["fp32_mac"],
    memory_access=_H["sram_32bit"],
)

_CMOS45_ANN_DRAM = HardwareProfile(
    name="cmos45_ann_dram",
    description="Dense ANN on 45 nm CMOS, weights streamed from DRAM: fp32 MAC + 32-bit DRAM "
    "read per MAC (no reuse)",
    mode="dense",
    mac=_H["fp32_mac"],
    memory_access=_H["dram_32bit"],
)

_DAVIES = "Davies et al., IEEE Micro 38(1):82 (2018), Table 1"
_LOIHI_NOTE = "Loihi, 14 nm; pre-silicon circuit-simulation figures as reported."
_LOIHI = HardwareProfile(
    name="loihi",
    description="Intel Loihi (14 nm): energy per synaptic op, spike, neuron and learning update",
    mode="event",
    synop=EnergyFigure(
        23.6 * PJ, "synaptic spike operation (minimum)", _DAVIES, "estimated", _LOIHI_NOTE
    ),
    spike=EnergyFigure(
        1.7 * PJ,
        "spike message within a tile",
        _DAVIES,
        "estimated",
        _LOIHI_NOTE + " Across tiles add 3.5 pJ per hop.",
    ),
    neuron_update=EnergyFigure(
        52.0 * PJ,
        "neuron update per time step (inactive neuron)",
        _DAVIES,
        "estimated",
        _LOIHI_NOTE + " 81 pJ for an active neuron; 52 pJ is the floor.",
    ),
    weight_update=EnergyFigure(
        120.0 * PJ, "synaptic update (on-chip learning)", _DAVIES, "estimated", _LOIHI_NOTE
    ),
)

_TRUENORTH = HardwareProfile(
    name="truenorth",
    description="IBM TrueNorth (28 nm): total energy per synaptic event at its operating point",
    mode="event",
    synop=EnergyFigure(
        26.0 * PJ,
        "synaptic event (total chip energy / events)",
        "Merolla et al., Science 345(6197):668 (2014)",
        "measured",
        "Measured on the chip at 0.775 V, typical 65-72 mW; includes static power, neuron updates "
        "and routing, so no other component is charged.",
    ),
)

_BIOLOGY = HardwareProfile(
    name="biology",
    description="Rodent neocortex (Attwell & Laughlin 2001): ATP per spike and per synaptic event",
    mode="event",
    synop=_BIO_SYNOP,
    spike=_BIO_SPIKE,
)

_LANDAUER = HardwareProfile(
    name="landauer",
    description="Landauer bound k_B T ln 2 at 300 K: one irreversible bit erasure per SynOp",
    mode="event",
    synop=EnergyFigure(
        landauer_limit_j(300.0),
        "erasure of one bit at 300 K",
        "Landauer, IBM J. Res. Dev. 5:183 (1961); k_B from scipy.constants (CODATA)",
        "bound",
        "Lower limit for an irreversible operation that erases one bit; counting one erased bit "
        "per synaptic event is a modelling choice, not a theorem about SynOps.",
    ),
)

PROFILES: Mapping[str, HardwareProfile] = MappingProxyType(
    {
        p.name: p
        for p in (
            _CMOS45,
            _CMOS45_ANN,
            _CMOS45_ANN_DRAM,
            _LOIHI,
            _TRUENORTH,
            _BIOLOGY,
            _LANDAUER,
        )
    }
)


def get_profile(name: str) -> HardwareProfile:
    """The registered profile ``name``; ``ValueError`` listing the known names otherwise."""
    try:
        return PROFILES[name]
    except (KeyError, TypeError):
        known = ", ".join(sorted(PROFILES))
        raise ValueError(f"unknown energy profile {name!r}; known profiles: {known}") from None
