"""The cuba experiment with many trials in one run (``--set trials=N``, ``device=cuda``).

Independent truth: the single-trial run. Trial 0 of a batched run draws the same initial
potentials as the single run (the first row of the same stream) over the same connectivity,
so its statistics must be the single run's exactly; the other trials differ.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroplastic.experiments.configs.cuba import CubaConfig
from neuroplastic.experiments.cuba import run

SMALL = dict(n_neurons=400, duration_ms=200.0, seed=3)


def test_trial_zero_of_a_batched_run_is_the_single_run():
    one = run(CubaConfig(**SMALL), progress=False)
    many = run(CubaConfig(**SMALL, trials=4), progress=False)
    a, b = one.metrics, many.metrics
    assert (a["rate_hz_mean"], a["isi_cv_mean"]) == (b["rate_hz_mean"], b["isi_cv_mean"])
    assert (one.arrays["spike_steps"] == many.arrays["spike_steps"]).all()
    assert b["trials"] == 4 and b["spikes_total"] > 3 * a["spikes_total"]
    assert b["synops_total"] > 3 * a["synops_total"]  # totals count every trial
    assert b["rate_hz_trials_sd"] > 0  # the trials differ ...
    assert abs(b["rate_hz_trials_mean"] - a["rate_hz_mean"]) < 0.2 * a["rate_hz_mean"]  # ... alike
    assert "trial_rates" in many.figures and "trial_rates" not in one.figures
    assert "rate_hz_trials_sd" not in a


@settings(max_examples=30, deadline=None)
@given(trials=st.integers(2, 65_536), device=st.sampled_from(["cpu", "cuda"]))
def test_nest_runs_one_trial_on_the_cpu(trials, device):
    with pytest.raises(ValueError, match="trials=1, device='cpu'"):
        CubaConfig(backend="nest", trials=trials)
    with pytest.raises(ValueError, match="trials=1, device='cpu'"):
        CubaConfig(backend="nest", device="cuda")
    assert CubaConfig(trials=trials, device=device).trials == trials


@pytest.mark.parametrize("bad, what", [(dict(trials=0), "trials"), (dict(trials=70_000), "trials"),
                                       (dict(device="gpu"), "device"),
                                       (dict(backend="numba", device="cuda"), "numba")])
def test_bad_trials_or_device_are_refused_at_construction(bad, what):
    with pytest.raises(ValueError, match=what):
        CubaConfig(**bad)


@settings(max_examples=30, deadline=None)
@given(threads=st.integers(2, 1024), backend=st.sampled_from(["auto", "numba", "torch"]))
def test_nest_threads_need_the_nest_backend(threads, backend):
    with pytest.raises(ValueError, match=f"nest_threads={threads} needs backend='nest'"):
        CubaConfig(backend=backend, nest_threads=threads)
    assert CubaConfig(backend="nest", nest_threads=threads).nest_threads == threads
    for bad in (0, -1, 1025):
        with pytest.raises(ValueError, match="nest_threads"):
            CubaConfig(backend="nest", nest_threads=bad)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
def test_cuda_without_a_gpu_is_a_clear_error_before_any_work():
    with pytest.raises(ValueError, match="no CUDA device"):
        run(CubaConfig(**SMALL, device="cuda"), progress=False)
