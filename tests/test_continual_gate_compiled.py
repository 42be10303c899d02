"""Importance gates inside the compiled loops (issue 13, "gated plasticity").

The network simulator and the Diehl & Cook presentation loop gate every STDP change per
synapse, w <- w_old + g (w_new - w_old). Truths: a synapse with I = inf (g = 0) never moves;
with I = 0 (g = 1) the run is bit-identical to one without a gate; for intermediate gates the
compiled loop equals the torch reference (which gates with ``continual.gate.gated_update``)
bit for bit; bad gates are refused naming the parameter; gates survive checkpoints.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroplastic.continual.gate import GateParams, gate_factor
from neuroplastic.models.diehl_cook import DiehlCook, DiehlCookParams
from neuroplastic.network import Network
from neuroplastic.neurons import Analog, LIFParams
from neuroplastic.plasticity.stdp import ExponentialWindow, STDPParams, SymmetricWindow
from neuroplastic.synapses import FixedProbability, OneToOne

# every option of the simulator's STDP that changes the arithmetic of a step
MODES = [
    dict(update="additive", pairing="all", at_zero="causal", batch_reduce="mean"),
    dict(update="multiplicative", pairing="nearest", at_zero="mean", batch_reduce="sum"),
    dict(update="additive", pairing="nearest", at_zero="zero", batch_reduce="sum"),
]


def net_of(backend: str, mode: dict) -> Network:
    """Poisson -> LIF (plastic, delayed) and LIF -> LIF (plastic, recurrent), batch 2, noise."""
    net = Network(dt_ms=0.5, batch=2, seed=3, backend=backend)
    net.add_lif("out", 12, LIFParams(r_mohm=10.0), Analog(noise_sigma_mv=1.0),
                v_init=(-66.0, -55.0))
    net.add_poisson("inp", torch.linspace(20.0, 90.0, 30))
    prm = STDPParams(ExponentialWindow(0.01, 0.012, 10.0, 15.0, at_zero=mode["at_zero"]),
                     pairing=mode["pairing"], update=mode["update"], learning_rate=0.7,
                     w_min=0.0, w_max=3.0, batch_reduce=mode["batch_reduce"])
    prm2 = STDPParams(SymmetricWindow(-0.02, 8.0), pairing=mode["pairing"],
                      update=mode["update"], learning_rate=1.3, w_min=0.0, w_max=1.0,
                      batch_reduce=mode["batch_reduce"])
    net.connect("inp", "out", FixedProbability(0.5), name="ff", delay_ms=0.5, weight=1.5,
                plasticity=prm)
    net.connect("out", "out", FixedProbability(0.3), weight=0.4, name="rec", plasticity=prm2)
    net.connect("inp", "out", FixedProbability(0.1), weight=0.3, name="static")
    net.set_current("out", 1.2)
    w = net.weights("ff")
    g = torch.Generator().manual_seed(1)
    w.copy_(0.5 + 2.0 * torch.rand(w.numel(), generator=g, dtype=torch.float64))
    return net


def mixed_gate(n: int, seed: int = 5) -> torch.Tensor:
    """Every third synapse frozen (g = 0), every third free (g = 1), the rest in (0, 1)."""
    g = torch.rand(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    g[0::3], g[1::3] = 0.0, 1.0
    return g


def _final(net: Network) -> dict[str, torch.Tensor]:
    return {k: net.weights(k).clone() for k in ("ff", "rec", "static")}


@pytest.mark.parametrize("mode", MODES)
def test_network_gate_compiled_equals_reference_and_freezes(mode):
    out = {}
    for backend in ("numba", "torch"):
        net = net_of(backend, mode)
        nnz = net.weights("ff").numel()
        net.set_gate("ff", mixed_gate(nnz))
        # rec: importance I = inf everywhere except one synapse (g = 1 there)
        imp = torch.full((net.weights("rec").numel(),), math.inf, dtype=torch.float64)
        imp[0] = 0.0
        net.set_importance("rec", imp, GateParams("inverse", 2.0))
        w0 = _final(net)
        mon = net.monitor_spikes("out")
        net.run(60.0)
        assert mon.count > 0
        w = _final(net)
        assert torch.equal(w["ff"][0::3], w0["ff"][0::3])  # g = 0: never moved
        assert torch.equal(w["rec"][1:], w0["rec"][1:])
        assert (w["ff"][2::3] != w0["ff"][2::3]).any()  # 0 < g < 1: they learn
        out[backend] = w
    for k in ("ff", "rec", "static"):
        assert torch.equal(out["numba"][k], out["torch"][k]), k


@pytest.mark.parametrize("mode", MODES[:2])
def test_network_gate_one_is_bit_identical_to_no_gate(mode):
    """(The reference loop's g = 1 synapses are covered by the mixed gates above.)"""
    backend = "numba"
    plain = net_of(backend, mode)
    gated = net_of(backend, mode)
    gated.set_importance("ff", torch.zeros(gated.weights("ff").numel(), dtype=torch.float64))
    gated.set_gate("rec", torch.ones(gated.weights("rec").numel(), dtype=torch.float64))
    for net in (plain, gated):
        net.run(60.0)
    a, b = _final(plain), _final(gated)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["ff"], net_of(backend, mode).weights("ff"))  # it did learn


