"""PyNN export (interop.pynn): the exported model run by PyNN's NEST backend (pyNN.nest) gives
our simulator's spikes and learned STDP weights on deterministic networks.

Independent truths: our own simulator (the network as written) against PyNN + NEST (another
library's model construction and another simulator's dynamics and STDP). Tests that need PyNN or
NEST skip when they are not installed; the description's save/load round trip needs neither.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest
import torch
from _interop_nets import deterministic_network

from neuroplastic.interop.pynn import (
    export_pynn_script,
    load_description,
    pynn_description,
    run_pynn,
)
from neuroplastic.network import Network
from neuroplastic.neurons import LIFParams
from neuroplastic.plasticity import ExponentialWindow, STDPParams
from neuroplastic.synapses import AllToAll, OneToOne

HAVE_PYNN_NEST = (importlib.util.find_spec("pyNN") is not None
                  and importlib.util.find_spec("nest") is not None)
needs_pynn = pytest.mark.skipif(not HAVE_PYNN_NEST,
                                reason="PyNN and nest-simulator are not both installed")
DT = 0.1


def _deterministic(seed: int = 3) -> Network:
    # no source spike at step 0: the export refuses those (PyNN shifts inputs by min_delay)
    return deterministic_network(seed, first_spike_ms=0.1)


def _stdp_protocol(update: str, drop: np.ndarray | None = None) -> Network:
    """Random pre spikes, a strong teacher times the post spikes (R = 0.01 MOhm: the plastic
    weights barely move the membrane); every pre neuron fires last at 380 ms, after every post
    spike, so that NEST owes no potentiation at the end (PyNN reads NEST's raw weights).
    ``drop``: steps whose pre spikes are removed (those in the same step as, or one step after,
    a post spike: NEST's stated differences, interop.nest_map)."""
    net = Network(DT, seed=1)
    p = LIFParams(tau_mem_ms=10.0, v_rest_mv=-65.0, v_reset_mv=-65.0, v_thresh_mv=-50.0,
                  t_ref_ms=2.0, tau_syn_ms=(2.0,), r_mohm=0.01)
    net.add_lif("post", 3, p)
    rng = np.random.default_rng(7)
    teach_t = rng.uniform(2.0, 340.0, 40)
    teach_i = rng.integers(0, 3, 40)
    pre_steps = np.r_[np.arange(1, 6), rng.integers(1, 3500, 150), np.full(5, 3800)]
    pre_idx = np.r_[np.arange(5), rng.integers(0, 5, 150), np.arange(5)]
    keep = ~np.isin(pre_steps, drop) if drop is not None else np.ones(pre_steps.size, bool)
    net.add_spike_times("pre", 5, pre_steps[keep] * DT, pre_idx[keep])
    net.add_spike_times("teach", 3, teach_t, teach_i)
    net.connect("teach", "post", OneToOne(), weight=20000.0, delay_ms=DT)
    win = ExponentialWindow(0.01, 0.012, 15.0, 25.0, at_zero="causal")
    stdp = STDPParams(win, pairing="all", update=update, w_min=0.0, w_max=0.5)
    net.connect("pre", "post", AllToAll(), weight=torch.linspace(0.1, 0.4, 15), delay_ms=DT,
                plasticity=stdp, name="plastic")
    net.monitor_spikes("post")
    net.monitor_spikes("pre")
    return net


# --------------------------------------------------------------------------- without PyNN
def test_description_maps_units_and_round_trips_through_the_npz(tmp_path):
    net = _deterministic()
    desc = pynn_description(net)
    a = next(p for p in desc["populations"] if p["name"] == "a")
    assert a["kind"] == "IF_curr_exp"
    np.testing.assert_allclose(a["params"]["cm"], 20.0 / 1.0)  # tau_m / R, nF
    np.testing.assert_allclose(a["params"]["tau_refrac"], 1.9)  # NEST counts one step more
    np.testing.assert_allclose(a["params"]["i_offset"], 10.0)
    rec = {p["name"]: p["receptor"] for p in desc["projections"]}
    assert rec == {"in->a": "excitatory", "a->a": "inhibitory"} or set(rec.values()) == {
        "excitatory", "inhibitory"}
    inh = next(p for p in desc["projections"] if p["receptor"] == "inhibitory")
    assert (inh["weight"] < 0).all() and (inh["delay"] == 1.0).all()
    n_syn = sum(pr.nnz for pr in net.projections.values())
    assert sum(len(p["i"]) for p in desc["projections"]) == n_syn
    script, data = export_pynn_script(net, tmp_path / "net.py", duration_ms=300.0)
    back = load_description(data)
    for p, q in zip(desc["populations"], back["populations"], strict=True):
        assert p["name"] == q["name"] and p["n"] == q["n"]
        for k, v in p["params"].items():
            if k == "spike_times":
                assert all(np.array_equal(x, y) for x, y in zip(v, q["params"][k], strict=True))
            else:
                assert np.array_equal(v, q["params"][k])
    for p, q in zip(desc["projections"], back["projections"], strict=True):
        for k in ("i", "j", "weight", "delay"):
            assert np.array_equal(p[k], q[k])
    assert "def build(" in script.read_text() and "neuroplastic" not in script.read_text(
        ).split('"""', 2)[2]  # standalone: no neuroplastic import


def test_export_refuses_what_pynn_cannot_express():
    net = _stdp_protocol("additive")
    net._plasticity["plastic"] = STDPParams(
        ExponentialWindow(0.01, 0.012, 15.0, 25.0, at_zero="causal"), pairing="nearest",
        w_min=0.0, w_max=0.5)
    with pytest.raises(NotImplementedError, match="pairing='nearest'"):
        pynn_description(net)
    net = _deterministic()
    net.add_current("a", np.zeros((10, 50)), start_ms=20.0)
    with pytest.raises(NotImplementedError, match="time-varying current"):
        pynn_description(net)
    net = Network(DT)
    net.add_lif("x", 2, LIFParams(tau_syn_ms=(5.0, 10.0, 20.0)))
    with pytest.raises(NotImplementedError, match="3 synaptic channels"):
        pynn_description(net)


# ------------------------------------------------------------------------------ with PyNN
@needs_pynn
def test_pynn_nest_gives_our_spikes_on_a_deterministic_network():
    import pyNN.nest as sim

    ours = _deterministic()
    ours.run(300.0)
    res = run_pynn(_deterministic(), 300.0, sim)
    steps, nrn = res["spikes"]["a"]
    a = ours.spike_monitors["a"]
    assert a.count > 100
    assert np.array_equal(a.steps.numpy(), steps) and np.array_equal(a.neurons.numpy(), nrn)


@needs_pynn
@pytest.mark.parametrize("update", ["additive", "multiplicative"])
def test_pynn_nest_stdp_learns_our_weights(update):
    import pyNN.nest as sim

    first = _stdp_protocol(update)
    first.run(400.0)
    post = first.spike_monitors["post"].steps.numpy()
    drop = np.union1d(post, post + 1)
    ours = _stdp_protocol(update, drop)
    ours.run(400.0)
    res = run_pynn(_stdp_protocol(update, drop), 400.0, sim)
    a = ours.spike_monitors["post"]
    assert post.max() < 3800 - 1  # every synapse's last event is a pre spike
    assert a.count > 20 and np.array_equal(a.steps.numpy(), res["spikes"]["post"][0])
    w0 = torch.linspace(0.1, 0.4, 15, dtype=torch.float64)
    w_ours, w_pynn = ours.weights("plastic"), res["weights"]["plastic"]
    assert (w_ours - w0).abs().max() > 0.01  # the weights did learn
    assert torch.allclose(w_ours, w_pynn, atol=1e-9, rtol=0)


@needs_pynn
def test_exported_script_runs_standalone_with_pynn_nest(tmp_path):
    ours = _deterministic()
    ours.run(300.0)
    script, _ = export_pynn_script(_deterministic(), tmp_path / "cuba_like.py",
                                   duration_ms=300.0)
    subprocess.run([sys.executable, str(script), "nest", "300"], check=True, cwd=tmp_path,
                   capture_output=True, timeout=120)
    z = np.load(tmp_path / "cuba_like_spikes.npz")
    steps = np.round(z["a/times_ms"] / DT).astype(np.int64) - 1
    order = np.lexsort((z["a/neurons"], steps))
    a = ours.spike_monitors["a"]
    assert np.array_equal(steps[order], a.steps.numpy())
    assert np.array_equal(z["a/neurons"][order], a.neurons.numpy())


# ---------------------------------------------------------------------------------- SONATA
def _same_description(a: dict, b: dict) -> None:
    assert a["dt"] == b["dt"] and a["seed"] == b["seed"] and a["record"] == b["record"]
    for p, q in zip(a["populations"], b["populations"], strict=True):
        assert (p["name"], p["kind"], p["n"]) == (q["name"], q["kind"], q["n"])
        for k, v in p["params"].items():
            if k == "spike_times":
                assert all(np.array_equal(x, y) for x, y in zip(v, q["params"][k], strict=True))
            else:
                assert np.array_equal(v, q["params"][k]), k
        if "v_init" in p:
            assert np.array_equal(p["v_init"], q["v_init"])
    for p, q in zip(a["projections"], b["projections"], strict=True):
        for k in ("name", "of", "pre", "post", "receptor", "stdp"):
            assert p.get(k) == q.get(k), k
        for k in ("i", "j", "weight", "delay", "index"):
            assert np.array_equal(p[k], q[k]), k


@pytest.mark.parametrize("which", ["deterministic", "stdp"])
def test_sonata_round_trip_keeps_every_number(tmp_path, which):
    pytest.importorskip("h5py")
    import h5py

    from neuroplastic.interop.sonata import export_sonata, read_sonata

    net = _deterministic() if which == "deterministic" else _stdp_protocol("additive")
    export_sonata(net, tmp_path, duration_ms=300.0)
    _same_description(pynn_description(net), read_sonata(tmp_path))
    # the files follow SONATA's layout: node/edge population groups, population attributes
    with h5py.File(tmp_path / "network" / "edges.h5", "r") as f:
        name = next(iter(f["edges"]))
        g = f["edges"][name]
        assert {"source_node_id", "target_node_id", "edge_type_id", "edge_group_id",
                "edge_group_index", "0"} <= set(g)
        assert g["source_node_id"].attrs["node_population"] in {"in", "pre", "teach", "a"}
    with h5py.File(tmp_path / "network" / "nodes.h5", "r") as f:
        assert {"node_id", "node_type_id", "node_group_id", "node_group_index"} <= set(
            f["nodes"][next(iter(f["nodes"]))])


@needs_pynn
def test_sonata_files_run_on_pynn_nest_with_our_spikes(tmp_path):
    import pyNN.nest as sim

    from neuroplastic.interop.pynn import build
    from neuroplastic.interop.sonata import export_sonata, read_sonata

    ours = _deterministic()
    ours.run(300.0)
    export_sonata(_deterministic(), tmp_path, duration_ms=300.0)
    pops, _ = build(sim, read_sonata(tmp_path))
    sim.run(300.0)
    seg = pops["a"].get_data("spikes").segments[0]
    steps = np.concatenate([np.round(np.asarray(s.magnitude) / DT).astype(np.int64) - 1
                            for s in seg.spiketrains])
    nrn = np.concatenate([np.full(len(s), int(s.annotations["source_index"]))
                          for s in seg.spiketrains])
    sim.end()
    order = np.lexsort((nrn, steps))
    a = ours.spike_monitors["a"]
    assert np.array_equal(steps[order], a.steps.numpy())
    assert np.array_equal(nrn[order], a.neurons.numpy())


@needs_pynn
def test_pynns_own_sonata_reader_builds_our_network(tmp_path, monkeypatch):
    """pyNN.serialization.sonata (another library's SONATA reader) rebuilds the exported
    network: population sizes, IF_curr_exp parameters per neuron, and every connection with
    its receptor, weight and delay."""
    pytest.importorskip("h5py")
    import pyNN.nest as sim
    from pyNN.serialization.sonata import import_from_sonata

    from neuroplastic.interop.sonata import export_sonata

    net = _deterministic()
    desc = pynn_description(net)
    export_sonata(net, tmp_path, duration_ms=300.0)
    monkeypatch.chdir(tmp_path)  # the manifest's $BASE_DIR is "."
    sim.setup(timestep=DT, min_delay=DT)
    built = import_from_sonata("circuit_config.json", sim)
    sizes = {a.label: a.size for a in built.assemblies}
    assert sizes == {p["name"]: p["n"] for p in desc["populations"]}
    a = next(x for x in built.assemblies if x.label == "a")
    want = next(p for p in desc["populations"] if p["name"] == "a")["params"]
    for k in ("cm", "tau_m", "v_rest", "v_thresh", "v_reset", "tau_refrac", "i_offset",
              "tau_syn_E", "tau_syn_I"):
        np.testing.assert_allclose(np.broadcast_to(a.get(k), (50,)), want[k], rtol=1e-12)
    for pr in desc["projections"]:
        proj = next(p for p in built.projections if p.label == f"{pr['name']}-0")
        assert proj.receptor_type == pr["receptor"]
        got = np.asarray(proj.get(["weight", "delay"], format="list"), dtype=float)
        got = got[np.lexsort((got[:, 1], got[:, 0]))]
        # pyNN's assembly indices: the pre and post assemblies hold one population each
        mine = np.column_stack([pr["i"], pr["j"], pr["weight"], pr["delay"]])
        mine = mine[np.lexsort((mine[:, 1], mine[:, 0]))]
        np.testing.assert_allclose(got, mine, rtol=1e-12)
    sim.end()
