"""STDP as a stage of the simulator: compiled loop == torch reference bit for bit, the in-loop
rule == the library's ``stdp_sequence`` on the recorded rasters, sign of causal pairs,
checkpoints, refusals."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroplastic.network import Network
from neuroplastic.neurons import Analog, LIFParams
from neuroplastic.plasticity.stdp import (
    ExponentialWindow,
    FunctionWindow,
    STDPParams,
    SymmetricWindow,
    csr_layout,
    init_stdp_state,
    stdp_sequence,
)
from neuroplastic.synapses import AllToAll, FixedProbability, OneToOne

MODES = [
    dict(update="additive", pairing="all", at_zero="causal", batch_reduce="mean"),
    dict(update="multiplicative", pairing="nearest", at_zero="mean", batch_reduce="sum"),
    dict(update="additive", pairing="nearest", at_zero="zero", batch_reduce="sum"),
]


def plastic_network(backend: str, mode: dict, *, batch: int = 2, seed: int = 3,
                    plastic: bool = True) -> Network:
    """Poisson input -> LIF (plastic, delayed), LIF -> LIF (plastic, recurrent), one static
    projection; noise and batch 2, so spikes of the two trials differ."""
    net = Network(dt_ms=0.5, batch=batch, seed=seed, backend=backend)
    net.add_lif("out", 12, LIFParams(r_mohm=10.0), Analog(noise_sigma_mv=1.0),
                v_init=(-66.0, -55.0))
    net.add_poisson("inp", torch.linspace(20.0, 90.0, 30))
    window = ExponentialWindow(0.01, 0.012, 10.0, 15.0, at_zero=mode["at_zero"])
    prm = STDPParams(window, pairing=mode["pairing"], update=mode["update"], learning_rate=0.7,
                     w_min=0.0, w_max=3.0, batch_reduce=mode["batch_reduce"])
    prm2 = STDPParams(SymmetricWindow(-0.02, 8.0), pairing=mode["pairing"],
                      update=mode["update"], learning_rate=1.3, w_min=0.0, w_max=1.0,
                      batch_reduce=mode["batch_reduce"])
    net.connect("inp", "out", FixedProbability(0.5), name="ff", delay_ms=0.5, weight=1.5,
                plasticity=prm if plastic else None)
    net.connect("out", "out", FixedProbability(0.3), weight=0.4, name="rec",
                plasticity=prm2 if plastic else None)
    net.connect("inp", "out", FixedProbability(0.1), weight=0.3, channel=0, name="static")
    net.set_current("out", 1.2)
    w = net.weights("ff")  # builds the network; the store can be edited in place
    g = torch.Generator().manual_seed(1)
    w.copy_(0.5 + 2.0 * torch.rand(w.numel(), generator=g, dtype=torch.float64))
    return net


def raster(mon, n_steps: int, batch: int, n: int) -> torch.Tensor:
    r = torch.zeros(n_steps, batch, n, dtype=torch.bool)
    r[mon.steps, mon.batch, mon.neurons] = True
    return r


@pytest.mark.parametrize("mode", MODES)
def test_compiled_plastic_loop_equals_torch_reference_bit_for_bit(mode):
    nets = {b: plastic_network(b, mode) for b in ("numba", "torch")}
    mons = {b: (n.monitor_spikes("out"), n.monitor_spikes("inp")) for b, n in nets.items()}
    w0 = nets["numba"].weights("ff").clone()
    for net in nets.values():
        net.run(150.0)  # 300 steps
    a, b = nets["numba"], nets["torch"]
    for name in ("ff", "rec", "static"):
        assert torch.equal(a.weights(name), b.weights(name)), name
    for name in ("ff", "rec"):
        ta, tb = a.stdp_traces(name), b.stdp_traces(name)
        assert torch.equal(ta.pre_trace, tb.pre_trace) and torch.equal(ta.post_trace, tb.post_trace)
    for ma, mb in zip(mons["numba"], mons["torch"]):
        assert ma.count > 0
        assert torch.equal(ma.steps, mb.steps) and torch.equal(ma.neurons, mb.neurons)
        assert torch.equal(ma.batch, mb.batch)
    for k in ("v", "i_syn"):
        assert torch.equal(a.state("out")[k], b.state("out")[k])
    assert not torch.equal(a.weights("ff"), w0)  # it did learn


@pytest.mark.parametrize("mode", MODES)
def test_learned_weights_equal_stdp_sequence_on_recorded_rasters(mode):
    """The key property: the in-loop stage is the library's STDP rule applied to the spike
    rasters of the run (spike steps paired, axonal delay ignored), exactly."""
    B, T = 2, 400
    net = plastic_network("numba", mode, batch=B)
    m_out, m_in = net.monitor_spikes("out"), net.monitor_spikes("inp")
    init = {k: net.weights(k).clone() for k in ("ff", "rec")}
    net.run(T * net.dt_ms)
    r_out, r_in = raster(m_out, T, B, 12), raster(m_in, T, B, 30)
    assert r_out.any() and r_in.any()
    for name, pre in (("ff", r_in), ("rec", r_out)):
        proj = net.projections[name]
        csr = csr_layout(proj.indptr, proj.indices, proj.n_post)
        for backend in ("numba", "torch"):  # compiled kernel, and a loop of stdp_step
            w, state = stdp_sequence(
                init[name].clone(), pre, r_out, init_stdp_state(B, proj.n_pre, proj.n_post),
                net.plasticity[name], dt_ms=net.dt_ms, csr=csr, backend=backend,
            )
            assert torch.equal(w, net.weights(name)), (name, backend)
            tr = net.stdp_traces(name)
            assert torch.equal(state.pre_trace, tr.pre_trace)
            assert torch.equal(state.post_trace, tr.post_trace)


def test_learning_changes_later_propagation():
    mode = MODES[0]
    learn, static = plastic_network("numba", mode), plastic_network("numba", mode, plastic=False)
    learn.run(300.0)
    static.run(300.0)
    assert torch.equal(learn.weights("static"), static.weights("static"))
    assert not torch.equal(learn.spike_counts("out"), static.spike_counts("out"))
    # the returned projection's weights are the same view of the store the simulator uses
    proj = learn.projections["ff"]
    assert proj.weights.data_ptr() == learn.weights("ff").data_ptr()


def _pair_network(pre_ms: float, post_ms: float, backend: str = "numba"):
    """One pre source, one post neuron forced to fire at ``post_ms`` by a strong static input;
    the plastic synapse is too weak to make it fire."""
    net = Network(dt_ms=0.1, seed=0, backend=backend)
    net.add_lif("post", 1, LIFParams(r_mohm=10.0, t_ref_ms=30.0))
    net.add_spike_times("pre", 1, [pre_ms], [0])
    net.add_spike_times("kick", 1, [post_ms - 0.1], [0])  # arrives next step: 1 step later
    prm = STDPParams(ExponentialWindow(0.01, 0.012, 20.0, 20.0), learning_rate=1.0)
    proj = net.connect("pre", "post", OneToOne(), weight=0.01, plasticity=prm)
    net.connect("kick", "post", OneToOne(), weight=100.0)
    mon = net.monitor_spikes("post")
    return net, proj, mon


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_pre_before_post_potentiates_post_before_pre_depresses(backend):
    net, proj, mon = _pair_network(10.0, 15.0, backend)
    net.run(40.0)
    assert mon.count == 1
    lag = (int(mon.steps[0]) - round(10.0 / net.dt_ms)) * net.dt_ms
    assert lag > 0
    dw = float(proj.weights[0]) - 0.01
    assert dw > 0
    assert math.isclose(dw, 0.01 * math.exp(-lag / 20.0), rel_tol=1e-9)

    net, proj, mon = _pair_network(20.0, 10.0, backend)
    net.run(40.0)
    assert mon.count == 1
    assert float(proj.weights[0]) < 0.01


def test_checkpoint_resume_with_plasticity_is_bit_identical(tmp_path):
    mode = MODES[1]
    ref = plastic_network("numba", mode)
    ref.run(200.0)
    first = plastic_network("numba", mode)
    first.run(90.0)
    first.save_checkpoint(tmp_path / "ck")
    resumed = plastic_network("numba", mode)
    resumed.load_checkpoint(tmp_path / "ck")
    assert torch.equal(resumed.stdp_traces("ff").pre_trace, first.stdp_traces("ff").pre_trace)
    resumed.run(110.0)
    for name in ("ff", "rec"):
        assert torch.equal(ref.weights(name), resumed.weights(name))
        assert torch.equal(ref.stdp_traces(name).post_trace, resumed.stdp_traces(name).post_trace)
    assert torch.equal(ref.state("out")["v"], resumed.state("out")["v"])


def test_reset_state_clears_traces_keeps_learned_weights():
    net = plastic_network("numba", MODES[0])
    net.run(50.0)
    w = net.weights("ff").clone()
    assert net.stdp_traces("ff").pre_trace.abs().sum() > 0
    net.reset_state()
    assert torch.equal(net.weights("ff"), w)
    assert net.stdp_traces("ff").pre_trace.abs().sum() == 0
    assert net.stdp_traces("ff").post_trace.abs().sum() == 0


# ---------------------------------------------------------------- refusals
def _net():
    net = Network(dt_ms=0.5)
    net.add_lif("a", 4)
    net.add_poisson("p", torch.full((3,), 10.0))
    return net


def test_unsupported_plasticity_is_refused():
    net = _net()
    cases = [
        (dict(plasticity=STDPParams(FunctionWindow(lambda d: d * 0.0, 10.0))), "trace form"),
        (dict(plasticity=STDPParams(SymmetricWindow(shape="mexican_hat"))), "trace form"),
        (dict(plasticity=STDPParams(norm_target=2.0)), "norm_target"),
        (dict(plasticity=STDPParams(), storage="dense"), "storage='sparse'"),
        (dict(plasticity="stdp"), "STDPParams"),
        (dict(plasticity=STDPParams(w_max=1.0), weight=2.0), r"within \[w_min, w_max\]"),
        (dict(plasticity=STDPParams(), weight=0.5, sign="inhibitory"), "within"),
    ]
    for kwargs, msg in cases:
        kwargs.setdefault("weight", 0.5)
        with pytest.raises(ValueError, match=msg):
            net.connect("p", "a", AllToAll(), **kwargs)
    assert not net.projections and not net.plasticity
    net.connect("p", "a", AllToAll(), weight=0.5, plasticity=STDPParams())
    with pytest.raises(ValueError, match="not a plastic projection"):
        net.stdp_traces("nope")
    with pytest.raises(ValueError, match="unknown projection"):
        net.weights("nope")


@settings(max_examples=30, deadline=None)
@given(target=st.floats(1e-3, 1e3), w=st.floats(-10.0, 10.0))
def test_plasticity_validator_property(target, w):
    net = _net()
    with pytest.raises(ValueError, match="norm_target"):
        net.connect("p", "a", AllToAll(), weight=0.5, plasticity=STDPParams(norm_target=target))
    prm = STDPParams(w_min=-1.0, w_max=2.0)
    if -1.0 <= w <= 2.0:
        proj = net.connect("p", "a", AllToAll(), weight=w, plasticity=prm)
        assert torch.equal(proj.weights, torch.full((12,), w, dtype=torch.float64))
    else:
        with pytest.raises(ValueError, match="within"):
            net.connect("p", "a", AllToAll(), weight=w, plasticity=prm)
