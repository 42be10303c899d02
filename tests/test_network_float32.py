"""The simulator in float32 (``Network(dtype="float32")``): the compiled loop equals the torch
reference bit for bit in float32 as it does in float64; a regular LIF neuron fires at the
analytic period (CUBA's statistics against Brian2's: test_network.py); what float32 cannot
hold exactly is refused; checkpoints keep the precision."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from test_network import _record, mixed_network

from neuroplastic.experiments.cuba import CubaConfig, build_cuba
from neuroplastic.network import Network
from neuroplastic.network.checkpoint import CheckpointError
from neuroplastic.neurons import Digital, LIFParams
from neuroplastic.plasticity import STDPParams
from neuroplastic.synapses import AllToAll


def analog_network(backend: str, dtype: str) -> Network:
    """The float64 test's network with every feature, its digital population made analog."""
    return mixed_network(backend, dtype=dtype, digital=False)


def _run(backend: str, dtype: str):
    net = analog_network(backend, dtype)
    mons, st_mon = _record(net)
    net.run(60.0)
    net.run(57.5)
    return net, mons, st_mon


def test_float32_compiled_loop_equals_torch_reference_bit_for_bit():
    (n1, m1, s1), (n2, m2, s2) = _run("numba", "float32"), _run("torch", "float32")
    for k in m1:
        assert torch.equal(m1[k].steps, m2[k].steps) and torch.equal(m1[k].neurons, m2[k].neurons)
    for x, y in ((s1.v, s2.v), (s1.i_syn, s2.i_syn), (s1.theta, s2.theta)):
        assert torch.equal(x, y)
    for pop in ("a", "d"):
        a, b = n1.state(pop), n2.state(pop)
        assert a["v"].dtype == torch.float32 and a["ref_left"].dtype == torch.int16
        for var in ("v", "i_syn", "theta", "ref_left"):
            assert torch.equal(a[var], b[var]), (pop, var)
    assert n1.synops == n2.synops
    assert m1["a"].count > 150 and m1["d"].count > 150  # both paths were really active
    # and the arithmetic really was float32: the float64 run differs in the state
    f64, _, _ = _run("numba", "float64")
    assert not torch.equal(f64.state("a")["v"].to(torch.float32), n1.state("a")["v"])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_regular_neuron_fires_at_the_analytic_period(dtype):
    # constant current I through R: v -> v_inf = v_rest + R I; from v_reset the threshold is
    # reached after tau ln((v_inf - v_reset) / (v_inf - v_thresh)), then t_ref frozen; the
    # clock rounds each interval up to whole steps, so the period lies within one step of it
    p = LIFParams(tau_mem_ms=20.0, v_rest_mv=-70.0, v_reset_mv=-70.0, v_thresh_mv=-54.0,
                  t_ref_ms=2.0, r_mohm=10.0)
    net = Network(dt_ms=0.1, dtype=dtype)
    net.add_lif("n", 1, p)
    net.set_current("n", 2.0)  # v_inf = -50 mV
    m = net.monitor_spikes("n")
    net.run(1000.0)
    isi = np.diff(m.steps.numpy()) * 0.1
    expected = 2.0 + 20.0 * math.log((-50.0 + 70.0) / (-50.0 + 54.0))
    assert len(isi) > 20 and np.ptp(isi) <= 0.1 + 1e-9
    assert abs(isi.mean() - expected) <= 0.1 + 1e-9


def test_float32_state_and_weights_are_float32():
    net = build_cuba(CubaConfig(n_neurons=400, p_connect=0.05, dtype="float32"))
    net._ensure_built()
    sim = net._sim
    assert {sim.v.dtype, sim.isyn.dtype, sim.coef.decay_v.dtype} == {torch.float32}
    assert sim.ref_left.dtype == torch.int16
    w = net.weights("exc->exc")  # stored per synapse once read, in float32
    assert w.dtype == torch.float32 and float(w[0]) == pytest.approx(1.62, rel=1e-7)
    # a refractory period of 2**15 steps or more does not fit int16: int32 counters
    long = Network(dt_ms=0.1, dtype="float32")
    long.add_lif("n", 2, LIFParams(t_ref_ms=3300.0))
    assert long.state("n")["ref_left"].dtype == torch.int32


def test_what_float32_cannot_hold_is_refused():
    net = Network(dtype="float32")
    with pytest.raises(ValueError, match="digital .*dtype='float64'"):
        net.add_lif("d", 3, substrate=Digital(int_bits=8, frac_bits=6))
    net.add_lif("a", 3)
    with pytest.raises(ValueError, match="plastic projection .*dtype='float64'"):
        net.connect("a", "a", AllToAll(), weight=0.1, plasticity=STDPParams())
    with pytest.raises(ValueError, match="dtype"):
        CubaConfig(backend="nest", dtype="float32")


@settings(max_examples=30, deadline=None)
@given(dtype=st.text(max_size=12).filter(lambda s: s not in ("float64", "float32")))
def test_dtype_validated(dtype):
    with pytest.raises(ValueError, match="dtype"):
        Network(dtype=dtype)


def test_float32_checkpoint_resumes_bit_for_bit_and_keeps_its_precision(tmp_path):
    ref, mref, _ = _run("numba", "float32")
    first = analog_network("numba", "float32")
    first.run(60.0)
    first.save_checkpoint(tmp_path / "ck")
    resumed = analog_network("numba", "float32")
    m = resumed.monitor_spikes("a")
    resumed.load_checkpoint(tmp_path / "ck")
    resumed.run(57.5)
    sel = mref["a"].steps >= first.step
    assert torch.equal(mref["a"].steps[sel], m.steps)
    assert torch.equal(mref["a"].neurons[sel], m.neurons)
    for k in ("v", "i_syn", "theta", "ref_left"):
        assert torch.equal(ref.state("a")[k], resumed.state("a")[k])
    other = analog_network("numba", "float64")  # the same network in the other precision
    with pytest.raises(CheckpointError, match="differently built"):
        other.load_checkpoint(tmp_path / "ck")
