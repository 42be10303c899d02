r"""Hinton & Nowlan (1987): learning guides evolution (the Baldwin effect).

A genotype has ``loci`` (20) genes, each an allele ``1`` (correct, :data:`CORRECT`), ``0``
(incorrect, :data:`INCORRECT`) or ``?`` (set by learning, :data:`LEARNABLE`); the initial
frequencies are 0.25 / 0.25 / 0.5. Only one setting of all loci — every gene correct — is
adaptive ("a needle in a haystack"). During its life an individual makes ``trials`` (1000)
random guesses, each setting every ``?`` to 1 or 0 with probability 1/2; if it finds the good
setting it keeps it. Its fitness is

.. math:: F = 1 + (F_\max - 1)\,\frac{n}{L}, \qquad F_\max = 20,\ L = 1000,

with :math:`n` the trials left when the good setting is found (0 if never, and always 0 when
an incorrect allele is present). A new generation of ``population`` (1000) is made by that
many matings, both parents drawn with probability proportional to fitness, the child the
first offspring of a single-point crossover (DEAP's ``cxOnePoint``, cut point uniform over the
``loci - 1`` inner positions); no mutation. Fitness-proportional drawing
(``selection="roulette"``, the default) is :func:`select_proportional`: DEAP's selection
interface on the standard library's ``random.choices`` (independent draws, weights = fitness,
O(k log n)) — the distribution of DEAP's ``selRoulette`` (``"deap_roulette"``), whose
implementation scans the population for every draw (O(n k): about 2 s a generation at
1000 individuals, 100 s a run).

Lifetime learning, vectorised exactly
    A genotype with an incorrect allele never finds the setting. One with :math:`k` ``?``
    alleles finds it on each guess independently with probability :math:`p = 2^{-k}`, so the
    number of failed guesses before the first success is geometric, :math:`P(F=f) = p\,q^f`
    (:math:`q = 1-p`), and :math:`n = \max(0, L - F)`: one draw per individual
    (``Generator.geometric``) is exactly equivalent in distribution to the 1000 guesses
    (:func:`lifetime_learning`). A genotype with every gene correct (:math:`k=0`) has
    :math:`F = 0`, :math:`n = L`, fitness :math:`F_\max`. The mean is

    .. math:: \mathrm E[n] = \sum_{j=1}^{L} P(F \le L - j) = L - \frac{q}{p}\,(1 - q^L)

    (:func:`expected_remaining`).

Where the paper does not say: each mating makes one child (the first of the
two crossover products; the parents are drawn independently, so this is unbiased), and a
parent may be drawn twice for one mating. Guesses are counted so that an innately correct
genotype keeps all ``L`` trials (fitness exactly 20).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..._validation import check_choice, check_finite, check_int
from .ga import Genome, PyRandom, chunk_rng, chunks, require_deap

__all__ = ["CORRECT", "INCORRECT", "LEARNABLE", "SELECTIONS", "HintonNowlanParams",
           "allele_fractions", "evaluate_chunk", "evaluate_populations", "expected_fitness",
           "expected_remaining", "fitness_from_remaining", "initial_population",
           "lifetime_learning", "make_toolbox", "next_generation", "select_proportional"]

INCORRECT, CORRECT, LEARNABLE = 0, 1, 2
SELECTIONS = ("roulette", "deap_roulette")


@dataclass(frozen=True)
class HintonNowlanParams:
    """The model of Hinton & Nowlan (1987); defaults are the paper's."""

    loci: int = 20  # genes (all must be right)
    initial_freqs: tuple[float, float, float] = (0.25, 0.25, 0.5)  # correct, incorrect, '?'
    trials: int = 1000  # random guesses per lifetime (L)
    max_fitness: float = 20.0  # fitness with all L trials left (F_max)
    population: int = 1000  # individuals per generation
    chunk: int = 250  # individuals per evaluation task (fixed: results do not depend on workers)
    selection: str = "roulette"  # "roulette" or "deap_roulette" (same distribution, slower)

    def __post_init__(self) -> None:
        check_int("loci", self.loci, low=2, high=62)
        f = self.initial_freqs
        if not isinstance(f, tuple) or len(f) != 3:
            raise ValueError(f"initial_freqs must be a tuple (correct, incorrect, learnable), "
                             f"got {f!r}")
        for name, v in zip(("correct", "incorrect", "learnable"), f):
            if not 0.0 <= check_finite(f"initial_freqs[{name}]", v) <= 1.0:
                raise ValueError(f"initial_freqs[{name}] must be in [0, 1], got {v!r}")
        if abs(math.fsum(f) - 1.0) > 1e-9:
            raise ValueError(f"initial_freqs must sum to 1, got {f!r} (sum {math.fsum(f):g})")
        check_int("trials", self.trials, low=1)
        if not check_finite("max_fitness", self.max_fitness) > 1.0:
            raise ValueError(f"max_fitness must be > 1, got {self.max_fitness!r}")
        check_int("population", self.population, low=2)
        check_int("chunk", self.chunk, low=1)
        check_choice("selection", self.selection, SELECTIONS)


def initial_population(params: HintonNowlanParams, rng: np.random.Generator) -> np.ndarray:
    """``(population, loci)`` int8 alleles drawn i.i.d. with ``initial_freqs``."""
    p_c, p_i, p_l = params.initial_freqs
    alleles = np.array([CORRECT, INCORRECT, LEARNABLE], dtype=np.int8)
    return rng.choice(alleles, size=(params.population, params.loci), p=[p_c, p_i, p_l])


