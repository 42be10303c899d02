"""The simulator: compiled loop == torch reference bit for bit, delays, inputs, monitors,
checkpoints, determinism, CUBA versus Brian2."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroplastic.experiments.cuba import CubaConfig, build_cuba, isi_cv
from neuroplastic.network import Network
from neuroplastic.network.checkpoint import CheckpointError
from neuroplastic.neurons import Analog, Digital, LIFParams
from neuroplastic.synapses import AllToAll, FixedInDegree, FixedProbability, OneToOne


def mixed_network(backend: str, seed: int = 5, *, dtype: str = "float64",
                  digital: bool = True, device: str = "cpu") -> Network:
    """Every feature at once: two substrates, noise, mismatch, adaptation, subtractive reset,
    Poisson and spike-time sources, delays, dense and sparse storage, currents, batch 2.
    ``digital=False``: population "d" is analog (uniform: the kernel's fused path), which
    float32 needs."""
    net = Network(dt_ms=0.5, batch=2, seed=seed, backend=backend, dtype=dtype, device=device)
    pa = LIFParams(tau_mem_ms=15.0, v_rest_mv=-65.0, v_reset_mv=-68.0, v_thresh_mv=-52.0,
                   t_ref_ms=2.0, r_mohm=8.0, tau_syn_ms=(4.0, 9.0), theta_plus_mv=0.4,
                   tau_theta_ms=200.0)
    net.add_lif("a", 40, pa, Analog(noise_sigma_mv=1.5, tau_mem_cv=0.1, v_thresh_cv=0.05),
                v_init=(-66.0, -55.0))
    pd = LIFParams(tau_mem_ms=10.0, v_rest_mv=-60.0, v_reset_mv=-62.0, v_thresh_mv=-50.0,
                   t_ref_ms=1.0, r_mohm=4.0, tau_syn_ms=(6.0,), reset_mode="subtract")
    net.add_lif("d", 25, pd, Digital(int_bits=8, frac_bits=6, coef_frac_bits=12,
                                     rounding="floor") if digital else Analog())
    net.add_poisson("poi", torch.linspace(5.0, 80.0, 30))
    g = torch.Generator().manual_seed(0)
    times = torch.rand(60, generator=g) * 150.0
    net.add_spike_times("gen", 10, times, torch.arange(60) % 10,
                        batch=torch.arange(60) % 2)
    net.connect("poi", "a", FixedProbability(0.3), weight=1.1, channel=0)
    net.connect("gen", "a", FixedInDegree(3), weight=2.0, channel=0,
                delay_ms=torch.linspace(0.0, 6.0, 120))
    net.connect("a", "a", FixedProbability(0.2), weight=0.7, channel=1, sign="inhibitory",
                delay_ms=1.5)
    net.connect("a", "d", FixedProbability(0.3), weight=0.9, storage="dense", delay_ms=0.5)
    net.connect("d", "a", OneToOne() if False else AllToAll(), weight=0.05, channel=0)
    net.connect("poi", "d", FixedProbability(0.2), weight=1.3)
    net.set_current("a", 0.4)
    net.add_current("d", torch.sin(torch.linspace(0, 12, 200))[:, None].expand(200, 25) * 2.0,
                    start_ms=20.0)
    return net


def _record(net):
    mons = {k: net.monitor_spikes(k) for k in ("a", "d", "poi", "gen")}
    st_mon = net.monitor_state("a", neurons=[0, 5, 7], stride=3)
    return mons, st_mon


def test_compiled_loop_equals_torch_reference_bit_for_bit():
    out = {}
    for backend in ("numba", "torch"):
        net = mixed_network(backend)
        mons, st_mon = _record(net)
        net.run(60.0)
        net.run(57.5)  # two calls, crossing no block boundary in the same way
        out[backend] = (
            {k: (m.steps, m.batch, m.neurons) for k, m in mons.items()},
            st_mon.v, st_mon.i_syn, st_mon.theta,
            {k: net.state(k) for k in ("a", "d")},
            net.synops, {k: net.spike_counts(k) for k in ("a", "d", "poi")},
        )
    a, b = out["numba"], out["torch"]
    for k in a[0]:
        for x, y in zip(a[0][k], b[0][k]):
            assert torch.equal(x, y), k
    assert all(torch.equal(x, y) for x, y in zip(a[1:4], b[1:4]))
    for pop in ("a", "d"):
        for var in ("v", "i_syn", "theta", "ref_left"):
            assert torch.equal(a[4][pop][var], b[4][pop][var]), (pop, var)
    assert a[5] == b[5] and all(torch.equal(a[6][k], b[6][k]) for k in a[6])
    assert sum(len(x[0]) for x in a[0].values()) > 500  # the network was really active
    assert int(a[6]["d"].sum()) > 20


@pytest.mark.parametrize("layout", ["sparse", "dense"])
def test_delivery_by_sparse_matrices_equals_the_index_loop(layout, monkeypatch):
    """The GPU path's delivery (one sparse -- or, for small projections, dense -- product per
    projection and delay, all trials at once), run on the CPU: the same events summed in
    another order -> identical spikes and counters, states equal to rounding (every feature of
    the mixed network: delays per synapse and shared, dense storage, both channels, digital
    targets, batch 2)."""
    from neuroplastic.kernels import network_torch

    monkeypatch.setattr(network_torch, "_dense_ok", lambda dev, nbytes: layout == "dense")
    out = {}
    for by_matrices in (False, True):
        net = mixed_network("torch")
        mons, st_mon = _record(net)
        net._ensure_built()
        net._sim.by_matrices = by_matrices
        net.run(60.0)
        net.run(57.5)
        out[by_matrices] = (mons, st_mon.v, {k: net.state(k) for k in ("a", "d")}, net.synops,
                            {k: net.spike_counts(k) for k in ("a", "d", "poi")})
    a, b = out[False], out[True]
    for k in a[0]:
        assert torch.equal(a[0][k].steps, b[0][k].steps), k
        assert torch.equal(a[0][k].neurons, b[0][k].neurons), k
        assert torch.equal(a[0][k].batch, b[0][k].batch), k
    assert a[3] == b[3] and all(torch.equal(a[4][k], b[4][k]) for k in a[4])
    torch.testing.assert_close(a[1], b[1], rtol=0, atol=1e-9)
    for pop in ("a", "d"):
        for var in ("v", "i_syn", "theta"):
            torch.testing.assert_close(a[2][pop][var], b[2][pop][var], rtol=0, atol=1e-9)
    assert sum(len(m.steps) for m in a[0].values()) > 500


def test_matrix_delivery_sees_weights_edited_between_runs():
    """The device path builds its matrices once and keeps them across runs, but a weight
    view handed out (and written to) or a loaded checkpoint makes it rebuild: doubling a
    projection's weights between two runs gives the index loop's spikes."""
    out = {}
    for by_matrices in (False, True):
        net = mixed_network("torch")
        mon = net.monitor_spikes("d")
        net._ensure_built()
        net._sim.by_matrices = by_matrices
        net.run(30.0)
        kept = net._sim.delivery
        net.run(10.0)
        assert net._sim.delivery is kept  # nothing changed: not rebuilt
        net.weights("a->d").mul_(3.0)
        net.run(40.0)
        assert by_matrices is False or net._sim.delivery is not kept
        out[by_matrices] = (mon.steps.clone(), mon.neurons.clone())
    assert torch.equal(out[False][0], out[True][0]) and torch.equal(out[False][1], out[True][1])


def test_segmentation_does_not_change_results():
    nets = [mixed_network("numba", seed=9) for _ in range(2)]
    mons = [n.monitor_spikes("a") for n in nets]
    nets[0].run(1200.0)
    for d in (0.5, 333.0, 499.5, 367.0):
        nets[1].run(d)
    assert torch.equal(mons[0].steps, mons[1].steps)
    assert torch.equal(mons[0].neurons, mons[1].neurons)


def test_same_seed_same_numbers_other_seed_other_numbers():
    def spikes(seed):
        net = mixed_network("numba", seed=seed)
        m = net.monitor_spikes("a")
        net.run(100.0)
        return m.steps, m.neurons

    a, b, c = spikes(1), spikes(1), spikes(2)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not (len(a[0]) == len(c[0]) and torch.equal(a[1], c[1]))


def test_delays_shift_arrival_exactly():
    """A spike at t0 through a delay d moves the target's current at step t0 + d."""
    for delay in (0.0, 0.3, 2.0):
        net = Network(dt_ms=0.1)
        net.add_spike_times("src", 1, [1.0], [0])
        p = LIFParams(v_thresh_mv=100.0, tau_syn_ms=(5.0,))
        net.add_lif("t", 1, p)
        net.connect("src", "t", AllToAll(), weight=3.0, delay_ms=delay)
        mon = net.monitor_state("t", stride=1)
        net.run(5.0)
        i = mon.i_syn[:, 0, 0, 0]
        first = int(torch.nonzero(i).flatten()[0])
        assert first == 10 + round(delay / 0.1)
        assert float(i[first]) == 3.0


