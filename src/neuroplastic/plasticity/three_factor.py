r"""Three-factor learning: a two-factor coincidence tags an eligibility trace, a modulator
turns the tag into a weight change.

.. math::

    \frac{de_{ij}}{dt} = -\frac{e_{ij}}{\tau_e} + C_{ij}(t), \qquad
    \frac{dw_{ij}}{dt} = \eta\, M_{ij}(t)\, e_{ij}(t),

where :math:`C_{ij}` is a coincidence of pre- and postsynaptic activity and :math:`M_{ij}` the
modulator concentration *at that synapse* (a broadcast dopamine level, a reward-prediction or
TD error, or a spatially diffusing signal; see :mod:`neuroplastic.neuromodulation`). The
modulator is always an explicit argument.

Coincidences (``ThreeFactorParams.coincidence``)

* ``"stdp"`` — pair STDP with nearest-spike-free (all-to-all) exponential traces:
  a post spike adds :math:`A_+ x^\mathrm{pre}_j`, a pre spike adds :math:`-A_- x^\mathrm{post}_i`
  (R-STDP; Izhikevich 2007, Florian 2007, Frémaux & Gerstner 2016);
* ``"hebb"`` — the product :math:`C_{ij} = y_i x_j` of post and pre activity each step
  (reward-modulated Hebb, Loewenstein & Seung 2006 style).

A TD-error-modulated rule is the same rule with :math:`M = \delta`
(:func:`td_three_factor_step`).

Two ways of integrating
    *Clock-driven* (:func:`three_factor_step`): traces and eligibility decay exactly over a
    step, the weight moves by :math:`\eta M e\,\Delta t` (Euler in the weight only).

    *Event-driven, exact* (:func:`event_advance`): between events the eligibility is
    :math:`e(t_0)e^{-(t-t_0)/\tau_e}` and the modulator :math:`M_b + L e^{-(t-t_m)/\tau_M}`, so
    the weight integral has the closed form (:func:`eligibility_integral`)

    .. math::

        \int_0^T e_0 e^{-s/\tau_e}\big(M_b + m_0 e^{-s/\tau_M}\big)\,ds
        = e_0\big[M_b\,\tau_e(1-e^{-T/\tau_e}) + m_0\,\tau_\star(1-e^{-T/\tau_\star})\big],
        \quad \tau_\star = \frac{\tau_e\tau_M}{\tau_e+\tau_M}.

    Synapses are only touched at their own coincidences and at modulator release events; the
    result equals the continuous-time solution to rounding error (weight bounds are applied at
    those events).

Shapes: weights and eligibility ``(B, n_post, n_pre)`` (or ``(n_post, n_pre)``), spikes /
activities ``(B, n)``; the modulator broadcasts against the weights (scalar, ``(B, 1, 1)``
global per trial, or ``(n_post, n_pre)`` per synapse). Times in ms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
from torch import Tensor

from .._validation import (
    check_choice,
    check_finite,
    check_less,
    check_nonnegative,
    check_positive,
)

__all__ = [
    "COINCIDENCES",
    "EligibilityState",
    "ThreeFactorParams",
    "coincidence_step",
    "eligibility_integral",
    "eligibility_step",
    "event_advance",
    "init_eligibility_state",
    "modulated_update",
    "three_factor_step",
    "td_three_factor_step",
]

COINCIDENCES = ("stdp", "hebb")


@dataclass(frozen=True)
class ThreeFactorParams:
    """Parameters of a three-factor rule (eligibility trace gated by a modulator)."""

    eta: float = 1.0  # learning rate: weight per (modulator x eligibility x ms)
    tau_e_ms: float = 1000.0  # eligibility trace time constant
    coincidence: Literal["stdp", "hebb"] = "stdp"  # the two-factor term feeding the trace
    a_plus: float = 1.0  # STDP: potentiation amplitude (pre before post)
    a_minus: float = 1.0  # STDP: depression amplitude (post before pre), >= 0
    tau_plus_ms: float = 20.0  # STDP: presynaptic trace time constant
    tau_minus_ms: float = 20.0  # STDP: postsynaptic trace time constant
    w_min: float = -math.inf  # lower weight bound (hard clip)
    w_max: float = math.inf  # upper weight bound (hard clip)

    def __post_init__(self) -> None:
        check_finite("eta", self.eta)
        check_positive("tau_e_ms", self.tau_e_ms)
        check_choice("coincidence", self.coincidence, COINCIDENCES)
        check_nonnegative("a_plus", self.a_plus)
        check_nonnegative("a_minus", self.a_minus)
        check_positive("tau_plus_ms", self.tau_plus_ms)
        check_positive("tau_minus_ms", self.tau_minus_ms)
        for name in ("w_min", "w_max"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or math.isnan(v):
                raise ValueError(f"{name} must be a real number or +-inf, got {v!r}")
        check_less("w_min", self.w_min, "w_max", self.w_max)


class EligibilityState(NamedTuple):
    """Traces of a three-factor rule."""

    x_pre: Tensor  # (B, n_pre) presynaptic STDP trace
    x_post: Tensor  # (B, n_post) postsynaptic STDP trace
    e: Tensor  # (B, n_post, n_pre) eligibility


def init_eligibility_state(
    batch: int, n_pre: int, n_post: int, *, dtype: torch.dtype = torch.float64, device=None
) -> EligibilityState:
    """All traces at zero."""
    z = dict(dtype=dtype, device=device)
    return EligibilityState(
        torch.zeros(batch, n_pre, **z),
        torch.zeros(batch, n_post, **z),
        torch.zeros(batch, n_post, n_pre, **z),
    )


def coincidence_step(
    state: EligibilityState, pre: Tensor, post: Tensor, params: ThreeFactorParams, dt_ms: float
) -> tuple[EligibilityState, Tensor]:
    r"""Advance the STDP traces one step; return the coincidence :math:`C` ``(B, n_post, n_pre)``.

    ``"stdp"``: traces decay by :math:`e^{-\Delta t/\tau_\pm}`; then
    :math:`C = A_+\,y\otimes x^\mathrm{pre} - A_-\,x^\mathrm{post}\otimes s` using the traces
    *before* this step's spikes are added (so a simultaneous pair contributes nothing), then
    the traces jump by 1 at spikes. ``"hebb"``: :math:`C = y \otimes s` (any real activities).
    """
    dt = check_positive("dt_ms", dt_ms)
    pre = pre.to(state.e.dtype)
    post = post.to(state.e.dtype)
    if params.coincidence == "hebb":
        return state, post[..., :, None] * pre[..., None, :]
    x_pre = state.x_pre * math.exp(-dt / params.tau_plus_ms)
    x_post = state.x_post * math.exp(-dt / params.tau_minus_ms)
    c = params.a_plus * post[..., :, None] * x_pre[..., None, :]
    c = c - params.a_minus * x_post[..., :, None] * pre[..., None, :]
    return EligibilityState(x_pre + pre, x_post + post, state.e), c


def eligibility_step(e: Tensor, c: Tensor, params: ThreeFactorParams, dt_ms: float) -> Tensor:
    r"""Exact decay over one step plus the coincidence.

    :math:`e \leftarrow e\,e^{-\Delta t/\tau_e} + C`.
    """
    return e * math.exp(-check_positive("dt_ms", dt_ms) / params.tau_e_ms) + c


def modulated_update(
    w: Tensor, e: Tensor, modulator: Tensor | float, params: ThreeFactorParams, dt_ms: float
) -> Tensor:
    r"""Weight step :math:`w \leftarrow \mathrm{clip}(w + \eta\,M\,e\,\Delta t)`.

    ``modulator`` is the concentration at each synapse (broadcast against ``w``).
    """
    dt = check_positive("dt_ms", dt_ms)
    w = w + params.eta * dt * torch.as_tensor(modulator, dtype=e.dtype, device=e.device) * e
    return w.clamp(params.w_min, params.w_max)


def three_factor_step(
    w: Tensor,
    state: EligibilityState,
    pre: Tensor,
    post: Tensor,
    modulator: Tensor | float,
    params: ThreeFactorParams,
    dt_ms: float,
) -> tuple[Tensor, EligibilityState]:
    """One clock step: coincidence → eligibility → modulated weight change.

    Returns the new weights and state. With ``modulator`` identically 0 the weights do not
    change, whatever the activity.
    """
    state, c = coincidence_step(state, pre, post, params, dt_ms)
    e = eligibility_step(state.e, c, params, dt_ms)
    w = modulated_update(w, e, modulator, params, dt_ms)
    return w, state._replace(e=e)


def td_three_factor_step(
    w: Tensor,
    state: EligibilityState,
    pre: Tensor,
    post: Tensor,
    reward: Tensor,
    value: Tensor,
    next_value: Tensor,
    gamma: float,
    params: ThreeFactorParams,
    dt_ms: float,
) -> tuple[Tensor, EligibilityState]:
    r"""TD-modulated variant: :func:`three_factor_step` with :math:`M=r+\gamma V(s')-V(s)`.

    ``reward``, ``value`` and ``next_value`` broadcast against the weights (e.g. ``(B, 1, 1)``).
    """
    from ..neuromodulation.signals import td_error

    delta = td_error(reward, value, next_value, gamma)
    return three_factor_step(w, state, pre, post, delta, params, dt_ms)


def eligibility_integral(
    e0: Tensor,
    m0: Tensor | float,
    baseline: Tensor | float,
    tau_e_ms: float,
    tau_m_ms: float,
    duration_ms: Tensor | float,
) -> Tensor:
    r"""Closed form of :math:`\int_0^T e_0 e^{-s/\tau_e}(M_b + m_0 e^{-s/\tau_M})\,ds`.

    Parameters
    ----------
    e0 : Tensor
        Eligibility at the start of the interval.
    m0 : Tensor or float
        Modulator excess over baseline at the start (broadcasts against ``e0``).
    baseline : Tensor or float
        Tonic modulator level :math:`M_b`.
    tau_e_ms, tau_m_ms : float
        Decay time constants of eligibility and modulator excess.
    duration_ms : Tensor or float
        Interval length :math:`T \ge 0` (may be per synapse; ``inf`` for the total).
    """
    te = check_positive("tau_e_ms", tau_e_ms)
    tm = check_positive("tau_m_ms", tau_m_ms)
    ts = te * tm / (te + tm)
    e0 = torch.as_tensor(e0, dtype=torch.float64)
    T = torch.as_tensor(duration_ms, dtype=e0.dtype, device=e0.device)
    if bool((T < 0).any()):
        raise ValueError("duration_ms must be >= 0")
    frac_e = -torch.expm1(-T / te)  # 1 - exp(-T/te); exactly 1 at T = inf
    frac_s = -torch.expm1(-T / ts)
    m0 = torch.as_tensor(m0, dtype=e0.dtype, device=e0.device)
    mb = torch.as_tensor(baseline, dtype=e0.dtype, device=e0.device)
    return e0 * (mb * te * frac_e + m0 * ts * frac_s)


def event_advance(
    w: Tensor,
    e: Tensor,
    t_last_ms: Tensor,
    t_now_ms: float | Tensor,
    m_excess: Tensor | float,
    m_time_ms: float | Tensor,
    baseline: float | Tensor,
    tau_m_ms: float,
    params: ThreeFactorParams,
) -> tuple[Tensor, Tensor, Tensor]:
    r"""Advance synapses exactly from their own ``t_last_ms`` to ``t_now_ms`` with no event between.

    The modulator seen by a synapse is :math:`M_b + L\,e^{-(t-t_m)/\tau_M}` for :math:`t\ge t_m`
    (``m_excess`` :math:`=L` is its excess at the last release time ``m_time_ms``; per synapse
    for a spatial modulator). Callers advance every synapse at each release (so that
    ``t_last_ms >= m_time_ms``), and the touched synapses at each of their coincidences, then add
    the coincidence to ``e``.

    Returns ``(w, e, t_last)`` at ``t_now_ms``; ``w`` is clipped to the bounds.
    """
    t_last = torch.as_tensor(t_last_ms, dtype=torch.float64)
    t_now = torch.as_tensor(t_now_ms, dtype=torch.float64)
    if bool((t_now < t_last).any()):
        raise ValueError("t_now_ms must not precede t_last_ms")
    lag_m = t_last - torch.as_tensor(m_time_ms, dtype=torch.float64)
    if bool((lag_m < 0).any()):
        raise ValueError("advance all synapses at each modulator release (t_last < m_time)")
    m0 = torch.as_tensor(m_excess, dtype=torch.float64) * torch.exp(-lag_m / tau_m_ms)
    T = t_now - t_last
    dw = params.eta * eligibility_integral(e, m0, baseline, params.tau_e_ms, tau_m_ms, T)
    w = (w + dw).clamp(params.w_min, params.w_max)
    e = e * torch.exp(-T / params.tau_e_ms)
    return w, e, torch.broadcast_to(t_now, t_last.shape).clone()
