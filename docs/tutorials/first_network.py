"""Getting started: a first network in Python (the README's quick start, checked).

Run it with ``.venv/bin/python docs/tutorials/first_network.py`` (a few seconds; the first run
of a fresh environment also compiles the simulator loop, which numba then caches).
``tests/test_tutorials.py`` runs this file.
"""

from __future__ import annotations

import torch

from neuroplastic.network import Network
from neuroplastic.neurons import Analog, Digital, LIFParams
from neuroplastic.plasticity import ExponentialWindow, STDPParams
from neuroplastic.synapses import FixedProbability

# [network]
net = Network(dt_ms=0.1, seed=1)  # 0.1 ms clock; every random stream derives from the seed
net.add_poisson("input", torch.full((200,), 20.0))  # 200 Poisson sources at 20 Hz
net.add_lif("exc", 100, LIFParams(tau_mem_ms=20, v_thresh_mv=-55),
            Analog(noise_sigma_mv=1.0))  # analog substrate: thermal membrane noise
net.add_lif("chip", 100, LIFParams(), Digital(int_bits=8, frac_bits=8))  # fixed point
stdp = STDPParams(ExponentialWindow(a_plus=0.05, a_minus=0.06), w_max=10.0)  # learns in the loop
net.connect("input", "exc", FixedProbability(0.1), weight=6.0, delay_ms=1.0, plasticity=stdp)
net.connect("exc", "chip", FixedProbability(0.2), weight=8.0)
spikes = net.monitor_spikes("exc")
w_before = net.weights("input->exc").clone()
net.run(500.0)  # 0.5 s of biological time on the compiled loop
# [network-end]

# [results]
print(net)
print("spikes of exc:", spikes.count)
print("SynOps per projection:", net.synops)
w_after = net.weights("input->exc")  # a view of the weights the simulator uses
print(f"mean weight input->exc: {float(w_before.mean()):.4f} -> {float(w_after.mean()):.4f}")
assert spikes.count > 0 and net.t_ms == 500.0
assert set(net.synops) == {"input->exc", "exc->chip"} and net.synops["input->exc"] > 0
assert not torch.equal(w_after, w_before)  # STDP changed the weights ...
assert 0.0 <= float(w_after.min()) and float(w_after.max()) <= 10.0  # ... within [w_min, w_max]
# Spike times of one neuron, and the events in address-event form (step, trial, neuron).
train = spikes.spike_trains()[0]
assert torch.all(train[1:] > train[:-1])
assert spikes.steps.shape == spikes.neurons.shape == (spikes.count,)
# [results-end]
