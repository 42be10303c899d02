"""Config of ``surrogate-digits`` (torch-free: checked before the heavy imports)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..params import Cost, check_fields, param

__all__ = ["EXPERIMENTS", "REDUCED", "TOPIC", "DigitsConfig"]

TOPIC = "surrogate"


@dataclass(frozen=True)
class DigitsConfig:
    """Surrogate-gradient LIF network (64-H-10) on Poisson-encoded digits."""

    num_steps: int = param(16, "time steps per sample (1 ms each)", low=1, high=10_000)
    max_rate_hz: float = param(1000.0, "Poisson rate of a black pixel (1000: one spike per "
                               "step)", unit="Hz", low=0, high=1000, low_open=True)
    hidden: int = param(128, "hidden LIF neurons", low=1, high=65536)
    recurrent: bool = param(False, "add recurrent weights to the hidden layer (RecurrentLIF)")
    beta: float = param(0.9, "membrane decay per step, exp(-dt/tau_m)", low=0, high=1,
                        low_open=True, high_open=True)
    threshold: float = param(1.0, "firing threshold (dimensionless membrane)", low=0, high=1e6,
                             low_open=True)
    surrogate_slope: float = param(25.0, "fast-sigmoid surrogate steepness", low=0, high=1e6,
                                   low_open=True)
    epochs: int = param(10, "passes over the 1347 training images", low=1, high=100_000)
    batch_size: int = param(32, "samples per Adam step", low=1, high=1347)
    lr: float = param(5e-3, "Adam learning rate", low=0, high=10, low_open=True)
    test_size: float = param(0.25, "held-out fraction (stratified)", low=0.05, high=0.95)
    seed: int = param(0, "split, spike draws, initial weights and shuffling", low=0,
                      high=2**63 - 1)
    device: Literal["cpu", "cuda"] = param(
        "cpu", "where to train: cpu, or cuda (the layers' Triton kernels; needs a GPU and "
        "triton); the data and the analyses stay on the CPU")

    def __post_init__(self) -> None:
        check_fields(self)
        n_train = int(1797 * (1 - self.test_size))
        if self.batch_size > n_train:
            raise ValueError(f"batch_size ({self.batch_size}) must be <= the {n_train} "
                             f"training images (test_size {self.test_size})")

    def cost(self) -> Cost:
        # default 10 epochs x 1347 images x 16 steps, H=128: ~6 s on the 2-core VM
        per = 3e-5 * self.num_steps * max(1.0, self.hidden / 128) * (1.5 if self.recurrent
                                                                      else 1.0)
        return Cost(2.0 + per * 1797 * self.epochs,
                    f"1347 images x {self.epochs} epochs x {self.num_steps} steps x "
                    f"{self.hidden} neurons")


EXPERIMENTS = {"surrogate-digits": DigitsConfig}
REDUCED = {"surrogate-digits": {"epochs": 3, "hidden": 16, "num_steps": 6}}
