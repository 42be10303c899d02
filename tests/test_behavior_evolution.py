"""The evolution of learning (issue 15, phenomenon 7): Hinton & Nowlan and the juvenile period.

Independent truths: the closed form and the direct sum of the mean guesses left, a brute-force
simulation of the guesses, DEAP's own ``selRoulette``, the qualitative curves of Hinton &
Nowlan (1987, Fig. 2) on 5 seeds, and the analytic optimum of the life-history model.
"""

from __future__ import annotations

import math
import random
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

pytest.importorskip("deap")

from neuroplastic.behavior.evolution.ga import (  # noqa: E402
    Genome,
    PyRandom,
    chunk_rng,
    parallel_map,
    require_deap,
)
from neuroplastic.behavior.evolution.hinton_nowlan import (  # noqa: E402
    CORRECT,
    INCORRECT,
    LEARNABLE,
    HintonNowlanParams,
    evaluate_populations,
    expected_fitness,
    expected_remaining,
    fitness_from_remaining,
    initial_population,
    lifetime_learning,
    select_proportional,
)
from neuroplastic.behavior.evolution.life_history import (  # noqa: E402
    LifeHistoryParams,
    bank_task,
    learning_bank,
    optimal_juvenile_period,
    reproductive_output,
)
from neuroplastic.experiments.configs.baldwin import BaldwinConfig  # noqa: E402
from neuroplastic.experiments.configs.juvenile_period import JuvenilePeriodConfig  # noqa: E402


def _genotypes(k: int, n: int, loci: int = 20) -> np.ndarray:
    g = np.full((n, loci), CORRECT, dtype=np.int8)
    g[:, :k] = LEARNABLE
    return g


# -- lifetime learning: the geometric sampler against the analytic distribution ------------
@pytest.mark.parametrize("k", [0, 1, 5, 9, 12])
def test_closed_form_mean_equals_direct_sum(k):
    L = 1000
    p = 2.0 ** -k
    direct = math.fsum((L - f) * p * (1 - p) ** f for f in range(L))
    assert expected_remaining(k, L) == pytest.approx(direct, rel=1e-10, abs=1e-9)


@pytest.mark.parametrize("k", [0, 4, 8, 10, 13])
def test_sampled_fitness_matches_closed_form(k):
    """Mean fitness of 200k lives of a genotype with k '?' and no wrong allele = 1 + 19 E[n]/L
    within 5 standard errors (exact for k = 0: every life has fitness 20)."""
    params = HintonNowlanParams()
    n = lifetime_learning(_genotypes(k, 200_000), params.trials, chunk_rng(7, k))
    f = fitness_from_remaining(n, params.trials, params.max_fitness)
    if k == 0:
        assert np.all(f == 20.0)
        return
    se = f.std(ddof=1) / math.sqrt(f.size)
    assert abs(f.mean() - expected_fitness(k, params)) < 5 * se


def test_geometric_sampler_equals_brute_force_guessing():
    """Same distribution of guesses left as guessing every '?' at random L times (KS test)."""
    k, L, n = 4, 60, 4000
    rng = np.random.default_rng(3)
    guesses = rng.random((n, L, k)) < 0.5
    hit = guesses.all(axis=2)
    first = np.where(hit.any(axis=1), hit.argmax(axis=1), L)  # failed guesses before success
    brute = np.maximum(0, L - first)
    fast = lifetime_learning(_genotypes(k, n, loci=6), L, chunk_rng(4))
    assert stats.ks_2samp(brute, fast).pvalue > 1e-3
    assert abs(brute.mean() - expected_remaining(k, L)) < 5 * brute.std() / math.sqrt(n)


def test_an_incorrect_allele_leaves_nothing_to_learn():
    g = _genotypes(3, 1000)
    g[:, -1] = INCORRECT
    assert np.all(lifetime_learning(g, 1000, chunk_rng(0)) == 0)


