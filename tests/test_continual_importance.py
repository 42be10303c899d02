"""Importance estimators, the quadratic penalty and the plasticity gate against hand results."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from neuroplastic.continual.gate import GatedRule, GateParams, gate_factor, gate_rule
from neuroplastic.continual.importance import (
    ActivityImportance,
    Importance,
    SynapticIntelligence,
    coactivity,
    combine,
    fisher_diagonal,
    mas_importance,
    path_integral,
)
from neuroplastic.continual.penalty import QuadraticPenalty, quadratic_penalty


@pytest.fixture(autouse=True)
def _float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _softmax_layer(d=5, c=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    lin = nn.Linear(d, c)
    with torch.no_grad():
        lin.weight.copy_(torch.randn(c, d, generator=g))
        lin.bias.copy_(torch.randn(c, generator=g))
    x = torch.randn(30, d, generator=g)
    return lin, x


def test_fisher_of_softmax_layer_equals_closed_form():
    lin, x = _softmax_layer()
    imp = fisher_diagonal(lin, x, mode="exact")
    p = torch.softmax(lin(x), -1).detach()  # (N, C)
    # sum_y p_y (delta_yk - p_k)^2 = p_k (1 - p_k): F_W[k, j] = E[x_j^2 p_k (1 - p_k)]
    v = p * (1 - p)
    fw = (v[:, :, None] * x[:, None, :] ** 2).mean(0)
    torch.testing.assert_close(imp["weight"].values, fw, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(imp["bias"].values, v.mean(0), rtol=1e-12, atol=1e-14)
    assert torch.equal(imp["weight"].anchor, lin.weight.detach())
    # empirical Fisher: (onehot(y) - p)^2 x^2
    y = torch.arange(30) % 4
    emp = fisher_diagonal(lin, x, y, mode="empirical")
    r = (nn.functional.one_hot(y, 4) - p) ** 2
    torch.testing.assert_close(emp["weight"].values,
                               (r[:, :, None] * x[:, None, :] ** 2).mean(0), rtol=1e-12,
                               atol=1e-14)
    # one class drawn per sample: an unbiased estimate of the exact Fisher
    smp = fisher_diagonal(lin, x.repeat(40, 1), mode="sample",
                          generator=torch.Generator().manual_seed(1))
    assert torch.allclose(smp["bias"].values, v.mean(0), rtol=0.15)


def test_si_path_integral_on_a_known_trajectory():
    # L = 1/2 sum a (theta - c)^2, plain SGD: theta_t - c = (1 - eta a)^t (theta_0 - c),
    # g_t = a (theta_t - c), step = -eta g_t, so omega = eta a^2 (theta_0 - c)^2 sum r^(2t)
    a = torch.tensor([0.5, 2.0, 1.0])
    c = torch.tensor([1.0, -1.0, 0.0])
    th0 = torch.tensor([3.0, 2.0, 0.0])
    eta, steps, xi = 0.1, 25, 0.05
    p = nn.Parameter(th0.clone())
    opt = torch.optim.SGD([p], lr=eta)
    si = SynapticIntelligence({"p": p}, damping=xi)
    si.begin_task()
    grads, thetas = [], [p.detach().clone()]
    for _ in range(steps):
        opt.zero_grad()
        (0.5 * a * (p - c) ** 2).sum().backward()
        si.before_step()
        grads.append(p.grad.detach().clone())
        opt.step()  # in place: a stored view of p would see no change
        si.after_step()
        thetas.append(p.detach().clone())
    r = 1 - eta * a
    omega = eta * a**2 * (th0 - c) ** 2 * (1 - r ** (2 * steps)) / (1 - r**2)
    torch.testing.assert_close(path_integral(grads, thetas), omega, rtol=1e-12, atol=1e-15)
    delta = (r**steps - 1) * (th0 - c)
    imp = si.end_task()["p"]
    torch.testing.assert_close(imp.values, (omega / (delta**2 + xi)).clamp(min=0),
                               rtol=1e-12, atol=1e-15)
    assert imp.values[0] > 0 and imp.values[2] == 0  # the unmoved coordinate is unimportant
    # a second task accumulates
    imp2 = si.end_task()["p"]
    torch.testing.assert_close(imp2.values, imp.values)


def test_mas_equals_finite_differences():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    x = torch.randn(6, 3)
    imp = mas_importance(net, x)
    h = 1e-6
    for name, p in net.named_parameters():
        fd = torch.zeros_like(p)
        for idx in range(p.numel()):
            per_sample = []
            for xi in x:
                vals = []
                for s in (1, -1):
                    with torch.no_grad():
                        p.view(-1)[idx] += s * h
                        vals.append(float(net(xi[None]).pow(2).sum()))
                        p.view(-1)[idx] -= s * h
                per_sample.append(abs(vals[0] - vals[1]) / (2 * h))
            fd.view(-1)[idx] = sum(per_sample) / len(per_sample)
        torch.testing.assert_close(imp[name].values, fd, rtol=1e-6, atol=1e-9)


def test_penalty_value_gradient_and_validation():
    w = nn.Parameter(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    imp = Importance(torch.tensor([[1.0, 0.0], [2.0, 0.5]]), torch.zeros(2, 2), "ewc")
    pen = quadratic_penalty({"w": w}, {"w": imp}, strength=3.0)
    assert float(pen.detach()) == pytest.approx(0.5 * 3.0 * (1 + 0 + 18 + 8))
    pen.backward()
    torch.testing.assert_close(w.grad, 3.0 * imp.values * w.detach())
    with pytest.raises(ValueError, match="importance of w has shape"):
        quadratic_penalty({"w": w}, {"w": Importance(torch.ones(3), torch.zeros(3))})
    with pytest.raises(ValueError, match="strength"):
        quadratic_penalty({"w": w}, {"w": imp}, strength=-1.0)
    with pytest.raises(ValueError, match="lacks"):
        quadratic_penalty({"w": w}, {"v": imp})
    with pytest.raises(ValueError, match=">= 0"):
        Importance(-torch.ones(2), torch.zeros(2))
    with pytest.raises(ValueError, match="anchor"):
        Importance(torch.ones(2), torch.zeros(3))
    mod = QuadraticPenalty(2.0)
    lin = nn.Linear(2, 1)
    mod.update({"weight": Importance(torch.ones(1, 2), torch.zeros(1, 2))})
    assert float(mod(lin)) == pytest.approx(float((lin.weight**2).sum()))


def test_weighted_combination_equals_sum_of_task_penalties():
    g = torch.Generator().manual_seed(3)
    f1, f2 = torch.rand(5, generator=g), torch.rand(5, generator=g)
    a1, a2 = torch.randn(5, generator=g), torch.randn(5, generator=g)
    merged = combine(Importance(f1, a1), Importance(f2, a2), anchor="weighted")
    th = nn.Parameter(torch.randn(5, generator=g))
    two = quadratic_penalty({"t": th}, {"t": Importance(f1, a1)}) + quadratic_penalty(
        {"t": th}, {"t": Importance(f2, a2)})
    one = quadratic_penalty({"t": th}, {"t": merged})
    g2 = torch.autograd.grad(two, th)[0]
    g1 = torch.autograd.grad(one, th)[0]
    torch.testing.assert_close(g1, g2)
    online = combine(Importance(f1, a1), Importance(f2, a2), decay=0.5)
    torch.testing.assert_close(online.values, 0.5 * f1 + f2)
    assert torch.equal(online.anchor, a2) and online.method.startswith("online-")
    with pytest.raises(ValueError, match="decay"):
        combine(None, Importance(f1, a1), decay=1.5)


def test_local_activity_importance():
    pre = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    post = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    torch.testing.assert_close(coactivity(pre, post),
                               torch.tensor([[0.5, 0.0], [0.5, 0.5], [1.0, 0.5]]))
    acc = ActivityImportance((3, 2))
    acc.update_activity(pre, post)
    acc.update_activity(pre, post)
    imp = acc.result(torch.zeros(3, 2), scale=4.0)
    torch.testing.assert_close(imp.values, coactivity(pre, post))
    with pytest.raises(ValueError, match="shape"):
        acc.update_activity(pre[:, :2], post)
    dw = ActivityImportance((2,), kind="abs_dw")
    dw.update_change(torch.tensor([-1.0, 2.0]))
    dw.update_change(torch.tensor([1.0, 0.0]))
    torch.testing.assert_close(dw.values, torch.tensor([2.0, 2.0]))


# ------------------------------------------------------------------------------- the gate
def _rasters(T=60, n_pre=6, n_post=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(T, 1, n_pre, generator=g) < 0.2,
            torch.rand(T, 1, n_post, generator=g) < 0.2)


@pytest.mark.parametrize("kind", ["inverse", "exponential", "step"])
def test_gate_factor_limits(kind):
    imp = torch.tensor([0.0, 1.0, math.inf])
    g = gate_factor(imp, GateParams(kind, 0.5))
    assert g[0] == 1.0 and g[2] == 0.0 and 0 <= g[1] < 1
    with pytest.raises(ValueError, match="scale"):
        GateParams(kind, -1.0)
    with pytest.raises(ValueError, match=">= 0"):
        gate_factor(torch.tensor([-1.0]))


def _stdp_runs():
    from neuroplastic.plasticity import (
        ExponentialWindow,
        STDPParams,
        TripletParams,
        init_stdp_state,
        init_triplet_state,
        stdp_sequence,
        stdp_step,
        triplet_step,
    )

    pre, post = _rasters()
    prm = STDPParams(ExponentialWindow(a_plus=0.05, a_minus=0.06), w_min=0.0, w_max=1.0)
    tp = TripletParams(w_min=0.0, w_max=1.0, learning_rate=5.0)

    def loop_stdp(step, w):
        st = init_stdp_state(1, 6, 4)
        for t in range(pre.shape[0]):
            w, st = step(w, pre[t], post[t], st, prm, dt_ms=1.0)
        return w

    def loop_triplet(step, w):
        st = init_triplet_state(1, 6, 4)
        for t in range(pre.shape[0]):
            w, st = step(w, pre[t], post[t], st, tp, dt_ms=1.0)
        return w

    def seq(step, w):
        return step(w, pre, post, init_stdp_state(1, 6, 4), prm, dt_ms=1.0)[0]

    return {"stdp_step": (stdp_step, loop_stdp), "stdp_sequence": (stdp_sequence, seq),
            "triplet_step": (triplet_step, loop_triplet)}


def _rate_runs():
    from neuroplastic.plasticity import HebbParams, hebb_step, oja_step
    from neuroplastic.plasticity.three_factor import (
        ThreeFactorParams,
        init_eligibility_state,
        three_factor_step,
    )

    g = torch.Generator().manual_seed(1)
    x = torch.rand(20, 3, 6, generator=g)
    hp = HebbParams(learning_rate=0.1, bound="decay", decay=0.5)
    tf = ThreeFactorParams(eta=0.05, tau_e_ms=50.0)
    pre, post = _rasters(20, 6, 4, seed=2)

    def loop_hebb(step, w):
        for t in range(20):
            w = step(w, x[t], x[t] @ w.T, hp)
        return w

    def loop_oja(step, w):
        for t in range(20):
            w = step(w, x[t], x[t] @ w.T, 0.05)
        return w

    def loop_tf(step, w):
        st = init_eligibility_state(1, 6, 4)
        for t in range(20):
            w, st = step(w, st, pre[t], post[t], 0.7, tf, 1.0)
        return w

    return {"hebb_step": (hebb_step, loop_hebb), "oja_step": (oja_step, loop_oja),
            "three_factor_step": (three_factor_step, loop_tf)}


@pytest.mark.parametrize("name", ["stdp_step", "stdp_sequence", "triplet_step", "hebb_step",
                                  "oja_step", "three_factor_step"])
def test_gate_infinite_importance_freezes_and_zero_is_bit_identical(name):
    runs = {**_stdp_runs(), **_rate_runs()}
    rule, drive = runs[name]
    shape = (4, 6) if name in ("hebb_step", "oja_step", "three_factor_step") else (6, 4)
    w0 = 0.3 + 0.4 * torch.rand(shape, generator=torch.Generator().manual_seed(5))
    plain = drive(rule, w0.clone())
    assert not torch.equal(plain, w0)  # the rule does move these weights
    zero = drive(gate_rule(rule, gate_factor(torch.zeros(shape))), w0.clone())
    assert torch.equal(zero, plain)  # I = 0: unchanged bit for bit
    imp = torch.zeros(shape)
    imp[0] = math.inf  # first row (pre neuron 0 / post neuron 0) fully protected
    imp[1] = 1e300  # I -> infinity
    mixed = drive(gate_rule(rule, gate_factor(imp)), w0.clone())
    mixed = mixed.reshape(shape)  # three_factor_step returns per-trial weights (1, ...)
    assert torch.equal(mixed[:2], w0[:2])
    assert not torch.equal(mixed[2:], w0[2:])
    mod = GatedRule(rule, Importance(imp, w0))
    frozen = drive(mod, w0.clone()).reshape(shape)
    assert torch.equal(frozen[:2], w0[:2])


def test_gated_compiled_sequence_equals_gated_reference_loop():
    from neuroplastic.plasticity import (
        ExponentialWindow,
        STDPParams,
        init_stdp_state,
        stdp_sequence,
    )

    pre, post = _rasters(80)
    prm = STDPParams(ExponentialWindow(a_plus=0.05, a_minus=0.06), w_min=0.0, w_max=1.0)
    w0 = torch.full((6, 4), 0.5)
    gate = gate_factor(torch.zeros(6, 4))
    st = init_stdp_state(1, 6, 4)
    a = gate_rule(stdp_sequence, gate)(w0.clone(), pre, post, st, prm, dt_ms=1.0,
                                       backend="numba")[0]
    b = gate_rule(stdp_sequence, gate)(w0.clone(), pre, post, st, prm, dt_ms=1.0,
                                       backend="torch")[0]
    assert torch.equal(a, b)


def test_gate_shape_mismatch_is_refused():
    from neuroplastic.continual.gate import gated_update

    with pytest.raises(ValueError, match="does not fit"):
        gated_update(torch.zeros(3, 2), torch.ones(3, 2), torch.ones(4))
    mod = GatedRule(lambda w: w + 1, torch.zeros(2))
    with pytest.raises(ValueError, match="importance has shape"):
        mod.set_importance(torch.zeros(3))
