"""The stability–plasticity controller against fixed α/β on a stream whose tasks recur.

Stream: the first ``n_base`` digit pairs of split-digits ({0,1}, {2,3}, ...), presented
``cycles`` times in order (A B C A B C ...;
:func:`neuroplastic.continual.streams.recurring_stream`);
the learner is told where a block starts (to consolidate its generator / importance) but the
controller is not: it finds the task switches in the loss of the incoming data.

One network (64-H-H-10 MLP, the chosen method of
:class:`~neuroplastic.continual.learner.ContinualLearner`) is trained on the stream once with
the **adaptive** controller (:mod:`neuroplastic.continual.controller`: α released by surprise,
β released at every detected switch; loss ``(α L_learn + β L_forget)/(α+β)``) and once for
every **fixed** β of ``fixed_betas`` (α = 1, nothing released). After each block the
class-incremental accuracy on every base task seen so far is measured; the score of a run is
the mean of that accuracy over the blocks (``avg_acc_*``; the area under the accuracy curve:
a run must learn each new task quickly *and* keep the old ones).

Metrics: ``avg_acc_adaptive``, ``avg_acc_fixed_best`` (best fixed β, ``best_fixed_beta``),
``margin`` (adaptive − best fixed), ``final_acc_*``, ``switches_detected`` (adaptive run),
``switches_true`` (block boundaries where the task changes), ``switches_hit`` (detections
within one epoch of a true boundary). Curves: α(t), β(t) and the detected switches (1/0 per
step) of the adaptive run, the accuracy after each block of every run. Resumable after every
task block of every run.
"""

from __future__ import annotations

import time

import torch

from ..lab.checkpointer import Checkpointer
from .base import Result, register
from .configs.continual_recurring import ContinualRecurringConfig

__all__ = ["ContinualRecurringConfig", "run"]


def _settings(config: ContinualRecurringConfig) -> dict:
    from ..continual.controller import ControllerParams

    out = {"adaptive": ControllerParams(
        alpha_base=1.0, alpha_release=config.alpha_release, alpha_tau=config.alpha_tau,
        beta_release=config.beta_release, switch_threshold=config.switch_threshold)}
    for b in config.fixed_betas:
        out[f"fixed-{b:g}"] = ControllerParams(alpha_base=1.0, alpha_release=0.0, beta_base=b,
                                               beta_release=0.0)
    return out


def _learner(config: ContinualRecurringConfig, cp):
    from ..continual.learner import ContinualLearner, LearnerParams

    p = LearnerParams(method=config.method, hidden=config.hidden, epochs=config.epochs,
                      batch_size=config.batch_size, lr=config.lr, strength=config.strength,
                      importance_samples=config.importance_samples, controller=True,
                      controller_params=cp, seed=config.seed)
    return ContinualLearner(p, 64, 10)


def _figures(curves: dict, names: list[str], boundaries: list[int]) -> dict:
    import matplotlib.pyplot as plt

    figs = {}
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.plot(curves["alpha"], label="alpha (plasticity)")
    ax.plot(curves["beta"], label="beta (stability)")
    for k, b in enumerate(boundaries):
        ax.axvline(b, color="0.7", lw=0.8, ls=":", label="task switch" if k == 0 else None)
    ax.set(xlabel="training step", ylabel="signal", title="adaptive controller")
    ax.legend(fontsize=7)
    fig.tight_layout()
    figs["alpha_beta"] = fig
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for n in names:
        ax.plot(range(1, len(curves[f"acc.{n}"]) + 1), curves[f"acc.{n}"], marker="o", ms=3,
                lw=2.2 if n == "adaptive" else 1.0, label=n)
    ax.set(xlabel="task blocks trained", ylabel="class-IL accuracy (tasks seen)",
           ylim=(-0.02, 1.02), title="recurring stream: adaptive vs fixed alpha/beta")
    ax.legend(fontsize=7)
    fig.tight_layout()
    figs["accuracy"] = fig
    return figs


@register("continual-recurring", ContinualRecurringConfig,
          "Adaptive stability-plasticity controller vs fixed alpha/beta on recurring tasks")
