"""Config of ``avoidance`` (torch-free: checked before the heavy imports)."""

from __future__ import annotations

from dataclasses import dataclass

from ..params import Cost, check_fields, param

__all__ = ["EXPERIMENTS", "REDUCED", "TOPIC", "AvoidanceConfig"]

TOPIC = "behaviour"


@dataclass(frozen=True)
class AvoidanceConfig:
    shock_visits: int = param(30, "visits with a shock if the animal stays", low=1,
                              high=100_000)
    no_shock_visits: int = param(30, "free visits after the last shock", low=1, high=100_000)
    exposure_visits: int = param(20, "exposure with response prevention", low=1, high=100_000)
    test_visits: int = param(20, "free visits after exposure", low=1, high=100_000)
    animals: int = param(8, "animals per group (exposure, untreated)", low=1, high=10_000)
    eta_fear: float = param(0.6, "learning rate of the fear circuit", low=0, high=10,
                            low_open=True)
    tau_ext_s: float = param(3 * 86_400.0, "decay of the extinction memory", unit="s", low=0,
                             high=1e9, low_open=True)
    retention_s: float = param(7 * 86_400.0, "delay before the spontaneous-recovery probe",
                               unit="s", low=0, high=1e9)
    eta_actor: float = param(1.0, "actor learning rate", low=0, high=100)
    eta_critic: float = param(0.3, "critic learning rate", low=0, high=100)
    beta: float = param(2.0, "inverse temperature of the action choice", low=0, high=100,
                        low_open=True)
    escape_cost: float = param(0.05, "cost of escaping (leaving the place)", low=0, high=10)
    seed: int = param(0, "spikes, noise, choices", low=0, high=2**31 - 1)

    def __post_init__(self) -> None:
        check_fields(self)

    def cost(self) -> Cost:
        visits = (self.shock_visits + self.no_shock_visits + self.exposure_visits
                  + self.test_visits)
        return Cost(0.8 + 2 * visits * (0.012 + 1e-3 * self.animals),
                    f"2 groups x {self.animals} animals x {visits} visits")


EXPERIMENTS = {"avoidance": AvoidanceConfig}
REDUCED = {"avoidance": {"shock_visits": 12, "no_shock_visits": 10, "exposure_visits": 8,
                         "test_visits": 8, "animals": 3}}
