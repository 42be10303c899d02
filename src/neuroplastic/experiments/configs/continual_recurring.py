"""Config of ``continual-recurring`` (torch-free: checked before the heavy imports)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..params import Cost, check_fields, param

__all__ = ["EXPERIMENTS", "REDUCED", "TOPIC", "ContinualRecurringConfig"]

TOPIC = "continual"


@dataclass(frozen=True)
class ContinualRecurringConfig:
    method: Literal["replay", "ewc", "si", "mas", "lwf"] = param(
        "replay", "continual-learning method whose learn/forget losses the controller weighs")
    n_base: int = param(3, "distinct tasks (digit pairs {0,1}, {2,3}, ...) that recur",
                        low=2, high=5)
    cycles: int = param(2, "times the sequence of base tasks is presented", low=1, high=20)
    epochs: int = param(3, "training epochs per task block", low=1, high=1000)
    hidden: int = param(64, "neurons per hidden layer (64-H-H-10 MLP)", low=1, high=4096)
    batch_size: int = param(32, "samples per Adam step", low=1, high=1000)
    lr: float = param(1e-3, "Adam learning rate", low=0, high=1, low_open=True)
    strength: float = param(1000.0, "penalty strength lambda (ewc, si, mas)", low=0, high=1e9)
    fixed_betas: tuple[float, ...] = param(
        (0.1, 0.3, 1.0, 3.0, 10.0), "fixed stability weights beta (alpha = 1) to compare",
        low=0, high=1e6)
    alpha_release: float = param(1.0, "adaptive: alpha released per unit of relative surprise",
                                 low=0, high=100)
    alpha_tau: float = param(30.0, "adaptive: steps for alpha to relax to 1", unit="steps",
                             low=0, high=1e6, low_open=True)
    beta_release: float = param(1.0, "adaptive: beta released at each detected task switch",
                                low=0, high=100)
    switch_threshold: float = param(4.0, "surprise (running s.d.) declaring a task switch",
                                    low=0, high=100, low_open=True)
    importance_samples: int = param(100, "samples per task for the Fisher / MAS estimate",
                                    low=1, high=1347)
    seed: int = param(0, "split, initial weights, batch order, replay draws", low=0)

    def __post_init__(self) -> None:
        check_fields(self)
        if not self.fixed_betas:
            raise ValueError("fixed_betas must list at least one beta")

    def cost(self) -> Cost:
        blocks = self.n_base * self.cycles
        per_block = self.epochs * (0.004 * (self.hidden / 128) ** 2 + 0.02)
        s = 1.5 + (1 + len(self.fixed_betas)) * blocks * per_block
        return Cost(s, f"{1 + len(self.fixed_betas)} runs x {blocks} task blocks x "
                       f"{self.epochs} epochs, {self.method}")


EXPERIMENTS = {"continual-recurring": ContinualRecurringConfig}
REDUCED = {"continual-recurring": {"n_base": 2, "cycles": 2, "epochs": 1, "hidden": 32,
                                   "fixed_betas": (0.1, 10.0), "importance_samples": 20}}
