"""Runs the NEST backend's MPI check (tests/test_nest_mpi.py), alone or under ``mpirun``:

    python tests/_nest_mpi_job.py OUT.npz THREADS
    mpirun -np 2 python tests/_nest_mpi_job.py OUT.npz 1

Three networks through :func:`run_nest` (spikes, a multimeter, learned STDP weights, Poisson
inputs drawn by NEST's generators); rank 0 writes what it returned into ``OUT.npz``.
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_interop_nest import _deterministic, _pair_protocol  # noqa: E402

from neuroplastic.interop.nest import require_nest, run_nest  # noqa: E402
from neuroplastic.network import Network  # noqa: E402
from neuroplastic.synapses import FixedProbability  # noqa: E402


def poisson_network() -> Network:
    """100 LIF driven by 200 Poisson sources (NEST draws them: its streams per virtual process)."""
    net = Network(0.1, seed=5)
    net.add_lif("a", 100, v_init=(-70.0, -50.0))
    net.add_poisson("in", np.full(200, 20.0))
    net.connect("in", "a", FixedProbability(0.2), weight=3.0, delay_ms=0.1)
    net.connect("a", "a", FixedProbability(0.1), weight=1.0, sign="inhibitory", delay_ms=1.0)
    net.monitor_spikes("a")
    return net


def main(out: str, threads: int) -> None:
    nest = require_nest()
    res: dict[str, np.ndarray] = {}
    r = run_nest(_deterministic(), 300.0, threads=threads)
    res["det_steps"] = r.spike_monitors["a"].steps.numpy()
    res["det_neurons"] = r.spike_monitors["a"].neurons.numpy()
    res["det_v"] = r.state_monitors["a"].v.numpy()
    res["det_i_syn"] = r.state_monitors["a"].i_syn.numpy()
    r = run_nest(_pair_protocol("all", "additive"), 400.0, threads=threads)
    res["stdp_w"] = r.weights["plastic"].numpy()
    res["stdp_post_steps"] = r.spike_monitors["post"].steps.numpy()
    r = run_nest(poisson_network(), 500.0, threads=threads)
    res["poisson_steps"] = r.spike_monitors["a"].steps.numpy()
    res["poisson_neurons"] = r.spike_monitors["a"].neurons.numpy()
    res["virtual_processes"] = np.array(nest.GetKernelStatus("total_num_virtual_procs"))
    # the distal-reward loop reads spikes after every block on one process: refused under MPI
    from test_interop_nest_dopamine import REDUCED_NEST

    from neuroplastic.experiments.distal_reward import DistalRewardConfig, build_network
    from neuroplastic.interop.nest import DistalRewardNest

    try:
        DistalRewardNest(build_network(DistalRewardConfig(duration_s=1, **REDUCED_NEST)))
        res["distal_reward_refused"] = np.array(False)
    except NotImplementedError as err:
        res["distal_reward_refused"] = np.array("under MPI" in str(err))
    res["processes"] = np.array(nest.NumProcesses())
    if nest.Rank() == 0:
        np.savez(out, **res)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
