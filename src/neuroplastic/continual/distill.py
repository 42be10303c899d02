r"""Knowledge distillation and Learning without Forgetting (LwF).

* :func:`distillation_loss` — Hinton, Vinyals & Dean (2015) soft-target loss of a student's
  logits against a teacher's over a subset of classes, at temperature :math:`T`, scaled by
  :math:`T^2` so that its gradient does not shrink as :math:`T` grows:
  :math:`T^2\,\frac1n\sum_n \mathrm{KL}(q_n\,\|\,p_n)`, :math:`q = \mathrm{softmax}(z_t/T)`,
  :math:`p = \mathrm{softmax}(z_s/T)`.
* :func:`replay_objective` — the whole loss of a generative-replay step in one autograd node:
  a weighted (masked) cross-entropy over the incoming and replayed rows plus the
  distillation of the teacher's soft targets into the replayed rows, with the closed-form
  gradient with respect to the logits; :func:`replay_logit_grad` is that gradient alone
  (four tensor operations on the constant parts built by :func:`replay_terms`), to be
  pushed through the network by ``z.backward(grad)``: the network is small enough that the
  dozen autograd nodes of the composed loss cost a sixth of a training step. The learner's
  replay steps run the same formula as one compiled call (:mod:`._replay_kernel`);
* :class:`LearningWithoutForgetting` — Li & Hoiem (2017): at the end of each task the network
  is frozen as the *teacher*; while the next task is learned, the teacher's outputs on the
  **new** inputs (no old data, no generator) over the classes it knew are distilled into the
  network: :math:`L = L_\mathrm{new} + \lambda_o\,T^2\,\mathrm{KL}(q\,\|\,p)`.

Avalanche 0.6's ``LwF`` plugin adds ``alpha · KL`` without the :math:`T^2` factor: its
``alpha`` equals ``weight · T**2`` here.
"""

from __future__ import annotations

import copy
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._validation import check_nonnegative, check_positive

