"""Extreme but finite values are refused at the API boundary (defect 11).

Durations, delays, refractory periods, spike times, encoder lengths, AER timestamps and STDP
parameters of 1e12 .. 1e300 (and NaN, inf, negatives where they are meaningless) must raise a
``ValueError`` naming the parameter before any work starts: never an ``OverflowError`` deep
inside, never a silent run (a simulation of 1e31 steps, a spike stored at a wrapped int64 step,
NaN weights). Where the value is legitimate (a Gaussian expectation with a huge spread, a
window scaled by 1e300), the answer must be finite and right instead.
"""

from __future__ import annotations

import math
import re
from unittest import mock

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroplastic.encoding import LatencyParams, PoissonParams
from neuroplastic.events import aer, budget, formats
from neuroplastic.network import Network
from neuroplastic.network.simulation import Simulation
from neuroplastic.neurons import LIFParams
from neuroplastic.plasticity import stdp, theory
from neuroplastic.synapses import AllToAll

HUGE = st.floats(min_value=1e12, max_value=1e300)  # finite, far beyond any sane time in ms
NEGATIVE = st.floats(max_value=-1e-9, allow_infinity=False)
NONFINITE = st.sampled_from([math.nan, math.inf, -math.inf])
BAD_TIME = HUGE | NEGATIVE | NONFINITE
HUGE_INT = st.integers(min_value=2**63, max_value=10**40)

FAST = settings(max_examples=30, deadline=None)


def refused(name: str):
    """``pytest.raises(ValueError)`` whose message names the parameter ``name``."""
    return pytest.raises(ValueError, match=rf"(?<!\w){re.escape(name)}(?!\w)")


def no_simulation():
    """Fail (instead of running for ages) if the network starts simulating."""
    return mock.patch.object(
        Simulation, "advance", side_effect=AssertionError("the network ran instead of refusing")
    )


def small_net(dt_ms: float = 0.1) -> Network:
    net = Network(dt_ms=dt_ms)
    net.add_lif("a", 2)
    net.add_lif("b", 2)
    return net


# ---------------------------------------------------------------------------- the simulator
@FAST
@given(duration=BAD_TIME)
def test_run_refuses_durations_beyond_the_clock(duration):
    net = small_net()
    with no_simulation(), refused("duration_ms"):
        net.run(duration)
    assert net.step == 0


@FAST
@given(dt=st.floats(min_value=1e-300, max_value=1e-13))
def test_run_refuses_step_counts_that_overflow(dt):
    """1 ms at a clock step of 1e-300 ms is 1e300 steps: refused, not converted to an int."""
    net = Network(dt_ms=dt)
    net.add_poisson("p", [0.0, 0.0])
    with no_simulation(), refused("duration_ms"):
        net.run(1.0)


def test_run_refuses_to_go_past_the_clock_limit_in_several_calls():
    net = small_net(dt_ms=1.0)
    net.step = 4_294_967_295_990  # 10 steps before the last one (as after a long resume)
    with no_simulation(), refused("duration_ms"):
        net.run(11.0)


@FAST
@given(t=BAD_TIME)
def test_spike_times_beyond_the_clock_are_refused(t):
    net = small_net()
    with refused("times_ms"):
        net.add_spike_times("s", 2, [0.0, t], [0, 1])


@FAST
@given(delay=BAD_TIME)
def test_delays_longer_than_the_ring_buffer_are_refused(delay):
    net = small_net()
    with refused("delay_ms"):
        net.connect("a", "b", AllToAll(), delay_ms=delay)
    with refused("delay_ms"):
        net.connect("a", "b", AllToAll(), delay_ms=torch.tensor([0.0, 1.0, 2.0, delay],
                                                                dtype=torch.float64))


def test_delay_at_the_ring_buffer_limit_is_accepted():
    net = small_net(dt_ms=1.0)
    proj = net.connect("a", "b", AllToAll(), delay_ms=float(2**20))
    assert int(proj.delays.max()) == 2**20


@FAST
@given(start=BAD_TIME)
def test_current_start_beyond_the_clock_is_refused(start):
    net = small_net()
    with refused("start_ms"):
        net.add_current("a", torch.ones(3, 2), start_ms=start)


@FAST
@given(t_ref=HUGE)
def test_refractory_periods_longer_than_the_clock_are_refused(t_ref):
    net = Network(dt_ms=0.1)
    with refused("t_ref_ms"):
        net.add_lif("a", 2, LIFParams(t_ref_ms=t_ref))


@FAST
@given(stride=HUGE_INT | st.integers(min_value=4_294_967_296_001, max_value=2**63))
def test_state_monitor_stride_beyond_the_clock_is_refused(stride):
    net = small_net()
    with refused("stride"):
        net.monitor_state("a", stride=stride)


