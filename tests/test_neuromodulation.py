import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.integrate import quad

from neuroplastic.neuromodulation import (
    DopamineParams,
    SpatialParams,
    diffusion_green,
    dopamine_at,
    dopamine_decay,
    dopamine_step,
    pulse_integral,
    reward_prediction_error,
    spatial_kernel,
    td_error,
    update_expectation,
    volume_transmission,
)


def test_izhikevich_2007_decay_factor():
    # daspnet.m multiplies DA by 0.995 each 1 ms step: tau = -1/ln(0.995) = 199.5 ms
    p = DopamineParams(tau_ms=-1.0 / math.log(0.995))
    assert p.decay_factor(1.0) == pytest.approx(0.995, rel=1e-14)


def test_dopamine_step_matches_closed_form():
    p = DopamineParams(tau_ms=200.0, release=0.5, baseline=0.1)
    rewards = {30: 1, 31: 2, 400: 1}
    level = torch.tensor(p.baseline, dtype=torch.float64)
    trace = []
    for k in range(600):
        level = dopamine_step(level, rewards.get(k, 0), p, 1.0)
        trace.append(float(level))
    times = torch.tensor([30.0, 31.0, 31.0, 400.0])
    ref = dopamine_at(torch.arange(600, dtype=torch.float64), times, p)
    torch.testing.assert_close(torch.tensor(trace, dtype=torch.float64), ref, rtol=1e-12, atol=0)
    # relaxes to the baseline from any level
    far = dopamine_decay(torch.tensor(5.0, dtype=torch.float64), p, 1e5)
    assert float(far) == pytest.approx(0.1)


def test_pulse_integral_vs_quadrature():
    val, _ = quad(lambda s: 0.5 * math.exp(-s / 200.0), 0, 300)
    assert pulse_integral(0.5, 200.0, 300.0) == pytest.approx(val, rel=1e-10)
    assert pulse_integral(0.5, 200.0) == pytest.approx(100.0)


def test_prediction_errors():
    r = torch.tensor([1.0, 0.0])
    assert reward_prediction_error(r, torch.tensor([0.25, 0.25])).tolist() == [0.75, -0.25]
    # Rescorla-Wagner running mean converges to the mean reward
    ex = torch.tensor(0.0, dtype=torch.float64)
    for k in range(2000):
        ex = update_expectation(ex, torch.tensor(float(k % 4 == 0)), 0.01)
    assert float(ex) == pytest.approx(0.25, abs=0.02)
    d = td_error(torch.tensor(1.0), torch.tensor(2.0), torch.tensor(3.0), 0.9)
    assert float(d) == pytest.approx(1.0 + 2.7 - 2.0)


def test_volume_transmission_sums_sources():
    p = SpatialParams(length_scale_um=10.0)
    src = torch.tensor([[0.0, 0.0], [100.0, 0.0]])
    syn = torch.tensor([[0.0, 0.0], [10.0, 0.0], [50.0, 0.0], [0.0, 20.0]])
    c = volume_transmission(torch.tensor([2.0, 1.0]), src, syn, p)
    d0 = torch.tensor([0.0, 10.0, 50.0, 20.0], dtype=torch.float64)
    d1 = torch.tensor([100.0, 90.0, 50.0, math.hypot(100, 20)], dtype=torch.float64)
    ref = 2.0 * torch.exp(-d0 / 10.0) + torch.exp(-d1 / 10.0)
    torch.testing.assert_close(c, ref, rtol=1e-12, atol=1e-15)
    # the 3-D steady state of diffusion with uptake: exp(-r/lambda)/r shape
    y = SpatialParams(length_scale_um=10.0, kernel="yukawa3d", source_radius_um=1e-9)
    r = torch.tensor([5.0, 20.0], dtype=torch.float64)
    k = spatial_kernel(r, y)
    assert float(k[0] / k[1]) == pytest.approx((20.0 / 5.0) * math.exp(-(5.0 - 20.0) / 10.0))


def test_diffusion_green_conserves_mass_and_decays():
    # 3-D: integral over space of c equals release * exp(-t/tau)
    q, D, tau, t = 3.0, 0.5, 40.0, 10.0
    r = torch.linspace(0, 60, 20001, dtype=torch.float64)
    c = diffusion_green(q, r, torch.tensor(t), D, tau, dim=3)
    mass = torch.trapezoid(4 * math.pi * r**2 * c, r)
    assert float(mass) == pytest.approx(q * math.exp(-t / tau), rel=1e-6)
    assert float(diffusion_green(q, r[:1], torch.tensor(-1.0), D)[0]) == 0.0


@given(st.one_of(st.floats(max_value=0.0), st.just(float("nan")), st.just(float("inf"))))
def test_validation(bad):
    with pytest.raises(ValueError, match="tau_ms"):
        DopamineParams(tau_ms=bad)
    with pytest.raises(ValueError, match="length_scale_um"):
        SpatialParams(length_scale_um=bad)


def test_kernel_choice_validated():
    with pytest.raises(ValueError, match="kernel"):
        SpatialParams(kernel="gauss")
