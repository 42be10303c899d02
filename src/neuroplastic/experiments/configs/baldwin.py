"""Config of ``baldwin`` (torch-free: checked before the heavy imports)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from ..params import Cost, check_fields, param

__all__ = ["EXPERIMENTS", "REDUCED", "TOPIC", "BaldwinConfig"]

TOPIC = "behaviour"


@dataclass(frozen=True)
class BaldwinConfig:
    loci: int = param(20, "genes; only the all-correct setting is adaptive", low=2, high=62)
    initial_freqs: tuple[float, ...] = param(
        (0.25, 0.25, 0.5), "initial allele frequencies (correct, incorrect, learnable '?'); "
        "sum 1", low=0, high=1)
    trials: int = param(1000, "random guesses per lifetime (L)", low=1, high=1_000_000)
    max_fitness: float = param(20.0, "fitness with all L guesses left (1 + (F-1) n / L)",
                               low=1, high=1e6, low_open=True)
    population: int = param(1000, "individuals per generation (= matings)", low=2,
                            high=100_000)
    generations: int = param(50, "generations", low=1, high=10_000)
    populations: int = param(5, "independent replicate populations (seeds)", low=1, high=100)
    selection: Literal["roulette", "deap_roulette"] = param(
        "roulette", "fitness-proportional draws: random.choices, or DEAP's selRoulette "
        "(same distribution, O(n^2))")
    chunk: int = param(250, "individuals per evaluation task (results do not depend on it "
                       "being split among workers)", low=1, high=100_000)
    workers: int = param(1, "evaluation processes (1: in this process)", low=1, high=512)
    backend: Literal["local", "ray"] = param("local", "process pool or Ray (workers > 1)")
    seed: int = param(0, "initial populations, lifetimes and matings", low=0, high=2**31 - 1)

    def __post_init__(self) -> None:
        check_fields(self)
        if len(self.initial_freqs) != 3:
            raise ValueError(f"initial_freqs must hold 3 frequencies (correct, incorrect, "
                             f"learnable), got {self.initial_freqs!r}")
        if abs(math.fsum(self.initial_freqs) - 1.0) > 1e-9:
            raise ValueError(f"initial_freqs must sum to 1, got {self.initial_freqs!r}")
        if self.population * self.populations * self.loci > 5e7:
            raise ValueError("population x populations x loci is too large (> 5e7 alleles)")

    def cost(self) -> Cost:
        per = 30e-6 if self.selection == "roulette" else 2e-6 * self.population
        s = 1.0 + self.populations * self.generations * self.population * per
        return Cost(s, f"{self.populations} populations x {self.population} individuals x "
                       f"{self.generations} generations")


EXPERIMENTS = {"baldwin": BaldwinConfig}
REDUCED = {"baldwin": {"population": 200, "generations": 5, "populations": 2, "loci": 12}}
