r"""The evolution of a long childhood: a heritable juvenile period spent learning.

An individual carries one heritable trait, its juvenile period :math:`J` (time steps). Every
step of life it survives with probability :math:`1-\mu` (risk accumulates: alive at age
:math:`t` with probability :math:`(1-\mu)^t`) up to the lifespan :math:`T`. During the
juvenile period it learns; from age :math:`J` on it reproduces, at a rate equal to the skill it
learned. Its fitness is the expected reproductive output times the skill:

.. math:: W(J) = s(J)\,\sum_{t=J}^{T-1}(1-\mu)^t = s(J)\,\frac{(1-\mu)^J-(1-\mu)^T}{\mu}.

What must be learned (:func:`learning_bank`): ``complexity`` stimuli, each with one correct
response among ``n_actions``; each juvenile step one stimulus (uniformly drawn) is met, an
action is drawn from a softmax policy over the actor weights, and the outcome (1 with
probability ``P[stimulus, action]``) trains the package's rules: a critic
(:func:`neuroplastic.neuromodulation.update_expectation`, Rescorla–Wagner) predicts the outcome
of each stimulus, and the actor learns by the reward-modulated Hebbian three-factor rule
(:func:`neuroplastic.plasticity.three_factor.three_factor_step`, coincidence ``"hebb"`` =
stimulus x action, modulator = the reward-prediction error
:func:`neuroplastic.neuromodulation.reward_prediction_error`).
Skill :math:`s` is the policy's expected outcome, :math:`\frac1k\sum_s\sum_a\pi(a|s)P[s,a]`
(chance, :math:`1/n_\mathrm{actions}`, at birth). *Nothing learnable*: the outcome does not
depend on the action (``P = 1/n_actions`` everywhere), so skill stays at chance whatever is
learned and every juvenile step is pure cost.

The more stimuli, the fewer visits each gets per step of childhood, so the skill curve
stretches and the optimal :math:`J^\ast = \arg\max W` grows; with nothing learnable it is the
minimum. :func:`optimal_juvenile_period` gives :math:`J^\ast` of the mean skill curve, the
reference the evolved :math:`J` is compared with.

Lifetimes are simulated in advance as a *bank* of ``bank`` independent learners, their skill
after every step :math:`0..J_\max` (one batched simulation: learners are the batch of the
three-factor rule). In each generation every individual gets a different learner of the bank
(a random permutation), and its skill is that learner's at its own :math:`J`: the same
distribution as simulating its life afresh (the learning process does not depend on :math:`J`,
which only says when it stops), at a fraction of the cost.

Evolution (:func:`next_generation`, DEAP): tournament selection (``tools.selTournament``),
blend crossover of the parents' :math:`J` (``cxBlend``) and Gaussian mutation
(``mutGaussian``), via DEAP's ``algorithms.varAnd``; :math:`J` is clipped to
:math:`[J_\min, J_\max]` and rounded to whole steps when evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..._validation import check_finite, check_int, check_positive
from .ga import Genome, PyRandom, require_deap

__all__ = ["LifeHistoryParams", "bank_task", "evaluate", "learning_bank", "make_toolbox",
           "next_generation", "optimal_juvenile_period", "reproductive_output"]


@dataclass(frozen=True)
class LifeHistoryParams:
    """The life-history model (see the module docstring); steps are life steps."""

    complexity: int = 4  # stimuli whose correct response must be learned (k)
    learnable: bool = True  # False: outcomes do not depend on the action
    n_actions: int = 4  # responses per stimulus (chance skill = 1 / n_actions)
    eta: float = 0.5  # actor learning rate (three-factor rule, per step)
    beta: float = 3.0  # softmax inverse temperature of the policy
    critic_rate: float = 0.2  # Rescorla-Wagner rate of the outcome prediction
    hazard: float = 0.005  # probability of dying per step (mu)
    lifespan: int = 1000  # maximal age T (steps)
    j_min: int = 0  # shortest juvenile period
    j_max: int = 200  # longest juvenile period (steps of learning simulated)
    bank: int = 256  # learners simulated per population (>= population)

    def __post_init__(self) -> None:
        check_int("complexity", self.complexity, low=1)
        if not isinstance(self.learnable, bool):
            raise ValueError(f"learnable must be a bool, got {self.learnable!r}")
        check_int("n_actions", self.n_actions, low=2)
        check_positive("eta", self.eta)
        check_positive("beta", self.beta)
        if not 0.0 < check_finite("critic_rate", self.critic_rate) <= 1.0:
            raise ValueError(f"critic_rate must be in (0, 1], got {self.critic_rate!r}")
        if not 0.0 < check_finite("hazard", self.hazard) < 1.0:
            raise ValueError(f"hazard must be in (0, 1), got {self.hazard!r}")
        check_int("lifespan", self.lifespan, low=1)
        check_int("j_min", self.j_min, low=0)
        check_int("j_max", self.j_max, low=self.j_min + 1)
        if self.j_max >= self.lifespan:
            raise ValueError(f"j_max must be < lifespan ({self.lifespan}), got {self.j_max}")
        check_int("bank", self.bank, low=1)


def reproductive_output(j: Any, params: LifeHistoryParams) -> np.ndarray:
    r"""Expected reproductive steps :math:`\sum_{t=J}^{T-1}(1-\mu)^t` of juvenile period ``j``."""
    j = np.asarray(j, dtype=np.float64)
    if np.any(j < 0) or np.any(j > params.lifespan):
        raise ValueError(f"juvenile period must be in [0, {params.lifespan}]")
    q = 1.0 - params.hazard
    return (q ** j - q ** params.lifespan) / params.hazard


def learning_bank(params: LifeHistoryParams, seed: int) -> np.ndarray:
    """Skill of ``params.bank`` independent learners after 0..``j_max`` steps: ``(j_max+1, bank)``.

    One batched simulation (torch, float64, its own ``torch.Generator`` seeded with ``seed``).
    """
    import torch
    import torch.nn.functional as fn

    from ...neuromodulation.signals import reward_prediction_error, update_expectation
    from ...plasticity.three_factor import (
        ThreeFactorParams,
        init_eligibility_state,
        three_factor_step,
    )

    check_int("seed", seed, low=0)
    b, k, na = params.bank, params.complexity, params.n_actions
    gen = torch.Generator().manual_seed(int(seed))
    if params.learnable:
        correct = torch.randint(na, (b, k), generator=gen)
        p_out = fn.one_hot(correct, na).double()  # (b, k, actions)
    else:
        p_out = torch.full((b, k, na), 1.0 / na, dtype=torch.float64)
    # tau_e far below the step: the eligibility is this step's coincidence only
    rule = ThreeFactorParams(eta=params.eta, tau_e_ms=1e-6, coincidence="hebb")
    state = init_eligibility_state(b, k, na)
    w = torch.zeros(b, na, k, dtype=torch.float64)  # actor: (learner, action, stimulus)
    v = torch.zeros(b, k, dtype=torch.float64)  # critic: predicted outcome per stimulus
    rows = torch.arange(b)
    skills = np.empty((params.j_max + 1, b))
    for t in range(params.j_max + 1):
        z = params.beta * w
        z = torch.exp(z - z.amax(dim=1, keepdim=True))
        pi = z / z.sum(dim=1, keepdim=True)  # (b, actions, k)
        skills[t] = (pi.transpose(1, 2) * p_out).sum(-1).mean(-1).numpy()
        if t == params.j_max:
            break
        s = torch.randint(k, (b,), generator=gen)
        a = torch.multinomial(pi[rows, :, s], 1, generator=gen)[:, 0]
        r = (torch.rand(b, generator=gen, dtype=torch.float64) < p_out[rows, s, a]).double()
        delta = reward_prediction_error(r, v[rows, s])
        v[rows, s] = update_expectation(v[rows, s], r, params.critic_rate)
        w, state = three_factor_step(w, state, fn.one_hot(s, k), fn.one_hot(a, na),
                                     delta[:, None, None], rule, 1.0)
    return skills


def bank_task(task: tuple) -> np.ndarray:
    """``learning_bank(*task)`` for a process or Ray pool (a picklable module-level function)."""
    params, seed = task
    return learning_bank(params, seed)


def optimal_juvenile_period(mean_skill: np.ndarray, params: LifeHistoryParams) -> int:
    """:math:`\\arg\\max_J s(J)\\,R(J)` over ``[j_min, j_max]`` of a mean skill curve."""
    j = np.arange(params.j_min, params.j_max + 1)
    w = np.asarray(mean_skill)[j] * reproductive_output(j, params)
    return int(j[np.argmax(w)])


def evaluate(j: np.ndarray, bank: np.ndarray, params: LifeHistoryParams,
             rng: np.random.Generator) -> np.ndarray:
    """Fitness of juvenile periods ``j``: each gets a different learner of ``bank``."""
    j = np.asarray(j, dtype=np.float64)
    if len(j) > bank.shape[1]:
        raise ValueError(f"bank ({bank.shape[1]} learners) must be >= population ({len(j)})")
    steps = np.clip(np.rint(j), params.j_min, params.j_max).astype(np.int64)
    learner = rng.permutation(bank.shape[1])[:len(j)]
    return bank[steps, learner] * reproductive_output(steps, params)


def make_toolbox(params: LifeHistoryParams, sigma: float, tournsize: int) -> Any:
    """DEAP toolbox of the juvenile-period evolution."""
    base, tools = require_deap()
    check_positive("sigma", sigma)
    check_int("tournsize", tournsize, low=1)
    tb = base.Toolbox()
    tb.register("select", tools.selTournament, tournsize=tournsize)
    tb.register("mate", tools.cxBlend, alpha=0.5)
    tb.register("mutate", tools.mutGaussian, mu=0.0, sigma=sigma, indpb=1.0)
    return tb


def next_generation(j: np.ndarray, fitness: np.ndarray, toolbox: Any, params: LifeHistoryParams,
                    rand: PyRandom, cxpb: float, mutpb: float) -> np.ndarray:
    """Selection, blend crossover and mutation of the juvenile periods (DEAP ``varAnd``)."""
    from deap import algorithms

    inds = [Genome([x]) for x in np.asarray(j, dtype=np.float64).tolist()]
    for ind, f in zip(inds, np.asarray(fitness).tolist()):
        ind.fitness.values = (f,)
    with rand:
        chosen = [Genome(ind) for ind in toolbox.select(inds, len(inds))]
        offspring = algorithms.varAnd(chosen, toolbox, cxpb, mutpb)
    out = np.array([ind[0] for ind in offspring], dtype=np.float64)
    return np.clip(out, params.j_min, params.j_max)