def test_refractory_period_freezes_membrane_and_spacing():
    p = LIFParams(tau_mem_ms=10.0, v_rest_mv=-70.0, v_reset_mv=-70.0, v_thresh_mv=-50.0,
                  t_ref_ms=5.0, r_mohm=1.0)
    net = Network(dt_ms=0.1)
    net.add_lif("n", 1, p)
    net.set_current("n", 1.0e4)  # one step from reset to threshold: fires as soon as it may
    mon = net.monitor_spikes("n")
    net.run(50.0)
    isi = np.diff(mon.steps.numpy())
    assert set(isi.tolist()) == {50}  # exactly t_ref / dt steps apart (Brian2 semantics)


def test_counters_equal_spikes_times_fan_out():
    net = mixed_network("numba")
    mons = {k: net.monitor_spikes(k) for k in ("a", "d", "poi", "gen")}
    net.run(80.0)
    for name, proj in net.projections.items():
        m = mons[proj.pre]
        counts = torch.bincount(m.neurons, minlength=proj.n_pre)
        assert net.synops[name] == int((counts * proj.fan_out).sum()), name


def test_poisson_source_rate():
    net = Network(dt_ms=1.0, batch=4, seed=2)
    net.add_poisson("p", torch.full((500,), 20.0))
    rm = net.monitor_rate("p")
    net.run(2000.0)
    n = int(net.spike_counts("p").sum())
    expected = 4 * 500 * 2000 * 0.02
    assert abs(n - expected) < 4 * np.sqrt(expected * 0.98)
    assert float(rm.rate_hz.mean()) == pytest.approx(20.0, rel=0.02)


