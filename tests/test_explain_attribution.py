"""Attributions of spiking networks: planted ground truth, deletion/insertion, sanity checks,
SAM, silencing, jitter, and the run-folder loader of ``neuroplastic explain``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from neuroplastic.explain import (
    CountScore,
    PlantedTaskParams,
    attribute,
    auc,
    jitter,
    mediation_curve,
    paired_test,
    perturbation_curves,
    planted_recovery,
    planted_task,
    rank_correlation,
    silenced,
    spike_activation_map,
)
from neuroplastic.explain.models import fit, spiking_mlp

P = PlantedTaskParams()


@pytest.fixture(scope="module")
def planted():
    """A network trained on the planted task, and 100 held-out inputs (time-major -> batch)."""
    train = planted_task(P, 256, seed=0)
    test = planted_task(P, 100, seed=1)
    model = spiking_mlp(P.n_channels, 32, P.n_classes, seed=0)
    fit(model, train.spikes, train.y, epochs=10, lr=1e-2, batch_size=32, seed=0)
    x = test.spikes.transpose(0, 1).to(torch.float32)
    return model.eval(), x, test


@pytest.mark.parametrize("method", ["ig", "interventional"])
def test_planted_channels_are_recovered(planted, method):
    model, x, test = planted
    a = attribute(method, CountScore(model), x, test.y, window=P.window)
    assert planted_recovery(a, test.planted).float().mean() >= 0.95


def test_recovery_fails_for_a_map_that_ignores_the_input(planted):
    _, x, test = planted
    a = torch.rand(x.shape, generator=torch.Generator().manual_seed(0))
    assert planted_recovery(a, test.planted).float().mean() < 0.5


@pytest.mark.parametrize("method", ["ig", "saliency", "gradient_shap", "interventional"])
def test_deletion_and_insertion_beat_random_order(planted, method):
    model, x, test = planted
    score = CountScore(model, "softmax")
    a = attribute(method, score, x, test.y, n_steps=16, window=P.window)
    rnd = torch.rand(x.shape, generator=torch.Generator().manual_seed(1))
    for mode, alt in (("deletion", "less"), ("insertion", "greater")):
        got = auc(perturbation_curves(score, x, test.y, a, steps=8, mode=mode))
        base = auc(perturbation_curves(score, x, test.y, rnd, steps=8, mode=mode))
        assert paired_test(got, base, alt) < 0.01, mode


def test_model_randomisation_changes_the_maps():
    """Adebayo et al. (2018) on digits: a freshly initialised twin gives unrelated maps.

    (On the planted task the maps of any LIF network share a time trend — early spikes count
    more — and keep a rank correlation near 0.25; digits spikes carry no such structure.)"""
    from neuroplastic.data import spike_digits

    d = spike_digits(num_steps=8, max_rate_hz=1000.0, seed=0)
    model = spiking_mlp(64, 32, 10, seed=0)
    fit(model, d.spikes_train[:, :400], d.y_train[:400], epochs=2, lr=5e-3, batch_size=32,
        seed=0)
    fresh = spiking_mlp(64, 32, 10, seed=5).eval()
    x, y = d.spikes_test[:, :60].transpose(0, 1).float(), d.y_test[:60]
    for method in ("ig", "saliency"):
        a = attribute(method, CountScore(model.eval(), "softmax"), x, y, n_steps=16)
        b = attribute(method, CountScore(fresh, "softmax"), x, y, n_steps=16)
        assert abs(np.mean(rank_correlation(a, b, x))) < 0.2
        assert np.mean(rank_correlation(a, a + 1e-3 * b, x)) > 0.9  # the check can fail


def test_silencing_every_hidden_neuron_cuts_the_input_off_and_mediation(planted):
    model, x, test = planted
    score = CountScore(model)
    with silenced(model.layers[1], torch.zeros(32)), torch.no_grad():
        out = score(x)
    assert torch.all(out == out[:1])  # only the output biases drive it: no input dependence
    with torch.no_grad():
        assert not torch.all(score(x) == score(x)[:1])  # the hook is gone
        full = score(x).gather(1, test.y[:, None])[:, 0]
    order = torch.arange(32).expand(x.shape[0], 32)
    curve = mediation_curve(score, model.layers[1], x, test.y, order, steps=4)
    assert torch.allclose(curve[:, 0], full.double())
    assert torch.allclose(curve[:, -1], out.gather(1, test.y[:, None])[:, 0].double())


def test_spike_activation_map_equals_its_definition():
    g = torch.Generator().manual_seed(0)
    s = torch.bernoulli(torch.full((12, 3, 5), 0.4), generator=g)
    got = spike_activation_map(s, gamma=0.3)
    want = torch.zeros(3, 12, 5, dtype=torch.float64)
    for t in range(12):
        for tp in range(t):
            want[:, t] += (s[t] * s[tp] * np.exp(-0.3 * (t - tp))).double()
    assert torch.allclose(got, want, atol=1e-12)


def test_jitter_moves_spikes_by_one_step_and_keeps_counts():
    g = torch.Generator().manual_seed(0)
    x = torch.bernoulli(torch.full((4, 30, 6), 0.2), generator=g)
    xj = jitter(x, 0.5, g)
    assert torch.equal(xj.sum(1), x.sum(1))
    assert not torch.equal(xj, x)
    assert torch.equal(jitter(x, 0.0, g), x)


def test_loader_refuses_another_models_run_folder(tmp_path):
    from neuroplastic.cli import main
    from neuroplastic.explain.models import load_surrogate_digits

    (tmp_path / "run.json").write_text(json.dumps({"experiment": "stdp-digits"}))
    with pytest.raises(ValueError, match="run.json"):
        load_surrogate_digits(tmp_path)
    assert main(["explain", str(tmp_path)]) == 2
    with pytest.raises(ValueError, match="run.json"):
        load_surrogate_digits(tmp_path / "missing")


def test_explain_writes_maps_curves_and_report_for_a_surrogate_digits_run(tmp_path):
    from safetensors.torch import save_file

    from neuroplastic.cli import main
    from neuroplastic.experiments.configs.surrogate_digits import DigitsConfig
    from neuroplastic.experiments.surrogate_digits import build_digits_model

    cfg = DigitsConfig(num_steps=4, hidden=8)
    model = build_digits_model(cfg)
    save_file({f"model.{k}": v.contiguous() for k, v in model.state_dict().items()},
              str(tmp_path / "arrays.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps(
        {"experiment": "surrogate-digits", "config": {"num_steps": 4, "hidden": 8}}))
    (tmp_path / "run.json").write_text(json.dumps({"experiment": "surrogate-digits"}))
    assert main(["explain", str(tmp_path), "--n", "6"]) == 0
    for f in ("maps.png", "curves.png", "metrics.json", "report.html"):
        assert (tmp_path / "explain" / f).is_file()
    m = json.loads((tmp_path / "explain" / "metrics.json").read_text())
    assert m["n_explained"] == 6 and 0 <= m["deletion_auc_p"] <= 1
    # weights of another shape: refused naming the file
    save_file({"model.layers.0.module.weight": torch.zeros(3, 3)},
              str(tmp_path / "arrays.safetensors"))
    assert main(["explain", str(tmp_path)]) == 2
