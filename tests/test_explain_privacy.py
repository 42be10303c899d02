"""Leakage cap of explanations: analytic Gaussian mechanism, accountant, membership audit."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from neuroplastic.explain import (
    GaussianRelease,
    PrivacyAccountant,
    advantage_bound,
    check_budget,
    clip_l2,
    gaussian_epsilon,
    gaussian_sigma,
    mia_audit,
)


def _balle_wang_algorithm1(eps: float, delta: float, sens: float) -> float:
    """Algorithm 1 of Balle & Wang (2018), written independently of the library (bisection on
    B+ / B-)."""
    phi = norm.cdf
    delta0 = phi(0.0) - math.exp(eps) * phi(-math.sqrt(2 * eps))

    def b_plus(v: float) -> float:
        return phi(math.sqrt(eps * v)) - math.exp(eps) * phi(-math.sqrt(eps * (v + 2)))

    def b_minus(u: float) -> float:
        return phi(-math.sqrt(eps * u)) - math.exp(eps) * phi(-math.sqrt(eps * (u + 2)))

    plus = delta >= delta0
    f = b_plus if plus else b_minus
    lo, hi = 0.0, 1.0
    while (f(hi) <= delta) if plus else (f(hi) > delta):
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        if (f(mid) <= delta) if plus else (f(mid) > delta):
            lo = mid
        else:
            hi = mid
    v = (lo + hi) / 2
    alpha = (math.sqrt(1 + v / 2) - math.sqrt(v / 2)) if plus else (
        math.sqrt(1 + v / 2) + math.sqrt(v / 2))
    return alpha * sens / math.sqrt(2 * eps)


@pytest.mark.parametrize("eps,delta,sens", [(1.0, 1e-5, 1.0), (0.1, 1e-6, 2.0),
                                            (8.0, 1e-3, 0.5), (0.5, 0.4, 3.0)])
def test_noise_scale_equals_the_analytic_gaussian_mechanism(eps, delta, sens):
    sigma = gaussian_sigma(eps, delta, sens)
    assert sigma == pytest.approx(_balle_wang_algorithm1(eps, delta, sens), rel=1e-7)
    if eps < 1:  # the classic bound holds there and is never tighter
        assert sigma <= sens * math.sqrt(2 * math.log(1.25 / delta)) / eps
    rel = GaussianRelease(eps, delta, clip=sens / 2)
    assert rel.sigma == pytest.approx(sigma, rel=1e-12)


def test_release_clips_and_adds_noise_of_that_scale():
    rel = GaussianRelease(1.0, 1e-5, clip=1.0)
    maps = torch.zeros(20000, 3)
    maps[:, 0] = 50.0  # clipped to norm 1
    out = rel.release(maps, torch.Generator().manual_seed(0))
    assert out[:, 0].mean().item() == pytest.approx(1.0, abs=5 * rel.sigma / math.sqrt(2e4))
    assert out[:, 1:].std().item() == pytest.approx(rel.sigma, rel=0.02)


def test_accountant_composition_matches_a_hand_computation():
    acc = PrivacyAccountant(1e-5)
    acc.spend(2.0, count=10)
    acc.spend(4.0, count=5)
    # RDP of the Gaussian mechanism at order a is a / (2 z^2); composition adds; conversion of
    # Balle et al. (2020): eps = rdp + log((a-1)/a) - (log delta + log a) / (a - 1)
    orders = np.array([1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64)))
    rdp = orders * (10 / (2 * 2.0**2) + 5 / (2 * 4.0**2))
    eps = rdp + np.log((orders - 1) / orders) - (math.log(1e-5) + np.log(orders)) / (orders - 1)
    assert acc.epsilon() == pytest.approx(eps.min(), rel=1e-9)
    # exact composition: a Gaussian mechanism with mu = sqrt(10/4 + 5/16)
    mu = math.sqrt(10 / 4 + 5 / 16)
    assert acc.epsilon_exact() == pytest.approx(gaussian_epsilon(1e-5, mu), rel=1e-9)
    assert acc.epsilon_exact() <= acc.epsilon() <= 1.3 * acc.epsilon_exact()
    assert acc.queries == 15


def test_one_release_at_the_analytic_sigma_costs_exactly_epsilon():
    rel = GaussianRelease(1.0, 1e-5, clip=0.5)
    acc = PrivacyAccountant(1e-5)
    rel.release(torch.ones(1, 4), torch.Generator().manual_seed(0), acc)
    assert acc.epsilon_exact() == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize("kw,name", [
    ({"epsilon": 0.0}, "epsilon"), ({"epsilon": -1.0}, "epsilon"),
    ({"epsilon": math.inf}, "epsilon"), ({"delta": 0.0}, "delta"), ({"delta": 1.0}, "delta"),
    ({"delta": -0.1}, "delta"), ({"clip": 0.0}, "clip"),
])
def test_bad_budget_is_refused_naming_the_parameter(kw, name):
    args = {"epsilon": 1.0, "delta": 1e-5, "clip": 1.0, **kw}
    with pytest.raises(ValueError, match=name):
        GaussianRelease(**args)
    with pytest.raises(ValueError, match=name.replace("clip", "sensitivity")):
        gaussian_sigma(args["epsilon"], args["delta"], args["clip"])


@settings(max_examples=60, deadline=None)
@given(eps=st.floats(allow_nan=True, allow_infinity=True),
       delta=st.floats(allow_nan=True, allow_infinity=True))
def test_check_budget_accepts_exactly_the_valid_domain(eps, delta):
    valid_e = math.isfinite(eps) and eps > 0
    valid_d = 0 < delta < 1
    if valid_e and valid_d:
        assert check_budget(eps, delta) == (eps, delta)
    else:
        with pytest.raises(ValueError, match="epsilon" if not valid_e else "delta"):
            check_budget(eps, delta)


def _leaky_maps(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Members' maps are small (a confident, overfit model), non-members' large."""
    g = torch.Generator().manual_seed(seed)
    return 0.1 * torch.randn(n, 32, generator=g), torch.randn(n, 32, generator=g)


def test_audit_raw_explanations_leak_and_dp_releases_stay_within_the_bound():
    members, others = _leaky_maps(500, 0)

    def stat(a):
        return a.norm(dim=1).numpy()

    raw = mia_audit(stat(members), stat(others), 1.0, 1e-5)
    assert raw.violated and raw.advantage > raw.bound
    assert raw.bound == pytest.approx(advantage_bound(1.0, 1e-5))
    rel = GaussianRelease(1.0, 1e-5, clip=1.0)
    g = torch.Generator().manual_seed(1)
    dp = mia_audit(stat(rel.release(members, g)), stat(rel.release(others, g)), 1.0, 1e-5)
    assert not dp.violated and dp.advantage <= dp.bound
    # the audit can fail: a hundred times too little noise for the declared budget is caught
    s = rel.sigma / 100
    leak_in = clip_l2(members, 1.0) + s * torch.randn(500, 32, generator=g)
    leak_out = clip_l2(others, 1.0) + s * torch.randn(500, 32, generator=g)
    assert mia_audit(stat(leak_in), stat(leak_out), 1.0, 1e-5).violated
