r"""Poisson (Bernoulli-per-step) rate coding of static values.

A value :math:`x \in [0, 1]` becomes an instantaneous rate :math:`r = x\,r_\mathrm{max}`; in each
clock step of length :math:`\Delta t` a spike is drawn independently with probability

.. math::

    p = r\,\Delta t = x\,r_\mathrm{max}\,\Delta t \le 1 ,

the discrete-time version of a homogeneous Poisson process (exact Bernoulli, no small-:math:`p`
approximation). Over :math:`T` steps the spike count is therefore Binomial(:math:`T, p`), with mean
:math:`Tp` and Fano factor :math:`1-p` (→ 1 as :math:`p \to 0`, the Poisson limit).

:func:`rate_decode` inverts the code with the unbiased estimator
:math:`\hat x = \bar s / (r_\mathrm{max}\Delta t)` (mean spikes per step over the rate scale).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .._validation import check_int, check_positive

__all__ = [
    "MAX_NUM_STEPS",
    "P_MIN",
    "PoissonEncoder",
    "PoissonParams",
    "check_num_steps",
    "check_unit_interval",
    "poisson_encode",
    "rate_decode",
]

#: Longest spike train an encoder builds (steps): the output is a dense ``(num_steps, ...)``
#: tensor, and a longer one is a configuration error, not something to hand to the allocator.
MAX_NUM_STEPS = 2**31 - 1
#: Smallest spike probability per step of a value 1: the smallest normal float32, so that the
#: per-step probabilities ``x * p_max`` (in ``x``'s dtype, float32 by default) do not vanish.
P_MIN = 2.0**-126


def check_num_steps(value: int) -> int:
    """``num_steps`` of an encoder: an integer in ``[1, MAX_NUM_STEPS]``."""
    return check_int("num_steps", value, low=1, high=MAX_NUM_STEPS)


@dataclass(frozen=True)
class PoissonParams:
    """Parameters of the Poisson rate code.

    ``max_rate_hz * dt_ms / 1000`` is the spike probability per step of a value 1 and must not
    exceed 1 (a Bernoulli step cannot carry more than one spike), nor fall below
    :data:`P_MIN` (it would round to no spikes at all, and :func:`rate_decode` divides by it).
    """

    num_steps: int = 100  # length of the spike train (time steps)
    max_rate_hz: float = 100.0  # rate of a value of 1 (Hz)
    dt_ms: float = 1.0  # clock step (ms)

    def __post_init__(self) -> None:
        check_num_steps(self.num_steps)
        check_positive("max_rate_hz", self.max_rate_hz)
        check_positive("dt_ms", self.dt_ms)
        if self.p_max > 1.0:
            raise ValueError(
                f"max_rate_hz * dt_ms / 1000 (spike probability per step) must be <= 1, got "
                f"max_rate_hz={self.max_rate_hz!r}, dt_ms={self.dt_ms!r} -> p={self.p_max!r}; "
                f"lower max_rate_hz or dt_ms (max_rate_hz <= 1000 / dt_ms = "
                f"{1e3 / self.dt_ms:.6g} Hz)"
            )
        if self.p_max < P_MIN:
            raise ValueError(
                f"max_rate_hz * dt_ms / 1000 (spike probability per step) must be >= {P_MIN:.6g} "
                f"(the smallest normal float32), got max_rate_hz={self.max_rate_hz!r}, "
                f"dt_ms={self.dt_ms!r} -> p={self.p_max!r}; raise max_rate_hz or dt_ms"
            )

    @property
    def p_max(self) -> float:
        """Spike probability per step for a value of 1 (dimensionless)."""
        return self.max_rate_hz * self.dt_ms * 1e-3


def check_unit_interval(name: str, x: Tensor) -> None:
    """Raise ``ValueError`` naming ``name`` unless every entry of ``x`` is finite and in [0, 1]."""
    if not torch.is_tensor(x):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.numel() == 0:
        return
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} must be finite")
    lo, hi = float(x.min()), float(x.max())
    if lo < 0.0 or hi > 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got values in [{lo!r}, {hi!r}]")


def poisson_encode(
    x: Tensor, params: PoissonParams, *, generator: torch.Generator | None = None
) -> Tensor:
    """Encode values in [0, 1] as independent Bernoulli spike trains.

    Parameters
    ----------
    x : Tensor, shape ``(batch, features)`` (any shape works)
        Intensities in [0, 1] (dimensionless); float dtype, any device.
    params : PoissonParams
        Time steps, maximum rate (Hz) and step (ms).
    generator : torch.Generator, optional
        Source of randomness, on ``x``'s device; ``None`` uses torch's default generator
        (not reproducible unless globally seeded — pass one).

    Returns
    -------
    Tensor, shape ``(num_steps, *x.shape)``, dtype bool
        ``True`` where a spike occurs; ``P(spike) = x * max_rate_hz * dt_ms / 1000`` per step.
    """
    check_unit_interval("x", x)
    if not x.is_floating_point():
        x = x.to(torch.float32)
    p = x * params.p_max
    u = torch.rand(
        (params.num_steps, *x.shape), generator=generator, device=x.device, dtype=x.dtype
    )
    return u < p


def rate_decode(spikes: Tensor, params: PoissonParams) -> Tensor:
    """Estimate the encoded values from spike trains: mean spikes per step / ``p_max``.

    Parameters
    ----------
    spikes : Tensor, shape ``(time, ...)``
        Spike trains (bool or 0/1).
    params : PoissonParams
        The parameters used to encode.

    Returns
    -------
    Tensor, shape ``spikes.shape[1:]``, float32
        Unbiased estimate of ``x`` (may exceed 1 by chance), standard error
        ``sqrt(p (1 - p) / T) / p_max``.
    """
    return spikes.to(torch.float32).mean(dim=0) / params.p_max


class PoissonEncoder(nn.Module):
    """Thin module around :func:`poisson_encode` (no parameters, no state)."""

    def __init__(self, params: PoissonParams) -> None:
        super().__init__()
        self.params = params

    def forward(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        return poisson_encode(x, self.params, generator=generator)
