"""Robustness of explanations: max-sensitivity, local Lipschitz estimate, agreement under
imperceptible spike jitter.

* :func:`jitter` — move each input spike by one time step (earlier or later, each with
  probability ``p/2``), keeping the spike count of every channel (spikes pushed off the ends or
  onto another spike stay where they were).
* :func:`max_sensitivity` — Captum's ``sensitivity_max`` (Yeh et al. 2019) with jitter as the
  perturbation: ``max ||e(x') − e(x)|| / ||e(x)||`` over draws.
* :func:`local_lipschitz` — ``max ||e(x') − e(x)|| / ||x' − x||`` over jittered ``x'``
  (Alvarez-Melis & Jaakkola 2018), per input.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from .._validation import check_int, check_range
from .planted import block_scores
from .validity import rank_correlation

__all__ = ["jitter", "jitter_agreement", "local_lipschitz", "max_sensitivity"]


def jitter(x: Tensor, p: float, generator: torch.Generator) -> Tensor:
    """Shift each spike of ``x`` ``(B, T, n)`` by ±1 step with probability ``p`` (see module)."""
    check_range("p", p, 0.0, 1.0)
    spk = x > 0
    u = torch.rand(x.shape, generator=generator)
    move = torch.where(u < p / 2, -1, torch.where(u < p, 1, 0)) * spk
    out = spk.clone()
    t = x.shape[1]
    for d in (-1, 1):
        src = (move == d).nonzero()
        for b, i, c in src.tolist():
            j = i + d
            if 0 <= j < t and not out[b, j, c]:
                out[b, i, c], out[b, j, c] = False, True
    return out.to(x.dtype)


def max_sensitivity(explain: Callable[[Tensor, Tensor], Tensor], x: Tensor, target: Tensor, *,
                    p: float, draws: int, seed: int) -> Tensor:
    """Captum's ``sensitivity_max`` under spike jitter, ``(B,)``; ``explain(x, target)``."""
    from captum.metrics import sensitivity_max

    check_int("draws", draws, 1)
    g = torch.Generator().manual_seed(seed)

    def perturb(inputs: Tensor, perturb_radius: float = 0.0) -> Tensor:
        return jitter(inputs, p, g)

    def fn(inputs: Tensor | tuple[Tensor, ...], target: Tensor) -> tuple[Tensor]:
        return (explain(inputs[0] if isinstance(inputs, tuple) else inputs, target),)

    return sensitivity_max(fn, x, perturb_func=perturb, n_perturb_samples=draws,
                           target=target).detach()


def local_lipschitz(explain: Callable[[Tensor, Tensor], Tensor], x: Tensor, target: Tensor, *,
                    p: float, draws: int, seed: int) -> Tensor:
    """``max ||e(x') − e(x)||₂ / ||x' − x||₂`` over ``draws`` jitters, ``(B,)``."""
    check_int("draws", draws, 1)
    g = torch.Generator().manual_seed(seed)
    e0 = explain(x, target).reshape(x.shape[0], -1)
    best = torch.zeros(x.shape[0], dtype=torch.float64)
    for _ in range(draws):
        xj = jitter(x, p, g)
        dx = (xj - x).reshape(x.shape[0], -1).norm(dim=1).to(torch.float64)
        de = (explain(xj, target).reshape(x.shape[0], -1) - e0).norm(dim=1).to(torch.float64)
        best = torch.maximum(best, torch.where(dx > 0, de / dx.clamp_min(1e-30), 0.0))
    return best


def jitter_agreement(explain: Callable[[Tensor, Tensor], Tensor], x: Tensor, target: Tensor, *,
                     p: float, window: int, seed: int) -> np.ndarray:
    """Spearman correlation of (window × channel) block attributions of ``x`` and a jittered
    copy, per input (blocks: spikes move by one step, so compare on a coarser grid)."""
    g = torch.Generator().manual_seed(seed)
    xj = jitter(x, p, g)
    a = block_scores(explain(x, target), window)
    b = block_scores(explain(xj, target), window)
    return rank_correlation(a, b, torch.ones_like(a))
