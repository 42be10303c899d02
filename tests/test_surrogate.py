"""Surrogate-gradient spike function, layers and losses against independent truths."""

from __future__ import annotations

import math
import shutil

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroplastic.neurons.lif import Analog, LIFParams, init_lif_state, lif_step, realize_lif
from neuroplastic.surrogate import (
    LI,
    LIF,
    SURROGATE_KINDS,
    CubaLIF,
    CubaLIFCell,
    EventLinear,
    LIFCell,
    LIFLayerState,
    RateRegularizer,
    RecurrentLIF,
    Sequential,
    Surrogate,
    TimeDistributed,
    discrete_lif_params,
    first_spike_cross_entropy,
    first_spike_time,
    max_membrane_cross_entropy,
    spike_count_cross_entropy,
    spike_fn,
)
from neuroplastic.surrogate.functional import synaptic_scan

F64 = torch.float64
HAVE_CC = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")


@pytest.fixture(params=["c", "numba"])
def engine(request, monkeypatch):
    """Run a test with each compiled kernel engine (the C one needs a C compiler)."""
    if request.param == "c" and not HAVE_CC:
        pytest.skip("no C compiler: the C kernels are unavailable")
    monkeypatch.setenv("NEUROPLASTIC_KERNELS", request.param)
    return request.param


def _smooth(kind: str, k: float, x: torch.Tensor) -> torch.Tensor:
    """The smooth step each surrogate derivative is the exact derivative of."""
    if kind == "fast_sigmoid":
        return x / (1 + k * x.abs())
    if kind == "arctan":
        return torch.atan(0.5 * math.pi * k * x) / math.pi + 0.5
    if kind == "sigmoid":
        return torch.sigmoid(k * x)
    kx = k * x
    ramp = torch.where(kx < 0, 0.5 * (1 + kx) ** 2, 1 - 0.5 * (1 - kx) ** 2)
    ramp = torch.where(kx >= 1, torch.ones_like(x), ramp)
    return torch.where(kx <= -1, torch.zeros_like(x), ramp)


# ----------------------------------------------------------------------------- spike function
@pytest.mark.parametrize("kind", SURROGATE_KINDS)
@pytest.mark.parametrize("slope", [0.7, 5.0])
def test_spike_forward_heaviside_backward_matches_smooth_derivative(kind, slope):
    x = torch.linspace(-3, 3, 601, dtype=F64)
    x = x[x.abs() > 1e-9].requires_grad_()  # avoid the kinks of |x| at 0
    s = spike_fn(x, Surrogate(kind, slope))
    assert torch.equal(s, (x > 0).to(F64))
    g = torch.randn_like(x)
    (gx,) = torch.autograd.grad(s, x, g)
    xs = x.detach().clone().requires_grad_()
    (ref,) = torch.autograd.grad(_smooth(kind, slope, xs), xs, g)
    torch.testing.assert_close(gx, ref, rtol=1e-12, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.one_of(st.text(max_size=8), st.sampled_from(["fast-sigmoid", "Sigmoid", ""])))
def test_surrogate_rejects_unknown_kind(kind):
    if kind in SURROGATE_KINDS:
        return
    with pytest.raises(ValueError, match="kind"):
        Surrogate(kind)


@settings(max_examples=25, deadline=None)
@given(st.one_of(st.floats(max_value=0.0), st.just(float("nan")), st.just(float("inf"))))
def test_surrogate_rejects_bad_slope(slope):
    with pytest.raises(ValueError, match="slope"):
        Surrogate("arctan", slope)


# ----------------------------------------------------------------------------- layers vs simulator
@pytest.mark.parametrize("reset", ["subtract", "hard"])
def test_lif_layer_spikes_equal_lif_step(reset):
    """Same coefficients (with mismatch), same current: identical spikes and membrane."""
    p = LIFParams(t_ref_ms=0.0, reset_mode=reset)
    sub = Analog(tau_mem_cv=0.2, v_thresh_cv=0.1)
    coef = realize_lif(p, sub, 24, 0.1, generator=torch.Generator().manual_seed(3))
    cur = torch.rand(400, 3, 24, dtype=F64, generator=torch.Generator().manual_seed(1)) * 40
    state, ref = init_lif_state(coef, 3), []
    for t in range(400):
        state, s = lif_step(state, coef, cur[t])
        ref.append(s)
    ref = torch.stack(ref).to(F64)
    assert ref.sum() > 20  # the comparison is not vacuous
    for backend in ("fused", "loop"):
        layer = LIF(24, p, dt_ms=0.1, substrate=sub, backend=backend,
                    generator=torch.Generator().manual_seed(3), dtype=F64)
        s, st_ = layer(cur)
        assert torch.equal(s, ref)
        assert torch.equal(st_.v, state.v)