def run(config: ContinualRecurringConfig, *, progress: bool = True,
        checkpoint: Checkpointer | None = None) -> Result:
    from tqdm.auto import tqdm

    from ..continual.streams import recurring_stream, split_digits

    t_start = time.perf_counter()
    base = split_digits(5, seed=config.seed)[: config.n_base]
    stream = recurring_stream(base, list(range(config.n_base)) * config.cycles)
    settings = _settings(config)
    names = list(settings)
    B = len(stream)
    curves: dict[str, list[float]] = {f"acc.{n}": [] for n in names}
    done, train_s = 0, 0.0  # units = (run, block), run-major
    learner = None
    state = checkpoint.load() if checkpoint is not None else None
    if state is not None:
        done, tensors, meta = state
        curves = {k: list(v) for k, v in meta["curves"].items()}
        train_s = float(meta["train_s"])
        if done % B:
            learner = _learner(config, settings[names[done // B]])
            learner.load_state({k[2:]: v for k, v in tensors.items() if k.startswith("L.")},
                               meta["learner"], stream)
    bar = tqdm(total=len(names) * B, initial=done, desc="continual-recurring",
               disable=not progress)
    while done < len(names) * B:
        r, b = divmod(done, B)
        if b == 0:
            learner = _learner(config, settings[names[r]])
        task = stream[b]
        t0 = time.perf_counter()
        learner.begin_task(task)
        for _ in range(config.epochs):
            learner.train_epoch(task)
        learner.end_task(task)
        train_s += time.perf_counter() - t0
        seen = base[: min(b + 1, config.n_base)]
        cls, _ = learner.evaluate(seen)
        curves[f"acc.{names[r]}"].append(sum(cls) / len(cls))
        if r == 0:
            curves["alpha"] = list(learner.controller.alpha_history)
            curves["beta"] = list(learner.controller.beta_history)
            hits = set(learner.controller.switch_steps)  # 1 where a switch was detected
            curves["switch"] = [float(k in hits) for k in range(len(curves["alpha"]))]
        done += 1
        bar.update(1)
        if checkpoint is not None and checkpoint.due():
            tensors, lmeta = ({}, {}) if done % B == 0 else learner.state()
            checkpoint.save(done, {f"L.{k}": v for k, v in tensors.items()},
                            {"learner": lmeta, "curves": curves, "train_s": train_s})
    bar.close()
    avg = {n: sum(curves[f"acc.{n}"]) / B for n in names}
    fixed = [n for n in names if n != "adaptive"]
    best = max(fixed, key=lambda n: avg[n])
    steps_per_block = len(curves["alpha"]) // B
    boundaries = [k * steps_per_block for k in range(1, B)]
    epoch_steps = max(1, steps_per_block // config.epochs)
    switch_steps = [k for k, v in enumerate(curves["switch"]) if v]
    hits = sum(1 for s in switch_steps if any(0 <= s - bd < epoch_steps for bd in boundaries))
    metrics = {
        "avg_acc_adaptive": avg["adaptive"],
        "avg_acc_fixed_best": avg[best],
        "best_fixed_beta": float(best.split("-", 1)[1]),
        "margin": avg["adaptive"] - avg[best],
        "final_acc_adaptive": curves["acc.adaptive"][-1],
        "final_acc_fixed_best": curves[f"acc.{best}"][-1],
        "switches_detected": len(switch_steps),
        "switches_true": len(boundaries),
        "switches_hit": hits,
        "task_blocks": B,
        "method": config.method,
    }
    metrics.update({f"avg_acc.{n}": avg[n] for n in fixed})
    arrays = {"alpha": torch.tensor(curves["alpha"], dtype=torch.float64),
              "beta": torch.tensor(curves["beta"], dtype=torch.float64),
              "accuracy": torch.tensor([curves[f"acc.{n}"] for n in names],
                                       dtype=torch.float64)}
    timings = {"train_s": train_s, "wall_s": time.perf_counter() - t_start}
    return Result(metrics=metrics, figures=_figures(curves, names, boundaries), arrays=arrays,
                  curves=curves, timings=timings)
