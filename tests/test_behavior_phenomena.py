"""Each phenomenon's qualitative signature, from the spiking models (and their baselines).

Reduced sizes; every run is seeded, so these are deterministic. Tolerances are stated at each
assert (effects in units of the asymptote a reinforcer supports; rates in Hz).
"""

from __future__ import annotations

import numpy as np
import pytest

from neuroplastic.behavior.circuit import CircuitParams


def test_habituation_spiking_shows_all_six_rankin_properties_staddon_higa_not_dishabituation():
    from neuroplastic.behavior.habituation import (
        SIGNATURES,
        run_spiking,
        run_staddon_higa,
        signatures,
        split_curves,
    )

    n = 10
    p = CircuitParams(w0=4.0, u_fast=0.03, tau_fast_s=5, u_slow=0.002, tau_slow_s=300,
                      facil_gain=1.0)
    r = run_spiking((2.0, 16.0), n, 60.0, 4, p)
    sig = signatures(split_curves(r[2.0], n), split_curves(r[16.0], n))
    assert all(sig[k] for k in SIGNATURES), sig  # thresholds: habituation.SIGNATURE_RULES
    sh = signatures(split_curves(run_staddon_higa(2.0, n, 60.0), n),
                    split_curves(run_staddon_higa(16.0, n, 60.0), n))
    assert sh["decrement"] and sh["rate_sensitivity"] and sh["stimulus_specificity"]
    assert not sh["dishabituation"]  # the cascade has no route for a noxious event
    # without depression there is no decrement at all (the mechanism, not a fit)
    flat = run_spiking((2.0,), n, 60.0, 4, CircuitParams(w0=4.0))[2.0]
    assert flat[n - 3:n].mean() > 0.8 * flat[0]


def test_conditioning_spiking_shows_all_rw_misses_recovery_and_latent_inhibition():
    from neuroplastic.behavior.conditioning import PHENOMENA, effects, groups, run_rw, run_spiking

    protos = groups(8, 8)
    p = CircuitParams(eta=0.15, u_slow=0.003, tau_slow_s=3600.0)
    spk = effects(*run_spiking(protos, 3, p))
    rw = effects(*run_rw(protos))
    for ph in PHENOMENA:  # every effect > 0.05 of the asymptote
        assert spk[ph] > 0.05, (ph, spk)
    for ph in ("acquisition", "extinction", "blocking", "overexpectation",
               "conditioned_inhibition"):
        assert rw[ph] > 0.05, (ph, rw)
    # RW's known failures: no clock, and V = 0 is untouched by non-reinforced pre-exposure
    assert rw["latent_inhibition"] == pytest.approx(0.0, abs=1e-12)
    assert rw["spontaneous_recovery"] <= 1e-12


def test_td_dopamine_burst_moves_to_cue_and_omission_dips():
    from neuroplastic.behavior.td_dopamine import dopamine_rates, features, train_critic

    T, cue, delay, n = 20, 5, 8, 20
    x = features("csc", T, cue, 50.0)
    R = np.zeros((n + 2, T))
    R[: n + 1, cue + delay - 1] = 1.0  # training, a rewarded probe, then an omission probe
    learn = np.arange(n + 2) < n
    _, D = train_critic(x, R, 0.98, 0.5, 0.9, 50.0, learn)
    rates = dopamine_rates(D[[0, n, n + 1]], 50.0)
    tonic = rates[:, :cue].mean(1)
    rb = cue + delay
    assert rates[0, rb] - tonic[0] > 15.0  # Hz above tonic: the unpredicted reward bursts
    assert rates[1, cue] - tonic[1] > 15.0  # after training the burst is at the cue ...
    assert abs(rates[1, rb] - tonic[1]) < 8.0  # ... and gone from the predicted reward
    assert tonic[2] - rates[2, rb] > 5.0  # omission: a pause at the expected time
    assert D[n, cue - 1] > 0.5 and abs(D[n, rb - 1]) < 0.05 and D[n + 1, rb - 1] < -0.9


