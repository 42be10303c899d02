"""Config of ``distal-reward`` (torch-free: checked before the heavy imports)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..params import Cost, check_fields, param

__all__ = ["EXPERIMENTS", "REDUCED", "TOPIC", "DistalRewardConfig"]

TOPIC = "plasticity"


@dataclass(frozen=True)
class DistalRewardConfig:
    """Izhikevich (2007): dopamine-modulated STDP solves the distal reward problem."""

    duration_s: int = param(3600, "simulated time (the paper: 1 h)", unit="s", low=1,
                            high=10_000_000)
    n_exc: int = param(800, "regular-spiking excitatory neurons", low=1, high=1_000_000)
    n_inh: int = param(200, "fast-spiking inhibitory neurons", low=0, high=1_000_000)
    synapses_per_neuron: int = param(100, "outgoing synapses of every neuron (M)", low=1,
                                     high=100_000)
    max_delay_ms: int = param(20, "conduction delays 1..D ms (spnet.m: 20; daspnet.m: 1)",
                              unit="ms", low=1, high=1000)
    w_max: float = param(4.0, "maximal excitatory weight", unit="mV", low=0, high=1e4,
                         low_open=True)
    w_init: float = param(1.0, "initial excitatory weight (the rewarded one starts at 0)",
                          unit="mV", low=0, high=1e4)
    w_inh: float = param(-1.0, "fixed inhibitory weight", unit="mV", low=-1e4, high=0)
    n1: int = param(0, "presynaptic neuron of the rewarded synapse", low=0)
    syn: int = param(0, "which of its synapses is rewarded (its target is n2)", low=0)
    interval_ms: int = param(20, "n2 must fire within this long after n1 to earn a reward",
                             unit="ms", low=1, high=100_000)
    reward_delay_min_ms: int = param(1000, "reward comes min + ceil(span * U(0,1)) later",
                                     unit="ms", low=1, high=1_000_000)
    reward_delay_span_ms: int = param(2000, "... i.e. 1-3 s after the pairing", unit="ms",
                                      low=0, high=1_000_000)
    da_release: float = param(0.5, "dopamine per reward", low=0, high=1e3)
    sum_multapses: bool = param(False, "False: repeated n -> p synapses deliver once "
                                "(MATLAB's I(ind) = ...)")
    stats_every_s: int = param(10, "how often the weight distribution is summarised",
                               unit="s", low=1, high=10_000_000)
    seed: int = param(0, "connectivity and the counter-based input stream", low=0,
                      high=2**32 - 1)
    backend: Literal["numba", "nest"] = param(
        "numba", "numba (the compiled kernel) or nest (NEST's izhikevich + "
        "stdp_dopamine_synapse, needs nest-simulator, max_delay_ms=1, and sum_multapses=True "
        "where a neuron repeats a target)")

    def __post_init__(self) -> None:
        check_fields(self)
        if self.synapses_per_neuron % self.max_delay_ms:
            raise ValueError(
                f"synapses_per_neuron ({self.synapses_per_neuron}) must be a multiple of "
                f"max_delay_ms ({self.max_delay_ms}), as in spnet.m")
        if self.n1 >= self.n_exc:
            raise ValueError(f"n1 ({self.n1}) must be an excitatory neuron, < n_exc "
                             f"({self.n_exc})")
        if self.syn >= self.synapses_per_neuron:
            raise ValueError(f"syn ({self.syn}) must be < synapses_per_neuron "
                             f"({self.synapses_per_neuron})")
        if self.w_init > self.w_max:
            raise ValueError(f"w_init ({self.w_init}) must be <= w_max ({self.w_max})")
        if self.n_exc * self.synapses_per_neuron < 2:
            raise ValueError(f"n_exc * synapses_per_neuron ({self.n_exc} * "
                             f"{self.synapses_per_neuron}) must be >= 2: the rewarded synapse "
                             "is compared with the other excitatory ones")
        if self.backend == "nest" and self.max_delay_ms != 1:
            raise ValueError("max_delay_ms must be 1 with backend='nest' (NEST's "
                             "stdp_dopamine_synapse treats the delay as dendritic)")
        n = (self.n_exc + self.n_inh) * self.synapses_per_neuron
        if n > 1e9:
            raise ValueError(f"(n_exc + n_inh) * synapses_per_neuron = {n:.3g} synapses is "
                             "above 1e9")

    def cost(self) -> Cost:
        # measured on the 2-core VM: the full hour of the 1000-neuron network simulates in
        # ~19.5 s (5.4 ms per simulated second per 100 000 synapses), set-up ~1.5 s (a Python
        # loop over neurons x delay groups); the reduced run ~0.8 s
        n = self.n_exc + self.n_inh
        per_s = 5.4e-3 * n * self.synapses_per_neuron / 100_000
        if self.backend == "nest":  # measured: 100 neurons x 20 synapses, ~0.08 s per second
            per_s = 0.03 + 2.5e-5 * n * self.synapses_per_neuron
        setup = 1.0 + 2.5e-5 * n * self.max_delay_ms
        return Cost(setup + self.duration_s * per_s,
                    f"{self.duration_s} s simulated x {n} neurons x "
                    f"{self.synapses_per_neuron} synapses")


EXPERIMENTS = {"distal-reward": DistalRewardConfig}
REDUCED = {"distal-reward": {"duration_s": 6, "n_exc": 80, "n_inh": 20,
                             "synapses_per_neuron": 20, "stats_every_s": 2}}
