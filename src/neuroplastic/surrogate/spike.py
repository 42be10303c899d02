r"""Spike function: Heaviside forward, surrogate derivative backward.

The forward pass emits :math:`s = H(x)` with :math:`x = v - \vartheta` (a spike iff
:math:`x > 0`, as :func:`neuroplastic.neurons.lif.lif_step`). The backward pass replaces
:math:`H'(x) = \delta(x)` by the derivative :math:`\sigma'(x)` of a smooth step with steepness
``slope`` :math:`k`:

================  =====================================  =======================================
kind              surrogate derivative :math:`\sigma'`   smooth function it differentiates
================  =====================================  =======================================
``fast_sigmoid``  :math:`1/(1 + k|x|)^2` (SuperSpike)    :math:`x / (1 + k|x|)`
``arctan``        :math:`(k/2) / (1 + (\pi k x / 2)^2)`  :math:`\arctan(\pi k x / 2)/\pi + 1/2`
``sigmoid``       :math:`k\,\mathrm{sig}(kx)`            :math:`\mathrm{sig}(kx)`
                  :math:`\times (1 - \mathrm{sig}(kx))`
``triangle``      :math:`k \max(0, 1 - k|x|)`            piecewise quadratic ramp from 0 to 1 on
                                                         :math:`|x| < 1/k`
================  =====================================  =======================================

The same formulas run in the compiled kernels (:mod:`._cengine` C, :mod:`._kernels` numba).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from .._validation import check_choice, check_positive

__all__ = ["SURROGATE_KINDS", "Surrogate", "SpikeFunction", "spike_fn", "surrogate_grad"]

SURROGATE_KINDS = ("fast_sigmoid", "arctan", "sigmoid", "triangle")


@dataclass(frozen=True)
class Surrogate:
    """Choice of surrogate derivative.

    Parameters
    ----------
    kind
        ``"fast_sigmoid"`` (SuperSpike, snnTorch's default), ``"arctan"``, ``"sigmoid"``
        (SpikingJelly's default) or ``"triangle"``.
    slope
        Steepness :math:`k` (1 / units of the membrane); larger is closer to the true step.
    """

    kind: Literal["fast_sigmoid", "arctan", "sigmoid", "triangle"] = "fast_sigmoid"
    slope: float = 25.0  # steepness k of the smooth step the gradient pretends to be

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, SURROGATE_KINDS)
        check_positive("slope", self.slope)
        object.__setattr__(self, "slope", float(self.slope))

    @property
    def code(self) -> int:
        """Integer code used by the compiled kernels."""
        return SURROGATE_KINDS.index(self.kind)


def surrogate_grad(x: Tensor, surrogate: Surrogate) -> Tensor:
    """The surrogate derivative :math:`\\sigma'(x)` (same shape as ``x``)."""
    k = surrogate.slope
    if surrogate.kind == "fast_sigmoid":
        d = k * x.abs() + 1.0
        return 1.0 / (d * d)
    if surrogate.kind == "arctan":
        a = (0.5 * math.pi) * k * x
        return (0.5 * k) / (1.0 + a * a)
    if surrogate.kind == "sigmoid":
        z = torch.sigmoid(k * x)
        return k * z * (1.0 - z)
    return k * torch.clamp(1.0 - k * x.abs(), min=0.0)


class SpikeFunction(torch.autograd.Function):
    """``H(x)`` forward (float 0/1 in ``x``'s dtype), ``g * sigma'(x)`` backward."""

    @staticmethod
    def forward(ctx, x: Tensor, surrogate: Surrogate) -> Tensor:  # noqa: D102
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:  # noqa: D102
        (x,) = ctx.saved_tensors
        return grad * surrogate_grad(x, ctx.surrogate), None


def spike_fn(x: Tensor, surrogate: Surrogate = Surrogate()) -> Tensor:
    """Spikes ``H(x)`` with the surrogate derivative of ``surrogate`` (any shape)."""
    if not isinstance(surrogate, Surrogate):
        raise ValueError(f"surrogate must be a Surrogate(...), got {surrogate!r}")
    return SpikeFunction.apply(x, surrogate)
