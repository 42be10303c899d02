"""Operant conditioning: lever pressing, delayed reward, FR / VR / FI schedules, extinction.

1. The agents' discrete-trial chamber (:class:`neuroplastic.agents.envs.OperantChamberEnv`,
   trained by :func:`neuroplastic.experiments.lever_delay.train_lever`): P(lever) per trial
   with an immediate (0.5 s) and a delayed pellet.
2. A free-operant chamber (:class:`neuroplastic.behavior.schedules.ScheduleChamberEnv`) with a
   basal-ganglia actor–critic (:class:`neuroplastic.agents.BasalGangliaAgent`) on a
   microstimulus code: fixed ratio, variable ratio, fixed interval (the press probability
   rises through the interval: the scallop), and extinction of the FR-trained response.

Metrics: ``p_lever_immediate`` / ``p_lever_delayed`` (final, mean of ``lever_animals``),
``trials_to_0p8_immediate`` / ``trials_to_0p8_delayed`` (mean first trial with
P(lever) >= 0.8), ``press_rate_FR`` / ``press_rate_VR`` / ``press_rate_FI`` (presses per
second, last session),
``fi_scallop_index`` (press probability in the last fifth of the interval minus the first
fifth), ``extinction_rate_first`` / ``extinction_rate_last`` (press rate in the first / last
extinction session). Figures: ``cumulative_records`` (the textbook cumulative records with
pellet ticks), ``fi_scallop``, ``extinction_and_delay``.
"""

from __future__ import annotations

import time

import numpy as np

from .base import Result, register
from .configs.operant import OperantConfig

__all__ = ["OperantConfig", "run"]


def _figures(c, rec, lever):
    import matplotlib.pyplot as plt

    figs = {}
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, out in rec.items():
        if name == "EXT":
            continue
        cum = np.cumsum(out["presses"])
        t = np.arange(1, cum.size + 1)
        ax.plot(t, cum, label=name)
        pel = np.nonzero(np.diff(np.r_[out["since_pellet_s"], 0.0]) < 0)[0]
        ax.plot(t[pel], cum[pel], "|", color="k", ms=8)
    ax.set(xlabel="time in the last session (s)", ylabel="cumulative presses",
           title="cumulative records (ticks: pellets)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    figs["cumulative_records"] = fig
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(*_scallop(rec["FI"], c.interval_s), "o-")
    ax.set(xlabel="time since the last pellet (s)", ylabel="P(press)",
           title=f"FI {c.interval_s:g} s: the scallop")
    fig.tight_layout()
    figs["fi_scallop"] = fig
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for name, p in lever.items():
        axes[0].plot(p, label=name)
    axes[0].set(xlabel="trial", ylabel="P(lever)", title="immediate vs delayed pellet")
    axes[0].legend(fontsize=8)
    fr, ext = rec["FR"]["press_rate"], rec["EXT"]["press_rate"]
    axes[1].plot(np.arange(1, fr.size + 1), fr, "o-", label="FR training")
    axes[1].plot(fr.size + np.arange(1, ext.size + 1), ext, "o-", label="extinction")
    axes[1].set(xlabel="session", ylabel="presses per second", title="extinction")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    figs["extinction_and_delay"] = fig
    return figs


def _first_at(p, level: float) -> int:
    """First trial with P(lever) >= level (len + 1 if never)."""
    hit = np.nonzero(np.asarray(p) >= level)[0]
    return int(hit[0]) + 1 if hit.size else len(p) + 1


def _scallop(out, interval_s):
    since, pr = out["since_pellet_s"], out["presses"]
    edges = np.linspace(0.0, interval_s, 6)
    x, y = [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (since >= lo) & (since < hi)
        x.append(0.5 * (lo + hi))
        y.append(float(pr[m].mean()) if m.any() else 0.0)
    return np.array(x), np.array(y)


@register("operant", OperantConfig,
          "Lever pressing: delayed reward, FR/VR/FI schedules with the FI scallop, extinction")
def run(config: OperantConfig, *, progress: bool = True) -> Result:
    from ..agents import ActorCriticParams
    from ..behavior.schedules import train_schedule
    from .configs.lever_delay import LeverDelayConfig
    from .lever_delay import train_lever

    t0 = time.perf_counter()
    c = config
    lcfg = LeverDelayConfig(delays_s=(0.5, c.delayed_s), trials=c.lever_trials, dt_s=0.5,
                            seed=c.seed)
    lever, to_crit = {}, {}
    for k, (lbl, d) in enumerate((("immediate", 0.5), ("delayed", c.delayed_s))):
        runs = [train_lever(lcfg, "code_trace", d, c.seed * 1000 + 10 * a + k)["p_lever"]
                for a in range(c.lever_animals)]
        lever[f"{lbl} ({d:g} s)"] = np.mean(runs, 0)
        to_crit[lbl] = float(np.mean([_first_at(r, 0.8) for r in runs]))
    ap = ActorCriticParams(gamma=0.9, dt_s=1.0, eta_critic=c.eta_critic, eta_actor=c.eta_actor,
                           tau_e_critic_s=3.0, tau_e_actor_s=3.0, beta=1.0, seed=c.seed)
    kw = dict(session_s=c.session_s, press_cost=c.press_cost, code_tau_s=0.8 * c.interval_s)
    rec = {}
    agent, rec["FR"] = train_schedule("FR", c.ratio, c.sessions, ap, seed=c.seed, **kw)
    _, rec["EXT"] = train_schedule("EXT", 1, c.extinction_sessions, ap, seed=c.seed + 1,
                                   agent=agent, **kw)
    _, rec["VR"] = train_schedule("VR", c.ratio, c.sessions, ap, seed=c.seed + 2, **kw)
    _, rec["FI"] = train_schedule("FI", c.interval_s, c.sessions, ap, seed=c.seed + 3, **kw)
    _, sc = _scallop(rec["FI"], c.interval_s)
    immediate, delayed = lever.values()
    metrics = {
        "p_lever_immediate": float(immediate[-1]),
        "p_lever_delayed": float(delayed[-1]),
        "trials_to_0p8_immediate": to_crit["immediate"],
        "trials_to_0p8_delayed": to_crit["delayed"],
        "press_rate_FR": float(rec["FR"]["press_rate"][-1]),
        "press_rate_VR": float(rec["VR"]["press_rate"][-1]),
        "press_rate_FI": float(rec["FI"]["press_rate"][-1]),
        "fi_scallop_index": float(sc[-1] - sc[0]),
        "extinction_rate_first": float(rec["EXT"]["press_rate"][0]),
        "extinction_rate_last": float(rec["EXT"]["press_rate"][-1]),
    }
    curves = {f"press_rate_{k}": [float(v) for v in o["press_rate"]] for k, o in rec.items()}
    curves.update({f"p_lever_{k.split()[0]}": [float(v) for v in p] for k, p in lever.items()})
    curves["fi_scallop"] = [float(v) for v in sc]
    return Result(metrics=metrics, figures=_figures(c, rec, lever), curves=curves,
                  timings={"wall_s": time.perf_counter() - t0})
