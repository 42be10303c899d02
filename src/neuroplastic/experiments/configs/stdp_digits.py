"""Config of ``stdp-digits`` (torch-free: checked before the heavy imports)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from ..params import Cost, check_fields, param

__all__ = ["EXPERIMENTS", "MAX_TRAINING_SAMPLES", "REDUCED", "TOPIC", "StdpDigitsConfig"]

TOPIC = "plasticity"

MAX_TRAINING_SAMPLES = 3_000_000  # epochs x training images (50 epochs of MNIST, ~2 h)


@dataclass(frozen=True)
class StdpDigitsConfig:
    """Diehl & Cook (2015): unsupervised STDP learns to classify handwritten digits."""

    dataset: Literal["digits", "mnist"] = param(
        "digits", "8x8 sklearn digits (bundled), or MNIST from disk")
    n_exc: int = param(100, "excitatory (= inhibitory) neurons", low=1, high=10_000)
    epochs: int = param(3, "passes over the training set (the paper: 1 for N=100 on MNIST)",
                        low=1, high=10_000)
    test_size: float | None = param(
        None, "digits only: held-out fraction (stratified split); None: 0.25", low=0.05,
        high=0.95)
    n_train: int | None = param(
        None, "mnist only: training images (the first n of train+valid); None: all 60000",
        low=1, high=60000)
    n_test: int | None = param(None, "mnist only: test images (the first n); None: all 10000",
                               low=1, high=10000)
    max_rate_hz: float = param(63.75, "Poisson rate of a pixel of 1 (paper: 255/4 Hz)",
                               unit="Hz", low=0, high=1000, low_open=True)
    weight_sum_per_input: float | None = param(
        None, "column sum / n_input (at most w_max = 1); None: 0.2 digits, 0.1 MNIST", low=0,
        high=1, low_open=True)
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
                      high=2**32 - 1)

    def __post_init__(self) -> None:
        check_fields(self)
        if self.dataset == "digits":
            for key in ("n_train", "n_test"):
                if getattr(self, key) is not None:
                    raise ValueError(f"{key} applies to dataset=mnist only (the digits are "
                                     "split by test_size); leave it unset")
        elif self.test_size is not None:
            raise ValueError("test_size applies to dataset=digits only (MNIST has a fixed "
                             "test set: choose n_train and n_test); leave it unset")
        presented = self.sizes[0] * self.epochs
        if presented > MAX_TRAINING_SAMPLES:
            raise ValueError(f"epochs x training images = {self.epochs} x {self.sizes[0]} = "
                             f"{presented} is above {MAX_TRAINING_SAMPLES} (the per-sample "
                             "history grows with it); fewer epochs")

    @property
    def sizes(self) -> tuple[int, int]:
        """(training, test) images of the chosen dataset."""
        if self.dataset == "digits":
            n_test = math.ceil(1797 * (0.25 if self.test_size is None else self.test_size))
            return 1797 - n_test, n_test
        return (60000 if self.n_train is None else self.n_train,
                10000 if self.n_test is None else self.n_test)

    def cost(self) -> Cost:
        # measured on the 2-core VM: digits ~0.34 ms per training sample at N=100 and 0.78 ms
        # at N=400, evaluation about half that (default run ~2 s + imports); MNIST (784
        # inputs) one epoch of 60 000 + evaluation of 70 000: ~5 min at N=100, ~6 min at N=400
        n_train, n_test = self.sizes
        n = self.n_exc
        if self.dataset == "digits":
            per_train, per_eval = 2e-4 + 1.5e-6 * n, 1e-4 + 7e-7 * n
        else:
            per_train = per_eval = 2.1e-3 + 1.7e-6 * n
        s = 1.5 + per_train * n_train * self.epochs + per_eval * (n_train + n_test)
        return Cost(s, f"{n_train} images x {self.epochs} epochs x {n} neurons "
                       f"({self.dataset})")


EXPERIMENTS = {"stdp-digits": StdpDigitsConfig}
REDUCED = {"stdp-digits": {"n_exc": 10, "epochs": 3, "test_size": 0.9}}
