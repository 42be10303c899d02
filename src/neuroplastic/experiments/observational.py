"""Observational learning in the octopus (Fiorito & Scotto 1992) on a spiking choice network.

Observers watch a demonstrator attack the red ball (pair STDP binds the attended colour to the
observer's own attack neurons, driven by mirror input); naive animals watch an empty tank.
Both then choose between a red and a white ball, first without reward (preference), then by
trial and error with red rewarded (reward-modulated STDP); see
:mod:`neuroplastic.behavior.observational`.

Metrics: ``preference_demonstrated_observer`` / ``..._naive`` (fraction of unrewarded test
choices of the demonstrated colour), ``trials_to_criterion_observer`` / ``..._naive`` (mean
trials to ``criterion_run`` correct in a row). Figure ``observational``: the preference bars of
Fiorito & Scotto's Fig. 2 and the learning curves of both groups.
"""

from __future__ import annotations

import time

import numpy as np

from .base import Result, register
from .configs.observational import ObservationalConfig

__all__ = ["ObservationalConfig", "run"]


def _figure(out, pref):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), gridspec_kw={"width_ratios": [1, 2]})
    axes[0].bar(["observers", "naive"], pref, color=["C3", "C7"])
    axes[0].axhline(0.5, color="k", ls=":", lw=0.7)
    axes[0].set(ylim=(0, 1.05), ylabel="choices of the demonstrated colour",
                title="unrewarded test")
    for key, lbl, col in (("train_red_observer", "observers", "C3"),
                          ("train_red_naive", "naive", "C7")):
        m = out[key].mean(0)
        axes[1].plot(np.arange(1, m.size + 1), m, "o-", ms=3, color=col, label=lbl)
    axes[1].set(xlabel="trial-and-error trial", ylabel="P(correct)", ylim=(0, 1.05),
                title="learning the task")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return fig


@register("observational", ObservationalConfig,
          "Octopus observational learning: watching a demonstrator, STDP, fewer trials")
def run(config: ObservationalConfig, *, progress: bool = True) -> Result:
    from ..behavior.observational import ObservationParams, run_observational, trials_to_criterion

    t0 = time.perf_counter()
    c = config
    p = ObservationParams(stdp_rate=c.stdp_rate, eta=c.eta, attention=c.attention)
    out = run_observational(p, c.animals, c.demonstrations, c.tests, c.training, c.seed)
    pref = [float(out["test_red_observer"].mean()), float(out["test_red_naive"].mean())]
    metrics = {
        "preference_demonstrated_observer": pref[0],
        "preference_demonstrated_naive": pref[1],
        "trials_to_criterion_observer": float(
            trials_to_criterion(out["train_red_observer"], c.criterion_run).mean()),
        "trials_to_criterion_naive": float(
            trials_to_criterion(out["train_red_naive"], c.criterion_run).mean()),
    }
    curves = {k: [float(v) for v in out[k].mean(0)] for k in ("train_red_observer",
                                                             "train_red_naive")}
    return Result(metrics=metrics, figures={"observational": _figure(out, pref)}, curves=curves,
                  timings={"wall_s": time.perf_counter() - t0})
