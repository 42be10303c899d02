"""The Baldwin effect (Hinton & Nowlan 1987): learning guides evolution to a needle in a haystack.

``populations`` replicate populations of ``population`` genotypes of ``loci`` genes (alleles
correct / incorrect / learnable '?', initially 0.25 / 0.25 / 0.5) evolve for ``generations``
under fitness-proportional mating and single-point crossover (DEAP); each lifetime is
``trials`` random guesses of the '?' genes, fitness 1 + 19 n / 1000 with n the guesses left
when the all-correct setting is found (:mod:`neuroplastic.behavior.evolution.hinton_nowlan`).
The paper's curves: incorrect alleles vanish, correct ones rise, learnable '?' alleles persist
at a plateau — selection has no pressure left to replace the last '?' once learning finds the
setting early in life.

Metrics (means over the replicate populations): ``correct_allele_frac_final``,
``incorrect_allele_frac_final``, ``learnable_allele_frac_final`` (and ``_std`` over
populations), ``mean_fitness_final``, ``takeoff_generation`` (first generation where the
incorrect fraction is below 1 %, mean over populations that got there; ``generations + 1``
for none), ``populations_converged`` (count with incorrect < 1 % at the end). Curves: the
fractions per generation (mean and per population). Evaluation runs in chunks through DEAP's
``toolbox.map`` (``workers`` processes or Ray), with results independent of the worker count.
Resumable after every generation (the populations and DEAP's Python random states are in the
checkpoint).
"""

from __future__ import annotations

import time

import numpy as np

from ..lab.checkpointer import Checkpointer
from .base import Result, register
from .configs.baldwin import BaldwinConfig

__all__ = ["BaldwinConfig", "run"]


def _params(config: BaldwinConfig):
    from ..behavior.evolution.hinton_nowlan import HintonNowlanParams

    return HintonNowlanParams(loci=config.loci, initial_freqs=tuple(config.initial_freqs),
                              trials=config.trials, max_fitness=config.max_fitness,
                              population=config.population, chunk=config.chunk,
                              selection=config.selection)


def _figures(config: BaldwinConfig, curves: dict) -> dict:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    gens = np.arange(len(curves["correct_frac"]))
    styles = {"correct": ("C2", "correct"), "learnable": ("C0", "undecided ('?')"),
              "incorrect": ("C3", "incorrect")}
    for key, (color, label) in styles.items():
        for i in range(config.populations):
            ax.plot(gens, curves[f"{key}_frac_p{i}"], color=color, lw=0.5, alpha=0.35)
        ax.plot(gens, curves[f"{key}_frac"], color=color, lw=2, label=label)
    ax.set(xlabel="generation", ylabel="relative frequency of alleles", ylim=(0, 1),
           title=f"Hinton & Nowlan: {config.populations} populations of {config.population}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    figs = {"allele_frequencies": fig}
    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.plot(gens, curves["mean_fitness"])
    ax.set(xlabel="generation", ylabel="mean fitness", title="mean fitness (max 20)")
    fig.tight_layout()
    figs["mean_fitness"] = fig
    return figs


@register("baldwin", BaldwinConfig,
          "Hinton & Nowlan 1987: learnable alleles guide evolution (the Baldwin effect)")
def run(config: BaldwinConfig, *, progress: bool = True,
        checkpoint: Checkpointer | None = None) -> Result:
    import torch
    from tqdm.auto import tqdm

    from ..behavior.evolution.ga import PyRandom, chunk_rng, derived_seed, parallel_map
    from ..behavior.evolution.hinton_nowlan import (
        allele_fractions,
        evaluate_populations,
        initial_population,
        make_toolbox,
        next_generation,
    )

    t_start = time.perf_counter()
    params = _params(config)
    n_pop = config.populations
    names = ("correct", "incorrect", "learnable")
    state = checkpoint.load() if checkpoint is not None else None
    if state is None:
        done = 0
        pops = [initial_population(params, chunk_rng(config.seed, 0, i)) for i in range(n_pop)]
        rands = [PyRandom(derived_seed(config.seed, 2, i)) for i in range(n_pop)]
        curves: dict[str, list[float]] = {}
    else:
        done, tensors, meta = state
        pops = [tensors["populations"][i].numpy().astype(np.int8) for i in range(n_pop)]
        rands = [PyRandom.from_array(tensors["random_words"][i].numpy(), g)
                 for i, g in enumerate(meta["gauss_next"])]
        curves = {k: list(v) for k, v in meta["curves"].items()}

    def record(fits: list[np.ndarray]) -> None:
        fr = [allele_fractions(p) for p in pops]
        for j, name in enumerate(names):
            for i in range(n_pop):
                curves.setdefault(f"{name}_frac_p{i}", []).append(fr[i][j])
            curves.setdefault(f"{name}_frac", []).append(float(np.mean([f[j] for f in fr])))
        curves.setdefault("mean_fitness", []).append(float(np.mean([f.mean() for f in fits])))

    bar = tqdm(total=config.generations, initial=done, desc="baldwin", disable=not progress)
    with parallel_map(config.workers, config.backend) as map_fn:
        toolbox = make_toolbox(map_fn, config.selection)
        fits = evaluate_populations(pops, params, config.seed, done, toolbox.map)
        while done < config.generations:
            record(fits)
            pops = [next_generation(p, f, toolbox, r) for p, f, r in zip(pops, fits, rands)]
            done += 1
            fits = evaluate_populations(pops, params, config.seed, done, toolbox.map)
            bar.update(1)
            if checkpoint is not None and checkpoint.due():
                words = [r.to_array() for r in rands]
                checkpoint.save(done, {
                    "populations": torch.from_numpy(np.stack(pops)),
                    "random_words": torch.from_numpy(np.stack([w for w, _ in words]))},
                    {"curves": curves, "gauss_next": [g for _, g in words]})
    bar.close()
    record(fits)
    final = {name: [curves[f"{name}_frac_p{i}"][-1] for i in range(n_pop)] for name in names}
    metrics: dict = {}
    for name in names:
        metrics[f"{name}_allele_frac_final"] = float(np.mean(final[name]))
        metrics[f"{name}_allele_frac_final_std"] = float(np.std(final[name]))
    metrics["mean_fitness_final"] = curves["mean_fitness"][-1]
    takeoff = []
    for i in range(n_pop):
        below = np.flatnonzero(np.asarray(curves[f"incorrect_frac_p{i}"]) < 0.01)
        if below.size:
            takeoff.append(int(below[0]))
    metrics["takeoff_generation"] = float(np.mean(takeoff)) if takeoff \
        else float(config.generations + 1)
    metrics["populations_converged"] = int(sum(f < 0.01 for f in final["incorrect"]))
    arrays = {"final_populations": torch.from_numpy(np.stack(pops))}
    timings = {"wall_s": time.perf_counter() - t_start}
    return Result(metrics=metrics, figures=_figures(config, curves), arrays=arrays,
                  curves=curves, timings=timings)