def test_network_gate_scales_a_lone_causal_step_exactly():
    """Pre spike at 10 ms, post spike forced later: the causal change is
    0.01 exp(-lag / 20 ms) (the analytic pair window); gated by g it is g times that, and
    the weight does not move at g = 0."""
    res = {}
    for g in (1.0, 0.5, 0.0):
        net = Network(dt_ms=0.1, seed=0, backend="numba")
        net.add_lif("post", 1, LIFParams(r_mohm=10.0, t_ref_ms=30.0))
        net.add_spike_times("pre", 1, [10.0], [0])
        net.add_spike_times("kick", 1, [14.9], [0])
        prm = STDPParams(ExponentialWindow(0.01, 0.012, 20.0, 20.0), learning_rate=1.0)
        net.connect("pre", "post", OneToOne(), weight=0.01, name="p", plasticity=prm)
        net.connect("kick", "post", OneToOne(), weight=100.0)
        net.set_gate("p", torch.tensor([g], dtype=torch.float64))
        mon = net.monitor_spikes("post")
        net.run(25.0)
        assert mon.count == 1
        lag = (int(mon.steps[0]) - 100) * 0.1
        res[g] = float(net.weights("p")[0]) - 0.01
    assert res[1.0] == pytest.approx(0.01 * math.exp(-lag / 20.0), rel=1e-9)
    assert res[0.5] == pytest.approx(res[1.0] / 2, rel=1e-12)
    assert res[0.0] == 0.0


def test_network_gate_checkpoint_round_trip(tmp_path):
    mode = MODES[0]
    ref = net_of("numba", mode)
    ref.set_gate("ff", mixed_gate(ref.weights("ff").numel()))
    ref.run(30.0)
    ref.save_checkpoint(tmp_path / "ck")
    ref.run(30.0)
    fresh = net_of("numba", mode)  # no gate set: the checkpoint brings it
    fresh.load_checkpoint(tmp_path / "ck")
    assert torch.equal(fresh.gate("ff"), ref.gate("ff"))
    assert fresh.gate("rec") is None
    fresh.run(30.0)
    assert all(torch.equal(a, b) for a, b in zip(_final(ref).values(), _final(fresh).values()))
    # a checkpoint without gates clears a gate set before loading
    plain = net_of("numba", mode)
    plain.save_checkpoint(tmp_path / "plain")
    other = net_of("numba", mode)
    other.set_gate("ff", mixed_gate(other.weights("ff").numel()))
    other.load_checkpoint(tmp_path / "plain")
    assert other.gate("ff") is None


def test_network_bad_gates_are_refused():
    net = net_of("numba", MODES[0])
    nnz = net.weights("ff").numel()
    good = torch.full((nnz,), 0.5, dtype=torch.float64)
    with pytest.raises(ValueError, match="gate has shape"):
        net.set_gate("ff", good[:-1])
    for bad in (math.nan, -0.1, 1.5):
        g = good.clone()
        g[3] = bad
        with pytest.raises(ValueError, match=r"gate must lie in \[0, 1\]"):
            net.set_gate("ff", g)
    with pytest.raises(ValueError, match="gate must be a float"):
        net.set_gate("ff", torch.ones(nnz, dtype=torch.int64))
    with pytest.raises(ValueError, match="not plastic"):
        net.set_gate("static", torch.ones(net.weights("static").numel(), dtype=torch.float64))
    with pytest.raises(ValueError, match="unknown projection"):
        net.set_gate("nope", good)
    with pytest.raises(ValueError, match="importance has shape"):
        net.set_importance("ff", torch.zeros(nnz + 1, dtype=torch.float64))
    with pytest.raises(ValueError, match="importance must be >= 0"):
        net.set_importance("ff", torch.full((nnz,), -1.0, dtype=torch.float64))
    with pytest.raises(ValueError, match="params must be GateParams"):
        net.set_importance("ff", torch.zeros(nnz, dtype=torch.float64), params="step")
    assert net.gate("ff") is None  # nothing was installed by the refused calls


