"""Continual learning on split-digits: five tasks of two classes, one after the other.

The bundled 8×8 digits are split into ``n_tasks`` disjoint class groups
(:func:`neuroplastic.continual.streams.split_digits`); one network (ANN or surrogate-gradient
SNN, 64-H-H-10) learns them in sequence with the chosen method
(:class:`neuroplastic.continual.learner.ContinualLearner`). After every epoch all tasks are
evaluated (forgetting curves); after every task the rows of the accuracy matrices are recorded:
class-incremental (choose among all classes seen so far) and task-incremental (the task's
classes given). Metrics: ``class_il_acc`` and ``task_il_acc`` (average final accuracy), ``bwt``
(class-IL backward transfer), ``fwt`` (task-IL forward transfer against the untrained network),
``stored_raw_samples`` (0 for every method except ``joint`` and ``er``). The stability–plasticity
controller's α and β are recorded at every step whatever the method.

Resumable at every epoch boundary (model, Adam, method state, generator, teacher, controller,
random generators, matrices and curves are checkpointed).
"""

from __future__ import annotations

import time

import torch

from ..lab.checkpointer import Checkpointer
from .base import Result, register
from .configs.continual_digits import ContinualDigitsConfig

__all__ = ["ContinualDigitsConfig", "run"]


def _params(config: ContinualDigitsConfig):
    from ..continual.learner import LearnerParams

    keys = ("method", "network", "hidden", "epochs", "batch_size", "lr", "strength",
            "online_decay", "si_damping", "importance_samples", "replay_components",
            "temperature", "temperature_weight", "controller", "num_steps", "seed",
            "replay_batch", "buffer_size", "replay_clusters", "replay_noise", "scenario")
    kw = {k: getattr(config, k) for k in keys}
    return LearnerParams(**kw, beta_mem=config.beta_mem)