def test_avoidance_persists_without_shocks_and_exposure_extinguishes_it():
    from neuroplastic.agents import ActorCriticParams
    from neuroplastic.behavior.avoidance import AvoidanceSchedule, run_avoidance

    cp = CircuitParams(eta=0.6, tau_ext_s=3 * 86_400.0)
    ap = ActorCriticParams(gamma=0.9, dt_s=1.0, eta_critic=0.3, eta_actor=1.0,
                           tau_e_critic_s=0.0, tau_e_actor_s=0.0, beta=2.0)
    sched = AvoidanceSchedule(12, 10, 8, 10)
    ex = run_avoidance(cp, ap, sched, 3, exposure=True)
    un = run_avoidance(cp, ap, sched, 3, exposure=False)
    ph = np.array(ex["phase"])
    free, test = ph == "no_shock", ph == "test"
    assert ex["escape"][free].mean() > 0.8  # avoidance persists after the last shock
    assert ex["fear"][free][-5:].mean() > 0.6  # because the fear is not extinguished
    assert ex["fear"][test].mean() < 0.2  # exposure with response prevention removes it
    assert ex["escape"][test].mean() < 0.75  # and with it the avoidance (chance = 0.5)
    assert un["escape"][test].mean() > 0.8 and un["fear"][test].mean() > 0.6  # the trap
    assert ex["fear_renewal"] > ex["fear"][test].mean() + 0.3  # renewal in another context
    assert ex["fear_spontaneous_recovery"] > ex["fear"][test].mean() + 0.2


def test_sensitization_short_term_after_one_shock_long_term_after_repeated_shocks():
    from neuroplastic.behavior.sensitization import TEST_TIMES_MIN, run_sensitization

    p = CircuitParams(w0=3.0, facil_gain=1.0, mod_tau_s=1200.0, ltf_threshold=1.5,
                      ltf_rate=0.3, ltf_tau_s=3 * 86_400.0)
    out = run_sensitization((0, 1, 4), 3, p)
    i5, i24 = TEST_TIMES_MIN.index(5.0), TEST_TIMES_MIN.index(1440.0)
    assert out[1]["S1"][i5] > 1.4  # facilitated withdrawal 5 min after one shock
    assert out[1]["S2"][i5] > 1.4  # ... of the mantle too: not stimulus specific
    assert 0.7 < out[1]["S1"][i24] < 1.3  # gone a day later
    assert out[4]["S1"][i24] > 1.5  # repeated shocks: long-term sensitization
    assert 0.6 < out[0]["S1"][i5] < 1.4 and 0.6 < out[0]["S1"][i24] < 1.4  # control flat


def test_operant_schedules_fi_scallop_vr_rate_and_extinction():
    from neuroplastic.agents import ActorCriticParams
    from neuroplastic.behavior.schedules import train_schedule

    ap = ActorCriticParams(gamma=0.9, dt_s=1.0, eta_critic=0.05, eta_actor=0.1,
                           tau_e_critic_s=3.0, tau_e_actor_s=3.0, beta=1.0)
    kw = dict(session_s=200.0, press_cost=0.1, code_tau_s=8.0)
    agent, fr = train_schedule("FR", 5, 12, ap, **kw)
    _, ext = train_schedule("EXT", 1, 5, ap, agent=agent, seed=1, **kw)
    _, vr = train_schedule("VR", 5, 12, ap, seed=2, **kw)
    _, fi = train_schedule("FI", 10.0, 12, ap, seed=3, **kw)
    assert fr["press_rate"][-1] > 0.4 and vr["press_rate"][-1] > 0.6  # ratio: high rates
    assert fi["press_rate"][-1] < 0.5 * vr["press_rate"][-1]  # interval: far fewer presses
    since, pr = fi["since_pellet_s"], fi["presses"]
    early, late = pr[since < 2.0].mean(), pr[(since >= 8.0) & (since < 10.0)].mean()
    assert late > early + 0.1  # the FI scallop: pressing rises towards the interval's end
    assert ext["press_rate"][-1] < 0.5 * ext["press_rate"][0]  # extinction of the response


def test_observational_observer_prefers_demonstrated_colour_and_learns_faster():
    from neuroplastic.behavior.observational import (
        ObservationParams,
        run_observational,
        trials_to_criterion,
    )

    out = run_observational(ObservationParams(), 4, training=14)
    assert out["test_red_observer"].mean() >= 0.8  # Fiorito & Scotto: most observers copy
    assert abs(out["test_red_naive"].mean() - 0.5) <= 0.3  # naive animals: near chance
    t_obs = trials_to_criterion(out["train_red_observer"]).mean()
    t_naive = trials_to_criterion(out["train_red_naive"]).mean()
    assert t_obs < t_naive  # fewer trials to 4 correct in a row
    # without the demonstrations' STDP there is no preference (the mechanism, not a bias)
    flat = run_observational(ObservationParams(stdp_rate=0.0), 4, training=4)
    assert abs(flat["test_red_observer"].mean() - 0.5) <= 0.3
