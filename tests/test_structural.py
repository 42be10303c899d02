import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import csr_matrix
from scipy.stats import chisquare

from neuroplastic.plasticity.structural import (
    SlotTable,
    StructuralParams,
    empty_slot_table,
    in_degree,
    random_slot_table,
    slot_table_from_csr,
    slot_table_to_csr,
    structural_step,
    write_back_weights,
)


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _dense(table, n_pre):
    d = np.zeros((n_pre, table.pre.shape[0]))
    post, slot = np.nonzero(table.pre.numpy() >= 0)
    d[table.pre.numpy()[post, slot], post] = table.weight.numpy()[post, slot]
    return d


def _no_duplicates(table):
    for row in table.pre.numpy():
        row = row[row >= 0]
        if len(np.unique(row)) != len(row):
            return False
    return True


# --- steady state and relaxation --------------------------------------------------------------


def test_synapse_count_relaxes_to_analytic_steady_state():
    n_pre, n_post, k = 20_000, 50, 20
    g, p = 0.05, 0.02
    params = StructuralParams(capacity=k, p_grow=g, p_prune=p)
    table = empty_slot_table(n_post, k)
    gen = _gen(0)
    counts = []
    for _ in range(2000):
        table, _ = structural_step(table, n_pre, params, generator=gen)
        counts.append(int(in_degree(table).sum()))
    counts = np.asarray(counts, dtype=float)
    slots = n_post * k
    m_star = slots * g / (g + p)
    lam = 1 - g - p
    # transient: <M_t> = M*(1 - lam^t) from an empty table, averaged over 1000 slots
    t = np.arange(1, 31)
    predicted = m_star * (1 - lam**t)
    sd = np.sqrt(slots * 0.25)
    assert np.all(np.abs(counts[:30] - predicted) < 5 * sd)
    # stationary mean; the time average of an AR(1) count has sd
    # sqrt(N pi(1-pi)) sqrt((1+lam)/(1-lam)/T)
    tail = counts[300:]
    pi = g / (g + p)
    sem = math.sqrt(slots * pi * (1 - pi)) * math.sqrt((1 + lam) / (1 - lam) / len(tail))
    assert abs(tail.mean() - m_star) < 5 * sem
    # and its spread is the binomial one
    assert tail.std() == pytest.approx(math.sqrt(slots * pi * (1 - pi)), rel=0.15)


@settings(max_examples=8, deadline=None)
@given(st.floats(0.05, 0.5), st.floats(0.05, 0.5), st.integers(0, 2**31 - 1))
def test_one_update_occupancy_matches_markov_transition(g, p, seed):
    # from half-filled rows: E[M_1] = M_0 (1 - p) + (slots - M_0) g
    n_pre, n_post, k = 2_000, 200, 10
    table = random_slot_table(n_pre, n_post, k, 0.5, generator=_gen(seed))
    params = StructuralParams(capacity=k, p_grow=g, p_prune=p)
    m0 = int(in_degree(table).sum())
    m1 = int(in_degree(structural_step(table, n_pre, params, generator=_gen(seed + 1))[0]).sum())
    free = n_post * k - m0
    expected = m0 * (1 - p) + free * g
    sd = math.sqrt(m0 * p * (1 - p) + free * g * (1 - g))
    assert abs(m1 - expected) < 5 * sd


def test_weight_threshold_prunes_exactly_the_weak_synapses():
    table = random_slot_table(100, 30, 8, 0.75, weight=(0.0, 1.0), generator=_gen(3))
    params = StructuralParams(capacity=8, p_grow=0.0, w_prune=0.4)
    new, ev = structural_step(table, 100, params, generator=_gen(4))
    occupied = table.pre >= 0
    assert torch.equal(ev.pruned, occupied & (table.weight < 0.4))
    assert bool((new.weight[new.pre >= 0] >= 0.4).all())
    assert not bool(ev.created.any())


def test_idle_synapses_are_removed_after_max_idle_updates():
    table = random_slot_table(10, 5, 4, 1.0, generator=_gen(0))
    params = StructuralParams(capacity=4, p_grow=0.0, max_idle=3)
    used = torch.zeros(10, dtype=torch.bool)
    used[:5] = True  # neurons 0-4 keep firing, 5-9 fall silent
    for _ in range(3):
        before = table
        table, ev = structural_step(table, 10, params, pre_used=used)
    # pruned exactly at the third silent update, and only the silent partners
    assert torch.equal(ev.pruned, (before.pre >= 5))
    assert bool((table.pre[table.pre >= 0] < 5).all())


# --- rewiring leaves survivors alone ----------------------------------------------------------


