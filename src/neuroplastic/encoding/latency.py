r"""Latency (time-to-first-spike) coding: larger values spike earlier, each feature at most once.

Two codes map a value :math:`x \in [0, 1]` to a spike time :math:`t` (ms); only values above the
threshold :math:`\theta` spike (:math:`x > \theta`, strictly):

* ``"linear"``: :math:`t = t_\mathrm{max}\,\dfrac{1 - x}{1 - \theta}` with
  :math:`t_\mathrm{max} = (T - 1)\,\Delta t`, so :math:`x = 1` fires at 0 and values just above
  :math:`\theta` fire in the last step.
* ``"log"``: :math:`t = \tau \ln\dfrac{x}{x - \theta}`, the time a leaky integrator
  :math:`\tau\dot v = -v + x` starting at 0 needs to reach :math:`\theta` (a current-based LIF
  neuron charged by a constant input, as in Zenke's SpyTorch tutorials); requires
  :math:`\theta > 0`. Times at or after the window :math:`T\Delta t` give no spike.

The spike goes into step :math:`k = \lfloor t / \Delta t \rfloor` (the bin containing
:math:`t`). :func:`latency_decode` inverts the code at the left bin edge :math:`t = k\Delta t`,
so decoded values bracket the truth: :math:`x(t{=}(k{+}1)\Delta t) < x \le \hat x`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from .._validation import check_choice, check_positive, check_range
from .rate import check_num_steps, check_unit_interval

__all__ = [
    "LatencyEncoder",
    "LatencyParams",
    "latency_decode",
    "latency_encode",
    "latency_times",
]

_EPS = 1e-9  # guards floor(t/dt) against round-off when t lands on a bin edge


@dataclass(frozen=True)
class LatencyParams:
    """Parameters of the latency code (see the module docstring for the formulas)."""

    num_steps: int = 100  # length of the spike train (time steps)
    dt_ms: float = 1.0  # clock step (ms)
    mode: Literal["linear", "log"] = "linear"  # time code: linear ramp or LIF charging time
    threshold: float = 0.0  # values <= threshold never spike; must be > 0 for "log"
    tau_ms: float = 20.0  # membrane time constant of the "log" code (ms)

    def __post_init__(self) -> None:
        check_num_steps(self.num_steps)
        check_positive("dt_ms", self.dt_ms)
        if not math.isfinite(self.num_steps * self.dt_ms):
            raise ValueError(
                f"dt_ms={self.dt_ms!r} makes the window num_steps * dt_ms = "
                f"{self.num_steps} * {self.dt_ms!r} overflow float64; dt_ms must be at most "
                f"{1.7976931348623157e308 / self.num_steps:.6g} ms for {self.num_steps} steps"
            )
        check_choice("mode", self.mode, ("linear", "log"))
        check_range("threshold", self.threshold, 0.0, 1.0)
        if self.threshold >= 1.0:
            raise ValueError(f"threshold must be < 1 (else nothing spikes), got {self.threshold!r}")
        if self.mode == "log" and self.threshold <= 0.0:
            raise ValueError(
                f"threshold must be > 0 for mode='log' (t = tau ln(x/(x-threshold))), "
                f"got {self.threshold!r}"
            )
        check_positive("tau_ms", self.tau_ms)

    @property
    def t_max_ms(self) -> float:
        """Time of the last step, ``(num_steps - 1) * dt_ms`` (ms)."""
        return (self.num_steps - 1) * self.dt_ms


def latency_times(x: Tensor, params: LatencyParams) -> Tensor:
    """Continuous first-spike times (ms) of the values ``x``; ``inf`` where no spike.

    Parameters
    ----------
    x : Tensor, any shape
        Values in [0, 1].
    params : LatencyParams

    Returns
    -------
    Tensor, same shape as ``x``, float64
        Spike time in ms, or ``inf`` for ``x <= threshold`` and (log code) for times past the
        window ``num_steps * dt_ms``.
    """
    check_unit_interval("x", x)
    xd = x.to(torch.float64)
    th = params.threshold
    fires = xd > th
    inf = torch.full_like(xd, math.inf)
    if params.mode == "linear":
        t = params.t_max_ms * (1.0 - xd) / (1.0 - th)
    else:
        safe = torch.where(fires, xd, torch.ones_like(xd))
        t = params.tau_ms * torch.log(safe / (safe - th))
        fires = fires & (t < params.num_steps * params.dt_ms)
    return torch.where(fires, t, inf)


def latency_encode(x: Tensor, params: LatencyParams) -> Tensor:
    """Encode values as single spikes whose latency decreases with the value.

    Parameters
    ----------
    x : Tensor, shape ``(batch, features)`` (any shape works)
        Values in [0, 1]; any device.
    params : LatencyParams

    Returns
    -------
    Tensor, shape ``(num_steps, *x.shape)``, dtype bool
        At most one ``True`` per feature, at step ``floor(t / dt_ms)``.
    """
    t = latency_times(x, params)
    fires = torch.isfinite(t)
    k = torch.floor(torch.where(fires, t, torch.zeros_like(t)) / params.dt_ms + _EPS).long()
    k = torch.where(fires, k.clamp_(0, params.num_steps - 1), torch.full_like(k, -1))
    steps = torch.arange(params.num_steps, device=x.device).view(-1, *([1] * x.dim()))
    return steps == k.unsqueeze(0)


def _value_at(t_ms: Tensor, params: LatencyParams) -> Tensor:
    """Inverse of the time code: the value whose spike time is ``t_ms`` (clamped to [θ, 1])."""
    th = params.threshold
    if params.mode == "linear":
        x = 1.0 - t_ms * (1.0 - th) / max(params.t_max_ms, 1e-300)
        if params.t_max_ms == 0.0:
            x = torch.ones_like(t_ms)
    else:
        # t = tau ln(x/(x-th))  <=>  x = th / (1 - exp(-t/tau)); t = 0 maps to +inf -> clamp 1.
        denom = -torch.expm1(-t_ms / params.tau_ms)
        x = torch.where(denom > 0, th / denom.clamp_min(1e-300), torch.ones_like(t_ms))
    return x.clamp(th, 1.0)


def latency_decode(spikes: Tensor, params: LatencyParams) -> Tensor:
    """Recover values from latency-coded spikes (first spike per feature, left bin edge).

    Parameters
    ----------
    spikes : Tensor, shape ``(time, ...)``
        Output of :func:`latency_encode` (bool or 0/1).
    params : LatencyParams
        The parameters used to encode.

    Returns
    -------
    Tensor, shape ``spikes.shape[1:]``, float64
        Decoded value, an upper bracket of the encoded one (exact when the spike time falls on a
        bin edge); 0 where a feature never spiked.
    """
    s = spikes.to(torch.bool)
    any_spike = s.any(dim=0)
    k = s.to(torch.uint8).argmax(dim=0)  # first maximum = first spike
    x = _value_at(k.to(torch.float64) * params.dt_ms, params)
    return torch.where(any_spike, x, torch.zeros_like(x))


class LatencyEncoder(nn.Module):
    """Thin module around :func:`latency_encode` (deterministic, no state)."""

    def __init__(self, params: LatencyParams) -> None:
        super().__init__()
        self.params = params

    def forward(self, x: Tensor) -> Tensor:
        return latency_encode(x, self.params)
