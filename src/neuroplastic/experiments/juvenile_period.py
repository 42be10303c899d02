"""The evolution of a long childhood: the juvenile period grows with what must be learned.

A heritable juvenile period J (steps) is spent learning ``complexity`` stimulus-response
pairs with the package's rules (three-factor reward-modulated Hebb for the actor, a
Rescorla–Wagner critic whose prediction error is the modulator); reproduction starts after J,
at a rate equal to the learned skill; the risk of death accumulates every step. Fitness =
skill x expected reproductive output (:mod:`neuroplastic.behavior.evolution.life_history`).
For every level of ``complexities`` (and a control whose outcomes ignore the action:
nothing is learnable) ``seeds`` populations evolve J with DEAP from ``j_init`` for
``generations``.

Metrics: ``juvenile_period_by_complexity_k{k}`` (evolved J: the population mean at the end,
mean over seeds), ``juvenile_period_std_k{k}`` (over seeds), ``juvenile_period_optimum_k{k}``
(argmax of skill x output on the mean skill curve, mean over seeds), the same with suffix
``_unlearnable``, and ``slope_ok``: evolved J strictly increasing with complexity and the
unlearnable control's J below the simplest level's. The learners are simulated in parallel
(``workers`` processes or Ray, per level and seed; the numbers do not depend on it).
Resumable after every generation (the Js and DEAP's random states are in the checkpoint; the
learners are re-simulated from their seeds).
"""

from __future__ import annotations

import time

import numpy as np

from ..lab.checkpointer import Checkpointer
from .base import Result, register
from .configs.juvenile_period import JuvenilePeriodConfig

__all__ = ["JuvenilePeriodConfig", "run"]


def _levels(config: JuvenilePeriodConfig) -> list[tuple[str, object]]:
    """``(label, LifeHistoryParams)`` per level: ``k1``, ``k2``, ..., ``unlearnable``."""
    from ..behavior.evolution.life_history import LifeHistoryParams

    common = dict(n_actions=config.n_actions, eta=config.eta, beta=config.beta,
                  critic_rate=config.critic_rate, hazard=config.hazard,
                  lifespan=config.lifespan, j_min=config.j_min, j_max=config.j_max,
                  bank=config.bank)
    out = [(f"k{k}", LifeHistoryParams(complexity=k, **common)) for k in config.complexities]
    if config.unlearnable:
        out.append(("unlearnable", LifeHistoryParams(complexity=config.complexities[0],
                                                     learnable=False, **common)))
    return out


