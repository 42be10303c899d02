"""SpikeSummary folds spikes piece by piece into what the whole list of spikes gives.

Independent truth: the direct computation on every spike at once (counts by ``bincount``, the
coefficient of variation of each neuron's intervals by numpy's ``std / mean``, as
:func:`neuroplastic.experiments.cuba.isi_cv`), and cuba run keeping every spike.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroplastic.experiments.configs.cuba import CubaConfig
from neuroplastic.experiments.cuba import isi_cv, run
from neuroplastic.lab.checkpointer import Checkpointer
from neuroplastic.network.spike_summary import SpikeSummary


def _spikes(seed: int, n: int, trials: int, steps: int):
    """Random spikes of ``n`` neurons in ``trials`` trials, in step order, each neuron at its
    own rate (some silent, some with 1-2 spikes)."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 0.05, size=n) * (rng.random(n) > 0.1)
    fire = rng.random((steps, trials, n)) < p
    t, b, i = np.nonzero(fire)
    return t, b, i


def _fold_in_pieces(summary, t, b, i, cuts, split_at):
    """Fold the spikes cut at the given steps, each piece as two monitors would hand it out:
    neurons below ``split_at`` first, then the others (time order per neuron only)."""
    edges = [0, *sorted(cuts), int(t.max()) + 1 if t.size else 1]
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (t >= lo) & (t < hi)
        for part in (i[sel] < split_at, i[sel] >= split_at):
            summary.fold(t[sel][part], b[sel][part], i[sel][part])


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), trials=st.integers(1, 3),
       cuts=st.lists(st.integers(0, 400), max_size=6), split_at=st.integers(0, 60))
def test_folding_in_pieces_equals_the_whole_list(seed, trials, cuts, split_at):
    n = 60
    t, b, i = _spikes(seed, n, trials, 400)
    s = SpikeSummary(n, trials, raster=20)
    _fold_in_pieces(s, t, b, i, cuts, split_at)
    first = b == 0
    assert np.array_equal(s.trial_totals, np.bincount(b, minlength=trials))
    assert np.array_equal(s.counts, np.bincount(i[first], minlength=n))
    want = isi_cv(t[first], i[first], n)
    got = s.isi_cv()
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    whole = SpikeSummary(n, trials, raster=20)  # one fold: the same bits (spike by spike)
    whole.fold(t, b, i)
    assert np.array_equal(whole.isi_cv(), got) and np.array_equal(whole.isi_m2, s.isi_m2)
    steps, neurons = s.raster_spikes()
    keep = first & (i < 20)
    order = np.lexsort((steps, neurons))
    ref = np.lexsort((t[keep], i[keep]))
    assert np.array_equal(steps[order], t[keep][ref])
    assert np.array_equal(neurons[order], i[keep][ref])


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 80))
def test_isi_cv_is_numpy_std_over_mean_neuron_by_neuron(seed, n):
    """cuba's vectorised ISI CV against its definition, one neuron at a time: numpy's
    ``std() / mean()`` of the neuron's intervals, for the neurons with at least 3 spikes."""
    t, _, i = _spikes(seed, n, 1, 300)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(t.size)  # any order of the spikes
    want = []
    for k in range(n):
        isi = np.diff(np.sort(t[i == k])).astype(np.float64)
        if isi.size >= 2:
            want.append(isi.std() / isi.mean())
    np.testing.assert_allclose(isi_cv(t[perm], i[perm], n), want, rtol=1e-13, atol=0)


def test_a_saved_summary_continues_as_if_never_saved():
    t, b, i = _spikes(3, 40, 2, 600)
    whole = SpikeSummary(40, 2)
    _fold_in_pieces(whole, t, b, i, [150, 300, 450], 30)
    half = SpikeSummary(40, 2)
    _fold_in_pieces(half, *(a[t < 300] for a in (t, b, i)), [150], 30)
    again = SpikeSummary(40, 2)
    again.load(half.tensors())
    rest = t >= 300
    _fold_in_pieces(again, t[rest], b[rest], i[rest], [450], 30)
    for k in ("counts", "isi_n", "isi_mean", "isi_m2", "last", "trial_totals"):
        assert np.array_equal(getattr(again, k), getattr(whole, k)), k
    assert all(np.array_equal(x, y) for x, y in zip(again.raster_spikes(),
                                                     whole.raster_spikes()))
    with pytest.raises(ValueError, match="shape"):
        SpikeSummary(41, 2).load(half.tensors())
    with pytest.raises(ValueError, match="lacks"):
        SpikeSummary(40, 2).load({})


