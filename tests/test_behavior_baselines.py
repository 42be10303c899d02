"""Algebraic baselines: RW against pyndl and closed forms, TD against the three-factor critic."""

from __future__ import annotations

import numpy as np
import pytest

from neuroplastic.behavior.baselines import (
    StaddonHigaParams,
    csc_features,
    rescorla_wagner,
    staddon_higa,
    td_trial,
)
from neuroplastic.behavior.protocol import Phase, Protocol, trial


def _design():
    p = Protocol(("A", "B", "X"), (
        Phase("training", (trial("A+"), trial("B-"), trial("AX-"), trial("BX+")), 15,
              shuffle=True),
        Phase("compound", (trial("AB+"),), 10)))
    return p, p.design(seed=3)


def test_rw_equals_pyndl_within_1e9():
    ndl = pytest.importorskip("pyndl.ndl")
    p, d = _design()
    alpha, betas = {"A": 0.1, "B": 0.2, "X": 0.05}, (0.4, 0.25)
    _, W = rescorla_wagner(d["cues"], d["outcome"], alpha=[alpha[s] for s in p.stimuli],
                           beta_plus=betas[0], beta_minus=betas[1])
    events = [([s for s, c in zip(p.stimuli, row) if c], ["US"] if o else [])
              for row, o in zip(d["cues"], d["outcome"])]
    w = ndl.dict_ndl(events, alpha, betas, lambda_=1.0)
    ours = dict(zip(p.stimuli, W[-1]))
    assert max(abs(w["US"][s] - ours[s]) for s in p.stimuli) < 1e-9
    assert max(abs(ours[s]) for s in p.stimuli) > 0.05  # the design really learned something


def test_rw_single_cue_closed_form_and_probes():
    n, a = 20, 0.15
    V, W = rescorla_wagner(np.ones((n, 1)), np.ones(n), alpha=a)
    k = np.arange(n)
    assert np.allclose(V, 1 - (1 - a) ** k, atol=1e-12)  # V_k = lambda (1 - (1-a)^k)
    learn = np.ones(n, bool)
    learn[5:] = False
    _, W2 = rescorla_wagner(np.ones((n, 1)), np.ones(n), alpha=a, learn=learn)
    assert np.all(W2[6:] == W2[5])  # probe trials change nothing


def test_td_baseline_equals_three_factor_critic_and_converges():
    from neuroplastic.behavior.td_dopamine import train_critic

    T, cue, delay, g = 16, 3, 6, 0.95
    x = csc_features(T, {0: cue}, 1)
    R = np.zeros((40, T))
    R[:, cue + delay - 1] = 1.0
    w_syn, D = train_critic(x, R, g, 0.5, 0.8, 50.0)
    w = np.zeros(x.shape[1])
    for k in range(40):
        w, d, _ = td_trial(w, x, R[k], g, 0.5, 0.8)
        assert np.allclose(d, D[k], atol=1e-12)
    assert np.allclose(w, w_syn, atol=1e-12)
    # converged: the error has moved to the cue, gamma^delay of the reward (analytic)
    assert D[-1, cue - 1] == pytest.approx(g ** delay, abs=1e-3)
    assert abs(D[-1, cue + delay - 1]) < 1e-3


def test_staddon_higa_single_unit_and_rate_sensitivity():
    # one unit: response = s - V, V <- aV + b s: closed form for a train of pulses every step
    p = StaddonHigaParams(a=(0.5,), b=(0.4,))
    r = staddon_higa(np.ones(30), p)
    V, ref = 0.0, []
    for _ in range(30):
        ref.append(max(0.0, 1 - V))
        V = 0.5 * V + 0.4
    assert np.allclose(r, ref)
    # default cascade: more decrement at the higher rate, and faster relative recovery
    out = {}
    for isi in (2, 16):
        s = np.zeros(15 * isi + 60)
        s[: 15 * isi: isi] = 1.0
        s[-1] = 1.0
        resp = staddon_higa(s)
        train = resp[: 15 * isi: isi]
        out[isi] = (train[-1] / train[0], (resp[-1] - train[-1]) / (train[0] - train[-1]))
    assert out[2][0] < out[16][0]
    assert out[2][1] > out[16][1]