@FAST
@given(seed=HUGE_INT)
def test_seeds_beyond_64_bits_are_refused_not_aliased(seed):
    with refused("seed"):
        Network(seed=seed)


@FAST
@given(rate=HUGE | NONFINITE | NEGATIVE)
def test_poisson_rates_above_one_spike_per_step_are_refused(rate):
    net = Network(dt_ms=0.1)
    with refused("rates_hz"):
        net.add_poisson("p", [1.0, rate])


# ---------------------------------------------------------------------------- encoders
@FAST
@given(n=st.integers(min_value=2**31, max_value=10**40))
def test_encoder_lengths_beyond_the_cap_are_refused(n):
    with refused("num_steps"):
        PoissonParams(num_steps=n)
    with refused("num_steps"):
        LatencyParams(num_steps=n)


@FAST
@given(dt=st.floats(min_value=1.8e302, max_value=1.7e308))
def test_latency_window_that_overflows_is_refused(dt):
    with refused("dt_ms"):
        LatencyParams(num_steps=1_000_000, dt_ms=dt)


@FAST
@given(rate=HUGE, dt=st.floats(min_value=1e-9, max_value=1e300))
def test_poisson_probability_above_one_is_refused(rate, dt):
    if rate * dt * 1e-3 <= 1.0:
        return
    with refused("max_rate_hz"):
        PoissonParams(max_rate_hz=rate, dt_ms=dt)


@FAST
@given(rate=st.floats(min_value=1e-300, max_value=1e-100),
       dt=st.floats(min_value=1e-300, max_value=1e-100))
def test_poisson_probability_that_underflows_is_refused(rate, dt):
    """p = rate * dt / 1000 of 1e-200 would encode nothing and decode as 0/0."""
    with refused("max_rate_hz"):
        PoissonParams(max_rate_hz=rate, dt_ms=dt)


# ---------------------------------------------------------------------------- AER / events
@FAST
@given(t=st.floats(min_value=1e19, max_value=1e300) | NONFINITE | NEGATIVE)
def test_quantize_refuses_times_beyond_int64_ticks(t):
    with refused("times_us"):
        aer.quantize_times(np.array([0.0, t]), 1.0)


@FAST
@given(t=st.floats(min_value=1.8e302, max_value=1.7e308))
def test_encode_refuses_times_that_overflow_in_microseconds(t):
    with refused("times"):
        aer.encode([0.0, t], [0, 1], None, aer.AERFormat(), unit="s")


@FAST
@given(gap=st.integers(min_value=2**57, max_value=2**62))
def test_encode_refuses_silences_needing_too_many_wrap_markers(gap):
    with refused("ticks"):
        aer.encode_ticks(np.array([0, gap]), [0, 1], None, aer.AERFormat(timestamp_bits=16))


@FAST
@given(t=st.floats(min_value=2.0**63, max_value=1e300))
def test_event_stream_refuses_float_ticks_beyond_int64(t):
    with refused("ticks"):
        aer.EventStream([0], np.array([t]), [1])


@FAST
@given(res=st.floats(min_value=1e291, max_value=1.7e308))
def test_event_stream_refuses_times_that_overflow_float(res):
    with refused("resolution_us"):
        aer.EventStream([0, 1], [0, 10**18], [1, 1], resolution_us=res)


@FAST
@given(res=st.floats(min_value=1e304, max_value=1.7e308))
def test_aer_format_refuses_a_wrap_period_that_overflows(res):
    with refused("timestamp_resolution_us"):
        aer.AERFormat(timestamp_resolution_us=res)


@FAST
@given(dt=st.floats(min_value=1e-300, max_value=1e-5))
def test_to_monitor_refuses_steps_beyond_int64(dt):
    stream = aer.EventStream([0, 1], [0, 10**18], [1, 1])
    with refused("dt_ms"):
        aer.to_monitor(stream, dt)
    with refused("dt_ms"):
        aer.to_raster(stream, 2, dt_ms=dt)


@FAST
@given(dt=st.floats(min_value=1.8e305, max_value=1.7e308))
def test_from_monitor_refuses_a_step_that_overflows_in_microseconds(dt):
    with refused("dt_ms"):
        aer.from_monitor([0, 1], [0, 0], dt)


@FAST
@given(periods=st.integers(min_value=2**23, max_value=2**39 - 1))
def test_decode_refuses_wrap_markers_beyond_int64_ticks(periods):
    fmt = aer.AERFormat(timestamp_bits=40, address_bits=15)
    marker = (periods << 16) | (fmt.marker_address << 1)
    words = np.array([marker, (5 << 16) | (3 << 1) | 1], dtype=np.uint64)
    with refused("words"):
        aer.decode(words, fmt)


