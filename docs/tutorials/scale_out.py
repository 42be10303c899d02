"""Tutorial: scale out — float32, many trials at once, NEST, PyNN and SONATA.

Run it with ``.venv/bin/python docs/tutorials/scale_out.py`` (about half a minute). Every
claim is an ``assert``; ``tests/test_tutorials.py`` runs this file. The NEST parts need
``pip install nest-simulator`` (pinned for CI) and are skipped, saying so, without it.

One network, the CUBA benchmark network of Brian2 and NEST (Vogels & Abbott 2005), taken
three ways past a single float64 run: half the bytes per neuron, many independent trials in
one run (on a GPU when there is one), and another simulator built for clusters.
"""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path

import numpy as np
import torch

from neuroplastic.experiments.cuba import CubaConfig, build_cuba, isi_cv


def rate_and_cv(mons: dict, n: int, ms: float) -> tuple[float, float]:
    """Mean rate (Hz) and mean ISI CV over both populations of one trial."""
    exc, inh = mons["exc"], mons["inh"]
    steps = np.concatenate([exc.steps.numpy(), inh.steps.numpy()])
    neurons = np.concatenate([exc.neurons.numpy(), inh.neurons.numpy() + exc.n])
    return len(steps) / n / (ms / 1e3), float(isi_cv(steps, neurons, n).mean())


def cuba(cfg: CubaConfig, **kw):
    net = build_cuba(cfg, **kw)
    net.monitor_spikes("exc")
    net.monitor_spikes("inh")
    return net


# [precision]
# float64 is the default and the reference; dtype="float32" halves the bytes streamed per
# neuron and step (the large networks of W1-scale run 1.3-1.6x faster). The network is chaotic:
# one rounding apart, the spike trains part ways, while the statistics stay.
cfg = CubaConfig(n_neurons=4000, seed=0, duration_ms=500.0)
stats = {}
for dtype in ("float64", "float32"):
    net = cuba(CubaConfig(n_neurons=4000, seed=0, duration_ms=500.0, dtype=dtype))
    net.run(cfg.duration_ms)
    stats[dtype] = rate_and_cv(net.spike_monitors, cfg.n_neurons, cfg.duration_ms)
    print(f"{dtype}: {stats[dtype][0]:.2f} Hz, ISI CV {stats[dtype][1]:.3f}")
(r64, cv64), (r32, cv32) = stats["float64"], stats["float32"]
assert abs(r32 - r64) < 0.10 * r64 and abs(cv32 - cv64) < 0.10 * cv64
# [precision-end]

# [trials]
# batch=B: B independent trials (own initial potentials, noise and inputs) on one shared
# connectivity, in one run. On a GPU (device="cuda") each step of all trials is one CUDA-graph
# replay; from about a hundred trials on that beats the compiled CPU loop (BENCHMARKS.md).
device = "cuda" if torch.cuda.is_available() else "cpu"
B = 8
net = build_cuba(CubaConfig(n_neurons=4000, seed=0), batch=B, device=device)
rate = net.monitor_rate("exc")  # spikes per step and trial (a rate monitor keeps no spikes)
net.run(300.0)
per_trial = rate.rate_hz.mean(dim=0)  # (B,) Hz
print(f"{B} trials on {device}: {float(per_trial.min()):.2f}-{float(per_trial.max()):.2f} Hz")
assert len({tuple(c.tolist()) for c in rate.counts.T.cpu()}) == B  # the trials differ
assert abs(float(per_trial.mean()) - r64) < 0.15 * r64  # ... with the same statistics
# [trials-end]

HAVE_NEST = importlib.util.find_spec("nest") is not None
if not HAVE_NEST:
    print("NEST is not installed (pip install nest-simulator): its part is skipped")
else:
    # [nest]
    # The same network built in NEST (iaf_psc_exp, exact connectivity, weights and delays);
    # spikes come back in this package's monitors. NEST's smallest delay is one step, so the
    # zero delays of CUBA become one step (zero_delay="one_step", what backend="nest" does).
    # threads=k runs NEST's OpenMP threads; on a cluster with an MPI-enabled NEST the same
    # script runs as `mpirun -np N python script.py` (not tested here: the wheel has no MPI).
    small = CubaConfig(n_neurons=1000, p_connect=0.08, duration_ms=400.0, seed=2)
    ours = cuba(small)
    ours.run(small.duration_ms)
    res = cuba(small).run(small.duration_ms, backend="nest", threads=2)
    r_ours, cv_ours = rate_and_cv(ours.spike_monitors, small.n_neurons, small.duration_ms)
    r_nest, cv_nest = rate_and_cv(res.spike_monitors, small.n_neurons, small.duration_ms)
    print(f"ours {r_ours:.2f} Hz / CV {cv_ours:.3f}; NEST {r_nest:.2f} Hz / CV {cv_nest:.3f}")
    assert abs(r_nest - r_ours) < 0.10 * r_ours and abs(cv_nest - cv_ours) < 0.10 * cv_ours
    # [nest-end]

    # [triplet]
    # Plasticity rules NEST also has can be checked against NEST's own implementation: here
    # triplet STDP (Pfister & Gerstner 2006) on a recorded pairing protocol, pre then post
    # 6 ms later at 50 Hz, then a few lone pre spikes (NEST applies potentiation when the next
    # pre spike arrives, so a protocol ends with one).
    from neuroplastic.interop.nest import run_triplet_stdp
    from neuroplastic.plasticity import TripletParams, init_triplet_state, triplet_step

    params = TripletParams.visual_cortex(learning_rate=20.0, w_min=0.0, w_max=1.0)
    pre = np.concatenate([np.arange(20, 2000, 200), [2100, 2150]])
    post = np.arange(20, 2000, 200) + 60
    n_steps, dt = 2300, 0.1
    w, state = torch.full((1, 1), 0.3, dtype=torch.float64), init_triplet_state(1, 1, 1)
    for s in range(n_steps):
        w, state = triplet_step(w, torch.tensor([[s in pre]]), torch.tensor([[s in post]]),
                                state, params, dt_ms=dt)
    on_nest = run_triplet_stdp(pre, post, params, dt, n_steps * dt, w_init=0.3)
    print(f"triplet STDP: ours {float(w):.12f}, NEST {on_nest.weight:.12f}")
    assert float(w) > 0.35 and abs(float(w) - on_nest.weight) < 1e-9
    # [triplet-end]

# [export]
# For Brian2, NEURON or SpiNNaker users: a standalone PyNN script (with the arrays in an .npz
# beside it; `python net.py nest 1000` runs it) and a SONATA circuit.
from neuroplastic.interop.pynn import export_pynn_script  # noqa: E402
from neuroplastic.interop.sonata import export_sonata  # noqa: E402

with tempfile.TemporaryDirectory() as tmp:
    net = cuba(CubaConfig(n_neurons=1000, p_connect=0.08, seed=2))
    script, arrays = export_pynn_script(net, Path(tmp) / "pynn" / "cuba.py",
                                        zero_delay="one_step")
    config = export_sonata(net, Path(tmp) / "sonata", zero_delay="one_step")
    print(script.name, arrays.name, config.name)
    assert "mpirun -np N python cuba.py nest" in script.read_text()
    with np.load(arrays) as data:  # parameters in PyNN's units, connectivity as lists
        assert "pop/exc/tau_m" in data.files
    assert config.exists()
# [export-end]
