import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.integrate import quad

from neuroplastic.neuromodulation import DopamineParams, SpatialParams, volume_transmission
from neuroplastic.plasticity.three_factor import (
    ThreeFactorParams,
    eligibility_integral,
    event_advance,
    init_eligibility_state,
    td_three_factor_step,
    three_factor_step,
)

F64 = torch.float64


def _spikes(n, *idx):
    s = torch.zeros(1, n, dtype=F64)
    for i in idx:
        s[0, i] = 1.0
    return s


def _run_pairing(p, modulator_fn, n_steps, dt=1.0, pre_t=0, post_t=5):
    """One pre->post pairing, clock-driven; modulator_fn(k) gives M during step k."""
    w = torch.zeros(1, 1, 1, dtype=F64)
    st_ = init_eligibility_state(1, 1, 1)
    for k in range(n_steps):
        pre = _spikes(1, 0) if k == pre_t else _spikes(1)
        post = _spikes(1, 0) if k == post_t else _spikes(1)
        w, st_ = three_factor_step(w, st_, pre, post, modulator_fn(k), p, dt)
    return float(w), st_


def test_no_modulator_no_change():
    p = ThreeFactorParams(eta=1.0, tau_e_ms=1000.0)
    g = torch.Generator().manual_seed(0)
    w0 = torch.rand(2, 3, 4, generator=g, dtype=F64)
    w, st_ = w0.clone(), init_eligibility_state(2, 4, 3)
    for _ in range(200):
        pre = (torch.rand(2, 4, generator=g) < 0.2).double()
        post = (torch.rand(2, 3, generator=g) < 0.2).double()
        w, st_ = three_factor_step(w, st_, pre, post, 0.0, p, 1.0)
    assert bool((st_.e != 0).any())  # eligibility was tagged ...
    assert torch.equal(w, w0)  # ... but nothing changed without modulator


def test_eligibility_tag_value():
    p = ThreeFactorParams(a_plus=1.0, a_minus=1.5, tau_plus_ms=20.0, tau_minus_ms=20.0)
    _, st_ = _run_pairing(p, lambda k: 0.0, 6, pre_t=0, post_t=5)
    # pre at 0, post at 5: e = A+ exp(-5/20) after one eligibility decay of 0 steps
    assert float(st_.e) == pytest.approx(math.exp(-5 / 20), rel=1e-12)
    _, st_ = _run_pairing(p, lambda k: 0.0, 6, pre_t=5, post_t=0)
    assert float(st_.e) == pytest.approx(-1.5 * math.exp(-5 / 20), rel=1e-12)


def test_exact_event_driven_rectangular_pulse():
    # e(0) at t=0; rectangular modulator of height h on [d, d+width]:
    # dw = eta * e0 * exp(-d/te) * h * te * (1 - exp(-width/te))
    p = ThreeFactorParams(eta=0.3, tau_e_ms=1000.0)
    e0, d, width, h = 0.7, 1500.0, 10.0, 2.0
    analytic = p.eta * e0 * math.exp(-d / 1000.0) * h * 1000.0 * (1 - math.exp(-width / 1000.0))
    # a rectangular pulse = a baseline that is h inside the window, 0 outside
    w = torch.zeros(1, dtype=F64)
    e = torch.full((1,), e0, dtype=F64)
    t = torch.zeros(1, dtype=F64)
    w, e, t = event_advance(w, e, t, d, 0.0, 0.0, 0.0, 200.0, p)
    assert float(w) == 0.0
    w, e, t = event_advance(w, e, t, d + width, 0.0, 0.0, h, 200.0, p)
    w, e, t = event_advance(w, e, t, 1e9, 0.0, 0.0, 0.0, 200.0, p)
    assert float(w) == pytest.approx(analytic, rel=1e-13)
    # for a short pulse this is eta * e(0) * exp(-d/te) * (integral of the pulse)
    assert float(w) == pytest.approx(p.eta * e0 * math.exp(-d / 1000.0) * h * width, rel=6e-3)


@pytest.mark.parametrize("delay_ms", [0.0, 300.0, 2000.0])
def test_exact_event_driven_dopamine_transient(delay_ms):
    # pairing (pre 0, post 5 ms) tags e0 = A+ exp(-5/20) at t=5; DA transient A exp(-s/tauM)
    # released delay_ms later. Total dw = eta e0 exp(-d/te) A te tm / (te + tm).
    p = ThreeFactorParams(eta=0.01, tau_e_ms=1000.0, a_plus=1.0, tau_plus_ms=20.0)
    da = DopamineParams(tau_ms=200.0, release=0.5)
    e0 = math.exp(-5 / 20)
    te, tm = p.tau_e_ms, da.tau_ms
    analytic = p.eta * e0 * math.exp(-delay_ms / te) * da.release * te * tm / (te + tm)
    # independent quadrature of e(t) M(t)
    quad_val, _ = quad(
        lambda s: e0 * math.exp(-s / te) * da.release * math.exp(-(s - delay_ms) / tm),
        delay_ms,
        delay_ms + 20 * tm,
        epsabs=0,
        epsrel=1e-12,
    )
    assert analytic == pytest.approx(p.eta * quad_val, rel=1e-9)
    # event-driven: tag at 5, release at 5 + d, read at infinity
    w = torch.zeros(1, dtype=F64)
    e = torch.full((1,), e0, dtype=F64)
    t = torch.full((1,), 5.0, dtype=F64)
    t_rel = 5.0 + delay_ms
    w, e, t = event_advance(w, e, t, t_rel, 0.0, 0.0, 0.0, tm, p)
    w, e, t = event_advance(w, e, t, math.inf, da.release, t_rel, 0.0, tm, p)
    assert float(w) == pytest.approx(analytic, rel=1e-12)
    if delay_ms != 300.0:
        return
    # clock-driven simulation with a fine step converges to the same number
    dt = 0.5
    n = int(round((5.0 + delay_ms + 12 * tm) / dt))
    k_rel = int(round(t_rel / dt))

    def m(k):
        return 0.0 if k < k_rel else da.release * math.exp(-(k - k_rel) * dt / tm)

    w_clock, _ = _run_pairing(p, m, n, dt=dt, pre_t=0, post_t=int(round(5 / dt)))
    assert w_clock == pytest.approx(analytic, rel=5e-3)