def test_cuba_layer_equals_lif_step_with_receive_synaptic():
    from neuroplastic.neurons.lif import receive_synaptic

    p = LIFParams(t_ref_ms=0.0, tau_syn_ms=(3.0,), reset_mode="subtract")
    coef = realize_lif(p, Analog(), 10, 0.5, generator=torch.Generator().manual_seed(0))
    x = (torch.rand(200, 2, 10, dtype=F64, generator=torch.Generator().manual_seed(2)) < 0.3)
    x = x.to(F64) * 8.0
    state, ref = init_lif_state(coef, 2), []
    for t in range(200):
        state, s = lif_step(state, coef)
        state = state._replace(i_syn=receive_synaptic(state.i_syn, x[t][..., None], coef))
        ref.append(s)
    ref = torch.stack(ref).to(F64)
    assert ref.sum() > 10
    for backend in ("fused", "loop"):
        s, st_ = CubaLIF(10, p, dt_ms=0.5, backend=backend, dtype=F64)(x)
        assert torch.equal(s, ref)
        assert torch.equal(st_.i_syn, state.i_syn)
    cell, stc, out = CubaLIFCell(10, p, dt_ms=0.5, dtype=F64), None, []
    for t in range(200):
        s, stc = cell(x[t], stc)
        out.append(s)
    assert torch.equal(torch.stack(out), ref)


# ----------------------------------------------------------------------------- fused == loop
@pytest.mark.parametrize("reset", ["subtract", "hard"])
@pytest.mark.parametrize("detach", [False, True])
@pytest.mark.parametrize("kind", ["fast_sigmoid", "sigmoid"])
def test_fused_equals_loop_of_cells_forward_and_gradients(reset, detach, kind, engine):
    p = discrete_lif_params(0.9, 1.0, reset_mode=reset)
    kw = dict(surrogate=Surrogate(kind, 5.0), detach_reset=detach, learn_decay=True,
              learn_threshold=True)
    fused = LIF(32, p, **kw).double()
    cell = LIFCell(32, p, **kw).double()
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(60, 5, 32, dtype=F64, generator=g) * 0.6).requires_grad_()
    w = torch.randn(60, 5, 32, dtype=F64, generator=g)
    v0 = (torch.rand(5, 32, dtype=F64, generator=g) * 0.5).requires_grad_()
    s_f, st_f = fused(x, LIFLayerState(v0))
    st_c, outs = LIFLayerState(v0), []
    for t in range(60):
        s, st_c = cell(x[t], st_c)
        outs.append(s)
    s_c = torch.stack(outs)
    assert torch.equal(s_f, s_c) and torch.equal(st_f.v, st_c.v)
    assert 0.02 < float(s_f.detach().mean()) < 0.5
    lf = (s_f * w).sum() + st_f.v.square().sum()
    lc = (s_c * w).sum() + st_c.v.square().sum()
    gf = torch.autograd.grad(lf, [x, v0, fused.decay, fused.threshold])
    gc = torch.autograd.grad(lc, [x, v0, cell.decay, cell.threshold])
    if kind == "fast_sigmoid":  # same arithmetic (no libm call): input gradient bit for bit
        assert torch.equal(gf[0], gc[0])
    for a, b in zip(gf, gc):  # exp() of numba vs torch, and sums over batch and time, differ
        # in the last bits
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_fused_float32_spikes_equal_loop(engine):
    p = discrete_lif_params(0.9, 1.0)
    x = torch.randn(100, 8, 64, generator=torch.Generator().manual_seed(5)) * 0.7
    s1, v1 = LIF(64, p)(x)
    s2, v2 = LIF(64, p, backend="loop")(x)
    assert torch.equal(s1, s2) and torch.equal(v1.v, v2.v)


