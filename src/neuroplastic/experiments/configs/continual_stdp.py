"""Config of ``continual-stdp`` (torch-free: checked before the heavy imports)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from ..params import Cost, check_fields, param

__all__ = ["EXPERIMENTS", "REDUCED", "TOPIC", "ContinualStdpConfig"]

TOPIC = "continual"


@dataclass(frozen=True)
class ContinualStdpConfig:
    """Diehl & Cook learns the digit classes task after task, with and without an
    importance gate on its STDP."""

    n_tasks: int = param(2, "tasks the 10 digit classes are split into (2: 0-4 then 5-9; 5: "
                         "pairs)", low=2, high=10)
    n_exc: int = param(100, "excitatory (= inhibitory) neurons", low=2, high=4000)
    epochs: int = param(3, "passes over each task's training images", low=1, high=100)
    importance: Literal["post", "coactivity", "abs_dw"] = param(
        "post", "local importance accumulated during a task: postsynaptic spikes per sample "
        "(whole neurons), pre x post coactivity, or accumulated |dw|")
    gate_kind: Literal["step", "inverse", "exponential"] = param(
        "step", "gate g(I): step freezes synapses with I >= scale")
    gate_scale: float = param(
        1.0, "I0 of the gate, in units of a task's mean importance (1: neurons more active "
        "than average are consolidated)", low=0, high=1e6, low_open=True)
    test_size: float = param(0.25, "held-out fraction of the digits (stratified split)",
                             low=0.05, high=0.95)
    curve_every: int = param(100, "training samples between two points of the old-class "
                             "accuracy curve (and between checkpoints)", low=1, high=10_000)
    max_rate_hz: float = param(63.75, "Poisson rate of a pixel of 1", unit="Hz", low=0,
                               high=1000, low_open=True)
    eta_post: float = param(0.02, "STDP potentiation per post spike", low=0, high=1)
    eta_pre: float = param(1e-4, "STDP depression per presynaptic spike", low=0, high=1)
    seed: int = param(0, "split, initial weights, input spike streams, sample order", low=0,
                      high=2**32 - 1)

    def __post_init__(self) -> None:
        check_fields(self)
        if 10 % self.n_tasks:
            raise ValueError(f"n_tasks must divide the 10 classes (2, 5 or 10), got "
                             f"{self.n_tasks}")

    def cost(self) -> Cost:
        # digits: ~0.3 ms per training presentation at N=100 (+1.5 us per neuron), evaluation
        # about half; two conditions; the curve evaluates the old classes every curve_every
        n_test = math.ceil(1797 * self.test_size)
        n_train = 1797 - n_test
        per_train, per_eval = 2e-4 + 1.5e-6 * self.n_exc, 1e-4 + 7e-7 * self.n_exc
        curve = (n_train * self.epochs / self.curve_every) * n_test / 2 * per_eval
        s = 2 * (per_train * n_train * self.epochs + per_eval * (n_train + 2 * n_test) + curve)
        return Cost(1.5 + s, f"2 conditions x {self.n_tasks} tasks x {self.epochs} epochs x "
                             f"{self.n_exc} neurons")


EXPERIMENTS = {"continual-stdp": ContinualStdpConfig}
REDUCED = {"continual-stdp": {"n_exc": 10, "epochs": 1, "test_size": 0.9, "curve_every": 60}}
