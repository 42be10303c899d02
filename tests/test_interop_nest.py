"""The NEST backend (interop.nest): same network, same spikes / statistics / learned weights.

Independent truths: NEST itself (a different simulator) for the dynamics and STDP, the analytic
pair window for the parameter mapping. Tests that need NEST skip when it is not installed.
"""

from __future__ import annotations

import importlib.util
import math
import sys

import numpy as np
import pytest
import torch
from _interop_nets import deterministic_network
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroplastic.experiments.cuba import CubaConfig, build_cuba, isi_cv
from neuroplastic.interop.nest_map import (
    map_lif,
    map_stdp,
    map_triplet_stdp,
    nest_delay_steps,
    synapse_layout,
)
from neuroplastic.network import Network
from neuroplastic.neurons import Analog, Digital, LIFParams
from neuroplastic.plasticity import (
    ExponentialWindow,
    STDPParams,
    TripletParams,
    init_triplet_state,
    triplet_step,
)
from neuroplastic.synapses import AllToAll, OneToOne

HAVE_NEST = importlib.util.find_spec("nest") is not None
needs_nest = pytest.mark.skipif(not HAVE_NEST, reason="nest-simulator is not installed")
DT = 0.1


# ----------------------------------------------------------------------------- without NEST
def test_missing_nest_names_the_package(monkeypatch):
    from neuroplastic.interop import nest as backend

    monkeypatch.setitem(sys.modules, "nest", None)  # import nest -> ImportError
    with pytest.raises(ImportError, match="pip install nest-simulator"):
        backend.require_nest()


@settings(max_examples=60, deadline=None)
@given(
    a_plus=st.floats(1e-4, 1.0), a_minus=st.floats(0.0, 1.0), tau_p=st.floats(1.0, 100.0),
    tau_m=st.floats(1.0, 100.0), lag_steps=st.integers(1, 500), eta=st.floats(0.01, 10.0),
    w_max=st.floats(0.1, 10.0),
)
def test_stdp_mapping_reproduces_the_pair_window(a_plus, a_minus, tau_p, tau_m, lag_steps, eta,
                                                 w_max):
    """NEST's additive stdp_synapse changes a weight by Wmax*lambda*exp(-(dt+h)/tau_plus) for a
    causal pair and by -Wmax*lambda*alpha*exp(-(dt-h)/tau_minus) for an acausal one (the pair
    is seen across one step of dendritic delay): the mapping must give eta*W(dt) exactly."""
    win = ExponentialWindow(a_plus, a_minus, tau_p, tau_m, at_zero="causal")
    prm = STDPParams(win, learning_rate=eta, w_min=0.0, w_max=w_max)
    m = map_stdp("p", prm, DT, np.ones(3, dtype=np.int64))
    assert m.model == "stdp_synapse" and m.tau_minus == tau_m
    q = m.params
    lag = lag_steps * DT
    causal = q["Wmax"] * q["lambda"] * math.exp(-(lag + DT) / q["tau_plus"])
    acausal = -q["Wmax"] * q["lambda"] * q["alpha"] * math.exp(-(lag - DT) / m.tau_minus)
    ours = eta * win(torch.tensor([lag, -lag], dtype=torch.float64))
    assert causal == pytest.approx(float(ours[0]), rel=1e-12)
    assert acausal == pytest.approx(float(ours[1]), rel=1e-12, abs=1e-300)


@pytest.mark.parametrize(
    "change, feature",
    [
        (dict(w_min=-1.0), "w_min"),
        (dict(w_max=math.inf), "finite w_max"),
        (dict(window=ExponentialWindow(at_zero="zero")), "zero lag"),
        (dict(window=ExponentialWindow(a_plus=-0.01, at_zero="causal")), "causal amplitude"),
        (dict(norm_target=1.0), "norm_target"),
    ],
)
def test_stdp_features_nest_lacks_are_refused(change, feature):
    kw = dict(window=ExponentialWindow(at_zero="causal"), w_min=0.0, w_max=1.0)
    kw.update(change)
    with pytest.raises(NotImplementedError, match=feature):
        map_stdp("proj", STDPParams(**kw), DT, np.ones(2, dtype=np.int64))
    with pytest.raises(NotImplementedError, match="delays over one step"):
        map_stdp("proj", STDPParams(ExponentialWindow(at_zero="causal")), DT, np.array([2]))


