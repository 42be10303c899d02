"""Explain a trained network on a set of inputs: maps, deletion/insertion curves with paired
tests, the figures, and ``neuroplastic explain RUN_DIR`` (:func:`explain_run`)."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .attribution import METHODS, attribute
from .validity import auc, paired_test, perturbation_curves

__all__ = ["Faithfulness", "curve_figure", "explain_run", "faithfulness", "map_figure"]


@dataclass
class Faithfulness:
    """Maps ``(B, T, n)`` per method, curves ``{mode: {name: (B, K+1)}}``, AUCs, p-values.

    ``p[mode][method]`` is the larger of the one-sided Wilcoxon p-values against a random order
    and against the permutation baseline (another input's map)."""

    maps: dict[str, Tensor]
    curves: dict[str, dict[str, Tensor]] = field(default_factory=dict)
    p: dict[str, dict[str, float]] = field(default_factory=dict)

    def metrics(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for mode, curves in self.curves.items():
            for name, c in curves.items():
                out[f"{mode}_auc_{name}"] = float(auc(c).mean())
            for name, p in self.p[mode].items():
                out[f"{mode}_p_{name}"] = p
            out[f"{mode}_auc_p"] = max(self.p[mode].values())
        return out


def faithfulness(score: Any, x: Tensor, target: Tensor, *, methods: tuple[str, ...] = METHODS,
                 seed: int = 0, ig_steps: int = 32, steps: int = 10,
                 window: int = 2) -> Faithfulness:
    """Attribute ``target`` at ``x`` ``(B, T, n)`` with each method; deletion and insertion
    curves against a random order and the permutation baseline, one-sided paired tests."""
    g = torch.Generator().manual_seed(seed)
    maps = {m: attribute(m, score, x, target, seed=seed, n_steps=ig_steps, window=window)
            for m in methods}
    rnd = torch.rand(x.shape, generator=g)
    res = Faithfulness(maps)
    for mode, alt in (("deletion", "less"), ("insertion", "greater")):
        curves = {"random": perturbation_curves(score, x, target, rnd, steps=steps, mode=mode)}
        base = auc(curves["random"])
        ps = {}
        for m in methods:
            curves[m] = perturbation_curves(score, x, target, maps[m], steps=steps, mode=mode)
            perm = perturbation_curves(score, x, target, maps[m].roll(1, 0), steps=steps,
                                       mode=mode)
            a = auc(curves[m])
            ps[m] = max(paired_test(a, base, alt), paired_test(a, auc(perm), alt))
        res.curves[mode], res.p[mode] = curves, ps
    return res


def map_figure(x: Tensor, maps: dict[str, Tensor], labels: Tensor, n_show: int = 3) -> Any:
    """Input raster and each method's map (time × channel) for the first ``n_show`` inputs."""
    import matplotlib.pyplot as plt

    n_show = min(n_show, x.shape[0])
    cols = 1 + len(maps)
    fig, axes = plt.subplots(n_show, cols, figsize=(2.0 * cols, 1.9 * n_show), squeeze=False)
    for i in range(n_show):
        axes[i, 0].imshow(x[i].T.numpy(), aspect="auto", cmap="Greys", interpolation="nearest")
        axes[i, 0].set_ylabel(f"class {int(labels[i])}\nchannel")
        for j, (name, a) in enumerate(maps.items(), start=1):
            v = a[i].T.numpy()
            lim = float(np.abs(v).max()) or 1.0
            axes[i, j].imshow(v, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim,
                              interpolation="nearest")
            if i == 0:
                axes[i, j].set_title(name, fontsize=8)
        if i == 0:
            axes[i, 0].set_title("input spikes", fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("time step")
    for ax in axes.flat:
        ax.tick_params(labelsize=6)
    fig.tight_layout()
    return fig


def curve_figure(curves: dict[str, dict[str, Tensor]]) -> Any:
    """Mean deletion and insertion curves per method and for the random order."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(curves), figsize=(4.2 * len(curves), 3.3), squeeze=False)
    for ax, (mode, cs) in zip(axes[0], curves.items(), strict=True):
        for name, c in cs.items():
            frac = np.linspace(0, 1, c.shape[1])
            ax.plot(frac, c.mean(0).numpy(), "k--" if name == "random" else "-",
                    label=f"{name} (AUC {float(auc(c).mean()):.3f})")
        ax.set(xlabel=f"fraction of spikes {'deleted' if mode == 'deletion' else 'inserted'}",
               ylabel="target score", title=mode)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _html_report(title: str, metrics: dict[str, Any], images: list[str]) -> str:
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{v:.4g}</td></tr>" if isinstance(v, float)
                   else f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>"
                   for k, v in metrics.items())
    imgs = "".join(f'<p><img src="{html.escape(i)}" style="max-width:100%"></p>' for i in images)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title></head><body><h1>{html.escape(title)}</h1><table>{rows}</table>{imgs}"
            "</body></html>")


def explain_run(run_dir: str | Path, *, n_explain: int = 100, seed: int = 0) -> Path:
    """Explain the model of a finished run folder on ``n_explain`` held-out inputs (or states)
    and write ``RUN_DIR/explain/`` (maps.png, curves.png, metrics.json, report.html).

    ``surrogate-digits``: gradient and interventional attributions over input × time;
    ``stdp-digits``: pixel deletion in the simulator; every other run type that leaves a model
    (``surrogate-randman``, ``continual-digits``, ``continual-stdp``, ``cartpole``, ``walk``,
    ``lever-delay``) by :func:`~.runs.explain_folder`. Raises ``ValueError`` naming the file
    (or the parameter) when the folder holds no model, or one that its config does not build.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .._validation import check_int
    from ..data import spike_digits
    from .attribution import CountScore
    from .models import load_surrogate_digits
    from .runs import explain_folder, run_experiment

    check_int("n_explain", n_explain, 2)
    name = run_experiment(run_dir)
    if name == "stdp-digits":
        from .local_models import explain_stdp_run

        out = Path(run_dir) / "explain"
        out.mkdir(exist_ok=True)
        metrics = explain_stdp_run(run_dir, out, n_explain=n_explain, seed=seed)
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
        (out / "report.html").write_text(_html_report(
            f"explanations of {Path(run_dir).name} (Diehl & Cook, interventional)", metrics,
            ["maps.png"]))
        return out
    if name != "surrogate-digits":
        metrics, figs, title = explain_folder(run_dir, n_explain=n_explain, seed=seed)
        out = Path(run_dir) / "explain"
        out.mkdir(exist_ok=True)
        for fname, fig in figs.items():
            fig.savefig(out / f"{fname}.png", dpi=110)
            plt.close(fig)
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
        (out / "report.html").write_text(_html_report(
            f"explanations of {Path(run_dir).name}: {title}", metrics,
            [f"{f}.png" for f in figs]))
        return out
    model, config = load_surrogate_digits(run_dir)
    data = spike_digits(num_steps=config.num_steps, max_rate_hz=config.max_rate_hz,
                        test_size=config.test_size, seed=config.seed)
    n = min(n_explain, data.y_test.numel())
    x = data.spikes_test[:, :n].transpose(0, 1).to(torch.float32)
    score = CountScore(model, "softmax")
    with torch.no_grad():
        pred = score(x).argmax(1)
    res = faithfulness(score, x, pred, seed=seed)
    metrics: dict[str, Any] = {"n_explained": n,
                               "accuracy_explained": float((pred == data.y_test[:n]).float()
                                                           .mean())}
    metrics.update(res.metrics())
    out = Path(run_dir) / "explain"
    out.mkdir(exist_ok=True)
    for name, fig in (("maps", map_figure(x, res.maps, pred)),
                      ("curves", curve_figure(res.curves))):
        fig.savefig(out / f"{name}.png", dpi=110)
        plt.close(fig)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    (out / "report.html").write_text(_html_report(
        f"explanations of {Path(run_dir).name}", metrics, ["maps.png", "curves.png"]))
    return out
