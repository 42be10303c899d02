r"""Algebraic baselines of animal learning: Rescorla–Wagner, TD, Staddon–Higa habituation.

* :func:`rescorla_wagner` — Rescorla & Wagner (1972): on each trial every present cue moves by
  :math:`\Delta V_i = \alpha_i\beta\,(\lambda - \sum_{j\,\mathrm{present}} V_j)` with
  :math:`\beta = \beta_+` when the outcome occurs and :math:`\beta_-` when it does not
  (``pyndl``'s convention, so the two agree number for number).
* :func:`td_trial` — TD(:math:`\lambda`) over the time steps of one trial (Sutton & Barto 1990;
  Schultz, Dayan & Montague 1997) with linear value :math:`V_t = w\cdot x_t` on a
  complete-serial-compound (:func:`csc_features`) or microstimulus
  (:class:`neuroplastic.agents.MicrostimulusCode`) state; the error is
  :func:`neuroplastic.neuromodulation.td_error`.
* :func:`staddon_higa` — the multiple-time-scale habituation model (Staddon & Higa 1996): a
  cascade of leaky integrators, each subtracting its memory from its input and passing the
  rectified difference on; fast units early, slow units late. It shows rate sensitivity
  (faster recovery after high-rate training) and nothing that needs a second stimulus pathway.

All are numpy, deterministic and cheap: references for the spiking models of this package.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_finite, check_int, check_positive, check_range

__all__ = ["StaddonHigaParams", "csc_features", "microstimulus_features", "rescorla_wagner",
           "staddon_higa", "td_trial"]


def rescorla_wagner(cues, outcome, alpha=0.1, beta_plus: float = 1.0, beta_minus: float = 1.0,
                    learn=None, w0=None) -> tuple[np.ndarray, np.ndarray]:
    """Rescorla–Wagner over a trial sequence.

    Parameters
    ----------
    cues : (n_trials, n_cues) 0/1 (or salience-weighted) presence of each cue.
    outcome : (n_trials,) lambda of each trial (0 = no outcome).
    alpha : float or (n_cues,) cue saliences.
    beta_plus, beta_minus : learning rates of reinforced / non-reinforced trials.
    learn : (n_trials,) bool, trials that update (default all; probes pass False).
    w0 : (n_cues,) initial associative strengths (default 0).

    Returns ``(V, W)``: the summed prediction of each trial *before* its update ``(n_trials,)``
    and the strengths after every trial ``(n_trials + 1, n_cues)`` (row 0 = ``w0``).
    """
    from ..neuromodulation.signals import reward_prediction_error

    x = np.asarray(cues, dtype=np.float64)
    lam = np.asarray(outcome, dtype=np.float64).reshape(-1)
    if x.ndim != 2 or x.shape[0] != lam.size:
        raise ValueError(f"cues must be (n_trials, n_cues) matching outcome ({lam.size}), got "
                         f"{x.shape}")
    a = np.broadcast_to(np.asarray(alpha, dtype=np.float64), (x.shape[1],))
    check_finite("beta_plus", beta_plus)
    check_finite("beta_minus", beta_minus)
    mask = np.ones(lam.size, bool) if learn is None else np.asarray(learn, bool).reshape(-1)
    w = np.zeros(x.shape[1]) if w0 is None else np.asarray(w0, dtype=np.float64).copy()
    W = np.empty((lam.size + 1, x.shape[1]))
    W[0] = w
    V = np.empty(lam.size)
    for t in range(lam.size):
        V[t] = float(x[t] @ w)
        if mask[t]:
            beta = beta_plus if lam[t] != 0 else beta_minus
            delta = reward_prediction_error(lam[t], V[t])
            w = w + a * beta * delta * x[t]
        W[t + 1] = w
    return V, W


def csc_features(n_steps: int, onsets: dict[int, int], n_stimuli: int) -> np.ndarray:
    """Complete serial compound: one feature per (stimulus, time since its onset).

    ``onsets`` maps stimulus index -> onset step. Returns ``(n_steps, n_stimuli * n_steps)``.
    """
    n = check_int("n_steps", n_steps, 1, 100_000)
    x = np.zeros((n, n_stimuli * n))
    for s, t0 in onsets.items():
        for t in range(t0, n):
            x[t, s * n + (t - t0)] = 1.0
    return x


def microstimulus_features(n_steps: int, onsets: dict[int, int], n_stimuli: int,
                           n_micro: int = 10, tau_s: float = 1.0, dt_s: float = 0.1
                           ) -> np.ndarray:
    """Microstimulus state (Ludvig, Sutton & Kehoe 2008) through the agents' encoder."""
    from ..agents.encoders import MicrostimulusCode

    code = MicrostimulusCode(n_stimuli, n_micro=n_micro, tau_s=tau_s, dt_s=dt_s, bias=False)
    rows = []
    for t in range(check_int("n_steps", n_steps, 1, 100_000)):
        obs = np.zeros(n_stimuli)
        for s, t0 in onsets.items():
            obs[s] = 1.0 if t == t0 else 0.0
        rows.append(code(obs))
    return np.stack(rows)