def lifetime_learning(genotypes: np.ndarray, trials: int, rng: np.random.Generator) -> np.ndarray:
    """Trials left when the good setting is found (0 if never), one per genotype row.

    Exact in distribution to ``trials`` guesses of every ``?`` (see the module docstring).
    """
    g = np.asarray(genotypes)
    if g.ndim != 2:
        raise ValueError(f"genotypes must be 2-D (individuals, loci), got shape {g.shape}")
    if g.size and not np.isin(g, (INCORRECT, CORRECT, LEARNABLE)).all():
        raise ValueError("genotypes must hold alleles 0 (incorrect), 1 (correct), 2 ('?')")
    k = (g == LEARNABLE).sum(axis=1)
    failures = rng.geometric(np.ldexp(1.0, -k)) - 1  # failed guesses before the first success
    n = np.maximum(0, int(trials) - failures)
    n[(g == INCORRECT).any(axis=1)] = 0
    return n


def fitness_from_remaining(n: np.ndarray, trials: int, max_fitness: float) -> np.ndarray:
    """:math:`1 + (F_\\max - 1)\\,n / L`."""
    return 1.0 + (max_fitness - 1.0) * np.asarray(n, dtype=np.float64) / trials


def expected_remaining(k: int, trials: int) -> float:
    """:math:`\\mathrm E[n]` of a genotype with ``k`` ``?`` alleles and no incorrect one."""
    check_int("k", k, low=0)
    check_int("trials", trials, low=1)
    p = math.ldexp(1.0, -k)
    q = 1.0 - p
    return trials - q / p * (1.0 - q ** trials)


def expected_fitness(k: int, params: HintonNowlanParams) -> float:
    """Mean fitness of a genotype with ``k`` ``?`` alleles and no incorrect one."""
    return 1.0 + (params.max_fitness - 1.0) * expected_remaining(k, params.trials) / params.trials


def evaluate_chunk(task: tuple) -> np.ndarray:
    """One evaluation task: ``(genotypes, trials, max_fitness, seed, *keys)`` -> fitness.

    Module-level (picklable) so that a process or Ray pool can run it; the generator is
    seeded from ``(seed, *keys)`` only.
    """
    genotypes, trials, max_fitness, seed, *keys = task
    n = lifetime_learning(genotypes, trials, chunk_rng(seed, *keys))
    return fitness_from_remaining(n, trials, max_fitness)


def evaluate_populations(pops: list[np.ndarray], params: HintonNowlanParams, seed: int,
                         generation: int, map_fn: Any = map) -> list[np.ndarray]:
    """Fitness of every individual of every population, in chunks through ``map_fn``.

    Chunk ``c`` of population ``i`` in ``generation`` uses the generator of
    ``(seed, 1, i, generation, c)``: the same numbers whatever ``map_fn`` and its workers.
    """
    tasks, owner = [], []
    for i, pop in enumerate(pops):
        for c, sl in enumerate(chunks(len(pop), params.chunk)):
            tasks.append((pop[sl], params.trials, params.max_fitness, seed, 1, i, generation, c))
            owner.append(i)
    results = list(map_fn(evaluate_chunk, tasks))
    return [np.concatenate([r for r, o in zip(results, owner) if o == i])
            for i in range(len(pops))]


def select_proportional(individuals: list, k: int, fit_attr: str = "fitness") -> list:
    """``k`` independent fitness-proportional draws (DEAP's ``selRoulette`` interface and
    distribution), from Python's ``random`` (run it inside a :class:`PyRandom` block)."""
    weights = [getattr(ind, fit_attr).values[0] for ind in individuals]
    return random.choices(individuals, weights=weights, k=k)


def make_toolbox(map_fn: Any = map, selection: str = "roulette") -> Any:
    """A DEAP toolbox: fitness-proportional selection, single-point crossover, ``map_fn``."""
    check_choice("selection", selection, SELECTIONS)
    base, tools = require_deap()
    tb = base.Toolbox()
    tb.register("select", select_proportional if selection == "roulette"
                else tools.selRoulette)
    tb.register("mate", tools.cxOnePoint)
    tb.register("map", map_fn)
    return tb


def next_generation(pop: np.ndarray, fitness: np.ndarray, toolbox: Any,
                    rand: PyRandom) -> np.ndarray:
    """``len(pop)`` matings: roulette parents, one single-point-crossover child each."""
    inds = [Genome(row) for row in pop.tolist()]
    for ind, f in zip(inds, fitness.tolist()):
        ind.fitness.values = (f,)
    with rand:
        parents = toolbox.select(inds, 2 * len(inds))
        children = [toolbox.mate(Genome(a), Genome(b))[0]
                    for a, b in zip(parents[0::2], parents[1::2])]
    return np.asarray(children, dtype=np.int8)


def allele_fractions(pop: np.ndarray) -> tuple[float, float, float]:
    """Fractions of (correct, incorrect, ``?``) alleles over all loci of the population."""
    pop = np.asarray(pop)
    n = pop.size
    return (float((pop == CORRECT).sum() / n), float((pop == INCORRECT).sum() / n),
            float((pop == LEARNABLE).sum() / n))
