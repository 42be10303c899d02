"""Online Laplace, VCL and Bayesian synapses against exact posteriors and closed forms."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from neuroplastic.continual.bayes_local import (
    BayesianSynapseParams,
    BayesianSynapses,
    bayes_local_step,
    init_belief,
    precision_gain,
    uncertainty_gate,
)
from neuroplastic.continual.gate import gate_factor, precision_gate_scale
from neuroplastic.continual.importance import Importance
from neuroplastic.continual.laplace import GaussianPosterior, OnlineLaplace, laplace_step
from neuroplastic.continual.vcl import MeanFieldLinear, kl_diag_gaussians, model_kl, update_prior

F64 = torch.float64


def _tasks(n_tasks=3, n=15, d=4, noise=0.3, seed=0, orthogonal=False):
    g = torch.Generator().manual_seed(seed)
    theta = torch.randn(d, generator=g, dtype=F64)
    out = []
    for _ in range(n_tasks):
        if orthogonal:  # orthogonal columns: the diagonal Laplace is exact too
            q, _ = torch.linalg.qr(torch.randn(n, d, generator=g, dtype=F64))
            X = q * (1 + torch.rand(d, generator=g, dtype=F64))
        else:
            X = torch.randn(n, d, generator=g, dtype=F64)
        out.append((X, X @ theta + noise * torch.randn(n, generator=g, dtype=F64)))
    return out


def _exact_sequential(tasks, m0, P0, s2):
    m, P = m0, P0
    for X, y in tasks:
        P_new = P + X.T @ X / s2
        m = torch.linalg.solve(P_new, P @ m + X.T @ y / s2)
        P = P_new
    return m, P


@pytest.mark.parametrize("diagonal", [False, True])
def test_online_laplace_equals_exact_sequential_posterior(diagonal):
    s2 = 0.09
    tasks = _tasks(orthogonal=diagonal)
    d = 4
    m0 = torch.zeros(d, dtype=F64)
    P0 = 2.0 * torch.eye(d, dtype=F64)
    post = GaussianPosterior(m0, P0.diagonal().clone() if diagonal else P0)
    for X, y in tasks:
        post = laplace_step(post, lambda t, X=X, y=y: ((y - X @ t) ** 2).sum() / (2 * s2))
    m, P = _exact_sequential(tasks, m0, P0, s2)
    torch.testing.assert_close(post.mean, m, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(post.precision, P.diagonal() if diagonal else P, rtol=1e-10,
                               atol=1e-10)
    if diagonal:
        torch.testing.assert_close(torch.diag(post.precision), P, rtol=1e-10, atol=1e-10)


def test_gaussian_posterior_validation_and_network_laplace():
    with pytest.raises(ValueError, match="precision must have shape"):
        GaussianPosterior(torch.zeros(3), torch.ones(2))
    with pytest.raises(ValueError, match="precision must be >= 0"):
        GaussianPosterior(torch.zeros(2), -torch.ones(2))
    lin = nn.Linear(3, 2).double()
    ol = OnlineLaplace(lin, prior_precision=0.5)
    curv = {n: torch.full_like(p, 0.25) for n, p in lin.named_parameters()}
    with torch.no_grad():
        lin.weight.add_(1.0)
    ol.consolidate(lin, curv, n_samples=4)
    torch.testing.assert_close(ol.posterior["weight"].values, torch.full((2, 3), 1.5, dtype=F64))
    assert torch.equal(ol.posterior["weight"].anchor, lin.weight.detach())
    assert float(ol.penalty(lin, 10).detach()) == 0.0
    with torch.no_grad():
        lin.bias.add_(2.0)
    assert float(ol.penalty(lin, 10).detach()) == pytest.approx(0.5 * 1.5 * 2 * 4.0 / 10)
    with pytest.raises(ValueError, match="importance of bias has shape"):
        ol.consolidate(lin, {**curv, "bias": torch.ones(3, dtype=F64)}, 1)


def test_vcl_kl_equals_closed_form_and_prior_update():
    g = torch.Generator().manual_seed(0)
    mq, mp = torch.randn(7, generator=g, dtype=F64), torch.randn(7, generator=g, dtype=F64)
    sq, sp = torch.rand(7, generator=g, dtype=F64) + 0.1, torch.rand(7, generator=g,
                                                                      dtype=F64) + 0.1
    ref = torch.distributions.kl_divergence(torch.distributions.Normal(mq, sq),
                                            torch.distributions.Normal(mp, sp)).sum()
    torch.testing.assert_close(kl_diag_gaussians(mq, sq, mp, sp), ref, rtol=1e-12, atol=1e-14)
    # hand value for one element: log(2) + (1 + 1) / 8 - 1/2
    one = kl_diag_gaussians(torch.tensor([1.0]), torch.tensor([1.0]), torch.tensor([0.0]),
                            torch.tensor([2.0]))
    assert float(one) == pytest.approx(math.log(2) + 2 / 8 - 0.5)
    layer = MeanFieldLinear(3, 2, prior_sigma=0.5, init_sigma=0.1,
                            generator=torch.Generator().manual_seed(1)).double()
    expect = kl_diag_gaussians(layer.w_mu, layer.w_sigma, torch.zeros(2, 3, dtype=F64),
                               torch.full((2, 3), 0.5, dtype=F64)) + kl_diag_gaussians(
        layer.b_mu, layer.b_sigma, torch.zeros(2, dtype=F64), torch.full((2,), 0.5, dtype=F64))
    torch.testing.assert_close(model_kl(nn.Sequential(layer)), expect)
    update_prior(layer)
    assert float(layer.kl().detach()) == pytest.approx(0.0, abs=1e-12)
    x = torch.ones(4, 3, dtype=F64)
    assert not torch.equal(layer(x), layer(x))  # a new weight sample per call in training
    layer.eval()
    assert torch.equal(layer(x), layer(x))
    with pytest.raises(ValueError, match="> 0"):
        kl_diag_gaussians(mq, -sq, mp, sp)


def test_bayesian_synapse_is_the_exact_posterior_and_variance_is_the_learning_rate():
    p = BayesianSynapseParams(obs_var=0.5, prior_mean=0.2, prior_var=2.0)
    g = torch.Generator().manual_seed(0)
    # one-hot inputs: each synapse sees its own observations, the diagonal filter is exact
    n_in, steps = 3, 40
    b = init_belief(1, n_in, p)
    sxx = torch.zeros(n_in, dtype=F64)
    sxy = torch.zeros(n_in, dtype=F64)
    for _ in range(steps):
        i = int(torch.randint(n_in, (1,), generator=g))
        x = torch.zeros(n_in, dtype=F64)
        x[i] = float(torch.rand(1, generator=g, dtype=F64)) + 0.5
        y = torch.randn(1, generator=g, dtype=F64) + 1.0
        b = bayes_local_step(b, x, y, p)
        sxx += x * x
        sxy += x * y
    post_prec = 1 / p.prior_var + sxx / p.obs_var
    post_mean = (p.prior_mean / p.prior_var + sxy / p.obs_var) / post_prec
    torch.testing.assert_close(b.var[0], 1 / post_prec, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(b.mean[0], post_mean, rtol=1e-12, atol=1e-14)
    # the same error moves an uncertain synapse more than a certain one, in proportion
    belief = b._replace(mean=torch.zeros(1, 2, dtype=F64),
                        var=torch.tensor([[1.0, 0.01]], dtype=F64))
    nxt = bayes_local_step(belief, torch.ones(2, dtype=F64), torch.ones(1, dtype=F64), p)
    dmu = nxt.mean[0]
    assert float(dmu[0] / dmu[1]) == pytest.approx(100.0)
    # the uncertainty gate is the inverse gate of the precision gained
    torch.testing.assert_close(uncertainty_gate(b, p),
                               gate_factor(Importance(precision_gain(b, p), b.mean),
                                           precision_gate_scale(p.prior_var)),
                               rtol=1e-12, atol=0)


def test_bayesian_synapses_drift_back_to_the_prior_and_validation():
    p = BayesianSynapseParams(prior_var=1.0, tau=5.0)
    mod = BayesianSynapses(2, 1, p)
    mod.observe(torch.tensor([1.0, 0.0]), torch.tensor([3.0]))
    v1 = mod.var.clone()
    for _ in range(200):
        mod.observe(torch.zeros(2), torch.zeros(1))
    assert v1[0, 0] < 0.9 and mod.var[0, 0] == pytest.approx(1.0, abs=1e-12)
    assert mod.mean.abs().max() < 1e-12
    with pytest.raises(ValueError, match="obs_var"):
        BayesianSynapseParams(obs_var=-1.0)
    with pytest.raises(ValueError, match="tau"):
        BayesianSynapseParams(tau=0.0)
    with pytest.raises(ValueError, match="x must be"):
        mod.observe(torch.zeros(3), torch.zeros(1))
