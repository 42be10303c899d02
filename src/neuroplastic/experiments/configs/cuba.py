"""Config of ``cuba`` (torch-free: checked before the heavy imports)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..params import Cost, check_fields, param

__all__ = ["EXPERIMENTS", "REDUCED", "TOPIC", "CubaConfig"]

TOPIC = "neurons"


@dataclass(frozen=True)
class CubaConfig:
    """Vogels & Abbott (2005) CUBA network as in Brian2's examples/CUBA.py."""

    n_neurons: int = param(4000, "neurons in total (exc_fraction of them excitatory)",
                           low=10, high=10_000_000)
    exc_fraction: float = param(0.8, "excitatory fraction (Vogels & Abbott: 3200 / 800)",
                                low=0, high=1)
    p_connect: float = param(0.02, "connection probability", low=0, high=1)
    duration_ms: float = param(1000.0, "biological time simulated", unit="ms", low=0,
                               high=1e8, low_open=True)
    dt_ms: float = param(0.1, "clock step (Brian2's example uses 0.1 ms)", unit="ms", low=0,
                         high=5.0, low_open=True)
    w_exc_mv: float = param(1.62, "excitatory weight (60 * 0.27 / 10 mV, Brian2's we)",
                            unit="mV", low=0, high=1e4)
    w_inh_mv: float = param(9.0, "inhibitory weight magnitude (Brian2's wi)", unit="mV", low=0,
                            high=1e4)
    noise_sigma_mv: float = param(0.0, "thermal membrane noise (analog substrate)", unit="mV",
                                  low=0, high=1e3)
    backend: Literal["auto", "numba", "torch", "nest"] = param(
        "auto", "numba (compiled loop), torch (reference loop) or nest (NEST's iaf_psc_exp, "
        "needs nest-simulator; zero delays become one step)")
    dtype: Literal["float64", "float32"] = param(
        "float64", "precision of the state and weights: float64 (the reference) or float32 "
        "(faster on large networks; same statistics)")
    nest_threads: int = param(
        1, "threads per process with backend='nest' (NEST's local_num_threads; under mpirun "
        "per rank); ranks x threads change the speed, not the spikes", low=1, high=1024)
    seed: int = param(0, "root of every random stream", low=0, high=2**63 - 1)
    trials: int = param(1, "independent trials in one run (own initial potentials and noise, "
                        "shared connectivity); the raster and histograms show trial 0, which "
                        "is the single-trial run", low=1, high=65_536)
    spikes: Literal["auto", "all", "summary"] = param(
        "auto", "what is kept of the spikes: all (every spike, in the result's arrays), summary "
        "(per-neuron counts and interval statistics folded as the run goes, the raster's "
        "neurons whole: memory O(neurons), not O(spikes)), or auto (summary from 10^6 "
        "neuron-seconds: neurons x trials x duration)")
    device: Literal["cpu", "cuda"] = param(
        "cpu", "where to simulate: cpu, or cuda (the torch loop, all trials at once; needs a "
        "GPU; pays from about a hundred trials)")

    def __post_init__(self) -> None:
        check_fields(self)
        if self.backend == "nest" and (self.trials > 1 or self.device != "cpu"):
            raise ValueError("backend='nest' runs one trial on the CPU (trials=1, device='cpu'); "
                             f"got trials={self.trials}, device={self.device!r}")
        if self.nest_threads > 1 and self.backend != "nest":
            raise ValueError(f"nest_threads={self.nest_threads} needs backend='nest' (our "
                             "compiled loop runs on one thread)")
        if self.device == "cuda" and self.backend == "numba":
            raise ValueError("backend 'numba' runs on the CPU; use backend='auto' or 'torch' "
                             "with device='cuda'")
        steps = self.duration_ms / self.dt_ms
        if steps > 1e10:
            raise ValueError(f"duration_ms / dt_ms = {steps:.3g} steps is above 1e10; "
                             "shorten duration_ms or enlarge dt_ms")
        if self.backend == "nest" and self.dtype != "float64":
            raise ValueError("dtype must be 'float64' with backend='nest' (NEST computes in "
                             "double precision)")
        if self.backend == "nest" and self.noise_sigma_mv > 0:
            raise ValueError("noise_sigma_mv must be 0 with backend='nest' (NEST's iaf_psc_exp "
                             "has no membrane noise)")

    @property
    def summarize(self) -> bool:
        """Whether the run folds its spikes into a summary (see ``spikes``)."""
        if self.spikes != "auto":
            return self.spikes == "summary"
        return self.n_neurons * self.trials * self.duration_ms * 1e-3 >= 1e6

    def cost(self) -> Cost:
        """Seconds, from the W1-scale figures of BENCHMARKS.md (1 thread, 2-core Intel VM):
        per neuron and step the pass over its state, per synaptic event the add into its
        target, both dearer once the state no longer fits the core's caches; events at CUBA's
        ~6 Hz (a network driven harder fires up to ~30x more); building costs per synapse."""
        steps = self.duration_ms / self.dt_ms
        n, k = self.n_neurons, self.p_connect * self.n_neurons  # neurons, mean in-degree
        synapses = n * k
        f32 = self.dtype == "float32"
        big, huge = n > 50_000, n > 1_000_000  # the state beyond the L2 cache / far beyond
        per_neuron = ((0.55e-9 if huge else 0.5e-9 if big else 0.3e-9) if f32
                      else (2.0e-9 if huge else 1.0e-9 if big else 0.6e-9))
        per_event = 20e-9 if huge else 12e-9 if big else 5e-9
        per_step = self.trials * (0.5e-6 + n * (per_neuron + 6.0 * self.dt_ms * 1e-3 * k
                                                * per_event))
        # up to 2**24 pairs one Bernoulli draw per pair, above it per synapse (connectivity.py)
        build = float(n) * n * 10e-9 if n * n <= 1 << 24 else synapses * (12e-9 if f32 else 20e-9)
        if self.backend == "torch":  # the reference loop: ~20x the compiled one
            per_step *= 20
        if self.backend == "nest":  # iaf_psc_exp on one thread: 30-50 ns per neuron and step
            per_step = 50e-9 * n * max(1.0, k / 80) / self.nest_threads
            build = synapses * 0.7e-6
        if self.device == "cuda":  # ~1 ms per step up to a few hundred trials (BENCHMARKS.md)
            per_step = 1e-3 * max(1.0, self.trials / 400)
        return Cost(2.0 + build + steps * per_step,
                    f"{self.n_neurons} neurons x {steps:.0f} steps x {self.trials} trial(s) "
                    f"({self.backend}, {self.device})")


EXPERIMENTS = {"cuba": CubaConfig}
REDUCED = {"cuba": {"n_neurons": 400, "duration_ms": 200.0}}