@pytest.mark.parametrize("kind", ["fast_sigmoid", "arctan", "triangle"])
@pytest.mark.parametrize("reset", ["subtract", "hard"])
def test_fused_float32_input_gradient_equals_loop_bit_for_bit(kind, reset, engine):
    # the compiled backward computes the surrogate in the arrays' dtype, as torch does
    p = discrete_lif_params(0.9, 1.0, reset_mode=reset)
    g = torch.Generator().manual_seed(7)
    x = (torch.randn(80, 4, 48, generator=g) * 0.7).requires_grad_()
    w = torch.randn(80, 4, 48, generator=g)
    grads = []
    for backend in ("fused", "loop"):
        s, st_ = LIF(48, p, surrogate=Surrogate(kind, 2.0), backend=backend)(x)
        grads.append(torch.autograd.grad((s * w).sum() + st_.v.sum(), x)[0])
    assert 0.02 < float(s.mean()) < 0.5
    assert torch.equal(grads[0], grads[1])


def test_synaptic_scan_fused_equals_loop_and_gradient(engine):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(30, 2, 5, 2, dtype=F64, generator=g).requires_grad_()
    c0 = torch.randn(2, 5, 2, dtype=F64, generator=g).requires_grad_()
    dec = torch.rand(5, 2, dtype=F64, generator=g)
    a, al = synaptic_scan(x, c0, dec, backend="fused")
    b, bl = synaptic_scan(x, c0, dec, backend="loop")
    assert torch.equal(a, b) and torch.equal(al, bl)
    w = torch.randn_like(a)
    ga = torch.autograd.grad((a * w).sum() + al.sum(), [x, c0])
    gb = torch.autograd.grad((b * w).sum() + bl.sum(), [x, c0])
    for u, v in zip(ga, gb):
        torch.testing.assert_close(u, v, rtol=1e-12, atol=1e-12)


def test_recurrent_lif_with_zero_weights_equals_lif():
    p = discrete_lif_params(0.9, 1.0)
    x = torch.randn(40, 3, 16, dtype=F64, generator=torch.Generator().manual_seed(1))
    rec = RecurrentLIF(16, p).double()
    with torch.no_grad():
        rec.recurrent.weight.zero_()
    assert torch.equal(rec(x)[0], LIF(16, p).double()(x)[0])
    rec2 = RecurrentLIF(16, p, recurrent_gain=3.0).double()
    s, st_ = rec2(x)
    # manual recurrence with the same weights
    cell, v, prev, out = LIFCell(16, p).double(), None, torch.zeros(3, 16, dtype=F64), []
    for t in range(40):
        prev, v = cell(x[t] + prev @ rec2.recurrent.weight.T, v)
        out.append(prev)
    assert torch.equal(s, torch.stack(out))
    assert not torch.equal(s, LIF(16, p).double()(x)[0])


def test_event_linear_matches_dense_forward_and_gradients(engine):
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(20, 8, 70, generator=g) < 0.05).double().requires_grad_()
    ev = EventLinear(70, 30, max_density=0.2).double()
    dense = torch.nn.Linear(70, 30).double()
    dense.load_state_dict(ev.state_dict())
    y1, y2 = ev(x), dense(x)
    torch.testing.assert_close(y1, y2, rtol=1e-12, atol=1e-12)
    w = torch.randn_like(y1)
    g1 = torch.autograd.grad((y1 * w).sum(), [x, ev.weight, ev.bias])
    g2 = torch.autograd.grad((y2 * w).sum(), [x, dense.weight, dense.bias])
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    dense_in = torch.rand(4, 70, dtype=F64)  # above max_density: dense path, same values
    torch.testing.assert_close(ev(dense_in), dense(dense_in), rtol=1e-12, atol=1e-12)


def test_time_distributed_conv_and_sequential_state():
    conv = torch.nn.Conv2d(1, 2, 3)
    td = TimeDistributed(conv)
    x = torch.randn(4, 3, 1, 6, 6)
    y = td(x)
    assert y.shape == (4, 3, 2, 4, 4)
    torch.testing.assert_close(y[2, 1], conv(x[2, 1:2])[0])
    p = discrete_lif_params(0.9, 1.0)
    net = Sequential(TimeDistributed(torch.nn.Linear(5, 7)), LIF(7, p))
    xs = torch.randn(20, 2, 5, generator=torch.Generator().manual_seed(0)) * 3
    out, states = net(xs)
    assert out.shape == (20, 2, 7) and states[0] is None
    # splitting the sequence and passing the state on gives the same spikes
    a, st1 = net(xs[:8])
    b, _ = net(xs[8:], st1)
    assert torch.equal(torch.cat([a, b]), out)