@pytest.mark.parametrize(
    "change, feature",
    [(dict(pairing="nearest"), "all-to-all"), (dict(w_min=-1.0), "w_min"),
     (dict(w_max=math.inf), "finite w_max")],
)
def test_triplet_features_nest_lacks_are_refused(change, feature):
    kw = dict(w_min=0.0, w_max=1.0)
    kw.update(change)
    with pytest.raises(NotImplementedError, match=feature):
        map_triplet_stdp("proj", TripletParams(**kw))


@settings(max_examples=40, deadline=None)
@given(amps=st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4),
       taus=st.lists(st.floats(1.0, 500.0), min_size=4, max_size=4), eta=st.floats(0.01, 100.0))
def test_triplet_mapping_gives_nest_the_scaled_amplitudes(amps, taus, eta):
    """Pfister & Gerstner's Eqs. 3-4 in NEST's names: every amplitude is eta times ours, each
    trace keeps its time constant (pre ones on the synapse, post ones on the neuron)."""
    prm = TripletParams(*amps, *taus, learning_rate=eta, w_min=0.0, w_max=2.0)
    m = map_triplet_stdp("p", prm)
    q = m.params
    assert [q["Aplus"], q["Aplus_triplet"], q["Aminus"], q["Aminus_triplet"]] == [
        eta * a for a in amps]
    assert (q["tau_plus"], m.post["tau_minus"], q["tau_plus_triplet"],
            m.post["tau_minus_triplet"]) == tuple(taus)
    assert q["Wmax"] == 2.0


@pytest.mark.parametrize(
    "params, substrate, feature",
    [
        (LIFParams(), Digital(), "Digital"),
        (LIFParams(), Analog(noise_sigma_mv=1.0), "noise"),
        (LIFParams(theta_plus_mv=1.0), Analog(), "adaptive threshold"),
        (LIFParams(reset_mode="subtract"), Analog(), "reset_mode"),
    ],
)
def test_lif_features_nest_lacks_are_refused(params, substrate, feature):
    with pytest.raises(NotImplementedError, match=feature):
        map_lif("pop", params, substrate, 3, DT, channel_signs={})


def test_lif_mapping_units_and_refractoriness():
    p = LIFParams(tau_mem_ms=20.0, r_mohm=40.0, t_ref_ms=2.0, tau_syn_ms=(5.0, 10.0))
    m = map_lif("pop", p, Analog(), 4, DT, channel_signs={0: 1, 1: -1})
    assert m.model == "iaf_psc_exp"
    assert m.params["C_m"] == pytest.approx(np.full(4, 500.0))  # 1000 * 20 ms / 40 MOhm pF
    assert m.params["t_ref"] == pytest.approx(1.9)  # 20 steps frozen -> 19 after the spike
    assert (m.params["tau_syn_ex"], m.params["tau_syn_in"]) == (5.0, 10.0)
    assert synapse_layout(2, {0: 0}) is None  # mixed signs on one channel: multisynapse
    assert map_lif("p", p, Analog(), 1, DT, channel_signs={0: 0}).receptor == {0: 1, 1: 2}
    with pytest.raises(NotImplementedError, match="zero synaptic delay"):
        nest_delay_steps("proj", np.array([0, 3]), "refuse")
    assert nest_delay_steps("proj", np.array([0, 3]), "one_step").tolist() == [1, 3]


# ----------------------------------------------------------------------------- with NEST
def _deterministic(seed: int = 3) -> Network:
    net = deterministic_network(seed)
    pulses = np.zeros((1000, 50))
    pulses[100:400, :10] = 5.0  # a time-varying current (step_current_generator in NEST)
    net.add_current("a", pulses, start_ms=20.0)
    net.monitor_state("a", [0, 1, 2])
    return net


@needs_nest
def test_deterministic_network_gives_the_same_spikes_and_states():
    from neuroplastic.interop.nest import run_nest

    ours = _deterministic()
    ours.run(300.0)
    res = run_nest(_deterministic(), 300.0)
    a, b = ours.spike_monitors["a"], res.spike_monitors["a"]
    assert a.count > 100
    assert torch.equal(a.steps, b.steps) and torch.equal(a.neurons, b.neurons)
    sa, sb = ours.state_monitors["a"], res.state_monitors["a"]
    k = len(sb.v)  # NEST's multimeter has no sample of the very last step
    assert k >= len(sa.v) - 1
    assert torch.equal(sa.times_ms[:k], sb.times_ms)
    assert torch.allclose(sa.v[:k], sb.v, atol=1e-9, rtol=0)
    assert torch.allclose(sa.i_syn[:k], sb.i_syn, atol=1e-9, rtol=0)


