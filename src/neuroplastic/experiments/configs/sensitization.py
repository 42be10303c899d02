"""Config of ``sensitization`` (torch-free: checked before the heavy imports)."""

from __future__ import annotations

from dataclasses import dataclass

from ..params import Cost, check_fields, param

__all__ = ["EXPERIMENTS", "REDUCED", "TOPIC", "SensitizationConfig"]

TOPIC = "behaviour"


@dataclass(frozen=True)
class SensitizationConfig:
    many_shocks: int = param(4, "shocks of the repeated-shock group", low=2, high=100)
    animals: int = param(8, "animals per group (control, 1 shock, many shocks)", low=1,
                         high=10_000)
    w0: float = param(3.0, "sensory->motor weight", unit="nA", low=0, high=30, low_open=True)
    facil_gain: float = param(1.0, "presynaptic facilitation per unit of modulator", low=0,
                              high=100, low_open=True)
    mod_tau_s: float = param(1200.0, "decay of the serotonin-like modulator", unit="s", low=0,
                             high=1e6, low_open=True)
    ltf_threshold: float = param(1.5, "modulator level above which long-term facilitation "
                                 "builds", low=0, high=100)
    ltf_rate: float = param(0.3, "long-term facilitation per unit of modulator above "
                            "threshold", low=0, high=100)
    ltf_tau_s: float = param(3 * 86_400.0, "decay of long-term facilitation", unit="s", low=0,
                             high=1e9, low_open=True)
    seed: int = param(0, "Poisson spikes and membrane noise", low=0, high=2**31 - 1)

    def __post_init__(self) -> None:
        check_fields(self)

    def cost(self) -> Cost:
        trials = 20 + self.many_shocks
        return Cost(0.6 + trials * 40 * (4e-4 + 3e-6 * self.animals),
                    f"3 groups x {self.animals} animals x {trials} trials")


EXPERIMENTS = {"sensitization": SensitizationConfig}
REDUCED = {"sensitization": {"animals": 3}}