def td_trial(w: np.ndarray, x: np.ndarray, reward: np.ndarray, gamma: float = 0.98,
             alpha: float = 0.1, lam: float = 0.0, learn: bool = True
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""One trial of TD(:math:`\lambda`): states ``x`` ``(T, n)``, ``reward[t]`` received on the
    transition ``t -> t+1`` (the last transition ends the trial: :math:`V=0` after it).

    Returns ``(w, delta (T,), V (T,))``; ``delta[t]`` is the dopamine-like error at step ``t``.
    """
    from ..neuromodulation.signals import td_error

    check_range("gamma", gamma, 0.0, 1.0)
    check_positive("alpha", alpha) if learn else None
    check_range("lam", lam, 0.0, 1.0)
    w = np.asarray(w, dtype=np.float64).copy()
    T = x.shape[0]
    e = np.zeros_like(w)
    deltas, values = np.empty(T), np.empty(T)
    for t in range(T):
        v = float(x[t] @ w)
        v_next = float(x[t + 1] @ w) if t + 1 < T else 0.0
        d = float(td_error(float(reward[t]), v, v_next, gamma))
        e = gamma * lam * e + x[t]
        if learn:
            w = w + alpha * d * e
        deltas[t], values[t] = d, v
    return w, deltas, values


@dataclass(frozen=True)
class StaddonHigaParams:
    """Cascade of integrators: retention ``a`` (fast to slow) and gains ``b`` per unit."""

    a: tuple[float, ...] = (0.6, 0.98)  # per-step retention of each unit's memory, in [0, 1)
    b: tuple[float, ...] = (0.35, 0.05)  # per-step gain of each unit's memory, in (0, 1]
    dt_s: float = 1.0  # duration of one step

    def __post_init__(self) -> None:
        if not self.a or len(self.a) != len(self.b):
            raise ValueError("a and b must be non-empty and of the same length")
        for v in self.a:
            r = check_finite("a", v)
            if not 0.0 <= r < 1.0:
                raise ValueError(f"a must be in [0, 1), got {v!r}")
        for v in self.b:
            check_range("b", v, 0.0, 1.0)
        check_positive("dt_s", self.dt_s)


def staddon_higa(stimulus, params: StaddonHigaParams | None = None) -> np.ndarray:
    """Response of the multiple-time-scale cascade to ``stimulus`` ``(T,)`` (one per step).

    Unit ``i`` receives ``x_{i-1}``, outputs ``x_i = max(0, x_{i-1} - V_i)`` and updates
    ``V_i <- a_i V_i + b_i x_{i-1}``; the response is the last unit's output.
    """
    p = StaddonHigaParams() if params is None else params
    s = np.asarray(stimulus, dtype=np.float64).reshape(-1)
    a, b = np.array(p.a), np.array(p.b)
    V = np.zeros(a.size)
    out = np.empty(s.size)
    for t in range(s.size):
        x = s[t]
        for i in range(a.size):
            y = max(0.0, x - V[i])
            V[i] = a[i] * V[i] + b[i] * x
            x = y
        out[t] = x
    return out
