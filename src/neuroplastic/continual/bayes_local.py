r"""Synaptic uncertainty as the learning rate (Aitchison, Jegminat, Menendez, Pfister, Pouget &
Latham 2021, "Synaptic plasticity as Bayesian inference", *Nat. Neurosci.* 24:565).

Each synapse keeps a mean :math:`\mu_i` and a variance :math:`\sigma_i^2` of its weight. A
neuron :math:`y = \sum_i w_i x_i + \varepsilon` (:math:`\varepsilon\sim\mathcal N(0,\sigma_y^2)`)
receives a target / feedback :math:`y`; with prediction error
:math:`\delta = y - \sum_i\mu_i x_i` and predictive variance
:math:`s^2 = \sigma_y^2 + \sum_i \sigma_i^2 x_i^2`, every synapse updates from local quantities
only (a diagonal Kalman filter):

.. math:: \mu_i \leftarrow \mu_i + \frac{\sigma_i^2 x_i}{s^2}\,\delta, \qquad
          \sigma_i^2 \leftarrow \sigma_i^2 - \frac{\sigma_i^4 x_i^2}{s^2},

so the learning rate of a synapse is its posterior variance. Between observations the weights
drift back to the prior (an Ornstein–Uhlenbeck process with time constant ``tau`` steps):
:math:`\mu \leftarrow \mu_0 + (\mu-\mu_0)e^{-1/\tau}`,
:math:`\sigma^2 \leftarrow \sigma_0^2 + (\sigma^2-\sigma_0^2)e^{-2/\tau}`.

With one active input per step (or one synapse) the filter is the exact sequential posterior of
Bayesian linear regression. For any other local rule, :func:`uncertainty_gate` turns the
variances into a gate :math:`\sigma^2/\sigma_0^2` for :mod:`~neuroplastic.continual.gate`
(precision gained :math:`I = 1/\sigma^2 - 1/\sigma_0^2` with the inverse gate of scale
:math:`1/\sigma_0^2`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn

from .._validation import check_finite, check_positive

__all__ = [
    "BayesianSynapseParams",
    "BayesianSynapses",
    "SynapseBelief",
    "bayes_local_step",
    "init_belief",
    "precision_gain",
    "uncertainty_gate",
]


@dataclass(frozen=True)
class BayesianSynapseParams:
    """Observation noise, prior and drift of Bayesian synapses."""

    obs_var: float = 1.0  # sigma_y^2: variance of the neuron's output noise / feedback
    prior_mean: float = 0.0  # mu_0
    prior_var: float = 1.0  # sigma_0^2
    tau: float = math.inf  # drift time constant (steps) back to the prior; inf = none

    def __post_init__(self) -> None:
        check_positive("obs_var", self.obs_var)
        check_finite("prior_mean", self.prior_mean)
        check_positive("prior_var", self.prior_var)
        if not (isinstance(self.tau, (int, float)) and not isinstance(self.tau, bool)
                and self.tau > 0):
            raise ValueError(f"tau must be > 0 (inf for no drift), got {self.tau!r}")


class SynapseBelief(NamedTuple):
    mean: Tensor  # (n_out, n_in)
    var: Tensor  # (n_out, n_in)


def init_belief(n_out: int, n_in: int, params: BayesianSynapseParams,
                dtype: torch.dtype = torch.float64) -> SynapseBelief:
    return SynapseBelief(torch.full((n_out, n_in), params.prior_mean, dtype=dtype),
                         torch.full((n_out, n_in), params.prior_var, dtype=dtype))


def bayes_local_step(belief: SynapseBelief, x: Tensor, y: Tensor,
                     params: BayesianSynapseParams) -> SynapseBelief:
    """One observation: inputs ``x`` ``(n_in,)``, targets ``y`` ``(n_out,)``."""
    mu, var = belief
    if x.shape != (mu.shape[1],) or y.shape != (mu.shape[0],):
        raise ValueError(f"x must be ({mu.shape[1]},) and y ({mu.shape[0]},), got "
                         f"{tuple(x.shape)} and {tuple(y.shape)}")
    x = x.to(mu.dtype)
    delta = y.to(mu.dtype) - mu @ x
    s2 = params.obs_var + var @ (x * x)
    gain = var * x[None, :] / s2[:, None]  # the learning rate: proportional to the variance
    mu = mu + gain * delta[:, None]
    var = var - gain * var * x[None, :]
    if math.isfinite(params.tau):
        f = math.exp(-1.0 / params.tau)
        mu = params.prior_mean + (mu - params.prior_mean) * f
        var = params.prior_var + (var - params.prior_var) * f * f
    return SynapseBelief(mu, var)


def precision_gain(belief: SynapseBelief, params: BayesianSynapseParams) -> Tensor:
    """:math:`1/\\sigma^2 - 1/\\sigma_0^2 \\ge 0`: the importance the synapse has acquired."""
    return (1.0 / belief.var - 1.0 / params.prior_var).clamp(min=0)


def uncertainty_gate(belief: SynapseBelief, params: BayesianSynapseParams) -> Tensor:
    """:math:`\\sigma^2/\\sigma_0^2 \\in (0, 1]`: a per-synapse gate for any local rule."""
    return (belief.var / params.prior_var).clamp(max=1.0)


class BayesianSynapses(nn.Module):
    """A linear neuron layer with Bayesian synapses; ``forward(x)`` predicts with the means,
    :meth:`observe` performs :func:`bayes_local_step`."""

    def __init__(self, n_in: int, n_out: int,
                 params: BayesianSynapseParams = BayesianSynapseParams()) -> None:
        super().__init__()
        self.params = params
        b = init_belief(n_out, n_in, params)
        self.register_buffer("mean", b.mean)
        self.register_buffer("var", b.var)

    def forward(self, x: Tensor) -> Tensor:
        return x.to(self.mean.dtype) @ self.mean.T

    @torch.no_grad()
    def observe(self, x: Tensor, y: Tensor) -> None:
        b = bayes_local_step(SynapseBelief(self.mean, self.var), x, y, self.params)
        self.mean, self.var = b.mean, b.var