__all__ = [
    "LearningWithoutForgetting",
    "distillation_from_targets",
    "distillation_loss",
    "ReplayTerms",
    "replay_logit_grad",
    "replay_objective",
    "replay_terms",
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


class ReplayTerms(NamedTuple):
    """The constant parts of :func:`replay_objective` for ``n`` rows (:func:`replay_terms`)."""

    masks: Tensor  # (n, 2, C): the hard rows' logit mask; the teacher's columns (0 / -inf)
    scales: Tensor  # (1, 2, 1): 1 and 1/T, the logits' factors of the two softmaxes
    weights: Tensor  # (n, 1, 2): w_i and s_i / T
    neg_targets: Tensor  # (n, 1, C): -(w_i e_{y_i} + (s_i / T) q_i on the teacher's columns)
    classes: Tensor  # (K,) int64: the teacher's columns


def replay_terms(y: Tensor, mask: Tensor, weights: Tensor, q: Tensor | None = None,
                 soft_weights: Tensor | None = None, classes: list[int] | Tensor | None = None,
                 temperature: float = 2.0) -> ReplayTerms:
    """The parts of :func:`replay_objective` that do not depend on the logits (its other
    arguments), in the layout :func:`replay_logit_grad` reads."""
    T = check_positive("temperature", temperature)
    n = y.shape[0]
    if y.dim() != 1 or weights.shape != (n,) or mask.dim() not in (1, 2) or (
            mask.dim() == 2 and mask.shape[0] != n):
        raise ValueError(f"y and weights must be (n,) and mask (C,) or (n, C), got "
                         f"{tuple(y.shape)}, {tuple(weights.shape)} and {tuple(mask.shape)}")
    C = mask.shape[-1]
    f = dict(dtype=mask.dtype)
    w = weights.to(mask.dtype)
    tgt = torch.zeros(n, C, **f).scatter_(1, y.unsqueeze(1), w.unsqueeze(1))
    if q is None:
        idx = torch.zeros(0, dtype=torch.int64)
        soft_mask = torch.zeros(C, **f)
        sw = torch.zeros(n, **f)
    else:
        idx = (torch.arange(q.shape[1]) if classes is None
               else torch.as_tensor(classes, dtype=torch.int64))
        if q.shape != (n, idx.numel()) or soft_weights is None or soft_weights.shape != (n,):
            raise ValueError(f"q must be (n, K) = ({n}, {idx.numel()}) and soft_weights (n,), "
                             f"got {tuple(q.shape)} and "
                             f"{None if soft_weights is None else tuple(soft_weights.shape)}")
        soft_mask = torch.full((C,), -torch.inf, **f)
        soft_mask[idx] = 0.0
        sw = soft_weights.to(mask.dtype) / T
        tgt[:, idx] += sw.unsqueeze(1) * q.to(mask.dtype)
    masks = torch.stack([mask.expand(n, C), soft_mask.expand(n, C)], 1)
    return ReplayTerms(masks, torch.tensor([1.0, 1.0 / T], **f).view(1, 2, 1),
                       torch.stack([w, sw], 1).unsqueeze(1), tgt.neg_().unsqueeze(1), idx)


def replay_logit_grad(z: Tensor, terms: ReplayTerms) -> tuple[Tensor, Tensor]:
    r"""The gradient of :func:`replay_objective`'s loss with respect to the logits ``z``
    ``(n, C)``, in closed form,

    .. math:: \partial L/\partial z_i = w_i(\mathrm{softmax}(z_i + m_i) - e_{y_i})
              + \frac{s_i}{T}(\mathrm{softmax}(z_i[\mathrm{classes}]/T) - q_i),

    and the log-probabilities ``(n, 2, C)`` of both softmaxes (``[:, 0]``: the masked
    ``log_softmax(z + m)``, whose ``-[i, y_i]`` is row ``i``'s cross-entropy). Four tensor
    operations, no autograd graph; ``z.backward(grad)`` then trains the network."""
    with torch.no_grad():
        ls = torch.log_softmax(torch.addcmul(terms.masks, z.unsqueeze(1), terms.scales), 2)
        g = torch.baddbmm(terms.neg_targets, terms.weights, ls.exp())
    return g.view(z.shape), ls


class _ReplayObjective(torch.autograd.Function):
    """Forward: the loss of :func:`replay_objective` and the per-row cross-entropy, with the
    closed-form gradient of :func:`replay_logit_grad` computed on the way; backward: that
    gradient times the incoming one."""

    @staticmethod
    def forward(ctx, z, y, terms_masks, terms_scales, terms_weights, terms_neg, idx, q):
        terms = ReplayTerms(terms_masks, terms_scales, terms_weights, terms_neg, idx)
        g, ls = replay_logit_grad(z, terms)
        ce = ls[:, 0].gather(1, y.unsqueeze(1)).squeeze(1).neg_()
        w = terms_weights[:, 0]
        total = torch.dot(ce, w[:, 0])
        if q is not None:  # + sum_i s_i sum_k -q_ik log softmax(z_i[classes] / T)_k
            soft = (q * ls[:, 1].index_select(1, idx)).sum(1)
            total = total - torch.dot(soft, w[:, 1]) / terms_scales[0, 1, 0]
        ctx.save_for_backward(g)
        ctx.mark_non_differentiable(ce)
        return total, ce

    @staticmethod
    def backward(ctx, grad_total, _grad_ce):
        (g,) = ctx.saved_tensors
        return (g * grad_total,) + (None,) * 7


def replay_objective(z: Tensor, y: Tensor, mask: Tensor, weights: Tensor,
                     q: Tensor | None = None, soft_weights: Tensor | None = None,
                     classes: list[int] | Tensor | None = None,
                     temperature: float = 2.0) -> tuple[Tensor, Tensor]:
    r"""The loss of a replay step over logits ``z`` ``(n, C)`` as one autograd node:

    .. math:: L = \sum_i w_i\,\mathrm{CE}(z_i + m_i,\ y_i)
              + \sum_i s_i \sum_k -q_{ik}\log\mathrm{softmax}(z_i[\mathrm{classes}]/T)_k,

    ``m`` the additive logit ``mask`` (``(C,)`` or ``(n, C)``, ``-inf`` = excluded class),
    ``w`` = ``weights``, ``s`` = ``soft_weights`` (``(n,)``; 0 on the rows without a
    teacher), ``q`` ``(n, K)`` the teacher's soft targets over ``classes`` (default: the first
    ``K`` columns). Over the replayed rows, the second term is
    :func:`distillation_from_targets` without its constant entropy, times ``s·n_r/T²``.
    Returns ``(L, ce)``, ``ce`` ``(n,)`` the per-row cross-entropy (no gradient). The
    gradient with respect to ``z`` is the closed form of :func:`replay_logit_grad`."""
    if z.dim() != 2:
        raise ValueError(f"z must be (n, C), got {tuple(z.shape)}")
    t = replay_terms(y, mask.to(z.dtype), weights, q, soft_weights, classes, temperature)
    if t.masks.shape != (z.shape[0], 2, z.shape[1]):
        raise ValueError(f"z must be ({t.masks.shape[0]}, {t.masks.shape[2]}), got "
                         f"{tuple(z.shape)}")
    return _ReplayObjective.apply(z, y, t.masks, t.scales, t.weights, t.neg_targets, t.classes,
                                  None if q is None else q.to(z.dtype))


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
