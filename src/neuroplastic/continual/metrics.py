r"""Continual-learning metrics from the accuracy matrix (Lopez-Paz & Ranzato 2017).

:math:`R_{ij}` is the test accuracy on task :math:`j` after training on task :math:`i`
(:math:`T\times T`). With :math:`b_j` the accuracy on task :math:`j` of the network before any
training:

* average accuracy :math:`\mathrm{ACC} = \frac1T\sum_j R_{T-1,j}`;
* backward transfer :math:`\mathrm{BWT} = \frac1{T-1}\sum_{j<T-1} (R_{T-1,j} - R_{jj})`
  (negative = forgetting);
* forward transfer :math:`\mathrm{FWT} = \frac1{T-1}\sum_{j>0} (R_{j-1,j} - b_j)`;
* forgetting of task :math:`j`: :math:`\max_{l<T-1} R_{lj} - R_{T-1,j}` (Chaudhry et al. 2018).

Two evaluation protocols (van de Ven & Tolias 2019): **class-incremental** — choose among all
classes seen so far; **task-incremental** — the task (its classes) is given, choose among them
(:func:`accuracy` with ``allowed``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = [
    "accuracy",
    "average_accuracy",
    "backward_transfer",
    "check_accuracy_matrix",
    "forgetting",
    "forward_transfer",
]


def check_accuracy_matrix(R: Tensor) -> Tensor:
    """``R`` as float64 ``(T, T)`` with entries in [0, 1] (``ValueError`` naming ``R``)."""
    R = torch.as_tensor(R, dtype=torch.float64)
    if R.dim() != 2 or R.shape[0] != R.shape[1] or R.shape[0] == 0:
        raise ValueError(f"R must be a square (T, T) accuracy matrix, got {tuple(R.shape)}")
    if not torch.isfinite(R).all() or (R < 0).any() or (R > 1).any():
        raise ValueError("R must hold accuracies in [0, 1]")
    return R


def average_accuracy(R: Tensor, after: int | None = None) -> float:
    """Mean accuracy over tasks ``0..after`` after training on task ``after`` (default last)."""
    R = check_accuracy_matrix(R)
    i = R.shape[0] - 1 if after is None else after
    if not 0 <= i < R.shape[0]:
        raise ValueError(f"after must be in [0, {R.shape[0] - 1}], got {after!r}")
    return float(R[i, : i + 1].mean())


def backward_transfer(R: Tensor) -> float:
    """BWT; 0 for a single task."""
    R = check_accuracy_matrix(R)
    T = R.shape[0]
    if T < 2:
        return 0.0
    return float((R[T - 1, : T - 1] - R.diagonal()[: T - 1]).mean())


def forward_transfer(R: Tensor, baseline: Sequence[float] | Tensor) -> float:
    """FWT against the untrained accuracies ``baseline`` ``(T,)``; 0 for a single task."""
    R = check_accuracy_matrix(R)
    T = R.shape[0]
    b = torch.as_tensor(baseline, dtype=torch.float64)
    if b.shape != (T,):
        raise ValueError(f"baseline must have one accuracy per task ({T}), got {tuple(b.shape)}")
    if T < 2:
        return 0.0
    return float((R.diagonal(1) - b[1:]).mean())


def forgetting(R: Tensor) -> Tensor:
    """Per-task forgetting ``(T-1,)``: best earlier accuracy minus the final one."""
    R = check_accuracy_matrix(R)
    T = R.shape[0]
    if T < 2:
        return torch.zeros(0, dtype=torch.float64)
    best = torch.stack([R[: T - 1, j].max() for j in range(T - 1)])
    return best - R[T - 1, : T - 1]


def accuracy(logits: Tensor, y: Tensor, allowed: Sequence[int] | Tensor | None = None) -> float:
    """Fraction of ``argmax`` predictions equal to ``y``; with ``allowed`` only those classes
    compete (task-incremental: the task's classes; class-incremental: the classes seen)."""
    if logits.dim() != 2 or y.shape != (logits.shape[0],):
        raise ValueError(f"logits must be (n, C) and y (n,), got {tuple(logits.shape)} and "
                         f"{tuple(y.shape)}")
    if y.numel() == 0:
        raise ValueError("accuracy of an empty set")
    if allowed is not None:
        idx = torch.as_tensor(list(allowed) if not isinstance(allowed, Tensor) else allowed,
                              dtype=torch.int64)
        mask = torch.full((logits.shape[1],), -torch.inf, dtype=logits.dtype)
        mask[idx] = 0.0
        logits = logits + mask
    return float((logits.argmax(1) == y).to(torch.float64).mean())
