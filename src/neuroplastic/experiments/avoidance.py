"""The avoidance trap and exposure therapy (two-factor / actor–critic; Maia 2010).

A place paired with shocks becomes feared (a spiking fear circuit,
:mod:`neuroplastic.behavior.circuit`); a basal-ganglia actor–critic
(:class:`neuroplastic.agents.BasalGangliaAgent`) learns to escape, reinforced by the fear it
removes (:mod:`neuroplastic.behavior.avoidance`). Two groups: *exposure* (exposure with
response prevention after the shocks stop) and *untreated* (free visits instead).

Metrics: ``avoidance_rate_after_shock_stops`` (escape rate over the free visits after the last
shock; Solomon, Kamin & Wynne 1953), ``fear_before_exposure`` (mean fear over the last 5 free
visits before exposure), ``fear_after_exposure`` (mean fear over the visits after exposure),
``avoidance_rate_after_exposure``, ``avoidance_rate_untreated`` and ``fear_untreated`` (same
visits, untreated group), ``fear_renewal`` (probe in another context after exposure) and
``fear_spontaneous_recovery`` (probe after ``retention_s``). Fear in units of the asymptote a
shock supports. Figure ``avoidance``: fear and avoidance per visit for both groups, and the
return-of-fear probes.
"""

from __future__ import annotations

import time

import numpy as np

from .base import Result, register
from .configs.avoidance import AvoidanceConfig

__all__ = ["AvoidanceConfig", "run"]

PHASES = ("shock", "no_shock", "exposure", "test")


def _figure(groups, metrics):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6), gridspec_kw={"width_ratios": [2, 2, 1]})
    for ax, key, label in ((axes[0], "fear", "fear (V)"),
                           (axes[1], "escape", "avoidance (escape rate)")):
        for name, out in groups.items():
            ax.plot(np.arange(1, len(out[key]) + 1), out[key], label=name)
        ph = groups["exposure"]["phase"]
        edges = [i for i in range(1, len(ph)) if ph[i] != ph[i - 1]]
        for e in edges:
            ax.axvline(e + 0.5, color="k", lw=0.6, ls=":")
        ax.set(xlabel="visit (shocks | no shocks | exposure or free | after)", ylabel=label)
        ax.legend(fontsize=7)
    axes[0].set_title("fear: kept alive by avoidance, removed by exposure")
    axes[1].set_title("avoidance persists without shocks")
    keys = ("fear_before_exposure", "fear_after_exposure", "fear_renewal",
            "fear_spontaneous_recovery", "fear_untreated")
    axes[2].bar(range(len(keys)), [metrics[k] for k in keys],
                color=["C3", "C2", "C1", "C1", "C7"])
    axes[2].set_xticks(range(len(keys)))
    axes[2].set_xticklabels(["before\nexposure", "after\nexposure", "renewal\n(context B)",
                             "spont.\nrecovery", "untreated"], fontsize=7)
    axes[2].set(ylabel="fear", title="return of fear")
    fig.tight_layout()
    return fig


@register("avoidance", AvoidanceConfig,
          "Two-factor avoidance: persists without shocks, exposure extinguishes, fear returns")
def run(config: AvoidanceConfig, *, progress: bool = True) -> Result:
    from ..agents import ActorCriticParams
    from ..behavior.avoidance import AvoidanceSchedule, run_avoidance
    from ..behavior.circuit import CircuitParams

    t0 = time.perf_counter()
    c = config
    cp = CircuitParams(eta=c.eta_fear, tau_ext_s=c.tau_ext_s)
    ap = ActorCriticParams(gamma=0.9, dt_s=1.0, eta_critic=c.eta_critic, eta_actor=c.eta_actor,
                           tau_e_critic_s=0.0, tau_e_actor_s=0.0, beta=c.beta, seed=c.seed)
    sched = AvoidanceSchedule(c.shock_visits, c.no_shock_visits, c.exposure_visits,
                              c.test_visits, retention_s=c.retention_s)
    groups = {name: run_avoidance(cp, ap, sched, c.animals, c.seed, exposure=ex,
                                  escape_cost=c.escape_cost)
              for name, ex in (("exposure", True), ("untreated", False))}
    ex, un = groups["exposure"], groups["untreated"]
    ph = np.array(ex["phase"])
    free = ph == "no_shock"
    test = ph == "test"
    metrics = {
        "avoidance_rate_after_shock_stops": float(ex["escape"][free].mean()),
        "fear_before_exposure": float(ex["fear"][free][-5:].mean()),
        "fear_after_exposure": float(ex["fear"][test].mean()),
        "avoidance_rate_after_exposure": float(ex["escape"][test].mean()),
        "avoidance_rate_untreated": float(un["escape"][test].mean()),
        "fear_untreated": float(un["fear"][test].mean()),
        "fear_renewal": float(ex["fear_renewal"]),
        "fear_spontaneous_recovery": float(ex["fear_spontaneous_recovery"]),
    }
    curves = {f"{k}_{g}": [float(v) for v in out[k]] for g, out in groups.items()
              for k in ("fear", "escape")}
    return Result(metrics=metrics, figures={"avoidance": _figure(groups, metrics)},
                  curves=curves, timings={"wall_s": time.perf_counter() - t0})
