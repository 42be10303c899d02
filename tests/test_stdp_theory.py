"""Drift theory of STDP: closed forms, correlogram estimates and simulated drift."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroplastic.plasticity.stdp import (
    ExponentialWindow,
    FunctionWindow,
    STDPParams,
    SymmetricWindow,
    csr_layout,
    init_stdp_state,
    stdp_pair_sum,
    stdp_step,
)
from neuroplastic.plasticity.theory import (
    SharedInputPoisson,
    cross_correlogram,
    drift_integral,
    estimated_drift,
    predicted_drift,
    sample_shared_input,
)

F64 = torch.float64


def _fn_window() -> FunctionWindow:
    def fn(dt: torch.Tensor) -> torch.Tensor:
        return torch.where(dt > 0, torch.exp(-dt / 20.0), -0.6 * torch.exp(dt / 30.0))

    return FunctionWindow(fn, support_ms=900.0)


WINDOWS = [
    ExponentialWindow(1.0, 0.8, 20.0, 30.0),
    ExponentialWindow(0.5, 1.0, 10.0, 25.0, at_zero="causal"),
    SymmetricWindow(0.7, 15.0),
    SymmetricWindow(-1.0, 8.0, shape="mexican_hat"),
    _fn_window(),
]


@pytest.mark.parametrize("window", WINDOWS, ids=lambda w: type(w).__name__)
@pytest.mark.parametrize("lag,jitter", [(-20.0, 0.0), (0.0, 0.0), (7.0, 0.0), (0.0, 4.0),
                                        (12.0, 6.0), (-9.0, 2.5)])
def test_closed_form_equals_quadrature(window, lag, jitter):
    """The closed-form drift (window integral + Gaussian expectation) equals scipy quadrature
    of W(tau) C(tau) — an independent evaluation of the same integral."""
    model = SharedInputPoisson(15.0, 25.0, 0.4, lag, jitter)
    a = predicted_drift(window, model, learning_rate=0.3)
    b = predicted_drift(window, model, learning_rate=0.3, method="quadrature")
    assert a == pytest.approx(b, rel=1e-7, abs=1e-9)


def test_drift_formula_by_hand():
    """Exponential window, no jitter: eta [r r (a+ t+ - a- t-) + r_c W(d)] in per second."""
    win = ExponentialWindow(1.0, 0.8, 20.0, 30.0)
    model = SharedInputPoisson(20.0, 20.0, 0.5, 5.0)
    expected = 400.0 * (20.0 - 24.0) * 1e-3 + 10.0 * math.exp(-5.0 / 20.0)
    assert predicted_drift(win, model) == pytest.approx(expected, rel=1e-12)
    # the correlation function integrates to the shared rate above baseline
    jit = SharedInputPoisson(20.0, 20.0, 0.5, 5.0, 3.0)
    tau = np.linspace(-60, 70, 20001)
    excess = np.trapezoid(jit.correlation(tau) - 400.0, tau) * 1e-3
    assert excess == pytest.approx(10.0, rel=1e-6)
    assert drift_integral(win, lambda t: np.full_like(t, 400.0)) == pytest.approx(
        400.0 * win.integral() * 1e-3, rel=1e-8
    )


@pytest.mark.parametrize("window", WINDOWS[:4], ids=lambda w: type(w).__name__)
def test_grid_correction(window):
    """The clock-grid prediction tends to the continuous one as dt -> 0 (W(0) = 0 windows at
    order dt), and for dt > 0 adds the W(0) dt coincidence term of independent spikes."""
    for lag, jit in ((7.0, 0.0), (-4.0, 3.0)):
        m = SharedInputPoisson(20.0, 30.0, 0.5, lag, jit)
        cont = predicted_drift(window, m)
        fine = predicted_drift(window, m, dt_ms=0.01)
        assert fine == pytest.approx(cont, rel=2e-3, abs=2e-3)
    m = SharedInputPoisson(20.0, 20.0, 0.5, 5.0)
    coarse = predicted_drift(window, m, dt_ms=1.0)
    riemann = sum(float(window(torch.tensor(k * 1.0, dtype=F64))) for k in range(-3000, 3001))
    expected = 400.0 * riemann * 1e-3 + 10.0 * float(window(torch.tensor(5.0, dtype=F64)))
    assert coarse == pytest.approx(expected, rel=1e-9)


def test_correlogram_estimate_of_sampled_trains():
    """The correlogram of sampled shared-input trains shows the baseline r_pre r_post and a
    peak of area r_c at the lag; the drift estimated from it equals the exact pair sum."""
    model = SharedInputPoisson(30.0, 20.0, 0.5, 6.0, 2.0)
    dt, T, n = 0.5, 10000.0, 40
    pre_s, pre_i, post_s, post_i = sample_shared_input(model, n, T, dt_ms=dt, seed=1)
    pre = [pre_s[pre_i == k] * dt for k in range(n)]
    post = [post_s[post_i == k] * dt for k in range(n)]
    lags, c = cross_correlogram(pre, post, duration_ms=T, bin_ms=dt, max_lag_ms=100.0)
    far = np.abs(lags - 6.0) > 20.0
    base = model.rate_pre_hz * model.rate_post_hz
    assert np.mean(c[far]) == pytest.approx(base, rel=0.03)
    area = np.sum(c[~far] - base) * dt * 1e-3
    assert area == pytest.approx(model.shared_rate_hz, rel=0.05)
    assert lags[np.argmax(c)] == pytest.approx(6.0, abs=1.0)
    # estimated drift from the correlogram == exact all-pairs sum / duration (up to the edge
    # correction T - |tau|, < 1 % here), for a window that is ~0 beyond max_lag_ms
    win = ExponentialWindow(1.0, 0.8, 10.0, 12.0, at_zero="mean")
    est = estimated_drift(pre, post, win, duration_ms=T, bin_ms=dt, max_lag_ms=200.0)
    exact = np.mean([
        float(stdp_pair_sum(torch.tensor(a), torch.tensor(b), win)) for a, b in zip(pre, post)
    ]) / (T * 1e-3)
    assert est == pytest.approx(exact, rel=0.01)
    assert est == pytest.approx(predicted_drift(win, model), rel=0.1)


# Shared-input groups simulated side by side: (lag_ms, jitter_ms)
DRIFT_GROUPS = [(-20.0, 0.0), (-5.0, 0.0), (0.0, 0.0), (5.0, 0.0), (12.0, 4.0), (20.0, 0.0)]


def test_simulated_drift_matches_theory():
    r"""Event-driven STDP on correlated Poisson trains drifts at eta * int W C.

    Six shared-input groups (lags -20, -5, 0, +5, +12 with 4 ms jitter, +20 ms; rates 20 Hz,
    c = 0.5), 1500 independent synapses each (a diagonal CSR projection of 9000 synapses), 4 s
    at dt = 0.5 ms: 6000 synapse-seconds per group. Window a+ = 1, a- = 0.8, tau 20 / 30 ms
    (W(0) = 0): the zero-lag group measures the baseline term r^2 int W = -1.6 / s alone.
    Measured (seeds 0 and 100): 95 % CI half-widths 1.1-3.9 % of the prediction (0.06-0.09 / s)
    and errors -2.7 % to +0.1 % (the Bernoulli grid loses ~1.5 % of the shared pairs; the
    Riemann sum of the baseline is off by dt/2). The test requires |error| < 10 % and a CI
    half-width < 10 % of the prediction for every group.
    """
    win = ExponentialWindow(1.0, 0.8, 20.0, 30.0)
    params = STDPParams(win, w_min=-math.inf, w_max=math.inf)
    n, T, dt = 1500, 4000.0, 0.5
    n_steps, g = int(T / dt), len(DRIFT_GROUPS)
    models = [SharedInputPoisson(20.0, 20.0, 0.5, d, s) for d, s in DRIFT_GROUPS]
    ev = [sample_shared_input(m, n, T, dt_ms=dt, seed=k) for k, m in enumerate(models)]
    pre_s = np.concatenate([e[0] for e in ev])
    pre_i = np.concatenate([e[1] + k * n for k, e in enumerate(ev)])
    post_s = np.concatenate([e[2] for e in ev])
    post_i = np.concatenate([e[3] + k * n for k, e in enumerate(ev)])
    total = g * n
    pre_r = np.zeros((n_steps, 1, total), dtype=bool)
    post_r = np.zeros((n_steps, 1, total), dtype=bool)
    pre_r[pre_s, 0, pre_i] = True
    post_r[post_s, 0, post_i] = True
    pre_t, post_t = torch.from_numpy(pre_r), torch.from_numpy(post_r)
    csr = csr_layout(torch.arange(total + 1), torch.arange(total), total)
    w = torch.zeros(total, dtype=F64)
    state = init_stdp_state(1, total, total)
    for k in range(n_steps):
        w, state = stdp_step(w, pre_t[k], post_t[k], state, params, dt_ms=dt, csr=csr)
    rate = (w / (T * 1e-3)).numpy().reshape(g, n)
    for k, model in enumerate(models):
        pred = predicted_drift(win, model)
        mean = rate[k].mean()
        ci = 1.96 * rate[k].std(ddof=1) / math.sqrt(n)
        assert ci < 0.1 * abs(pred), (DRIFT_GROUPS[k], ci, pred)
        assert abs(mean - pred) < 0.1 * abs(pred), (DRIFT_GROUPS[k], mean, pred)
    # the lag ordering of the drifts is that of the window
    assert np.argsort(rate.mean(1)).tolist() == [1, 0, 2, 5, 4, 3]


@settings(max_examples=40, deadline=None)
@given(
    r1=st.floats(0.1, 100.0),
    r2=st.floats(0.1, 100.0),
    c=st.floats(-2.0, 2.0, allow_nan=False),
)
def test_shared_input_validation(r1, r2, c):
    hi = math.sqrt(min(r1, r2) / max(r1, r2))
    if 0.0 <= c <= hi:
        m = SharedInputPoisson(r1, r2, c)
        assert m.shared_rate_hz <= min(r1, r2) * (1 + 1e-12)
    else:
        with pytest.raises(ValueError, match="c must"):
            SharedInputPoisson(r1, r2, c)


@settings(max_examples=30, deadline=None)
@given(
    field=st.sampled_from(["rate_pre_hz", "rate_post_hz", "jitter_ms", "lag_ms"]),
    v=st.one_of(st.just(math.nan), st.just(math.inf), st.floats(max_value=-1e-9,
                                                                  allow_infinity=False)),
)
def test_shared_input_field_validation(field, v):
    kw = dict(rate_pre_hz=10.0, rate_post_hz=10.0, c=0.1, lag_ms=0.0, jitter_ms=0.0)
    kw[field] = v
    if field == "lag_ms" and math.isfinite(v):
        SharedInputPoisson(**kw)  # negative lags are allowed
        return
    with pytest.raises(ValueError, match=field):
        SharedInputPoisson(**kw)


def test_theory_argument_validation():
    win = WINDOWS[0]
    m = SharedInputPoisson(10.0, 10.0, 0.1)
    with pytest.raises(ValueError, match="method"):
        predicted_drift(win, m, method="mc")
    with pytest.raises(ValueError, match="learning_rate"):
        predicted_drift(win, m, learning_rate=0.0)
    with pytest.raises(ValueError, match="delta"):
        m.cross_covariance(0.0)
    with pytest.raises(ValueError, match="max_lag_ms"):
        cross_correlogram(np.zeros(1), np.zeros(1), duration_ms=10.0, bin_ms=1.0, max_lag_ms=20.0)
    with pytest.raises(ValueError, match="bin_ms"):
        cross_correlogram(np.zeros(1), np.zeros(1), duration_ms=10.0, bin_ms=0.0, max_lag_ms=2.0)
    with pytest.raises(ValueError, match="rate \\* dt"):
        sample_shared_input(SharedInputPoisson(900.0, 900.0, 0.1), 1, 10.0, dt_ms=2.0, seed=0)
