"""Config of ``operant`` (torch-free: checked before the heavy imports)."""

from __future__ import annotations

from dataclasses import dataclass

from ..params import Cost, check_fields, param

__all__ = ["EXPERIMENTS", "REDUCED", "TOPIC", "OperantConfig"]

TOPIC = "behaviour"


@dataclass(frozen=True)
class OperantConfig:
    lever_trials: int = param(150, "discrete lever trials in the chamber, per delay", low=2,
                              high=100_000)
    delayed_s: float = param(20.0, "pellet delay of the delayed condition (immediate: 0.5 s)",
                             unit="s", low=1.0, high=30.0)
    lever_animals: int = param(4, "animals (seeds) per delay in the chamber", low=1,
                               high=1000)
    ratio: int = param(5, "n of FR n and VR n", low=1, high=100)
    interval_s: float = param(10.0, "t of FI t", unit="s", low=2, high=120)
    sessions: int = param(30, "training sessions per schedule", low=2, high=10_000)
    extinction_sessions: int = param(8, "extinction sessions after FR training", low=1,
                                     high=10_000)
    session_s: float = param(200.0, "session length", unit="s", low=10, high=1e5)
    press_cost: float = param(0.1, "effort cost per press (pellet = 1)", low=0, high=1)
    eta_actor: float = param(0.1, "actor learning rate", low=0, high=10, low_open=True)
    eta_critic: float = param(0.05, "critic learning rate", low=0, high=10, low_open=True)
    seed: int = param(0, "choices and VR draws", low=0, high=2**31 - 1)

    def __post_init__(self) -> None:
        check_fields(self)
        if abs(self.delayed_s * 2 - round(self.delayed_s * 2)) > 1e-9:
            raise ValueError(f"delayed_s must be a multiple of 0.5 s, got {self.delayed_s}")

    def cost(self) -> Cost:
        steps = (3 * self.sessions + self.extinction_sessions) * self.session_s
        return Cost(0.8 + steps * 1.2e-4
                    + self.lever_trials * self.lever_animals * self.delayed_s * 1e-3,
                    f"{steps:.0f} chamber steps + 2 x {self.lever_trials} lever trials")


EXPERIMENTS = {"operant": OperantConfig}
REDUCED = {"operant": {"lever_trials": 20, "lever_animals": 2, "delayed_s": 5.0,
                       "sessions": 5, "extinction_sessions": 3, "session_s": 80.0}}
