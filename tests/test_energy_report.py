"""The energy-report experiment and ``energy_from_network`` (simulator counters → energy)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroplastic.data import spike_digits
from neuroplastic.energy import PROFILES, get_profile
from neuroplastic.energy.counters import ActivityCounts, LayerCounts
from neuroplastic.energy.network import energy_from_network
from neuroplastic.energy.report import EnergyReport, energy_report
from neuroplastic.experiments.configs.energy_report import REDUCED
from neuroplastic.experiments.energy_report import (
    EnergyReportConfig,
    build_poisson_network,
    run,
)
from neuroplastic.lab.checkpointer import Checkpointer
from neuroplastic.network import Network
from neuroplastic.neurons import LIFParams
from neuroplastic.synapses import FixedProbability

SMALL = EnergyReportConfig(
    n_input=150, n_hidden=60, n_output=20, duration_ms=300.0, n_hidden_trained=24,
    n_hidden_layers=1, num_steps=10, epochs=2, strengths=(0.0, 5.0), train=False,
)


@pytest.fixture(scope="module")
def sim_result():
    return run(SMALL, progress=False)


@pytest.fixture(scope="module")
def trained_result():
    return run(dataclasses.replace(SMALL, train=True), progress=False)


def _fan_out(cfg, projection):
    # rebuild the (seeded) network: same connectivity; fan-out straight from the CSR pointers
    net = build_poisson_network(cfg)
    indptr = net.projections[projection].indptr.numpy()
    return indptr[1:] - indptr[:-1]


def test_counted_synops_equal_spikes_times_fan_out_from_the_raster(sim_result):
    m, arrays = sim_result.metrics, sim_result.arrays
    total = 0
    for proj, pre, n_pre in (("input->hidden", "input", SMALL.n_input),
                             ("hidden->output", "hidden", SMALL.n_hidden)):
        neurons = arrays[f"raster_{pre}"][1].numpy()
        per_neuron = np.bincount(neurons, minlength=n_pre)
        expected = int(per_neuron @ _fan_out(SMALL, proj))
        assert m[f"layer_{proj}_synops"] == expected
        assert m[f"layer_{proj}_spikes"] == len(neurons)
        total += expected
    assert m["synops_counted"] == total > 0
    assert m["spikes_counted"] == arrays["raster_input"].shape[1] + arrays["raster_hidden"].shape[1]


def test_energy_matches_hand_computed_event_energy(sim_result):
    m = sim_result.metrics
    steps = round(SMALL.duration_ms / SMALL.dt_ms)
    assert m["steps"] == steps
    updates = steps * (SMALL.n_hidden + SMALL.n_output)  # each LIF neuron once per step
    assert m["neuron_updates"] == updates
    for name in ("loihi", "cmos45", "truenorth"):
        prof = get_profile(name)
        expected = (m["synops_counted"] * prof.e_syn_j + m["spikes_counted"] * prof.e_spike_j
                    + updates * prof.e_neuron_update_j)
        assert m[f"energy_per_inference_j_{name}"] == pytest.approx(expected, rel=1e-12)
    macs = steps * (SMALL.n_input * SMALL.n_hidden + SMALL.n_hidden * SMALL.n_output)
    ann = get_profile("cmos45_ann")
    assert m["energy_per_inference_j_cmos45_ann"] == pytest.approx(
        macs * ann.e_mac_j + updates * ann.e_neuron_update_j, rel=1e-12
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_analytic_and_counted_synops_agree_within_poisson_error(seed):
    cfg = dataclasses.replace(SMALL, seed=seed)
    m = run(cfg, progress=False).metrics
    k = _fan_out(cfg, "input->hidden").astype(float)
    t_s = cfg.duration_ms * 1e-3
    lam = cfg.input_rate_hz * t_s  # expected spikes per Poisson source
    counted = m["layer_input->hidden_synops"]
    # vs the configured rate: E = λ Σk, Var = λ Σk² (independent Poisson counts)
    assert abs(counted - lam * k.sum()) < 4 * np.sqrt(lam * (k * k).sum())
    assert m["synops_expected_input"] == pytest.approx(lam * k.sum())
    # vs N r k T from the measured rate: difference Σ c_i (k_i - mean k), Var = λ Σ (k_i - k̄)²
    analytic_input = m["layer_input->hidden_spikes"] * k.mean()
    assert abs(counted - analytic_input) < 4 * np.sqrt(lam * ((k - k.mean()) ** 2).sum())
    # whole-network analytic figure: Σ_layers spikes × mean fan-out
    k2 = _fan_out(cfg, "hidden->output").astype(float)
    assert m["synops_analytic"] == pytest.approx(
        analytic_input + m["layer_hidden->output_spikes"] * k2.mean()
    )
    assert m["rate_hz_input"] == pytest.approx(m["layer_input->hidden_spikes"] / cfg.n_input / t_s)


def test_metrics_keys_and_trained_counterpart(trained_result):
    m, figs = trained_result.metrics, trained_result.figures
    for prefix in ("", "trained_"):
        for key in ("synops_counted", "synops_analytic", "synops_per_inference"):
            assert isinstance(m[prefix + key], (int, float))
        for prof in PROFILES:
            assert m[f"{prefix}energy_per_inference_j_{prof}"] >= 0
    assert all(not isinstance(v, (dict, list, tuple)) for v in m.values())
    assert {"energy_simulator", "energy_trained", "tradeoff"} <= set(figs)
    strengths = [m[f"trained_s{i}_strength"] for i in range(2)]
    assert strengths == [0.0, 5.0] and m["trained_strength"] in strengths
    i = strengths.index(m["trained_strength"])
    assert m["trained_accuracy"] == m[f"trained_s{i}_accuracy"]
    assert m["trained_synops_per_inference"] == m[f"trained_s{i}_synops_per_inference"]
    # input layer: every test-set input spike reaches all hidden neurons (dense Linear)
    data = spike_digits(num_steps=SMALL.num_steps, max_rate_hz=SMALL.max_rate_hz, seed=SMALL.seed)
    assert m["trained_layer_input_synops"] == int(data.spikes_test.sum()) * SMALL.n_hidden_trained
    assert m["trained_n_inferences"] == len(data.y_test)
    assert m["trained_s0_accuracy"] > 0.3  # chance is 0.1
    # a 5x stronger rate penalty than none cannot raise the spike rate
    assert m["trained_s1_spike_rate"] < m["trained_s0_spike_rate"]


def test_energy_from_network_charges_each_population_once():
    params = LIFParams(tau_mem_ms=10.0, v_rest_mv=0.0, v_reset_mv=0.0, v_thresh_mv=1.0,
                       t_ref_ms=0.0, tau_syn_ms=(2.0, 2.0))
    net = Network(1.0, batch=2, seed=3)
    net.add_poisson("a", np.full(30, 100.0))
    net.add_poisson("b", np.full(10, 50.0))
    net.add_lif("post", 8, params)
    net.connect("a", "post", FixedProbability(0.5), weight=0.3)
    net.connect("b", "post", FixedProbability(0.5), weight=0.3, channel=1, storage="dense")
    with pytest.raises(ValueError, match="not run"):
        energy_from_network(net)
    net.run(50.0)
    counts = energy_from_network(net, 0.05)
    a, b = counts.layers
    assert (a.steps, a.batch) == (50, 2)
    assert a.neuron_updates == 8 * 50 * 2 and b.neuron_updates == 0
    assert b.n_synapses == 10 * 8  # dense storage keeps every pair
    assert b.synops == b.spikes_in * 8 == net.synops["b->post"]
    assert a.spikes_in == int(net.spike_counts("a").sum())
    with pytest.raises(ValueError, match="duration_s"):
        energy_from_network(net, 0.5)


@settings(max_examples=20, deadline=None)
@given(
    name=st.sampled_from(["n_input", "n_hidden", "epochs", "num_steps", "n_hidden_layers"]),
    value=st.integers(-5, 0),
)
def test_config_rejects_bad_sizes(name, value):
    with pytest.raises(ValueError, match=name):
        EnergyReportConfig(**{name: value})


@settings(max_examples=20, deadline=None)
@given(
    name=st.sampled_from(["p_connect", "accuracy_tolerance", "rate_target"]),
    value=st.one_of(st.floats(1.0001, 1e6), st.floats(-1e6, -1e-6)),
)
def test_config_rejects_bad_fractions(name, value):
    with pytest.raises(ValueError, match=name):
        EnergyReportConfig(**{name: value})


def test_config_rejects_bad_strengths():
    with pytest.raises(ValueError, match="strengths"):
        EnergyReportConfig(strengths=())
    with pytest.raises(ValueError, match="strengths"):
        EnergyReportConfig(strengths=(1.0, -0.5))


def test_config_refuses_what_the_run_would_refuse_and_silent_nonsense():
    # one spike per step at most: 20 kHz at dt = 0.5 ms is 10 spikes per step
    with pytest.raises(ValueError, match="input_rate_hz"):
        EnergyReportConfig(input_rate_hz=20_000.0)
    EnergyReportConfig(input_rate_hz=2000.0)  # exactly one spike per step: allowed
    with pytest.raises(ValueError, match="duration_ms"):
        EnergyReportConfig(duration_ms=100.3)  # not a whole number of 0.5 ms steps
    with pytest.raises(ValueError, match="duration_ms"):
        EnergyReportConfig(duration_ms=0.2)  # less than one step
    with pytest.raises(ValueError, match="strengths"):
        EnergyReportConfig(strengths=(1.0, 1.0))
    with pytest.raises(ValueError, match="batch_size"):
        EnergyReportConfig(batch_size=2000)  # more than the 1347 training digits
    with pytest.raises(ValueError, match="max_rate_hz"):
        EnergyReportConfig(max_rate_hz=1500.0)  # above one spike per 1 ms step
    with pytest.raises(ValueError, match="w_input_mv"):
        EnergyReportConfig(w_input_mv=float("nan"))


def _random_report(data) -> EnergyReport:
    n_layers = data.draw(st.integers(1, 3), label="layers")
    steps, batch = data.draw(st.integers(1, 50)), data.draw(st.integers(1, 8))
    layers = []
    for i in range(n_layers):
        n_pre, n_post = data.draw(st.integers(1, 300)), data.draw(st.integers(1, 300))
        spikes = data.draw(st.integers(0, n_pre * steps * batch))
        k_max = n_post
        n_syn = data.draw(st.integers(0, n_pre * k_max))
        layers.append(LayerCounts(
            f"l{i}", n_pre, n_post, steps, batch, spikes,
            synops=data.draw(st.integers(0, spikes * k_max)), n_synapses=n_syn,
            dense_macs=n_pre * n_post * steps * batch, neuron_updates=n_post * steps * batch,
            weight_updates=data.draw(st.integers(0, 10**6)),
        ))
    profiles = data.draw(st.lists(st.sampled_from(sorted(PROFILES)), min_size=1, unique=True))
    return energy_report(ActivityCounts(tuple(layers)), profiles=profiles,
                         duration_s=data.draw(st.floats(1e-4, 10.0)),
                         dense_equivalent=data.draw(st.sampled_from(["per_step",
                                                                     "per_inference"])))


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_energy_report_survives_safetensors_and_json_bit_for_bit(data):
    import json

    from safetensors.torch import load, save

    rep = _random_report(data)
    arrays, meta = rep.to_tensors()
    tensors = load(save({k: torch.from_numpy(v) for k, v in arrays.items()}))
    back = EnergyReport.from_tensors(tensors, json.loads(json.dumps(meta)))
    assert back.counts == rep.counts  # every count, exactly
    assert (back.duration_s, back.reference, back.dense_equivalent) == (
        rep.duration_s, rep.reference, rep.dense_equivalent)
    for a, b in zip(back.profiles, rep.profiles):  # exact floats; nan (dense analytic) as nan
        assert a.profile == b.profile and a.mode == b.mode and a.kind == b.kind
        assert np.array_equal(np.array([a.total_j, a.analytic_synaptic_j, *a.layers]),
                              np.array([b.total_j, b.analytic_synaptic_j, *b.layers]),
                              equal_nan=True)
    d1, d2 = back.to_dict(), rep.to_dict()
    assert d1.keys() == d2.keys()
    assert all(d1[k] == d2[k] or (d1[k] != d1[k] and d2[k] != d2[k]) for k in d1)


def test_from_tensors_refuses_mismatched_parts():
    rep = energy_report(ActivityCounts((LayerCounts("a", 4, 3, 2, 1, 3, 9, 12, 24, 6),)),
                        duration_s=0.01)
    arrays, meta = rep.to_tensors()
    with pytest.raises(ValueError, match="profile_layers"):
        EnergyReport.from_tensors({**arrays, "profile_layers": arrays["profile_layers"][:, :0]},
                                  meta)
    with pytest.raises(ValueError, match="counts"):
        EnergyReport.from_tensors({k: v for k, v in arrays.items() if k != "counts"}, meta)
    with pytest.raises(ValueError, match="meta"):
        EnergyReport.from_tensors(arrays, {**meta, "format": "something else"})


def test_timings_are_apart_from_metrics_and_curves_match_the_metrics(trained_result):
    r = trained_result
    assert {"sim_wall_s", "train_wall_s"} == set(r.timings)
    assert not {"sim_wall_s", "train_wall_s"} & set(r.metrics)
    c, m = r.curves, r.metrics
    assert c["strength_per_strength"] == [0.0, 5.0]
    for i in range(2):
        assert c["accuracy_per_strength"][i] == m[f"trained_s{i}_accuracy"]
        assert c["synops_per_inference_per_strength"][i] == m[f"trained_s{i}_synops_per_inference"]
        assert c["energy_per_inference_j_loihi_per_strength"][i] == (
            m[f"trained_s{i}_energy_per_inference_j_loihi"])
        assert len(c[f"train_loss_s{i}"]) == SMALL.epochs
        assert set(r.arrays) >= {f"model_s{i}.layers.0.module.weight"}
    # population rate per bin x bin width x neurons = the raster's spike count
    steps = round(SMALL.duration_ms / SMALL.dt_ms)
    edges = np.linspace(0, steps, min(steps, 50) + 1).round()
    width_s = np.diff(edges) * SMALL.dt_ms * 1e-3
    for pop, n in (("input", SMALL.n_input), ("hidden", SMALL.n_hidden)):
        rate = np.array(c[f"rate_hz_{pop}_per_bin"])
        assert round(float((rate * width_s * n).sum())) == r.arrays[f"raster_{pop}"].shape[1]
        assert float((rate * width_s).sum() / (steps * SMALL.dt_ms * 1e-3)) == pytest.approx(
            m[f"rate_hz_{pop}"])


REDUCED_CFG = dataclasses.replace(EnergyReportConfig(), **REDUCED["energy-report"])


def _assert_same(got, ref) -> None:
    assert got.metrics == ref.metrics
    assert got.curves == ref.curves
    assert set(got.arrays) == set(ref.arrays)
    for k in ref.arrays:
        assert torch.equal(got.arrays[k], ref.arrays[k]), k


def test_resumed_from_any_checkpoint_equals_uninterrupted(tmp_path):
    import shutil

    cfg = REDUCED_CFG
    ref = run(cfg, progress=False)
    every = Checkpointer(tmp_path / "all", every_s=0, keep=1000)
    _assert_same(run(cfg, progress=False, checkpoint=every), ref)  # saving changes nothing
    # one checkpoint per unit of work: the simulator, then every epoch of every strength
    assert every.saves == 1 + len(cfg.strengths) * cfg.epochs == 5
    # a run killed right after its k-th save leaves exactly step k's files: resume from them
    for k in (1, 3, 4):  # after the simulator / a whole strength / an epoch inside a strength
        folder = tmp_path / f"killed_after_{k}"
        folder.mkdir()
        for suffix in (".json", ".safetensors"):
            shutil.copy(every.directory / f"step-{k}{suffix}", folder)
        resumed = Checkpointer(folder, every_s=0)
        _assert_same(run(cfg, progress=False, checkpoint=resumed), ref)
        assert resumed.saves == every.saves - k  # it did only the work that was left