# -- DEAP: selection distribution, private random state, workers ----------------------------
def test_fast_roulette_has_deaps_selroulette_distribution():
    _, tools = require_deap()
    weights = [1.0, 2.0, 3.0, 5.0, 9.0]
    inds = []
    for i, w in enumerate(weights):
        ind = Genome([i])
        ind.fitness.values = (w,)
        inds.append(ind)
    expected = np.array(weights) / sum(weights) * 20_000
    for sel, seed in ((select_proportional, 1), (tools.selRoulette, 2)):
        with PyRandom(seed):
            picks = sel(inds, 20_000)
        counts = np.bincount([p[0] for p in picks], minlength=len(weights))
        assert stats.chisquare(counts, expected).pvalue > 1e-3, sel.__name__


def test_private_random_state_leaves_the_global_one_alone_and_round_trips():
    random.seed(123)
    before = random.getstate()
    r = PyRandom(5)
    with r:
        random.random()
    assert random.getstate() == before
    words, gauss = r.to_array()
    r2 = PyRandom.from_array(words, gauss)
    with r:
        a = [random.gauss(0, 1) for _ in range(3)]
    with r2:
        b = [random.gauss(0, 1) for _ in range(3)]
    assert a == b


def test_results_do_not_depend_on_the_number_of_workers():
    """Baldwin: a 2-process pool evaluates exactly as the builtin map. Juvenile period: every
    learner bank depends on its own task only (computed in another order, with other tasks
    between, it is the same), so a pool of any size gives the same banks."""
    params = HintonNowlanParams(loci=10, population=300, chunk=64)
    pops = [initial_population(params, chunk_rng(0, i)) for i in range(2)]
    serial = evaluate_populations(pops, params, 9, 3)
    with parallel_map(2) as pmap:
        pooled = evaluate_populations(pops, params, 9, 3, pmap)
    for a, b in zip(serial, pooled):
        np.testing.assert_array_equal(a, b)
    lh = LifeHistoryParams(complexity=3, j_max=20, bank=16)
    tasks = [(lh, 1), (LifeHistoryParams(complexity=5, j_max=20, bank=16), 4), (lh, 2)]
    forward = list(map(bank_task, tasks))
    backward = list(map(bank_task, tasks[::-1]))[::-1]
    for a, b in zip(forward, backward):
        np.testing.assert_array_equal(a, b)


# -- the paper's curves ----------------------------------------------------------------------
def test_hinton_nowlan_qualitative_curves_on_five_seeds():
    """Fig. 2 of Hinton & Nowlan at the paper's size (20 loci, 1000 individuals, 1000 guesses)
    over 40 generations, 5 populations: incorrect alleles vanish (< 1 %), correct ones rise
    (> 0.5 from 0.25), '?' alleles fall but persist (between 0.1 and 0.45) on a plateau
    (changing by < 0.08 over the last 10 generations); mean fitness ends above 15 (max 20)."""
    from neuroplastic.experiments.baldwin import run

    res = run(BaldwinConfig(generations=40, populations=5, seed=1), progress=False)
    c = res.curves
    for i in range(5):
        assert c[f"incorrect_frac_p{i}"][-1] < 0.01
        assert c[f"correct_frac_p{i}"][-1] > 0.5
        q = c[f"learnable_frac_p{i}"]
        assert 0.1 < q[-1] < 0.45
        assert max(q[-10:]) - min(q[-10:]) < 0.08
    assert res.metrics["mean_fitness_final"] > 15
    assert res.metrics["populations_converged"] == 5


# -- the juvenile period ---------------------------------------------------------------------
def test_reproductive_output_is_the_sum_of_survival():
    p = LifeHistoryParams(hazard=0.01, lifespan=300, j_max=100)
    for j in (0, 7, 100):
        direct = math.fsum((1 - 0.01) ** t for t in range(j, 300))
        assert reproductive_output(j, p) == pytest.approx(direct, rel=1e-12)


