"""Diehl & Cook (2015) network: compiled kernel == torch reference, STDP, boost, resume."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroplastic.data.digits import load_digits
from neuroplastic.models.diehl_cook import (
    DiehlCook,
    DiehlCookParams,
    assign_labels,
    coefficients,
    draw_input_spikes,
    present_numba,
    present_reference,
    presentation_key,
    run_samples_numba,
    run_samples_reference,
    spike_thresholds,
    stream_base,
    vote,
)


@pytest.fixture(scope="module")
def digits():
    return load_digits(seed=0, dtype=torch.float64)


def _small_params(**kw) -> DiehlCookParams:
    return DiehlCookParams(n_input=64, presentation_ms=120.0, weight_sum_per_input=0.25, **kw)


@pytest.mark.parametrize("one_spike", [False, True])
@pytest.mark.parametrize("learn", [True, False])
def test_compiled_equals_reference_bit_for_bit(digits, learn, one_spike):
    p = _small_params(eta_post=0.05, eta_pre=1e-3, min_spikes=8, max_boosts=3,
                      one_spike=one_spike)  # fmt: skip
    coef = coefficients(p)
    gw = torch.Generator().manual_seed(3)
    w0 = 0.4 * torch.rand((64, 12), generator=gw, dtype=torch.float64)
    th0 = 0.3 * torch.rand(12, generator=gw, dtype=torch.float64)
    X = digits.x_train[:6]
    base = stream_base(5, "train")
    out = []
    for fn in (run_samples_numba, run_samples_reference):
        w, th = w0.clone(), th0.clone()
        counts, exc, att, totals = fn(X, base, 17, p, w, th, learn, coef)
        out.append((w, th, counts, exc, att, totals))
    (w1, th1, c1, e1, a1, t1), (w2, th2, c2, e2, a2, t2) = out
    assert int(t1[0]) > 0 and int(t1[1]) > 0  # the network was active
    assert torch.equal(c1, c2) and torch.equal(e1, e2) and torch.equal(a1, a2)
    assert torch.equal(t1, t2)
    assert torch.equal(w1, w2)  # bit-identical, not just close
    assert torch.equal(th1, th2)
    if learn:
        assert not torch.equal(w1, w0)
    else:
        assert torch.equal(w1, w0) and torch.equal(th1, th0)
    if one_spike:  # the winner selection was exercised: some step had several crossers
        p_all = DiehlCookParams(**{**p.__dict__, "one_spike": False})
        w, th = w0.clone(), th0.clone()
        t_all = run_samples_numba(X, base, 17, p_all, w, th, learn, coefficients(p_all))[3]
        assert not torch.equal(t_all, t1)


def test_spike_rasters_identical(digits):
    p = _small_params()
    coef = coefficients(p)
    w0 = torch.full((64, 8), 0.25, dtype=torch.float64)
    x = digits.x_train[0].numpy()
    idx = np.nonzero(x > 0)[0]
    thr = spike_thresholds(x[idx], 200.0, p.dt_ms)
    key = presentation_key(1, 2, 0)
    r = []
    for fn in (present_numba, present_reference):
        w, th = w0.clone(), torch.zeros(8, dtype=torch.float64)
        r.append(fn(torch.from_numpy(idx), thr, key, p.n_steps, w, th, True, True,
                    p.weight_sum, coef, record=True))  # fmt: skip
    assert r[0].exc_spikes > 0
    assert torch.equal(r[0].raster, r[1].raster)
    assert r[0].synops == r[1].synops and r[0].inh_spikes == r[1].inh_spikes


def test_one_spike_keeps_the_largest_overshoot_and_resets_every_crosser():
    # 3 inputs, 3 neurons, input 0 always fires; weights give overshoots 1 < 3 > 2 at step 0
    p = DiehlCookParams(n_input=3, presentation_ms=3.0, rest_ms=0.0, w_exc_inh_mv=0.0,
                        one_spike=True, eta_pre=0.0, eta_post=0.0, t_ref_exc_ms=10.0,
                        theta_plus_mv=0.5, weight_sum_per_input=1.0)  # fmt: skip
    coef = coefficients(p)
    thr = np.array([2**53, 0, 0], dtype=np.uint64)  # p = 1 for input 0, never for 1 and 2
    idx = torch.tensor([0, 1, 2])
    w0 = torch.zeros((3, 3), dtype=torch.float64)
    w0[0] = torch.tensor([14.0, 16.0, 15.0])  # rest -65 + w - (-52) = 1, 3, 2 mV overshoot
    for fn in (present_numba, present_reference):
        w, th = w0.clone(), torch.zeros(3, dtype=torch.float64)
        r = fn(idx, thr, np.uint64(7), p.n_steps, w, th, True, False, 0.0, coef, record=True)
        assert r.raster.tolist() == [[False, True, False], [False] * 3, [False] * 3], fn
        assert r.exc_spikes == 1 and r.counts.tolist() == [0, 1, 0]
        assert th.tolist() == pytest.approx([0.5] * 3, rel=1e-6)  # every crosser raised it
    p2 = DiehlCookParams(**{**p.__dict__, "one_spike": False})
    w, th = w0.clone(), torch.zeros(3, dtype=torch.float64)
    r = present_numba(idx, thr, np.uint64(7), p2.n_steps, w, th, True, False, 0.0,
                      coefficients(p2), record=True)  # fmt: skip
    assert r.raster[0].tolist() == [True, True, True] and r.exc_spikes == 3


def test_input_spikes_are_bernoulli_with_the_encoded_rate():
    # 20 inputs at p = 0.25 per step over 2000 steps: binomial mean and independence
    x = torch.full((20,), 0.25, dtype=torch.float64)
    idx, spk = draw_input_spikes(x, 1000.0, 2000, 1.0, presentation_key(7, 0, 0))
    assert idx.tolist() == list(range(20))
    rate = spk.double().mean()
    se = math.sqrt(0.25 * 0.75 / spk.numel())
    assert abs(float(rate) - 0.25) < 5 * se
    # different keys give different trains, the same key the same train
    _, spk2 = draw_input_spikes(x, 1000.0, 2000, 1.0, presentation_key(7, 0, 1))
    _, spk3 = draw_input_spikes(x, 1000.0, 2000, 1.0, presentation_key(7, 0, 0))
    assert not torch.equal(spk, spk2) and torch.equal(spk, spk3)
    # zero pixels never spike, p = 1 always does
    x2 = torch.tensor([0.0, 1.0], dtype=torch.float64)
    idx, spk = draw_input_spikes(x2, 1000.0, 50, 1.0, presentation_key(7, 1, 0))
    assert idx.tolist() == [1] and bool(spk.all())


def test_post_spike_clips_at_w_max_and_leaves_silent_inputs():
    p = DiehlCookParams(
        n_input=2, presentation_ms=40.0, eta_pre=0.0, eta_post=1e-2, w_inh_exc_mv=0.0,
        theta_plus_mv=0.0, min_spikes=0, t_ref_exc_ms=1000.0, weight_sum_per_input=0.5,
    )  # fmt: skip
    coef = coefficients(p)
    # input 0 fires at every step (p = 1) with 13.5 mV > the 13 mV threshold gap: the neuron
    # fires at step 0 only (then refractory); input 1 never fires.
    idx = torch.tensor([0])
    thr = np.array([2**53], dtype=np.uint64)
    for fn in (present_numba, present_reference):
        w = torch.tensor([[13.5], [0.3]], dtype=torch.float64)
        r = fn(idx, thr, presentation_key(0, 0, 0), p.n_steps, w, torch.zeros(1,
               dtype=torch.float64), True, False, p.weight_sum, coef, record=True)  # fmt: skip
        assert r.exc_spikes == 1 and bool(r.raster[0, 0])
        assert float(w[0, 0]) == 1.0  # potentiated, clipped at w_max (then only depression)
        assert float(w[1, 0]) == 0.3  # no pre trace, no change


def _key_with_pattern(thr1: int, pattern: list[int]) -> np.uint64:
    """A presentation key under which input 1 (threshold ``thr1``) fires exactly at the
    steps of ``pattern`` (a 0/1 list) — found by scanning attempts of one stream."""
    for a in range(100000):
        key = presentation_key(11, 0, a)
        _, spk = draw_input_spikes(
            torch.tensor([0.0, 1.0]), 1000.0 * thr1 / 2**53, len(pattern), 1.0, key
        )
        if spk[:, 0].to(torch.int64).tolist() == pattern:
            return key
    raise AssertionError("no key found")


@pytest.mark.parametrize("gap", [1, 4, 9])
def test_stdp_single_pair_matches_the_analytic_window(gap):
    """Pre at t=0, post at t=k: dw = +eta_post exp(-k/tau); post at k, pre at k+gap:
    dw = -eta_pre exp(-gap/tau). Input 0 fires every step and drives the neuron (no leak,
    no inhibition) across threshold at step k; input 1 is the probed synapse."""
    tau, eta_post, eta_pre, k = 20.0, 1e-2, 1e-3, 5
    w_drive = 13.0 / (k + 0.5)  # v after step s is (s + 1) w_drive: crosses at s = k
    thr1 = int(0.3 * 2**53)
    for case in ("pre-post", "post-pre"):
        n = k + 1 if case == "pre-post" else k + gap + 1
        p = DiehlCookParams(
            n_input=2, presentation_ms=float(n), eta_pre=eta_pre, eta_post=eta_post,
            tau_pre_ms=tau, tau_post_ms=tau, w_inh_exc_mv=0.0, theta_plus_mv=0.0,
            min_spikes=0, weight_sum_per_input=0.5, tau_exc_ms=1e12, t_ref_exc_ms=1000.0,
            w_max=100.0,
        )  # fmt: skip
        coef = coefficients(p)
        if case == "pre-post":  # input 1 fires at t = k - gap' with gap' = min(gap, k)
            d = min(gap, k)
            pattern = [int(t == k - d) for t in range(n)]
            expected = 0.5 + eta_post * math.exp(-d / tau)
        else:
            d = gap
            pattern = [int(t == k + gap) for t in range(n)]
            expected = 0.5 - eta_pre * math.exp(-d / tau)
        key = _key_with_pattern(thr1, pattern)
        idx = torch.tensor([0, 1])
        thr = np.array([2**53, thr1], dtype=np.uint64)
        for fn in (present_numba, present_reference):
            w = torch.tensor([[w_drive], [0.5]], dtype=torch.float64)
            # input 1's own 0.5 mV would shift the crossing: compensate in the drive weight
            w[0, 0] = 13.0 / (k + 0.5) - (0.5 / (k + 1) if case == "pre-post" else 0.0)
            r = fn(idx, thr, key, p.n_steps, w, torch.zeros(1, dtype=torch.float64), True,
                   False, p.weight_sum, coef, record=True)  # fmt: skip
            assert r.exc_spikes == 1 and bool(r.raster[k, 0]), case
            assert float(w[1, 0]) == pytest.approx(expected, rel=0, abs=1e-15), case


def test_pre_before_post_pair_potentiates_by_exp_of_the_gap():
    """Input 0 always fires and drives the neuron across threshold at step k; input 1 also
    fires at every step (weight 0): at the post spike its trace is 1 (its spike of the same
    step counts), so it gains exactly eta_post; input 2 never fires and is unchanged."""
    tau, eta_post = 20.0, 1e-2
    k = 3
    p = DiehlCookParams(
        n_input=3, presentation_ms=float(k + 1), eta_pre=0.0, eta_post=eta_post,
        tau_pre_ms=tau, tau_post_ms=tau, w_inh_exc_mv=0.0, theta_plus_mv=0.0, min_spikes=0,
        weight_sum_per_input=0.5, tau_exc_ms=1e12, t_ref_exc_ms=1000.0, w_max=100.0,
    )  # fmt: skip
    coef = coefficients(p)
    w_drive = 13.0 / (k + 0.5)
    idx = torch.tensor([0, 1])
    thr = np.array([2**53, 2**53], dtype=np.uint64)
    w = torch.tensor([[w_drive], [0.0], [0.7]], dtype=torch.float64)
    present_numba(idx, thr, presentation_key(0, 0, 0), p.n_steps, w,
                  torch.zeros(1, dtype=torch.float64), True, False, p.weight_sum, coef)  # fmt: skip
    assert float(w[1, 0]) == eta_post  # trace 1 at the post spike (pre fired in that step)
    assert float(w[2, 0]) == 0.7  # input 2 never fired: no trace, no change


def test_normalisation_invariant(digits):
    p = _small_params()
    m = DiehlCook(20, p, seed=1)
    target = p.weight_sum
    assert torch.allclose(m.weights.sum(0), torch.full((20,), target, dtype=torch.float64))
    for k in range(4):
        m.partial_fit(digits.x_train[k : k + 1])
        s = m.weights.sum(0)
        assert torch.allclose(s, torch.full_like(s, target), rtol=1e-12, atol=0)
    assert float(m.weights.min()) >= 0.0


def test_input_boost_represents_silent_samples(digits):
    # a network that cannot reach threshold at the base rate: boosts happen, rates grow
    p = _small_params(max_rate_hz=5.0, boost_rate_hz=60.0, min_spikes=5, max_boosts=6)
    m = DiehlCook(10, p, seed=0)
    counts, exc, att = m.run(digits.x_train[:3], learn=False, stream="eval", first=0)
    assert (att > 1).all()
    assert ((exc >= 5) | (att == p.max_boosts + 1)).all()
    # a boosted attempt draws at the higher rate: more input spikes than the first attempt
    x = digits.x_train[0].numpy()
    idx = np.nonzero(x > 0)[0]
    n0 = draw_input_spikes(torch.from_numpy(x), 5.0, p.n_steps, 1.0, presentation_key(1, 0, 0))
    n3 = draw_input_spikes(torch.from_numpy(x), 5.0 + 3 * 60.0, p.n_steps, 1.0,
                           presentation_key(1, 0, 3))  # fmt: skip
    assert int(n3[1].sum()) > 5 * int(n0[1].sum()) and len(idx) == len(n0[0])
    # without boosts every sample is presented exactly once
    m2 = DiehlCook(10, _small_params(max_rate_hz=5.0, max_boosts=0), seed=0)
    _, _, att2 = m2.run(digits.x_train[:3], learn=False, stream="eval", first=0)
    assert (att2 == 1).all()


def test_determinism_and_checkpoint_resume(digits, tmp_path):
    p = _small_params()
    X, y = digits.x_train[:40], digits.y_train[:40]
    a = DiehlCook(16, p, seed=4).fit(X, y, epochs=2, progress=False)
    b = DiehlCook(16, p, seed=4).fit(X, y, epochs=2, progress=False)
    assert torch.equal(a.weights, b.weights) and torch.equal(a.theta, b.theta)
    c = DiehlCook(16, p, seed=5).fit(X, y, epochs=2, progress=False)
    assert not torch.equal(a.weights, c.weights)
    # stop in the middle of the first epoch, save, load, finish: identical to uninterrupted
    half = DiehlCook(16, p, seed=4)
    # train 23 samples of the first epoch's permutation through fit's own bookkeeping
    from neuroplastic.network._rng import subseed

    perm = torch.randperm(40, generator=torch.Generator().manual_seed(subseed(4, "order", 0)))
    half.partial_fit(X[perm[:23]], y[perm[:23]])
    half.save(tmp_path / "ckpt.safetensors")
    resumed = DiehlCook.load(tmp_path / "ckpt.safetensors")
    assert resumed.samples_seen_ == 23
    resumed.fit(X, y, epochs=2, progress=False)
    assert resumed.samples_seen_ == 80
    assert torch.equal(resumed.weights, a.weights)
    assert torch.equal(resumed.theta, a.theta)
    assert resumed.synops_ == a.synops_


def test_labels_and_voting():
    # neuron 0 answers class 2, neuron 1 class 0, neuron 2 class 2
    r = torch.tensor([[5, 0, 4], [0, 3, 0], [6, 1, 2]])
    y = torch.tensor([2, 0, 2])
    lab = assign_labels(r, y, n_classes=3)
    assert lab.tolist() == [2, 0, 2]
    pred = vote(torch.tensor([[0, 4, 1], [3, 0, 5]]), lab, n_classes=3)
    assert pred.tolist() == [0, 2]


def test_transform_learning_off_is_pure_and_repeatable(digits):
    m = DiehlCook(10, _small_params(), seed=2)
    w0 = m.weights
    r1 = m.transform(digits.x_test[:5])
    r2 = m.transform(digits.x_test[:5])
    assert torch.equal(r1, r2) and torch.equal(m.weights, w0)


def test_digits_accuracy_with_demo_defaults():
    """The README demo: N = 100 on the 8x8 digits reaches >= 85 % held-out accuracy."""
    from neuroplastic.experiments.stdp_digits import StdpDigitsConfig, run

    res = run(StdpDigitsConfig(), progress=False)
    assert res.metrics["accuracy"] >= 0.85, res.metrics
    assert res.metrics["n_test"] == 450
    assert res.metrics["exc_spikes_per_sample"] >= 5


@pytest.mark.slow
def test_mnist_one_epoch_n100():
    # measured 87.8 % on 2026-11-25 (N=100, 1 epoch of 60k, ~5 min on one core; the paper's
    # triplet-rule, conductance-based network: 82.9 %); asserted with a margin for other seeds
    pytest.importorskip("safetensors")
    from neuroplastic.data.mnist import find_mnist_file

    try:
        find_mnist_file()
    except FileNotFoundError:
        pytest.skip("MNIST not installed")
    from neuroplastic.experiments.stdp_digits import StdpDigitsConfig, run

    res = run(StdpDigitsConfig(dataset="mnist", epochs=1), progress=False)
    assert res.metrics["accuracy"] >= 0.85, res.metrics  # paper: 82.9 %
    assert res.metrics["classes_assigned"] == 10


@pytest.mark.slow
def test_mnist_one_epoch_n400():
    # measured 91.6 % on 2026-11-25 (N=400, 1 epoch of 60k, ~6 min on one core; paper: 87.0 %
    # after 3 epochs)
    from neuroplastic.data.mnist import find_mnist_file

    try:
        find_mnist_file()
    except FileNotFoundError:
        pytest.skip("MNIST not installed")
    from neuroplastic.experiments.stdp_digits import StdpDigitsConfig, run

    res = run(StdpDigitsConfig(dataset="mnist", epochs=1, n_exc=400), progress=False)
    assert res.metrics["accuracy"] >= 0.89, res.metrics


_FIELDS = {
    "n_input": st.integers(-5, 0),
    "dt_ms": st.floats(-1.0, 0.0),
    "presentation_ms": st.sampled_from([0.0, -3.0, float("nan")]),
    "max_rate_hz": st.floats(-100.0, 0.0),
    "tau_exc_ms": st.floats(-10.0, 0.0),
    "tau_theta_ms": st.sampled_from([0.0, -1.0, float("inf")]),
    "eta_post": st.floats(-1.0, -1e-9),
    "w_init_max": st.floats(1.01, 10.0),
    "weight_sum_per_input": st.floats(1.01, 10.0),
    "v_reset_exc_mv": st.floats(-52.0, 0.0),
    "min_spikes": st.integers(-5, -1),
    "one_spike": st.sampled_from([1, "yes", None]),
}


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(sorted(_FIELDS)), st.data())
def test_params_validation_names_the_parameter(name, data):
    value = data.draw(_FIELDS[name])
    with pytest.raises(ValueError, match=name.split("_")[0]):
        DiehlCookParams(**{name: value})


def test_model_argument_validation(digits):
    with pytest.raises(ValueError, match="n_exc"):
        DiehlCook(0)
    with pytest.raises(ValueError, match="backend"):
        DiehlCook(3, backend="cuda")
    m = DiehlCook(3, _small_params())
    with pytest.raises(ValueError, match="shape"):
        m.partial_fit(torch.zeros(2, 10))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        m.partial_fit(torch.full((1, 64), 2.0))
    with pytest.raises(RuntimeError, match="label"):
        m.predict(digits.x_test[:2])


@pytest.mark.parametrize(
    ("field", "value"), [("w_inh_exc_mv", -1.0), ("one_spike", 1), ("n_exc", 0), ("epochs", 0)]
)
def test_experiment_config_validation_names_the_field(field, value):
    from neuroplastic.experiments.stdp_digits import StdpDigitsConfig

    with pytest.raises(ValueError, match=field):
        StdpDigitsConfig(**{field: value})