def test_surviving_synapses_keep_slot_partner_and_weight():
    table = random_slot_table(500, 40, 16, 0.6, weight=(0.0, 1.0), generator=_gen(1))
    params = StructuralParams(capacity=16, p_grow=0.3, p_prune=0.3, w_prune=0.1, w_init=0.05)
    gen = _gen(2)
    for _ in range(5):
        new, ev = structural_step(table, 500, params, generator=gen)
        survived = (table.pre >= 0) & ~ev.pruned
        assert survived.any()
        assert torch.equal(new.pre[survived], table.pre[survived])
        assert torch.equal(new.weight[survived], table.weight[survived])
        assert bool((new.weight[ev.created] == 0.05).all())
        assert not bool((ev.created & survived).any())
        # the same in projection layout: shared (pre, post) pairs keep their weight
        d_old, d_new = _dense(table, 500), _dense(new, 500)
        both = (d_old != 0) & (d_new != 0)
        np.testing.assert_array_equal(d_old[both & (d_old >= 0.1)], d_new[both & (d_old >= 0.1)])
        table = new


# --- bounds, uniqueness, seeds ----------------------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 12), st.integers(1, 40), st.floats(0.0, 1.0), st.integers(0, 10_000))
def test_in_degree_bound_and_no_duplicate_synapses(k, n_pre, g, seed):
    params = StructuralParams(capacity=k, p_grow=g, p_prune=0.1, growth="activity",
                              baseline=0.01)
    table = empty_slot_table(7, k)
    gen = _gen(seed)
    act = torch.rand(n_pre, generator=gen, dtype=torch.float64)
    for _ in range(10):
        table, _ = structural_step(table, n_pre, params, pre_activity=act, generator=gen)
        assert int(in_degree(table).max()) <= min(k, n_pre)
        assert _no_duplicates(table)
        assert bool(((table.pre >= -1) & (table.pre < n_pre)).all())


def _trajectory(seed):
    params = StructuralParams(capacity=10, p_grow=0.2, p_prune=0.1)
    table = random_slot_table(300, 20, 10, 0.5, generator=_gen(seed))
    gen = _gen(seed + 100)
    for _ in range(10):
        table, _ = structural_step(table, 300, params, generator=gen)
    return table


def test_equal_seeds_equal_results_different_seeds_differ():
    a, b, c = _trajectory(5), _trajectory(5), _trajectory(6)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not torch.equal(a.pre, c.pre)


# --- activity-guided growth -------------------------------------------------------------------