@FAST
@given(tick=st.integers(min_value=2**54, max_value=2**63 - 1))
def test_microsecond_exports_refuse_times_beyond_int64(tick, tmp_path_factory):
    stream = aer.EventStream([0], [tick], [1], resolution_us=1000.0, x=[0], y=[0])
    with refused("stream"):
        aer.to_tonic(stream)
    with refused("events"):
        formats.write_evt3(tmp_path_factory.mktemp("evt") / "x.raw", stream, width=1, height=1)


@FAST
@given(t=st.integers(min_value=2**52, max_value=2**63 - 1)
       | st.floats(min_value=1e16, max_value=1e300))
def test_evt3_encoder_refuses_times_beyond_its_keep_alive_budget(t):
    with refused("t_us"):
        formats.encode_evt3_words([0, 1], [0, 0], [0, t], [1, 1], backend="numpy")


# ---------------------------------------------------------------------------- STDP
@FAST
@given(tau=st.floats(min_value=6e306, max_value=1.7e308))
def test_windows_refuse_supports_that_overflow(tau):
    with refused("tau_plus_ms"):
        stdp.ExponentialWindow(tau_plus_ms=tau)
    with refused("tau_ms"):
        stdp.SymmetricWindow(tau_ms=tau)


@FAST
@given(a=st.floats(min_value=1e160, max_value=1e300),
       tau=st.floats(min_value=1e160, max_value=1e300))
def test_windows_refuse_areas_that_overflow(a, tau):
    with refused("a_plus"):
        stdp.ExponentialWindow(a_plus=a, tau_plus_ms=tau)


@FAST
@given(mean=st.floats(min_value=-1e300, max_value=1e300), std=st.floats(min_value=0.0,
                                                                         max_value=1e300))
def test_gaussian_expectation_is_finite_for_any_finite_lag(mean, std):
    """E[W(X)] is bounded by max|W| whatever the spread: no OverflowError, no NaN."""
    windows = [stdp.ExponentialWindow(), stdp.ExponentialWindow(tau_plus_ms=1e-160),
               stdp.SymmetricWindow(), stdp.SymmetricWindow(shape="mexican_hat")]
    for w in windows:
        e = w.gaussian_expectation(mean, std)
        assert math.isfinite(e) and abs(e) <= 0.0105 + 1e-12


@FAST
@given(bad=NONFINITE)
def test_gaussian_expectation_refuses_nonfinite_arguments(bad):
    w = stdp.ExponentialWindow()
    with refused("mean_ms"):
        w.gaussian_expectation(bad, 1.0)
    with refused("std_ms"):
        w.gaussian_expectation(0.0, bad)


@FAST
@given(lr=st.floats(min_value=1e160, max_value=1e300), a=st.floats(min_value=1e160,
                                                                    max_value=1e300))
def test_stdp_params_refuse_pair_changes_that_overflow(lr, a):
    with refused("learning_rate"):
        stdp.STDPParams(stdp.ExponentialWindow(a_plus=a, a_minus=a), learning_rate=lr,
                        w_min=-math.inf, w_max=math.inf)
    with refused("learning_rate"):
        stdp.TripletParams(a3_plus=a, learning_rate=lr)


@FAST
@given(span=st.floats(min_value=1e300, max_value=1e308))
def test_soft_bounds_refuse_spans_that_overflow(span):
    with refused("learning_rate"):
        stdp.STDPParams(update="multiplicative", w_min=-span, w_max=span, learning_rate=1e10)


@FAST
@given(lr=st.floats(min_value=3.5e38, max_value=1e300))
def test_rules_refuse_learning_rates_beyond_the_weights_dtype(lr):
    """float32 weights would turn eta * W into inf and then NaN: refused, float64 is fine."""
    one = torch.tensor([[True]])
    params = stdp.STDPParams(stdp.ExponentialWindow(a_plus=1e-300, a_minus=1e-300),
                             learning_rate=lr, w_min=-math.inf, w_max=math.inf)
    with refused("learning_rate"):
        stdp.stdp_step(torch.zeros(1, 1), one, one, stdp.init_stdp_state(1, 1, 1), params,
                       dt_ms=1.0)
    w, _ = stdp.stdp_step(torch.zeros(1, 1, dtype=torch.float64), one, one,
                          stdp.init_stdp_state(1, 1, 1), params, dt_ms=1.0)
    assert torch.isfinite(w).all()
    trip = stdp.TripletParams(a2_plus=1e-300, a3_plus=0.0, a2_minus=1e-300, a3_minus=0.0,
                              learning_rate=lr)
    with refused("learning_rate"):
        stdp.triplet_step(torch.zeros(1, 1), one, one, stdp.init_triplet_state(1, 1, 1), trip,
                          dt_ms=1.0)


@FAST
@given(t0=st.floats(min_value=4.6e15, max_value=1e300) | st.floats(min_value=-1e300,
                                                                    max_value=-4.6e15))
