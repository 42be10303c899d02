"""Config of ``continual-digits`` (torch-free: checked before the heavy imports)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..params import Cost, check_fields, param

__all__ = ["EXPERIMENTS", "REDUCED", "TOPIC", "ContinualDigitsConfig"]

TOPIC = "continual"


@dataclass(frozen=True)
class ContinualDigitsConfig:
    method: Literal["naive", "ewc", "online-ewc", "si", "mas", "laplace", "vcl", "replay",
                    "lwf", "er", "joint"] = param(
        "replay", "continual-learning method (replay: generative replay, no stored samples; "
        "lwf: learning without forgetting; er: replay of stored samples)")
    network: Literal["ann", "snn"] = param(
        "ann", "MLP with ReLU (ann) or LIF hidden layers trained with surrogate gradients (snn)")
    n_tasks: int = param(5, "tasks the 10 digit classes are split into (1, 2, 5 or 10)",
                         low=1, high=10)
    hidden: int = param(256, "neurons per hidden layer (64-H-H-10)", low=1, high=4096)
    epochs: int = param(20, "training epochs per task", low=1, high=1000)
    batch_size: int = param(32, "samples per Adam step", low=1, high=1347)
    lr: float = param(1e-3, "Adam learning rate", low=0, high=1, low_open=True)
    strength: float = param(1000.0, "penalty strength lambda (ewc, online-ewc, si, mas)",
                            low=0, high=1e9)
    online_decay: float = param(0.9, "online EWC: decay gamma of the old importance",
                                low=0, high=1)
    si_damping: float = param(0.1, "SI: damping xi of the path-integral normalisation",
                              low=0, high=1e3, low_open=True)
    importance_samples: int = param(200, "samples per task for the Fisher / MAS estimate",
                                    low=1, high=1347)
    replay_components: int = param(10, "replay: principal directions of each class's "
                                   "generator (PPCA)", low=1, high=64)
    replay_clusters: int = param(1, "replay: PPCA models per class (a mixture fitted by "
                                 "k-means)", low=1, high=64)
    replay_noise: bool = param(True, "replay: add each class model's isotropic residual noise "
                               "to the replayed inputs")
    scenario: Literal["class", "task"] = param(
        "class", "training protocol: class (one head over the classes seen) or task (the task "
        "is given: a sample's loss compares only its task's classes)")
    replay_batch: int = param(8, "replay, er: replayed samples per Adam step (0: batch_size)",
                              low=0, high=1347)
    temperature: float = param(2.0, "replay, lwf: distillation temperature", low=0, high=100,
                               low_open=True)
    temperature_weight: float = param(1.0, "replay, lwf: weight of the distillation term",
                                      low=0, high=100)
    buffer_size: int = param(200, "er: stored raw samples (balanced over the tasks)", low=1,
                             high=1347)
    controller: bool = param(False, "weight learn/forget losses by the controller's "
                             "alpha/(alpha+beta) (else 1/t for replay, 1 and lambda else)")
    num_steps: int = param(10, "snn: time steps per sample", low=1, high=1000)
    beta_mem: float = param(0.9, "snn: membrane decay per step", low=0, high=1, low_open=True,
                            high_open=True)
    test_size: float = param(0.25, "held-out fraction of the digits (stratified)", low=0.05,
                             high=0.95)
    seed: int = param(0, "split, initial weights, batch order, replay draws", low=0)

    def __post_init__(self) -> None:
        check_fields(self)
        if 10 % self.n_tasks:
            raise ValueError(f"n_tasks must divide the 10 classes (1, 2, 5 or 10), got "
                             f"{self.n_tasks}")
        n_train = int(1797 * (1 - self.test_size))
        if self.batch_size > n_train:
            raise ValueError(f"batch_size must be <= {n_train} training samples, got "
                             f"{self.batch_size}")

    def cost(self) -> Cost:
        per_epoch = 0.0012 * (self.hidden / 256) ** 2 * 10 + 0.002  # s per epoch of one task
        if self.network == "snn":
            per_epoch *= 1.5 * self.num_steps
        if self.method == "joint":
            per_epoch *= 2.0
        elif self.method in ("replay", "er"):
            per_epoch *= 1.0 + (self.replay_batch or self.batch_size) / self.batch_size
        s = 1.5 + per_epoch * self.epochs * self.n_tasks * (1347 / 5) / 270 * (5 / self.n_tasks)
        return Cost(s, f"{self.n_tasks} tasks x {self.epochs} epochs, {self.network} "
                       f"64-{self.hidden}-{self.hidden}-10, {self.method}")


EXPERIMENTS = {"continual-digits": ContinualDigitsConfig}
REDUCED = {"continual-digits": {"epochs": 2, "hidden": 32, "importance_samples": 20}}
