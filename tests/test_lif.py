"""LIF neuron: analytic firing rate, exact sub-threshold solution, thermal noise, mismatch,
digital fixed point, parameter validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroplastic.network import Network
from neuroplastic.neurons import (
    Analog,
    Digital,
    LIFParams,
    init_lif_state,
    lif_step,
    realize_lif,
)

GEN = lambda s=0: torch.Generator().manual_seed(s)  # noqa: E731


def analytic_rate(p: LIFParams, i_na: float) -> float:
    ri = p.r_mohm * i_na
    num = ri - (p.v_reset_mv - p.v_rest_mv)
    den = ri - (p.v_thresh_mv - p.v_rest_mv)
    if den <= 0:
        return 0.0
    return 1000.0 / (p.t_ref_ms + p.tau_mem_ms * math.log(num / den))


def test_firing_rate_matches_analytic_formula_over_current_grid():
    p = LIFParams(tau_mem_ms=20.0, v_rest_mv=-70.0, v_reset_mv=-65.0, v_thresh_mv=-50.0,
                  t_ref_ms=2.0, r_mohm=10.0)
    currents = np.linspace(2.2, 6.0, 12)  # nA; rheobase is 2.0 nA
    net = Network(dt_ms=0.01, seed=1)
    net.add_lif("n", len(currents), p)
    net.set_current("n", torch.tensor(currents))
    mon = net.monitor_spikes("n")
    net.run(1500.0)
    trains = mon.spike_trains()
    for i, cur in enumerate(currents):
        isi = np.diff(trains[i].numpy())
        measured = 1000.0 / isi.mean()
        expected = analytic_rate(p, cur)
        assert expected > 5.0
        assert measured == pytest.approx(expected, rel=0.01), (cur, measured, expected)


def test_below_rheobase_never_fires():
    p = LIFParams(r_mohm=10.0, v_rest_mv=-70.0, v_thresh_mv=-50.0, v_reset_mv=-65.0)
    net = Network(dt_ms=0.1)
    net.add_lif("n", 3, p)
    net.set_current("n", torch.tensor([0.0, 1.0, 1.99]))  # R*I < 20 mV
    net.run(500.0)
    assert int(net.spike_counts("n").sum()) == 0


def test_subthreshold_trajectory_is_exact_exponential_solution():
    p = LIFParams(tau_mem_ms=15.0, v_rest_mv=-65.0, v_reset_mv=-70.0, v_thresh_mv=0.0,
                  r_mohm=5.0)
    coef = realize_lif(p, Analog(), 4, 0.25, generator=GEN())
    i_ext = torch.tensor([[0.0, 1.0, 2.5, -3.0]], dtype=torch.float64)
    v0 = torch.tensor([[-60.0, -65.0, -80.0, -50.0]], dtype=torch.float64)
    state = init_lif_state(coef, 1, v0)
    for k in range(1, 401):
        state, spikes = lif_step(state, coef, i_ext)
        t = k * 0.25
        v_inf = p.v_rest_mv + p.r_mohm * i_ext
        exact = v_inf + (v0 - v_inf) * math.exp(-t / p.tau_mem_ms)
        assert not spikes.any()
        torch.testing.assert_close(state.v, exact, rtol=0, atol=1e-11)


def test_synaptic_current_drive_is_exact():
    """A current pulse I0·exp(-t/τs) drives v by the closed-form two-exponential solution."""
    p = LIFParams(tau_mem_ms=20.0, v_rest_mv=0.0, v_reset_mv=-1.0, v_thresh_mv=100.0,
                  tau_syn_ms=(5.0, 20.0))  # second channel: the tau_s == tau_m limit
    coef = realize_lif(p, Analog(), 1, 0.1, generator=GEN())
    state = init_lif_state(coef, 1)
    state = state._replace(i_syn=torch.tensor([[[2.0, 3.0]]], dtype=torch.float64))
    for k in range(1, 301):
        state, _ = lif_step(state, coef)
        t = k * 0.1
        a = 2.0 * 5.0 / (5.0 - 20.0) * (math.exp(-t / 5.0) - math.exp(-t / 20.0))
        b = 3.0 * (t / 20.0) * math.exp(-t / 20.0)
        assert float(state.v[0, 0]) == pytest.approx(a + b, abs=1e-10)


@pytest.mark.parametrize("dt_ms", [0.1, 0.5])
def test_thermal_noise_stationary_variance_matches_ou_value(dt_ms):
    """Free membrane with noise: variance sigma^2 whatever dt (the sqrt(dt) law is right)."""
    sigma, tau = 2.0, 10.0
    p = LIFParams(tau_mem_ms=tau, v_rest_mv=-65.0, v_reset_mv=-70.0, v_thresh_mv=1000.0)
    net = Network(dt_ms=dt_ms, seed=3)
    net.add_lif("n", 3000, p, Analog(noise_sigma_mv=sigma))
    mon = net.monitor_state("n", stride=int(round(2 * tau / dt_ms)))  # 2 correlation times
    net.run(30 * 2 * tau)
    x = mon.v[5:].flatten() - p.v_rest_mv  # after burn-in: 75k nearly independent samples
    assert float(x.var()) == pytest.approx(sigma**2, rel=0.05)  # std error ~0.5 %
    assert abs(float(x.mean())) < 0.05


def test_mismatch_coefficient_of_variation_and_seed():
    n = 20000
    p = LIFParams(tau_mem_ms=20.0, v_reset_mv=-65.0, v_thresh_mv=-50.0)
    sub = Analog(tau_mem_cv=0.15, v_thresh_cv=0.05)
    c1 = realize_lif(p, sub, n, 0.1, generator=GEN(7))
    c2 = realize_lif(p, sub, n, 0.1, generator=GEN(7))
    c3 = realize_lif(p, sub, n, 0.1, generator=GEN(8))
    tau = -0.1 / torch.log(c1.decay_v)
    gap = c1.v_thresh - p.v_reset_mv
    assert float(tau.std() / tau.mean()) == pytest.approx(0.15, rel=0.05)
    assert float(tau.mean()) == pytest.approx(20.0, rel=0.01)
    assert float(gap.std() / gap.mean()) == pytest.approx(0.05, rel=0.05)
    assert torch.equal(c1.decay_v, c2.decay_v) and torch.equal(c1.v_thresh, c2.v_thresh)
    assert not torch.equal(c1.decay_v, c3.decay_v)


def _run_pair(sub, steps=600, i_na=1.5):
    p = LIFParams(tau_mem_ms=20.0, v_rest_mv=-65.0, v_reset_mv=-70.0, v_thresh_mv=-40.0,
                  r_mohm=10.0, tau_syn_ms=(5.0,))
    ca = realize_lif(p, Analog(), 1, 0.1, generator=GEN())
    cd = realize_lif(p, sub, 1, 0.1, generator=GEN())
    sa, sd = init_lif_state(ca, 1), init_lif_state(cd, 1)
    i_ext = torch.full((1, 1), i_na, dtype=torch.float64)
    err = 0.0
    for _ in range(steps):
        sa, _ = lif_step(sa, ca, i_ext)
        sd, _ = lif_step(sd, cd, i_ext)
        err = max(err, float((sa.v - sd.v).abs().max()))
    return err, ca, cd, p


def test_digital_with_many_bits_tracks_analog():
    err, *_ = _run_pair(Digital(int_bits=8, frac_bits=36, coef_frac_bits=40))
    assert err < 1e-8


@pytest.mark.parametrize("frac_bits", [2, 4, 8])
@pytest.mark.parametrize("rounding", ["nearest", "floor", "zero"])
def test_digital_error_within_quantization_bound(frac_bits, rounding):
    sub = Digital(int_bits=8, frac_bits=frac_bits, coef_frac_bits=12, rounding=rounding)
    err, ca, cd, p = _run_pair(sub)
    q = sub.step
    per_rounding = q / 2 if rounding == "nearest" else q
    # local error per step: two rounded products (+ the initial rounding of v_rest), plus the
    # coefficient quantization acting on |v - v_rest| <= R*I and on I
    d_decay = abs(float(ca.decay_v - cd.decay_v))
    d_drive = abs(float(ca.drive_ext - cd.drive_ext))
    d_rest = abs(float(ca.v_rest - cd.v_rest))
    local = 2 * per_rounding + 15.0 * d_decay + 1.5 * d_drive
    bound = (local + d_rest) / (1 - float(cd.decay_v)) + d_rest
    assert err <= bound


def test_digital_error_shrinks_with_fraction_bits():
    errs = [_run_pair(Digital(int_bits=8, frac_bits=f, coef_frac_bits=20))[0] for f in (3, 7, 11)]
    assert errs[0] > 8 * errs[1] > 64 * errs[2] > 0


def test_digital_saturates_or_wraps():
    p = LIFParams(v_rest_mv=0.0, v_reset_mv=-1.0, v_thresh_mv=1000.0, r_mohm=1.0,
                  tau_mem_ms=1.0)
    for overflow, check in (("saturate", lambda v: v == 2.0**4 - 2.0**-4),
                            ("wrap", lambda v: -16.0 <= v < 16.0)):
        sub = Digital(int_bits=4, frac_bits=4, overflow=overflow)
        try:
            realize_lif(p, sub, 1, 0.1, generator=GEN())
        except ValueError:  # threshold 1000 does not fit 4 integer bits
            pass
        p2 = LIFParams(v_rest_mv=0.0, v_reset_mv=-1.0, v_thresh_mv=15.0, r_mohm=1.0,
                       tau_mem_ms=1.0, t_ref_ms=0.0)
        c = realize_lif(p2, sub, 1, 0.1, generator=GEN())
        s = init_lif_state(c, 1)._replace(ref_left=torch.ones(1, 1, dtype=torch.int64) * 10**6)
        s = s._replace(v=torch.full((1, 1), 15.5, dtype=torch.float64))
        c = c._replace(v_rest=torch.full((1,), 15.9375, dtype=torch.float64))
        # push v above the range through the external drive while refractory is off
        s = s._replace(ref_left=torch.zeros(1, 1, dtype=torch.int64))
        s, _ = lif_step(s, c._replace(v_thresh=torch.full((1,), 15.9375, dtype=torch.float64)),
                        torch.full((1, 1), 50.0, dtype=torch.float64))
        assert check(float(s.v))


def test_fixed_point_values_live_on_the_grid():
    sub = Digital(int_bits=7, frac_bits=5)
    _, _, cd, _ = _run_pair(sub, steps=10)
    p = LIFParams(tau_mem_ms=20.0, v_rest_mv=-65.0, v_reset_mv=-70.0, v_thresh_mv=-40.0,
                  r_mohm=10.0)
    c = realize_lif(p, sub, 3, 0.1, generator=GEN())
    s = init_lif_state(c, 2)
    for _ in range(50):
        s, _ = lif_step(s, c, torch.full((2, 3), 1.3, dtype=torch.float64))
    scaled = s.v / sub.step
    assert torch.equal(scaled, torch.round(scaled))


# ---------------------------------------------------------------- validation (hypothesis)
bad_float = st.one_of(st.floats(max_value=0.0), st.just(float("nan")), st.just(float("inf")))


@settings(max_examples=40, deadline=None)
@given(bad=bad_float, field=st.sampled_from(["tau_mem_ms", "r_mohm", "tau_theta_ms"]))
def test_nonpositive_time_constants_refused(bad, field):
    with pytest.raises(ValueError, match=field):
        LIFParams(**{field: bad})


@settings(max_examples=40, deadline=None)
@given(reset=st.floats(-100, 100), gap=st.floats(0, 50))
def test_threshold_must_exceed_reset(reset, gap):
    with pytest.raises(ValueError, match="v_reset_mv"):
        LIFParams(v_reset_mv=reset, v_thresh_mv=reset - gap)


@settings(max_examples=30, deadline=None)
@given(bad=st.one_of(st.floats(max_value=-1e-9), st.just(float("nan"))),
       field=st.sampled_from(["noise_sigma_mv", "tau_mem_cv", "v_thresh_cv"]))
def test_analog_substrate_validation(bad, field):
    with pytest.raises(ValueError, match=field):
        Analog(**{field: bad})


@settings(max_examples=30, deadline=None)
@given(rounding=st.text(min_size=1, max_size=8).filter(lambda s: s not in ("nearest", "floor",
                                                                            "zero")))
def test_unknown_rounding_mode_refused(rounding):
    with pytest.raises(ValueError, match="rounding"):
        Digital(rounding=rounding)


@pytest.mark.parametrize("kw,name", [
    ({"int_bits": 0}, "int_bits"), ({"frac_bits": -1}, "frac_bits"),
    ({"overflow": "clip"}, "overflow"), ({"int_bits": 30, "frac_bits": 30}, "int_bits"),
])
def test_digital_validation(kw, name):
    with pytest.raises(ValueError, match=name):
        Digital(**kw)


def test_tau_syn_and_reset_mode_validation():
    with pytest.raises(ValueError, match=r"tau_syn_ms\[1\]"):
        LIFParams(tau_syn_ms=(5.0, -1.0))
    with pytest.raises(ValueError, match="tau_syn_ms"):
        LIFParams(tau_syn_ms=())
    with pytest.raises(ValueError, match="reset_mode"):
        LIFParams(reset_mode="soft")
    with pytest.raises(ValueError, match="t_ref_ms"):
        LIFParams(t_ref_ms=-1.0)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1025, 5000), tau_m=st.floats(1.0, 100.0), tau_s=st.floats(0.5, 50.0),
       t_ref=st.floats(0.0, 10.0))
def test_population_without_mismatch_gets_the_same_coefficients_for_every_neuron(
        n, tau_m, tau_s, t_ref):
    """Large populations without mismatch compute their coefficients once and repeat them:
    the same bits as computing them neuron by neuron (every size, not only multiples of the
    vector width), and the closed forms of the exact integration."""
    import neuroplastic.neurons.lif as lif

    p = LIFParams(tau_mem_ms=tau_m, tau_syn_ms=(tau_s, 2 * tau_s), t_ref_ms=t_ref)
    fast = realize_lif(p, Analog(), n, 0.1, generator=GEN())
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(lif, "_UNIFORM_PREFIX", 10**12)  # every neuron computed
        full = realize_lif(p, Analog(), n, 0.1, generator=GEN())
    for name, a, b in zip(fast._fields, fast, full):
        assert a.shape == b.shape and a.dtype == b.dtype and a.is_contiguous(), name
        assert torch.equal(a, b), name
    for got, want in ((fast.decay_v, math.exp(-0.1 / tau_m)),
                      (fast.decay_syn[:, 1], math.exp(-0.1 / (2 * tau_s)))):
        assert torch.allclose(got, torch.tensor(want, dtype=torch.float64), rtol=1e-15, atol=0)