def test_state_and_spike_monitor_memory_is_bounded_by_request():
    net = Network(dt_ms=0.1)
    net.add_lif("n", 50)
    m = net.monitor_state("n", neurons=[1, 2], stride=10)
    net.run(100.0)
    assert m.v.shape == (100, 1, 2) and m.times_ms[1] - m.times_ms[0] == pytest.approx(1.0)


# ---------------------------------------------------------------- checkpoints
def test_checkpoint_resume_is_bit_identical(tmp_path):
    ref = mixed_network("numba")
    mref = ref.monitor_spikes("a")
    ref.run(700.0)
    first = mixed_network("numba")
    m1 = first.monitor_spikes("a")
    first.run(333.0)
    first.save_checkpoint(tmp_path / "ck")
    resumed = mixed_network("numba")
    m2 = resumed.monitor_spikes("a")
    resumed.load_checkpoint(tmp_path / "ck")
    assert resumed.step == first.step and m2.count == m1.count
    resumed.run(367.0)
    assert torch.equal(mref.steps, m2.steps) and torch.equal(mref.neurons, m2.neurons)
    for k in ("v", "i_syn", "theta", "ref_left"):
        assert torch.equal(ref.state("a")[k], resumed.state("a")[k])
    assert ref.synops == resumed.synops


def _small_cuba(seed: int = 4):
    net = build_cuba(CubaConfig(n_neurons=400, seed=seed, p_connect=0.05, backend="numba"))
    return net, net.monitor_spikes("exc")


