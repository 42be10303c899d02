"""On a CUDA device: the simulator's torch loop (batched trials) and the surrogate layers
(Triton kernels) against the CPU results. Skipped without a GPU; run on one with
``pytest -m gpu``. The kernels' logic is also checked on the CPU in Triton's interpreter
(tests/test_surrogate_triton.py) and the GPU's spike delivery by sparse products on the CPU
(tests/test_network.py::test_delivery_by_sparse_matrices_equals_the_index_loop).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_network import BRIAN2_ISI_CV, BRIAN2_RATE_HZ, mixed_network

from neuroplastic.experiments.cuba import CubaConfig, build_cuba, isi_cv
from neuroplastic.network import Network
from neuroplastic.neurons import Analog, LIFParams
from neuroplastic.plasticity import STDPParams
from neuroplastic.surrogate import (
    LIF,
    CubaLIF,
    EventLinear,
    Sequential,
    Surrogate,
    discrete_lif_params,
)
from neuroplastic.surrogate import functional as F
from neuroplastic.synapses import FixedProbability

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def _run_mixed(device: str, by_matrices: bool):
    net = mixed_network("torch", device=device)
    mons = {k: net.monitor_spikes(k) for k in ("a", "d", "poi", "gen")}
    st_mon = net.monitor_state("a", neurons=[0, 5, 7], stride=3)
    net._ensure_built()
    net._sim.by_matrices = by_matrices
    net.run(60.0)
    net.run(57.5)
    return (mons, st_mon.v, {k: {v: x.cpu() for v, x in net.state(k).items()}
                             for k in ("a", "d")}, net.synops)


def test_network_on_cuda_equals_the_cpu():
    """Every feature of the mixed network (noise, mismatch, adaptation, digital neurons,
    Poisson and spike-time sources, delays, currents, batch 2) on the GPU: the same spikes as
    on the CPU, states equal to rounding (the GPU sums a step's events in another order)."""
    gpu = _run_mixed("cuda", True)
    cpu = _run_mixed("cpu", True)
    ref = _run_mixed("cpu", False)  # the per-trial index loop: the reference order
    for other in (cpu, ref):
        for k in gpu[0]:
            assert torch.equal(gpu[0][k].steps, other[0][k].steps), k
            assert torch.equal(gpu[0][k].neurons, other[0][k].neurons), k
        assert gpu[3] == other[3]
        torch.testing.assert_close(gpu[1], other[1], rtol=0, atol=1e-9)
        for pop in ("a", "d"):
            for var in ("v", "i_syn", "theta"):
                torch.testing.assert_close(gpu[2][pop][var], other[2][pop][var], rtol=0,
                                           atol=1e-9)
    assert sum(len(m.steps) for m in gpu[0].values()) > 500


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_batched_cuba_on_cuda_matches_brian2_statistics(dtype):
    """Eight CUBA trials side by side on the GPU (own initial potentials, shared
    connectivity): each trial's rate and ISI CV within 10 % of Brian2's example."""
    B = 8
    net = build_cuba(CubaConfig(seed=3, dtype=dtype), batch=B, device="cuda")
    assert net.backend == "torch"
    me, mi = net.monitor_spikes("exc"), net.monitor_spikes("inh")
    net.run(1000.0)
    steps = np.concatenate([me.steps.numpy(), mi.steps.numpy()])
    batch = np.concatenate([me.batch.numpy(), mi.batch.numpy()])
    neurons = np.concatenate([me.neurons.numpy(), mi.neurons.numpy() + 3200])
    rates, cvs = [], []
    for b in range(B):
        sel = batch == b
        rates.append(sel.sum() / 4000)
        cvs.append(isi_cv(steps[sel], neurons[sel], 4000).mean())
    assert np.allclose(rates, BRIAN2_RATE_HZ, rtol=0.10), rates
    assert np.allclose(cvs, BRIAN2_ISI_CV, rtol=0.10), cvs
    assert len({round(r, 6) for r in rates}) == B  # the trials differ


def test_cuda_graph_steps_equal_eager_steps(monkeypatch):
    """CUBA with a rate monitor only: each step is one CUDA-graph replay; the same spikes,
    counters and states as stepping eagerly (``NEUROPLASTIC_CUDA_GRAPHS=0``)."""
    def run(graphs: bool):
        monkeypatch.setenv("NEUROPLASTIC_CUDA_GRAPHS", "1" if graphs else "0")
        net = build_cuba(CubaConfig(seed=4), batch=4, device="cuda")
        rate = net.monitor_rate("exc")
        net.run(150.0)
        # freed device memory handed to other tensors between the calls (the graph's inputs
        # must be kept alive by the graph, not found again by luck)
        junk = [torch.full((net._sim.n_total, k), 7.0, dtype=torch.float64, device="cuda")
                for k in range(1, 17) for _ in range(4)]
        net.run(100.0)  # a second call: the same graph replayed
        del junk
        assert bool(net._sim.step_graph) == graphs
        return (rate.counts.clone(), net.spike_counts("exc"), net.synops,
                net.state("exc")["v"].cpu())

    (r1, c1, s1, v1), (r0, c0, s0, v0) = run(True), run(False)
    assert torch.equal(r1, r0) and torch.equal(c1, c0) and s1 == s0
    torch.testing.assert_close(v1, v0, rtol=0, atol=1e-9)
    assert int(c0.sum()) > 1000


def test_monitor_added_after_graph_capture_records_spikes(monkeypatch):
    """A spike monitor added after the step was captured as a CUDA graph records the same
    spikes as a network stepped eagerly throughout."""
    def run(graphs: bool):
        monkeypatch.setenv("NEUROPLASTIC_CUDA_GRAPHS", "1" if graphs else "0")
        net = build_cuba(CubaConfig(seed=4), batch=2, device="cuda")
        net.monitor_rate("exc")
        net.run(50.0)
        assert bool(net._sim.step_graph) == graphs
        mon = net.monitor_spikes("exc")
        net.run(50.0)
        return mon.steps.clone(), mon.neurons.clone(), mon.batch.clone()

    graph, eager = run(True), run(False)
    assert all(torch.equal(a, b) for a, b in zip(graph, eager))
    assert graph[0].numel() > 100 and int(graph[0].min()) >= 500


def test_current_added_after_graph_capture_drives_the_network(monkeypatch):
    """A time-varying current added after the step was captured as a CUDA graph acts as it
    does on a network stepped eagerly throughout."""
    def run(graphs: bool):
        monkeypatch.setenv("NEUROPLASTIC_CUDA_GRAPHS", "1" if graphs else "0")
        net = build_cuba(CubaConfig(seed=4), batch=2, device="cuda")
        rate = net.monitor_rate("exc")
        net.run(50.0)
        assert bool(net._sim.step_graph) == graphs
        net.add_current("exc", np.full((200, 3200), 2.0), start_ms=60.0)  # 20 ms of 2 nA
        net.run(50.0)
        return rate.counts.clone()

    graph, eager = run(True), run(False)
    assert torch.equal(graph, eager)
    assert graph[600:800].sum() > 2 * graph[300:500].sum()  # the current drove the network


def test_cuda_network_resumes_bit_for_bit(tmp_path):
    def run(resume: bool):
        net = mixed_network("torch", device="cuda")
        mon = net.monitor_spikes("a")
        net.run(40.0)
        if resume:
            net.save_checkpoint(tmp_path / "ck")
            net2 = mixed_network("torch", device="cuda")
            mon = net2.monitor_spikes("a")
            net2.load_checkpoint(tmp_path / "ck")
            net = net2
        net.run(40.0)
        return mon, net.state("a")["v"].cpu()

    (m1, v1), (m2, v2) = run(False), run(True)
    assert torch.equal(m1.steps, m2.steps) and torch.equal(m1.neurons, m2.neurons)
    assert torch.equal(v1, v2)


def test_plastic_projection_refused_on_cuda():
    net = Network(dt_ms=0.5, device="cuda")
    net.add_lif("a", 10, LIFParams(), Analog())
    net.connect("a", "a", FixedProbability(0.5), weight=0.5, plasticity=STDPParams())
    with pytest.raises(ValueError, match="CPU only"):
        net.run(1.0)


def test_fused_layers_use_the_triton_kernels_on_cuda():
    x = torch.zeros(3, 4, device="cuda")
    eng = F._device_engine(x, x)
    assert eng is not None and not eng.interpret


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kind", ["fast_sigmoid", "sigmoid"])
@pytest.mark.parametrize("layer_cls", [LIF, CubaLIF])
def test_layers_on_cuda_equal_the_cpu(dtype, kind, layer_cls):
    """A layer's spikes on the GPU equal the CPU's bit for bit; gradients to rounding."""
    def grads(device):
        torch.manual_seed(0)
        p = discrete_lif_params(0.9, 1.0, reset_mode="subtract")
        layer = layer_cls(64, p, learn_decay=True, learn_threshold=True, dtype=dtype,
                          surrogate=Surrogate(kind)).to(device)
        g = torch.Generator().manual_seed(5)
        sc = 0.3 if layer_cls is LIF else 0.1  # rates of ~0.1 (the synaptic filter gains)
        x = ((torch.rand(50, 16, 64, generator=g, dtype=dtype) - 0.25) * 2 * sc).to(device)
        x.requires_grad_(True)
        spikes, _ = layer(x)
        (spikes * torch.linspace(-1, 1, 64, dtype=dtype, device=device)).sum().backward()
        return spikes.detach().cpu(), x.grad.cpu(), [q.grad.cpu() for q in layer.parameters()]

    (s1, gx1, gp1), (s0, gx0, gp0) = grads("cuda"), grads("cpu")
    assert torch.equal(s1, s0) and 0 < float(s0.mean()) < 0.5
    # float32: relative error of the whole gradient (a surrogate's 1 - z cancels, so single
    # elements carry the exp's rounding magnified; both devices are equally right)
    rel = 1e-4 if dtype == torch.float32 else 1e-9
    for a, b in zip([gx1, *gp1], [gx0, *gp0]):
        assert float((a - b).norm() / b.norm()) < rel
        assert float(b.abs().max()) > 0


def test_trainer_on_cuda_equals_the_cpu():
    """Trainer(device="cuda"): two epochs of a float64 network, the same history as on the
    CPU to rounding (event-driven CPU products vs dense GPU ones), checkpoint tensors on the
    CPU; and the lab's surrogate-digits trains on the GPU."""
    from neuroplastic.experiments.surrogate_digits import DigitsConfig
    from neuroplastic.experiments.surrogate_digits import run as run_digits
    from neuroplastic.surrogate import Trainer, spike_count_cross_entropy

    def fit(device):
        torch.manual_seed(0)
        p = discrete_lif_params(0.9, 1.0)
        model = Sequential(EventLinear(20, 32, max_density=0.5), LIF(32, p), EventLinear(32, 3),
                           LIF(3, p)).to(torch.float64)
        g = torch.Generator().manual_seed(1)
        data = [((torch.rand(25, 16, 20, generator=g) < 0.2).to(torch.float64),
                 torch.randint(0, 3, (16,), generator=g)) for _ in range(4)]
        opt = torch.optim.Adam(model.parameters(), lr=2e-2)
        tr = Trainer(model, opt, spike_count_cross_entropy, data, epochs=2, seed=5,
                     progress=False, device=device)
        hist = tr.fit()
        tensors, _ = tr.state()
        assert all(t.device.type == "cpu" for t in tensors.values())
        return hist

    h1, h0 = fit("cuda"), fit("cpu")
    for a, b in zip(h1, h0):
        for k in b:
            assert a[k] == pytest.approx(b[k], rel=1e-9, abs=1e-12), k
    res = run_digits(DigitsConfig(epochs=3, hidden=32, num_steps=8, device="cuda"),
                     progress=False)
    assert res.metrics["device"] == "cuda" and res.metrics["test_accuracy"] > 0.5


def test_w3_training_step_on_cuda_equals_the_cpu():
    """Three surrogate layers (W3's shape, smaller), one Adam step: same loss and updated
    weights on the GPU as on the CPU (float64: only summation order differs)."""
    def step(device):
        torch.manual_seed(1)
        p = discrete_lif_params(0.9, 1.0, reset_mode="subtract")
        net = Sequential(EventLinear(70, 32), LIF(32, p), EventLinear(32, 32), LIF(32, p),
                         EventLinear(32, 5), LIF(5, p)).to(dtype=torch.float64)
        g = torch.Generator().manual_seed(2)
        with torch.no_grad():  # drawn on the CPU (the GPU's generator draws other numbers)
            for q in net.parameters():
                if q.dim() == 2:
                    q.normal_(0.0, 3.0 / q.shape[1] ** 0.5, generator=g)
        net.to(device)
        x = (torch.rand(40, 8, 70, generator=g) < 0.1).to(torch.float64).to(device)
        y = torch.randint(0, 5, (8,), generator=g).to(device)
        w_init = [q.detach().cpu().clone() for q in net.parameters()]
        opt = torch.optim.Adam(net.parameters(), lr=1e-2)
        loss = torch.nn.functional.cross_entropy(net(x)[0].sum(0), y)
        loss.backward()
        opt.step()
        return float(loss.detach()), [q.detach().cpu() for q in net.parameters()], w_init

    (l1, w1, _), (l0, w0, w_init) = step("cuda"), step("cpu")
    assert l1 == pytest.approx(l0, rel=1e-12)
    for a, b in zip(w1, w0):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
    assert all(not torch.equal(a, b) for a, b in zip(w0, w_init))  # the step learned


def test_cuba_experiment_runs_its_trials_on_cuda():
    """`neuroplastic run cuba --set trials=4 --set device=cuda`: trial 0 has the CPU run's
    statistics (the same draws; delivery summed in another order)."""
    from neuroplastic.experiments.configs.cuba import CubaConfig as Cfg
    from neuroplastic.experiments.cuba import run

    small = dict(n_neurons=400, duration_ms=200.0, seed=3)
    cpu = run(Cfg(**small), progress=False).metrics
    gpu = run(Cfg(**small, trials=4, device="cuda"), progress=False).metrics
    assert gpu["device"] == "cuda" and gpu["trials"] == 4
    assert gpu["rate_hz_mean"] == pytest.approx(cpu["rate_hz_mean"], rel=0.10)
    assert gpu["rate_hz_trials_sd"] > 0