# ----------------------------------------------------------------------------- validation
@settings(max_examples=20, deadline=None)
@given(st.floats(min_value=0.6, max_value=50.0))
def test_layers_reject_refractoriness(t_ref):
    with pytest.raises(ValueError, match="t_ref_ms"):
        LIF(4, LIFParams(t_ref_ms=t_ref), dt_ms=1.0)


@settings(max_examples=20, deadline=None)
@given(st.one_of(st.integers(max_value=0), st.floats(), st.text(max_size=3)))
def test_layers_reject_bad_n(n):
    with pytest.raises(ValueError, match="n"):
        LIF(n)


def test_layers_reject_other_invalid_settings():
    with pytest.raises(ValueError, match="theta_plus_mv"):
        LIF(4, LIFParams(t_ref_ms=0.0, theta_plus_mv=1.0))
    with pytest.raises(ValueError, match="noise_sigma_mv"):
        LIF(4, discrete_lif_params(), substrate=Analog(noise_sigma_mv=1.0))
    with pytest.raises(ValueError, match="backend"):
        LIF(4, backend="cuda")
    with pytest.raises(ValueError, match="beta"):
        discrete_lif_params(1.5)
    with pytest.raises(ValueError, match="max_density"):
        EventLinear(3, 4, max_density=2.0)
    with pytest.raises(ValueError, match="dimensions"):
        LIF(4)(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="target"):
        spike_count_cross_entropy(torch.zeros(5, 2, 3), torch.zeros(3, dtype=torch.long))


# ----------------------------------------------------------------------------- losses
def test_losses_against_closed_forms():
    s = torch.zeros(6, 2, 3)
    s[2, 0, 1] = s[4, 0, 1] = s[5, 0, 0] = 1.0  # sample 0: counts (1, 2, 0); first at 5, 2, never
    s[0, 1, 2] = 1.0
    y = torch.tensor([1, 2])
    counts = s.sum(0)
    ref = -(torch.log_softmax(counts, -1)[[0, 1], y]).mean()
    torch.testing.assert_close(spike_count_cross_entropy(s, y), ref)
    t_first = first_spike_time(s)
    assert t_first.tolist() == [[5.0, 2.0, 6.0], [6.0, 6.0, 0.0]]
    ref = -(torch.log_softmax(-0.5 * t_first, -1)[[0, 1], y]).mean()
    torch.testing.assert_close(first_spike_cross_entropy(s, y, scale=0.5), ref)
    mem = torch.randn(6, 2, 3)
    ref = -(torch.log_softmax(mem.max(0).values, -1)[[0, 1], y]).mean()
    torch.testing.assert_close(max_membrane_cross_entropy(mem, y), ref)


def test_first_spike_gradient_moves_target_spike_earlier():
    """Gradient of the first-spike loss w.r.t. the target neuron's input is negative (more
    input = earlier spike = lower loss) through the surrogate."""
    p = discrete_lif_params(0.9, 1.0)
    x = torch.full((30, 1, 2), 0.15, dtype=F64, requires_grad=True)
    s, _ = LIF(2, p).double()(x)
    loss = first_spike_cross_entropy(s, torch.tensor([0]))
    (g,) = torch.autograd.grad(loss, x)
    assert g[:, 0, 0].sum() < 0 < g[:, 0, 1].sum()


def test_rate_regularizer_and_li_readout():
    reg = RateRegularizer(target=0.1, strength=2.0)
    s = [torch.full((10, 2, 4), 0.3), torch.full((10, 2, 4), 0.05)]
    torch.testing.assert_close(reg(s), torch.tensor(2.0 * 0.2**2))
    torch.testing.assert_close(
        RateRegularizer(0.1, 1.0, two_sided=True)(s), torch.tensor(0.2**2 + 0.05**2)
    )
    with pytest.raises(ValueError, match="target"):
        RateRegularizer(target=1.5)
    li = LI(3, discrete_lif_params(0.5)).double()
    mem, st_ = li(torch.ones(4, 1, 3, dtype=F64))
    drive = li.drive[0]
    expect = [drive * (1 - 0.5 ** (t + 1)) / 0.5 for t in range(4)]  # geometric sum
    torch.testing.assert_close(mem[:, 0, 0], torch.stack(expect), rtol=1e-12, atol=1e-12)
