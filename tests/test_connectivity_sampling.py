"""The O(synapses) connectivity builders (used above ``SMALL_PAIRS`` pairs; forced here with a
zero threshold) draw the laws they name, and the compiled loop's fused update of uniform
populations equals its general per-neuron path bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from neuroplastic.synapses import FixedInDegree, FixedProbability, build_connectivity, connectivity


@pytest.fixture
def sampler(monkeypatch):
    """Every network is 'large': the O(synapses) samplers."""
    monkeypatch.setattr(connectivity, "SMALL_PAIRS", 0)


def _pairs(ip, ix):
    return np.repeat(np.arange(ip.size - 1), np.diff(ip)), ix


@pytest.mark.parametrize("rule,same", [(FixedProbability(0.05), False),
                                       (FixedProbability(0.05, allow_autapses=False), True),
                                       (FixedProbability(0.6, allow_autapses=False), True),
                                       (FixedInDegree(7), False),
                                       (FixedInDegree(29, allow_autapses=False), True)])
@pytest.mark.parametrize("small", [False, True])
def test_builders_give_distinct_sorted_partners_without_autapses(rule, same, small,
                                                                  monkeypatch):
    if not small:
        monkeypatch.setattr(connectivity, "SMALL_PAIRS", 0)
    ip, ix = build_connectivity(rule, 30, 30, np.random.default_rng(3), same=same)
    rows, cols = _pairs(ip, ix)
    assert ip.dtype == ix.dtype == np.int64 and ip[-1] == ix.size
    assert all(np.all(np.diff(ix[ip[r]:ip[r + 1]]) > 0) for r in range(30))  # sorted, distinct
    if same and not rule.allow_autapses:
        assert not np.any(rows == cols)
    if isinstance(rule, FixedInDegree):
        assert np.bincount(cols, minlength=30).tolist() == [rule.k] * 30


def test_fixed_probability_rows_are_binomial_and_pairs_uniform(sampler):
    """Row sizes follow Binomial(n_post - 1, p) (no autapses) and every allowed pair has the
    same frequency p: the law of independent Bernoulli pairs."""
    n, p, runs = 12, 0.15, 3000
    freq = np.zeros((n, n))
    sizes = []
    for s in range(runs):
        ip, ix = build_connectivity(FixedProbability(p, allow_autapses=False), n, n,
                                    np.random.default_rng(s), same=True)
        rows, cols = _pairs(ip, ix)
        freq[rows, cols] += 1
        sizes.append(np.diff(ip))
    sizes = np.concatenate(sizes)
    expect = stats.binom.pmf(np.arange(n), n - 1, p) * sizes.size
    obs = np.bincount(sizes, minlength=n)[:n]
    keep = expect > 5
    assert stats.chisquare(obs[keep], expect[keep] * obs[keep].sum() / expect[keep].sum()
                           ).pvalue > 1e-3
    off = ~np.eye(n, dtype=bool)
    assert np.all(freq[~off] == 0)
    z = (freq[off] / runs - p) / np.sqrt(p * (1 - p) / runs)
    assert np.abs(z).max() < 5


def test_fixed_in_degree_partners_are_uniform(sampler):
    k, n_pre, n_post, runs = 4, 9, 5, 3000
    freq = np.zeros((n_pre, n_post))
    for s in range(runs):
        ip, ix = build_connectivity(FixedInDegree(k), n_pre, n_post, np.random.default_rng(s),
                                    same=False)
        rows, cols = _pairs(ip, ix)
        freq[rows, cols] += 1
    q = k / n_pre
    z = (freq / runs - q) / np.sqrt(q * (1 - q) / runs)
    assert np.abs(z).max() < 5


def test_same_seed_same_connectivity(sampler):
    a = build_connectivity(FixedProbability(0.01), 500, 700, np.random.default_rng(9), same=False)
    b = build_connectivity(FixedProbability(0.01), 500, 700, np.random.default_rng(9), same=False)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("block", [1, 7, 300])
def test_blockwise_first_pass_equals_the_compiled_pass(block):
    """The first pass (draws block after block of rows, numpy's row-wise sort of the padded
    block) gives exactly what drawing every value at once and the compiled pass the later
    rounds use give: same values, same repeat positions, same rows, same stream left."""
    from neuroplastic.kernels.connectivity_numba import sort_rows_find_repeats

    counts = np.random.default_rng(4).integers(0, 20, size=300)  # empty, single, long rows
    indptr = np.concatenate([[0], np.cumsum(counts)])
    ra, rb = np.random.default_rng(5), np.random.default_rng(5)
    a = np.empty(int(indptr[-1]), dtype=np.int32)
    pa, ka = connectivity._draw_sorted_rows(indptr, a, 50, ra, block=block)  # many repeats
    b = rb.integers(0, 50, size=a.size, dtype=np.int32)
    pb = np.empty(b.size, dtype=np.int64)
    nb, kb = sort_rows_find_repeats(indptr, b, np.arange(300), 50, pb)
    assert pa.size == nb > 50 and np.array_equal(pa, pb[:nb])
    assert np.array_equal(a, b) and np.array_equal(ka, kb)
    assert ra.integers(0, 2**31) == rb.integers(0, 2**31)


@settings(max_examples=40, deadline=None)
@given(counts=st.lists(st.integers(0, 300), min_size=1, max_size=60),
       m=st.integers(600, 5000), block=st.integers(1, 70), seed=st.integers(0, 2**32 - 1))
def test_first_pass_is_sorting_whatever_the_row_widths(counts, m, block, seed):
    """Rows of any length (empty, and both sides of every padded width 16, 32, ... 512), any
    block of rows: the first pass equals drawing every value at once and sorting each row
    (numpy), its repeats are exactly the values equal to their left neighbour (row-major),
    and it draws exactly one value per slot."""
    counts = np.asarray(counts, dtype=np.int64)
    indptr = np.concatenate([[0], np.cumsum(counts)])
    x = np.empty(int(indptr[-1]), dtype=np.int32)
    ra, rb = np.random.default_rng(seed), np.random.default_rng(seed)
    pos, keep = connectivity._draw_sorted_rows(indptr, x, m, ra, block=block)
    want = rb.integers(0, m, size=x.size, dtype=np.int32)
    rows = np.repeat(np.arange(counts.size), counts)
    want = want[np.lexsort((want, rows))]  # each row sorted, rows in order
    assert np.array_equal(x, want)
    same_row = np.zeros(x.size, dtype=bool)
    same_row[1:] = rows[1:] == rows[:-1]
    repeat = np.zeros(x.size, dtype=bool)
    repeat[1:] = x[1:] == x[:-1]
    assert np.array_equal(pos, np.flatnonzero(repeat & same_row))
    assert np.array_equal(keep, np.bincount(rows[pos], minlength=counts.size) > 0)
    assert ra.integers(0, 2**31) == rb.integers(0, 2**31)


@pytest.mark.parametrize("chunk", [1, 700, 1 << 22])
def test_bernoulli_blocks_do_not_change_the_connectivity(chunk, monkeypatch):
    """Small networks draw one uniform per pair, row after row, in blocks (whose size bounds
    the memory of building): any block size gives the pairs of one row at a time."""
    rule = FixedProbability(0.1, allow_autapses=False)
    want = build_connectivity(rule, 60, 60, np.random.default_rng(2), same=True)
    u = np.random.default_rng(2).random((60, 60)) < 0.1  # the law, written out
    np.fill_diagonal(u, False)
    monkeypatch.setattr(connectivity, "_CHUNK", chunk)
    got = build_connectivity(rule, 60, 60, np.random.default_rng(2), same=True)
    assert all(np.array_equal(x, y) for x, y in zip(want, got))
    assert np.array_equal(np.nonzero(u)[1], got[1]) and np.array_equal(u.sum(1), np.diff(got[0]))


def test_fused_update_equals_general_path():
    """CUBA (uniform populations: the fused scalar update) against the same network with the
    fused path switched off: identical spikes and state."""
    pytest.importorskip("numba")
    from neuroplastic.experiments.cuba import CubaConfig, build_cuba

    out = []
    for fused in (True, False):
        net = build_cuba(CubaConfig(n_neurons=400, seed=2, noise_sigma_mv=0.5, backend="numba"))
        mon = net.monitor_spikes("exc")
        net._ensure_built()
        assert net._sim.seg_fast.tolist() == [1]
        if not fused:
            net._sim.seg_fast[:] = 0
        net.run(100.0, progress=False)
        out.append((mon.steps.clone(), mon.neurons.clone(), net._sim.v.clone(),
                    net._sim.isyn.clone()))
    assert out[0][0].numel() > 0
    assert all(torch.equal(x, y) for x, y in zip(*out))


@pytest.mark.parametrize("block", [1, 7, 2048])
@pytest.mark.parametrize("no_self", [False, True])
def test_compiled_sampler_draws_what_the_numpy_procedure_draws(no_self, block, monkeypatch):
    """_sampled_csr (sorting and redrawing on the CSR values, compiled) consumes the same
    random numbers in the same order as the padded-matrix procedure, so it gives the same
    connectivity for a seed, whatever the blocks of rows it draws the partners in; int32 indices are
    the same values as int64 ones."""
    monkeypatch.setattr(connectivity, "_BLOCK_ROWS", block)
    for seed in range(25):
        counts = np.random.default_rng(seed).integers(0, 14, size=40)
        m = 60 if seed % 5 else 30  # every fifth: dense rows (4 * max count > m), numpy path
        ref = connectivity._rows_csr(
            connectivity._distinct_sorted(counts, m, np.random.default_rng(seed + 99)),
            counts, no_self)
        got = connectivity._sampled_csr(counts, m, np.random.default_rng(seed + 99), no_self)
        assert np.array_equal(ref[0], got[0]) and np.array_equal(ref[1], got[1])
    for rule in (FixedProbability(0.05, allow_autapses=False), FixedInDegree(6)):
        a = build_connectivity(rule, 300, 300, np.random.default_rng(1), same=True)
        b = build_connectivity(rule, 300, 300, np.random.default_rng(1), same=True,
                               index_dtype=np.int32)
        assert b[1].dtype == np.int32 and np.array_equal(a[0], b[0])
        assert np.array_equal(a[1], b[1])
