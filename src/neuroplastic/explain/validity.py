"""Causal validity of attributions: deletion / insertion curves, paired tests, sanity checks.

* :func:`perturbation_curves` — delete the input spikes in the order of an attribution (most
  positive first) or insert them into an empty raster, and follow the target score (Petsiuk et
  al. 2018 for images; here on spikes). A faithful map gives a *low* deletion AUC and a *high*
  insertion AUC compared with a random order or with another input's map (permutation).
* :func:`paired_test` — one-sided Wilcoxon signed-rank test over inputs (scipy).
* :func:`rank_correlation` — Spearman correlation of two maps per input, over the entries where
  the input has a spike (zeros of a binary raster would otherwise make every gradient × input
  map look alike); used for the model- and data-randomisation checks of Adebayo et al. 2018.
* :func:`mediation_curve` — causal mediation by hidden neurons: silence them in an order, follow
  the change of the output.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from scipy import stats
from torch import Tensor, nn

from .._validation import check_choice, check_int
from .attribution import silenced

__all__ = [
    "auc",
    "mediation_curve",
    "paired_test",
    "perturbation_curves",
    "rank_correlation",
    "spike_order",
]


def spike_order(attr: Tensor, x: Tensor) -> Tensor:
    """Position of every entry in the order of decreasing attribution, spikes first:
    ``(B, T*n)`` integers, 0 = the most positive spike."""
    b = x.shape[0]
    key = torch.where(x.reshape(b, -1) > 0, attr.reshape(b, -1).to(torch.float64),
                      torch.tensor(-torch.inf, dtype=torch.float64))
    order = torch.argsort(key, dim=1, descending=True, stable=True)
    pos = torch.empty_like(order)
    pos.scatter_(1, order, torch.arange(order.shape[1]).expand_as(order).contiguous())
    return pos


def perturbation_curves(score: Callable[[Tensor], Tensor], x: Tensor, target: Tensor,
                        attr: Tensor, *, steps: int = 10, mode: str = "deletion") -> Tensor:
    """Target score after deleting (inserting) the top ``k/steps`` of each input's spikes.

    Returns ``(B, steps + 1)``: column ``k`` is ``score(x_k)[target]`` where ``x_k`` lacks
    (``deletion``) or holds only (``insertion``) the ``round(k/steps · S_b)`` highest-attributed
    spikes of input ``b`` (``S_b`` = its spike count).
    """
    check_choice("mode", mode, ("deletion", "insertion"))
    check_int("steps", steps, 1)
    b = x.shape[0]
    pos = spike_order(attr, x)
    n_spk = (x.reshape(b, -1) > 0).sum(1)
    flat = x.reshape(b, -1).to(torch.float32)
    out = torch.empty(b, steps + 1, dtype=torch.float64)
    with torch.no_grad():
        for k in range(steps + 1):
            top = pos < torch.round(n_spk * (k / steps)).long()[:, None]
            xk = flat * (~top) if mode == "deletion" else flat * top
            s = score(xk.reshape(x.shape))
            out[:, k] = s.gather(1, target.long()[:, None])[:, 0].to(torch.float64)
    return out


def auc(curve: Tensor) -> Tensor:
    """Area under each row of a curve sampled on ``[0, 1]`` (trapezoid), ``(B,)``."""
    n = curve.shape[1] - 1
    return (curve[:, 1:] + curve[:, :-1]).sum(1) / (2 * n)


def paired_test(a: Tensor | np.ndarray, b: Tensor | np.ndarray, alternative: str) -> float:
    """p-value of the one-sided Wilcoxon signed-rank test of ``a − b`` (``"less"``, ``"greater"``
    = the alternative)."""
    check_choice("alternative", alternative, ("less", "greater"))
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if np.all(a == b):
        return 1.0
    return float(stats.wilcoxon(a, b, alternative=alternative, zero_method="zsplit").pvalue)


def rank_correlation(a: Tensor, b: Tensor, x: Tensor) -> np.ndarray:
    """Spearman correlation of maps ``a`` and ``b`` per input, over the input's spikes ``(B,)``
    (0 where fewer than 3 spikes or a map is constant there)."""
    bsz = x.shape[0]
    out = np.zeros(bsz)
    for i in range(bsz):
        m = (x[i] > 0).reshape(-1)
        u, v = a[i].reshape(-1)[m].numpy(), b[i].reshape(-1)[m].numpy()
        if m.sum() >= 3 and np.ptp(u) > 0 and np.ptp(v) > 0:
            out[i] = stats.spearmanr(u, v).statistic
    return out


def mediation_curve(score: Callable[[Tensor], Tensor], layer: nn.Module, x: Tensor,
                    target: Tensor, order: Tensor, *, steps: int = 10) -> Tensor:
    """Target score while silencing the first ``k/steps`` of the neurons of ``layer`` in
    ``order`` (``(B, N)``, per input), ``(B, steps + 1)``."""
    check_int("steps", steps, 1)
    b, n = order.shape
    pos = torch.empty_like(order)
    pos.scatter_(1, order, torch.arange(n).expand_as(order).contiguous())
    out = torch.empty(b, steps + 1, dtype=torch.float64)
    with torch.no_grad():
        for k in range(steps + 1):
            mask = (pos >= round(n * k / steps)).to(torch.float32)
            with silenced(layer, mask):
                s = score(x.to(torch.float32))
            out[:, k] = s.gather(1, target.long()[:, None])[:, 0].to(torch.float64)
    return out
