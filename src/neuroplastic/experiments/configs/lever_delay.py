"""Config of ``lever-delay`` (torch-free: checked before the heavy imports)."""

from __future__ import annotations

from dataclasses import dataclass

from ..params import Cost, check_fields, param

__all__ = ["EXPERIMENTS", "REDUCED", "TOPIC", "LeverDelayConfig"]

TOPIC = "agents"


@dataclass(frozen=True)
class LeverDelayConfig:
    delays_s: tuple[float, ...] = param((1.0, 3.0, 10.0, 30.0), "lever-to-pellet delays D",
                                        unit="s", low=0, high=120)
    trials: int = param(400, "trials per delay and condition", low=1, high=100_000)
    dt_s: float = param(0.5, "time step", unit="s", low=0.05, high=5)
    n_distractors: int = param(2, "other manipulanda (never rewarded)", low=0, high=16)
    tau_e_s: float = param(3.0, "eligibility time constant of the traced conditions",
                           unit="s", low=0, high=1e4, low_open=True)
    long_tau_e_s: float = param(40.0, "eligibility time constant of 'no code, long trace'",
                                unit="s", low=0, high=1e4, low_open=True)
    n_micro: int = param(10, "microstimuli per stimulus", low=1, high=100)
    code_tau_s: float = param(15.0, "memory-trace time constant of the microstimulus code",
                              unit="s", low=0.1, high=1e3)
    gamma: float = param(0.99, "discount per step", low=0, high=1, high_open=True)
    eta_critic: float = param(0.1, "critic learning rate per step", low=0, high=10)
    eta_actor: float = param(0.5, "actor learning rate per step", low=0, high=10)
    criterion: float = param(0.8, "learned: P(lever) at trial start >= this after training",
                             low=0, high=1, low_open=True)
    seed: int = param(0, "action sampling", low=0, high=2**31 - 1)

    def __post_init__(self) -> None:
        check_fields(self)
        if not self.delays_s:
            raise ValueError("delays_s must list at least one delay")
        for d in self.delays_s:
            k = round(d / self.dt_s)
            if abs(k * self.dt_s - d) > 1e-9 * max(1.0, d):
                raise ValueError(f"delays_s: {d} is not a whole number of dt_s ({self.dt_s}) "
                                 "steps")
        steps = sum(d / self.dt_s + 4 for d in self.delays_s) * self.trials
        if steps > 2e8:
            raise ValueError(f"delays_s x trials = {steps:.3g} steps per condition is too long")

    def cost(self) -> Cost:
        steps = 4 * sum(d / self.dt_s + 4 for d in self.delays_s) * self.trials
        return Cost(1.5 + steps * 35e-6, f"4 conditions x {len(self.delays_s)} delays x "
                                         f"{self.trials} trials")


EXPERIMENTS = {"lever-delay": LeverDelayConfig}
REDUCED = {"lever-delay": {"delays_s": (1.0, 3.0), "trials": 40}}
