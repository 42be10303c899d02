"""Config of ``stdp-digits`` (torch-free: checked before the heavy imports)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..params import Cost, check_fields, param

__all__ = ["EXPERIMENTS", "REDUCED", "StdpDigitsConfig"]


@dataclass(frozen=True)
class StdpDigitsConfig:
    """Diehl & Cook (2015): unsupervised STDP learns to classify handwritten digits."""

    dataset: Literal["digits", "mnist"] = param(
        "digits", "8x8 sklearn digits (bundled), or MNIST from disk")
    n_exc: int = param(100, "excitatory (= inhibitory) neurons", low=1, high=100_000)
    epochs: int = param(3, "passes over the training set (the paper: 1 for N=100 on MNIST)",
                        low=1, high=10_000)
    test_size: float = param(0.25, "digits only: held-out fraction (stratified split)",
                             low=0.05, high=0.95)
    n_train: int = param(60000, "mnist only: training images used (first n of train+valid)",
                         low=1, high=60000)
    n_test: int = param(10000, "mnist only: test images used", low=1, high=10000)
    max_rate_hz: float = param(63.75, "Poisson rate of a pixel of 1 (paper: 255/4 Hz)",
                               unit="Hz", low=0, high=1000, low_open=True)
    weight_sum_per_input: float | None = param(
        None, "column sum / n_input; None: 0.2 digits, 0.1 MNIST", low=0, high=1e3,
        low_open=True)
    eta_pre: float = param(1e-4, "STDP depression per presynaptic spike", low=0, high=1)
    eta_post: float | None = param(None, "STDP potentiation per post spike; None: 0.02 "
                                   "digits, 0.01 MNIST", low=0, high=1)
    theta_plus_mv: float = param(0.05, "adaptive-threshold increment per spike", unit="mV",
                                 low=0, high=1e3)
    w_inh_exc_mv: float | None = param(None, "inhibitory drop per inh spike; None: 17.5 "
                                       "digits, 120 MNIST", unit="mV", low=0, high=1e4)
    one_spike: bool | None = param(None, "at most one exc spike per step; None: False digits, "
                                   "True MNIST")
    seed: int = param(0, "split, initial weights, input spike streams, sample order", low=0,
                      high=2**63 - 1)

    def __post_init__(self) -> None:
        check_fields(self)

    def cost(self) -> Cost:
        # digits, N=100, 3 epochs: ~10 s on the 2-core VM; MNIST one epoch N=100 ~ 6 min
        n = 1347 if self.dataset == "digits" else self.n_train
        per = (2.2e-3 if self.dataset == "digits" else 5e-3) * max(1.0, self.n_exc / 100)
        evals = 1797 if self.dataset == "digits" else self.n_train + self.n_test
        return Cost(2.0 + per * (n * self.epochs + evals),
                    f"{n} images x {self.epochs} epochs x {self.n_exc} neurons")


EXPERIMENTS = {"stdp-digits": StdpDigitsConfig}
REDUCED = {"stdp-digits": {"n_exc": 10, "epochs": 3, "test_size": 0.9}}