def test_learners_learn_and_unlearnable_outcomes_teach_nothing():
    p = LifeHistoryParams(complexity=2, j_max=60, bank=64)
    s = learning_bank(p, 0).mean(axis=1)
    assert s[0] == pytest.approx(0.25) and s[-1] > 0.8
    u = learning_bank(LifeHistoryParams(complexity=2, learnable=False, j_max=60, bank=64), 0)
    np.testing.assert_allclose(u, 0.25, atol=1e-12)
    assert optimal_juvenile_period(u.mean(axis=1), p) == 0


def test_evolved_juvenile_period_grows_with_complexity_and_shrinks_when_nothing_is_learnable():
    """Mean over 5 seeds of the evolved J is strictly increasing in complexity (1, 4, 16), as
    is the optimum of skill x output; from J = 30 every level moves towards its optimum (down
    for k = 1, up for k = 16); the unlearnable control ends below 5 steps."""
    from neuroplastic.experiments.juvenile_period import run

    cfg = JuvenilePeriodConfig(complexities=(1, 4, 16), seeds=5, population=30, bank=32,
                               generations=25, j_max=100, seed=2)
    m = run(cfg, progress=False).metrics
    ev = [m[f"juvenile_period_by_complexity_k{k}"] for k in (1, 4, 16)]
    opt = [m[f"juvenile_period_optimum_k{k}"] for k in (1, 4, 16)]
    assert ev[0] < ev[1] < ev[2], ev
    assert opt[0] < opt[1] < opt[2], opt
    for e, o in zip(ev, opt):
        assert (e - cfg.j_init) * (o - cfg.j_init) > 0, (ev, opt)
    assert m["juvenile_period_by_complexity_unlearnable"] < 5
    assert m["slope_ok"] is True


# -- bad input -------------------------------------------------------------------------------
@pytest.mark.parametrize("make, field", [
    (lambda: HintonNowlanParams(population=-5), "population"),
    (lambda: HintonNowlanParams(initial_freqs=(0.3, 0.3, 0.3)), "initial_freqs"),
    (lambda: HintonNowlanParams(initial_freqs=(1.2, -0.2, 0.0)), "initial_freqs"),
    (lambda: HintonNowlanParams(loci=1), "loci"),
    (lambda: HintonNowlanParams(selection="best"), "selection"),
    (lambda: LifeHistoryParams(hazard=1.5), "hazard"),
    (lambda: LifeHistoryParams(j_max=1000, lifespan=1000), "j_max"),
    (lambda: LifeHistoryParams(complexity=0), "complexity"),
    (lambda: BaldwinConfig(initial_freqs=(0.5, 0.5, 0.5)), "initial_freqs"),
    (lambda: BaldwinConfig(population=-1), "population"),
    (lambda: JuvenilePeriodConfig(complexities=(4, 2)), "complexities"),
    (lambda: JuvenilePeriodConfig(bank=10, population=20), "bank"),
    (lambda: JuvenilePeriodConfig(j_init=500.0), "j_init"),
    (lambda: lifetime_learning(np.full((2, 3), 7), 10, chunk_rng(0)), "genotypes"),
    (lambda: parallel_map(0).__enter__(), "workers"),
    (lambda: parallel_map(2, "gpu").__enter__(), "backend"),
])
def test_bad_input_names_the_field(make, field):
    with pytest.raises(ValueError, match=field):
        make()


@settings(max_examples=60, deadline=None)
@given(st.tuples(*[st.floats(-0.5, 1.5, allow_nan=False)] * 3))
def test_initial_freqs_accepted_iff_a_distribution(freqs):
    ok = all(0 <= f <= 1 for f in freqs) and abs(math.fsum(freqs) - 1) <= 1e-9
    if ok:
        HintonNowlanParams(initial_freqs=freqs)
    else:
        with pytest.raises(ValueError, match="initial_freqs"):
            HintonNowlanParams(initial_freqs=freqs)


def test_missing_deap_fails_with_one_line_naming_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "deap", None)
    with pytest.raises(ImportError, match="'deap'"):
        require_deap()
