"""Connectivity rules and event-driven propagation versus the dense matrix product."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroplastic.network import Network
from neuroplastic.neurons import LIFParams
from neuroplastic.synapses import (
    AllToAll,
    FixedInDegree,
    FixedProbability,
    FromMatrix,
    OneToOne,
    build_connectivity,
    propagate_dense,
    propagate_events,
)


def _proj(rule, storage, n_pre=60, n_post=40, seed=0, weights=None):
    net = Network(dt_ms=0.1, seed=seed)
    net.add_poisson("pre", torch.zeros(n_pre))
    net.add_lif("post", n_post, LIFParams())
    g = torch.Generator().manual_seed(seed)
    proj = net.connect("pre", "post", rule, weight=1.0, storage=storage)
    # dyadic weights: sums are exact in any order, so "exactly equal" is meaningful
    w = torch.randint(-64, 64, (proj.nnz,), generator=g).double() / 16
    w = w if weights is None else weights
    proj.weights.copy_(w)
    return proj


@pytest.mark.parametrize("storage", ["sparse", "dense"])
@pytest.mark.parametrize("rule", [FixedProbability(0.2), AllToAll(), FixedInDegree(7)])
def test_event_driven_equals_dense_exactly(rule, storage):
    proj = _proj(rule, storage)
    g = torch.Generator().manual_seed(1)
    spikes = torch.rand(5, proj.n_pre, generator=g) < 0.1
    ev, synops = propagate_events(proj, spikes)
    dense = propagate_dense(proj, spikes)
    assert torch.equal(ev, dense)
    assert synops == int((spikes.long() @ proj.fan_out).sum())


def test_event_driven_touches_only_spiking_rows():
    proj = _proj(FixedProbability(0.3), "sparse")
    spikes = torch.zeros(1, proj.n_pre, dtype=torch.bool)
    spikes[0, 3] = True
    proj.weights[proj.indptr[10]:proj.indptr[11]] = float("nan")  # a row that must not be read
    ev, synops = propagate_events(proj, spikes)
    assert torch.isfinite(ev).all() and synops == int(proj.fan_out[3])


def test_connectivity_rules():
    rng = np.random.default_rng(0)
    ip, ix = build_connectivity(FixedInDegree(5), 30, 20, rng, same=False)
    assert np.bincount(ix, minlength=20).tolist() == [5] * 20
    rows = np.repeat(np.arange(30), np.diff(ip))
    assert len(set(zip(rows.tolist(), ix.tolist()))) == len(ix)  # no duplicate pairs
    ip, ix = build_connectivity(FixedInDegree(19, allow_autapses=False), 20, 20, rng, same=True)
    rows = np.repeat(np.arange(20), np.diff(ip))
    assert not np.any(rows == ix)
    ip, ix = build_connectivity(OneToOne(), 9, 9, rng, same=False)
    assert ix.tolist() == list(range(9)) and ip.tolist() == list(range(10))
    ip, ix = build_connectivity(FixedProbability(0.1), 400, 500, rng, same=False)
    p_hat = len(ix) / (400 * 500)
    assert abs(p_hat - 0.1) < 4 * np.sqrt(0.1 * 0.9 / (400 * 500))
    for r in range(400):  # sorted within rows
        assert np.all(np.diff(ix[ip[r]:ip[r + 1]]) > 0)
    m = np.zeros((3, 4))
    m[0, 1], m[2, 3] = 2.0, -1.0
    ip, ix = build_connectivity(FromMatrix(m), 3, 4, rng, same=False)
    assert ip.tolist() == [0, 1, 1, 2] and ix.tolist() == [1, 3]


def test_from_matrix_weights_and_sign():
    m = torch.tensor([[0.0, 2.0], [3.0, 0.0]])
    net = Network()
    net.add_lif("a", 2)
    net.add_lif("b", 2)
    proj = net.connect("a", "b", FromMatrix(m))
    assert torch.equal(proj.to_dense(), m.double())
    inh = net.connect("a", "a", AllToAll(), weight=0.5, sign="inhibitory")
    assert (inh.weights == -0.5).all()
    with pytest.raises(ValueError, match="magnitudes"):
        net.connect("b", "a", AllToAll(), weight=-1.0, sign="excitatory")


@settings(max_examples=30, deadline=None)
@given(p=st.one_of(st.floats(max_value=-1e-9), st.floats(min_value=1.0 + 1e-9),
                   st.just(float("nan"))))
def test_probability_outside_unit_interval_refused(p):
    with pytest.raises(ValueError, match="p "):
        FixedProbability(p)


@settings(max_examples=20, deadline=None)
@given(k=st.integers(max_value=-1))
def test_negative_in_degree_refused(k):
    with pytest.raises(ValueError, match="k"):
        FixedInDegree(k)


def test_connect_validation_messages():
    net = Network()
    net.add_lif("a", 3, LIFParams(tau_syn_ms=(5.0,)))
    net.add_poisson("src", torch.ones(4))
    with pytest.raises(ValueError, match="'nope' does not exist"):
        net.connect("nope", "a", AllToAll())
    with pytest.raises(ValueError, match="input source"):
        net.connect("a", "src", AllToAll())
    with pytest.raises(ValueError, match="channel"):
        net.connect("src", "a", AllToAll(), channel=1)
    with pytest.raises(ValueError, match="weight"):
        net.connect("src", "a", AllToAll(), weight=torch.ones(5))
    with pytest.raises(ValueError, match="delay_ms"):
        net.connect("src", "a", AllToAll(), delay_ms=-1.0)
    with pytest.raises(ValueError, match="finite"):
        net.connect("src", "a", AllToAll(), weight=float("nan"))
    with pytest.raises(ValueError, match="storage"):
        net.connect("src", "a", AllToAll(), storage="coo")
    with pytest.raises(ValueError, match="OneToOne"):
        net.connect("src", "a", OneToOne())
