"""Config of ``habituation`` (torch-free: checked before the heavy imports)."""

from __future__ import annotations

from dataclasses import dataclass

from ..params import Cost, check_fields, param

__all__ = ["EXPERIMENTS", "REDUCED", "TOPIC", "HabituationConfig"]

TOPIC = "behaviour"


@dataclass(frozen=True)
class HabituationConfig:
    n_per_series: int = param(15, "stimuli per habituation series", low=4, high=1000)
    isi_high_s: float = param(2.0, "inter-stimulus interval of the high-rate run", unit="s",
                              low=0.1, high=600)
    isi_low_s: float = param(16.0, "inter-stimulus interval of the low-rate run", unit="s",
                             low=0.1, high=600)
    rest_s: float = param(60.0, "rest between the two series", unit="s", low=0, high=1e5,
                          low_open=True)
    animals: int = param(8, "animals averaged per rate", low=1, high=10_000)
    w0: float = param(4.0, "sensory->motor weight", unit="nA", low=0, high=30, low_open=True)
    u_fast: float = param(0.03, "fast depression per presynaptic spike", low=0, high=1,
                          high_open=True)
    tau_fast_s: float = param(5.0, "recovery of the fast resource", unit="s", low=0,
                              high=1e5, low_open=True)
    u_slow: float = param(0.002, "slow depression per presynaptic spike", low=0, high=1,
                          high_open=True)
    tau_slow_s: float = param(300.0, "recovery of the slow resource", unit="s", low=0,
                              high=1e6, low_open=True)
    facil_gain: float = param(1.0, "presynaptic facilitation per unit of modulator", low=0,
                              high=100)
    shock: float = param(1.0, "modulator released by the noxious (dishabituating) event",
                         low=0, high=100)
    seed: int = param(0, "Poisson spikes and membrane noise", low=0, high=2**31 - 1)

    def __post_init__(self) -> None:
        check_fields(self)
        if not self.isi_high_s < self.isi_low_s:
            raise ValueError(f"isi_high_s ({self.isi_high_s}) must be shorter than isi_low_s "
                             f"({self.isi_low_s})")
        if not self.rest_s > self.isi_low_s:
            raise ValueError(f"rest_s ({self.rest_s}) must exceed isi_low_s ({self.isi_low_s})")
        if self.isi_high_s <= 0.04:
            raise ValueError("isi_high_s must exceed the 0.04 s stimulus")

    def cost(self) -> Cost:
        trials = 2 * self.n_per_series + 4
        return Cost(0.6 + trials * 40 * (4e-4 + 2e-6 * self.animals),
                    f"2 rates x {self.animals} animals x {trials} trials")


EXPERIMENTS = {"habituation": HabituationConfig}
REDUCED = {"habituation": {"n_per_series": 10, "animals": 4}}
