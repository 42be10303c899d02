"""Cerebellum: the Ito rule's signs and bounds, the three-factor equivalence, the two-rate
model's closed form (savings, spontaneous recovery), the forward model, bad input, resume."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file

from neuroplastic.agents import (
    AdaptiveController,
    Cerebellum,
    CerebellumParams,
    ForwardModel,
    PopulationCode,
)
from neuroplastic.agents.cerebellum import GranuleLayer, pf_step, two_state_closed_form
from neuroplastic.plasticity.three_factor import init_eligibility_state, three_factor_step

SMITH = {"retain_fast": 0.59, "eta_fast": 0.21 / 0.59, "retain_slow": 0.992,
         "eta_slow": 0.02 / 0.992}  # Smith et al. 2006: A_f, B_f, A_s, B_s (B = A * eta)


def test_granule_layer_sparse_fan_in_threshold_and_golgi_norm():
    g = GranuleLayer(20, 500, 4, 0.3, True, seed=3)
    assert g.wiring.shape == (500, 4)
    assert all(len(set(row)) == 4 for row in g.wiring.tolist())  # distinct mossy fibres
    m = np.random.default_rng(0).random(20)
    x = g(m)
    expected = np.maximum(m[g.wiring].mean(1) - 0.3, 0.0)
    np.testing.assert_allclose(x, expected / np.linalg.norm(expected), rtol=1e-12)
    assert 0 < np.count_nonzero(x) < 500  # thresholded: some cells silent
    assert np.array_equal(GranuleLayer(20, 500, 4, 0.3, True, seed=3).wiring, g.wiring)
    assert not np.array_equal(GranuleLayer(20, 500, 4, 0.3, True, seed=4).wiring, g.wiring)


def test_ito_rule_ltd_on_pf_cf_coincidence_ltp_otherwise_silent_pfs_untouched():
    w = np.zeros((2, 5))
    x = np.array([0.0, 1.0, 0.5, 0.0, 2.0])
    new = pf_step(w, x, np.array([1.0, -1.0]), eta=0.1)
    assert np.all(new[0, x > 0] < 0) and np.all(new[1, x > 0] > 0)  # LTD / LTP
    assert np.all(new[:, x == 0] == 0)
    # normalised: the output -W x moves by exactly eta * e
    np.testing.assert_allclose(-(new @ x), [0.1, -0.1], rtol=1e-12)
    clipped = pf_step(w, x, np.array([100.0, -100.0]), eta=1.0, w_min=-0.2, w_max=0.3)
    assert clipped.min() == -0.2 and clipped.max() == 0.3
    ltp = pf_step(w, x, np.zeros(2), eta=0.1, ltp=0.01)  # CF silent: PF-alone LTP
    np.testing.assert_allclose(ltp, 0.01 * np.tile(x, (2, 1)))


def test_update_is_the_packages_three_factor_rule():
    p = CerebellumParams(n_mossy=6, n_out=2, n_granule=40, eta_fast=0.3, w_min=-0.5,
                         w_max=0.5)
    cb = Cerebellum(p)
    rng = np.random.default_rng(1)
    w = torch.zeros(2, 40, dtype=torch.float64)
    state = init_eligibility_state(1, 40, 2)
    tf = p.three_factor_params(dt_ms=2.0)
    for _ in range(30):
        cb.predict(rng.random(6))
        e = rng.normal(size=2)
        x = cb.x
        cb.learn(e)
        pre = torch.from_numpy(x / (x @ x))[None]
        w, state = three_factor_step(w, state, pre, torch.ones(1, 2),
                                     torch.from_numpy(-e)[:, None], tf, 2.0)
    np.testing.assert_allclose(cb.weights, w[0].numpy(), atol=1e-12)


def _constant_context_run(cb, mossy, perturbations, clamp=()):
    """Trial-by-trial adaptation in one context; in ``clamp`` trials the error is 0."""
    out = []
    for n, f in enumerate(perturbations):
        yf, ys = cb.split_output(mossy)
        out.append((yf[0], ys[0]))
        y = cb.predict(mossy)[0]
        cb.learn([0.0 if n in clamp else f - y])
        cb.end_trial()
    return np.array(out)


def test_two_rate_cerebellum_is_smiths_two_state_model_in_closed_form():
    p = CerebellumParams(n_mossy=8, n_granule=200, **SMITH)
    cb = Cerebellum(p)
    mossy = np.linspace(0.1, 1.0, 8)
    states = _constant_context_run(cb, mossy, [1.0] * 80)
    truth = two_state_closed_form(79, 1.0, p.retain_fast, p.retain_fast * p.eta_fast,
                                  p.retain_slow, p.retain_slow * p.eta_slow)
    np.testing.assert_allclose(states, truth, atol=1e-12)
    # the fixed point of the closed form: y* = B f / (1 - A + B) per process, coupled
    assert states[-1].sum() < 1.0


def test_spontaneous_recovery_and_savings_signatures():
    """Adapt (+1), de-adapt (-1) until the output crosses 0, then error clamp: the output
    rebounds toward +1 (spontaneous recovery). Re-adaptation after that washout is faster than
    the first adaptation (savings). Both from the closed form and the microcircuit."""
    p = CerebellumParams(n_mossy=8, n_granule=200, **SMITH)
    mossy = np.linspace(0.1, 1.0, 8)
    cb = Cerebellum(p)
    adapt = _constant_context_run(cb, mossy, [1.0] * 200)
    deadapt = []
    while not deadapt or sum(deadapt[-1]) > 0:
        deadapt.append(_constant_context_run(cb, mossy, [-1.0])[0])
    y_cross = float(sum(cb.split_output(mossy))[0])
    assert abs(y_cross) < 0.3 and len(deadapt) < 20
    clamp = _constant_context_run(cb, mossy, [0.0] * 30, clamp=range(30)).sum(1)
    assert clamp.max() > 0.2 and clamp.max() > y_cross + 0.2  # rebound: spontaneous recovery
    # savings: from a washed-out state (slow > 0, fast < 0, net 0) versus naive
    a_f, b_f = p.retain_fast, p.retain_fast * p.eta_fast
    a_s, b_s = p.retain_slow, p.retain_slow * p.eta_slow
    s = float(adapt[-1][1])
    naive = two_state_closed_form(60, 1.0, a_f, b_f, a_s, b_s).sum(1)
    washed = two_state_closed_form(60, 1.0, a_f, b_f, a_s, b_s, y0=(-s, s)).sum(1)

    def to_criterion(y):
        return int(np.argmax(y >= 0.5))

    assert to_criterion(washed) < to_criterion(naive)
    cb2 = Cerebellum(p)
    _constant_context_run(cb2, mossy, [1.0] * 200)
    while sum(cb2.split_output(mossy))[0] > 0:
        _constant_context_run(cb2, mossy, [-1.0])
    relearn = _constant_context_run(cb2, mossy, [1.0] * 60).sum(1)
    naive_cb = _constant_context_run(Cerebellum(p), mossy, [1.0] * 60).sum(1)
    assert to_criterion(relearn) < to_criterion(naive_cb)


def test_single_rate_shows_no_savings_after_full_washout():
    p = CerebellumParams(n_mossy=8, n_granule=200, eta_fast=0.1)
    mossy = np.linspace(0.1, 1.0, 8)
    cb = Cerebellum(p)
    _constant_context_run(cb, mossy, [1.0] * 100)
    while sum(cb.split_output(mossy))[0] > 1e-9:
        _constant_context_run(cb, mossy, [-1.0])
        if abs(sum(cb.split_output(mossy))[0]) < 0.05:
            break
    relearn = _constant_context_run(cb, mossy, [1.0] * 40).sum(1)
    naive = _constant_context_run(Cerebellum(p), mossy, [1.0] * 40).sum(1)
    assert abs(int(np.argmax(relearn >= 0.5)) - int(np.argmax(naive >= 0.5))) <= 1


def test_forward_model_learns_a_sensory_consequence_and_its_error_falls():
    """Predict s = sin(3 q) cos(2 u) of a state q and a command u (population-coded mossy
    fibres): the sensory prediction error falls well below the variance of s."""
    rng = np.random.default_rng(0)
    code = PopulationCode([-1, -1], [1, 1], 12)
    fm = ForwardModel(CerebellumParams(n_mossy=code.size, n_out=1, n_granule=600,
                                       threshold=0.3, eta_fast=0.3, seed=2))
    errs, targets = [], []
    for _ in range(2000):
        q, u = rng.uniform(-1, 1, 2)
        s = math.sin(3 * q) * math.cos(2 * u)
        fm.predict(code([q, u]))
        errs.append(float(fm.update([s])[0] ** 2))
        targets.append(s)
    assert np.mean(errs[-300:]) < 0.1 * np.var(targets)
    assert np.mean(errs[-300:]) < 0.1 * np.mean(errs[:100])


def test_adaptive_controller_cancels_a_constant_disturbance():
    """Feedback-error learning: the feedback command needed to cancel a disturbance d shrinks
    to 0 as the correction takes over."""
    ctl = AdaptiveController(CerebellumParams(n_mossy=4, n_out=2, n_granule=100,
                                              eta_fast=0.2))
    d = np.array([0.7, -1.2])
    m = np.array([0.2, 0.9, 0.4, 0.6])
    fb = []
    for _ in range(60):
        u = ctl.correction(m)
        feedback = d - u  # what the feedback controller still has to supply
        fb.append(float(np.abs(feedback).max()))
        ctl.update(feedback)
    assert fb[0] == pytest.approx(1.2) and fb[-1] < 1e-4


@pytest.mark.parametrize("kw, name", [
    ({"eta_fast": 2.0}, "eta_fast"), ({"eta_fast": -0.1}, "eta_fast"),
    ({"eta_fast": 0.1, "eta_slow": 0.2}, "eta_slow"), ({"retain_fast": 0.0}, "retain_fast"),
    ({"retain_fast": 1.5}, "retain_fast"), ({"retain_fast": 0.9, "retain_slow": 0.8},
                                            "retain_slow"),
    ({"fan_in": 9}, "fan_in"), ({"n_granule": 0}, "n_granule"), ({"ltp": -1.0}, "ltp"),
    ({"w_min": 0.5}, "w_min"), ({"dn_gain": 0.0}, "dn_gain"), ({"golgi": 1}, "golgi"),
    ({"threshold": math.nan}, "threshold"), ({"seed": -1}, "seed"),
])
def test_bad_parameters_raise_naming_the_parameter(kw, name):
    with pytest.raises(ValueError, match=name):
        CerebellumParams(n_mossy=8, **kw)


def test_bad_shapes_raise():
    cb = Cerebellum(CerebellumParams(n_mossy=3, n_out=2, n_granule=10, fan_in=2))
    with pytest.raises(ValueError, match="mossy"):
        cb.predict(np.ones(4))
    with pytest.raises(ValueError, match="finite"):
        cb.predict(np.array([1.0, math.nan, 0.0]))
    cb.predict(np.ones(3))
    with pytest.raises(ValueError, match="error"):
        cb.learn(np.ones(3))
    with pytest.raises(ValueError, match="x must have shape"):
        cb.learn(np.ones(2), x=np.ones(5))
    with pytest.raises(ValueError, match="params"):
        Cerebellum({"n_mossy": 3})


@settings(max_examples=60, deadline=None)
@given(eta=st.floats(-1, 3, allow_nan=False), retain=st.floats(-0.5, 1.5, allow_nan=False))
def test_validator_accepts_exactly_the_stable_domain(eta, retain):
    ok = 0 <= eta < 2 and 0 < retain <= 1
    try:
        CerebellumParams(n_mossy=4, eta_fast=eta, retain_fast=retain, retain_slow=1.0)
    except ValueError as e:
        assert not ok, e
    else:
        assert ok


def test_checkpoint_resume_is_bit_for_bit(tmp_path):
    p = CerebellumParams(n_mossy=5, n_out=2, n_granule=64, **SMITH, seed=7)
    rng = np.random.default_rng(3)
    ctx = rng.random((40, 5))
    err = rng.normal(size=(40, 2))

    def steps(cb, lo, hi):
        ys = []
        for k in range(lo, hi):
            ys.append(cb.predict(ctx[k]))
            cb.learn(err[k])
            if k % 5 == 4:
                cb.end_trial()
        return np.array(ys)

    a = Cerebellum(p)
    steps(a, 0, 20)
    save_file({k: torch.from_numpy(v) for k, v in a.state_dict().items()},
              tmp_path / "cb.safetensors")
    ref = steps(a, 20, 40)
    b = Cerebellum(p)
    b.load_state_dict(load_file(tmp_path / "cb.safetensors"))
    out = steps(b, 20, 40)
    assert np.array_equal(ref, out) and np.array_equal(a.weights, b.weights)
    with pytest.raises(ValueError, match="wiring"):
        Cerebellum(CerebellumParams(n_mossy=5, n_out=2, n_granule=64, seed=8)).load_state_dict(
            a.state_dict())