def _figures(Rc: torch.Tensor, Rt: torch.Tensor, curves: dict, n_tasks: int,
             epochs: int) -> dict:
    import matplotlib.pyplot as plt

    figs = {}
    fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    for ax, R, title in ((axes[0], Rc, "class-incremental"), (axes[1], Rt, "task-incremental")):
        im = ax.imshow(R.numpy(), vmin=0, vmax=1, cmap="viridis")
        for i in range(n_tasks):
            for j in range(n_tasks):
                ax.text(j, i, f"{float(R[i, j]):.2f}", ha="center", va="center", fontsize=7,
                        color="w" if R[i, j] < 0.5 else "k")
        ax.set(xlabel="evaluated task j", ylabel="after training task i",
               title=f"R[i, j] {title}")
    fig.colorbar(im, ax=axes, shrink=0.8)
    figs["accuracy_matrix"] = fig
    fig, ax = plt.subplots(figsize=(7, 3.5))
    x = [(k + 1) / epochs for k in range(len(curves["task0_class_il"]))]
    for j in range(n_tasks):
        ax.plot(x, curves[f"task{j}_class_il"], label=f"task {j}")
    ax.set(xlabel="tasks trained", ylabel="class-IL accuracy", ylim=(-0.02, 1.02),
           title="forgetting curves (evaluated every epoch)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    figs["forgetting_curves"] = fig
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.plot(curves["alpha"], label="alpha (plasticity)")
    ax.plot(curves["beta"], label="beta (stability)")
    ax.set(xlabel="training step", ylabel="signal", title="stability-plasticity controller")
    ax.legend()
    fig.tight_layout()
    figs["alpha_beta"] = fig
    return figs


@register("continual-digits", ContinualDigitsConfig,
          "Split-digits continual learning: accuracy matrix, forgetting, BWT/FWT, alpha/beta")
def run(config: ContinualDigitsConfig, *, progress: bool = True,
        checkpoint: Checkpointer | None = None) -> Result:
    from tqdm.auto import tqdm

    from ..continual.learner import ContinualLearner
    from ..continual.metrics import average_accuracy, backward_transfer, forward_transfer
    from ..continual.streams import split_digits

    t_start = time.perf_counter()
    tasks = split_digits(config.n_tasks, test_size=config.test_size, seed=config.seed)
    T, E = len(tasks), config.epochs
    learner = ContinualLearner(_params(config), 64, 10)
    f64 = torch.float64
    Rc = torch.zeros(T, T, dtype=f64)
    Rt = torch.zeros(T, T, dtype=f64)
    baseline = torch.tensor(learner.evaluate(tasks)[1], dtype=f64)  # task-IL, untrained
    curves: dict[str, list[float]] = {"loss": [], "avg_class_il": [], "avg_task_il": []}
    for j in range(T):
        curves[f"task{j}_class_il"] = []
        curves[f"task{j}_task_il"] = []
    done = 0  # epochs completed over the whole stream
    train_s = 0.0
    state = checkpoint.load() if checkpoint is not None else None
    if state is not None:
        done, tensors, meta = state
        learner.load_state({k[2:]: v for k, v in tensors.items() if k.startswith("L.")},
                           meta["learner"], tasks)
        Rc, Rt = tensors["Rc"].clone(), tensors["Rt"].clone()
        curves = {k: list(v) for k, v in meta["curves"].items()}
        train_s = float(meta["train_s"])
    bar = tqdm(total=T * E, initial=done, desc="continual-digits", disable=not progress)
    while done < T * E:
        i, e = divmod(done, E)
        task = tasks[i]
        if e == 0:
            learner.begin_task(task)
        t0 = time.perf_counter()
        m = learner.train_epoch(task)
        if e == E - 1:
            learner.end_task(task)
        train_s += time.perf_counter() - t0
        cls, tsk = learner.evaluate(tasks)
        curves["loss"].append(m["loss"])
        for j in range(T):
            curves[f"task{j}_class_il"].append(cls[j])
            curves[f"task{j}_task_il"].append(tsk[j])
        curves["avg_class_il"].append(sum(cls[: i + 1]) / (i + 1))
        curves["avg_task_il"].append(sum(tsk[: i + 1]) / (i + 1))
        if e == E - 1:
            Rc[i] = torch.tensor(cls, dtype=f64)
            Rt[i] = torch.tensor(tsk, dtype=f64)
        done += 1
        bar.update(1)
        if progress:
            bar.set_postfix(task=i, loss=f"{m['loss']:.3f}",
                            acc=f"{curves['avg_class_il'][-1]:.3f}")
        if checkpoint is not None and checkpoint.due():
            lt, lmeta = learner.state()
            tensors = {f"L.{k}": v for k, v in lt.items()}
            tensors.update(Rc=Rc, Rt=Rt)
            checkpoint.save(done, tensors, {"learner": lmeta, "curves": curves,
                                            "train_s": train_s})
    bar.close()
    ctl = learner.controller
    curves["alpha"] = list(ctl.alpha_history)
    curves["beta"] = list(ctl.beta_history)
    steps_per_task = len(ctl.alpha_history) // T
    boundaries = {k * steps_per_task for k in range(1, T)}
    hits = sum(1 for s in ctl.switch_steps if s in boundaries)
    metrics = {
        "class_il_acc": average_accuracy(Rc),
        "task_il_acc": average_accuracy(Rt),
        "bwt": backward_transfer(Rc),
        "task_il_bwt": backward_transfer(Rt),
        "fwt": forward_transfer(Rt, baseline),
        "stored_raw_samples": learner.stored_raw_samples,
        "stored_generator_floats": (learner.generator.stored_floats()
                                    if learner.generator is not None else 0),
        "switches_detected": len(ctl.switch_steps),
        "switches_at_task_boundaries": hits,
        "n_tasks": T,
        "method": config.method,
        "network": config.network,
    }
    arrays = {"accuracy_matrix_class_il": Rc, "accuracy_matrix_task_il": Rt,
              "untrained_task_il": baseline,
              "alpha": torch.tensor(ctl.alpha_history, dtype=f64),
              "beta": torch.tensor(ctl.beta_history, dtype=f64)}
    arrays.update({f"weights.{k}": v.detach().clone()
                   for k, v in learner.model.state_dict().items()})
    timings = {"train_s": train_s, "wall_s": time.perf_counter() - t_start}
    return Result(metrics=metrics, figures=_figures(Rc, Rt, curves, T, E), arrays=arrays,
                  curves=curves, timings=timings)