def test_shared_weights_and_delays_are_not_stored_per_synapse_until_read():
    """CUBA stores int32 post indices, no per-synapse delays (one delay per projection) and,
    while its weights (one value per projection) are not read, no per-synapse weights; reading
    them stores them all (views of the final store), and the spikes are the same bit for bit
    as when they were stored from the start (the torch reference always stores them)."""
    runs = []
    for read_first in (False, True):
        net, mon = _small_cuba()
        shared = {k: p.shared_weight for k, p in net.projections.items()}
        assert None not in shared.values()
        if read_first:
            net.weights("exc->exc")
        net._ensure_built()
        sim = net._sim
        assert sim.indices.dtype == torch.int32 and sim.delays.numel() == 0
        assert sim._w.numel() == (sim.n_synapses if read_first else 0)
        net.run(60.0)
        w = net.weights("inh->exc")  # every weight stored from here on
        assert sim._w.numel() == sim.n_synapses and bool((sim.proj_woff >= 0).all())
        assert torch.equal(w, torch.full_like(w, shared["inh->exc"]))
        assert w.data_ptr() == net.projections["inh->exc"].weights.data_ptr()
        net.run(60.0)
        runs.append((mon.steps, mon.neurons, net.state("exc")["v"], net.synops))
    assert runs[0][0].numel() > 0
    assert all(torch.equal(a, b) for a, b in zip(runs[0][:3], runs[1][:3]))
    assert runs[0][3] == runs[1][3]


def test_recorded_spikes_take_16_bytes_each_and_read_back_as_int64():
    """A spike monitor keeps int64 steps and int32 trials and neurons (24 -> 16 bytes a spike:
    at 4M neurons 22 M spikes per second of CUBA); what it hands out is int64, and equals the
    simulator's own spike counts."""
    net, mon = _small_cuba()
    net.run(50.0)
    assert mon.count > 0
    held = sum(a.nbytes for parts in (mon._steps, mon._batch, mon._neurons) for a in parts)
    assert held == 16 * mon.count
    for x in (mon.steps, mon.batch, mon.neurons):
        assert x.dtype == torch.int64 and x.numel() == mon.count
    counts = torch.bincount(mon.neurons, minlength=mon.n)
    assert torch.equal(counts, net.spike_counts("exc").to(torch.int64))


def test_checkpoints_of_shared_weights_resume_bit_for_bit(tmp_path):
    """A checkpoint of projections that share one weight each keeps their weights in parts
    (``weights/stored``, ``weights/shared``, ``weights/store``: no array of every synapse's
    weight; fingerprints unchanged); restored into a fresh network, they stay unstored and the
    run continues bit for bit. A checkpoint of the older format (every synapse's weight in
    ``weights``) still loads the same way; projections whose weights were changed are stored."""
    import hashlib

    from safetensors.torch import load_file

    from neuroplastic.network._state import fingerprint, state_tensors
    from neuroplastic.network.checkpoint import write_checkpoint

    ref, mref = _small_cuba()
    ref.run(150.0)
    first, _ = _small_cuba()
    first.run(70.0)
    first.save_checkpoint(tmp_path / "ck")
    sha = hashlib.sha256(first._sim.indices.numpy().astype(np.int64).tobytes()).hexdigest()
    assert fingerprint(first)["indices_sha256"] == sha  # as when indices were int64
    saved = load_file(tmp_path / "ck" / "state.safetensors")
    assert "weights" not in saved and saved["weights/store"].numel() == 0
    assert saved["weights/stored"].tolist() == [0] * 4
    shared = [first.projections[k].shared_weight for k in first.projections]
    assert saved["weights/shared"].tolist() == shared
    # the older format: every synapse's weight, the same state otherwise
    old = {k: v for k, v in state_tensors(first).items() if not k.startswith("weights/")}
    old["weights"] = first._sim.weights_snapshot()
    write_checkpoint(tmp_path / "old", old, step=first.step, fingerprint=fingerprint(first))
    for ck in ("ck", "old"):
        resumed, m2 = _small_cuba()
        resumed.load_checkpoint(tmp_path / ck)
        assert resumed._sim._w.numel() == 0  # still one value per projection
        resumed.run(80.0)
        assert torch.equal(mref.steps, m2.steps) and torch.equal(mref.neurons, m2.neurons)
        assert torch.equal(ref.state("exc")["v"], resumed.state("exc")["v"])
    changed, _ = _small_cuba()
    changed.weights("inh->exc")[::3] *= 0.5
    changed.run(20.0)
    changed.save_checkpoint(tmp_path / "ck2")
    other, _ = _small_cuba()
    other.load_checkpoint(tmp_path / "ck2")
    assert other._sim._w.numel() == other._sim.n_synapses
    for k in other.projections:
        assert torch.equal(other.weights(k), changed.weights(k))


