"""Config of ``surrogate-randman`` (torch-free: checked before the heavy imports)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..params import Cost, check_fields, param

__all__ = ["EXPERIMENTS", "REDUCED", "TOPIC", "RandmanConfig"]

TOPIC = "surrogate"


@dataclass(frozen=True)
class RandmanConfig:
    """Surrogate-gradient LIF network on Randman (Zenke & Vogels 2021)."""

    num_classes: int = param(10, "manifolds = classes (paper: 10)", low=2, high=1000)
    num_units: int = param(20, "input neurons (paper: 20)", low=1, high=10_000)
    num_samples_per_class: int = param(1000, "samples per class (paper: 1000, split 80/10/10)",
                                       low=10, high=1_000_000)
    num_steps: int = param(100, "1 ms steps per trial, spikes in the first half (paper: 100)",
                           low=1, high=100_000)
    hidden: int = param(128, "hidden LIF neurons", low=1, high=65536)
    beta: float = param(0.95, "membrane decay per step, exp(-1 ms / 20 ms)", low=0, high=1,
                        low_open=True, high_open=True)
    threshold: float = param(1.0, "hidden firing threshold (dimensionless)", low=0, high=1e6,
                             low_open=True)
    surrogate_slope: float = param(25.0, "fast-sigmoid surrogate steepness", low=0, high=1e6,
                                   low_open=True)
    init_gain: float = param(5.0, "multiplies torch's default Linear init of the input "
                             "weights", low=0, high=1e6, low_open=True)
    epochs: int = param(20, "passes over the training part", low=1, high=100_000)
    batch_size: int = param(128, "samples per Adam step", low=1, high=1_000_000)
    lr: float = param(2e-3, "Adam learning rate", low=0, high=10, low_open=True)
    data_seed: int = param(0, "manifolds and samples of the task", low=0, high=2**32 - 1)
    seed: int = param(0, "initial weights and shuffling", low=0, high=2**63 - 1)
    device: Literal["cpu", "cuda"] = param(
        "cpu", "where to train: cpu, or cuda (the layers' Triton kernels; needs a GPU and "
        "triton); the data and the analyses stay on the CPU")

    def __post_init__(self) -> None:
        check_fields(self)
        n_train = int(0.8 * self.num_classes * self.num_samples_per_class)
        if self.batch_size > n_train:
            raise ValueError(f"batch_size ({self.batch_size}) must be <= the {n_train} "
                             "training samples (80 % of num_classes * num_samples_per_class)")

    def cost(self) -> Cost:
        # paper scale (8000 training trials x 100 steps, H=128): ~9 s per epoch on the 2-core VM
        n = self.num_classes * self.num_samples_per_class
        per = 1.1e-5 * self.num_steps * max(1.0, self.hidden / 128)
        return Cost(2.0 + per * n * self.epochs,
                    f"{n} trials x {self.epochs} epochs x {self.num_steps} steps")


EXPERIMENTS = {"surrogate-randman": RandmanConfig}
REDUCED = {"surrogate-randman": {"epochs": 3, "num_samples_per_class": 20, "num_steps": 20,
                                 "hidden": 16, "batch_size": 32}}
