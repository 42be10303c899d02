r"""Observational learning in the octopus (Fiorito & Scotto 1992) on a spiking choice network.

Two colour pools (red, white balls) of Poisson sensory neurons project onto two groups of LIF
"attack" neurons (attack red, attack white). On a choice trial both balls are shown; the group
that fires more wins (lateral inhibition), and the other group's eligibility is discarded.

* **Observation** — the observer watches a demonstrator attack the red ball: its attention
  raises the rate of the red pool, and "mirror" input drives the observer's own attack-red
  neurons a few ms later. Pair STDP (:func:`neuroplastic.plasticity.stdp_pair.stdp_step`,
  pre-before-post potentiation) binds red to attack-red — no reward is involved. A naive
  animal watches an empty tank (no attention, no mirror drive) for the same time.
* **Trial and error** — reward-modulated STDP
  (:func:`neuroplastic.plasticity.three_factor.three_factor_step`, ``coincidence="stdp"``):
  the outcome of the chosen attack (+1 food for red, -1 for white) gates the eligibility of the
  winning group's synapses.

The observer prefers the demonstrated colour before any reward and reaches criterion in fewer
trials than the naive animal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .._validation import check_int, check_nonnegative, check_positive

__all__ = ["ObservationParams", "run_observational", "trials_to_criterion"]

RED, WHITE = 0, 1


@dataclass(frozen=True)
class ObservationParams:
    n_sensory: int = 10  # per colour
    n_action: int = 5  # per action group
    rate_hz: float = 100.0  # sensory rate of a visible ball
    attention: float = 2.5  # rate factor of the ball the demonstrator attacks
    mirror_na: float = 40.0  # current into the observer's matching attack neurons
    mirror_onset_ms: float = 8.0  # when the attack (and the mirror drive) starts
    window_ms: float = 40.0
    w_init: float = 3.5  # colour -> its own attack group (nA)
    w_max: float = 8.0
    stdp_rate: float = 20.0  # pair-STDP learning rate while observing
    eta: float = 0.2  # reward-modulated STDP learning rate
    noise_mv: float = 3.0

    def __post_init__(self) -> None:
        check_int("n_sensory", self.n_sensory, 1, 10_000)
        check_int("n_action", self.n_action, 1, 10_000)
        for name in ("rate_hz", "attention", "mirror_na", "mirror_onset_ms", "stdp_rate",
                     "eta", "noise_mv"):
            check_nonnegative(name, getattr(self, name))
        for name in ("window_ms", "w_init", "w_max"):
            check_positive(name, getattr(self, name))
        if self.rate_hz * self.attention > 1000.0:
            raise ValueError("rate_hz * attention must be <= 1000 Hz (dt = 1 ms)")


class _Net:
    def __init__(self, p: ObservationParams, batch: int, seed: int) -> None:
        from ..neurons.lif import Analog, LIFParams, realize_lif

        self.p, self.B = p, batch
        self.gen = torch.Generator().manual_seed(seed)
        self.n_pre, self.n_post = 2 * p.n_sensory, 2 * p.n_action
        self.coef = realize_lif(LIFParams(tau_syn_ms=(5.0,)), Analog(noise_sigma_mv=p.noise_mv),
                                self.n_post, 1.0, generator=self.gen)
        own = (torch.arange(self.n_post)[:, None] // p.n_action
               == torch.arange(self.n_pre)[None, :] // p.n_sensory)
        self.w = (own * p.w_init).to(torch.float64).expand(batch, -1, -1).clone()  # (B,post,pre)
        self.group = torch.arange(self.n_post) // p.n_action
        self.pool = torch.arange(self.n_pre) // p.n_sensory

    def trial(self, rates_hz: torch.Tensor, mirror: torch.Tensor | None, plastic: str,
              reward_of=None) -> np.ndarray:
        """One window. ``rates_hz`` ``(B, 2)`` per colour; ``mirror`` ``(B,)`` attack group
        driven by mirror input (or -1); ``plastic``: "stdp" (observation), "reward" (trial and
        error: ``reward_of(choice) -> (B,)`` outcome), or "none". Returns the choice ``(B,)``."""
        from ..neurons.lif import init_lif_state, lif_step
        from ..plasticity.stdp_pair import init_stdp_state, stdp_step
        from ..plasticity.stdp_params import STDPParams
        from ..plasticity.three_factor import (
            ThreeFactorParams,
            coincidence_step,
            eligibility_step,
            init_eligibility_state,
            modulated_update,
        )

        p, B = self.p, self.B
        if plastic == "stdp" and p.stdp_rate == 0:
            plastic = "none"
        f64 = torch.float64
        steps = round(p.window_ms)
        lif = init_lif_state(self.coef, B)
        prob = (rates_hz[:, self.pool] / 1000.0).to(f64)
        stdp = STDPParams(learning_rate=max(p.stdp_rate, 1e-12), w_min=0.0, w_max=p.w_max)
        rule = ThreeFactorParams(eta=p.eta, tau_e_ms=200.0, coincidence="stdp", w_min=0.0,
                                 w_max=p.w_max)
        s_state = init_stdp_state(B, self.n_pre, self.n_post)
        e_state = init_eligibility_state(B, self.n_pre, self.n_post)
        wt = self.w.transpose(1, 2).contiguous()  # stdp_step's (B, pre, post) layout
        counts = torch.zeros(B, 2, dtype=f64)
        drive = torch.zeros(B, self.n_post, dtype=f64)
        if mirror is not None:
            drive = torch.where((self.group[None, :] == mirror[:, None]), p.mirror_na, 0.0)
        for t in range(steps):
            pre = torch.rand(B, self.n_pre, generator=self.gen, dtype=f64) < prob
            i_ext = drive if t >= p.mirror_onset_ms else None
            noise = torch.randn(B, self.n_post, generator=self.gen, dtype=f64)
            lif, post = lif_step(lif, self.coef, i_ext, noise)
            counts.index_add_(1, self.group, post.to(f64))
            w_now = wt.transpose(1, 2) if plastic == "stdp" else self.w
            arr = (w_now @ pre.to(f64)[..., None])[..., 0]
            lif = lif._replace(i_syn=lif.i_syn + arr[..., None])
            if plastic == "stdp":
                wt, s_state = stdp_step(wt, pre, post, s_state, stdp, dt_ms=1.0)
            elif plastic == "reward":
                e_state, c = coincidence_step(e_state, pre, post, rule, 1.0)
                e_state = e_state._replace(e=eligibility_step(e_state.e, c, rule, 1.0))
        tie = torch.rand(B, generator=self.gen, dtype=f64) < 0.5
        choice = torch.where(counts[:, 0] == counts[:, 1], tie.long(),
                             (counts[:, 1] > counts[:, 0]).long())
        if plastic == "stdp":
            self.w = wt.transpose(1, 2).contiguous()
        elif plastic == "reward":
            winner = (self.group[None, :] == choice[:, None]).to(f64)[..., None]
            r = torch.as_tensor(reward_of(choice), dtype=f64)[:, None, None]
            self.w = modulated_update(self.w, e_state.e * winner, r, rule, 1.0)
        return choice.numpy()


def run_observational(p: ObservationParams, animals: int, demonstrations: int = 4,
                      tests: int = 5, training: int = 30, seed: int = 0) -> dict:
    """Observers (first ``animals``) and naive animals (the rest) in one batch: observation,
    unrewarded choice tests, then trial-and-error training with red rewarded. Returns the
    per-animal choices of red in the tests and in training ``(animals,)``/``(animals, n)``."""
    from .circuit import one_thread

    B = 2 * animals
    net = _Net(p, B, seed)
    observer = torch.arange(B) < animals
    both = torch.full((B, 2), p.rate_hz, dtype=torch.float64)
    watched = torch.where(observer[:, None], torch.tensor([p.rate_hz * p.attention, p.rate_hz],
                                                          dtype=torch.float64), 0.0)
    mirror = torch.where(observer, RED, -1)
    with one_thread():
        for _ in range(demonstrations):
            net.trial(watched, mirror, "stdp")
        test = np.stack([net.trial(both, None, "none") for _ in range(tests)], 1) == RED
        train = np.stack([net.trial(both, None, "reward",
                                    lambda ch: np.where(ch.numpy() == RED, 1.0, -1.0))
                          for _ in range(training)], 1) == RED
    return {"test_red_observer": test[:animals].mean(1), "test_red_naive": test[animals:].mean(1),
            "train_red_observer": train[:animals], "train_red_naive": train[animals:]}


def trials_to_criterion(correct: np.ndarray, run: int = 4) -> np.ndarray:
    """Per animal: trials until the first of ``run`` correct choices in a row is completed
    (``n + 1`` when never)."""
    c = np.asarray(correct, bool)
    out = np.full(c.shape[0], c.shape[1] + 1)
    for a in range(c.shape[0]):
        for k in range(c.shape[1] - run + 1):
            if c[a, k:k + run].all():
                out[a] = k + run
                break
    return out