def test_spike_history_refuses_times_where_steps_merge(t0):
    """At |t| > 2**52 dt, t + dt == t: every spike would look coincident."""
    params = stdp.STDPParams(window=stdp.SymmetricWindow(shape="mexican_hat"))
    state = stdp.init_history_state(1, 1, 1, 4, t0_ms=t0)
    one = torch.tensor([[True]])
    with refused("t_ms"):
        stdp.stdp_history_step(torch.zeros(1, 1), one, one, state, params, dt_ms=1.0)


# ---------------------------------------------------------------------------- drift theory
@FAST
@given(dt=st.floats(min_value=1e-300, max_value=1e-6))
def test_predicted_drift_refuses_grids_too_fine(dt):
    model = theory.SharedInputPoisson(10.0, 10.0, 0.1)
    with refused("dt_ms"):
        theory.predicted_drift(stdp.ExponentialWindow(), model, dt_ms=dt)


@FAST
@given(duration=st.floats(min_value=1e12, max_value=1e300), dt=st.floats(min_value=1e-300,
                                                                          max_value=1.0))
def test_sampling_refuses_durations_beyond_its_budget(duration, dt):
    model = theory.SharedInputPoisson(10.0, 10.0, 0.1)
    with refused("duration_ms"):
        theory.sample_shared_input(model, 4, duration, dt_ms=dt, seed=0)


@FAST
@given(bin_ms=st.floats(min_value=1e-300, max_value=1e-6))
def test_correlogram_refuses_bins_too_fine(bin_ms):
    with refused("bin_ms"):
        theory.cross_correlogram([1.0], [2.0], duration_ms=100.0, bin_ms=bin_ms, max_lag_ms=50.0)


@FAST
@given(rate=st.floats(min_value=1.4e154, max_value=1e300))
def test_shared_input_refuses_rates_whose_product_overflows(rate):
    with refused("rate_pre_hz"):
        theory.SharedInputPoisson(rate, rate, 0.1)


@FAST
@given(lag=st.floats(min_value=1e4, max_value=1e300) | st.floats(min_value=-1e300,
                                                                  max_value=-1e4))
def test_drift_of_far_lags_is_right_by_every_method(lag):
    """A shared peak far outside the window adds nothing: closed form, quadrature and the
    clock grid all give the baseline drift (no silent zero, no OverflowError)."""
    win = stdp.ExponentialWindow()
    model = theory.SharedInputPoisson(10.0, 10.0, 0.1, lag_ms=lag, jitter_ms=1.0)
    base = theory.predicted_drift(win, theory.SharedInputPoisson(10.0, 10.0, 0.1, lag_ms=1e4))
    assert theory.predicted_drift(win, model) == pytest.approx(base, rel=1e-12)
    assert theory.predicted_drift(win, model, method="quadrature") == pytest.approx(base,
                                                                                    rel=1e-9)
    grid = theory.predicted_drift(win, model, dt_ms=0.5)
    assert math.isfinite(grid) and grid == pytest.approx(base, rel=0.05)


# ---------------------------------------------------------------------------- link budget
@FAST
@given(rate=st.floats(min_value=1.8e305, max_value=1.7e308))
def test_link_budget_refuses_event_rates_that_overflow(rate):
    with refused("rate_hz"):
        budget.events_per_second(1000, rate)


@FAST
@given(scale=st.floats(min_value=1e-300, max_value=1e300),
       res=st.floats(min_value=1e-6, max_value=1e3))
def test_quantization_error_is_scale_free_for_any_amplitude(scale, res):
    """The error is relative: scaling the window by 1e300 or 1e-300 changes nothing (it used
    to overflow in a**2 or divide 0 by 0)."""
    ref = stdp.ExponentialWindow(0.01, 0.0105, 20.0, 20.0, at_zero="causal")
    scaled = stdp.ExponentialWindow(0.01 * scale, 0.0105 * scale, 20.0, 20.0, at_zero="causal")
    e = budget.stdp_quantization_error(res, scaled)
    assert math.isfinite(e)
    assert e == pytest.approx(budget.stdp_quantization_error(res, ref), rel=1e-9)


def test_realize_lif_refuses_a_refractory_period_beyond_int64_steps():
    from neuroplastic.neurons.lif import Analog, LIFParams, realize_lif

    for dt in (1e-300, 1e-20):
        with pytest.raises(ValueError, match="t_ref_ms"):
            realize_lif(LIFParams(t_ref_ms=2.0), Analog(), 3, dt, generator=torch.Generator())
    coef = realize_lif(LIFParams(t_ref_ms=2.0), Analog(), 3, 0.1, generator=torch.Generator())
    assert coef.ref_steps.tolist() == [20, 20, 20]
