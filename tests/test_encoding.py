"""Spike encoders against analytic truths: binomial statistics, latency formulas, delta bounds."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroplastic.encoding import (
    DeltaEncoder,
    DeltaParams,
    LatencyEncoder,
    LatencyParams,
    PoissonEncoder,
    PoissonParams,
    delta_decode,
    delta_encode,
    latency_decode,
    latency_encode,
    latency_times,
    poisson_encode,
    rate_decode,
)

# --------------------------------------------------------------------------- Poisson rate code


def test_poisson_counts_match_binomial_expectation():
    params = PoissonParams(num_steps=1000, max_rate_hz=200.0, dt_ms=1.0)  # p_max = 0.2
    values = torch.tensor([0.0, 0.1, 0.5, 1.0])
    x = values.repeat(200, 1)  # (200, 4): 200 trains per value
    g = torch.Generator().manual_seed(1)
    s = poisson_encode(x, params, generator=g)
    assert s.shape == (1000, 200, 4) and s.dtype == torch.bool
    n = 1000 * 200
    counts = s.sum(dim=(0, 1)).double()
    for j, v in enumerate(values.tolist()):
        p = v * 0.2
        mean, sd = n * p, math.sqrt(n * p * (1 - p))
        if p == 0.0:
            assert counts[j] == 0
        else:
            assert abs(counts[j] - mean) < 4.5 * sd, (v, counts[j], mean, sd)


def test_poisson_p_equal_one_fires_every_step():
    params = PoissonParams(num_steps=50, max_rate_hz=1000.0, dt_ms=1.0)
    s = poisson_encode(torch.ones(3, 2), params, generator=torch.Generator().manual_seed(0))
    assert s.all()


def test_poisson_fano_factor_is_binomial():
    # Count over T steps is Binomial(T, p): Fano = 1 - p (0.95 here), i.e. Poisson-like.
    p_max = 0.05
    params = PoissonParams(num_steps=200, max_rate_hz=50.0, dt_ms=1.0)
    x = torch.ones(4000, 1)
    s = poisson_encode(x, params, generator=torch.Generator().manual_seed(7))
    counts = s.sum(dim=0).double().squeeze(1)  # per train
    fano = counts.var(unbiased=True) / counts.mean()
    assert abs(counts.mean() - 200 * p_max) < 4.5 * math.sqrt(200 * p_max * (1 - p_max) / 4000)
    # sampling sd of the Fano estimate ~ sqrt(2 / (n - 1)) = 0.022
    assert abs(fano - (1 - p_max)) < 0.1, fano
    # independent steps: lag-1 autocorrelation of the pooled trains ~ 0
    a = s[:-1].double().flatten() - p_max
    b = s[1:].double().flatten() - p_max
    r = (a * b).mean() / (p_max * (1 - p_max))
    assert abs(r) < 5 / math.sqrt(a.numel())


def test_rate_decode_is_unbiased():
    params = PoissonParams(num_steps=500, max_rate_hz=100.0, dt_ms=1.0)
    x = torch.linspace(0, 1, 11).repeat(100, 1)
    est = rate_decode(poisson_encode(x, params, generator=torch.Generator().manual_seed(3)), params)
    mean_est = est.mean(dim=0)
    p = x[0] * 0.1
    se = torch.sqrt(p * (1 - p) / (500 * 100)) / 0.1
    assert torch.all((mean_est - x[0]).abs() <= 4.5 * se + 1e-12)


def test_poisson_deterministic_given_generator_and_module_matches():
    params = PoissonParams(num_steps=20)
    x = torch.rand(5, 7, generator=torch.Generator().manual_seed(0))
    a = poisson_encode(x, params, generator=torch.Generator().manual_seed(42))
    b = PoissonEncoder(params)(x, generator=torch.Generator().manual_seed(42))
    c = poisson_encode(x, params, generator=torch.Generator().manual_seed(43))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_poisson_rejects_values_outside_unit_interval(bad):
    x = torch.tensor([[0.2, bad]])
    with pytest.raises(ValueError, match="x"):
        poisson_encode(x, PoissonParams())


@given(st.integers(max_value=0))
def test_poisson_validates_num_steps(n):
    with pytest.raises(ValueError, match="num_steps"):
        PoissonParams(num_steps=n)


@given(st.floats(max_value=0.0) | st.just(float("inf")) | st.just(float("nan")))
def test_poisson_validates_rate(r):
    with pytest.raises(ValueError, match="max_rate_hz"):
        PoissonParams(max_rate_hz=r)


@given(st.floats(min_value=1.0001, max_value=1e6))
def test_poisson_rejects_probability_above_one(p):
    # p = rate * dt: choose dt = 1 ms and rate = 1000 p Hz
    with pytest.raises(ValueError, match="max_rate_hz"):
        PoissonParams(max_rate_hz=1000.0 * p, dt_ms=1.0)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_encoders_on_cuda_match_cpu_semantics():
    dev = torch.device("cuda")
    x = torch.full((64, 8), 0.5, device=dev)
    g = torch.Generator(device=dev).manual_seed(0)
    s = poisson_encode(x, PoissonParams(num_steps=400), generator=g)
    assert s.device.type == "cuda"
    assert abs(s.float().mean().item() - 0.05) < 4.5 * math.sqrt(0.05 * 0.95 / s.numel())
    lp = LatencyParams(num_steps=30, mode="log", threshold=0.2)
    xc = torch.rand(16, 5, generator=torch.Generator().manual_seed(1))
    assert torch.equal(latency_encode(xc.to(dev), lp).cpu(), latency_encode(xc, lp))
    sig = torch.cumsum(torch.rand(50, 2, 3, generator=torch.Generator().manual_seed(2)) - 0.5, 0)
    dp = DeltaParams(0.2)
    assert torch.equal(delta_encode(sig.to(dev), dp).cpu(), delta_encode(sig, dp))


# --------------------------------------------------------------------------- latency code


def _expected_step(x: float, p: LatencyParams) -> int | None:
    """Independent scalar reference for the first-spike step (None = no spike)."""
    if x <= p.threshold:
        return None
    if p.mode == "linear":
        t = (p.num_steps - 1) * p.dt_ms * (1 - x) / (1 - p.threshold)
    else:
        t = p.tau_ms * math.log(x / (x - p.threshold))
        if t >= p.num_steps * p.dt_ms:
            return None
    return math.floor(t / p.dt_ms)


def _steps_of(spikes: torch.Tensor) -> list[int | None]:
    out = []
    for col in spikes.reshape(spikes.shape[0], -1).T:
        idx = torch.nonzero(col).flatten().tolist()
        assert len(idx) <= 1
        out.append(idx[0] if idx else None)
    return out


def test_latency_linear_known_values():
    p = LatencyParams(num_steps=11, dt_ms=1.0, mode="linear")
    x = torch.tensor([[1.0, 0.5, 0.05, 0.0]])
    assert _steps_of(latency_encode(x, p)) == [0, 5, 9, None]


def test_latency_log_known_values():
    p = LatencyParams(num_steps=50, dt_ms=1.0, mode="log", threshold=0.2, tau_ms=20.0)
    x = torch.tensor([[1.0, 0.25, 0.2, 0.21, 0.1]])
    # 20 ln(1.25) = 4.46 -> 4; 20 ln 5 = 32.2 -> 32; x <= 0.2 silent; 20 ln 21 = 60.9 > 50
    assert _steps_of(latency_encode(x, p)) == [4, 32, None, None, None]
    t = latency_times(x, p)
    assert t[0, 0].item() == pytest.approx(20 * math.log(1.25), rel=1e-12)


@pytest.mark.parametrize(
    "params",
    [
        LatencyParams(num_steps=100, dt_ms=1.0, mode="linear"),
        LatencyParams(num_steps=37, dt_ms=0.5, mode="linear", threshold=0.3),
        LatencyParams(num_steps=100, dt_ms=1.0, mode="log", threshold=0.2, tau_ms=20.0),
        LatencyParams(num_steps=60, dt_ms=0.25, mode="log", threshold=0.5, tau_ms=5.0),
    ],
)
def test_latency_step_equals_formula(params):
    x = torch.rand(40, 25, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    s = latency_encode(x, params)
    assert s.shape == (params.num_steps, 40, 25) and s.dtype == torch.bool
    got = _steps_of(s)
    want = [_expected_step(v, params) for v in x.flatten().tolist()]
    assert got == want


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(0.0, 1.0), min_size=1, max_size=30),
    st.sampled_from(["linear", "log"]),
    st.floats(0.01, 0.9),
)
def test_latency_one_spike_max_and_monotone(values, mode, threshold):
    p = LatencyParams(num_steps=30, mode=mode, threshold=threshold, tau_ms=10.0)
    x = torch.tensor([values], dtype=torch.float64)
    s = latency_encode(x, p)
    assert int(s.sum(dim=0).max()) <= 1
    steps = [math.inf if k is None else k for k in _steps_of(s)]
    for vi, ki in zip(values, steps):  # a larger value never spikes later
        for vj, kj in zip(values, steps):
            if vi > vj:
                assert ki <= kj


@pytest.mark.parametrize("mode,th", [("linear", 0.0), ("linear", 0.25), ("log", 0.2)])
def test_latency_decode_brackets_value(mode, th):
    p = LatencyParams(num_steps=80, dt_ms=1.0, mode=mode, threshold=th, tau_ms=20.0)
    x = torch.rand(500, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    s = latency_encode(x, p)
    xh = latency_decode(s, p)
    fired = s.any(dim=0)
    assert torch.all(xh[~fired] == 0)

    def value_at(t):  # independent inverse of the time code
        if mode == "linear":
            return 1 - t * (1 - th) / ((p.num_steps - 1) * p.dt_ms)
        return th / (1 - math.exp(-t / p.tau_ms)) if t > 0 else 1.0

    for xi, xhi, k in zip(x[fired].tolist(), xh[fired].tolist(), _steps_of(s[:, fired])):
        assert xhi >= xi - 1e-12
        assert xhi == pytest.approx(min(1.0, value_at(k * p.dt_ms)), rel=1e-9)
        assert xi > value_at((k + 1) * p.dt_ms) - 1e-12


def test_latency_module_matches_function():
    p = LatencyParams(num_steps=20)
    x = torch.rand(3, 4, generator=torch.Generator().manual_seed(0))
    assert torch.equal(LatencyEncoder(p)(x), latency_encode(x, p))


def test_latency_validators():
    with pytest.raises(ValueError, match="mode"):
        LatencyParams(mode="exp")
    with pytest.raises(ValueError, match="threshold"):
        LatencyParams(mode="log", threshold=0.0)
    with pytest.raises(ValueError, match="threshold"):
        LatencyParams(threshold=1.0)
    with pytest.raises(ValueError, match="x"):
        latency_encode(torch.tensor([1.2]), LatencyParams())


@given(st.floats(max_value=0.0))
def test_latency_validates_tau_and_dt(v):
    with pytest.raises(ValueError, match="tau_ms"):
        LatencyParams(tau_ms=v)
    with pytest.raises(ValueError, match="dt_ms"):
        LatencyParams(dt_ms=v)


# --------------------------------------------------------------------------- delta code


def test_delta_known_sequence():
    th = 0.1
    x = torch.tensor([0.0, 0.05, 0.12, 0.15, 0.26, 0.13, 0.0], dtype=torch.float64)
    s = delta_encode(x.view(-1, 1, 1), DeltaParams(th))
    assert s.shape == (7, 1, 2, 1)
    on = torch.nonzero(s[:, 0, 0, 0]).flatten().tolist()
    off = torch.nonzero(s[:, 0, 1, 0]).flatten().tolist()
    # refs: 0 -> 0.1 (t=2) -> 0.2 (t=4); t=6 drops 0.2 below ref: one OFF (slew-limited)
    assert on == [2, 4] and off == [6]
    rec = delta_decode(s, x[:1].view(1, 1), DeltaParams(th))[:, 0, 0]
    assert rec.tolist() == pytest.approx([0, 0, 0.1, 0.1, 0.2, 0.2, 0.1])


def test_delta_ramp_counts():
    th = 0.07
    x = torch.linspace(0.3, 2.3, 400, dtype=torch.float64).view(-1, 1, 1)
    s = delta_encode(x, DeltaParams(th))
    assert not s[:, :, 1].any()
    assert int(s[:, :, 0].sum()) == math.floor((2.3 - 0.3) / th)


@settings(max_examples=60, deadline=None)
@given(
    st.floats(0.01, 2.0),
    st.lists(st.floats(-1.0, 1.0), min_size=1, max_size=60),
    st.floats(-5.0, 5.0),
)
def test_delta_reconstruction_within_threshold(th, steps, x0):
    # Increments of at most one threshold per step: reconstruction error stays < threshold.
    inc = torch.tensor([0.0] + steps, dtype=torch.float64) * th
    x = (x0 + torch.cumsum(inc, 0)).view(-1, 1, 1).repeat(1, 2, 3)
    p = DeltaParams(th)
    s = delta_encode(x, p)
    assert s.dtype == torch.bool and s.shape == (len(inc), 2, 2, 3)
    assert not (s[:, :, 0] & s[:, :, 1]).any()
    assert not s[0].any()
    rec = delta_decode(s, x[0], p)
    assert torch.all((rec - x).abs() <= th * (1 + 1e-9) + 1e-12)
    assert torch.equal(DeltaEncoder(p)(x), s)


def test_delta_validators():
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="threshold"):
            DeltaParams(bad)
    with pytest.raises(ValueError, match="signal"):
        delta_encode(torch.zeros(5, 3), DeltaParams())
