r"""Izhikevich (2003) simple model of spiking neurons.

.. math::

    \frac{dv}{dt} = 0.04 v^2 + 5 v + 140 - u + I, \qquad
    \frac{du}{dt} = a\,(b v - u), \qquad
    v \ge v_\mathrm{peak}\;\Rightarrow\; v \leftarrow c,\; u \leftarrow u + d,

with :math:`v` in mV, time in ms and :math:`I` in mV/ms (the model's own units). Presets:
:data:`REGULAR_SPIKING` (a=0.02, b=0.2, c=−65, d=8; cortical excitatory cells) and
:data:`FAST_SPIKING` (a=0.1, b=0.2, c=−65, d=2; inhibitory interneurons).

Integration follows Izhikevich's ``spnet.m`` / ``daspnet.m`` (2006/2007) exactly: at the start
of a step neurons with :math:`v \ge v_\mathrm{peak}` spike and are reset, then :math:`v` is
advanced by ``v_substeps`` forward-Euler sub-steps of ``dt/v_substeps`` (two 0.5 ms half-steps
per 1 ms step "for numerical stability") and :math:`u` by one Euler step of ``dt`` using the new
:math:`v`. The expression is evaluated in the order of the MATLAB source,
``v + h*((0.04*v + 5)*v + 140 - u + I)``, so that compiled kernels reproduce it bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn

from .._validation import check_finite, check_int, check_less, check_positive

__all__ = [
    "FAST_SPIKING",
    "REGULAR_SPIKING",
    "IzhikevichCoefficients",
    "IzhikevichParams",
    "IzhikevichPopulation",
    "IzhikevichState",
    "init_izhikevich_state",
    "izhikevich_step",
    "realize_izhikevich",
]


@dataclass(frozen=True)
class IzhikevichParams:
    """One Izhikevich cell type (defaults: regular spiking)."""

    a: float = 0.02  # recovery rate (1/ms)
    b: float = 0.2  # sensitivity of u to sub-threshold v
    c_mv: float = -65.0  # reset potential
    d: float = 8.0  # after-spike increment of u
    v_peak_mv: float = 30.0  # spike cut-off

    def __post_init__(self) -> None:
        check_positive("a", self.a)
        check_finite("b", self.b)
        check_finite("c_mv", self.c_mv)
        check_finite("d", self.d)
        check_finite("v_peak_mv", self.v_peak_mv)
        check_less("c_mv", self.c_mv, "v_peak_mv", self.v_peak_mv)


REGULAR_SPIKING = IzhikevichParams(a=0.02, b=0.2, c_mv=-65.0, d=8.0)
FAST_SPIKING = IzhikevichParams(a=0.1, b=0.2, c_mv=-65.0, d=2.0)


class IzhikevichCoefficients(NamedTuple):
    """Per-neuron parameters, shapes ``(n,)`` float64."""

    a: Tensor
    b: Tensor
    c: Tensor
    d: Tensor
    v_peak: Tensor


class IzhikevichState(NamedTuple):
    """Explicit state; leading dimension is the batch of trials."""

    v: Tensor  # (B, n) membrane potential, mV
    u: Tensor  # (B, n) recovery variable


def realize_izhikevich(
    populations: Sequence[tuple[IzhikevichParams, int]],
) -> IzhikevichCoefficients:
    """Concatenate cell types into per-neuron coefficients, e.g. ``[(RS, 800), (FS, 200)]``."""
    if len(populations) == 0:
        raise ValueError("populations must name at least one (params, n) pair")
    cols: dict[str, list[Tensor]] = {k: [] for k in IzhikevichCoefficients._fields}
    for k, (p, n) in enumerate(populations):
        if not isinstance(p, IzhikevichParams):
            raise ValueError(f"populations[{k}] must hold IzhikevichParams, got {p!r}")
        check_int(f"populations[{k}].n", n, 1)
        vals = dict(a=p.a, b=p.b, c=p.c_mv, d=p.d, v_peak=p.v_peak_mv)
        for name, v in vals.items():
            cols[name].append(torch.full((n,), float(v), dtype=torch.float64))
    return IzhikevichCoefficients(**{k: torch.cat(v) for k, v in cols.items()})


def init_izhikevich_state(coef: IzhikevichCoefficients, batch: int = 1) -> IzhikevichState:
    """``v = c`` and ``u = b·v`` (as ``daspnet.m``: v = −65, u = 0.2·v)."""
    check_int("batch", batch, 1)
    v = coef.c.expand(batch, -1).clone()
    return IzhikevichState(v=v, u=coef.b * v)


def izhikevich_step(
    state: IzhikevichState,
    coef: IzhikevichCoefficients,
    i_ext: Tensor | float,
    dt_ms: float = 1.0,
    v_substeps: int = 2,
) -> tuple[IzhikevichState, Tensor]:
    """Advance one step; returns the new state and the boolean spikes ``(B, n)`` of this step.

    Order (``daspnet.m``): spike where ``v >= v_peak`` → reset (v ← c, u ← u + d) → ``v``
    sub-steps with the input ``i_ext`` (mV/ms, broadcast to ``(B, n)``) → ``u`` step.
    """
    dt = check_positive("dt_ms", dt_ms)
    check_int("v_substeps", v_substeps, 1)
    v, u = state
    spikes = v >= coef.v_peak
    v = torch.where(spikes, coef.c, v)
    u = torch.where(spikes, u + coef.d, u)
    h = dt / v_substeps
    i_ext = torch.as_tensor(i_ext, dtype=v.dtype, device=v.device)
    for _ in range(v_substeps):
        v = v + h * ((0.04 * v + 5.0) * v + 140.0 - u + i_ext)
    u = u + dt * (coef.a * (coef.b * v - u))
    return IzhikevichState(v, u), spikes


class IzhikevichPopulation(nn.Module):
    """Thin module over :func:`izhikevich_step` holding per-neuron coefficients as buffers."""

    def __init__(
        self,
        populations: Sequence[tuple[IzhikevichParams, int]],
        *,
        dt_ms: float = 1.0,
        v_substeps: int = 2,
    ) -> None:
        super().__init__()
        self.dt_ms = check_positive("dt_ms", dt_ms)
        self.v_substeps = check_int("v_substeps", v_substeps, 1)
        coef = realize_izhikevich(populations)
        for name, t in coef._asdict().items():
            self.register_buffer(name, t)

    @property
    def coefficients(self) -> IzhikevichCoefficients:
        return IzhikevichCoefficients(*(getattr(self, k) for k in IzhikevichCoefficients._fields))

    def initial_state(self, batch: int = 1) -> IzhikevichState:
        return init_izhikevich_state(self.coefficients, batch)

    def forward(
        self, state: IzhikevichState, i_ext: Tensor | float
    ) -> tuple[IzhikevichState, Tensor]:
        return izhikevich_step(state, self.coefficients, i_ext, self.dt_ms, self.v_substeps)