def test_sign_follows_modulator():
    p = ThreeFactorParams(eta=1.0)
    for sign in (1.0, -1.0):
        w, _ = _run_pairing(p, lambda k, s=sign: s * (k >= 50), 300)
        assert math.copysign(1.0, w) == sign and abs(w) > 0
    # anti-causal pairing (negative eligibility) under positive dopamine depresses
    w, _ = _run_pairing(p, lambda k: float(k >= 50), 300, pre_t=5, post_t=0)
    assert w < 0


def test_baseline_and_pulse_integral_closed_form():
    e0, m0, mb, te, tm, T = 1.3, 0.8, 0.05, 1000.0, 200.0, 750.0
    ref, _ = quad(lambda s: e0 * math.exp(-s / te) * (mb + m0 * math.exp(-s / tm)), 0, T)
    got = eligibility_integral(torch.tensor(e0, dtype=F64), m0, mb, te, tm, T)
    assert float(got) == pytest.approx(ref, rel=1e-12)


def test_event_driven_equals_uninterrupted_advance():
    # splitting an interval at arbitrary points (as lazy per-synapse updates do) is exact
    p = ThreeFactorParams(eta=0.2, tau_e_ms=700.0)
    w1, e1, t1 = event_advance(
        torch.zeros(1, dtype=F64),
        torch.ones(1, dtype=F64),
        torch.zeros(1, dtype=F64),
        900.0,
        0.5,
        0.0,
        0.01,
        200.0,
        p,
    )
    w, e, t = torch.zeros(1, dtype=F64), torch.ones(1, dtype=F64), torch.zeros(1, dtype=F64)
    for stop in (13.0, 250.0, 251.0, 900.0):
        w, e, t = event_advance(w, e, t, stop, 0.5, 0.0, 0.01, 200.0, p)
    torch.testing.assert_close(w, w1, rtol=1e-13, atol=0)
    torch.testing.assert_close(e, e1, rtol=1e-13, atol=0)


def test_spatial_modulator_falloff():
    # equal eligibility at 50 synapses along a line; one release at the origin
    lam = 8.0
    sp = SpatialParams(length_scale_um=lam)
    pos = torch.linspace(0, 400, 50, dtype=F64)[:, None]
    conc = volume_transmission(torch.tensor([1.0]), torch.zeros(1, 1), pos, sp)
    p = ThreeFactorParams(eta=1.0, tau_e_ms=1000.0)
    e = torch.full((50,), 0.6, dtype=F64)
    w = torch.zeros(50, dtype=F64)
    t = torch.zeros(50, dtype=F64)
    w, e, t = event_advance(w, e, t, math.inf, conc, 0.0, 0.0, 200.0, p)
    ratio = w / w[0]
    torch.testing.assert_close(ratio, torch.exp(-pos[:, 0] / lam), rtol=1e-12, atol=1e-300)
    far = pos[:, 0] > 30 * lam
    assert bool(far.any()) and float(w[far].abs().max()) < 1e-12 * float(w[0])


def test_reward_modulated_hebb_and_bounds():
    p = ThreeFactorParams(eta=1.0, tau_e_ms=100.0, coincidence="hebb", w_min=0.0, w_max=0.5)
    w = torch.full((1, 2, 2), 0.25, dtype=F64)
    st_ = init_eligibility_state(1, 2, 2)
    pre = torch.tensor([[1.0, 0.0]], dtype=F64)
    post = torch.tensor([[0.0, 2.0]], dtype=F64)
    w2, st2 = three_factor_step(w, st_, pre, post, 0.1, p, 1.0)
    expect = torch.tensor([[[0.0, 0.0], [2.0, 0.0]]], dtype=F64)
    torch.testing.assert_close(st2.e, expect)
    torch.testing.assert_close(w2, w + 0.1 * expect)
    w3, _ = three_factor_step(w, st_, pre, post, 100.0, p, 1.0)
    assert float(w3.max()) == 0.5


def test_td_variant_uses_td_error():
    p = ThreeFactorParams(eta=1.0, coincidence="hebb")
    w = torch.zeros(1, 1, 1, dtype=F64)
    st_ = init_eligibility_state(1, 1, 1)
    one = torch.ones(1, 1, dtype=F64)
    # delta = r + g V' - V = 0 + 0.5*1 - 1 = -0.5
    w2, _ = td_three_factor_step(
        w, st_, one, one, torch.tensor(0.0), torch.tensor(1.0), torch.tensor(1.0), 0.5, p, 1.0
    )
    assert float(w2) == pytest.approx(-0.5)


@given(st.one_of(st.floats(max_value=0.0), st.just(float("nan"))))
def test_validation(bad):
    with pytest.raises(ValueError, match="tau_e_ms"):
        ThreeFactorParams(tau_e_ms=bad)
    with pytest.raises(ValueError, match="coincidence"):
        ThreeFactorParams(coincidence="bcm")
    with pytest.raises(ValueError, match="w_min"):
        ThreeFactorParams(w_min=1.0, w_max=0.0)
