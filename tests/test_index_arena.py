"""The network's index arena (``network/_arena.py``): the samplers draw every projection's
post indices straight into one reserved block, back to back, and the simulation adopts them
without a copy. Checked against the copying path (the arena switched off): same connectivity,
same spikes, bit for bit; and the block outlives the network while a view of it is held."""

from __future__ import annotations

import gc

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroplastic.network import Network, _arena
from neuroplastic.network._arena import IndexArena
from neuroplastic.neurons.lif import LIFParams
from neuroplastic.synapses import (
    AllToAll,
    FixedInDegree,
    FixedProbability,
    FromMatrix,
    OneToOne,
    build_connectivity,
    connectivity,
)

needs_reserve = pytest.mark.skipif(not _arena._reservable(),
                                   reason="no MAP_NORESERVE reservation on this platform")


@settings(max_examples=40, deadline=None)
@given(pieces=st.lists(st.integers(0, 300), min_size=1, max_size=8),
       bound=st.integers(1, 2**31 - 2), wide=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_bounded_integers_in_pieces_are_the_one_call_draw(pieces, bound, wide, seed):
    """What the sampler relies on (numpy's Generator): drawing n bounded integers in pieces
    takes the same values from the stream as one call of size n, and leaves it in the same
    state."""
    dt = np.int64 if wide else np.int32
    one = np.random.default_rng(seed)
    ref = one.integers(0, bound, size=sum(pieces), dtype=dt)
    many = np.random.default_rng(seed)
    got = np.concatenate([many.integers(0, bound, size=k, dtype=dt) for k in pieces])
    assert np.array_equal(ref, got)
    assert one.integers(0, 2**62) == many.integers(0, 2**62)


@needs_reserve
def test_take_hands_out_back_to_back_and_span_covers_them():
    a = IndexArena()
    x, y, z = a.take(10), a.take(0), a.take(5)
    x[:], z[:] = 1, 2
    s = a.span([x, y, z])
    assert s is not None and s.size == 15 and np.shares_memory(s, x)
    assert np.array_equal(s, [1] * 10 + [2] * 5)
    assert a.span([z, x]) is None  # not in order
    assert a.span([x.copy(), z]) is None  # not in the block
    assert a.span([x[::2]]) is None  # not contiguous
    with pytest.raises(ValueError, match="n must be >= 0"):
        a.take(-1)


def test_without_a_reservation_take_gives_plain_arrays(monkeypatch):
    monkeypatch.setattr(_arena, "_reservable", lambda: False)
    a = IndexArena()
    x, y = a.take(4), a.take(3)
    assert x.dtype == np.int32 and x.shape == (4,) and y.shape == (3,)
    assert a.span([x, y]) is None


RULES = [FixedProbability(0.05), FixedProbability(0.05, allow_autapses=False),
         FixedProbability(0.6), FixedInDegree(7), FixedInDegree(9, allow_autapses=False),
         AllToAll(), OneToOne()]


@pytest.mark.parametrize("large", [False, True])
@pytest.mark.parametrize("rule", RULES, ids=repr)
def test_alloc_changes_nothing_but_where_the_indices_are(rule, large, monkeypatch):
    if large:  # the O(synapses) samplers, which write into the allocation directly
        monkeypatch.setattr(connectivity, "SMALL_PAIRS", 0)
    ref = build_connectivity(rule, 120, 120, np.random.default_rng(3), same=True,
                             index_dtype=np.int32)
    arena = IndexArena()
    got = build_connectivity(rule, 120, 120, np.random.default_rng(3), same=True,
                             index_dtype=np.int32, alloc=arena.take)
    assert np.array_equal(ref[0], got[0]) and np.array_equal(ref[1], got[1])
    assert got[1].dtype == np.int32
    if _arena._reservable():
        assert arena.span([got[1]]) is not None  # it is the arena's array


def test_alloc_must_give_int32_of_the_asked_size():
    with pytest.raises(ValueError, match="alloc gives int32"):
        build_connectivity(FixedInDegree(2), 5, 5, np.random.default_rng(0), same=False,
                           alloc=IndexArena().take)  # index_dtype int64
    with pytest.raises(ValueError, match=r"alloc\(\d+\) must return an int32 array"):
        build_connectivity(FixedInDegree(2), 5, 5, np.random.default_rng(0), same=False,
                           index_dtype=np.int32, alloc=lambda n: np.empty(n + 1, np.int32))


def _net(n=600, seed=4):
    params = LIFParams(tau_mem_ms=20.0, v_rest_mv=-49.0, v_reset_mv=-60.0, v_thresh_mv=-50.0,
                       t_ref_ms=5.0, tau_syn_ms=(5.0, 10.0))
    net = Network(seed=seed)
    net.add_lif("exc", n, params, v_init=(-60.0, -50.0))
    net.add_lif("inh", n // 4, params, v_init=(-60.0, -50.0))
    net.add_poisson("in", torch.full((50,), 20.0))
    net.connect("exc", "exc", FixedProbability(0.02, allow_autapses=False), weight=0.6)
    net.connect("in", "inh", FixedInDegree(5), weight=2.0)
    net.connect("inh", "exc",
                FromMatrix(np.random.default_rng(1).random((n // 4, n)) < 0.02),
                sign="inhibitory", channel=1)
    net.connect("in", "exc", FixedProbability(0.1), weight=1.5, storage="dense")
    net.monitor_spikes("exc")
    return net


@pytest.mark.parametrize("large", [False, True])
def test_the_simulation_adopts_the_arena_and_runs_as_the_copying_path(large, monkeypatch):
    if large:
        monkeypatch.setattr(connectivity, "SMALL_PAIRS", 0)
    net = _net()
    net.run(50.0)
    with monkeypatch.context() as m:
        m.setattr(_arena, "_reservable", lambda: False)
        ref = _net()
        ref.run(50.0)
    sim = net._sim
    if _arena._reservable():  # no copy: the store is the projections' indices themselves
        assert all(np.shares_memory(sim.indices.numpy(), p.indices.numpy())
                   for p in net.projections.values())
        assert sim.indices.data_ptr() == next(iter(net.projections.values())).indices.data_ptr()
    assert torch.equal(sim.indices, ref._sim.indices)
    s, r = net.spike_monitors["exc"], ref.spike_monitors["exc"]
    assert s.count > 0 and torch.equal(s.steps, r.steps) and torch.equal(s.neurons, r.neurons)


def test_a_view_keeps_the_block_alive_after_the_network_is_gone():
    net = _net()
    idx = net.projections["exc->exc"].indices
    expect = idx.clone()
    del net
    gc.collect()
    junk = [np.ones(1 << 16) for _ in range(64)]  # reuse freed memory, if any was freed
    assert torch.equal(idx, expect)
    del junk


def test_indices_replaced_before_the_build_are_copied_not_adopted():
    """A projection whose indices are no longer the arena's view (here: replaced by an equal
    copy) breaks the back-to-back layout: the simulation then copies every projection into a
    store of its own, with the same result."""
    net, ref = _net(), _net()
    proj = net.projections["in->inh"]
    proj.indices = proj.indices.clone()
    net.run(30.0)
    ref.run(30.0)
    assert net._index_arena.span([net._sim.indices.numpy()]) is None  # a store of its own
    if _arena._reservable():
        assert ref._index_arena.span([ref._sim.indices.numpy()]) is not None  # adopted
    assert torch.equal(net._sim.indices, ref._sim.indices)
    assert torch.equal(net.spike_monitors["exc"].neurons, ref.spike_monitors["exc"].neurons)