def test_weight_parts_of_a_checkpoint_are_checked_and_applied(tmp_path):
    """Weights in parts that do not fit the network are refused naming the tensor; parts that
    fit but differ from this network's (another shared value, a projection stored per synapse)
    are applied synapse by synapse: the weights read back are the checkpoint's."""
    from neuroplastic.network._state import fingerprint, state_tensors
    from neuroplastic.network.checkpoint import write_checkpoint

    net, _ = _small_cuba()
    net.run(10.0)
    good = state_tensors(net)
    nnz = [p.nnz for p in net.projections.values()]
    bad_cases = {
        "weights/stored": good["weights/stored"] + 2,  # not a flag
        "weights/shared": good["weights/shared"][:2],  # not one per projection
        "weights/store": torch.zeros(3, dtype=torch.float64),  # nothing is stored
    }
    for i, (key, value) in enumerate(bad_cases.items()):
        t = {**good, key: value}
        write_checkpoint(tmp_path / f"bad{i}", t, step=net.step, fingerprint=fingerprint(net))
        with pytest.raises(CheckpointError, match=key):
            _small_cuba()[0].load_checkpoint(tmp_path / f"bad{i}")
    t = dict(good)
    del t["weights/store"]
    write_checkpoint(tmp_path / "lacks", t, step=net.step, fingerprint=fingerprint(net))
    with pytest.raises(CheckpointError, match="weights"):
        _small_cuba()[0].load_checkpoint(tmp_path / "lacks")
    # another shared value for projection 0, projection 1 stored per synapse
    w1 = torch.linspace(-1.0, 1.0, nnz[1], dtype=torch.float64)
    t = {**good, "weights/stored": torch.tensor([0, 1, 0, 0]),
         "weights/shared": good["weights/shared"] * torch.tensor([2.0, 1.0, 1.0, 1.0],
                                                                 dtype=torch.float64),
         "weights/store": w1}
    write_checkpoint(tmp_path / "other", t, step=net.step, fingerprint=fingerprint(net))
    other, _ = _small_cuba()
    other.load_checkpoint(tmp_path / "other")
    names = list(other.projections)
    shared = [p.shared_weight for p in net.projections.values()]
    assert torch.equal(other.weights(names[0]), torch.full((nnz[0],), 2 * shared[0],
                                                           dtype=torch.float64))
    assert torch.equal(other.weights(names[1]), w1)
    for k in (2, 3):
        assert torch.equal(other.weights(names[k]), torch.full((nnz[k],), shared[k],
                                                               dtype=torch.float64))


