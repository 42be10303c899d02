r"""Importance-gated plasticity: :math:`\Delta w_{ij} \leftarrow g(I_{ij})\,\Delta w_{ij}`.

Any local rule of the package (``stdp_step``, ``stdp_sequence``, ``triplet_step``,
``hebb_step``, ``oja_step``, ``three_factor_step``, the Diehl & Cook presentation, ...) maps old
weights to new ones; the gate keeps the fraction :math:`g(I)\in[0,1]` of the change:

.. math:: w \leftarrow w_\mathrm{old} + g(I)\,(w_\mathrm{new} - w_\mathrm{old}).

Gate functions (:class:`GateParams`, scale :math:`I_0`):

* ``"inverse"`` — :math:`g = 1/(1 + I/I_0)`: the synapse's learning rate falls as its
  importance (precision) grows; with :math:`I` a posterior precision gain and
  :math:`I_0 = 1/\sigma_0^2` this is exactly :math:`\sigma^2/\sigma_0^2`, the Bayesian learning
  rate of :mod:`~neuroplastic.continual.bayes_local`;
* ``"exponential"`` — :math:`g = e^{-I/I_0}`;
* ``"step"`` — :math:`g = [I < I_0]` (freeze consolidated synapses).

Exactness: where :math:`g = 1` (every gate at :math:`I = 0`) the rule's new weight is returned
unchanged, bit for bit; where :math:`g = 0` (:math:`I = \infty`, or at/above the step) the old
weight is returned unchanged. Since :math:`w_\mathrm{old} + g\Delta w` lies between the old and
new weights, the rule's bounds still hold.

The wrappers here apply the gate per call of the rule: per step for the single-step rules;
for a multi-step call (``stdp_sequence``, one Diehl & Cook presentation) they gate that call's
net change, which equals per-step gating for additive rules without bounds. Inside the
compiled loops the gate acts on every single update instead:
:meth:`neuroplastic.network.Network.set_importance` (``set_gate``) gates the STDP of a plastic
projection of the simulator every step, and
:meth:`neuroplastic.models.diehl_cook.DiehlCook.set_importance` every depression,
potentiation and normalisation of a presentation — with the arithmetic of
:func:`gated_update`, so the compiled kernels equal their torch references bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn

from .._validation import check_choice, check_finite
from .importance import Importance

__all__ = ["GATE_KINDS", "GateParams", "GatedRule", "gate_factor", "gate_rule", "gated_update"]

GATE_KINDS = ("inverse", "exponential", "step")


@dataclass(frozen=True)
class GateParams:
    """Shape of the gate :math:`g(I)`: ``kind`` and the importance scale ``scale`` (:math:`I_0`)."""

    kind: Literal["inverse", "exponential", "step"] = "inverse"
    scale: float = 1.0  # I0: importance at which the gate is 1/2 (inverse) or 1/e (exponential)

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, GATE_KINDS)
        v = check_finite("scale", self.scale)
        if v <= 0:
            raise ValueError(f"scale must be > 0, got {self.scale!r}")


def gate_factor(importance: Tensor | Importance, params: GateParams = GateParams()) -> Tensor:
    """:math:`g(I)` elementwise: exactly 1 at :math:`I = 0`, exactly 0 at :math:`I = \\infty`."""
    values = importance.values if isinstance(importance, Importance) else importance
    if not isinstance(values, Tensor) or not values.is_floating_point():
        raise ValueError("importance must be a float tensor or an Importance")
    if torch.isnan(values).any() or (values < 0).any():
        raise ValueError("importance must be >= 0 (no NaN)")
    x = values / params.scale
    if params.kind == "inverse":
        return 1.0 / (1.0 + x)
    if params.kind == "exponential":
        return torch.exp(-x)
    return (values < params.scale).to(values.dtype)


def gated_update(w_old: Tensor, w_new: Tensor, gate: Tensor) -> Tensor:
    """:math:`w_\\mathrm{old} + g\\,(w_\\mathrm{new}-w_\\mathrm{old})`; exactly ``w_new`` where
    ``g == 1`` and exactly ``w_old`` where ``g == 0``."""
    try:
        w_old = torch.broadcast_to(w_old, w_new.shape)  # e.g. shared -> per-trial weights
    except RuntimeError:
        raise ValueError(f"w_old {tuple(w_old.shape)} and w_new {tuple(w_new.shape)} differ")\
            from None
    try:
        g = torch.broadcast_to(gate, w_new.shape)
    except RuntimeError:
        raise ValueError(f"importance/gate of shape {tuple(gate.shape)} does not fit the weights "
                         f"{tuple(w_new.shape)}") from None
    g = g.to(w_new.dtype)
    mixed = w_old + g * (w_new - w_old)
    return torch.where(g == 1, w_new, torch.where(g == 0, w_old, mixed))


def gate_rule(
    rule: Callable[..., Any], gate: Tensor, *, weights_arg: int = 0
) -> Callable[..., Any]:
    """Wrap a plasticity step ``rule(..., w, ...) -> w_new`` or ``-> (w_new, state, ...)`` so that
    its weight change is gated by ``gate`` (:func:`gate_factor`). ``weights_arg`` is the position
    of the weights among the positional arguments."""

    def gated(*args: Any, **kw: Any) -> Any:
        w_in = args[weights_arg]
        w_old = w_in.clone()  # rules such as stdp_step update their weights in place
        out = rule(*args, **kw)
        w_new = out[0] if isinstance(out, tuple) else out
        w = gated_update(w_old, w_new, gate)
        if w_new is w_in:  # keep the rule's in-place contract
            w_in.copy_(w)
            w = w_in
        return (w, *out[1:]) if isinstance(out, tuple) else w

    gated.__name__ = f"gated_{getattr(rule, '__name__', 'rule')}"
    return gated


class GatedRule(nn.Module):
    """Thin module around :func:`gate_rule`: holds the importance and the gate's parameters.

    ``forward(*args, **kw)`` calls the rule and gates its weight change. :meth:`set_importance`
    replaces the importance (its shape must stay that of the projection).
    """

    def __init__(self, rule: Callable[..., Any], importance: Tensor | Importance,
                 params: GateParams = GateParams(), *, weights_arg: int = 0) -> None:
        super().__init__()
        self.rule, self.params, self.weights_arg = rule, params, weights_arg
        values = importance.values if isinstance(importance, Importance) else importance
        self.register_buffer("gate", gate_factor(values, params))

    def set_importance(self, importance: Tensor | Importance) -> None:
        values = importance.values if isinstance(importance, Importance) else importance
        if values.shape != self.gate.shape:
            raise ValueError(f"importance has shape {tuple(values.shape)}, the projection "
                             f"{tuple(self.gate.shape)}")
        self.gate = gate_factor(values, self.params)

    def forward(self, *args: Any, **kw: Any) -> Any:
        return gate_rule(self.rule, self.gate, weights_arg=self.weights_arg)(*args, **kw)


def precision_gate_scale(prior_var: float) -> GateParams:
    """The inverse gate whose factor is the Bayesian learning rate :math:`\\sigma^2/\\sigma_0^2`
    when :math:`I` is the precision gained, :math:`1/\\sigma^2 - 1/\\sigma_0^2`."""
    v = check_finite("prior_var", prior_var)
    if not v > 0 or math.isinf(v):
        raise ValueError(f"prior_var must be > 0, got {prior_var!r}")
    return GateParams("inverse", 1.0 / v)


__all__.append("precision_gate_scale")
