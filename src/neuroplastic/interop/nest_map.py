r"""Parameter mapping from the simulator's models to NEST's (pure functions, no NEST import).

**LIF** (:class:`~neuroplastic.neurons.LIFParams`, analog substrate) -> ``iaf_psc_exp`` (one
channel, or two channels of opposite sign: excitatory -> ``tau_syn_ex``, inhibitory ->
``tau_syn_in``) or ``iaf_psc_exp_multisynapse`` (any channels, receptor ``channel + 1``). Units:
NEST uses pA and pF; our currents are nA and the resistance MΩ, so ``C_m = 1000 tau_m / R`` pF,
weights and currents ×1000. Both integrate the sub-threshold system exactly over the step, the
membrane with the synaptic current of the start of the step, and add arriving spikes to the
current at the end of the step, so the update maps one to one. Differences, stated:

* threshold: ours spikes when ``v > v_thresh``, NEST when ``V_m >= V_th`` (equal only on a
  measure-zero set of exact hits);
* refractoriness: we freeze the membrane for ``round(t_ref/dt) - 1`` steps after the spike step
  (Brian2's ``(unless refractory)``), NEST for ``t_ref/h`` steps, so NEST gets
  ``t_ref = max(round(t_ref/dt) - 1, 0) * dt`` and both freeze the same steps;
* delays: a spike of step ``s`` over a delay of ``d`` steps reaches the current at the end of step
  ``s + d`` in both; NEST's smallest delay is one step, so a zero delay is refused unless
  ``zero_delay="one_step"`` accepts it as one step (then every hop is one step later).

Refused (``NotImplementedError`` naming the feature): the digital substrate, membrane noise, an
adaptive threshold, the subtractive reset, several trials (``batch > 1``).

**Pair STDP** (:class:`~neuroplastic.plasticity.STDPParams`) -> ``stdp_synapse``
(``pairing='all'``) or ``stdp_nn_symm_synapse`` (``'nearest'``). NEST's rule pairs the
presynaptic spike time with the postsynaptic one *plus the dendritic delay* (the whole synaptic
delay, at least one step ``h``), while ours pairs the spike steps: NEST sees
:math:`\Delta t + h`. For exponential windows this is an exact rescaling of the amplitudes:
with :math:`W(\Delta t > 0) = a_c e^{-\Delta t/\tau_c}` and :math:`W(\Delta t < 0) = a_a
e^{\Delta t/\tau_a}` (:class:`~neuroplastic.plasticity.stdp_windows.TraceForm`),

.. math::

    \lambda = \eta\,a_c\,e^{h/\tau_c} / W_\max^{(1-\mu)},\qquad
    \alpha = -\frac{a_a}{a_c}\,e^{-h/\tau_a - h/\tau_c},\qquad
    \mu_\pm = 0\ (\text{additive}),\ 1\ (\text{multiplicative}),

``Wmax = w_max``, ``tau_plus = tau_c`` and the postsynaptic neuron's ``tau_minus = tau_a``. NEST
counts a coincident pair (same step) as causal, i.e. :math:`W(0) = a_c`: the window must have
``at_zero='causal'``. Learned weights then agree to rounding (tested to 1e-9) except in two
cases, stated: a post spike exactly one step before a pre spike falls on NEST's
:math:`\Delta t = 0` and is paired with neither side by NEST (ours: :math:`a_a e^{-h/\tau_a}`);
and where a pre and a post spike fall in the same step and a bound is hit, NEST clips after each
update, ours once after the step's sum. ``stdp_nn_symm_synapse`` moreover pairs the post
spikes that precede a synapse's first pre spike with a virtual pre spike at :math:`t = 0` (its
initial last-spike time); ours pairs them with nothing. NEST also transmits a spike with the
weight updated by that spike, ours with the weight of the start of the step.
Required: plastic delays of at most one step, ``w_min = 0`` (NEST's weights are non-negative)
and a finite ``w_max``, ``a_c > 0``, no ``norm_target``.

**Triplet STDP** (:class:`~neuroplastic.plasticity.TripletParams`, all-to-all) ->
``stdp_triplet_synapse`` (:func:`map_triplet_stdp`), for recorded spike protocols
(:func:`neuroplastic.interop.nest.run_triplet_stdp`; the simulator's in-loop plasticity is
pair STDP).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "DopamineSTDPMapping",
    "TripletSTDPMapping",
    "LIFMapping",
    "STDPMapping",
    "map_daspnet_stdp",
    "map_dopamine_stdp",
    "map_lif",
    "map_stdp",
    "map_triplet_stdp",
    "nest_delay_steps",
    "synapse_layout",
]


@dataclass(frozen=True)
class LIFMapping:
    """NEST model and status of one LIF population (arrays hold one value per neuron)."""

    model: str
    params: dict[str, Any]
    receptor: dict[int, int]  # our channel -> NEST receptor_type
    channel_names: tuple[str, ...]  # NEST recordable of each of our channels


def map_lif(
    name: str,
    params: Any,
    substrate: Any,
    n: int,
    dt_ms: float,
    *,
    channel_signs: dict[int, int],
    tau_m: np.ndarray | None = None,
    v_thresh: np.ndarray | None = None,
) -> LIFMapping:
    """NEST ``iaf_psc_exp`` / ``iaf_psc_exp_multisynapse`` status of a LIF population.

    ``channel_signs``: for each channel that receives projections, +1 (all weights >= 0), -1
    (all <= 0) or 0 (mixed). ``tau_m``/``v_thresh``: realized per-neuron values (mismatch)."""
    from ..neurons.lif import Analog

    if not isinstance(substrate, Analog):
        raise NotImplementedError(
            f"population {name!r}: the Digital (fixed-point) substrate has no NEST model"
        )
    if substrate.noise_sigma_mv > 0:
        raise NotImplementedError(
            f"population {name!r}: thermal membrane noise (Analog.noise_sigma_mv > 0) has no "
            "equivalent in iaf_psc_exp"
        )
    if params.theta_plus_mv > 0:
        raise NotImplementedError(
            f"population {name!r}: the adaptive threshold (theta_plus_mv > 0) has no "
            "equivalent in iaf_psc_exp"
        )
    if params.reset_mode != "hard":
        raise NotImplementedError(
            f"population {name!r}: reset_mode={params.reset_mode!r} (iaf_psc_exp resets to "
            "V_reset)"
        )
    taus = params.tau_syn_ms
    tm = np.full(n, params.tau_mem_ms) if tau_m is None else np.asarray(tau_m, dtype=float)
    vt = np.full(n, params.v_thresh_mv) if v_thresh is None else np.asarray(v_thresh, float)
    ref_steps = int(round(params.t_ref_ms / dt_ms))
    common = {
        "C_m": 1000.0 * tm / params.r_mohm,
        "tau_m": tm,
        "E_L": params.v_rest_mv,
        "V_reset": params.v_reset_mv,
        "V_th": vt,
        "t_ref": max(ref_steps - 1, 0) * dt_ms,
        "I_e": 0.0,
    }
    layout = synapse_layout(len(taus), channel_signs)
    if layout is None:
        rec = {c: c + 1 for c in range(len(taus))}
        common["tau_syn"] = list(taus)
        names = tuple(f"I_syn_{c + 1}" for c in range(len(taus)))
        return LIFMapping("iaf_psc_exp_multisynapse", common, rec, names)
    ex, inh = layout
    common["tau_syn_ex"] = taus[ex]
    common["tau_syn_in"] = taus[inh]
    names = tuple("I_syn_ex" if c == ex else "I_syn_in" for c in range(len(taus)))
    return LIFMapping("iaf_psc_exp", common, {c: 0 for c in range(len(taus))}, names)


def synapse_layout(n_channels: int, channel_signs: dict[int, int]) -> tuple[int, int] | None:
    """``(excitatory channel, inhibitory channel)`` when ``iaf_psc_exp`` (which sorts spikes
    by the sign of their weight) can hold the channels, else ``None`` (multisynapse)."""
    if n_channels == 1:
        return 0, 0
    if n_channels != 2:
        return None
    s0, s1 = channel_signs.get(0, 2), channel_signs.get(1, 2)  # 2: unused, either sign fits
    if s0 in (1, 2) and s1 in (-1, 2):
        return 0, 1
    if s0 in (-1, 2) and s1 in (1, 2):
        return 1, 0
    return None


def nest_delay_steps(name: str, steps: np.ndarray, zero_delay: str) -> np.ndarray:
    """Delays in NEST steps: zero delays refused or (``zero_delay="one_step"``) made one."""
    steps = np.asarray(steps, dtype=np.int64)
    if steps.size and steps.min() == 0:
        if zero_delay != "one_step":
            raise NotImplementedError(
                f"projection {name!r}: zero synaptic delay (NEST's smallest delay is one "
                "resolution step); pass zero_delay='one_step' to accept a one-step delay"
            )
        steps = np.maximum(steps, 1)
    return steps


@dataclass(frozen=True)
class STDPMapping:
    """NEST synapse model and its parameters for one plastic projection."""

    model: str
    params: dict[str, float]
    tau_minus: float  # the postsynaptic neuron's tau_minus


def map_stdp(name: str, params: Any, dt_ms: float, delay_steps: np.ndarray) -> STDPMapping:
    """``stdp_synapse`` / ``stdp_nn_symm_synapse`` parameters equal to ``params`` (see the
    module docstring); refuses what NEST cannot express."""
    form = params.window.trace_form()
    if form is None:
        raise NotImplementedError(
            f"projection {name!r}: STDP window {type(params.window).__name__} has no trace "
            "form; NEST's STDP synapses are exponential"
        )
    if params.norm_target is not None:
        raise NotImplementedError(f"projection {name!r}: STDP norm_target (NEST has none)")
    if params.w_min != 0.0:
        raise NotImplementedError(
            f"projection {name!r}: STDP w_min={params.w_min!r}; NEST's stdp_synapse bounds "
            "weights below by 0"
        )
    if not math.isfinite(params.w_max):
        raise NotImplementedError(f"projection {name!r}: STDP needs a finite w_max (Wmax)")
    if not form.a_causal > 0:
        raise NotImplementedError(
            f"projection {name!r}: STDP causal amplitude {form.a_causal!r} <= 0 (NEST's "
            "lambda must be positive)"
        )
    if form.w_zero != form.a_causal:
        raise NotImplementedError(
            f"projection {name!r}: STDP window value at zero lag W(0)={form.w_zero!r}; NEST "
            "pairs coincident spikes as causal (use at_zero='causal')"
        )
    d = np.asarray(delay_steps)
    if d.size and d.max() > 1:
        raise NotImplementedError(
            f"projection {name!r}: plastic synapses with delays over one step (NEST pairs "
            "spikes across the dendritic delay, our rule ignores delays)"
        )
    h = dt_ms
    mult = params.update == "multiplicative"
    lam = params.learning_rate * form.a_causal * math.exp(h / form.tau_causal_ms)
    if not mult:
        lam /= params.w_max
    alpha = -form.a_acausal / form.a_causal * math.exp(
        -h / form.tau_acausal_ms - h / form.tau_causal_ms
    )
    model = "stdp_synapse" if params.pairing == "all" else "stdp_nn_symm_synapse"
    mu = 1.0 if mult else 0.0
    prm = {"lambda": lam, "alpha": alpha, "mu_plus": mu, "mu_minus": mu,
           "Wmax": float(params.w_max), "tau_plus": float(form.tau_causal_ms)}
    return STDPMapping(model, prm, float(form.tau_acausal_ms))


# ------------------------------------------------------------------ triplet STDP
@dataclass(frozen=True)
class TripletSTDPMapping:
    """``stdp_triplet_synapse`` parameters and its postsynaptic neuron's two trace time
    constants for one triplet rule."""

    params: dict[str, float]
    post: dict[str, float]  # tau_minus (o1), tau_minus_triplet (o2) of the post neuron


def map_triplet_stdp(name: str, params: Any) -> TripletSTDPMapping:
    r"""``stdp_triplet_synapse`` parameters of :class:`~neuroplastic.plasticity.TripletParams`
    (Pfister & Gerstner 2006, the all-to-all form in both).

    NEST keeps the presynaptic traces on the synapse (``Kplus`` :math:`= r_1`, ``tau_plus``;
    ``Kplus_triplet`` :math:`= r_2`, ``tau_plus_triplet`` :math:`= \tau_x`) and the
    postsynaptic ones on the neuron (``tau_minus`` :math:`= \tau_-`, ``tau_minus_triplet``
    :math:`= \tau_y`); amplitudes ``Aplus``, ``Aplus_triplet``, ``Aminus``, ``Aminus_triplet``
    are :math:`\eta A_2^+, \eta A_3^+, \eta A_2^-, \eta A_3^-`. Both read each trace before
    the spike's own increment, so coincident spikes do not interact; ``Wmax = w_max``.
    Refused: ``pairing='nearest'`` (NEST's traces always jump by 1), ``w_min != 0`` (NEST
    bounds weights below by 0), an infinite ``w_max``."""
    if params.pairing != "all":
        raise NotImplementedError(
            f"projection {name!r}: triplet STDP pairing {params.pairing!r} (NEST's "
            "stdp_triplet_synapse is all-to-all: its traces jump by 1)"
        )
    if params.w_min != 0.0:
        raise NotImplementedError(
            f"projection {name!r}: triplet STDP w_min={params.w_min!r}; NEST's "
            "stdp_triplet_synapse bounds weights below by 0"
        )
    if not math.isfinite(params.w_max):
        raise NotImplementedError(
            f"projection {name!r}: triplet STDP needs a finite w_max (Wmax)")
    eta = params.learning_rate
    prm = {
        "Aplus": eta * params.a2_plus, "Aplus_triplet": eta * params.a3_plus,
        "Aminus": eta * params.a2_minus, "Aminus_triplet": eta * params.a3_minus,
        "tau_plus": float(params.tau_plus_ms), "tau_plus_triplet": float(params.tau_x_ms),
        "Wmax": float(params.w_max),
    }
    post = {"tau_minus": float(params.tau_minus_ms),
            "tau_minus_triplet": float(params.tau_y_ms)}
    return TripletSTDPMapping(prm, post)


# ------------------------------------------------------------------ dopamine-modulated STDP
@dataclass(frozen=True)
class DopamineSTDPMapping:
    """``stdp_dopamine_synapse`` common properties for one three-factor rule.

    ``scale``: NEST's eligibility ``c`` is ``scale`` times ours (``eta * release * tau_n``),
    NEST's dopamine ``n`` is our modulator excess over its baseline divided by
    ``release * tau_n``."""

    params: dict[str, float]
    tau_minus: float  # the postsynaptic neuron's tau_minus
    scale: float


def map_dopamine_stdp(name: str, params: Any, dopamine: Any, dt_ms: float, *,
                      lag_steps: int = 1) -> DopamineSTDPMapping:
    r"""``stdp_dopamine_synapse`` parameters of the package's three-factor rule
    (:class:`~neuroplastic.plasticity.ThreeFactorParams`, ``coincidence="stdp"``) gated by a
    broadcast dopamine signal (:class:`~neuroplastic.neuromodulation.DopamineParams`), with
    dopamine spikes delivered through a ``volume_transmitter``.

    Ours: :math:`de/dt = -e/\tau_e + C(t)`, :math:`dw/dt = \eta M(t) e`,
    :math:`M = M_b + A\sum_k e^{-(t-t_k)/\tau_{DA}}` (``release`` :math:`A`, ``baseline``
    :math:`M_b`). NEST (Potjans et al. 2010): :math:`dc/dt = -c/\tau_c + C_N(t)`,
    :math:`dw/dt = c\,(n - b)`, :math:`n` jumps by :math:`1/\tau_n` per dopamine spike and
    decays with :math:`\tau_n`. Both integrate the weight exactly between events (ours:
    :func:`~neuroplastic.plasticity.three_factor.event_advance`; NEST's ``update_weight_``, the
    same closed form) and clip at events. The map: :math:`\tau_c = \tau_e`,
    :math:`\tau_n = \tau_{DA}`, :math:`c = \kappa e` with :math:`\kappa = \eta A \tau_n`, then
    :math:`n = (M - M_b)/(A\tau_n)` and :math:`b = -M_b/(A\tau_n)`; ``Wmin``/``Wmax`` =
    ``w_min``/``w_max``; ``tau_plus`` :math:`=\tau_+`, the post neuron's ``tau_minus``
    :math:`=\tau_-`. Both pair all-to-all with traces that jump by 1.

    Pairing: NEST sees a postsynaptic spike ``lag_steps`` steps after our rule does (its
    dendritic delay, minus any lead given to the post spikes).

    * ``lag_steps=0`` (the post spike reaches the synapse in its own step, e.g. a recorded
      protocol whose post train is fed one step early to cancel NEST's one-step delay):
      :math:`A_\pm = \kappa a_\pm`; then every pair, a coincident one (nothing in both) and a
      post spike one step before a pre spike included, and the weight between events coincide:
      equal to rounding.
    * ``lag_steps=1`` (a network with one-step delays): :math:`A_+ = \kappa a_+
      e^{h/\tau_+} e^{-h/\tau_c}`, :math:`A_- = \kappa a_- e^{-h/\tau_-}`, so that a causal
      pair leaves the same eligibility from one step after the post spike on, and an acausal
      one the same at once, for lags of two steps or more. Stated differences: NEST adds a
      causal pair's eligibility one step after ours (the weight misses that step's
      :math:`\eta M\,\Delta e\,h`); a pair in the same step counts nothing in ours and a
      causal :math:`\kappa a_+ e^{-h/\tau_c}` in NEST; a post spike one step before a pre spike
      counts :math:`-a_- e^{-h/\tau_-}` in ours and nothing in NEST.

    Refused (``NotImplementedError``): the ``"hebb"`` coincidence, ``eta * release <= 0``,
    a lag over one step (NEST's delay is dendritic: it shifts the pairing window, our rule pairs
    the spike steps).
    """
    if params.coincidence != "stdp":
        raise NotImplementedError(
            f"projection {name!r}: three-factor coincidence {params.coincidence!r} (NEST's "
            "stdp_dopamine_synapse builds its eligibility from spike pairs only)"
        )
    kappa = params.eta * dopamine.release * dopamine.tau_ms
    if not kappa > 0:
        raise NotImplementedError(
            f"projection {name!r}: eta * dopamine release = {params.eta * dopamine.release!r} "
            "<= 0 (NEST's dopamine spikes always raise n by 1/tau_n)"
        )
    if lag_steps not in (0, 1):
        raise NotImplementedError(
            f"projection {name!r}: dopamine-modulated STDP with delays over one step (NEST's "
            "delay is dendritic: it shifts the pairing window, our rule pairs the spike steps)"
        )
    h = dt_ms * lag_steps
    prm = {
        "A_plus": kappa * params.a_plus * math.exp(h / params.tau_plus_ms - h / params.tau_e_ms),
        "A_minus": kappa * params.a_minus * math.exp(-h / params.tau_minus_ms),
        "tau_plus": float(params.tau_plus_ms),
        "tau_c": float(params.tau_e_ms),
        "tau_n": float(dopamine.tau_ms),
        "b": -dopamine.baseline / (dopamine.release * dopamine.tau_ms),
        "Wmin": max(float(params.w_min), -1e300),
        "Wmax": min(float(params.w_max), 1e300),
    }
    return DopamineSTDPMapping(prm, float(params.tau_minus_ms), kappa)


# Izhikevich (2007) daspnet.m: the per-step constants of experiments.distal_reward's kernel
DASPNET_TRACE_DECAY = 0.95  # STDP trace x 0.95 per ms, set to 0.1 at a spike
DASPNET_LTP, DASPNET_LTD = 0.1, 0.15  # +x_pre at a post spike, -1.5 x_post at a pre arrival
DASPNET_ELIG_DECAY = 0.99  # eligibility x 0.99 per 10 ms
DASPNET_DA_DECAY = 0.995  # dopamine x 0.995 per ms
DASPNET_DA_TONIC = 0.002  # weight step every 10 ms: (0.002 + DA) * c


def map_daspnet_stdp(w_max: float, da_release: float) -> DopamineSTDPMapping:
    r"""``stdp_dopamine_synapse`` parameters of the distal-reward kernel
    (:mod:`neuroplastic.kernels.izhikevich_numba`, ``daspnet.m``; time step 1 ms, delay 1 ms).

    Kernel: every 10 ms :math:`s \mathrel{+}= (0.002 + DA)\,c` then :math:`c \mathrel{*}=
    0.99`; :math:`DA \mathrel{*}= 0.995` per ms, :math:`+A` (``da_release``) per reward; a post
    spike adds the presynaptic trace at the spike's arrival (0.1 at the spike, ×0.95 per ms), the
    arrival of a pre spike subtracts 1.5× the postsynaptic trace. Continuous-time equivalent:
    :math:`\tau_+ = \tau_- = -1/\ln 0.95` ms, :math:`\tau_c = -10/\ln 0.99` ms,
    :math:`\tau_n = -1/\ln 0.995` ms, :math:`dw/dt = (0.002 + DA)\,c/10\,\mathrm{ms}`, so
    :math:`\kappa = A\tau_n/10`, :math:`b = -0.002/(A\tau_n)`. Pair window, lag
    :math:`\Delta` = post step − pre step: kernel :math:`0.1\cdot0.95^{\Delta-1}`
    (:math:`\Delta\ge1`), :math:`-0.15\cdot0.95^{|\Delta|}` (:math:`\Delta\le0`); NEST with a
    1 ms dendritic delay :math:`A_+e^{-(\Delta+1)/\tau_+}` (:math:`\Delta\ge0`),
    :math:`-A_-e^{-(|\Delta|-1)/\tau_-}` (:math:`\Delta\le-2`), nothing at :math:`\Delta=-1`;
    :math:`A_+ = 0.1\kappa/0.95^2`, :math:`A_- = 0.15\kappa\cdot0.95` make them equal for
    :math:`|\Delta|\ge2` and for :math:`\Delta = 1`. Stated differences: the lags 0 and −1; the
    kernel's traces are *set* to 0.1 (only the latest spike pairs), NEST's add (all-to-all);
    the kernel moves weights in 10 ms Euler steps, NEST integrates exactly."""
    tau = -1.0 / math.log(DASPNET_TRACE_DECAY)
    tau_n = -1.0 / math.log(DASPNET_DA_DECAY)
    kappa = da_release * tau_n / 10.0
    if not kappa > 0:
        raise NotImplementedError("distal reward on NEST: da_release must be > 0 (NEST's "
                                  "dopamine spikes always raise n by 1/tau_n)")
    q = DASPNET_TRACE_DECAY
    prm = {
        "A_plus": kappa * DASPNET_LTP / q**2,
        "A_minus": kappa * DASPNET_LTD * q,
        "tau_plus": tau,
        "tau_c": -10.0 / math.log(DASPNET_ELIG_DECAY),
        "tau_n": tau_n,
        "b": -DASPNET_DA_TONIC / (da_release * tau_n),
        "Wmin": 0.0,
        "Wmax": float(w_max),
    }
    return DopamineSTDPMapping(prm, tau, kappa)
