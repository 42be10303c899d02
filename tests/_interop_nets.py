"""Networks shared by the interop tests (NEST backend, PyNN and SONATA export)."""

from __future__ import annotations

import numpy as np
import torch

from neuroplastic.network import Network
from neuroplastic.neurons import LIFParams
from neuroplastic.synapses import FixedProbability

DT = 0.1


def deterministic_network(seed: int = 3, first_spike_ms: float = 0.0) -> Network:
    """50 LIF driven by 400 spike times of 20 sources (from ``first_spike_ms`` to 300 ms),
    recurrent inhibition with 1 ms delays and a constant current: no noise anywhere, so
    every simulator must give the same spikes. Spikes of ``a`` are monitored."""
    net = Network(DT, seed=seed)
    p = LIFParams(tau_mem_ms=20.0, v_rest_mv=-65.0, v_reset_mv=-70.0, v_thresh_mv=-50.0,
                  t_ref_ms=2.0, tau_syn_ms=(5.0, 10.0))
    net.add_lif("a", 50, p, v_init=(-70.0, -50.0))
    rng = np.random.default_rng(0)
    net.add_spike_times("in", 20, rng.uniform(first_spike_ms, 300, 400),
                        rng.integers(0, 20, 400))
    net.connect("in", "a", FixedProbability(0.3), weight=4.0, channel=0, delay_ms=DT)
    net.connect("a", "a", FixedProbability(0.1), weight=2.0, channel=1, sign="inhibitory",
                delay_ms=torch.tensor(1.0))
    net.set_current("a", 10.0)
    net.monitor_spikes("a")
    return net