def _figures(config: JuvenilePeriodConfig, labels: list[str], curves: dict,
             metrics: dict, skill: dict) -> dict:
    import matplotlib.pyplot as plt

    figs = {}
    ks = list(config.complexities)
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ev = [metrics[f"juvenile_period_by_complexity_k{k}"] for k in ks]
    sd = [metrics[f"juvenile_period_std_k{k}"] for k in ks]
    ax.errorbar(ks, ev, yerr=sd, marker="o", capsize=3, label="evolved (mean ± sd over seeds)")
    ax.plot(ks, [metrics[f"juvenile_period_optimum_k{k}"] for k in ks], "k--", marker="x",
            label="optimum of skill x output")
    if config.unlearnable:
        ax.axhline(metrics["juvenile_period_by_complexity_unlearnable"], color="C3", ls=":",
                   label="nothing learnable (evolved)")
    ax.set_xscale("log", base=2)
    ax.set(xlabel="complexity (stimulus-response pairs to learn)",
           ylabel="juvenile period J (steps)", title="the evolution of a long childhood")
    ax.legend(fontsize=7)
    fig.tight_layout()
    figs["juvenile_vs_complexity"] = fig
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for lab in labels:
        ax.plot(curves[f"J_{lab}"], label=lab)
    ax.set(xlabel="generation", ylabel="mean juvenile period (steps)",
           title="J over generations (mean over seeds)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    figs["juvenile_over_generations"] = fig
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for lab in labels:
        ax.plot(skill[lab], label=lab)
    ax.axhline(1.0 / config.n_actions, color="k", lw=0.6, ls=":")
    ax.set(xlabel="age = steps of learning", ylabel="skill (expected outcome)",
           title="what a juvenile learns (mean learner)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    figs["skill_curves"] = fig
    return figs


@register("juvenile-period", JuvenilePeriodConfig,
          "A heritable juvenile period spent learning evolves longer for harder skills")
def run(config: JuvenilePeriodConfig, *, progress: bool = True,
        checkpoint: Checkpointer | None = None) -> Result:
    import torch
    from tqdm.auto import tqdm

    from ..behavior.evolution.ga import PyRandom, chunk_rng, derived_seed, parallel_map
    from ..behavior.evolution.life_history import (
        bank_task,
        evaluate,
        make_toolbox,
        next_generation,
        optimal_juvenile_period,
    )

    t_start = time.perf_counter()
    levels = _levels(config)
    labels = [lab for lab, _ in levels]
    pops = [(li, s) for li in range(len(levels)) for s in range(config.seeds)]
    tasks = [(levels[li][1], derived_seed(config.seed, 1, li, s)) for li, s in pops]
    with parallel_map(config.workers, config.backend) as map_fn:
        banks = list(map_fn(bank_task, tasks))
    toolboxes = [make_toolbox(p, config.sigma, config.tournsize) for _, p in levels]
    state = checkpoint.load() if checkpoint is not None else None
    if state is None:
        done = 0
        js = [np.full(config.population, float(config.j_init)) for _ in pops]
        rands = [PyRandom(derived_seed(config.seed, 2, li, s)) for li, s in pops]
        curves: dict[str, list[float]] = {}
    else:
        done, tensors, meta = state
        js = [tensors["juvenile_periods"][i].numpy().copy() for i in range(len(pops))]
        rands = [PyRandom.from_array(tensors["random_words"][i].numpy(), g)
                 for i, g in enumerate(meta["gauss_next"])]
        curves = {k: list(v) for k, v in meta["curves"].items()}

    def record() -> None:
        for li, lab in enumerate(labels):
            m = [js[i].mean() for i, (lj, _) in enumerate(pops) if lj == li]
            curves.setdefault(f"J_{lab}", []).append(float(np.mean(m)))

    bar = tqdm(total=config.generations, initial=done, desc="juvenile-period",
               disable=not progress)
    while done < config.generations:
        record()
        for i, (li, s) in enumerate(pops):
            p = levels[li][1]
            fit = evaluate(js[i], banks[i], p, chunk_rng(config.seed, 3, li, s, done))
            js[i] = next_generation(js[i], fit, toolboxes[li], p, rands[i], config.cxpb,
                                    config.mutpb)
        done += 1
        bar.update(1)
        if checkpoint is not None and checkpoint.due():
            words = [r.to_array() for r in rands]
            checkpoint.save(done, {
                "juvenile_periods": torch.from_numpy(np.stack(js)),
                "random_words": torch.from_numpy(np.stack([w for w, _ in words]))},
                {"curves": curves, "gauss_next": [g for _, g in words]})
    bar.close()
    record()
    metrics: dict = {}
    skill = {}
    for li, (lab, p) in enumerate(levels):
        idx = [i for i, (lj, _) in enumerate(pops) if lj == li]
        final = [float(js[i].mean()) for i in idx]
        opt = [optimal_juvenile_period(banks[i].mean(axis=1), p) for i in idx]
        metrics[f"juvenile_period_by_complexity_{lab}"] = float(np.mean(final))
        metrics[f"juvenile_period_std_{lab}"] = float(np.std(final))
        metrics[f"juvenile_period_optimum_{lab}"] = float(np.mean(opt))
        skill[lab] = np.mean([banks[i].mean(axis=1) for i in idx], axis=0)
        curves[f"skill_{lab}"] = skill[lab].tolist()
    ev = [metrics[f"juvenile_period_by_complexity_k{k}"] for k in config.complexities]
    ok = all(b > a for a, b in zip(ev, ev[1:]))
    if config.unlearnable:
        ok = ok and metrics["juvenile_period_by_complexity_unlearnable"] < ev[0]
    metrics["slope_ok"] = bool(ok)
    arrays = {"juvenile_periods": torch.from_numpy(np.stack(js))}
    timings = {"wall_s": time.perf_counter() - t_start}
    return Result(metrics=metrics, figures=_figures(config, labels, curves, metrics, skill),
                  arrays=arrays, curves=curves, timings=timings)
