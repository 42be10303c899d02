r"""Online Laplace: the posterior of one task becomes the prior of the next.

After task :math:`t` the posterior is approximated by a Gaussian around the MAP,

.. math:: \mu_t = \arg\min_\theta\ \big[\mathrm{NLL}_t(\theta) +
          \tfrac12(\theta-\mu_{t-1})^\top\Lambda_{t-1}(\theta-\mu_{t-1})\big],\qquad
          \Lambda_t = \Lambda_{t-1} + \nabla^2_\theta\,\mathrm{NLL}_t(\mu_t),

so precision accumulates across tasks (Ritter, Botev & Barber 2018; Kirkpatrick et al.'s EWC
is the diagonal case with the Fisher as curvature). For a linear-Gaussian model the
log-likelihood is quadratic and this recursion is the exact sequential posterior.

:class:`GaussianPosterior` holds a mean and a diagonal ``(n,)`` or full ``(n, n)`` precision;
:func:`laplace_step` performs one task's update for a parameter vector (Newton's method with
the autograd Hessian: small models, tests). :class:`OnlineLaplace` is the network version:
per-parameter diagonal precisions accumulated from a curvature estimate (the diagonal Fisher of
:func:`~neuroplastic.continual.importance.fisher_diagonal`, times the number of samples), used
through the quadratic penalty.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .._validation import check_int, check_nonnegative, check_positive
from .importance import Importance
from .penalty import quadratic_penalty

__all__ = ["GaussianPosterior", "OnlineLaplace", "laplace_step"]


@dataclass(frozen=True)
class GaussianPosterior:
    """:math:`\\mathcal N(\\mu, \\Lambda^{-1})` with diagonal ``(n,)`` or full ``(n, n)``
    precision."""

    mean: Tensor
    precision: Tensor

    def __post_init__(self) -> None:
        m, p = self.mean, self.precision
        if not isinstance(m, Tensor) or m.dim() != 1:
            raise ValueError("mean must be a 1-D tensor")
        if not isinstance(p, Tensor) or p.shape not in ((m.numel(),), (m.numel(), m.numel())):
            raise ValueError(f"precision must have shape ({m.numel()},) or "
                             f"({m.numel()}, {m.numel()}), got {tuple(getattr(p, 'shape', ()))}")
        if not torch.isfinite(m).all() or not torch.isfinite(p).all():
            raise ValueError("mean and precision must be finite")
        if p.dim() == 1 and (p < 0).any():
            raise ValueError("precision must be >= 0")
        if p.dim() == 2 and not torch.allclose(p, p.T):
            raise ValueError("precision must be symmetric")

    @property
    def diagonal(self) -> bool:
        return self.precision.dim() == 1

    def neg_log_prior(self, theta: Tensor) -> Tensor:
        """:math:`\\tfrac12(\\theta-\\mu)^\\top\\Lambda(\\theta-\\mu)` (up to a constant)."""
        d = theta - self.mean
        if self.diagonal:
            return 0.5 * (self.precision * d * d).sum()
        return 0.5 * d @ (self.precision @ d)

    def covariance(self) -> Tensor:
        if self.diagonal:
            return torch.diag(1.0 / self.precision)
        return torch.linalg.inv(self.precision)


def laplace_step(
    prior: GaussianPosterior,
    nll: Callable[[Tensor], Tensor],
    *,
    newton_steps: int = 20,
    tol: float = 1e-12,
) -> GaussianPosterior:
    """One task of online Laplace: MAP of ``nll(θ) + prior`` by Newton's method from the prior
    mean, then ``precision = prior.precision + Hessian(nll)(MAP)`` (its diagonal if the prior is
    diagonal). Exact posterior for a quadratic ``nll`` (linear-Gaussian models)."""
    check_int("newton_steps", newton_steps, 1)
    check_nonnegative("tol", tol)

    def objective(t: Tensor) -> Tensor:
        return nll(t) + prior.neg_log_prior(t)

    theta = prior.mean.detach().clone()
    for _ in range(newton_steps):
        t = theta.clone().requires_grad_(True)
        g = torch.autograd.grad(objective(t), t)[0]
        H = torch.autograd.functional.hessian(objective, theta)
        step = torch.linalg.solve(H, g)
        theta = theta - step
        if float(step.abs().max()) <= tol:
            break
    H_nll = torch.autograd.functional.hessian(nll, theta)
    if prior.diagonal:
        return GaussianPosterior(theta, prior.precision + H_nll.diagonal())
    return GaussianPosterior(theta, prior.precision + 0.5 * (H_nll + H_nll.T))


class OnlineLaplace:
    r"""Diagonal online Laplace for a network's parameters.

    ``precision`` starts at ``prior_precision`` (an isotropic Gaussian prior at the initial
    weights); :meth:`consolidate` adds ``n_samples`` × the per-sample curvature (e.g. the mean
    diagonal Fisher) and moves the mean to the current weights. :meth:`penalty` is the
    prior's negative log density divided by ``n_data`` (the size of the task being learned), to
    be added to a mean (per-sample) loss.
    """

    def __init__(self, model: nn.Module, prior_precision: float = 1e-4) -> None:
        check_nonnegative("prior_precision", prior_precision)
        self.posterior: dict[str, Importance] = {
            n: Importance(torch.full_like(p.detach(), float(prior_precision)),
                          p.detach().clone(), "laplace")
            for n, p in model.named_parameters() if p.requires_grad
        }

    def consolidate(self, model: nn.Module, curvature: Mapping[str, Tensor | Importance],
                    n_samples: int) -> None:
        check_int("n_samples", n_samples, 1)
        params = dict(model.named_parameters())
        new = {}
        for n, imp in self.posterior.items():
            c = curvature[n]
            c = c.values if isinstance(c, Importance) else c
            imp.check_shape(n, c.shape)
            new[n] = Importance(imp.values + n_samples * c.detach(),
                                params[n].detach().clone(), "laplace")
        self.posterior = new

    def penalty(self, model: nn.Module, n_data: int) -> Tensor:
        return quadratic_penalty(dict(model.named_parameters()), self.posterior,
                                 1.0 / check_positive("n_data", n_data))