def _pair_protocol(pairing: str, update: str, drop: np.ndarray | None = None) -> Network:
    """Random pre spikes; a strong teacher makes the post neurons fire. ``drop``: steps at which
    pre spikes are removed (those coincident with, or one step after, a post spike: NEST's
    stated differences)."""
    net = Network(DT, seed=1)
    # R = 0.01 MOhm: the plastic weights move the membrane by ~1 uV, so that the teacher alone
    # times the post spikes (NEST transmits a spike with the weight it just updated, we with
    # the weight of the start of the step)
    p = LIFParams(tau_mem_ms=10.0, v_rest_mv=-65.0, v_reset_mv=-65.0, v_thresh_mv=-50.0,
                  t_ref_ms=2.0, tau_syn_ms=(2.0,), r_mohm=0.01)
    net.add_lif("post", 3, p)
    rng = np.random.default_rng(7)
    # every pre neuron fires first in steps 1..5, before any post spike: NEST's nearest-
    # neighbour synapse pairs earlier post spikes with a virtual pre spike at t = 0
    pre_steps = np.r_[np.arange(1, 6), rng.integers(1, 4000, 150)]
    pre_idx = np.r_[np.arange(5), rng.integers(0, 5, 150)]
    keep = ~np.isin(pre_steps, drop) if drop is not None else np.ones(155, dtype=bool)
    net.add_spike_times("pre", 5, pre_steps[keep] * DT, pre_idx[keep])
    net.add_spike_times("teach", 3, rng.uniform(2.0, 400, 50), rng.integers(0, 3, 50))
    net.connect("teach", "post", OneToOne(), weight=20000.0, delay_ms=DT)
    win = ExponentialWindow(0.01, 0.012, 15.0, 25.0, at_zero="causal")
    stdp = STDPParams(win, pairing=pairing, update=update, w_min=0.0, w_max=0.5)
    net.connect("pre", "post", AllToAll(), weight=torch.linspace(0.1, 0.4, 15), delay_ms=DT,
                plasticity=stdp, name="plastic")
    net.monitor_spikes("post")
    net.monitor_spikes("pre")
    return net


@needs_nest
@pytest.mark.parametrize("pairing", ["all", "nearest"])
@pytest.mark.parametrize("update", ["additive", "multiplicative"])
def test_stdp_pair_protocol_learns_the_same_weights(pairing, update):
    from neuroplastic.interop.nest import run_nest

    first = _pair_protocol(pairing, update)
    first.run(400.0)
    post = first.spike_monitors["post"].steps.numpy()
    drop = np.union1d(post, post + 1)
    ours = _pair_protocol(pairing, update, drop)
    ours.run(400.0)
    res = run_nest(_pair_protocol(pairing, update, drop), 400.0)
    a, b = ours.spike_monitors["post"], res.spike_monitors["post"]
    assert torch.equal(a.steps, b.steps) and a.count > 20
    pre = ours.spike_monitors["pre"].steps.numpy()
    assert not np.isin(pre, np.union1d(a.steps, a.steps + 1)).any()  # the premise
    w0 = torch.linspace(0.1, 0.4, 15, dtype=torch.float64)
    w_ours, w_nest = ours.weights("plastic"), res.weights["plastic"]
    assert (w_ours - w0).abs().max() > 0.01  # the weights did learn
    assert torch.allclose(w_ours, w_nest, atol=1e-9, rtol=0)


def _triplet_ours(pre, post, params, n_steps, w0) -> np.ndarray:
    """The weight after every step of triplet_step driven by the spike steps."""
    w = torch.full((1, 1), w0, dtype=torch.float64)
    state = init_triplet_state(1, 1, 1)
    spikes = torch.zeros(n_steps, 2, dtype=torch.bool)
    spikes[torch.from_numpy(pre), 0] = True
    spikes[torch.from_numpy(post), 1] = True
    out = np.empty(n_steps)
    for s in range(n_steps):
        w, state = triplet_step(w, spikes[s, :1][None], spikes[s, 1:][None], state, params,
                                dt_ms=DT)
        out[s] = float(w)
    return out


