r"""Losses and firing-rate regularizers for spiking classifiers.

All read time-major outputs ``(T, B, C)`` (spikes of the output layer, or the membrane of an
:class:`~neuroplastic.surrogate.layers.LI` readout) and integer class targets ``(B,)``.

* :func:`spike_count_cross_entropy` — cross-entropy on the spike counts :math:`\sum_t s_t`.
* :func:`max_membrane_cross_entropy` — cross-entropy on :math:`\max_t v_t` (LI readout).
* :func:`first_spike_cross_entropy` — cross-entropy on minus the first-spike time: the target
  neuron should fire first. The time is differentiable through the spikes,
  :math:`t_\mathrm{first} = \sum_{t} \prod_{t' \le t} (1 - s_{t'})` (steps before the first
  spike; ``T`` when silent).
* :class:`RateRegularizer` — penalises mean firing rates above (or away from) a target per
  layer, :math:`\lambda \sum_l \max(0, r_l - r_l^*)^2`, which lowers synaptic operations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .._validation import check_nonnegative, check_range

__all__ = [
    "RateRegularizer",
    "first_spike_cross_entropy",
    "first_spike_time",
    "max_membrane_cross_entropy",
    "spike_count_cross_entropy",
    "spike_count_predict",
]


def _check(out: Tensor, target: Tensor) -> None:
    if out.dim() != 3:
        raise ValueError(f"output must have shape (T, B, C), got {tuple(out.shape)}")
    if target.shape != (out.shape[1],):
        raise ValueError(
            f"target must have shape (B,) = ({out.shape[1]},), got {tuple(target.shape)}"
        )


def spike_count_cross_entropy(spikes: Tensor, target: Tensor) -> Tensor:
    """Mean cross-entropy of the spike counts ``spikes.sum(0)`` as logits."""
    _check(spikes, target)
    return F.cross_entropy(spikes.sum(0), target)


def max_membrane_cross_entropy(membrane: Tensor, target: Tensor) -> Tensor:
    """Mean cross-entropy of the maximum membrane over time as logits."""
    _check(membrane, target)
    return F.cross_entropy(membrane.max(0).values, target)


def first_spike_time(spikes: Tensor) -> Tensor:
    """Steps before the first spike ``(B, C)`` (``T`` when silent), differentiable."""
    if spikes.dim() != 3:
        raise ValueError(f"spikes must have shape (T, B, C), got {tuple(spikes.shape)}")
    return torch.cumprod(1.0 - spikes, dim=0).sum(0)


def first_spike_cross_entropy(spikes: Tensor, target: Tensor, *, scale: float = 1.0) -> Tensor:
    """Mean cross-entropy of ``-scale * first_spike_time`` (earlier spike = larger logit)."""
    _check(spikes, target)
    check_nonnegative("scale", scale)
    return F.cross_entropy(-scale * first_spike_time(spikes), target)


def spike_count_predict(output: Tensor) -> Tensor:
    """Predicted class: argmax of the count ``(T, B, C) -> (B,)`` (or of ``(B, C)`` logits)."""
    if output.dim() == 3:
        output = output.sum(0)
    return output.argmax(-1)


@dataclass(frozen=True)
class RateRegularizer:
    """Firing-rate penalty on a list of layer spike tensors.

    Parameters
    ----------
    target
        Target mean firing probability per step, one value for all layers.
    strength
        Weight :math:`\\lambda` of the penalty.
    two_sided
        Penalise rates below the target as well (keeps layers from falling silent).
    """

    target: float = 0.05  # target spikes per neuron per step
    strength: float = 1.0  # weight of the penalty in the loss
    two_sided: bool = False  # also penalise rates below the target

    def __post_init__(self) -> None:
        check_range("target", self.target, 0.0, 1.0)
        check_nonnegative("strength", self.strength)

    def __call__(self, spikes: Sequence[Tensor]) -> Tensor:
        """Penalty ``strength * sum_l d(mean(spikes_l), target)^2``; 0 for an empty list."""
        total = torch.zeros(())
        for s in spikes:
            r = s.mean()
            d = r - self.target
            if not self.two_sided:
                d = torch.clamp(d, min=0.0)
            total = total.to(r.dtype) + d * d
        return self.strength * total