@settings(max_examples=40, deadline=None)
@given(v=st.floats(allow_nan=True, allow_infinity=True, width=64))
def test_gate_validator_property(v):
    """A gate value is accepted exactly when it lies in [0, 1], by both models."""
    net = Network(dt_ms=0.5, seed=0, backend="torch")
    net.add_lif("a", 2)
    net.connect("a", "a", FixedProbability(1.0), weight=0.5, name="p",
                plasticity=STDPParams(ExponentialWindow(0.01, 0.01, 10.0, 10.0), w_min=0.0,
                                      w_max=1.0))
    dc = DiehlCook(2, DiehlCookParams(n_input=4))
    ok = 0.0 <= v <= 1.0
    for setter, shape in ((lambda g: net.set_gate("p", g), (4,)), (dc.set_gate, (4, 2))):
        g = torch.full(shape, v, dtype=torch.float64)
        if ok:
            setter(g)
        else:
            with pytest.raises(ValueError, match="gate"):
                setter(g)


# ----------------------------------------------------------------------- Diehl & Cook
DC_PARAMS = DiehlCookParams(n_input=64, weight_sum_per_input=0.2, eta_post=0.02,
                            w_inh_exc_mv=17.5)


def _digits(n: int) -> torch.Tensor:
    from neuroplastic.data.digits import load_digits

    return load_digits(test_size=0.5, seed=0, dtype=torch.float64).x_train[:n]


def _dc(backend: str, gate=None) -> DiehlCook:
    m = DiehlCook(8, DC_PARAMS, seed=1, backend=backend)
    return m.set_gate(gate)


def test_diehl_cook_gate_one_is_bit_identical_and_zero_freezes():
    X = _digits(10)
    plain, ones = _dc("numba"), _dc("numba")
    ones.set_importance(torch.zeros(64, 8, dtype=torch.float64))  # I = 0 -> g = 1
    for m in (plain, ones):
        m.run(X, learn=True, stream="train", first=0)
    assert torch.equal(plain.weights, ones.weights) and torch.equal(plain.theta, ones.theta)
    imp = torch.zeros(64, 8, dtype=torch.float64)
    imp[:, :4] = math.inf  # neurons 0-3 consolidated
    frozen = _dc("numba").set_importance(imp, GateParams("exponential", 1.0))
    w0 = frozen.weights
    frozen.run(X, learn=True, stream="train", first=0)
    assert torch.equal(frozen.weights[:, :4], w0[:, :4])  # depression, potentiation, norm
    assert (frozen.weights[:, 4:] != w0[:, 4:]).any()


def test_diehl_cook_intermediate_gate_compiled_equals_reference():
    X = _digits(6)
    g = gate_factor(torch.rand(64, 8, generator=torch.Generator().manual_seed(0),
                               dtype=torch.float64) * 3.0, GateParams("inverse", 1.0))
    g[:, 0], g[:, 1] = 0.0, 1.0
    a, b = _dc("numba", g), _dc("torch", g)
    w0 = a.weights
    ra = a.run(X, learn=True, stream="train", first=0)
    rb = b.run(X, learn=True, stream="train", first=0)
    assert torch.equal(a.weights, b.weights) and torch.equal(a.theta, b.theta)
    assert all(torch.equal(x, y) for x, y in zip(ra, rb))
    assert torch.equal(a.weights[:, 0], w0[:, 0])
    assert (a.weights[:, 2:] != w0[:, 2:]).any()


def test_diehl_cook_gate_is_checkpointed_and_refused_when_bad(tmp_path):
    m = _dc("numba", torch.full((64, 8), 0.25, dtype=torch.float64))
    m.save(tmp_path / "m.safetensors")
    back = DiehlCook.load(tmp_path / "m.safetensors")
    assert torch.equal(back.gate, m.gate)
    assert _dc("numba").gate is None
    with pytest.raises(ValueError, match="gate has shape"):
        m.set_gate(torch.ones(8, 64, dtype=torch.float64))
    with pytest.raises(ValueError, match="importance has shape"):
        m.set_importance(torch.zeros(64, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"gate must lie in \[0, 1\]"):
        m.set_gate(torch.full((64, 8), math.nan, dtype=torch.float64))
