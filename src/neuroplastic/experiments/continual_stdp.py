"""Diehl & Cook learns the digit classes task after task, with importance-gated STDP.

The bundled 8×8 digits are split into ``n_tasks`` tasks of disjoint classes (default two:
0–4, then 5–9; :func:`neuroplastic.continual.streams.split_digits`). One Diehl & Cook network
(:class:`~neuroplastic.models.diehl_cook.DiehlCook`) learns them in sequence by unsupervised
STDP, twice from the same initial state: **gated** and **ungated**.

* **Importance** (local, activity-based, :class:`~neuroplastic.continual.importance.
  ActivityImportance`): accumulated while a task is learned — by default the postsynaptic
  spikes per training sample of each excitatory neuron (``importance="post"``: every incoming
  synapse of a neuron gets its neuron's activity, so whole neurons are protected), or pre ×
  post coactivity, or accumulated :math:`|\\Delta w|`. At the end of a task it is divided by
  its mean (so ``gate_scale`` is in units of a task's average) and added to the consolidated
  importance of the earlier tasks.
* **Gate**: in the gated condition :meth:`DiehlCook.set_importance` turns it into a
  per-synapse factor :math:`g(I)` (:func:`~neuroplastic.continual.gate.gate_factor`; default a
  step: synapses with :math:`I \\ge I_0` are frozen) applied to every STDP change *inside the
  compiled presentation loop* while the next tasks are learned. The ungated condition computes
  the same importance and labels but never gates.
* **Labels without stored samples**: at the end of each task the neurons consolidated by it
  (neuron importance :math:`g(\\bar I_j) \\le 1/2`, :math:`\\bar I_j` the mean over its
  synapses) that have no label yet are labelled with their preferred class *among that task's
  classes*, from that task's training data (learning off); at the end of the last task every
  still-unlabelled neuron that responds is labelled the same way. Labels are then frozen: no
  later step looks at old-class images. What is stored across tasks is the weights, the
  thresholds, the importance ``(n_input, n_exc)`` and one label per neuron —
  ``stored_raw_samples = 0``. A test digit is classified by all-neuron voting of the labelled
  neurons among all classes seen (class-incremental).

Metrics (per condition ``_gated`` / ``_ungated``): the accuracy matrix ``R[i, j]`` (accuracy on
task ``j``'s test classes after learning task ``i``), the old-class accuracy (test digits of
every task but the last, class-incremental) before and after the last task and its drop
(``old_class_drop_*``; the issue's goal: < 5 points gated), the new-class accuracy, the final
class-incremental accuracy, backward transfer. Curves: old-class accuracy every
``curve_every`` training samples of the later tasks. Figures: accuracy matrices, drop bars,
receptive fields, forgetting curves.

Resumable after every ``curve_every`` training samples and every task end (both models'
state, importances, labels, matrices and curves); input spikes are counter-based and sample
orders depend only on the seed, task and epoch, so a resumed run is bit-identical.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from ..lab.checkpointer import Checkpointer
from .base import Result, register
from .configs.continual_stdp import ContinualStdpConfig

if TYPE_CHECKING:
    from ..models.diehl_cook import DiehlCookParams

__all__ = ["ContinualStdpConfig", "run"]

CONDITIONS = ("gated", "ungated")
_LABEL_FIRST = 1_000_000  # label pass of task t reads input stream "label" from t * this


def _units(sizes: list[int], cfg: ContinualStdpConfig) -> list[tuple]:
    """The run as a list of resumable steps, per condition: training chunks, then task ends."""
    out: list[tuple] = []
    for c in CONDITIONS:
        for t, n in enumerate(sizes):
            for e in range(cfg.epochs):
                out += [("train", c, t, e, s) for s in range(0, n, cfg.curve_every)]
            out.append(("end", c, t))
    return out


def _predict(counts: Tensor, labels: Tensor) -> Tensor:
    """All-neuron vote of the labelled neurons (-1 where none is labelled)."""
    from ..models.diehl_cook import vote

    ok = labels >= 0
    if not bool(ok.any()):
        return torch.full((counts.shape[0],), -1, dtype=torch.int64)
    return vote(counts[:, ok], labels[ok])


def _neuron_gate(imp: Tensor, gate_params) -> Tensor:
    """Gate of each neuron's mean importance over its incoming synapses ``(n_exc,)``."""
    from ..continual.gate import gate_factor

    return gate_factor(imp.mean(0), gate_params)


