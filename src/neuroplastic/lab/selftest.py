"""``lab-selftest``: a small, exactly reproducible experiment that exercises the lab.

Linear regression by minibatch SGD (float64) on a seeded synthetic problem
``y = X w* + noise``. It uses every lab convention: curves (full-data loss per step),
figures, a checkpoint (weights, generator state, loss history) every ``checkpoint_every``
steps, and ``torch.distributed`` (each rank takes its share of the minibatch, gradients are
summed over ranks), so resume-after-kill, sweeps and ``--devices`` can be tested on it.

It is not auto-registered: load it with ``neuroplastic run lab-selftest --module
neuroplastic.lab.selftest``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from ..experiments.base import Checkpointer, Result, register
from ..experiments.params import Cost, check_fields, param

__all__ = ["SelfTestConfig", "run"]


@dataclass(frozen=True)
class SelfTestConfig:
    """Linear regression by minibatch SGD on a seeded synthetic problem."""

    steps: int = param(60, "SGD steps", low=1, high=1_000_000)
    n_samples: int = param(256, "rows of the synthetic data set", low=2, high=1_000_000)
    n_features: int = param(8, "columns (weights to learn)", low=1, high=10_000)
    batch: int = param(32, "minibatch size (shared across ranks)", low=1)
    lr: float = param(0.05, "SGD learning rate", low=0, low_open=True, high=10)
    noise: float = param(0.1, "standard deviation of the label noise", low=0, high=1e6)
    checkpoint_every: int = param(10, "steps between checkpoint opportunities", low=1)
    step_delay_s: float = param(0.0, "sleep per step, so that tests can kill a run mid-way",
                                unit="s", low=0, high=60)
    seed: int = param(0, "data, initial weights and minibatch order", low=0)

    def __post_init__(self) -> None:
        check_fields(self)
        if self.batch > self.n_samples:
            raise ValueError(f"batch ({self.batch}) must be <= n_samples ({self.n_samples})")

    def cost(self) -> Cost:
        return Cost(1.5 + self.steps * (self.step_delay_s + 2e-5 * self.n_samples),
                    f"{self.steps} steps")


def _world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


@register("lab-selftest", SelfTestConfig, "linear regression by SGD; exercises the lab")
def run(
    config: SelfTestConfig, *, progress: bool = True, checkpoint: Checkpointer | None = None
) -> Result:
    import matplotlib.pyplot as plt

    rank, world = _world()
    data_gen = torch.Generator().manual_seed(config.seed)
    x = torch.randn(config.n_samples, config.n_features, generator=data_gen, dtype=torch.float64)
    w_true = torch.randn(config.n_features, generator=data_gen, dtype=torch.float64)
    y = x @ w_true + config.noise * torch.randn(config.n_samples, generator=data_gen,
                                                dtype=torch.float64)
    w = torch.zeros(config.n_features, dtype=torch.float64)
    batch_gen = torch.Generator().manual_seed(config.seed + 1)
    losses: list[float] = []
    start = 0
    state = checkpoint.load() if checkpoint is not None else None
    if state is not None:
        start, tensors, meta = state
        w = tensors["w"].clone()
        batch_gen.set_state(tensors["batch_gen_state"])
        losses = [float(v) for v in meta["losses"]]
    for step in tqdm(range(start, config.steps), desc="sgd", disable=not progress or rank != 0,
                     initial=start, total=config.steps):
        idx = torch.randint(config.n_samples, (config.batch,), generator=batch_gen)
        mine = idx[rank::world]  # this rank's share of the minibatch
        err = x[mine] @ w - y[mine]
        grad = 2.0 * x[mine].T @ err
        if world > 1:
            dist.all_reduce(grad)
        w = w - config.lr * grad / config.batch
        losses.append(float(((x @ w - y) ** 2).mean()))
        if config.step_delay_s:
            time.sleep(config.step_delay_s)
        done = step + 1
        if (checkpoint is not None and done % config.checkpoint_every == 0 and done < config.steps
                and checkpoint.due()):
            checkpoint.save(done, {"w": w, "batch_gen_state": batch_gen.get_state()},
                            {"losses": losses})
    metrics = {
        "final_loss": losses[-1],
        "w_error": float(torch.linalg.vector_norm(w - w_true)),
        "steps": config.steps,
        "macs_total": 2 * config.steps * config.batch * config.n_features,
    }
    fig_loss, ax = plt.subplots(figsize=(5, 3))
    ax.semilogy(range(1, len(losses) + 1), losses)
    ax.set(xlabel="step", ylabel="MSE (full data)", title="Training loss")
    fig_w, ax = plt.subplots(figsize=(5, 3))
    ax.bar(range(config.n_features), w_true.numpy(), alpha=0.5, label="true")
    ax.bar(range(config.n_features), w.numpy(), alpha=0.5, label="learned")
    ax.set(xlabel="feature", ylabel="weight", title="Weights")
    ax.legend()
    return Result(metrics=metrics, figures={"loss": fig_loss, "weights": fig_w},
                  arrays={"w": w, "w_true": w_true}, curves={"loss": losses})
