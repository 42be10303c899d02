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


# --------------------------------------------------------------------- information cap
@pytest.mark.parametrize("snr,prior", [(0.3, 0.5), (1.0, 0.5), (2.5, 0.2), (6.0, 0.5)])
def test_mi_bound_is_the_binary_gaussian_channel_and_below_the_closed_form(snr, prior):
    """The exact cap equals a Monte-Carlo estimate of I(S; S·Δ + N(0, σ²)) computed from the
    two densities (independent of the library's quadrature), and never exceeds the
    Gaussian-channel closed form ½ log2(1 + π(1−π)Δ²/σ²)."""
    from neuroplastic.explain import mi_bound_bits, mi_bound_closed_form_bits

    rng = np.random.default_rng(0)
    n = 400_000
    s = rng.random(n) < prior
    y = s * snr + rng.standard_normal(n)
    l0, l1 = norm.logpdf(y), norm.logpdf(y - snr)
    lm = np.logaddexp(np.log1p(-prior) + l0, np.log(prior) + l1)
    terms = (np.where(s, l1, l0) - lm) / np.log(2)
    exact = mi_bound_bits(2.0 * snr, 2.0, prior)  # only Δ/σ matters
    assert exact == pytest.approx(terms.mean(), abs=4 * terms.std() / math.sqrt(n))
    assert exact <= mi_bound_closed_form_bits(2.0 * snr, 2.0, prior) + 1e-12
    h = -(prior * math.log2(prior) + (1 - prior) * math.log2(1 - prior))
    assert 0 < exact < h


def test_mi_bound_of_the_dp_release_grows_with_epsilon_and_is_small_at_one():
    from neuroplastic.explain import mi_bound_bits

    caps = [mi_bound_bits(2.0, gaussian_sigma(e, 1e-5, 2.0)) for e in (0.25, 1, 4, 16, 64)]
    assert all(a < b for a, b in zip(caps, caps[1:]))
    assert caps[1] == pytest.approx(0.01284, rel=1e-3)  # ε = 1, δ = 1e-5: ~0.013 bits
    with pytest.raises(ValueError, match="prior"):
        mi_bound_bits(1.0, 1.0, prior=1.0)
    with pytest.raises(ValueError, match="sigma"):
        mi_bound_bits(1.0, 0.0)


def _secret_maps(n: int, dim: int, seed: int) -> tuple[torch.Tensor, np.ndarray]:
    """Maps that carry a binary secret as strongly as clipping allows: ±u plus a small
    per-input part, so two maps of different secrets are ~2·clip apart."""
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(dim, generator=g)
    u /= u.norm()
    s = torch.randint(0, 2, (n,), generator=g)
    maps = (2 * s[:, None] - 1) * u + 0.05 * torch.randn(n, dim, generator=g)
    return maps.double(), s.numpy()


def test_released_explanations_stay_below_the_information_cap_raw_ones_exceed_it():
    from neuroplastic.explain import mi_bound_bits, mi_lower_bound_bits

    maps, s = _secret_maps(4000, 16, 0)
    clip = 1.0
    raw = clip_l2(maps, clip)
    est_raw, se_raw = mi_lower_bound_bits(raw.numpy(), s)
    g = torch.Generator().manual_seed(1)
    for eps, power in ((1.0, False), (64.0, True)):
        rel = GaussianRelease(eps, 1e-5, clip)
        cap = mi_bound_bits(rel.sensitivity, rel.sigma)
        est, se = mi_lower_bound_bits(rel.release(maps, g).numpy(), s)
        assert est <= cap + 3 * se
        if power:  # near-worst-case maps: the estimator gets close to the cap
            assert est > 0.8 * cap
        assert est_raw - 3 * se_raw > cap or eps == 64.0
    assert est_raw > 0.9  # the raw maps reveal the secret (1 bit)


# ------------------------------------------------------------------------------ block sums
def test_block_sums_keep_the_total_and_group_patches():
    from neuroplastic.explain import patch_groups, pool_blocks

    gr = patch_groups(8, 2)
    assert gr.shape == (64,) and torch.bincount(gr).tolist() == [4] * 16
    assert gr.reshape(8, 8)[:2, :2].unique().tolist() == [0]
    x = torch.randn(3, 16, 64, dtype=torch.float64)
    p = pool_blocks(x, time_bin=16, groups=gr)
    assert p.shape == (3, 1, 16)
    torch.testing.assert_close(p.sum((1, 2)), x.sum((1, 2)))
    torch.testing.assert_close(p[:, 0, 0], x[:, :, [0, 1, 8, 9]].sum((1, 2)))
    assert pool_blocks(x, time_bin=5, groups=gr).shape == (3, 4, 16)
    with pytest.raises(ValueError, match="groups"):
        pool_blocks(x, time_bin=2, groups=gr[:10])


def test_pooled_release_fidelity_rises_with_epsilon_per_entry_stays_flat():
    """Maps with structure at the block scale (a value per 2x2 patch, whole window) plus
    entry noise: releasing 16 block sums instead of 1,024 entries at the same (ε, δ) gives a
    released map whose rank agreement with the raw one rises monotonically with ε, while the
    per-entry release stays near 0 up to ε = 16 and far below from there on."""
    from neuroplastic.explain import patch_groups, pool_blocks, rank_fidelity

    g = torch.Generator().manual_seed(0)
    gr = patch_groups(8, 2)
    block = torch.randn(200, 1, 16, generator=g, dtype=torch.float64)
    maps = block[:, :, gr].expand(200, 16, 64) + 0.3 * torch.randn(200, 16, 64, generator=g,
                                                                     dtype=torch.float64)
    pooled = pool_blocks(maps, time_bin=16, groups=gr)
    clip_e = float(maps.reshape(200, -1).norm(dim=1).median())
    clip_p = float(pooled.reshape(200, -1).norm(dim=1).median())
    grid = (0.25, 1.0, 4.0, 16.0, 64.0, 256.0)
    fe, fp = [], []
    for e in grid:
        fe.append(float(rank_fidelity(GaussianRelease(e, 1e-5, clip_e).release(maps, g),
                                      maps).mean()))
        fp.append(float(rank_fidelity(GaussianRelease(e, 1e-5, clip_p).release(pooled, g),
                                      pooled).mean()))
    assert all(a < b for a, b in zip(fp, fp[1:]))
    assert fp[-1] > 0.8 and fp[-1] - fp[0] > 0.7
    # measured: entries 0.001, 0.006, 0.015, 0.040, 0.106, 0.245; blocks -0.012, 0.048,
    # 0.078, 0.293, 0.621, 0.878
    assert max(fe[:4]) < 0.1
    assert all(p > e + 0.15 for p, e in zip(fp[3:], fe[3:]))