def _figures(R: dict, m: dict, curves: dict, models: dict, labels: dict, cfg):
    import matplotlib.pyplot as plt

    figs = {}
    T = cfg.n_tasks
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.6))
    for ax, c in zip(axes, CONDITIONS):
        r = R[c].numpy()
        im = ax.imshow(r, vmin=0, vmax=1, cmap="viridis")
        for i in range(T):
            for j in range(i + 1):
                ax.text(j, i, f"{r[i, j]:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if r[i, j] < 0.6 else "black")
        ax.set_xlabel("test task j")
        ax.set_ylabel("after task i")
        ax.set_xticks(range(T))
        ax.set_yticks(range(T))
        ax.set_title(f"{c}: R[i, j]")
    fig.colorbar(im, ax=axes, fraction=0.03)
    figs["accuracy_matrix"] = fig

    fig, ax = plt.subplots(figsize=(5.4, 3.4))
    keys = ["old_class_acc_before", "old_class_acc_after", "new_class_acc", "class_il_acc"]
    xs = np.arange(len(keys))
    for k, c in enumerate(CONDITIONS):
        ax.bar(xs + (k - 0.5) * 0.38, [100 * m[f"{key}_{c}"] for key in keys], 0.38, label=c)
    ax.set_xticks(xs)
    ax.set_xticklabels(["old, before", "old, after", "new", "all (class-IL)"], fontsize=8)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"old-class drop: gated {m['old_class_drop_gated']:.1f}, ungated "
                 f"{m['old_class_drop_ungated']:.1f} points", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    figs["drop_bars"] = fig

    w0 = models["gated"].weights.numpy()
    n_in, n = w0.shape
    side = int(round(math.sqrt(n_in)))
    cols = int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / cols))
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.6 * rows / cols + 0.6))
    for ax, c in zip(axes, CONDITIONS):
        w = models[c].weights.numpy()
        grid = np.full((rows * (side + 1), cols * (side + 1)), np.nan)
        for k in range(n):
            r, q = divmod(k, cols)
            grid[r * (side + 1): r * (side + 1) + side, q * (side + 1): q * (side + 1) + side] = \
                w[:, k].reshape(side, side)
        ax.imshow(grid, cmap="hot_r", interpolation="nearest")
        for k in range(n):
            r, q = divmod(k, cols)
            lab = int(labels[c][k])
            ax.text(q * (side + 1), r * (side + 1) + 1, "" if lab < 0 else str(lab),
                    fontsize=5, color="C0")
        ax.set_axis_off()
        ax.set_title(f"{c}: receptive fields (blue: label)", fontsize=9)
    fig.tight_layout()
    figs["weight_maps"] = fig

    fig, ax = plt.subplots(figsize=(5.6, 3.4))
    for c in CONDITIONS:
        y = curves[f"old_class_acc_{c}"]
        ax.plot(np.arange(1, len(y) + 1) * cfg.curve_every, 100 * np.asarray(y), label=c)
    ax.set_xlabel("training samples of the later tasks")
    ax.set_ylabel("old-class accuracy (%)")
    ax.set_title("forgetting while new classes are learned", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    figs["forgetting_curve"] = fig
    return figs


def model_params(cfg: ContinualStdpConfig, n_input: int) -> DiehlCookParams:
    """The Diehl & Cook parameters of both networks (the stdp-digits defaults for the bundled
    digits); also what ``neuroplastic explain`` rebuilds a finished run with."""
    from ..models.diehl_cook import DiehlCookParams

    return DiehlCookParams(
        n_input=n_input, max_rate_hz=cfg.max_rate_hz, boost_rate_hz=cfg.max_rate_hz / 2,
        weight_sum_per_input=0.2, eta_pre=cfg.eta_pre, eta_post=cfg.eta_post,
        theta_plus_mv=0.05, w_inh_exc_mv=17.5, one_spike=False,
    )


@register("continual-stdp", ContinualStdpConfig,
          "Diehl & Cook on digit classes in sequence: importance-gated vs plain STDP")
def run(config: ContinualStdpConfig, *, progress: bool = True,
        checkpoint: Checkpointer | None = None) -> Result:
    from tqdm.auto import tqdm

    from ..continual.gate import GateParams
    from ..continual.importance import ActivityImportance
    from ..continual.metrics import backward_transfer
    from ..continual.streams import split_digits
    from ..models.diehl_cook import DiehlCook, class_sums
    from ..network._rng import subseed

    t_start = time.perf_counter()
    cfg = config
    tasks = split_digits(cfg.n_tasks, test_size=cfg.test_size, seed=cfg.seed)
    xtr = [task.x_train.to(torch.float64) for task in tasks]
    xte = [task.x_test.to(torch.float64) for task in tasks]
    T, n_in, N = len(tasks), xtr[0].shape[1], cfg.n_exc
    sizes = [int(task.x_train.shape[0]) for task in tasks]
    test_first = np.cumsum([0] + [int(task.x_test.shape[0]) for task in tasks]).tolist()
    params = model_params(cfg, n_in)
    gate_params = GateParams(cfg.gate_kind, cfg.gate_scale)
    acc_kind = "abs_dw" if cfg.importance == "abs_dw" else "coactivity"
    models = {c: DiehlCook(N, params, seed=cfg.seed) for c in CONDITIONS}
    labels = {c: torch.full((N,), -1, dtype=torch.int64) for c in CONDITIONS}
    imp = {c: torch.zeros((n_in, N), dtype=torch.float64) for c in CONDITIONS}
    acc = {c: ActivityImportance((n_in, N), acc_kind) for c in CONDITIONS}
    R = {c: torch.zeros((T, T), dtype=torch.float64) for c in CONDITIONS}
    curve = {c: [] for c in CONDITIONS}
    secs = {"train_gated": 0.0, "train_ungated": 0.0, "eval": 0.0}
    units = _units(sizes, cfg)
    step = 0
    state = checkpoint.load() if checkpoint is not None else None
    if state is not None:
        step, tensors, meta = state
        for c in CONDITIONS:
            models[c].load_state_dict({k[len(c) + 7:]: v for k, v in tensors.items()
                                       if k.startswith(f"{c}.model.")})
            labels[c], imp[c], R[c] = (tensors[f"{c}.labels"].clone(), tensors[f"{c}.imp"].clone(),
                                       tensors[f"{c}.R"].clone())
            acc[c].values = tensors[f"{c}.acc"].clone()
            curve[c] = tensors[f"{c}.curve"].tolist()
        secs = {k: float(v) for k, v in meta["secs"].items()}

    def save(step: int) -> None:
        t: dict[str, Tensor] = {}
        for c in CONDITIONS:
            t.update({f"{c}.model.{k}": v for k, v in models[c].state_dict().items()})
            t.update({f"{c}.labels": labels[c], f"{c}.imp": imp[c], f"{c}.R": R[c],
                      f"{c}.acc": acc[c].values,
                      f"{c}.curve": torch.tensor(curve[c], dtype=torch.float64)})
        checkpoint.save(step, t, {"secs": secs})

    def evaluate(c: str, task_ids: range) -> tuple[Tensor, Tensor]:
        """Predictions and true classes on the test digits of the given tasks."""
        t0 = time.perf_counter()
        preds, ys = [], []
        for j in task_ids:
            counts, _, _ = models[c].run(xte[j], learn=False, stream="test",
                                         first=test_first[j])
            preds.append(_predict(counts, labels[c]))
            ys.append(tasks[j].y_test)
        secs["eval"] += time.perf_counter() - t0
        return torch.cat(preds), torch.cat(ys)

    bar = tqdm(total=len(units), initial=step, desc="continual-stdp", disable=not progress,
               mininterval=0.5)
    while step < len(units):
        u = units[step]
        c, t = u[1], u[2]
        m = models[c]
        task = tasks[t]
        if u[0] == "train":
            e, s = u[3], u[4]
            g = torch.Generator().manual_seed(subseed(cfg.seed, "order", t, e))
            sel = torch.randperm(sizes[t], generator=g)[s: s + cfg.curve_every]
            xb = xtr[t][sel]
            t0 = time.perf_counter()
            w0 = m._w.clone() if acc_kind == "abs_dw" else None
            counts, _, _ = m.run(xb, learn=True, stream="train", first=m.samples_seen_)
            m.samples_seen_ += xb.shape[0]
            secs[f"train_{c}"] += time.perf_counter() - t0
            if acc_kind == "abs_dw":
                acc[c].update_change(m._w - w0)
            else:
                pre = xb if cfg.importance == "coactivity" else torch.ones_like(xb)
                acc[c].update_activity(pre, counts.to(torch.float64))
            if t > 0:  # forgetting curve: old classes, class-incremental, labels frozen
                p, y = evaluate(c, range(t))
                curve[c].append(float((p == y).double().mean()))
        else:
            # label the neurons this task consolidated (learning off, this task's data only)
            t0 = time.perf_counter()
            counts, _, _ = m.run(xtr[t], learn=False, stream="label",
                                 first=t * _LABEL_FIRST)
            secs["eval"] += time.perf_counter() - t0
            sums, n = class_sums(counts, task.y_train)
            mean = torch.where(n[:, None] > 0, sums.double() / n.clamp(min=1)[:, None], -1.0)
            a = acc[c].values
            if float(a.mean()) > 0:
                imp[c] = imp[c] + acc[c].result(m._w, scale=float(a.mean())).values
            acc[c].values = torch.zeros_like(a)
            fresh = labels[c] < 0
            if t < T - 1:
                fresh &= _neuron_gate(imp[c], gate_params) <= 0.5
            else:
                fresh &= counts.sum(0) > 0
            labels[c] = torch.where(fresh, torch.argmax(mean, 0), labels[c])
            if c == "gated":
                m.set_importance(imp[c], gate_params)
            for j in range(t + 1):
                p, y = evaluate(c, range(j, j + 1))
                R[c][t, j] = float((p == y).double().mean())
        step += 1
        bar.update(1)
        if checkpoint is not None and step < len(units) and checkpoint.due():
            save(step)
    bar.close()

    n_test = [int(task.x_test.shape[0]) for task in tasks]
    w_old = torch.tensor(n_test[:-1], dtype=torch.float64)
    w_all = torch.tensor(n_test, dtype=torch.float64)
    metrics: dict = {}
    for c in CONDITIONS:
        r = R[c]
        before = float((r[T - 2, : T - 1] * w_old).sum() / w_old.sum())
        after = float((r[T - 1, : T - 1] * w_old).sum() / w_old.sum())
        metrics.update({
            f"old_class_acc_before_{c}": before,
            f"old_class_acc_after_{c}": after,
            f"old_class_drop_{c}": 100.0 * (before - after),
            f"new_class_acc_{c}": float(r[T - 1, T - 1]),
            f"class_il_acc_{c}": float((r[T - 1] * w_all).sum() / w_all.sum()),
            f"bwt_{c}": backward_transfer(r),
            f"labelled_neurons_{c}": int((labels[c] >= 0).sum()),
        })
    g = models["gated"].gate
    metrics.update({
        "old_class_acc_before": metrics["old_class_acc_before_gated"],
        "goal_old_class_drop_below_5": metrics["old_class_drop_gated"] < 5.0,
        "frozen_synapse_fraction": float((g == 0).double().mean()) if g is not None else 0.0,
        "stored_raw_samples": 0,
        "stored_label_values": N,
        "n_tasks": T,
        "n_exc": N,
        "importance": cfg.importance,
        "gate_kind": cfg.gate_kind,
    })
    curves = {f"old_class_acc_{c}": curve[c] for c in CONDITIONS}
    curves.update({f"class_il_acc_after_task_{c}": [
        float((R[c][i, : i + 1] * w_all[: i + 1]).sum() / w_all[: i + 1].sum())
        for i in range(T)] for c in CONDITIONS})
    timings = {"train_s_gated": secs["train_gated"], "train_s_ungated": secs["train_ungated"],
               "gated_train_time_ratio": secs["train_gated"] / max(secs["train_ungated"], 1e-9),
               "eval_s": secs["eval"], "total_s": time.perf_counter() - t_start}
    arrays = {f"R_{c}": R[c] for c in CONDITIONS}
    for c in CONDITIONS:
        arrays.update({f"weights_{c}": models[c].weights, f"theta_{c}": models[c].theta,
                       f"labels_{c}": labels[c], f"importance_{c}": imp[c]})
    if g is not None:
        arrays["gate"] = g
    return Result(metrics=metrics, timings=timings, curves=curves, arrays=arrays,
                  figures=_figures(R, metrics, curves, models, labels, cfg))
