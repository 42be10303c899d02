"""Tutorial: count the energy of your model.

Run it with ``.venv/bin/python docs/tutorials/energy_counting.py`` (a few seconds). Every claim
is an ``assert``; ``tests/test_tutorials.py`` runs this file.

Energy is counted, not guessed: exact activity counts (spikes, synaptic operations, MACs,
neuron updates) times cited per-event figures of hardware profiles.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from neuroplastic.energy import (
    PROFILES,
    EnergyFigure,
    HardwareProfile,
    analytic_power_w,
    count_module_activity,
    energy_from_network,
    energy_report,
    fan_out_from_csr,
    get_profile,
    layer_energy_j,
    synops_from_spikes,
)
from neuroplastic.network import Network
from neuroplastic.neurons import LIFParams
from neuroplastic.surrogate import LIF, Sequential, TimeDistributed, discrete_lif_params
from neuroplastic.synapses import FixedProbability

# [profiles]
# Every profile is a set of cited figures, each "measured", "estimated" or a "bound".
print(", ".join(PROFILES))  # cmos45, cmos45_ann, cmos45_ann_dram, loihi, truenorth, ...
loihi = get_profile("loihi")
for field, figure in loihi.figures().items():
    print(f"loihi {field}: {figure.value_j:.3g} J {figure.unit_desc} ({figure.kind})")
print("source:", loihi.synop.source)
assert loihi.mode == "event" and loihi.e_syn_j > 0
# [profiles-end]

# [simulator]
# A simulator network: 200 Poisson inputs at 20 Hz -> 100 LIF neurons -> 50 LIF neurons.
DURATION_MS, RATE_HZ = 500.0, 20.0
net = Network(dt_ms=0.1, seed=0)
net.add_poisson("input", torch.full((200,), RATE_HZ))
net.add_lif("hidden", 100, LIFParams(tau_mem_ms=20.0, v_thresh_mv=-55.0))
net.add_lif("out", 50, LIFParams())
first = net.connect("input", "hidden", FixedProbability(0.1), weight=6.0)
net.connect("hidden", "out", FixedProbability(0.2), weight=8.0)
inputs = net.monitor_spikes("input")
net.run(DURATION_MS)

# The compiled loop counts every spike and every delivered synaptic event; energy_from_network
# reads those counters (one layer per projection).
counts = energy_from_network(net, duration_s=DURATION_MS / 1000)
layer = counts.layers[0]  # input -> hidden
# Exact: SynOps = sum over presynaptic neurons of (spikes x fan-out).
spikes_per_input = np.bincount(inputs.neurons.numpy(), minlength=200)
fan_out = fan_out_from_csr(first.indptr)
assert layer.synops == synops_from_spikes(spikes_per_input, fan_out) == net.synops["input->hidden"]

report = energy_report(counts, duration_s=DURATION_MS / 1000)
print(report.to_markdown())  # J per inference, W, ratio to the dense ANN, per profile
# The mean-field estimate P = N r k E_syn of the first layer agrees within sampling error.
counted_w = layer_energy_j(layer, loihi)["synaptic"] / (DURATION_MS / 1000)
expected_w = analytic_power_w(200, RATE_HZ, layer.mean_fan_out, loihi.e_syn_j)
assert math.isclose(counted_w, expected_w, rel_tol=0.1), (counted_w, expected_w)
# [simulator-end]

# [module]
# A surrogate-gradient model (see the previous tutorial; untrained here): count from the
# spikes that enter each weight layer. Zero weights are not synapses; a dense ANN of the
# same shape multiplies by them anyway.
torch.manual_seed(0)
neuron = discrete_lif_params(beta=0.9, threshold=1.0)
model = Sequential(TimeDistributed(nn.Linear(64, 64)), LIF(64, neuron),
                   TimeDistributed(nn.Linear(64, 10)), LIF(10, neuron))
x = (torch.rand(16, 32, 64) < 0.2).float()  # 16 steps, 32 samples, 64 inputs
with torch.no_grad():
    hidden, _ = model.layers[1](model.layers[0](x))
    out, _ = model(x)
activity = count_module_activity(
    [(x, model.layers[0].module), (hidden, model.layers[2].module)], names=["in", "hidden"]
)
assert activity.synops == int(x.sum()) * 64 + int(hidden.sum()) * 10  # dense layers: k = n_out
assert activity.dense_macs == 16 * 32 * (64 * 64 + 64 * 10)
snn = energy_report(activity, duration_s=16e-3)  # 16 steps of 1 ms per sample
# On Loihi this model costs a fraction of the same network run as a dense ANN on 45 nm CMOS.
print(f"J per sample on loihi: {snn.energy_per_inference_j('loihi'):.3g}, "
      f"x dense ANN: {snn.ann_ratio('loihi'):.3g}")
assert snn.n_inferences == 32 and snn.ann_ratio("loihi") < 1.0
metrics = snn.to_dict()  # flat numbers, ready for metrics.json
assert metrics["synops_counted"] == activity.synops
# [module-end]

# [custom]
# Your own chip: a profile of your figures (each with its source), priced like the others.
mychip = HardwareProfile(
    name="mychip",
    description="our 22 nm event-driven prototype",
    mode="event",
    synop=EnergyFigure(2e-12, "per synaptic event", "our lab notebook, 2026-03-01", "measured"),
    neuron_update=EnergyFigure(1e-12, "per neuron per step", "circuit simulation",
                               "estimated"),
)
mine = energy_report(activity, duration_s=16e-3, profiles=["loihi", mychip])
expected_j = activity.synops * 2e-12 + activity.neuron_updates * 1e-12
assert math.isclose(mine.energy_per_inference_j("mychip") * 32, expected_j, rel_tol=1e-12)
# [custom-end]