@settings(max_examples=30, deadline=None)
@given(n=st.one_of(st.integers(-5, 0), st.floats(allow_nan=True), st.booleans()),
       raster=st.integers(-5, -1))
def test_bad_sizes_are_refused(n, raster):
    with pytest.raises(ValueError, match="n must be an integer"):
        SpikeSummary(n)
    with pytest.raises(ValueError, match="raster must be an integer"):
        SpikeSummary(10, raster=raster)


def test_spikes_out_of_range_or_out_of_order_are_refused():
    s = SpikeSummary(5, trials=2)
    with pytest.raises(ValueError, match="neuron indices"):
        s.fold(np.array([1]), np.array([0]), np.array([5]))
    with pytest.raises(ValueError, match="trial indices"):
        s.fold(np.array([1]), np.array([2]), np.array([0]))
    with pytest.raises(ValueError, match="one length"):
        s.fold(np.array([1, 2]), np.array([0]), np.array([0]))
    s.fold(np.array([10]), np.array([0]), np.array([3]))
    with pytest.raises(ValueError, match="time order"):
        s.fold(np.array([4]), np.array([0]), np.array([3]))


SMALL = dict(n_neurons=400, duration_ms=200.0, trials=2, seed=4)


def test_cuba_summary_gives_the_figures_of_every_spike():
    """The run that folds its spikes reports what the run that keeps them all reports: the
    same spike totals and rates, ISI CVs to rounding, the same raster."""
    every = run(CubaConfig(**SMALL, spikes="all"), progress=False)
    folded = run(CubaConfig(**SMALL, spikes="summary"), progress=False)
    assert every.metrics["spikes_kept"] == "all" and folded.metrics["spikes_kept"] == "summary"
    for k in ("spikes_total", "rate_hz_mean", "neurons_with_isi_cv", "rate_hz_trials_mean",
              "rate_hz_trials_sd", "synops_total"):
        assert folded.metrics[k] == every.metrics[k], k
    assert every.metrics["spikes_total"] > 1000
    assert folded.metrics["isi_cv_mean"] == pytest.approx(every.metrics["isi_cv_mean"],
                                                          rel=1e-12)
    assert np.array_equal(folded.arrays["rates_hz"], every.arrays["rates_hz"])
    show = every.arrays["spike_neurons"] < 500
    a = np.lexsort((folded.arrays["raster_steps"], folded.arrays["raster_neurons"]))
    b = np.lexsort((every.arrays["spike_steps"][show], every.arrays["spike_neurons"][show]))
    assert np.array_equal(folded.arrays["raster_steps"][a], every.arrays["spike_steps"][show][b])
    assert "spike_steps" not in folded.arrays


def test_auto_keeps_every_spike_of_small_runs_only():
    assert not CubaConfig().summarize  # 4000 neuron-seconds
    assert CubaConfig(n_neurons=1_000_000).summarize
    assert CubaConfig(n_neurons=400_000, duration_ms=2500.0).summarize
    assert not CubaConfig(n_neurons=1_000_000, spikes="all").summarize
    assert CubaConfig(spikes="summary").summarize
    with pytest.raises(ValueError, match="spikes"):
        CubaConfig(spikes="some")


def test_cuba_summary_resumes_to_the_uninterrupted_result(tmp_path):
    cfg = CubaConfig(**SMALL, spikes="summary")
    ref = run(cfg, progress=False)
    run(cfg, progress=False, checkpoint=Checkpointer(tmp_path, 0))
    assert Checkpointer(tmp_path).load()[0] == 1800  # the newest of the tenths
    again = run(cfg, progress=False, checkpoint=Checkpointer(tmp_path))
    assert again.metrics == ref.metrics
    for k, a in ref.arrays.items():
        assert np.array_equal(again.arrays[k], a), k
    with pytest.raises(ValueError, match="another choice of spikes"):
        run(CubaConfig(**SMALL, spikes="all"), progress=False,
            checkpoint=Checkpointer(tmp_path))