def test_checkpoint_refuses_tampered_pickled_and_foreign_files(tmp_path):
    net = mixed_network("numba")
    net.run(10.0)
    ck = tmp_path / "ck"
    net.save_checkpoint(ck)
    # tampered tensor bytes
    data = bytearray((ck / "state.safetensors").read_bytes())
    data[-3] ^= 0xFF
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "state.safetensors").write_bytes(bytes(data))
    (bad / "meta.json").write_text((ck / "meta.json").read_text())
    with pytest.raises(CheckpointError, match="SHA-256"):
        mixed_network("numba").load_checkpoint(bad)
    # a pickle in place of the tensors, even with a matching hash
    import hashlib

    pk = tmp_path / "pk"
    pk.mkdir()
    blob = pickle.dumps({"v": torch.zeros(3)})
    (pk / "state.safetensors").write_bytes(blob)
    meta = json.loads((ck / "meta.json").read_text())
    meta["sha256"] = hashlib.sha256(blob).hexdigest()
    (pk / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="pickle"):
        mixed_network("numba").load_checkpoint(pk)
    # a network built differently
    other = Network(dt_ms=0.5, batch=2, seed=5)
    other.add_lif("a", 41)
    with pytest.raises(CheckpointError, match="differently built"):
        other.load_checkpoint(ck)
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        mixed_network("numba").load_checkpoint(tmp_path / "missing")


_READ_ALONE = r"""
import json, sys
from neuroplastic.network.checkpoint import CheckpointError, read_checkpoint
good = read_checkpoint(sys.argv[1])
try:
    read_checkpoint(sys.argv[2])
    tampered = "accepted"
except CheckpointError as e:
    tampered = str(e)
print(json.dumps({
    "step": good.step,
    "seed": good.fingerprint["seed"],
    "n_tensors": len(good.tensors),
    "v_shape": list(good.tensors["v"].shape),
    "tampered": tampered,
    "loaded": sorted(m for m in sys.modules if m.startswith("neuroplastic")),
}))
"""


def test_checkpoint_file_is_read_and_verified_without_the_simulator(tmp_path):
    """The format module alone reads a checkpoint and checks its digest: importing it in a fresh
    interpreter imports neither the Network class nor the simulation loop."""
    import subprocess
    import sys

    net = mixed_network("numba")
    net.run(5.0)
    ck = tmp_path / "ck"
    net.save_checkpoint(ck)
    bad = tmp_path / "bad"
    bad.mkdir()
    data = bytearray((ck / "state.safetensors").read_bytes())
    data[-3] ^= 0xFF
    (bad / "state.safetensors").write_bytes(bytes(data))
    (bad / "meta.json").write_text((ck / "meta.json").read_text())
    out = subprocess.run(
        [sys.executable, "-c", _READ_ALONE, str(ck), str(bad)],
        capture_output=True, text=True, timeout=120, check=True,
    )
    got = json.loads(out.stdout)
    assert got["step"] == net.step and got["seed"] == net.seed
    assert got["v_shape"] == [2, 65] and got["n_tensors"] >= 9
    assert "SHA-256" in got["tampered"]
    assert "neuroplastic.network.network" not in got["loaded"]
    assert "neuroplastic.network.simulation" not in got["loaded"]


# ---------------------------------------------------------------- validation
@settings(max_examples=25, deadline=None)
@given(dt=st.one_of(st.floats(max_value=0.0), st.just(float("nan")), st.just(float("inf"))))
def test_network_dt_validated(dt):
    with pytest.raises(ValueError, match="dt_ms"):
        Network(dt_ms=dt)


@settings(max_examples=25, deadline=None)
@given(rate=st.one_of(st.floats(max_value=-1e-6), st.floats(min_value=10001, max_value=1e9),
                      st.just(float("nan"))))
def test_poisson_rates_validated(rate):
    net = Network(dt_ms=0.1)
    with pytest.raises(ValueError, match="rates_hz"):
        net.add_poisson("p", torch.full((3,), rate, dtype=torch.float64))


def test_network_argument_errors():
    with pytest.raises(ValueError, match="backend"):
        Network(backend="cuda-magic")
    net = Network(batch=2)
    net.add_lif("a", 4)
    with pytest.raises(ValueError, match="already used"):
        net.add_lif("a", 4)
    with pytest.raises(ValueError, match="n must be >= 1"):
        net.add_lif("b", 0)
    with pytest.raises(ValueError, match="3 values for a population of 4"):
        net.set_current("a", torch.ones(3))
    with pytest.raises(ValueError, match="finite"):
        net.set_current("a", float("nan"))
    with pytest.raises(ValueError, match="indices"):
        net.add_spike_times("s", 2, [1.0], [5])
    with pytest.raises(ValueError, match="v_init"):
        net.add_lif("c", 2, v_init="random")
    with pytest.raises(ValueError, match="unknown population"):
        net.monitor_spikes("zzz")
    net.run(1.0)
    with pytest.raises(ValueError, match="fixed once it has run"):
        net.add_lif("late", 2)