def _triplet_protocols():
    rng = np.random.default_rng(3)
    pre = np.sort(rng.choice(np.arange(1, 4500), 60, replace=False))
    post = np.sort(rng.choice(np.arange(2, 4500), 60, replace=False))
    # coincident steps and post spikes one step before a pre spike: neither rule pairs them
    # differently
    post = np.union1d(post, np.concatenate([pre[::4], pre[1::4] - 1]))
    yield "random", pre, post[post < pre.max()], 3.0, 1.0
    # Sjostrom pairing, pre then post 6 ms later at 50 Hz: potentiation hits w_max, then a
    # pre-only tail depresses below it again
    pair = np.arange(20, 20 * 200, 200)
    tail = np.arange(4200, 4900, 35)
    yield "pairing at the bound", np.concatenate([pair, tail]), pair + 60, 40.0, 0.7


@needs_nest
@pytest.mark.parametrize("case", list(_triplet_protocols()), ids=lambda c: c[0])
def test_triplet_stdp_on_nest_learns_the_same_weight(case):
    """NEST's stdp_triplet_synapse (its own implementation of Pfister & Gerstner 2006) and our
    triplet_step, driven by the same recorded spikes, end at the same weight (to 1e-9)."""
    from neuroplastic.interop.nest import run_triplet_stdp

    _, pre, post, eta, w_max = case
    params = TripletParams.visual_cortex(learning_rate=eta, w_min=0.0, w_max=w_max)
    n_steps = 5000
    traj = _triplet_ours(pre, post, params, n_steps, 0.3)
    res = run_triplet_stdp(pre, post, params, DT, n_steps * DT, w_init=0.3)
    assert abs(traj[-1] - 0.3) > 0.05  # the weight did learn
    assert traj[-1] == pytest.approx(res.weight, abs=1e-9, rel=0)
    if w_max < 1.0:  # the bound was hit and left again: clipping happened on both sides
        assert traj.max() == w_max and traj[-1] < w_max - 0.01


@needs_nest
def test_triplet_protocols_nest_cannot_finish_are_refused():
    from neuroplastic.interop.nest import run_triplet_stdp

    p = TripletParams.visual_cortex(w_min=0.0, w_max=1.0)
    with pytest.raises(ValueError, match="end with a pre spike"):
        run_triplet_stdp([10, 20], [30], p, DT, 10.0)
    with pytest.raises(ValueError, match="NEST has no spike at t = 0"):
        run_triplet_stdp([0, 20], [5], p, DT, 10.0)
    with pytest.raises(ValueError, match="w_init"):
        run_triplet_stdp([10, 20], [15], p, DT, 10.0, w_init=2.0)
    with pytest.raises(NotImplementedError, match="all-to-all"):
        run_triplet_stdp([10, 20], [15], TripletParams.visual_cortex(
            pairing="nearest", w_min=0.0, w_max=1.0), DT, 10.0)


@needs_nest
def test_nest_run_in_pieces_with_progress_is_the_same_simulation():
    """With a progress bar the NEST run goes in pieces (Prepare, Run x ~100, Cleanup): the
    same spikes, states and learned weights as one Simulate call."""
    from neuroplastic.interop.nest import run_nest

    one, pieces = (run_nest(_deterministic(), 300.0, progress=p) for p in (False, True))
    for name, mon in one.spike_monitors.items():
        assert torch.equal(mon.steps, pieces.spike_monitors[name].steps)
        assert torch.equal(mon.neurons, pieces.spike_monitors[name].neurons)
    assert one.spike_monitors["a"].count > 100
    assert torch.equal(one.state_monitors["a"].v, pieces.state_monitors["a"].v)
    one, pieces = (run_nest(_pair_protocol("all", "additive"), 400.0, progress=p)
                   for p in (False, True))
    assert torch.equal(one.weights["plastic"], pieces.weights["plastic"])
    assert (one.weights["plastic"] - torch.linspace(0.1, 0.4, 15, dtype=torch.float64)
            ).abs().max() > 0.01


def _cuba_stats(steps: np.ndarray, neurons: np.ndarray, n: int, ms: float) -> tuple:
    return len(steps) / n / (ms * 1e-3), float(isi_cv(steps, neurons, n).mean())


@needs_nest
def test_cuba_on_nest_matches_rate_and_isi_cv_also_with_two_threads():
    from neuroplastic.interop.nest import run_nest

    cfg = CubaConfig(n_neurons=1000, p_connect=0.08, duration_ms=400.0, seed=2)

    def flat(mons):
        st = np.concatenate([mons["exc"].steps.numpy(), mons["inh"].steps.numpy()])
        nr = np.concatenate([mons["exc"].neurons.numpy(),
                             mons["inh"].neurons.numpy() + mons["exc"].n])
        return _cuba_stats(st, nr, cfg.n_neurons, cfg.duration_ms)

    def build():
        net = build_cuba(cfg)
        net.monitor_spikes("exc"), net.monitor_spikes("inh")
        return net

    net = build()
    net.run(cfg.duration_ms)
    rate, cv = flat(net.spike_monitors)
    assert rate > 1.0
    for threads in (1, 2):
        res = run_nest(build(), cfg.duration_ms, threads=threads, zero_delay="one_step")
        r_nest, cv_nest = flat(res.spike_monitors)
        assert r_nest == pytest.approx(rate, rel=0.10), threads
        assert cv_nest == pytest.approx(cv, rel=0.10), threads


