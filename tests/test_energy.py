"""Energy accounting: exact counters against brute force, P = N r k E_syn against Poisson
networks, cited profiles, dense-ANN comparison by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.constants
import scipy.sparse
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure
from torch import nn

from neuroplastic.energy import (
    ATP_HYDROLYSIS,
    HOROWITZ_45NM,
    PROFILES,
    ActivityCounts,
    EnergyFigure,
    HardwareProfile,
    LayerCounts,
    analytic_power_w,
    analytic_synops,
    conv2d_fan_out,
    count_from_events,
    count_from_raster,
    count_module_activity,
    energy_report,
    event_driven_weight_updates,
    fan_out_from_csr,
    fan_out_from_dense,
    get_profile,
    landauer_limit_j,
    plot_energy,
    synops_from_spikes,
)

PJ = 1e-12


# ---------------------------------------------------------------------------------------------
# Exact counting against brute force
# ---------------------------------------------------------------------------------------------
def _random_raster(rng, t, b, n, p=0.2, max_count=1):
    spikes = (rng.random((t, b, n)) < p).astype(np.int64)
    if max_count > 1:  # some bins hold several spikes (coarse binning)
        spikes *= rng.integers(1, max_count + 1, size=(t, b, n))
    return spikes


def _brute_synops_csr(spikes, csr):
    """Walk every spike and, for each, every outgoing synapse of its neuron."""
    total = 0
    t_len, b_len, n = spikes.shape
    for t in range(t_len):
        for b in range(b_len):
            for i in range(n):
                for _ in range(int(spikes[t, b, i])):
                    for _syn in range(csr.indptr[i], csr.indptr[i + 1]):
                        total += 1
    return total


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("max_count", [1, 3])
def test_synops_from_csr_equal_brute_force(seed, max_count):
    rng = np.random.default_rng(seed)
    n_pre, n_post = 37, 23
    csr = scipy.sparse.random(
        n_pre, n_post, density=0.3, format="csr", random_state=seed, dtype=np.float64
    )
    spikes = _random_raster(rng, 6, 3, n_pre, max_count=max_count)
    counts = count_from_raster(spikes, fan_out_from_csr(csr.indptr), n_post=n_post)
    assert counts.synops == _brute_synops_csr(spikes, csr)
    assert counts.spikes_in == spikes.sum()
    assert counts.n_synapses == csr.nnz
    assert counts.dense_macs == n_pre * n_post * 6 * 3
    assert counts.neuron_updates == n_post * 6 * 3


@pytest.mark.parametrize("layout", ["post_pre", "pre_post"])
def test_synops_from_dense_mask_equal_brute_force(layout):
    rng = np.random.default_rng(5)
    n_pre, n_post = 19, 31
    mask = rng.random((n_post, n_pre)) < 0.4  # (post, pre)
    weight = np.where(mask, rng.normal(size=mask.shape), 0.0)
    given_w = weight if layout == "post_pre" else weight.T
    spikes = _random_raster(rng, 8, 2, n_pre)
    brute = 0
    for t, b, i in zip(*np.nonzero(spikes)):
        for j in range(n_post):
            if weight[j, i] != 0:
                brute += int(spikes[t, b, i])
    fan = fan_out_from_dense(given_w, layout=layout)
    assert fan.dtype == np.int64
    assert count_from_raster(spikes, fan, n_post=n_post).synops == brute


def test_torch_and_numpy_inputs_agree_and_events_match_raster():
    rng = np.random.default_rng(3)
    spikes = _random_raster(rng, 10, 4, 25)
    fan = rng.integers(0, 40, size=25)
    a = count_from_raster(spikes, fan, n_post=40)
    b = count_from_raster(torch.from_numpy(spikes).bool(), torch.from_numpy(fan), n_post=40)
    c = count_from_raster(torch.from_numpy(spikes).float(), fan, n_post=40)
    t_idx, b_idx, i_idx = np.nonzero(spikes)
    d = count_from_events(i_idx, fan, steps=10, batch=4, n_post=40)
    assert a == b == c == d
    assert a.synops == sum(int(fan[i]) for i in i_idx)


def test_synops_from_spikes_exact_for_large_values():
    # Beyond float64's 2**53 exact-integer range: the count must still be exact.
    c = np.array([2**40 + 1, 3], dtype=np.int64)
    k = np.array([2**20 + 1, 5], dtype=np.int64)
    assert synops_from_spikes(c, k) == (2**40 + 1) * (2**20 + 1) + 15


def test_event_driven_weight_updates_brute_force():
    rng = np.random.default_rng(11)
    n_pre, n_post = 12, 9
    mask = rng.random((n_post, n_pre)) < 0.5
    pre = rng.integers(0, 4, size=n_pre)
    post = rng.integers(0, 4, size=n_post)
    brute = 0
    for i in range(n_pre):
        for _ in range(pre[i]):  # each pre spike updates its outgoing synapses
            brute += int(mask[:, i].sum())
    for j in range(n_post):
        for _ in range(post[j]):  # each post spike updates its incoming synapses
            brute += int(mask[j, :].sum())
    fan_in = fan_out_from_dense(mask.T)  # incoming synapses per post neuron
    assert event_driven_weight_updates(pre, fan_out_from_dense(mask), post, fan_in) == brute


def _brute_conv_fan_out(weight, in_hw, stride, padding, dilation, groups, circular=False):
    """``padding`` is (ph, pw) (symmetric) or (top, bottom, left, right)."""
    c_out, c_in_g, kh, kw = weight.shape
    c_in = c_in_g * groups
    h, w = in_hw
    (sh, sw), (dh, dw) = stride, dilation
    top, bottom, left, right = (
        padding if len(padding) == 4 else (padding[0],) * 2 + (padding[1],) * 2
    )
    ph, pw = top, left
    h_out = (h + top + bottom - dh * (kh - 1) - 1) // sh + 1
    w_out = (w + left + right - dw * (kw - 1) - 1) // sw + 1
    fan = np.zeros((c_in, h, w), dtype=np.int64)
    per_group_out = c_out // groups
    for oc in range(c_out):
        g = oc // per_group_out
        for oy in range(h_out):
            for ox in range(w_out):
                for ic_g in range(c_in_g):
                    for ky in range(kh):
                        for kx in range(kw):
                            if weight[oc, ic_g, ky, kx] == 0:
                                continue
                            iy = oy * sh - ph + ky * dh
                            ix = ox * sw - pw + kx * dw
                            if circular:
                                iy, ix = iy % h, ix % w
                            elif not (0 <= iy < h and 0 <= ix < w):
                                continue  # a padding tap: no input neuron, no synapse
                            fan[g * c_in_g + ic_g, iy, ix] += 1
    return fan.reshape(-1)


@pytest.mark.parametrize(
    "c_in,c_out,k,stride,padding,dilation,groups,hw,mode",
    [
        (1, 3, 3, 1, 0, 1, 1, (6, 7), "zeros"),
        (2, 4, 3, 2, 1, 1, 1, (9, 8), "zeros"),
        (4, 6, (3, 2), (2, 1), (2, 1), (1, 2), 2, (8, 9), "zeros"),
        (2, 2, 5, 3, 2, 1, 1, (11, 10), "zeros"),
        (2, 4, 3, 1, 1, 1, 2, (5, 6), "circular"),
    ],
)
def test_conv2d_fan_out_equals_brute_force(
    c_in, c_out, k, stride, padding, dilation, groups, hw, mode
):
    torch.manual_seed(0)
    conv = nn.Conv2d(
        c_in,
        c_out,
        k,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        padding_mode=mode,
        bias=False,
    )
    with torch.no_grad():  # prune some weights: they must not count as synapses
        conv.weight[torch.rand_like(conv.weight) < 0.3] = 0.0
    pair = lambda v: v if isinstance(v, tuple) else (v, v)  # noqa: E731
    expected = _brute_conv_fan_out(
        conv.weight.detach().numpy(),
        hw,
        pair(stride),
        pair(padding),
        pair(dilation),
        groups,
        circular=(mode == "circular"),
    )
    got = conv2d_fan_out(conv, hw)
    np.testing.assert_array_equal(got, expected)
    assert got.sum() < conv2d_fan_out(conv, hw, nonzero_only=False).sum()  # pruning counted


@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_conv2d_same_padding_and_module_counts():
    torch.manual_seed(1)
    conv = nn.Conv2d(2, 3, 4, padding="same", bias=False)  # even kernel: asymmetric padding
    fan = conv2d_fan_out(conv, (6, 5))
    # 'same' with k=4, dilation 1: total pad 3 -> 1 before, 2 after (torch's convention)
    assert conv(torch.zeros(1, 2, 6, 5)).numel() == 3 * 6 * 5
    expected = _brute_conv_fan_out(
        conv.weight.detach().numpy(), (6, 5), (1, 1), (1, 2, 1, 2), (1, 1), 1
    )
    np.testing.assert_array_equal(fan, expected)

    spikes = (torch.rand(4, 2, 2, 6, 5) < 0.3).float()
    counts = count_module_activity([(spikes, conv)], names=["conv"])
    layer = counts.layers[0]
    assert layer.synops == int((spikes.sum(dim=(0, 1)).reshape(-1).numpy() * fan).sum())
    assert layer.n_post == 90 and layer.n_pre == 60
    # dense MACs: C_out * H_out * W_out * C_in * kh * kw per step and sample (hand count)
    assert layer.dense_macs == 3 * 6 * 5 * 2 * 4 * 4 * 4 * 2


def test_count_module_activity_linear_brute_force():
    torch.manual_seed(2)
    lin1, lin2 = nn.Linear(20, 15), nn.Linear(15, 4)
    with torch.no_grad():
        lin1.weight[:, :5] = 0.0  # inputs 0..4 have no synapses
    s1 = (torch.rand(7, 3, 20) < 0.3).float()
    s2 = (torch.rand(7, 3, 15) < 0.3).float()
    counts = count_module_activity([(s1, lin1), (s2, lin2.weight)], names=["in", "out"])
    brute = 0
    for _t, _b, i in torch.nonzero(s1).tolist():
        brute += int((lin1.weight[:, i] != 0).sum())
    assert counts.layers[0].synops == brute
    assert counts.layers[1].synops == int(s2.sum()) * 4
    assert counts.dense_macs == (20 * 15 + 15 * 4) * 7 * 3
    assert counts.spikes_per_layer() == {"in": int(s1.sum()), "out": int(s2.sum())}


# ---------------------------------------------------------------------------------------------
# P = N r k E_syn against Poisson networks
# ---------------------------------------------------------------------------------------------
DT = 1e-3  # s
STEPS, BATCH, N_PRE, N_POST = 1000, 2, 400, 200
RATE = 20.0  # Hz


def _poisson_raster(seed, rate=RATE):
    rng = np.random.default_rng(seed)
    return rng.random((STEPS, BATCH, N_PRE)) < rate * DT


def test_analytic_matches_counted_fixed_fan_out_and_wrong_rate_fails():
    k = 50
    spikes = _poisson_raster(0)
    counts = ActivityCounts(
        (count_from_raster(spikes, np.full(N_PRE, k), n_post=N_POST, name="exc"),)
    )
    duration = STEPS * DT
    report = energy_report(counts, duration_s=duration, profiles=["loihi", "truenorth"])
    e_syn = get_profile("loihi").synop.value_j
    # counted synaptic energy on Loihi = SynOps x 23.6 pJ
    assert report._get("loihi").synaptic_j == pytest.approx(counts.synops * e_syn, rel=1e-12)

    # Each neuron's count is Binomial(M, p): Var[S] = k^2 N M p (1 - p).
    m, p = STEPS * BATCH, RATE * DT
    sigma_s = k * math.sqrt(N_PRE * m * p * (1 - p))
    expected_e = analytic_power_w(N_PRE, RATE, k, e_syn) * duration * BATCH
    counted_e = counts.synops * e_syn
    assert abs(counted_e - expected_e) < 4 * sigma_s * e_syn
    # a 10 % wrong rate is ~13 sigma away: the comparison has power
    wrong_e = analytic_power_w(N_PRE, 1.1 * RATE, k, e_syn) * duration * BATCH
    assert abs(counted_e - wrong_e) > 4 * sigma_s * e_syn
    # with fixed fan-out, mean field is exact given the measured rate
    assert report.synops_analytic == counts.synops


def test_analytic_matches_counted_random_fan_out():
    q = 0.25
    rng = np.random.default_rng(1)
    mask = rng.random((N_POST, N_PRE)) < q  # Erdos-Renyi: k_i ~ Binomial(N_POST, q)
    spikes = _poisson_raster(2)
    layer = count_from_raster(spikes, fan_out_from_dense(mask), n_post=N_POST)
    k0 = q * N_POST
    m, p = STEPS * BATCH, RATE * DT
    # S = sum_i k_i c_i with k_i, c_i independent:
    # Var[k c] = E[k^2] E[c^2] - (E k E c)^2
    ek2 = N_POST * q * (1 - q) + k0**2
    ec2 = m * p * (1 - p) + (m * p) ** 2
    sigma_s = math.sqrt(N_PRE * (ek2 * ec2 - (k0 * m * p) ** 2))
    expected = analytic_synops(N_PRE, RATE, k0, STEPS * DT) * BATCH
    assert abs(layer.synops - expected) < 4 * sigma_s
    for wrong_rate in (0.9 * RATE, 1.1 * RATE):
        wrong = analytic_synops(N_PRE, wrong_rate, k0, STEPS * DT) * BATCH
        assert abs(layer.synops - wrong) > 4 * sigma_s


def test_rate_fan_out_correlation_separates_counted_from_mean_field():
    # Neuron 0 (fan-out 3) spikes once, neuron 1 (fan-out 1) is silent:
    # counted = 3, mean field N r k t = 1 spike x mean k 2 = 2.
    layer = count_from_raster(np.array([[[1, 0]]]), [3, 1], n_post=3)
    report = energy_report(ActivityCounts((layer,)), duration_s=1.0, profiles=["truenorth"])
    assert layer.synops == 3
    assert report.synops_analytic == 2.0
    tn = report._get("truenorth")
    assert tn.synaptic_j == pytest.approx(3 * 26 * PJ)
    assert tn.analytic_synaptic_j == pytest.approx(2 * 26 * PJ)


# ---------------------------------------------------------------------------------------------
# Profiles
# ---------------------------------------------------------------------------------------------
def test_registry_names_and_every_figure_cited():
    required = {"cmos45", "cmos45_ann", "loihi", "truenorth", "biology", "landauer"}
    assert required <= set(PROFILES)
    for name, profile in PROFILES.items():
        assert profile.name == name
        figs = profile.figures()
        assert figs, name
        for fig in figs.values():
            assert isinstance(fig, EnergyFigure)
            assert fig.kind in ("measured", "estimated", "bound")
            assert len(fig.source) > 10 and any(ch.isdigit() for ch in fig.source)  # has a year
            assert fig.value_j > 0 and math.isfinite(fig.value_j)


def test_published_figures():
    h = HOROWITZ_45NM
    assert h["fp32_add"].value_j == pytest.approx(0.9 * PJ)
    assert h["fp32_mult"].value_j == pytest.approx(3.7 * PJ)
    assert h["fp32_mac"].value_j == pytest.approx(h["fp32_add"].value_j + h["fp32_mult"].value_j)
    assert h["int32_add"].value_j == pytest.approx(0.1 * PJ)
    assert h["int32_mult"].value_j == pytest.approx(3.1 * PJ)
    assert h["sram_8kb_64bit"].value_j == pytest.approx(10 * PJ)
    assert h["dram_32bit"].value_j == pytest.approx(640 * PJ)
    loihi, tn = get_profile("loihi"), get_profile("truenorth")
    assert loihi.synop.value_j == pytest.approx(23.6 * PJ) and loihi.synop.kind == "estimated"
    assert loihi.weight_update.value_j == pytest.approx(120 * PJ)
    assert tn.synop.value_j == pytest.approx(26 * PJ) and tn.synop.kind == "measured"
    assert "Science 345" in tn.synop.source and "IEEE Micro" in loihi.synop.source
    # ATP: 30.5 kJ/mol / N_A ~ 5.06e-20 J; synaptic event = 0.25 x 1.64e5 ATP
    assert ATP_HYDROLYSIS.value_j == pytest.approx(5.065e-20, rel=1e-3)
    bio = get_profile("biology")
    assert bio.synop.value_j == pytest.approx(0.25 * 1.64e5 * 30.5e3 / 6.02214076e23)
    assert bio.spike.value_j == pytest.approx(3.84e8 * 30.5e3 / 6.02214076e23)
    assert "Attwell" in bio.synop.source


def test_landauer_bound_from_constants():
    expected = scipy.constants.Boltzmann * 300.0 * math.log(2)
    assert landauer_limit_j(300.0) == expected
    assert landauer_limit_j(300.0) == pytest.approx(2.87e-21, rel=2e-3)
    fig = get_profile("landauer").synop
    assert fig.kind == "bound" and fig.value_j == expected
    # every physical substrate sits above the bound
    for p in PROFILES.values():
        e = p.e_syn_j if p.mode == "event" else p.e_mac_j
        assert e >= expected


def test_unknown_profile_lists_known_names():
    with pytest.raises(ValueError) as err:
        get_profile("spinnaker")
    for name in PROFILES:
        assert name in str(err.value)
    assert "spinnaker" in str(err.value)
    with pytest.raises(ValueError, match="known profiles"):
        energy_report(
            ActivityCounts((count_from_raster(np.ones((1, 1, 2)), [1, 1], n_post=1),)),
            duration_s=1.0,
            profiles=["loihi", "nope"],
        )


@settings(max_examples=25, deadline=None)
@given(st.one_of(st.floats(max_value=-1e-30), st.just(math.nan), st.just(math.inf)))
def test_energy_figure_rejects_bad_values(value):
    with pytest.raises(ValueError, match="value_j"):
        EnergyFigure(value, "op", "Someone 2020", "measured")


@settings(max_examples=25, deadline=None)
@given(st.text(max_size=12).filter(lambda s: s not in ("measured", "estimated", "bound")))
def test_energy_figure_rejects_bad_kind(kind):
    with pytest.raises(ValueError, match="kind"):
        EnergyFigure(1e-12, "op", "Someone 2020", kind)


def test_profile_validation():
    with pytest.raises(ValueError, match="source"):
        EnergyFigure(1e-12, "op", "  ", "measured")
    with pytest.raises(ValueError, match="synop"):
        HardwareProfile("x", "no synop", "event")
    with pytest.raises(ValueError, match="mac"):
        HardwareProfile("x", "no mac", "dense")
    with pytest.raises(ValueError, match="mode"):
        HardwareProfile("x", "bad", "analog")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Dense-ANN comparison and the report
# ---------------------------------------------------------------------------------------------
def test_dense_ann_comparison_by_hand():
    # 784 -> 100 fully connected, one step, one sample, exactly 10 inputs spike once.
    weight = torch.ones(100, 784)
    spikes = torch.zeros(1, 1, 784)
    spikes[0, 0, :10] = 1.0
    counts = count_module_activity([(spikes, weight)])
    report = energy_report(counts, duration_s=1e-3)
    macs = 784 * 100
    assert counts.dense_macs == macs
    e_ann = macs * (4.6 + 5.0) * PJ  # fp32 MAC + 32-bit SRAM weight read per MAC
    assert report.energy_per_inference_j("cmos45_ann") == pytest.approx(e_ann)  # 7.5264e-7 J
    assert e_ann == pytest.approx(7.5264e-7)
    # Loihi: 1000 SynOps x 23.6 + 10 spikes x 1.7 + 100 neuron updates x 52 pJ
    e_loihi = (1000 * 23.6 + 10 * 1.7 + 100 * 52) * PJ
    assert report.energy_per_inference_j("loihi") == pytest.approx(e_loihi)
    assert report.ann_ratio("loihi") == pytest.approx(e_loihi / e_ann)
    # cmos45 SNN: 1000 x (0.9 + 5) + 100 neuron updates x 4.6 pJ
    e_cmos = (1000 * 5.9 + 100 * 4.6) * PJ
    assert report.energy_per_inference_j("cmos45") == pytest.approx(e_cmos)
    assert report.power_w("truenorth") == pytest.approx(1000 * 26 * PJ / 1e-3)


def test_dense_equivalent_per_inference_is_one_pass():
    # 784 -> 100 over T = 100 steps, 3 samples: a static ANN does 78400 MACs per sample,
    # a per-step dense network 100 x that.
    spikes = torch.zeros(100, 3, 784)
    counts = count_module_activity([(spikes, torch.ones(100, 784))])
    once = energy_report(counts, duration_s=0.1, dense_equivalent="per_inference")
    every = energy_report(counts, duration_s=0.1)
    e_pass = 784 * 100 * (4.6 + 5.0) * PJ
    assert once.energy_per_inference_j("cmos45_ann") == pytest.approx(e_pass)
    assert every.energy_per_inference_j("cmos45_ann") == pytest.approx(100 * e_pass)
    assert once.to_dict()["dense_macs_charged"] == 784 * 100 * 3
    # no spikes: the event-driven chips pay only for neuron updates
    assert once.energy_per_inference_j("truenorth") == 0.0
    assert once.energy_per_inference_j("loihi") == pytest.approx(100 * 100 * 52 * PJ)
    with pytest.raises(ValueError, match="dense_equivalent"):
        energy_report(counts, duration_s=0.1, dense_equivalent="sometimes")  # type: ignore


def test_report_dict_is_flat_and_consistent():
    rng = np.random.default_rng(4)
    l1 = count_from_raster(
        _random_raster(rng, 50, 4, 30),
        rng.integers(1, 20, 30),
        n_post=20,
        name="hidden",
        weight_updates=123,
    )
    l2 = count_from_raster(_random_raster(rng, 50, 4, 20), np.full(20, 5), n_post=5, name="out")
    counts = ActivityCounts((l1, l2))
    report = energy_report(counts, duration_s=0.05)
    d = report.to_dict()
    assert all(isinstance(v, (int, float, str)) for v in d.values())
    assert d["synops_counted"] == l1.synops + l2.synops
    assert d["synops_analytic"] == pytest.approx(
        l1.spikes_in * l1.n_synapses / 30 + l2.spikes_in * 5
    )
    assert d["weight_updates"] == 123
    for name in ("cmos45", "cmos45_ann", "loihi", "truenorth", "biology", "landauer"):
        e = d[f"energy_per_inference_j_{name}"]
        assert e == pytest.approx(report._get(name).total_j / 4)
        assert d[f"power_w_{name}"] == pytest.approx(e / 0.05)
        per_layer = sum(d[f"layer_{ln}_energy_per_inference_j_{name}"] for ln in ("hidden", "out"))
        assert per_layer == pytest.approx(e)
    assert d["ann_ratio_cmos45_ann"] == 1.0
    # plasticity is charged on Loihi: 123 x 120 pJ
    assert report._get("loihi").plasticity_j == pytest.approx(123 * 120 * PJ)
    # P_dyn per layer = N r k E_syn with r from the counts
    r1 = l1.spikes_in / (30 * 4 * 0.05)
    p1 = analytic_power_w(30, r1, l1.mean_fan_out, get_profile("loihi").e_syn_j)
    r2 = l2.spikes_in / (20 * 4 * 0.05)
    p2 = analytic_power_w(20, r2, 5.0, get_profile("loihi").e_syn_j)
    assert d["power_synaptic_analytic_w_loihi"] == pytest.approx(p1 + p2)


def test_plot_energy_log_bars():
    layer = count_from_raster(np.ones((2, 1, 3)), [2, 2, 2], n_post=2)
    report = energy_report(ActivityCounts((layer,)), duration_s=0.01)
    fig = plot_energy(report)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    heights = [patch.get_height() for patch in ax.patches]
    expected = [report.energy_per_inference_j(p.profile) for p in report.profiles]
    np.testing.assert_allclose(heights[: len(expected)], expected)


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(st.integers(max_value=-1))
def test_layer_counts_reject_negative(value):
    good = dict(
        name="l",
        n_pre=2,
        n_post=2,
        steps=1,
        batch=1,
        spikes_in=0,
        synops=0,
        n_synapses=0,
        dense_macs=4,
        neuron_updates=2,
    )
    for field_name in ("synops", "spikes_in", "dense_macs"):
        with pytest.raises(ValueError, match=field_name):
            LayerCounts(**{**good, field_name: value})


def test_input_validation():
    with pytest.raises(ValueError, match="spikes"):
        count_from_raster(np.full((2, 1, 3), 0.5), [1, 1, 1], n_post=1)
    with pytest.raises(ValueError, match="spikes"):
        count_from_raster(-np.ones((2, 1, 3)), [1, 1, 1], n_post=1)
    with pytest.raises(ValueError, match="fan_out"):
        count_from_raster(np.ones((2, 1, 3)), [1, 1], n_post=1)
    with pytest.raises(ValueError, match="indptr"):
        fan_out_from_csr([0, 3, 2])
    with pytest.raises(ValueError, match="layout"):
        fan_out_from_dense(np.ones((2, 2)), layout="rows")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pre_addresses"):
        count_from_events([0, 5], [1, 1], steps=1, batch=1, n_post=1)
    a = count_from_raster(np.ones((2, 1, 3)), [1, 1, 1], n_post=1, name="a")
    b = count_from_raster(np.ones((3, 1, 3)), [1, 1, 1], n_post=1, name="b")
    with pytest.raises(ValueError, match="steps, batch"):
        ActivityCounts((a, b))
    with pytest.raises(ValueError, match="unique"):
        ActivityCounts((a, a))
    with pytest.raises(ValueError, match="duration_s"):
        energy_report(ActivityCounts((a,)), duration_s=0.0)
