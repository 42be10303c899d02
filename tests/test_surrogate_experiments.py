"""The surrogate-digits and surrogate-randman experiments: accuracy, metrics, energy counts."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroplastic.experiments import registry
from neuroplastic.experiments.surrogate_digits import DigitsConfig, TensorBatches
from neuroplastic.experiments.surrogate_digits import run as run_digits
from neuroplastic.experiments.surrogate_randman import RandmanConfig
from neuroplastic.experiments.surrogate_randman import run as run_randman

# Reduced Randman: 5 classes, 200 samples each, 50 steps; chance is 0.2.
SMALL_RANDMAN = RandmanConfig(num_classes=5, num_samples_per_class=200, num_steps=50,
                              hidden=64, epochs=8, batch_size=50, lr=5e-3)


def test_registered():
    reg = registry()
    assert reg["surrogate-digits"].config_cls is DigitsConfig
    assert reg["surrogate-randman"].config_cls is RandmanConfig


@pytest.mark.slow
def test_digits_default_reaches_95_percent():
    cfg = DigitsConfig()
    res = run_digits(cfg, progress=False)
    m = res.metrics
    assert m["test_accuracy"] >= 0.95
    assert m["n_test"] == 450 and m["n_train"] == 1347
    # Every input spike reaches all 128 hidden neurons (dense, non-zero weights), so the
    # first projection's SynOps per sample = input spikes per sample x 128.
    in_spikes_per_sample = m["spike_rate_input"] * 64 * cfg.num_steps
    assert m["synops_input_hidden_per_sample"] == pytest.approx(in_spikes_per_sample * 128,
                                                                rel=1e-6)
    hidden_spikes = m["spike_rate_hidden"] * cfg.hidden * cfg.num_steps
    assert m["synops_hidden_output_per_sample"] == pytest.approx(hidden_spikes * 10, rel=1e-6)
    assert m["synops_per_sample"] == pytest.approx(
        m["synops_input_hidden_per_sample"] + m["synops_hidden_output_per_sample"])
    assert m["synops_per_sample"] < m["dense_macs_per_sample"]  # sparse spikes pay off
    assert 0 < m["spike_rate_hidden"] < 1 and 0 < m["spike_rate_output"] < 1
    assert res.timings["ms_per_step"] > 0 and "ms_per_step" not in m
    assert set(res.figures) == {"curves", "spike_rates"}
    assert len(res.arrays["test_accuracy_per_epoch"]) == cfg.epochs


def test_randman_reduced_beats_chance_by_far():
    res = run_randman(SMALL_RANDMAN, progress=False)
    m = res.metrics
    assert m["chance_accuracy"] == pytest.approx(0.2)
    assert m["n_test"] == 100
    assert m["test_accuracy"] >= 0.5  # 2.5x chance
    # one spike per input unit and sample (all within the window): 20 units x 64 targets
    assert m["synops_input_hidden_per_sample"] == pytest.approx(20 * 64)
    assert m["train_loss"] < res.arrays["train_loss_per_epoch"][0]


def test_runs_are_deterministic():
    cfg = dataclasses.replace(SMALL_RANDMAN, num_samples_per_class=20, epochs=1, hidden=16)
    a = run_randman(cfg, progress=False).metrics
    b = run_randman(cfg, progress=False).metrics
    for k in ("test_accuracy", "train_loss", "synops_per_sample", "spike_rate_hidden"):
        assert a[k] == b[k]


def test_tensor_batches_cover_data_once_and_reshuffle():
    x = torch.arange(10.0).view(1, 10, 1).expand(3, 10, 1)
    y = torch.arange(10)
    tb = TensorBatches(x, y, 4, shuffle=True, seed=1)
    assert len(tb) == 3
    first = torch.cat([b for _, b in tb])
    second = torch.cat([b for _, b in tb])
    assert sorted(first.tolist()) == list(range(10)) == sorted(second.tolist())
    assert not torch.equal(first, second)
    for xb, yb in tb:
        assert xb.dtype == torch.float32 and torch.equal(xb[0, :, 0].long(), yb)


@settings(max_examples=20, deadline=None)
@given(st.one_of(st.floats(max_value=0.0), st.floats(min_value=1.0), st.just(float("nan"))))
def test_bad_beta_is_named(beta):
    with pytest.raises(ValueError, match="beta"):
        DigitsConfig(beta=beta)
    with pytest.raises(ValueError, match="beta"):
        RandmanConfig(beta=beta)


@settings(max_examples=20, deadline=None)
@given(st.integers(max_value=0))
def test_bad_epochs_is_named(epochs):
    with pytest.raises(ValueError, match="epochs"):
        DigitsConfig(epochs=epochs)
    with pytest.raises(ValueError, match="epochs"):
        RandmanConfig(epochs=epochs)


@settings(max_examples=20, deadline=None)
@given(st.text(max_size=8).filter(lambda s: s not in ("cpu", "cuda")))
def test_bad_device_is_named(device):
    with pytest.raises(ValueError, match="device"):
        DigitsConfig(device=device)
    with pytest.raises(ValueError, match="device"):
        RandmanConfig(device=device)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
def test_cuda_run_without_a_gpu_fails_before_any_work():
    with pytest.raises(ValueError, match="no CUDA device"):
        run_digits(DigitsConfig(epochs=1, hidden=8, num_steps=4, device="cuda"), progress=False)
