"""Config of ``observational`` (torch-free: checked before the heavy imports)."""

from __future__ import annotations

from dataclasses import dataclass

from ..params import Cost, check_fields, param

__all__ = ["EXPERIMENTS", "REDUCED", "TOPIC", "ObservationalConfig"]

TOPIC = "behaviour"


@dataclass(frozen=True)
class ObservationalConfig:
    animals: int = param(8, "observers (and as many naive animals)", low=1, high=10_000)
    demonstrations: int = param(4, "demonstrations watched (Fiorito & Scotto: 4)", low=1,
                                high=1000)
    tests: int = param(5, "unrewarded choice tests after observation", low=1, high=1000)
    training: int = param(30, "trial-and-error trials (red rewarded)", low=4, high=10_000)
    criterion_run: int = param(4, "correct choices in a row that count as learned", low=1,
                               high=100)
    stdp_rate: float = param(20.0, "pair-STDP learning rate while observing", low=0, high=1e3)
    eta: float = param(0.2, "reward-modulated STDP learning rate", low=0, high=100)
    attention: float = param(2.5, "rate factor of the attacked ball", low=1, high=9)
    seed: int = param(0, "spikes, noise, ties", low=0, high=2**31 - 1)

    def __post_init__(self) -> None:
        check_fields(self)
        if self.criterion_run > self.training:
            raise ValueError(f"criterion_run ({self.criterion_run}) must be <= training "
                             f"({self.training})")

    def cost(self) -> Cost:
        trials = self.demonstrations + self.tests + self.training
        return Cost(0.6 + trials * 40 * (6e-4 + 1e-5 * self.animals),
                    f"2 x {self.animals} animals x {trials} trials")


EXPERIMENTS = {"observational": ObservationalConfig}
REDUCED = {"observational": {"animals": 3, "training": 12}}
