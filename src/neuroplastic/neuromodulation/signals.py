r"""Neuromodulator signals as explicit inputs of three-factor learning rules.

A neuromodulator is a concentration :math:`M(t)` seen by each synapse. Nothing here is hidden
or global: a signal is a small state (a tensor) advanced by pure functions, and learning rules
receive the concentration *at the synapse* as an ordinary argument.

Global (broadcast) dopamine
    Every synapse sees the same level. Between reward events it relaxes exponentially to a
    baseline, each event releases a fixed amount (Izhikevich 2007: ``DA ← 0.995·DA`` per ms,
    i.e. :math:`\tau_{DA}\approx 200` ms, ``+0.5`` per reward):

    .. math:: M(t) = M_b + \sum_{k:\,t_k\le t} A\,e^{-(t-t_k)/\tau_{DA}} .

Reward and prediction errors
    :func:`reward_prediction_error` (:math:`\delta = r - \bar r`), :func:`update_expectation`
    (running average :math:`\bar r \leftarrow \bar r + \alpha (r - \bar r)`, Rescorla–Wagner) and
    :func:`td_error` (:math:`\delta = r + \gamma V(s') - V(s)`, Schultz, Dayan & Montague 1997).
    A signed error used as :math:`M` makes the rule potentiate on positive and depress on
    negative surprises.

Spatial (volume) transmission
    Sources at positions :math:`x_s` release amounts :math:`q_s`; synapses carry positions
    :math:`y_i`. The concentration at synapse :math:`i` is

    .. math:: M_i = \sum_s q_s\,K(\lVert y_i - x_s\rVert),

    with one of the kernels of :data:`SPATIAL_KERNELS`:

    * ``"exponential"`` — :math:`K(r)=e^{-r/\lambda}` (the default; 1 at the source). This is the
      exact steady-state profile of release into a 1-D medium with diffusion :math:`D` and
      uptake time :math:`\tau` (:math:`\lambda=\sqrt{D\tau}`), and the usual phenomenological
      choice in 2-D/3-D.
    * ``"yukawa3d"`` — :math:`K(r)=\tfrac{\lambda}{r+r_0}\,e^{-r/\lambda}`: the exact 3-D
      steady state :math:`e^{-r/\lambda}/(4\pi D r)` of diffusion with uptake, normalised to
      :math:`\lambda/r` and regularised at the source by the release-site radius
      :math:`r_0`.

    A transient release (a single puff) is given exactly by the diffusion Green's function with
    uptake, :func:`diffusion_green`:
    :math:`c(r,t)=q\,(4\pi D t)^{-d/2}\,e^{-r^2/(4Dt)}\,e^{-t/\tau}` in ``d`` = 1, 2 or 3
    dimensions.

Units: time in ms, distance in µm (any consistent length unit), concentrations in arbitrary
units (the learning rate absorbs them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from .._validation import check_choice, check_finite, check_int, check_nonnegative, check_positive

__all__ = [
    "SPATIAL_KERNELS",
    "DopamineParams",
    "SpatialParams",
    "diffusion_green",
    "dopamine_at",
    "dopamine_decay",
    "dopamine_step",
    "pulse_integral",
    "reward_prediction_error",
    "spatial_kernel",
    "td_error",
    "update_expectation",
    "volume_transmission",
]

SPATIAL_KERNELS = ("exponential", "yukawa3d")


@dataclass(frozen=True)
class DopamineParams:
    """A globally broadcast modulator relaxing to a baseline (defaults: Izhikevich 2007)."""

    tau_ms: float = 200.0  # decay time constant of the level above baseline (0.995 per ms)
    release: float = 0.5  # amount added per reward event
    baseline: float = 0.0  # tonic level the signal relaxes to

    def __post_init__(self) -> None:
        check_positive("tau_ms", self.tau_ms)
        check_finite("release", self.release)
        check_finite("baseline", self.baseline)

    def decay_factor(self, dt_ms: float) -> float:
        """``exp(-dt/tau)``: the per-step multiplier of the level above baseline."""
        return math.exp(-check_positive("dt_ms", dt_ms) / self.tau_ms)


@dataclass(frozen=True)
class SpatialParams:
    """Volume transmission from point sources to synapses with positions."""

    length_scale_um: float = 10.0  # lambda: distance over which the concentration drops by e
    kernel: Literal["exponential", "yukawa3d"] = "exponential"  # spatial profile K(r)
    source_radius_um: float = 1.0  # r0, regularises the 1/r singularity of "yukawa3d"

    def __post_init__(self) -> None:
        check_positive("length_scale_um", self.length_scale_um)
        check_choice("kernel", self.kernel, SPATIAL_KERNELS)
        check_positive("source_radius_um", self.source_radius_um)


def dopamine_decay(level: Tensor, params: DopamineParams, dt_ms: float) -> Tensor:
    """Relax ``level`` towards the baseline for ``dt_ms`` (exact: no discretisation error)."""
    f = math.exp(-check_nonnegative("dt_ms", dt_ms) / params.tau_ms)
    return params.baseline + (level - params.baseline) * f


def dopamine_step(
    level: Tensor, n_rewards: Tensor | float, params: DopamineParams, dt_ms: float
) -> Tensor:
    """One clock step: decay, then add ``release`` per reward event of this step.

    ``n_rewards`` broadcasts against ``level`` (a count, or a 0/1 flag per trial).
    """
    return dopamine_decay(level, params, dt_ms) + params.release * torch.as_tensor(
        n_rewards, dtype=level.dtype, device=level.device
    )


def dopamine_at(t_ms: Tensor, reward_times_ms: Tensor, params: DopamineParams) -> Tensor:
    r"""Closed form :math:`M(t)=M_b+\sum_{t_k\le t}A e^{-(t-t_k)/\tau}` at times ``t_ms``.

    Shapes: ``t_ms`` any, ``reward_times_ms`` ``(K,)``; returns the shape of ``t_ms``.
    """
    t = torch.as_tensor(t_ms, dtype=torch.float64)
    tk = torch.as_tensor(reward_times_ms, dtype=torch.float64).reshape(-1)
    lag = t[..., None] - tk
    pulses = torch.where(lag >= 0, torch.exp(-lag.clamp(min=0) / params.tau_ms), 0.0)
    return params.baseline + params.release * pulses.sum(-1)


def pulse_integral(amplitude: float, tau_ms: float, duration_ms: float = math.inf) -> float:
    r"""Integral of one exponential transient.

    :math:`\int_0^T A e^{-s/\tau}ds = A\tau(1-e^{-T/\tau})` (``duration_ms = inf``: :math:`A\tau`).
    """
    check_positive("tau_ms", tau_ms)
    if math.isinf(duration_ms):
        return amplitude * tau_ms
    return amplitude * tau_ms * -math.expm1(-check_nonnegative("duration_ms", duration_ms) / tau_ms)


def reward_prediction_error(reward: Tensor, expected: Tensor) -> Tensor:
    r"""Reward-prediction error :math:`\delta = r - \bar r` (signed modulator)."""
    return reward - expected


def update_expectation(expected: Tensor, reward: Tensor, rate: float) -> Tensor:
    r"""Running reward expectation :math:`\bar r \leftarrow \bar r + \alpha (r - \bar r)`."""
    a = check_finite("rate", rate)
    if not 0.0 < a <= 1.0:
        raise ValueError(f"rate must be in (0, 1], got {rate!r}")
    return expected + a * (reward - expected)


def td_error(reward: Tensor, value: Tensor, next_value: Tensor, gamma: float) -> Tensor:
    r"""Temporal-difference error :math:`\delta = r + \gamma V(s') - V(s)`.

    Pass ``next_value = 0`` at terminal transitions.
    """
    g = check_finite("gamma", gamma)
    if not 0.0 <= g <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma!r}")
    return reward + g * next_value - value


def spatial_kernel(distance_um: Tensor, params: SpatialParams) -> Tensor:
    """The profile :math:`K(r)` of :class:`SpatialParams` at distances ``distance_um`` (>= 0)."""
    r = torch.as_tensor(distance_um)
    lam = params.length_scale_um
    k = torch.exp(-r / lam)
    if params.kernel == "yukawa3d":
        k = k * (lam / (r + params.source_radius_um))
    return k


def volume_transmission(
    release: Tensor, source_pos: Tensor, synapse_pos: Tensor, params: SpatialParams
) -> Tensor:
    r"""Concentration at each synapse, :math:`M_i = \sum_s q_s K(\lVert y_i - x_s\rVert)`.

    Parameters
    ----------
    release : Tensor
        ``(S,)`` amounts released by the sources (or ``(B, S)`` per trial).
    source_pos : Tensor
        ``(S, d)`` source positions (µm).
    synapse_pos : Tensor
        ``(n_syn, d)`` synapse positions (µm); ``d`` in {1, 2, 3}.
    params : SpatialParams

    Returns
    -------
    Tensor
        ``(n_syn,)`` (or ``(B, n_syn)``) concentrations.
    """
    src = torch.as_tensor(source_pos, dtype=torch.float64)
    syn = torch.as_tensor(synapse_pos, dtype=torch.float64)
    if src.dim() != 2 or syn.dim() != 2 or src.shape[1] != syn.shape[1]:
        raise ValueError(
            f"source_pos must be (S, d) and synapse_pos (n_syn, d) with the same d; got "
            f"{tuple(src.shape)} and {tuple(syn.shape)}"
        )
    q = torch.as_tensor(release, dtype=torch.float64)
    if q.shape[-1] != src.shape[0]:
        raise ValueError(f"release must have {src.shape[0]} sources last, got {tuple(q.shape)}")
    dist = ((syn[:, None, :] - src[None, :, :]) ** 2).sum(-1).sqrt()  # (n_syn, S), exact
    return q @ spatial_kernel(dist, params).T


def diffusion_green(
    release: float,
    distance_um: Tensor,
    t_ms: Tensor,
    diffusion_um2_per_ms: float,
    uptake_tau_ms: float = math.inf,
    dim: int = 3,
) -> Tensor:
    r"""Concentration after an instantaneous point release into an infinite medium.

    :math:`c(r,t)=q\,(4\pi D t)^{-d/2}\exp(-r^2/4Dt)\exp(-t/\tau)` for :math:`t>0`, 0 before.
    This is the exact Green's function of :math:`\partial_t c = D\nabla^2 c - c/\tau`.
    """
    check_positive("diffusion_um2_per_ms", diffusion_um2_per_ms)
    check_int("dim", dim, 1, 3)
    if uptake_tau_ms != math.inf:
        check_positive("uptake_tau_ms", uptake_tau_ms)
    r = torch.as_tensor(distance_um, dtype=torch.float64)
    t = torch.as_tensor(t_ms, dtype=torch.float64)
    tp = t.clamp(min=1e-300)
    four_dt = 4.0 * diffusion_um2_per_ms * tp
    c = release * (math.pi * four_dt) ** (-dim / 2.0)
    c = c * torch.exp(-(r * r) / four_dt - tp / uptake_tau_ms)
    return torch.where(t > 0, c, torch.zeros_like(c))
