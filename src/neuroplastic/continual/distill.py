r"""Knowledge distillation and Learning without Forgetting (LwF).

* :func:`distillation_loss` — Hinton, Vinyals & Dean (2015) soft-target loss of a student's
  logits against a teacher's over a subset of classes, at temperature :math:`T`, scaled by
  :math:`T^2` so that its gradient does not shrink as :math:`T` grows:
  :math:`T^2\,\frac1n\sum_n \mathrm{KL}(q_n\,\|\,p_n)`, :math:`q = \mathrm{softmax}(z_t/T)`,
  :math:`p = \mathrm{softmax}(z_s/T)`.
* :class:`LearningWithoutForgetting` — Li & Hoiem (2017): at the end of each task the network
  is frozen as the *teacher*; while the next task is learned, the teacher's outputs on the
  **new** inputs (no old data, no generator) over the classes it knew are distilled into the
  network: :math:`L = L_\mathrm{new} + \lambda_o\,T^2\,\mathrm{KL}(q\,\|\,p)`.

Avalanche 0.6's ``LwF`` plugin adds ``alpha · KL`` without the :math:`T^2` factor: its
``alpha`` equals ``weight · T**2`` here.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._validation import check_nonnegative, check_positive

__all__ = [
    "LearningWithoutForgetting",
    "distillation_from_targets",
    "distillation_loss",
    "soft_targets",
]


def soft_targets(teacher_logits: Tensor, classes: list[int] | Tensor,
                 temperature: float = 2.0) -> tuple[Tensor, Tensor]:
    """The teacher's tempered distribution over ``classes``: ``(q, log q)``, each ``(n, K)``
    (computed once, reused by :func:`distillation_from_targets`)."""
    T = check_positive("temperature", temperature)
    if teacher_logits.dim() != 2:
        raise ValueError(f"teacher_logits must be (n, C), got {tuple(teacher_logits.shape)}")
    idx = torch.as_tensor(classes, dtype=torch.int64)
    if idx.numel() == 0:
        raise ValueError("classes must not be empty")
    log_q = F.log_softmax(teacher_logits.detach()[:, idx] / T, dim=1)
    return log_q.exp(), log_q


def distillation_from_targets(student_logits: Tensor, q: Tensor, log_q: Tensor,
                              classes: list[int] | Tensor, temperature: float = 2.0) -> Tensor:
    r""":math:`T^2\,\frac1n\sum_n\sum_k q_{nk}(\log q_{nk} - \log p_{nk})` with
    :math:`p = \mathrm{softmax}(z_s[:, \mathrm{classes}]/T)` and the targets of
    :func:`soft_targets`."""
    T = check_positive("temperature", temperature)
    idx = torch.as_tensor(classes, dtype=torch.int64)
    if student_logits.dim() != 2 or q.shape != (student_logits.shape[0], idx.numel()):
        raise ValueError(f"student_logits must be (n, C) and q (n, {idx.numel()}), got "
                         f"{tuple(student_logits.shape)} and {tuple(q.shape)}")
    log_p = F.log_softmax(student_logits[:, idx] / T, dim=1)
    return (q * (log_q - log_p)).sum() * (T * T / student_logits.shape[0])


def distillation_loss(student_logits: Tensor, teacher_logits: Tensor,
                      classes: list[int] | Tensor, temperature: float = 2.0) -> Tensor:
    r"""Hinton et al. (2015) soft-target loss over ``classes``, scaled by :math:`T^2`:
    :math:`T^2\,\mathrm{KL}(\mathrm{softmax}(z_t/T)\,\|\,\mathrm{softmax}(z_s/T))`,
    averaged over the batch (the teacher's logits are not differentiated)."""
    if student_logits.shape != teacher_logits.shape or student_logits.dim() != 2:
        raise ValueError(f"student_logits and teacher_logits must both be (n, C), got "
                         f"{tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}")
    q, log_q = soft_targets(teacher_logits, classes, temperature)
    return distillation_from_targets(student_logits, q, log_q, classes, temperature)


class LearningWithoutForgetting:
    """LwF: distil a frozen copy of the network (taken at each consolidation) on new inputs.

    Parameters
    ----------
    temperature
        Distillation temperature :math:`T > 0` (Li & Hoiem use 2).
    weight
        :math:`\\lambda_o \\ge 0`, the weight of the distillation term.
    """

    def __init__(self, temperature: float = 2.0, weight: float = 1.0) -> None:
        self.temperature = check_positive("temperature", temperature)
        self.weight = check_nonnegative("weight", weight)
        self.teacher: nn.Module | None = None
        self.classes: list[int] = []

    def consolidate(self, model: nn.Module, classes: list[int]) -> None:
        """Freeze a copy of ``model`` as the teacher of the classes ``classes`` it knows."""
        if len(classes) == 0:
            raise ValueError("classes must not be empty")
        self.teacher = copy.deepcopy(model).eval()
        for q in self.teacher.parameters():
            q.requires_grad_(False)
        self.classes = sorted(int(c) for c in classes)

    def loss(self, x: Tensor, student_logits: Tensor) -> Tensor | None:
        """``weight ·`` :func:`distillation_loss` of the student's logits on ``x`` against the
        teacher's (``None`` before the first consolidation)."""
        if self.teacher is None:
            return None
        with torch.no_grad():
            tz = self.teacher(x)
        return self.weight * distillation_loss(student_logits, tz, self.classes,
                                               self.temperature)