@needs_nest
def test_unsupported_networks_are_refused_naming_the_feature():
    from neuroplastic.interop.nest import to_nest

    with pytest.raises(NotImplementedError, match="zero synaptic delay"):
        to_nest(build_cuba(CubaConfig(n_neurons=50)))
    net = Network(DT, batch=2)
    net.add_lif("a", 2)
    with pytest.raises(NotImplementedError, match="batch=2"):
        to_nest(net)
    net = Network(DT)
    net.add_lif("a", 2, substrate=Analog(noise_sigma_mv=1.0))
    with pytest.raises(NotImplementedError, match="noise"):
        to_nest(net)


@needs_nest
def test_cuba_experiment_runs_on_nest(tmp_path):
    from neuroplastic.experiments.cuba import run

    res = run(CubaConfig(n_neurons=400, duration_ms=100.0, backend="nest"), progress=False)
    assert res.metrics["backend"] == "nest"
    assert res.metrics["steps"] == 1000 and res.metrics["spikes_total"] > 0
    # synaptic events: each presynaptic spike times its fan-out
    assert res.metrics["synops_total"] >= res.metrics["spikes_total"]
    assert (res.metrics["nest_processes"], res.metrics["nest_threads"]) == (1, 1)
    # NEST on two threads: the same network, split two ways, gives the same spikes
    import matplotlib.pyplot as plt

    plt.close("all")  # the lab closes a result's figures after writing them; here we do
    two = run(CubaConfig(n_neurons=400, duration_ms=100.0, backend="nest", nest_threads=2),
              progress=False).metrics
    assert (two["nest_processes"], two["nest_threads"]) == (1, 2)
    for key in ("spikes_total", "rate_hz_mean", "synops_total", "isi_cv_mean"):
        assert two[key] == res.metrics[key], key
    plt.close("all")


@needs_nest
def test_poisson_sources_fire_at_their_rate():
    """Poisson sources (generator -> parrot): the count over 100 sources x 0.5 s at 20 Hz is
    Poisson with mean 1000 (sd ~32); every target of a source sees the same train."""
    from neuroplastic.interop.nest import run_nest

    net = Network(DT, seed=5)
    net.add_poisson("src", torch.full((100,), 20.0))
    net.add_lif("a", 2, LIFParams(tau_syn_ms=(5.0,)))
    net.connect("src", "a", AllToAll(), weight=0.5, delay_ms=DT)
    net.monitor_spikes("src")
    net.monitor_state("a")
    res = run_nest(net, 500.0)
    assert abs(res.spike_monitors["src"].count - 1000) < 150
    isyn = res.state_monitors["a"].i_syn[:, 0, :, 0]
    assert torch.allclose(isyn[:, 0], isyn[:, 1])  # shared trains, not one per target


def test_cuba_fixed_in_degree_gives_every_neuron_exactly_k_inputs():
    """build_cuba(in_degree=k) (the W1-scale connectivity, as NEST's fixed_indegree)."""
    net = build_cuba(CubaConfig(n_neurons=200, exc_fraction=0.8), in_degree=20)
    for pre, k in (("exc", 16), ("inh", 4)):
        for post, n in (("exc", 160), ("inh", 40)):
            proj = net.projections[f"{pre}->{post}"]
            assert np.bincount(proj.indices.numpy(), minlength=n).tolist() == [k] * n


def test_network_run_with_backend_nest_equals_run_nest():
    from neuroplastic.interop.nest import run_nest

    if not HAVE_NEST:
        pytest.skip("nest-simulator is not installed")
    a = _deterministic().run(100.0, backend="nest")
    b = run_nest(_deterministic(), 100.0, zero_delay="one_step")
    sa, sb = a.spike_monitors["a"], b.spike_monitors["a"]
    assert sa.count > 0 and torch.equal(sa.steps, sb.steps) and torch.equal(sa.neurons, sb.neurons)
    with pytest.raises(ValueError, match="backend must be None"):
        _deterministic().run(10.0, backend="brian2")
