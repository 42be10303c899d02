r"""The quadratic consolidation penalty :math:`\tfrac\lambda2\sum_i I_i(\theta_i-\theta_i^*)^2`.

EWC, online EWC, SI, MAS and online Laplace all protect old tasks with this penalty; they
differ only in the :class:`~neuroplastic.continual.importance.Importance` they put in it.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from .._validation import check_nonnegative
from .importance import Importance

__all__ = ["QuadraticPenalty", "quadratic_penalty"]


def quadratic_penalty(
    params: Mapping[str, Tensor],
    importances: Mapping[str, Importance],
    strength: float = 1.0,
) -> Tensor:
    r""":math:`\tfrac\lambda2\sum_n\sum I_n(\theta_n-\theta_n^*)^2` over the parameters named in
    ``importances`` (each must exist in ``params`` with the importance's shape)."""
    lam = check_nonnegative("strength", strength)
    total: Tensor | None = None
    for name, imp in importances.items():
        if name not in params:
            raise ValueError(f"importance names parameter {name!r}, which the model lacks")
        p = params[name]
        imp.check_shape(name, p.shape)
        if torch.isinf(imp.values).any():
            raise ValueError(f"importance of {name} is infinite: a penalty cannot hold it "
                             "(use the gate of neuroplastic.continual.gate)")
        term = (imp.values.to(p.dtype) * (p - imp.anchor.to(p.dtype)) ** 2).sum()
        total = term if total is None else total + term
    if total is None:
        ref = next(iter(params.values()), None)
        return torch.zeros((), dtype=torch.float32 if ref is None else ref.dtype)
    return 0.5 * lam * total


class QuadraticPenalty(nn.Module):
    """Holds the importances of a model's parameters; ``penalty(model)`` is the scalar.

    Parameters
    ----------
    strength
        :math:`\\lambda \\ge 0`.
    """

    def __init__(self, strength: float = 1.0) -> None:
        super().__init__()
        self.strength = check_nonnegative("strength", strength)
        self.importances: dict[str, Importance] = {}

    def update(self, importances: Mapping[str, Importance]) -> None:
        """Replace the importances (e.g. after :func:`~.importance.combine_maps`)."""
        self.importances = dict(importances)

    def forward(self, model: nn.Module) -> Tensor:
        return quadratic_penalty(dict(model.named_parameters()), self.importances,
                                 self.strength)

    def state_tensors(self) -> dict[str, Tensor]:
        out = {}
        for n, imp in self.importances.items():
            out[f"values.{n}"] = imp.values
            out[f"anchor.{n}"] = imp.anchor
        return out

    def load_state_tensors(self, tensors: Mapping[str, Tensor], method: str) -> None:
        names = [k[len("values."):] for k in tensors if k.startswith("values.")]
        self.importances = {n: Importance(tensors[f"values.{n}"].clone(),
                                          tensors[f"anchor.{n}"].clone(), method)
                            for n in names}
