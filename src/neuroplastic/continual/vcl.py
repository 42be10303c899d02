r"""Variational continual learning (Nguyen, Li, Bui & Turner 2018): mean-field Gaussian weights.

Every weight has a Gaussian posterior :math:`q(w)=\mathcal N(\mu,\sigma^2)`
(:math:`\sigma=\mathrm{softplus}(\rho)`); a task is learned by minimising

.. math:: \mathcal L = \mathbb E_q[\mathrm{NLL}(w)] + \tfrac1N\,\mathrm{KL}(q\,\|\,p),

with :math:`p` the previous task's posterior (:func:`update_prior` copies :math:`q` into
:math:`p` after a task; the first prior is :math:`\mathcal N(0,\sigma_0^2)`). The KL of two
diagonal Gaussians is closed form (:func:`kl_diag_gaussians`):

.. math:: \mathrm{KL} = \sum \log\frac{\sigma_p}{\sigma_q}
          + \frac{\sigma_q^2 + (\mu_q-\mu_p)^2}{2\sigma_p^2} - \frac12 .

:class:`MeanFieldLinear` is a drop-in ``nn.Linear`` (it also works inside
:class:`~neuroplastic.surrogate.TimeDistributed`, one weight sample per call, so one per
spiking time series).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._validation import check_int, check_positive

__all__ = ["MeanFieldLinear", "kl_diag_gaussians", "model_kl", "update_prior"]


def kl_diag_gaussians(mu_q: Tensor, sigma_q: Tensor, mu_p: Tensor, sigma_p: Tensor) -> Tensor:
    """Closed-form :math:`\\mathrm{KL}(\\mathcal N(\\mu_q,\\sigma_q^2)\\|\\mathcal N(\\mu_p,
    \\sigma_p^2))` summed over all elements."""
    if (sigma_q <= 0).any() or (sigma_p <= 0).any():
        raise ValueError("standard deviations must be > 0")
    r = sigma_q / sigma_p
    return (-torch.log(r) + 0.5 * (r * r + ((mu_q - mu_p) / sigma_p) ** 2) - 0.5).sum()


class MeanFieldLinear(nn.Module):
    """Linear layer with a factorised Gaussian posterior over weights and biases.

    ``forward`` draws one weight sample (reparameterised; ``generator`` for reproducibility)
    in training mode and uses the means in eval mode (or when ``sample=False``).
    """

    def __init__(self, in_features: int, out_features: int, *, prior_sigma: float = 1.0,
                 init_sigma: float = 1e-3, generator: torch.Generator | None = None) -> None:
        super().__init__()
        check_int("in_features", in_features, 1)
        check_int("out_features", out_features, 1)
        check_positive("prior_sigma", prior_sigma)
        check_positive("init_sigma", init_sigma)
        base = nn.Linear(in_features, out_features)
        rho = math.log(math.expm1(init_sigma))
        self.w_mu = nn.Parameter(base.weight.detach().clone())
        self.b_mu = nn.Parameter(base.bias.detach().clone())
        self.w_rho = nn.Parameter(torch.full_like(self.w_mu, rho))
        self.b_rho = nn.Parameter(torch.full_like(self.b_mu, rho))
        self.register_buffer("prior_w_mu", torch.zeros_like(self.w_mu))
        self.register_buffer("prior_b_mu", torch.zeros_like(self.b_mu))
        self.register_buffer("prior_w_sigma", torch.full_like(self.w_mu, prior_sigma))
        self.register_buffer("prior_b_sigma", torch.full_like(self.b_mu, prior_sigma))
        self.generator = generator
        self.sample = True

    @property
    def w_sigma(self) -> Tensor:
        return F.softplus(self.w_rho)

    @property
    def b_sigma(self) -> Tensor:
        return F.softplus(self.b_rho)

    def forward(self, x: Tensor) -> Tensor:
        if not (self.training and self.sample):
            return F.linear(x, self.w_mu, self.b_mu)
        ew = torch.randn(self.w_mu.shape, generator=self.generator, dtype=self.w_mu.dtype)
        eb = torch.randn(self.b_mu.shape, generator=self.generator, dtype=self.b_mu.dtype)
        return F.linear(x, self.w_mu + self.w_sigma * ew, self.b_mu + self.b_sigma * eb)

    def kl(self) -> Tensor:
        """KL of the posterior to the prior (closed form)."""
        return (kl_diag_gaussians(self.w_mu, self.w_sigma, self.prior_w_mu, self.prior_w_sigma)
                + kl_diag_gaussians(self.b_mu, self.b_sigma, self.prior_b_mu,
                                    self.prior_b_sigma))


def model_kl(model: nn.Module) -> Tensor:
    """Sum of :meth:`MeanFieldLinear.kl` over the model's mean-field layers."""
    terms = [m.kl() for m in model.modules() if isinstance(m, MeanFieldLinear)]
    if not terms:
        raise ValueError("model has no MeanFieldLinear layer")
    return torch.stack(terms).sum()


@torch.no_grad()
def update_prior(model: nn.Module) -> None:
    """The posterior becomes the prior: copy every layer's ``q`` into its ``p``."""
    for m in model.modules():
        if isinstance(m, MeanFieldLinear):
            m.prior_w_mu.copy_(m.w_mu)
            m.prior_b_mu.copy_(m.b_mu)
            m.prior_w_sigma.copy_(m.w_sigma)
            m.prior_b_sigma.copy_(m.b_sigma)
