"""Config of ``eyeblink`` (torch-free: checked before the heavy imports)."""

from __future__ import annotations

from dataclasses import dataclass

from ..params import Cost, check_fields, param

__all__ = ["EXPERIMENTS", "REDUCED", "TOPIC", "EyeblinkConfig"]

TOPIC = "agents"


@dataclass(frozen=True)
class EyeblinkConfig:
    isis_ms: tuple[int, ...] = param((250, 500), "CS-US intervals, one cerebellum each",
                                     unit="ms", low=10, high=2000)
    trials: int = param(200, "paired CS-US trials per interval", low=2, high=100_000)
    dt_ms: int = param(10, "time step", unit="ms", low=1, high=50)
    n_granule: int = param(1000, "granule cells", low=10, high=100_000)
    n_micro: int = param(40, "microstimuli of the CS memory trace (mossy fibres)", low=2,
                         high=1000)
    trace_tau_ms: float = param(600.0, "time constant of the CS memory trace", unit="ms",
                                low=10, high=1e5)
    micro_sigma: float = param(0.04, "width of the microstimuli (trace height units)",
                               low=0.001, high=1)
    threshold: float = param(0.02, "granule threshold (mean mossy rate)", low=0, high=1)
    eta: float = param(0.1, "PF learning rate per step", low=0, high=2, low_open=True,
                       high_open=True)
    ltp: float = param(0.001, "CF-independent LTP of active parallel fibres per step", low=0,
                       high=1)
    w_range: float = param(5.0, "how far PF synapses can be depressed below naive", low=0,
                           high=1e3, low_open=True)
    peak_tolerance: float = param(0.1, "timed: |CR peak - ISI| <= this fraction of the ISI",
                                  low=0, high=1, low_open=True)
    seed: int = param(0, "granule wiring", low=0, high=2**31 - 1)

    def __post_init__(self) -> None:
        check_fields(self)
        if not self.isis_ms:
            raise ValueError("isis_ms must list at least one interval")
        for isi in self.isis_ms:
            if isi % self.dt_ms:
                raise ValueError(f"isis_ms: {isi} is not a whole number of dt_ms "
                                 f"({self.dt_ms}) steps")
            if isi < 2 * self.dt_ms:
                raise ValueError(f"isis_ms: {isi} must be at least 2 steps of dt_ms")

    def cost(self) -> Cost:
        steps = sum(2 * isi / self.dt_ms for isi in self.isis_ms) * self.trials
        return Cost(1.0 + steps * (20e-6 + self.n_granule * 0.03e-6),
                    f"{len(self.isis_ms)} intervals x {self.trials} trials")


EXPERIMENTS = {"eyeblink": EyeblinkConfig}
REDUCED = {"eyeblink": {"trials": 20, "n_granule": 200}}
