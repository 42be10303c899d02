"""Config of ``juvenile-period`` (torch-free: checked before the heavy imports)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..params import Cost, check_fields, param

__all__ = ["EXPERIMENTS", "REDUCED", "TOPIC", "JuvenilePeriodConfig"]

TOPIC = "behaviour"


@dataclass(frozen=True)
class JuvenilePeriodConfig:
    complexities: tuple[int, ...] = param((1, 2, 4, 8, 16), "stimuli whose correct response "
                                          "must be learned, one level each (increasing)",
                                          low=1, high=256)
    unlearnable: bool = param(True, "also evolve a control whose outcomes ignore the action")
    seeds: int = param(5, "independent populations per level", low=1, high=100)
    population: int = param(100, "individuals per population", low=2, high=10_000)
    generations: int = param(60, "generations", low=1, high=10_000)
    j_init: float = param(30.0, "juvenile period of every founder", unit="steps", low=0,
                          high=10_000)
    j_min: int = param(0, "shortest juvenile period", unit="steps", low=0, high=10_000)
    j_max: int = param(200, "longest juvenile period (steps of learning simulated)",
                       unit="steps", low=1, high=10_000)
    lifespan: int = param(1000, "maximal age T", unit="steps", low=2, high=1_000_000)
    hazard: float = param(0.005, "probability of dying per step", low=0, high=1, low_open=True,
                          high_open=True)
    n_actions: int = param(4, "responses per stimulus (chance skill 1/n)", low=2, high=64)
    eta: float = param(0.5, "actor learning rate (reward-modulated Hebb, three-factor)",
                       low=0, high=100, low_open=True)
    beta: float = param(3.0, "softmax inverse temperature", low=0, high=100, low_open=True)
    critic_rate: float = param(0.2, "Rescorla-Wagner rate of the outcome prediction", low=0,
                               high=1, low_open=True)
    bank: int = param(256, "simulated learners per population (>= population)", low=1,
                      high=100_000)
    sigma: float = param(3.0, "Gaussian mutation of J", unit="steps", low=0, high=1000,
                         low_open=True)
    tournsize: int = param(3, "tournament size of selection", low=1, high=100)
    cxpb: float = param(0.5, "probability of blend crossover of a pair", low=0, high=1)
    mutpb: float = param(0.3, "probability of mutating an individual", low=0, high=1)
    workers: int = param(1, "processes simulating the learners (1: this process)", low=1,
                         high=512)
    backend: Literal["local", "ray"] = param("local", "process pool or Ray (workers > 1)")
    seed: int = param(0, "learners, founders and matings", low=0, high=2**31 - 1)

    def __post_init__(self) -> None:
        check_fields(self)
        c = self.complexities
        if not c:
            raise ValueError("complexities must list at least one level")
        if any(b <= a for a, b in zip(c, c[1:])):
            raise ValueError(f"complexities must be strictly increasing, got {c!r}")
        if self.j_max <= self.j_min:
            raise ValueError(f"j_max ({self.j_max}) must be > j_min ({self.j_min})")
        if self.j_max >= self.lifespan:
            raise ValueError(f"j_max ({self.j_max}) must be < lifespan ({self.lifespan})")
        if not self.j_min <= self.j_init <= self.j_max:
            raise ValueError(f"j_init ({self.j_init}) must be in [j_min, j_max]")
        if self.bank < self.population:
            raise ValueError(f"bank ({self.bank}) must be >= population ({self.population})")
        if self.bank * max(c) * self.n_actions > 5e7:
            raise ValueError("bank x max(complexities) x n_actions is too large (> 5e7)")

    def levels(self) -> int:
        return len(self.complexities) + int(self.unlearnable)

    def cost(self) -> Cost:
        n = self.levels() * self.seeds
        # measured: ~3e-5 s per learner-step of the bank (torch, small k), 3e-5 s per
        # individual-generation of DEAP
        s = 1.5 + n * (self.j_max * self.bank * 3e-5 * (1 + max(self.complexities) / 64)
                       + self.generations * self.population * 3e-5)
        return Cost(s, f"{n} populations x {self.population} individuals x "
                       f"{self.generations} generations, {self.bank} learners x "
                       f"{self.j_max} steps each")


EXPERIMENTS = {"juvenile-period": JuvenilePeriodConfig}
REDUCED = {"juvenile-period": {"complexities": (1, 4), "seeds": 2, "population": 24,
                               "bank": 24, "generations": 4, "j_max": 60}}
