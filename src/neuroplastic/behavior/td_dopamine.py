r"""TD learning and dopamine (Schultz, Dayan & Montague 1997) with plastic synapses and LIF cells.

A trial is ``n_bins`` time bins of ``bin_ms``: a cue at ``cue_bin``, a reward ``delay_bins``
later. A temporal state code (complete serial compound, or microstimuli through
:class:`neuroplastic.agents.MicrostimulusCode`) feeds a value neuron through plastic synapses
that learn by :func:`neuroplastic.plasticity.three_factor.td_three_factor_step` (eligibility
``γλ`` per bin, the TD error as the third factor) — the same numbers as the algebraic
:func:`neuroplastic.behavior.baselines.td_trial`. The TD error of each bin drives a population
of LIF "dopamine" neurons (:func:`neuroplastic.neurons.lif.lif_step`) around a tonic rate: a
burst for a positive error, a pause for a negative one. Over training the burst moves from the
reward to the cue; omitting the reward gives a dip at the time it was expected.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .baselines import csc_features, microstimulus_features

__all__ = ["dopamine_rates", "features", "train_critic"]


def features(kind: str, n_bins: int, cue_bin: int, bin_ms: float, n_micro: int = 10
             ) -> np.ndarray:
    """State code of one trial, ``(n_bins, n_features)``: ``"csc"`` or ``"microstimulus"``."""
    if kind == "csc":
        return csc_features(n_bins, {0: cue_bin}, 1)
    if kind == "microstimulus":
        return microstimulus_features(n_bins, {0: cue_bin}, 1, n_micro=n_micro,
                                      tau_s=0.3 * n_bins * bin_ms / 1000.0,
                                      dt_s=bin_ms / 1000.0)
    raise ValueError(f"kind must be 'csc' or 'microstimulus', got {kind!r}")


def train_critic(x: np.ndarray, rewards: np.ndarray, gamma: float, alpha: float, lam: float,
                 bin_ms: float, learn: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Run trials through the value neuron's three-factor synapses.

    ``x`` ``(n_bins, n)`` state code (the same every trial), ``rewards`` ``(n_trials, n_bins)``
    (``rewards[k, t]`` arrives on the transition ``t -> t+1``), ``learn`` which trials change the
    weights. Returns the weights ``(n,)`` and the TD errors ``(n_trials, n_bins)``.
    """
    from ..plasticity.three_factor import ThreeFactorParams

    if not 0.0 < gamma * lam < 1.0:
        raise ValueError(f"gamma * lam must be in (0, 1) for an eligibility trace, got "
                         f"{gamma * lam}")
    xt = torch.as_tensor(x, dtype=torch.float64)
    T, n = xt.shape
    rule = ThreeFactorParams(eta=alpha / bin_ms, tau_e_ms=-bin_ms / math.log(gamma * lam),
                             coincidence="hebb")
    w = torch.zeros(1, 1, n, dtype=torch.float64)
    ones = torch.ones(1, 1, dtype=torch.float64)
    R = torch.as_tensor(rewards, dtype=torch.float64)
    mask = np.ones(R.shape[0], bool) if learn is None else np.asarray(learn, bool)
    deltas = np.zeros(R.shape)
    from .circuit import one_thread

    with one_thread():
        w = _trials(w, xt, R, mask, deltas, ones, gamma, rule, bin_ms)
    return w[0, 0].numpy(), deltas


def _trials(w, xt, R, mask, deltas, ones, gamma, rule, bin_ms):
    from ..neuromodulation import td_error
    from ..plasticity.three_factor import init_eligibility_state, td_three_factor_step

    T, n = xt.shape
    for k in range(R.shape[0]):
        state = init_eligibility_state(1, n, 1)
        w_trial = w
        for t in range(T):
            v = (w_trial[0, 0] @ xt[t]).reshape(1, 1, 1)
            v_next = ((w_trial[0, 0] @ xt[t + 1]).reshape(1, 1, 1) if t + 1 < T
                      else torch.zeros(1, 1, 1, dtype=torch.float64))
            r = R[k, t].reshape(1, 1, 1)
            deltas[k, t] = float(td_error(r, v, v_next, gamma))
            if mask[k]:
                w_trial, state = td_three_factor_step(w_trial, state, xt[t][None], ones, r, v,
                                                      v_next, gamma, rule, bin_ms)
        w = w_trial
    return w


def dopamine_rates(deltas: np.ndarray, bin_ms: float, n_neurons: int = 20,
                   i_tonic_na: float = 11.0, gain_na: float = 15.0, noise_mv: float = 4.0,
                   dt_ms: float = 1.0, seed: int = 0) -> np.ndarray:
    """Firing rate (Hz) per bin of ``n_neurons`` LIF dopamine neurons driven by
    ``i_tonic_na + gain_na * delta`` (the error of the transition *into* each bin);
    ``deltas`` ``(K, n_bins)`` -> rates ``(K, n_bins)``."""
    from ..neurons.lif import Analog, LIFParams, init_lif_state, lif_step, realize_lif

    d = torch.as_tensor(deltas, dtype=torch.float64)
    K, T = d.shape
    drive = torch.cat([torch.zeros(K, 1, dtype=torch.float64), d[:, :-1]], 1)  # into bin t
    gen = torch.Generator().manual_seed(seed)
    coef = realize_lif(LIFParams(), Analog(noise_sigma_mv=noise_mv), n_neurons, dt_ms,
                       generator=gen)
    state = init_lif_state(coef, K)
    per_bin = max(1, round(bin_ms / dt_ms))
    counts = torch.zeros(K, T, dtype=torch.float64)
    from .circuit import one_thread

    with one_thread():
        # settle to the tonic rate first
        for _ in range(200):
            state, _ = lif_step(state, coef, torch.full((K, 1), i_tonic_na, dtype=torch.float64),
                                torch.randn(K, n_neurons, generator=gen, dtype=torch.float64))
        for t in range(T):
            i_ext = (i_tonic_na + gain_na * drive[:, t])[:, None].expand(K, n_neurons)
            for _ in range(per_bin):
                noise = torch.randn(K, n_neurons, generator=gen, dtype=torch.float64)
                state, spk = lif_step(state, coef, i_ext, noise)
                counts[:, t] += spk.sum(1)
    return (counts / (n_neurons * per_bin * dt_ms / 1000.0)).numpy()
