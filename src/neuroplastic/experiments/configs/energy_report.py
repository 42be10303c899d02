"""Config of ``energy-report`` (torch-free: checked before the heavy imports)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..params import Cost, check_fields, param

__all__ = ["EXPERIMENTS", "REDUCED", "TOPIC", "EnergyReportConfig"]

TOPIC = "energy"
# sklearn's 8x8 digits: 1797 images, 25 % held out (neuroplastic.data.spike_digits)
DIGITS_TRAIN = 1347
DIGITS_TEST = 450


@dataclass(frozen=True)
class EnergyReportConfig:
    """A simulator network and surrogate-trained digit classifiers, priced on every profile."""

    # --- (a) simulator network
    n_input: int = param(400, "Poisson sources of the simulator network", low=1, high=100_000)
    n_hidden: int = param(200, "LIF neurons of the simulator's first layer", low=1,
                          high=100_000)
    n_output: int = param(50, "LIF neurons of the simulator's second layer", low=1,
                          high=100_000)
    input_rate_hz: float = param(20.0, "rate of every Poisson source (rate x dt_ms <= 1 spike "
                                 "per step)", unit="Hz", low=0, high=1e6, low_open=True)
    p_connect: float = param(0.1, "connection probability of both projections", low=0, high=1)
    w_input_mv: float = param(4.0, "weight of input -> hidden synapses (nA = mV at 1 MOhm)",
                              unit="mV", low=0, high=1e3)
    w_hidden_mv: float = param(7.0, "weight of hidden -> output synapses", unit="mV", low=0,
                               high=1e3)
    duration_ms: float = param(500.0, "simulated time = one inference (a whole number of "
                               "dt_ms steps)", unit="ms", low=0, high=1e7, low_open=True)
    dt_ms: float = param(0.5, "clock step of the simulator", unit="ms", low=0, high=10,
                         low_open=True)
    # --- (b) surrogate-trained network
    train: bool = param(True, "run part (b): the surrogate-trained classifiers")
    n_hidden_trained: int = param(96, "LIF neurons of each hidden layer of the trained network",
                                  low=1, high=4096)
    n_hidden_layers: int = param(2, "hidden layers of the trained network", low=1, high=8)
    num_steps: int = param(20, "time steps (1 ms each) per digit", low=1, high=1000)
    max_rate_hz: float = param(200.0, "Poisson rate of a black pixel (at most one spike per "
                               "1 ms step)", unit="Hz", low=0, high=1000, low_open=True)
    epochs: int = param(8, "training epochs per strength", low=1, high=10_000)
    batch_size: int = param(64, f"training batch size (at most the {DIGITS_TRAIN} training "
                            "digits)", low=1, high=DIGITS_TRAIN)
    lr: float = param(1e-2, "Adam learning rate", low=0, high=10, low_open=True)
    strengths: tuple[float, ...] = param((0.0, 1.0, 3.0, 10.0), "firing-rate regularisation "
                                         "strengths (RateRegularizer), one network each",
                                         low=0, high=1e6)
    rate_target: float = param(0.0, "RateRegularizer target rate", unit="spikes/neuron/step",
                               low=0, high=1)
    accuracy_tolerance: float = param(0.03, "accuracy loss accepted when selecting the "
                                      "sparsest model", low=0, high=1)
    seed: int = param(0, "the network, the data split and encoding, the training", low=0,
                      high=2**32 - 1)

    def __post_init__(self) -> None:
        check_fields(self)
        steps = self.duration_ms / self.dt_ms
        if abs(round(steps) - steps) > 1e-9 * max(1.0, steps) or round(steps) < 1:
            raise ValueError(f"duration_ms ({self.duration_ms}) must be a whole number (>= 1) "
                             f"of dt_ms ({self.dt_ms}) steps")
        if steps > 1e8:
            raise ValueError(f"duration_ms / dt_ms = {steps:.3g} steps is above 1e8 (days); a "
                             "shorter duration_ms or a larger dt_ms")
        if self.input_rate_hz * self.dt_ms > 1000.0:
            raise ValueError(f"input_rate_hz ({self.input_rate_hz}) exceeds one spike per step "
                             f"of dt_ms = {self.dt_ms} ms (at most {1000.0 / self.dt_ms:g} Hz)")
        pairs = self.n_input * self.n_hidden + self.n_hidden * self.n_output
        if pairs > 1e9:
            raise ValueError(f"n_input * n_hidden + n_hidden * n_output = {pairs:.3g} possible "
                             "synapses is above 1e9 (memory); smaller layers")
        spikes = self.n_input * self.input_rate_hz * self.duration_ms * 1e-3
        if spikes > 1e8:
            raise ValueError(f"n_input * input_rate_hz * duration_ms = {spikes:.3g} expected "
                             "input spikes is above 1e8 (every spike is recorded); a shorter "
                             "duration_ms, fewer n_input or a lower input_rate_hz")
        if not self.strengths:
            raise ValueError("strengths must hold at least one value, got ()")
        if len(set(self.strengths)) != len(self.strengths):
            raise ValueError(f"strengths must be distinct, got {self.strengths}")

    def cost(self) -> Cost:
        # measured on the 2-core VM: ~0.13 s for the simulator part at the defaults (1000
        # steps, 650 neurons), 12 s for 40,000 steps x 6500 neurons; ~0.45 s per epoch of the
        # default trained network (22 batches x 3 layers; 33 s for 8 epochs at 1024 hidden)
        steps = round(self.duration_ms / self.dt_ms)
        neurons = self.n_input + self.n_hidden + self.n_output
        events = self.n_input * self.input_rate_hz * self.duration_ms * 1e-3 * (
            self.p_connect * self.n_hidden)
        sim = steps * (1e-4 + 3e-8 * neurons) + 2e-8 * events
        what = f"{steps} steps x {neurons} neurons"
        train = 0.0
        if self.train:
            h, layers = self.n_hidden_trained, self.n_hidden_layers
            weights = 64 * h + (layers - 1) * h * h + 10 * h
            batches = math.ceil(DIGITS_TRAIN / self.batch_size) + 1
            per_epoch = (batches * 6e-3 * (layers + 1)
                         + (DIGITS_TRAIN + DIGITS_TEST) * self.num_steps
                         * (weights * 1.5e-10 + 5e-7))
            train = len(self.strengths) * self.epochs * per_epoch
            what += (f"; {len(self.strengths)} strengths x {self.epochs} epochs x "
                     f"{DIGITS_TRAIN} digits x {self.num_steps} steps")
        return Cost(2.0 + sim + train, what)


EXPERIMENTS = {"energy-report": EnergyReportConfig}
REDUCED = {"energy-report": {"n_input": 200, "n_hidden": 100, "n_output": 20,
                             "p_connect": 0.2, "duration_ms": 200.0, "n_hidden_trained": 16,
                             "n_hidden_layers": 1, "num_steps": 5, "epochs": 2,
                             "batch_size": 128, "strengths": (0.0, 5.0)}}
