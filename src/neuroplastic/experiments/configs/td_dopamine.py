"""Config of ``td-dopamine`` (torch-free: checked before the heavy imports)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..params import Cost, check_fields, param

__all__ = ["EXPERIMENTS", "REDUCED", "TOPIC", "TDDopamineConfig"]

TOPIC = "behaviour"


@dataclass(frozen=True)
class TDDopamineConfig:
    n_trials: int = param(60, "cue-reward training trials", low=2, high=100_000)
    n_bins: int = param(30, "time bins per trial", low=4, high=1000)
    bin_ms: float = param(50.0, "bin width", unit="ms", low=1, high=1000)
    cue_bin: int = param(5, "bin of the cue onset", low=1, high=999)
    delay_bins: int = param(10, "cue-to-reward delay in bins", low=1, high=999)
    state: Literal["csc", "microstimulus"] = param("csc", "temporal state code of the critic")
    gamma: float = param(0.98, "discount per bin", low=0, high=1, low_open=True,
                         high_open=True)
    alpha: float = param(0.3, "critic learning rate per bin", low=0, high=2, low_open=True)
    lam: float = param(0.9, "eligibility (lambda) per bin", low=0, high=1, low_open=True,
                       high_open=True)
    n_dopamine: int = param(20, "LIF dopamine neurons", low=1, high=10_000)
    seed: int = param(0, "membrane noise of the dopamine neurons", low=0, high=2**31 - 1)

    def __post_init__(self) -> None:
        check_fields(self)
        if self.cue_bin + self.delay_bins >= self.n_bins:
            raise ValueError(f"cue_bin + delay_bins ({self.cue_bin + self.delay_bins}) must be "
                             f"< n_bins ({self.n_bins})")

    def cost(self) -> Cost:
        return Cost(0.8 + self.n_trials * self.n_bins * 6e-4 + 3 * self.n_bins * self.bin_ms
                    * 1e-4, f"{self.n_trials} trials x {self.n_bins} bins")


EXPERIMENTS = {"td-dopamine": TDDopamineConfig}
REDUCED = {"td-dopamine": {"n_trials": 20, "alpha": 0.5, "n_bins": 20, "delay_bins": 8}}
