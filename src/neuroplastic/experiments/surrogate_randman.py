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

import torch
from torch import nn

from ..lab.checkpointer import Checkpointer
from .base import Result, register
from .configs.surrogate_randman import RandmanConfig
from .surrogate_digits import (
    TensorBatches,
    _flat_metrics,
    activity_metrics,
    curve_figures,
    train_classifier,
)

__all__ = ["RandmanConfig", "build_randman_model", "randman_splits", "run"]


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
def run(config: RandmanConfig, *, progress: bool = True,
        checkpoint: Checkpointer | None = None) -> Result:
    from ..surrogate import max_membrane_cross_entropy
    from ..surrogate.trainer import _check_device

    _check_device(config.device)  # before the data: no CUDA device is a clear error up front
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
        checkpoint=checkpoint, device=config.device,
    )
    layers = model.layers
    projections = [("input_hidden", layers[0]), ("hidden_output", layers[2])]
    act = activity_metrics(model, test, projections, ["layers.1"])
    act = {k.replace("layers.1", "hidden"): v for k, v in act.items()}
    act["spike_rate_input"] = float(test.x.float().mean())
    rates = {k[len("spike_rate_"):]: v for k, v in act.items() if k.startswith("spike_rate_")}
    metrics = _flat_metrics(history, {
        **act, "chance_accuracy": 1.0 / config.num_classes,
        "n_train": int(train_d.labels.numel()), "n_test": int(test_d.labels.numel()),
        "device": config.device,
    })
    arrays = {
        "test_accuracy_per_epoch": torch.tensor([h["test_accuracy"] for h in history]),
        "train_loss_per_epoch": torch.tensor([h["train_loss"] for h in history]),
    }
    return Result(metrics=metrics, figures=curve_figures(history, rates, "randman"),
                  arrays={**arrays, **{f"model.{k}": v for k, v in model.state_dict().items()}},
                  curves={k: [h[k] for h in history] for k in history[0] if k != "epoch"},
                  timings={"ms_per_step": step_ms, "train_wall_s": time.perf_counter() - t0})