def test_activity_growth_draws_partners_in_proportion_to_co_activity():
    n_pre, n_post = 8, 4000
    act = torch.tensor([0, 1, 2, 3, 4, 0, 0, 6], dtype=torch.float64)
    post = torch.zeros(n_post, dtype=torch.float64)
    post[: n_post // 2] = 1.0  # half of the neurons silent: they must not grow
    params = StructuralParams(capacity=1, p_grow=1.0, growth="activity")
    table, ev = structural_step(empty_slot_table(n_post, 1), n_pre, params,
                                pre_activity=act, post_activity=post, generator=_gen(7))
    assert not bool(ev.created[n_post // 2:].any())
    assert bool(ev.created[: n_post // 2].all())
    counts = np.bincount(table.pre[: n_post // 2, 0].numpy(), minlength=n_pre)
    assert counts[[0, 5, 6]].sum() == 0
    nz = act.numpy() > 0
    expected = act.numpy()[nz] / act.sum().item() * counts.sum()
    assert chisquare(counts[nz], expected).pvalue > 1e-4


def test_post_gate_scales_growth_probability():
    n_post = 20_000
    post = torch.full((n_post,), 0.25, dtype=torch.float64)
    params = StructuralParams(capacity=1, p_grow=0.8)
    _, ev = structural_step(empty_slot_table(n_post, 1), 10_000, params,
                            post_activity=post, generator=_gen(8))
    frac = ev.created.double().mean().item()
    assert abs(frac - 0.2) < 5 * math.sqrt(0.2 * 0.8 / n_post)


# --- CSR conversion ---------------------------------------------------------------------------


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 30), st.integers(1, 30), st.integers(1, 8), st.floats(0, 1),
       st.integers(0, 1000))
def test_csr_round_trip_matches_scipy(n_pre, n_post, k, fill, seed):
    table = random_slot_table(n_pre, n_post, k, fill, weight=(0.5, 1.0), generator=_gen(seed))
    indptr, indices, values, slot = slot_table_to_csr(table, n_pre)
    m = csr_matrix((values.numpy(), indices.numpy(), indptr.numpy()), shape=(n_pre, n_post))
    np.testing.assert_array_equal(m.toarray(), _dense(table, n_pre))
    assert m.has_sorted_indices
    back = slot_table_from_csr(indptr, indices, values, n_post, k)
    np.testing.assert_array_equal(_dense(back, n_pre), _dense(table, n_pre))
    # weights learnt in CSR order are written back into the right slots
    t2 = write_back_weights(table, slot, values * 2)
    np.testing.assert_array_equal(_dense(t2, n_pre), 2 * _dense(table, n_pre))


def test_from_csr_refuses_in_degree_above_capacity():
    indptr = torch.tensor([0, 1, 2, 3])
    indices = torch.tensor([0, 0, 0])
    with pytest.raises(ValueError, match="capacity"):
        slot_table_from_csr(indptr, indices, torch.ones(3), 1, 2)


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["p_grow", "p_prune"])
@given(bad=st.one_of(st.floats(max_value=-1e-9), st.floats(min_value=1.0 + 1e-9),
                     st.just(float("nan"))))
def test_probabilities_validated(field, bad):
    with pytest.raises(ValueError, match=field):
        StructuralParams(**{field: bad})


@given(bad=st.one_of(st.integers(max_value=0), st.floats(0.5, 10)))
def test_capacity_validated(bad):
    with pytest.raises(ValueError, match="capacity"):
        StructuralParams(capacity=bad)


@given(bad=st.one_of(st.just(float("nan")), st.just(float("inf"))))
def test_w_prune_and_w_init_validated(bad):
    with pytest.raises(ValueError, match="w_prune"):
        StructuralParams(w_prune=bad)
    with pytest.raises(ValueError, match="w_init"):
        StructuralParams(w_init=bad)


def test_other_fields_and_arguments_validated():
    with pytest.raises(ValueError, match="growth"):
        StructuralParams(growth="hebb")
    with pytest.raises(ValueError, match="baseline"):
        StructuralParams(baseline=-1.0)
    with pytest.raises(ValueError, match="max_idle"):
        StructuralParams(max_idle=-1)
    t = empty_slot_table(3, 4)
    with pytest.raises(ValueError, match="capacity"):
        structural_step(t, 5, StructuralParams(capacity=5))
    with pytest.raises(ValueError, match="pre_activity"):
        structural_step(t, 5, StructuralParams(capacity=4, p_grow=1.0, growth="activity"))
    with pytest.raises(ValueError, match="post_activity"):
        structural_step(t, 5, StructuralParams(capacity=4), post_activity=torch.full((3,), 2.0))
    assert isinstance(t, SlotTable)


def test_pairwise_co_activity_guides_each_neuron_to_its_own_partners():
    n_pre, n_post = 6, 3000
    coact = torch.zeros(n_post, n_pre, dtype=torch.float64)
    coact[::2, 1] = 1.0  # even neurons co-active with input 1 only
    coact[1::2, 4] = 2.0  # odd neurons with input 4 only
    params = StructuralParams(capacity=1, p_grow=1.0, growth="activity")
    table, _ = structural_step(empty_slot_table(n_post, 1), n_pre, params,
                               pre_activity=coact, generator=_gen(9))
    assert bool((table.pre[::2, 0] == 1).all()) and bool((table.pre[1::2, 0] == 4).all())
    with pytest.raises(ValueError, match="pre_activity"):
        structural_step(empty_slot_table(2, 1), n_pre, params,
                        pre_activity=torch.ones(3, n_pre), generator=_gen(9))


# --- the rewiring experiment ------------------------------------------------------------------


def _rewire(**kw):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from neuroplastic.experiments.rewiring import RewiringConfig
    from neuroplastic.experiments.rewiring import run as run_rewiring

    r = run_rewiring(RewiringConfig(n_updates=100, n_out=2, **kw), progress=False)
    plt.close("all")
    return r


def test_rewiring_clusters_synapses_on_the_correlated_blob():
    r = _rewire(seed=3)
    m = r.metrics
    assert m["frac_in_blob_end"] > max(0.6, 4 * m["chance_frac"])
    assert m["frac_in_blob_end"] > m["frac_in_blob_start"] + 0.3
    assert m["max_in_degree_end"] <= 24
    assert len(r.curves["synapse_count"]) == 101
    assert set(r.figures) == {"weight_maps", "counts"}
    # control: without correlation the blob is not special and stays near chance
    c = _rewire(seed=3, correlation=0.0).metrics
    assert c["frac_in_blob_end"] < 2.5 * c["chance_frac"]
    # deterministic
    assert _rewire(seed=3).metrics == m


def test_per_update_probability_is_poisson():
    from neuroplastic.plasticity.structural import per_update_probability

    assert per_update_probability(2.0, 500.0) == pytest.approx(1 - math.exp(-1.0))
    assert per_update_probability(0.0, 10.0) == 0.0
    # small rates: p ~ rate * interval
    assert per_update_probability(1e-3, 1000.0) == pytest.approx(1e-3, rel=1e-3)
    with pytest.raises(ValueError, match="rate_hz"):
        per_update_probability(-1.0, 10.0)
    with pytest.raises(ValueError, match="interval_ms"):
        per_update_probability(1.0, 0.0)
