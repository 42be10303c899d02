"""Link planner (neuroplastic.events.budget): STDP error under quantization, bandwidth."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from neuroplastic.events.aer import AERFormat, encode
from neuroplastic.events.budget import (
    bits_per_event,
    events_per_second,
    max_rate_hz,
    plan_link,
    resolution_for_tolerance,
    stdp_quantization_error,
)
from neuroplastic.plasticity.stdp import ExponentialWindow, stdp_pair_sum

WINDOW = ExponentialWindow(
    a_plus=0.01, a_minus=0.0105, tau_plus_ms=20.0, tau_minus_ms=20.0, at_zero="causal"
)


def _brute_error(resolution_ms, window, half_width_ms=300.0, n=2_000_000):
    """Midpoint-rule quadrature of eps^2 = sum_k int tri_k(s) (W(kD) - W(s))^2 ds / int W^2."""
    ds = 2 * half_width_ms / n
    s = -half_width_ms + (np.arange(n) + 0.5) * ds
    w = window(torch.from_numpy(s)).numpy()
    lower = np.floor(s / resolution_ms)  # s lies between grid points k=lower and lower+1
    frac = s / resolution_ms - lower
    w_lo = window(torch.from_numpy(lower * resolution_ms)).numpy()
    w_hi = window(torch.from_numpy((lower + 1) * resolution_ms)).numpy()
    num = np.sum((1 - frac) * (w_lo - w) ** 2 + frac * (w_hi - w) ** 2) * ds
    return math.sqrt(num / (np.sum(w**2) * ds))


@pytest.mark.parametrize("at_zero", ["zero", "causal", "acausal", "mean"])
@pytest.mark.parametrize("resolution_ms", [0.05, 0.7, 6.0])
def test_error_formula_matches_quadrature(at_zero, resolution_ms):
    window = ExponentialWindow(
        a_plus=1.0, a_minus=0.6, tau_plus_ms=15.0, tau_minus_ms=30.0, at_zero=at_zero
    )
    exact = stdp_quantization_error(resolution_ms, window)
    assert exact == pytest.approx(_brute_error(resolution_ms, window), rel=2e-3)


def test_error_small_resolution_asymptotics():
    # eps^2 ~ D [(a+ - W0)^2 + (a- + W0)^2] / (a+^2 tau+ + a-^2 tau-): sqrt law
    a, b, w0 = WINDOW.a_plus, WINDOW.a_minus, WINDOW.w_zero
    slope = ((a - w0) ** 2 + (b + w0) ** 2) / (a * a * 20 + b * b * 20)
    for d in (1e-4, 1e-3):
        assert stdp_quantization_error(d, WINDOW) == pytest.approx(math.sqrt(d * slope), rel=2e-3)
    assert stdp_quantization_error(0.4, WINDOW) == pytest.approx(
        2 * stdp_quantization_error(0.1, WINDOW), rel=0.02
    )


def _poisson_pairs(seed, rate_per_ms=0.1, duration_ms=2.0e6, half_width_ms=80.0):
    """All (pre, post) pairs of two independent Poisson trains with |lag| < half_width_ms."""
    rng = np.random.default_rng(seed)
    pre = np.sort(rng.uniform(0, duration_ms, rng.poisson(rate_per_ms * duration_ms)))
    post = np.sort(rng.uniform(0, duration_ms, rng.poisson(rate_per_ms * duration_ms)))
    lo = np.searchsorted(post, pre - half_width_ms)
    hi = np.searchsorted(post, pre + half_width_ms)
    counts = hi - lo
    pre_idx = np.repeat(np.arange(pre.size), counts)
    post_idx = np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
    return pre[pre_idx], post[post_idx]


def _simulated_error(pre, post, resolution_ms):
    """Relative RMS error of the per-pair STDP updates when both spikes are quantized.

    Each pair is one batch entry of ``stdp_pair_sum`` (shape (P, 1) against (P, 1)).
    """
    pre_t, post_t = torch.from_numpy(pre)[:, None], torch.from_numpy(post)[:, None]
    exact = stdp_pair_sum(pre_t, post_t, WINDOW)
    q = lambda t: torch.round(t / resolution_ms) * resolution_ms  # noqa: E731
    quant = stdp_pair_sum(q(pre_t), q(post_t), WINDOW)
    d2 = ((quant - exact) ** 2).numpy()
    eps = math.sqrt(d2.sum() / (exact**2).sum().item())
    se = 0.5 * eps * d2.std() / (d2.mean() * math.sqrt(d2.size))  # delta method on eps^2
    return eps, se


@pytest.fixture(scope="module")
def pairs():
    pre, post = _poisson_pairs(seed=7)
    return pre, post


@pytest.mark.parametrize("tolerance", [0.15, 0.3])
def test_planner_resolution_is_safe_and_tight_in_simulation(pairs, tolerance):
    pre, post = pairs
    assert pre.size > 2_000_000
    plan = plan_link(1000, 10.0, WINDOW, tolerance)
    res_ms = plan.resolution_us / 1000.0
    eps, se = _simulated_error(pre, post, res_ms)
    assert eps == pytest.approx(plan.stdp_error, abs=4 * se)  # analytic = simulated
    assert eps < tolerance  # safe at the planned resolution
    eps4, se4 = _simulated_error(pre, post, 4 * res_ms)
    assert eps4 > tolerance + 4 * se4  # tight: a 4x coarser clock breaks the tolerance
    # at the exact (unrounded) limit the simulated error sits at the tolerance
    eps_x, se_x = _simulated_error(pre, post, plan.resolution_us_exact / 1000.0)
    assert eps_x == pytest.approx(tolerance, abs=4 * se_x)


def test_resolution_for_tolerance_inverts_error():
    for tol in (0.01, 0.1, 0.5):
        d = resolution_for_tolerance(tol, WINDOW)
        assert stdp_quantization_error(d, WINDOW) == pytest.approx(tol, rel=1e-9)
    with pytest.raises(ValueError, match="tolerance"):
        resolution_for_tolerance(50.0, WINDOW)


def test_bandwidth_matches_counted_stream():
    n, rate, duration_s = 200, 37.0, 3.0
    fmt = AERFormat(
        timestamp_resolution_us=50.0, timestamp_bits=16, address_bits=8, polarity=True
    )  # 25-bit words, wraps every 3.28 s
    rng = np.random.default_rng(0)
    per = int(rate * duration_s)  # regular trains with random phases: exact counts
    times = (rng.uniform(0, 1 / rate, n)[:, None] + np.arange(per)[None, :] / rate).ravel()
    addr = np.repeat(np.arange(n), per)
    order = np.argsort(times, kind="stable")
    words = encode(times[order], addr[order], None, fmt, unit="s")
    counted_bits = words.size * fmt.word_bits
    plan = plan_link(n, rate, WINDOW, 0.2, address_bits=8, timestamp_bits=16, polarity=True)
    planned_bits = (plan.events_per_s * duration_s) * plan.bits_per_event
    assert plan.bits_per_event == fmt.word_bits
    markers = words.size - times.size
    last_tick = round(times.max() * 1e6 / fmt.timestamp_resolution_us)
    assert markers == last_tick >> fmt.timestamp_bits  # one marker per epoch entered
    assert counted_bits - markers * fmt.word_bits == planned_bits
    # the planner's marker allowance (one per wrap period) bounds the counted markers
    assert markers <= duration_s * 1e6 / fmt.wrap_period_us


def test_unicast_multicast_and_inverse():
    assert events_per_second(100, 5.0, 10, "multicast") == 500.0
    assert events_per_second(100, 5.0, 10, "unicast") == 5000.0
    assert bits_per_event(10, 16, True, 8) == 35
    plan = plan_link(
        5000,
        8.0,
        WINDOW,
        0.2,
        fan_out=50,
        routing="unicast",
        overhead_bits=8,
        link_bits_per_s=1e8,
    )
    assert plan.address_bits == 13
    assert plan.events_per_s == 5000 * 8.0 * 50
    r = plan.max_rate_hz
    again = plan_link(
        5000,
        r,
        WINDOW,
        0.2,
        fan_out=50,
        routing="unicast",
        overhead_bits=8,
        link_bits_per_s=1e8,
    )
    assert again.bits_per_s == pytest.approx(1e8, rel=1e-12)
    assert plan.fits and "fits" in plan.summary() and "us" in plan.summary()
    assert max_rate_hz(1e3, 10, address_bits=4, timestamp_bits=8, resolution_us=1.0) == 0.0


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"n_neurons": 0}, "n_neurons"),
        ({"rate_hz": -1.0}, "rate_hz"),
        ({"tolerance": 0.0}, "tolerance"),
        ({"fan_out": 0}, "fan_out"),
        ({"routing": "broadcast"}, "routing"),
        ({"address_bits": 3}, "address_bits"),
        ({"timestamp_bits": -1}, "timestamp_bits"),
        ({"overhead_bits": -2}, "overhead_bits"),
    ],
)
def test_plan_validation(kwargs, name):
    args = {"n_neurons": 100, "rate_hz": 5.0, "window": WINDOW, "tolerance": 0.1} | kwargs
    with pytest.raises(ValueError, match=name):
        plan_link(**args)


def test_error_validation():
    with pytest.raises(ValueError, match="resolution_ms"):
        stdp_quantization_error(0.0, WINDOW)
    with pytest.raises(ValueError, match="window"):
        stdp_quantization_error(1.0, object())
