"""Surrogate-gradient training on Randman (Zenke & Vogels, 2021), 10 classes.

Task: :func:`neuroplastic.data.make_randman` with the paper's default scale
(:class:`~neuroplastic.data.RandmanParams` defaults: 10 classes, 20 input units, manifold
dimension 1, alpha 1, 1000 samples per class, 100 steps of 1 ms, one spike per unit in the
first 50 ms), 80/10/10 split (:func:`~neuroplastic.data.split_randman`; the test part is
reported). Classes differ only in relative spike timing.

Network (time-major)::

    20 inputs -> Linear -> LIF (hidden, subtract reset) -> Linear -> LI readout (10)

trained with Adam on the cross-entropy of the readout's maximum membrane over time
(:func:`~neuroplastic.surrogate.max_membrane_cross_entropy`), fast-sigmoid surrogate. The same
recipe is trained by snnTorch in ``benchmarks/a5_randman.py`` (:func:`build_randman_model`
is the architecture both use).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn

from .._validation import check_int, check_positive, check_range
from .base import Result, register
from .surrogate_digits import (
    TensorBatches,
    _flat_metrics,
    activity_metrics,
    curve_figures,
    train_classifier,
)

__all__ = ["RandmanConfig", "build_randman_model", "randman_splits", "run"]


@dataclass(frozen=True)
class RandmanConfig:
    num_classes: int = 10  # manifolds = classes (paper: 10)
    num_units: int = 20  # input neurons (paper: 20)
    num_samples_per_class: int = 1000  # paper: 1000 (80/10/10 split)
    num_steps: int = 100  # 1 ms steps per trial, spikes in the first half (paper: 100)
    hidden: int = 128  # hidden LIF neurons
    beta: float = 0.95  # membrane decay per step of hidden and readout, exp(-1 ms / 20 ms)
    threshold: float = 1.0  # hidden firing threshold (dimensionless)
    surrogate_slope: float = 25.0  # fast-sigmoid surrogate steepness
    init_gain: float = 5.0  # multiplies torch's default Linear init of the input weights
    epochs: int = 20  # passes over the training part
    batch_size: int = 128  # samples per Adam step
    lr: float = 2e-3  # Adam learning rate
    data_seed: int = 0  # manifolds and samples of the task
    seed: int = 0  # initial weights and shuffling

    def __post_init__(self) -> None:
        check_int("num_classes", self.num_classes, 2)
        check_int("num_units", self.num_units, 1)
        check_int("num_samples_per_class", self.num_samples_per_class, 10)
        check_int("num_steps", self.num_steps, 1)
        check_int("hidden", self.hidden, 1)
        check_range("beta", self.beta, 0.0, 1.0)
        if not 0.0 < self.beta < 1.0:
            raise ValueError(f"beta must be in (0, 1), got {self.beta!r}")
        check_positive("threshold", self.threshold)
        check_positive("surrogate_slope", self.surrogate_slope)
        check_positive("init_gain", self.init_gain)
        check_int("epochs", self.epochs, 1)
        check_int("batch_size", self.batch_size, 1)
        check_positive("lr", self.lr)
        check_int("data_seed", self.data_seed, 0)
        check_int("seed", self.seed, 0)


def randman_splits(config: RandmanConfig):
    """``(train, valid, test)`` :class:`~neuroplastic.data.RandmanData` (80/10/10)."""
    from ..data import RandmanParams, make_randman, split_randman

    params = RandmanParams(
        num_classes=config.num_classes, num_units=config.num_units,
        num_samples_per_class=config.num_samples_per_class, num_steps=config.num_steps,
    )
    return split_randman(make_randman(params, seed=config.data_seed), (0.8, 0.1, 0.1))


def build_randman_model(config: RandmanConfig) -> nn.Module:
    """``Sequential(TD(Linear U->H), LIF(H), TD(Linear H->C), LI(C))``, seeded by ``seed``."""
    from ..surrogate import LI, LIF, Sequential, Surrogate, TimeDistributed, discrete_lif_params

    torch.manual_seed(config.seed)
    p = discrete_lif_params(config.beta, config.threshold, reset_mode="subtract")
    fc1 = nn.Linear(config.num_units, config.hidden)
    fc2 = nn.Linear(config.hidden, config.num_classes)
    with torch.no_grad():
        fc1.weight.mul_(config.init_gain)
    return Sequential(
        TimeDistributed(fc1),
        LIF(config.hidden, p, surrogate=Surrogate("fast_sigmoid", config.surrogate_slope)),
        TimeDistributed(fc2),
        LI(config.num_classes, p),
    )


@register(
    "surrogate-randman", RandmanConfig,
    "Surrogate-gradient LIF network on Randman (Zenke & Vogels 2021), 10 classes",
)
def run(config: RandmanConfig, *, progress: bool = True) -> Result:
    from ..surrogate import max_membrane_cross_entropy

    t0 = time.perf_counter()
    train_d, _valid_d, test_d = randman_splits(config)
    dense = lambda d: d.dense(config.num_steps, 1.0)  # noqa: E731
    train = TensorBatches(dense(train_d), train_d.labels, config.batch_size, shuffle=True,
                          seed=config.seed)
    test = TensorBatches(dense(test_d), test_d.labels, 500)
    model = build_randman_model(config)
    history, step_ms = train_classifier(
        model, train, test, loss_fn=max_membrane_cross_entropy,
        predict=lambda out: out.max(0).values.argmax(-1),
        lr=config.lr, epochs=config.epochs, seed=config.seed, progress=progress,
    )
    layers = model.layers
    projections = [("input_hidden", layers[0]), ("hidden_output", layers[2])]
    act = activity_metrics(model, test, projections, ["layers.1"])
    act = {k.replace("layers.1", "hidden"): v for k, v in act.items()}
    act["spike_rate_input"] = float(test.x.float().mean())
    rates = {k[len("spike_rate_"):]: v for k, v in act.items() if k.startswith("spike_rate_")}
    metrics = _flat_metrics(history, {
        "ms_per_step": step_ms, **act, "chance_accuracy": 1.0 / config.num_classes,
        "n_train": int(train_d.labels.numel()), "n_test": int(test_d.labels.numel()),
        "train_wall_s": time.perf_counter() - t0,
    })
    arrays = {
        "test_accuracy_per_epoch": torch.tensor([h["test_accuracy"] for h in history]),
        "train_loss_per_epoch": torch.tensor([h["train_loss"] for h in history]),
    }
    return Result(metrics=metrics, figures=curve_figures(history, rates, "randman"),
                  arrays=arrays)