# ---------------------------------------------------------------- CUBA versus Brian2
# Brian2 2.9.0 (cython target), the network of examples/CUBA.py, 1 s, dt 0.1 ms, averaged over 5
# seeds, measured on this machine on 2026-11-25 with `benchmarks/w1_cuba.py --brian2-stats 5`:
# mean rate over all 4000 neurons, mean ISI CV over neurons with >= 3 spikes. Connectivity is
# random in both simulators, so only statistics can be compared.
BRIAN2_RATE_HZ = 5.605
BRIAN2_ISI_CV = 0.5271


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_cuba_statistics_match_brian2(dtype):
    rates, cvs = [], []
    for seed in range(2):
        net = build_cuba(CubaConfig(seed=seed, dtype=dtype))
        me, mi = net.monitor_spikes("exc"), net.monitor_spikes("inh")
        net.run(1000.0)
        steps = np.concatenate([me.steps.numpy(), mi.steps.numpy()])
        neurons = np.concatenate([me.neurons.numpy(), mi.neurons.numpy() + 3200])
        rates.append(len(steps) / 4000)
        cvs.append(isi_cv(steps, neurons, 4000).mean())
    assert np.mean(rates) == pytest.approx(BRIAN2_RATE_HZ, rel=0.10)
    assert np.mean(cvs) == pytest.approx(BRIAN2_ISI_CV, rel=0.10)


def test_a_monitor_or_current_added_later_drops_the_captured_step_graph():
    """A CUDA graph of the step records no spikes or states and reads no time-varying current:
    adding a monitor or such a current after one was captured must make the next run decide
    again (GPU behaviour:
    tests/test_cuda.py::test_monitor_added_after_graph_capture_records_spikes)."""
    net = mixed_network("torch")
    net._ensure_built()
    for add in (lambda: net.monitor_spikes("d"), lambda: net.monitor_state("d", [0]),
                lambda: net.monitor_rate("d"),
                lambda: net.add_current("d", np.ones((5, net._pops["d"]["n"])), start_ms=1.0)):
        net._sim.step_graph = object()  # as if a graph had been captured
        add()
        assert net._sim.step_graph is None


def test_float64_checkpoints_with_int64_refractory_counters_still_load(tmp_path):
    """Refractory counters are int16 in both precisions (float64 kept int64 before): an older
    float64 checkpoint (int64 counters) resumes bit for bit; counters beyond what int16
    holds are refused by name, not wrapped."""
    from neuroplastic.network._state import fingerprint, state_tensors
    from neuroplastic.network.checkpoint import CheckpointError, write_checkpoint

    ref, mref = _small_cuba()
    ref.run(150.0)
    first, _ = _small_cuba()
    first.run(70.0)
    assert first._sim.ref_left.dtype == torch.int16 and first._sim.v.dtype == torch.float64
    old = dict(state_tensors(first))
    old["ref_left"] = first._sim.ref_left.to(torch.int64)
    assert int(old["ref_left"].max()) > 0  # some neurons are refractory at the cut
    write_checkpoint(tmp_path / "old", old, step=first.step, fingerprint=fingerprint(first))
    resumed, m2 = _small_cuba()
    resumed.load_checkpoint(tmp_path / "old")
    resumed.run(80.0)
    assert torch.equal(mref.steps, m2.steps) and torch.equal(mref.neurons, m2.neurons)
    assert torch.equal(ref.state("exc")["v"], resumed.state("exc")["v"])
    old["ref_left"] = old["ref_left"] + 2**15  # does not fit int16
    write_checkpoint(tmp_path / "wide", old, step=first.step, fingerprint=fingerprint(first))
    with pytest.raises((CheckpointError, ValueError), match="ref_left"):
        _small_cuba()[0].load_checkpoint(tmp_path / "wide")
