"""Pair-based and triplet STDP: event-driven steps against direct pair sums and published data."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroplastic.plasticity.stdp import (
    STDP,
    ExponentialWindow,
    FunctionWindow,
    STDPParams,
    STDPState,
    SymmetricWindow,
    TripletParams,
    csr_layout,
    csr_to_csc,
    init_history_state,
    init_stdp_state,
    init_triplet_state,
    normalize_incoming,
    stdp_history_step,
    stdp_pair_sum,
    stdp_sequence,
    stdp_step,
    triplet_pair_sum,
    triplet_step,
)

F64 = torch.float64
UNBOUNDED = dict(w_min=-math.inf, w_max=math.inf)


def _fn_window() -> FunctionWindow:
    # a smooth, asymmetric, non-exponential window: W = 0.8 dt/8 e^{1-|dt|/8} for dt > 0 ...
    def fn(dt: torch.Tensor) -> torch.Tensor:
        return torch.where(
            dt >= 0, 0.8 * dt / 8.0 * torch.exp(1 - dt / 8.0), -0.3 * torch.exp(dt / 15.0)
        )

    return FunctionWindow(fn, support_ms=150.0)


WINDOWS = {
    "exp_zero": ExponentialWindow(1.0, 0.6, 10.0, 20.0, at_zero="zero"),
    "exp_causal": ExponentialWindow(1.0, 0.6, 10.0, 20.0, at_zero="causal"),
    "exp_acausal": ExponentialWindow(1.0, 0.6, 10.0, 20.0, at_zero="acausal"),
    "exp_mean": ExponentialWindow(0.7, 1.1, 17.0, 34.0, at_zero="mean"),
    "sym_exp": SymmetricWindow(0.5, 12.0),
    "mexican_hat": SymmetricWindow(-0.9, 6.0, shape="mexican_hat"),
    "function": _fn_window(),
}


def _step_fn(window):
    return stdp_step if window.trace_form() is not None else stdp_history_step


def _init(window, batch, n_pre, n_post, pairing="all", capacity=64):
    if window.trace_form() is not None:
        return init_stdp_state(batch, n_pre, n_post)
    return init_history_state(batch, n_pre, n_post, 1 if pairing == "nearest" else capacity)


# ------------------------------------------------------------------------------------------
# Windows
# ------------------------------------------------------------------------------------------


def test_exponential_window_values_and_zero_conventions():
    w = ExponentialWindow(2.0, 0.5, 10.0, 40.0)
    dt = torch.tensor([-40.0, -1e-9, 0.0, 1e-9, 10.0], dtype=F64)
    expected = [-0.5 * math.exp(-1), -0.5, 0.0, 2.0, 2.0 * math.exp(-1)]
    assert torch.allclose(w(dt), torch.tensor(expected, dtype=F64), rtol=1e-8)
    zeros = {"zero": 0.0, "causal": 2.0, "acausal": -0.5, "mean": 0.75}
    for conv, v in zeros.items():
        win = ExponentialWindow(2.0, 0.5, 10.0, 40.0, at_zero=conv)
        assert float(win(torch.zeros((), dtype=F64))) == v == win.w_zero
    assert w.integral() == pytest.approx(2.0 * 10.0 - 0.5 * 40.0)


@pytest.mark.parametrize("name", list(WINDOWS))
def test_window_integral_matches_quadrature(name):
    from scipy.integrate import quad

    win = WINDOWS[name]
    s = win.support_ms

    def f(x):
        return float(win(torch.tensor(x, dtype=F64)))

    numeric = quad(f, -s, 0, limit=400)[0] + quad(f, 0, s, limit=400)[0]
    assert win.integral() == pytest.approx(numeric, rel=1e-7, abs=1e-9)


# ------------------------------------------------------------------------------------------
# One pair changes the weight by exactly W(dt)
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pairing", ["all", "nearest"])
@pytest.mark.parametrize("name", list(WINDOWS))
def test_single_pair_changes_weight_by_window(name, pairing):
    """Trial b has one pre spike at step 60 and one post spike at step 60 + k_b: after the run
    its (per-trial) weight has moved by exactly eta * W(k_b * dt), for k_b = -60..60."""
    win = WINDOWS[name]
    dt, eta = 0.5, 0.37
    ks = torch.arange(-60, 61)
    batch, n_steps, t_pre = ks.numel(), 190, 60
    params = STDPParams(win, pairing=pairing, learning_rate=eta, **UNBOUNDED)
    w = torch.full((batch, 1, 1), 0.25, dtype=F64)
    state = _init(win, batch, 1, 1, pairing)
    step = _step_fn(win)
    for n in range(n_steps):
        pre = torch.full((batch, 1), n == t_pre)
        post = (t_pre + ks == n)[:, None]
        w, state = step(w, pre, post, state, params, dt_ms=dt)
    expected = 0.25 + eta * win(ks.to(F64) * dt)
    assert torch.allclose(w[:, 0, 0], expected, rtol=1e-12, atol=1e-14)
    assert float(expected[60]) == pytest.approx(0.25 + eta * win.w_zero)  # k = 0 included


def test_multiplicative_soft_bounds_single_pairs():
    win = ExponentialWindow(0.2, 0.1, 20.0, 20.0)
    p = STDPParams(win, update="multiplicative", w_min=-0.5, w_max=2.0, learning_rate=1.0)
    w0 = torch.tensor([0.0, 1.5, -0.4, 1.9], dtype=F64)
    k = torch.tensor([4, 4, -4, -4])  # causal, causal, acausal, acausal (steps of 1 ms)
    w = w0.clone().view(4, 1, 1)
    state = init_stdp_state(4, 1, 1)
    for n in range(20):
        pre = torch.full((4, 1), n == 8)
        post = (8 + k == n)[:, None]
        w, state = stdp_step(w, pre, post, state, p, dt_ms=1.0)
    wv = win(k.to(F64))
    expected = torch.where(wv > 0, w0 + wv * (2.0 - w0), w0 + wv * (w0 + 0.5))
    assert torch.allclose(w.flatten(), expected, rtol=1e-13)


def test_hard_bounds_clip_and_hold():
    win = ExponentialWindow(0.3, 0.1, 20.0, 20.0)
    p = STDPParams(win, w_min=0.0, w_max=1.0)
    w = torch.tensor([[0.5, 0.05]], dtype=F64)  # (1 pre, 2 post)
    state = init_stdp_state(1, 1, 2)
    # pre at steps 0, 3, 4; post 0 at steps 1, 2; post 1 at step 0 (coincident, W(0) = 0)
    pre_steps, post_steps = {0, 3, 4}, {(1, 0), (2, 0), (0, 1)}
    for n in range(6):
        pre = torch.tensor([[n in pre_steps]])
        post = torch.tensor([[(n, 0) in post_steps, (n, 1) in post_steps]])
        w, state = stdp_step(w, pre, post, state, p, dt_ms=1.0)

    def W(*lags):
        return float(win(torch.tensor(lags, dtype=F64)).sum())

    def clip(x):
        return min(1.0, max(0.0, x))

    x = clip(clip(0.5 + W(1.0)) + W(2.0))  # 0.785, then 1.056 -> clipped to 1
    x = clip(clip(x + W(-2.0, -1.0)) + W(-3.0, -2.0))  # depression from the clipped value
    assert float(w[0, 0]) == pytest.approx(x, rel=1e-12) and 0.5 < x < 0.9
    y = clip(clip(0.05 + W(-3.0)) + W(-4.0))  # hits the lower bound and stays
    assert y == 0.0 and float(w[0, 1]) == 0.0
    # random drive with huge amplitudes never leaves [w_min, w_max]
    p2 = STDPParams(ExponentialWindow(5.0, 5.0, 20.0, 20.0), w_min=-0.3, w_max=0.7)
    g = torch.Generator().manual_seed(3)
    w = torch.zeros(6, 5, dtype=F64)
    state = init_stdp_state(2, 6, 5)
    for _ in range(200):
        pre = torch.rand(2, 6, generator=g) < 0.1
        post = torch.rand(2, 5, generator=g) < 0.1
        w, state = stdp_step(w, pre, post, state, p2, dt_ms=1.0)
    assert float(w.min()) >= -0.3 and float(w.max()) <= 0.7
    assert float(w.min()) == -0.3 and float(w.max()) == 0.7  # both bounds reached


# ------------------------------------------------------------------------------------------
# Event-driven = dense pair-sum reference; CSR = dense
# ------------------------------------------------------------------------------------------


def _random_raster(g, n_steps, batch, n, p):
    return torch.rand(n_steps, batch, n, generator=g) < p


def _times(raster, dt, b):
    """(n, max_spikes) padded spike-time matrix (ms) of trial b."""
    r = raster[:, b, :]
    lists = [torch.nonzero(r[:, i]).flatten().to(F64) * dt for i in range(r.shape[1])]
    m = max(1, max(len(x) for x in lists))
    out = torch.full((len(lists), m), math.nan, dtype=F64)
    for i, x in enumerate(lists):
        out[i, : len(x)] = x
    return out


@pytest.mark.parametrize("pairing", ["all", "nearest"])
@pytest.mark.parametrize("name", ["exp_causal", "exp_mean", "sym_exp", "mexican_hat", "function"])
def test_event_driven_equals_dense_pair_sum(name, pairing):
    """Random Poisson (Bernoulli-grid) trains, 3 trials, 9 x 7 synapses, shared weights:
    the summed change equals the sum over trials of stdp_pair_sum for every synapse."""
    win = WINDOWS[name]
    dt, n_steps, batch, n_pre, n_post = 0.5, 500, 3, 9, 7
    g = torch.Generator().manual_seed(11)
    pre_r = _random_raster(g, n_steps, batch, n_pre, 0.02)  # 40 Hz
    post_r = _random_raster(g, n_steps, batch, n_post, 0.03)  # 60 Hz
    params = STDPParams(win, pairing=pairing, learning_rate=0.5, **UNBOUNDED)
    w0 = torch.randn(n_pre, n_post, generator=g, dtype=F64)
    w = w0.clone()
    state = _init(win, batch, n_pre, n_post, pairing)
    step = _step_fn(win)
    for n in range(n_steps):
        w, state = step(w, pre_r[n], post_r[n], state, params, dt_ms=dt)
    ref = sum(
        stdp_pair_sum(_times(pre_r, dt, b)[:, None, :], _times(post_r, dt, b)[None, :, :], win,
                      pairing)
        for b in range(batch)
    )
    assert int(pre_r.sum()) > 200 and int(post_r.sum()) > 250
    assert torch.allclose(w - w0, 0.5 * ref, rtol=1e-10, atol=1e-11)


def test_trace_and_history_paths_agree():
    """An exponential window through the spike-history path gives the trace-path weights."""
    win = ExponentialWindow(1.0, 0.6, 10.0, 20.0, at_zero="causal")
    g = torch.Generator().manual_seed(5)
    pre_r = _random_raster(g, 250, 2, 5, 0.04)
    post_r = _random_raster(g, 250, 2, 4, 0.04)
    for pairing in ("all", "nearest"):
        p = STDPParams(win, pairing=pairing, **UNBOUNDED)
        w1, w2 = torch.zeros(2, 5, 4, dtype=F64), torch.zeros(2, 5, 4, dtype=F64)
        s1 = init_stdp_state(2, 5, 4)
        s2 = init_history_state(2, 5, 4, 1 if pairing == "nearest" else 64)
        for n in range(250):
            w1, s1 = stdp_step(w1, pre_r[n], post_r[n], s1, p, dt_ms=1.0)
            w2, s2 = stdp_history_step(w2, pre_r[n], post_r[n], s2, p, dt_ms=1.0)
        assert torch.allclose(w1, w2, rtol=1e-10, atol=1e-12)


def test_batch_modes_per_trial_and_mean():
    win = ExponentialWindow(1.0, 0.6, 10.0, 20.0)
    g = torch.Generator().manual_seed(2)
    pre_r = _random_raster(g, 300, 4, 3, 0.04)
    post_r = _random_raster(g, 300, 4, 2, 0.04)
    per = torch.zeros(4, 3, 2, dtype=F64)
    shared_sum, shared_mean = torch.zeros(3, 2, dtype=F64), torch.zeros(3, 2, dtype=F64)
    p_sum = STDPParams(win, **UNBOUNDED)
    p_mean = STDPParams(win, batch_reduce="mean", **UNBOUNDED)
    s = [init_stdp_state(4, 3, 2) for _ in range(3)]
    for n in range(300):
        per, s[0] = stdp_step(per, pre_r[n], post_r[n], s[0], p_sum, dt_ms=1.0)
        shared_sum, s[1] = stdp_step(shared_sum, pre_r[n], post_r[n], s[1], p_sum, dt_ms=1.0)
        shared_mean, s[2] = stdp_step(shared_mean, pre_r[n], post_r[n], s[2], p_mean, dt_ms=1.0)
    for b in range(4):
        ref = stdp_pair_sum(_times(pre_r, 1.0, b)[:, None], _times(post_r, 1.0, b)[None], win)
        assert torch.allclose(per[b], ref, rtol=1e-10, atol=1e-12)
    assert torch.allclose(shared_sum, per.sum(0), rtol=1e-10, atol=1e-12)
    assert torch.allclose(shared_mean, per.mean(0), rtol=1e-10, atol=1e-12)


def _random_csr(g, n_pre, n_post, density):
    mask = torch.rand(n_pre, n_post, generator=g) < density
    indptr = torch.zeros(n_pre + 1, dtype=torch.int64)
    indptr[1:] = torch.cumsum(mask.sum(1), 0)
    # columns within each row in a scrambled order: the layout must not rely on sorting
    indices = torch.cat([torch.nonzero(mask[i]).flatten().flip(0) for i in range(n_pre)])
    return mask, indptr, indices


def test_csr_to_csc_matches_scipy():
    g = torch.Generator().manual_seed(0)
    _, indptr, indices = _random_csr(g, 13, 9, 0.35)
    col_ptr, perm, rows = csr_to_csc(indptr, indices, 9)
    data = np.arange(indices.numel())
    ref = scipy.sparse.csr_matrix((data, indices.numpy(), indptr.numpy()), shape=(13, 9)).tocsc()
    ref.sort_indices()
    assert np.array_equal(col_ptr.numpy(), ref.indptr)
    assert np.array_equal(rows.numpy(), ref.indices)
    assert np.array_equal(perm.numpy(), ref.data)  # the synapse ids in column order


@pytest.mark.parametrize(
    "rule",
    ["additive", "multiplicative", "nearest", "history", "triplet", "per_trial", "normalised"],
)
def test_csr_updates_equal_dense_exactly(rule):
    g = torch.Generator().manual_seed(7)
    n_pre, n_post, batch, n_steps = 12, 10, 3, 200
    # dense weights have every synapse: normalisation sees the same columns only at density 1
    mask, indptr, indices = _random_csr(g, n_pre, n_post, 1.0 if rule == "normalised" else 0.4)
    rows = torch.repeat_interleave(torch.arange(n_pre), indptr.diff())
    csr = csr_layout(indptr, indices, n_post)
    pre_r = _random_raster(g, n_steps, batch, n_pre, 0.05)
    post_r = _random_raster(g, n_steps, batch, n_post, 0.05)
    win = ExponentialWindow(0.05, 0.04, 10.0, 20.0, at_zero="causal")
    dense = torch.rand(n_pre, n_post, generator=g, dtype=F64) * mask
    if rule == "per_trial":
        dense = dense.expand(batch, n_pre, n_post).clone()
    if rule == "triplet":
        params = TripletParams.visual_cortex(learning_rate=3.0, w_min=0.0, w_max=1.0)
        step, s_d, s_c = triplet_step, init_triplet_state(batch, n_pre, n_post), None
    else:
        kw = dict(window=win, w_min=0.0, w_max=1.0)
        if rule == "multiplicative":
            kw["update"] = "multiplicative"
        if rule == "nearest":
            kw["pairing"] = "nearest"
        if rule == "normalised":
            kw["norm_target"] = 2.0
        if rule == "history":
            kw["window"] = WINDOWS["mexican_hat"]
        params = STDPParams(**kw)
        step = stdp_history_step if rule == "history" else stdp_step
        s_d = _init(params.window, batch, n_pre, n_post, params.pairing)
    s_c = s_d
    vals = dense[..., rows, indices].clone()
    for n in range(n_steps):
        dense, s_d = step(dense, pre_r[n], post_r[n], s_d, params, dt_ms=1.0)
        vals, s_c = step(vals, pre_r[n], post_r[n], s_c, params, dt_ms=1.0, csr=csr)
    assert float(vals.abs().sum()) > 0
    if rule == "normalised":  # column sums are reduced in a different order: last-bit equal
        assert torch.allclose(vals, dense[..., rows, indices], rtol=1e-13, atol=0)
    else:
        assert torch.equal(vals, dense[..., rows, indices])


def test_normalize_incoming():
    g = torch.Generator().manual_seed(1)
    mask, indptr, indices = _random_csr(g, 8, 6, 0.6)
    mask[:, 5] = False  # an empty column stays empty
    indptr[1:] = torch.cumsum(mask.sum(1), 0)
    indices = torch.cat([torch.nonzero(mask[i]).flatten() for i in range(8)])
    w = torch.rand(8, 6, generator=g, dtype=F64) * mask
    rows = torch.repeat_interleave(torch.arange(8), indptr.diff())
    vals = normalize_incoming(w[rows, indices].clone(), 3.0, csr=csr_layout(indptr, indices, 6))
    normalize_incoming(w, 3.0)
    assert torch.allclose(w.sum(0)[:5], torch.full((5,), 3.0, dtype=F64))
    assert float(w[:, 5].abs().sum()) == 0.0
    assert torch.allclose(vals, w[rows, indices], rtol=1e-14)


def test_module_wrapper_matches_functional():
    g = torch.Generator().manual_seed(9)
    pre_r = _random_raster(g, 100, 2, 4, 0.05)
    post_r = _random_raster(g, 100, 2, 3, 0.05)
    for win in (WINDOWS["exp_mean"], WINDOWS["function"]):
        p = STDPParams(win, **UNBOUNDED)
        rule = STDP(p, dt_ms=0.5, history_capacity=32)
        s1, s2 = rule.init_state(2, 4, 3), _init(win, 2, 4, 3, capacity=32)
        w1, w2 = torch.zeros(4, 3, dtype=F64), torch.zeros(4, 3, dtype=F64)
        for n in range(100):
            w1, s1 = rule(w1, pre_r[n], post_r[n], s1)
            w2, s2 = _step_fn(win)(w2, pre_r[n], post_r[n], s2, p, dt_ms=0.5)
        assert torch.equal(w1, w2) and float(w1.abs().sum()) > 0


def test_history_capacity_overflow_is_reported():
    p = STDPParams(WINDOWS["function"], **UNBOUNDED)  # support 150 ms
    state = init_history_state(1, 1, 1, capacity=2)
    w = torch.zeros(1, 1, dtype=F64)
    with pytest.raises(RuntimeError, match="capacity"):
        for _ in range(5):
            w, state = stdp_history_step(
                w, torch.ones(1, 1, dtype=torch.bool), torch.zeros(1, 1, dtype=torch.bool),
                state, p, dt_ms=1.0,
            )


# ------------------------------------------------------------------------------------------
# Triplet rule
# ------------------------------------------------------------------------------------------

# Sjostrom, Turrigiano & Nelson (2001) Neuron 32:1149, 60 pairings, as tabulated in the VH-Lab
# toolbox (vlt.neuro.stdp.sjostrom_freq_stdp): frequency (Hz), mean and SEM of the relative
# weight change for dt = +10 ms and for dt = -10 ms.
SJOSTROM = np.array(
    [
        [0.1, -0.04, 0.05, -0.29, 0.08],
        [10.0, 0.14, 0.10, -0.41, 0.11],
        [20.0, 0.29, 0.14, -0.34, 0.10],
        [40.0, 0.53, 0.11, 0.56, 0.32],
        [50.0, 0.56, 0.26, 0.75, 0.19],
    ]
)


def _pairing_protocol_step(params, rho_hz, lag_ms, n_pairs=60):
    """Run the pairing protocol through triplet_step, jumping between events with a variable
    dt (exact thanks to the analytic trace decay)."""
    period = 1000.0 / rho_hz
    pre = [n * period for n in range(n_pairs)]
    post = [t + lag_ms for t in pre]
    events = sorted(set(pre) | set(post))
    w = torch.zeros(1, 1, dtype=F64)
    state = init_triplet_state(1, 1, 1)
    t_prev = events[0] - 1.0
    for t in events:
        w, state = triplet_step(
            w, torch.tensor([[t in pre]]), torch.tensor([[t in post]]), state, params,
            dt_ms=t - t_prev,
        )
        t_prev = t
    return float(w), float(triplet_pair_sum(torch.tensor(pre), torch.tensor(post), params))


@pytest.mark.parametrize(
    "pairing,minimal", [("all", False), ("all", True), ("nearest", False)]
)
def test_triplet_frequency_dependence_matches_sjostrom(pairing, minimal):
    """Pfister & Gerstner's visual-cortex sets reproduce the frequency dependence of the
    pairing protocol: post-pre (-10 ms) gives LTD at 0.1-20 Hz and LTP at 40-50 Hz, pre-post
    (+10 ms) grows with frequency; every point within 2 SEM of the data."""
    params = TripletParams.visual_cortex(pairing, minimal)
    got = np.zeros((5, 2))
    for r, rho in enumerate(SJOSTROM[:, 0]):
        for c, lag in enumerate((10.0, -10.0)):
            sim, ref = _pairing_protocol_step(params, rho, lag)
            assert sim == pytest.approx(ref, rel=1e-10, abs=1e-14)  # trace step = explicit sum
            got[r, c] = sim
    assert np.all(got[:3, 1] < 0) and np.all(got[3:, 1] > 0)  # LTD -> LTP with frequency
    assert np.all(np.diff(got[:, 0]) > 0)
    assert np.all(np.abs(got[:, 0] - SJOSTROM[:, 1]) <= 2 * SJOSTROM[:, 2])
    assert np.all(np.abs(got[:, 1] - SJOSTROM[:, 3]) <= 2 * SJOSTROM[:, 4])


@pytest.mark.parametrize("pairing", ["all", "nearest"])
def test_triplet_step_equals_explicit_sum_on_random_trains(pairing):
    params = TripletParams.visual_cortex(pairing)
    g = torch.Generator().manual_seed(4)
    pre_r = _random_raster(g, 1200, 1, 1, 0.04)
    post_r = _random_raster(g, 1200, 1, 1, 0.04)
    w = torch.zeros(1, 1, dtype=F64)
    state = init_triplet_state(1, 1, 1)
    for n in range(1200):
        w, state = triplet_step(w, pre_r[n], post_r[n], state, params, dt_ms=0.5)
    ref = triplet_pair_sum(_times(pre_r, 0.5, 0)[0], _times(post_r, 0.5, 0)[0], params)
    assert float(w) == pytest.approx(float(ref), rel=1e-10)


# ------------------------------------------------------------------------------------------
# Parameter validation
# ------------------------------------------------------------------------------------------

bad_real = st.one_of(st.just(math.nan), st.just(math.inf), st.just(-math.inf), st.text(max_size=3))
non_positive = st.floats(max_value=0.0, allow_nan=False)


@settings(max_examples=30, deadline=None)
@given(v=bad_real, field=st.sampled_from(["a_plus", "a_minus", "tau_plus_ms", "tau_minus_ms"]))
def test_exponential_window_rejects_non_finite(v, field):
    with pytest.raises(ValueError, match=field):
        ExponentialWindow(**{field: v})


@settings(max_examples=30, deadline=None)
@given(v=non_positive, field=st.sampled_from(["tau_plus_ms", "tau_minus_ms"]))
def test_exponential_window_rejects_non_positive_tau(v, field):
    with pytest.raises(ValueError, match=field):
        ExponentialWindow(**{field: v})


@settings(max_examples=20, deadline=None)
@given(v=st.text(min_size=1, max_size=8).filter(lambda s: s not in ("zero", "causal",
                                                                        "acausal", "mean")))
def test_window_choice_fields(v):
    with pytest.raises(ValueError, match="at_zero"):
        ExponentialWindow(at_zero=v)
    with pytest.raises(ValueError, match="shape"):
        SymmetricWindow(shape=v)


@settings(max_examples=20, deadline=None)
@given(v=st.one_of(non_positive, st.just(math.inf), st.just(math.nan)))
def test_function_window_support(v):
    with pytest.raises(ValueError, match="support_ms"):
        FunctionWindow(torch.sin, v)
    with pytest.raises(ValueError, match="fn"):
        FunctionWindow(3.0, 10.0)
    with pytest.raises(ValueError, match="tau_ms"):
        SymmetricWindow(tau_ms=v)


@settings(max_examples=40, deadline=None)
@given(
    lo=st.floats(-10, 10, allow_nan=False),
    hi=st.floats(-10, 10, allow_nan=False),
    lr=st.floats(-5, 5, allow_nan=False),
)
def test_stdp_params_validation(lo, hi, lr):
    if lo < hi and lr > 0:
        STDPParams(w_min=lo, w_max=hi, learning_rate=lr)
        STDPParams(w_min=lo, w_max=hi, update="multiplicative")
    if lo >= hi:
        with pytest.raises(ValueError, match="w_min"):
            STDPParams(w_min=lo, w_max=hi)
    if lr <= 0:
        with pytest.raises(ValueError, match="learning_rate"):
            STDPParams(learning_rate=lr)


def test_stdp_params_choices_and_types():
    with pytest.raises(ValueError, match="pairing"):
        STDPParams(pairing="first")
    with pytest.raises(ValueError, match="update"):
        STDPParams(update="mult")
    with pytest.raises(ValueError, match="multiplicative"):
        STDPParams(update="multiplicative", w_min=-math.inf, w_max=1.0)
    with pytest.raises(ValueError, match="window"):
        STDPParams(window=lambda t: t)
    with pytest.raises(ValueError, match="norm_target"):
        STDPParams(norm_target=-1.0)
    with pytest.raises(ValueError, match="batch_reduce"):
        STDPParams(batch_reduce="max")
    with pytest.raises(ValueError, match="w_max"):
        STDPParams(w_max=math.nan)


@settings(max_examples=30, deadline=None)
@given(
    field=st.sampled_from(["a2_plus", "a3_plus", "a2_minus", "a3_minus"]),
    v=st.one_of(st.floats(max_value=-1e-12, allow_nan=False, allow_infinity=False), bad_real),
)
def test_triplet_params_validation(field, v):
    with pytest.raises(ValueError, match=field):
        TripletParams(**{field: v})


@settings(max_examples=20, deadline=None)
@given(field=st.sampled_from(["tau_plus_ms", "tau_minus_ms", "tau_x_ms", "tau_y_ms"]),
       v=non_positive)
def test_triplet_params_taus(field, v):
    with pytest.raises(ValueError, match=field):
        TripletParams(**{field: v})


def test_step_argument_validation():
    p = STDPParams(WINDOWS["exp_mean"], **UNBOUNDED)
    s = init_stdp_state(2, 3, 4)
    spk_pre, spk_post = torch.zeros(2, 3, dtype=torch.bool), torch.zeros(2, 4, dtype=torch.bool)
    with pytest.raises(ValueError, match="dense weights"):
        stdp_step(torch.zeros(4, 3), spk_pre, spk_post, s, p, dt_ms=1.0)
    with pytest.raises(ValueError, match="spikes"):
        stdp_step(torch.zeros(3, 4), spk_pre[:1], spk_post, s, p, dt_ms=1.0)
    with pytest.raises(ValueError, match="boolean"):
        stdp_step(torch.zeros(3, 4), spk_pre.float(), spk_post, s, p, dt_ms=1.0)
    with pytest.raises(ValueError, match="dt_ms"):
        stdp_step(torch.zeros(3, 4), spk_pre, spk_post, s, p, dt_ms=0.0)
    with pytest.raises(ValueError, match="trace form"):
        stdp_step(torch.zeros(3, 4), spk_pre, spk_post, s, STDPParams(WINDOWS["function"]),
                  dt_ms=1.0)
    with pytest.raises(ValueError, match="indices"):
        csr_to_csc(torch.tensor([0, 1]), torch.tensor([5]), 3)
    with pytest.raises(ValueError, match="capacity"):
        init_history_state(1, 1, 1, capacity=0)
    with pytest.raises(ValueError, match="pairing"):
        stdp_pair_sum(torch.zeros(2), torch.zeros(2), WINDOWS["sym_exp"], "first")


def test_non_contiguous_weights_rejected():
    p = STDPParams(WINDOWS["exp_mean"], **UNBOUNDED)
    s = init_stdp_state(1, 3, 4)
    w = torch.zeros(4, 3, dtype=F64).T  # (3, 4) view, not contiguous
    with pytest.raises(ValueError, match="contiguous"):
        stdp_step(w, torch.ones(1, 3, dtype=torch.bool), torch.ones(1, 4, dtype=torch.bool), s,
                  p, dt_ms=1.0)


def test_float32_weights_and_traces():
    win = ExponentialWindow(1.0, 0.6, 10.0, 20.0)
    p = STDPParams(win, **UNBOUNDED)
    ks = torch.arange(-20, 21)
    w = torch.zeros(ks.numel(), 1, 1, dtype=torch.float32)
    state = init_stdp_state(ks.numel(), 1, 1, dtype=torch.float32)
    for n in range(60):
        pre = torch.full((ks.numel(), 1), n == 25)
        w, state = stdp_step(w, pre, (25 + ks == n)[:, None], state, p, dt_ms=1.0)
    assert w.dtype == torch.float32 and state.pre_trace.dtype == torch.float32
    assert torch.allclose(w.flatten(), win(ks.float()), rtol=1e-5, atol=1e-7)


# ------------------------------------------------------------------------------------------
# Compiled multi-step rule (stdp_sequence) = loop of stdp_step
# ------------------------------------------------------------------------------------------

TRACE_WINDOWS = ["exp_zero", "exp_causal", "exp_acausal", "exp_mean", "sym_exp"]


def _step_loop(w, pre_r, post_r, state, params, dt, csr=None):
    for k in range(pre_r.shape[0]):
        w, state = stdp_step(w, pre_r[k], post_r[k], state, params, dt_ms=dt, csr=csr)
    return w, state


def _layer(g, dense, per_trial, batch, n_pre, n_post, density, lo, hi):
    """Random weights in [lo, hi) on a dense layer or a random CSR projection (None if dense)."""
    mask, indptr, indices = _random_csr(g, n_pre, n_post, density)
    csr = None if dense else csr_layout(indptr, indices, n_post)
    shape = (n_pre, n_post) if dense else (indices.numel(),)
    if per_trial:
        shape = (batch, *shape)
    return lo + (hi - lo) * torch.rand(shape, generator=g, dtype=F64), csr


def _same(got, ref):
    (w1, s1), (w2, s2) = got, ref
    return (
        torch.equal(w1, w2)
        and torch.equal(s1.pre_trace, s2.pre_trace)
        and torch.equal(s1.post_trace, s2.post_trace)
    )


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    dense=st.booleans(),
    per_trial=st.booleans(),
    batch=st.integers(1, 3),
    n_pre=st.integers(1, 6),
    n_post=st.integers(1, 6),
    n_steps=st.integers(0, 60),
    rate=st.sampled_from([0.02, 0.1, 0.4]),
    name=st.sampled_from(TRACE_WINDOWS),
    pairing=st.sampled_from(["all", "nearest"]),
    mode=st.sampled_from(["unbounded", "hard", "soft"]),
    reduce=st.sampled_from(["sum", "mean"]),
    skip=st.integers(0, 3),
)
def test_stdp_sequence_equals_step_loop_property(
    seed, dense, per_trial, batch, n_pre, n_post, n_steps, rate, name, pairing, mode, reduce, skip
):
    """Random layers, rasters and rule settings: the compiled sequence gives bit-identical
    weights and traces to T successive stdp_step calls. Dropping the first ``skip`` steps of
    the rasters makes views that start at any byte offset (the kernel scans them by 8-byte
    words from the first aligned one)."""
    g = torch.Generator().manual_seed(seed)
    lo, hi = (-1.0, 1.0) if mode == "unbounded" else (0.0, 1.0)
    w0, csr = _layer(g, dense, per_trial, batch, n_pre, n_post, 0.5, lo, hi)
    bounds = UNBOUNDED if mode == "unbounded" else dict(w_min=0.0, w_max=1.0)
    params = STDPParams(
        WINDOWS[name], pairing=pairing, learning_rate=0.7, batch_reduce=reduce,
        update="multiplicative" if mode == "soft" else "additive", **bounds,
    )
    pre_r = _random_raster(g, n_steps + skip, batch, n_pre, rate)[skip:]
    post_r = _random_raster(g, n_steps + skip, batch, n_post, rate)[skip:]
    s0 = init_stdp_state(batch, n_pre, n_post)
    s0 = STDPState(s0.pre_trace + torch.rand(batch, n_pre, generator=g, dtype=F64), s0.post_trace)
    got = stdp_sequence(w0.clone(), pre_r, post_r, s0, params, dt_ms=0.5, csr=csr,
                        backend="numba")
    assert _same(got, _step_loop(w0.clone(), pre_r, post_r, s0, params, 0.5, csr))


@pytest.mark.parametrize("update", ["additive", "multiplicative"])
@pytest.mark.parametrize("pairing", ["all", "nearest"])
@pytest.mark.parametrize("layout", ["csr", "dense", "csr_per_trial", "dense_per_trial"])
def test_stdp_sequence_matches_step_loop_exactly(layout, pairing, update):
    """A larger run (20 x 15, 3 trials, 400 steps, W(0) != 0) where the hard bounds are hit:
    weights and traces equal the stdp_step loop bit for bit."""
    g = torch.Generator().manual_seed(21)
    n_pre, n_post, batch, n_steps = 20, 15, 3, 400
    w0, csr = _layer(g, layout.startswith("dense"), layout.endswith("per_trial"), batch, n_pre,
                     n_post, 0.4, -0.2, 0.6)
    win = ExponentialWindow(0.4, 0.45, 15.0, 15.0, at_zero="acausal")
    params = STDPParams(win, pairing=pairing, update=update, w_min=-0.2, w_max=0.6)
    pre_r = _random_raster(g, n_steps, batch, n_pre, 0.06)
    post_r = _random_raster(g, n_steps, batch, n_post, 0.06)
    s0 = init_stdp_state(batch, n_pre, n_post)
    got = stdp_sequence(w0.clone(), pre_r, post_r, s0, params, dt_ms=1.0, csr=csr,
                        backend="numba")
    ref = _step_loop(w0.clone(), pre_r, post_r, s0, params, 1.0, csr)
    assert _same(got, ref)
    w = got[0]
    assert not torch.equal(w, w0)
    if update == "additive":  # the clipping was exercised at both bounds
        assert float(w.min()) == -0.2 and float(w.max()) == 0.6


@pytest.mark.parametrize("dense", [False, True])
def test_stdp_sequence_with_normalisation(dense):
    g = torch.Generator().manual_seed(8)
    n_pre, n_post, batch, n_steps = 9, 6, 2, 200
    w0, csr = _layer(g, dense, False, batch, n_pre, n_post, 0.6, 0.0, 1.0)
    params = STDPParams(WINDOWS["exp_causal"], w_min=0.0, w_max=1.0, norm_target=1.5,
                        learning_rate=0.2)
    pre_r = _random_raster(g, n_steps, batch, n_pre, 0.05)
    post_r = _random_raster(g, n_steps, batch, n_post, 0.05)
    s0 = init_stdp_state(batch, n_pre, n_post)
    got = stdp_sequence(w0.clone(), pre_r, post_r, s0, params, dt_ms=1.0, csr=csr,
                        backend="numba")
    ref = _step_loop(w0.clone(), pre_r, post_r, s0, params, 1.0, csr)
    if dense:
        # torch.sum over the columns of a dense matrix uses its own (vectorised, multi-
        # accumulator) order; the kernel adds row by row: the column sums, hence the weights,
        # may differ in the last bits. The CSR sums (index_add_) are sequential in both.
        assert torch.allclose(got[0], ref[0], rtol=1e-12, atol=0)
        assert torch.equal(got[1].pre_trace, ref[1].pre_trace)
    else:
        assert _same(got, ref)
    assert not torch.equal(got[0], w0)


@pytest.mark.parametrize("pairing", ["all", "nearest"])
@pytest.mark.parametrize("name", TRACE_WINDOWS)
def test_stdp_sequence_single_pair_gives_window(name, pairing):
    """Synapse i of a diagonal CSR projection (batch 1, shared weights, as benchmark A3) sees
    one pre spike at step 60 and one post spike at step 60 + k_i, k = -60..60: its weight moves
    by eta * W(k dt). The trace decays by k multiplications with e^{-dt/tau} while the window
    evaluates e^{-k dt/tau}, hence 1e-12 instead of bit equality for k != 0; the coincident
    pair adds exactly eta * W(0)."""
    win = WINDOWS[name]
    dt, eta, t_pre = 0.5, 0.37, 60
    ks = torch.arange(-60, 61)
    n, n_steps = ks.numel(), 190
    csr = csr_layout(torch.arange(n + 1), torch.arange(n), n)
    steps = torch.arange(n_steps)[:, None, None]
    pre_r = (steps == t_pre).expand(n_steps, 1, n)
    post_r = steps == (t_pre + ks)[None, None, :]
    params = STDPParams(win, pairing=pairing, learning_rate=eta, **UNBOUNDED)
    w = torch.full((n,), 0.25, dtype=F64)
    w, state = stdp_sequence(w, pre_r, post_r, init_stdp_state(1, n, n), params, dt_ms=dt,
                             csr=csr, backend="numba")
    expected = 0.25 + eta * win(ks.to(F64) * dt)
    assert torch.allclose(w, expected, rtol=1e-12, atol=1e-14)
    assert float(w[60]) == 0.25 + eta * win.w_zero
    tau_c, tau_a = win.trace_form().tau_causal_ms, win.trace_form().tau_acausal_ms
    assert float(state.pre_trace[0, 0]) == pytest.approx(math.exp(-129 * dt / tau_c), rel=1e-12)
    assert float(state.post_trace[0, -1]) == pytest.approx(math.exp(-69 * dt / tau_a), rel=1e-12)


def test_stdp_sequence_in_place_state_untouched_and_empty():
    g = torch.Generator().manual_seed(4)
    params = STDPParams(WINDOWS["exp_causal"], **UNBOUNDED)
    w = torch.zeros(4, 3, dtype=F64)
    s0 = init_stdp_state(2, 4, 3)
    pre_r, post_r = _random_raster(g, 50, 2, 4, 0.2), _random_raster(g, 50, 2, 3, 0.2)
    w_out, s1 = stdp_sequence(w, pre_r, post_r, s0, params, dt_ms=1.0)
    assert w_out is w and float(w.abs().sum()) > 0  # updated in place
    assert float(s0.pre_trace.abs().sum()) == 0.0 and float(s1.pre_trace.sum()) > 0
    w2, s2 = stdp_sequence(w.clone(), pre_r[:0], post_r[:0], s1, params, dt_ms=1.0)
    assert torch.equal(w2, w) and _same((w2, s2), (w, s1))  # zero steps change nothing


def test_stdp_sequence_falls_back_for_float32():
    """float32 is not compiled: 'auto' loops stdp_step (same result), 'numba' says why not."""
    g = torch.Generator().manual_seed(6)
    params = STDPParams(WINDOWS["exp_mean"], **UNBOUNDED)
    pre_r, post_r = _random_raster(g, 80, 2, 5, 0.1), _random_raster(g, 80, 2, 4, 0.1)
    w0 = torch.rand(5, 4, generator=g)
    s0 = init_stdp_state(2, 5, 4, dtype=torch.float32)
    got = stdp_sequence(w0.clone(), pre_r, post_r, s0, params, dt_ms=1.0)
    assert got[0].dtype == torch.float32 and got[1].pre_trace.dtype == torch.float32
    assert _same(got, _step_loop(w0.clone(), pre_r, post_r, s0, params, 1.0))
    with pytest.raises(ValueError, match="float64"):
        stdp_sequence(w0.clone(), pre_r, post_r, s0, params, dt_ms=1.0, backend="numba")


def test_stdp_sequence_rejects_bad_input():
    p = STDPParams(WINDOWS["exp_mean"], **UNBOUNDED)
    s = init_stdp_state(2, 3, 4)
    pre, post = torch.zeros(5, 2, 3, dtype=torch.bool), torch.zeros(5, 2, 4, dtype=torch.bool)
    good = dict(w=torch.zeros(3, 4, dtype=F64), pre_spikes=pre, post_spikes=post, state=s,
                params=p)
    cases = [
        (dict(pre_spikes=pre[0]), r"raster of shape \(T, batch, n\)"),
        (dict(pre_spikes=pre.float()), "boolean"),
        (dict(post_spikes=post.to(torch.uint8)), "boolean"),
        (dict(pre_spikes=pre.numpy()), "torch tensor"),
        (dict(post_spikes=post[:4]), "same T"),
        (dict(post_spikes=torch.zeros(5, 2, 3, dtype=torch.bool)), r"\(T, 2, 4\)"),
        (dict(pre_spikes=torch.zeros(5, 1, 3, dtype=torch.bool)), r"\(T, 2, 3\)"),
        (dict(state=STDPState(torch.zeros(2, 3), torch.zeros(1, 4))), "batch"),
        (dict(state=(torch.zeros(2, 3), None)), "STDPState"),
        (dict(w=torch.zeros(4, 3, dtype=F64)), "dense weights"),
        (dict(params=STDPParams(WINDOWS["function"])), "trace form"),
        (dict(params="stdp"), "STDPParams"),
    ]
    for change, msg in cases:
        with pytest.raises(ValueError, match=msg):
            stdp_sequence(**{**good, **change}, dt_ms=1.0)
    with pytest.raises(ValueError, match="dt_ms"):
        stdp_sequence(**good, dt_ms=0.0)
    with pytest.raises(ValueError, match="backend"):
        stdp_sequence(**good, dt_ms=1.0, backend="cuda")
    with pytest.raises(ValueError, match="csr layout"):
        stdp_sequence(**{**good, "w": torch.zeros(2, dtype=F64)}, dt_ms=1.0,
                      csr=csr_layout(torch.tensor([0, 1, 2]), torch.tensor([0, 1]), 2))
