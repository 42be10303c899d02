r"""Basal-ganglia actor-critic: the TD error is broadcast as dopamine and gates local rules.

The model of Houk, Adams & Barto (1995), Suri & Schultz (1999) and Potjans, Morrison &
Diesmann (2009), in firing-rate form: an observation encoder (cortex / hippocampus) drives

* a **critic** (striosomes / ventral striatum) whose output rate is the value
  :math:`V(s)=w_c\cdot x(s)`;
* dopamine neurons computing the TD error :math:`\delta = r + \gamma V(s') - V(s)`
  (:func:`neuroplastic.neuromodulation.td_error`; :math:`V(s')=0` at a terminal state) and
  broadcasting it to every plastic synapse;
* an **actor** (matrisomes / dorsal striatum): action channels with preferences
  :math:`h = W_a x`; a discrete action is drawn by a noisy winner-take-all (softmax with
  inverse temperature ``beta``); a continuous action is a population read-out
  :math:`\mu = W_a x` plus exploration noise :math:`\sigma\xi` (node perturbation, Fiete &
  Seung 2006), mapped onto the action box.

Every weight changes by the three-factor rule of
:mod:`neuroplastic.plasticity.three_factor` with a Hebbian coincidence: presynaptic rate
:math:`x_j` times a postsynaptic term — the critic's own output gain (1), the actor's
*chosen-minus-expected* activity :math:`\psi_i = [a=i] - \pi_i` (discrete) or the
exploration noise :math:`\xi_i/\sigma` (continuous) — tags an eligibility trace that decays
per step by :math:`\gamma e^{-\Delta t/\tau_e}`, and the broadcast dopamine turns it into a
change:

.. math:: e \leftarrow \gamma e^{-\Delta t/\tau_e}\, e + \psi \otimes x, \qquad
          w \leftarrow w + \eta\,\delta\, e .

This is exactly :func:`~neuroplastic.plasticity.three_factor.three_factor_step` with
``coincidence="hebb"``, ``tau_e_ms`` chosen so that :math:`e^{-\Delta t/\tau} = \gamma
e^{-\Delta t/\tau_e}` and ``eta = η / Δt`` (:meth:`ActorCriticParams.three_factor_params`;
a test checks the two agree). ``tau_e_s = 0`` means no eligibility trace (only the coincidence
of the current step is credited: TD(0) and a one-step actor). No gradient is propagated
through any layer: there is a single plastic layer per pathway, and each synapse sees only its
own pre/post activity and the broadcast signal.

Interface (any Gymnasium env with a ``Discrete`` or bounded ``Box`` action space)::

    agent = BasalGangliaAgent(env.observation_space, env.action_space, encoder, params)
    obs, _ = env.reset(seed=0)
    while True:
        action = agent.act(obs)
        obs, r, term, trunc, _ = env.step(action)
        agent.observe(r, obs, term, trunc)
        if term or trunc: break

Dopamine manipulations for ablations (``ActorCriticParams.dopamine``): ``"zero"`` (no
dopamine reaches the synapses) and ``"shuffled"`` (each step broadcasts a TD error drawn at
random from the last ``shuffle_buffer`` ones: right statistics, no relation to the events).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .._validation import check_choice, check_finite, check_int, check_nonnegative, check_positive

__all__ = ["DOPAMINE_MODES", "ActorCriticParams", "BasalGangliaAgent", "OneHot"]

DOPAMINE_MODES = ("intact", "zero", "shuffled")


@dataclass(frozen=True)
class ActorCriticParams:
    """Parameters of :class:`BasalGangliaAgent` (times in seconds, rates per step)."""

    gamma: float = 0.99  # discount per step, in [0, 1)
    dt_s: float = 0.02  # duration of one environment step (s)
    eta_critic: float = 0.1  # critic learning rate (per step, per unit of delta x e)
    eta_actor: float = 0.05  # actor learning rate
    tau_e_critic_s: float = 0.5  # critic eligibility time constant (0: no trace, TD(0))
    tau_e_actor_s: float = 0.5  # actor eligibility time constant (0: no trace)
    beta: float = 1.0  # inverse temperature of the softmax winner-take-all (discrete)
    sigma: float = 0.3  # exploration noise of a continuous read-out (normalised units)
    dopamine: Literal["intact", "zero", "shuffled"] = "intact"  # ablations
    shuffle_buffer: int = 1000  # "shuffled": how many past TD errors are drawn from
    value_init: float = 0.0  # initial critic weights
    seed: int = 0  # action sampling, shuffling

    def __post_init__(self) -> None:
        g = check_finite("gamma", self.gamma)
        if not 0.0 <= g < 1.0:
            raise ValueError(f"gamma must be in [0, 1), got {self.gamma!r}")
        check_positive("dt_s", self.dt_s)
        check_nonnegative("eta_critic", self.eta_critic)
        check_nonnegative("eta_actor", self.eta_actor)
        check_nonnegative("tau_e_critic_s", self.tau_e_critic_s)
        check_nonnegative("tau_e_actor_s", self.tau_e_actor_s)
        check_positive("beta", self.beta)
        check_positive("sigma", self.sigma)
        check_choice("dopamine", self.dopamine, DOPAMINE_MODES)
        check_int("shuffle_buffer", self.shuffle_buffer, 1, 10_000_000)
        check_finite("value_init", self.value_init)
        check_int("seed", self.seed, 0)

    def trace_decay(self, tau_e_s: float) -> float:
        """Per-step eligibility decay :math:`\\gamma e^{-\\Delta t/\\tau_e}` (0 without trace)."""
        if tau_e_s == 0:
            return 0.0
        return self.gamma * math.exp(-self.dt_s / tau_e_s)

    def three_factor_params(self, pathway: Literal["critic", "actor"]):
        """The :class:`~neuroplastic.plasticity.three_factor.ThreeFactorParams` (ms units) whose
        :func:`three_factor_step` equals this agent's update of ``pathway`` (needs a trace)."""
        from ..plasticity.three_factor import ThreeFactorParams

        tau = self.tau_e_critic_s if pathway == "critic" else self.tau_e_actor_s
        eta = self.eta_critic if pathway == "critic" else self.eta_actor
        decay = self.trace_decay(tau)
        if decay <= 0:
            raise ValueError(f"tau_e_{pathway}_s = 0 or gamma = 0: no trace to express")
        dt_ms = self.dt_s * 1000.0
        return ThreeFactorParams(eta=eta / dt_ms, tau_e_ms=-dt_ms / math.log(decay),
                                 coincidence="hebb")


class OneHot:
    """Encoder of a ``Discrete(n)`` observation: one active neuron of ``n``."""

    def __init__(self, n: int) -> None:
        self.size = check_int("n", n, 1)

    def __call__(self, obs) -> np.ndarray:
        x = np.zeros(self.size)
        x[int(obs)] = 1.0
        return x


def _default_encoder(space):
    from gymnasium import spaces

    from .encoders import PopulationCode

    if isinstance(space, spaces.Discrete):
        return OneHot(int(space.n))
    if isinstance(space, spaces.Box) and len(space.shape) == 1:
        if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
            raise ValueError("observation_space has unbounded dimensions: pass an encoder "
                             "(e.g. PlaceCells with explicit low/high)")
        return PopulationCode(space.low, space.high)
    raise ValueError(f"observation_space {space} is not supported (Discrete or 1-D Box); pass "
                     "an encoder")


class _Synapses:
    r"""A plastic projection ``n_in -> n_post`` with an eligibility trace per synapse.

    Dense mode: the rule as written (one pass over all synapses per step). Sparse mode (binary
    inputs given by their active indices): the same rule with the trace stored as
    :math:`e = s\,E` and the weights as :math:`w = W + c\,E`, so that decay (``s``) and
    modulated change (``c``) are scalars and a step touches only the active synapses; the dense
    form is restored (``flush``) at episode ends and whenever ``s`` falls below 1e-4. Both give
    the same weights to rounding error (a test checks it).
    """

    def __init__(self, n_post: int, n_in: int, init: float, decay: float, sparse: bool) -> None:
        self.W = np.full((n_post, n_in), float(init))
        self.E = np.zeros((n_post, n_in))
        self.sc = np.array([1.0, 0.0])  # s (trace scale), c (accumulated eta * M * s)
        self.decay = decay
        self.sparse = sparse

    def weights(self) -> np.ndarray:
        s, c = self.sc
        return self.W + c * self.E if c != 0.0 else self.W.copy()

    def drive(self, x) -> np.ndarray:
        """Postsynaptic drive ``w @ x`` (``x``: rates, or active indices in sparse mode)."""
        if not self.sparse:
            return self.W @ x
        c = self.sc[1]
        d = self.W[:, x].sum(1)
        return d + c * self.E[:, x].sum(1) if c != 0.0 else d

    def step(self, post: np.ndarray, x, gain: float) -> None:
        """Tag ``post ⊗ x`` and apply ``w += gain * e`` (gain = eta * dopamine)."""
        if not self.sparse:
            self.E *= self.decay
            self.E += post[:, None] * x[None, :]
            if gain != 0.0:
                self.W += gain * self.E
            return
        if self.decay == 0.0:  # no trace: only this step's coincidence
            if gain != 0.0:
                self.W[:, x] += (gain * post)[:, None]
            return
        sc = self.sc
        sc[0] *= self.decay
        add = (post / sc[0])[:, None]
        self.E[:, x] += add
        if sc[1] != 0.0:
            self.W[:, x] -= sc[1] * add
        sc[1] += gain * sc[0]
        if sc[0] < 1e-4:
            self.flush(keep_trace=True)

    def flush(self, keep_trace: bool = False) -> None:
        s, c = self.sc
        if c != 0.0:
            self.W += c * self.E
        if keep_trace:
            self.E *= s
        else:
            self.E[:] = 0.0
        self.sc[:] = (1.0, 0.0)

    def end_episode(self) -> None:
        if self.sparse:
            self.flush()
        else:
            self.E[:] = 0.0


class BasalGangliaAgent:
    """Actor-critic with dopamine-gated eligibility traces; see the module docstring.

    Parameters
    ----------
    observation_space, action_space
        Gymnasium spaces. Actions: ``Discrete(n)`` or a 1-D ``Box`` with finite bounds.
    encoder
        Callable ``obs -> rates`` (numpy vector) with a ``size``; optional ``reset()`` (called
        at each episode start) and ``state_dict`` / ``load_state_dict``. Default: one-hot for
        ``Discrete`` observations, :class:`~neuroplastic.agents.encoders.PopulationCode` for a
        bounded ``Box``.
    params
        :class:`ActorCriticParams`.
    """

    def __init__(self, observation_space, action_space, encoder=None,
                 params: ActorCriticParams | None = None) -> None:
        from gymnasium import spaces

        self.params = ActorCriticParams() if params is None else params
        if not isinstance(self.params, ActorCriticParams):
            raise ValueError("params must be an ActorCriticParams")
        self.encoder = _default_encoder(observation_space) if encoder is None else encoder
        n = int(getattr(self.encoder, "size", 0))
        if n <= 0:
            raise ValueError("encoder must have a positive integer 'size'")
        if isinstance(action_space, spaces.Discrete):
            self.discrete = True
            self.n_actions = int(action_space.n)
            self._start = int(action_space.start)
        elif isinstance(action_space, spaces.Box) and len(action_space.shape) == 1:
            lo = np.asarray(action_space.low, dtype=np.float64)
            hi = np.asarray(action_space.high, dtype=np.float64)
            if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
                raise ValueError("action_space must be bounded (finite low and high)")
            self.discrete = False
            self.n_actions = int(action_space.shape[0])
            self._lo, self._hi = lo, hi
            self._dtype = action_space.dtype
        else:
            raise ValueError(f"action_space {action_space} is not supported (Discrete or a "
                             "bounded 1-D Box)")
        p = self.params
        self.n_inputs = n
        self.sparse = hasattr(self.encoder, "active")
        self.critic = _Synapses(1, n, p.value_init, p.trace_decay(p.tau_e_critic_s), self.sparse)
        self.actor = _Synapses(self.n_actions, n, 0.0, p.trace_decay(p.tau_e_actor_s),
                               self.sparse)
        self.rng = np.random.Generator(np.random.PCG64(p.seed))
        self.delta_buffer = np.zeros(p.shuffle_buffer)
        self.n_deltas = 0
        self.steps = 0
        self.x = None  # current state: rates, or active indices (None between episodes)
        self.psi = np.zeros(self.n_actions)
        self.value = 0.0
        self.last_delta = 0.0  # TD error of the last step (before any manipulation)
        self.last_dopamine = 0.0  # the signal that reached the synapses

    @property
    def w_critic(self) -> np.ndarray:
        """Critic weights ``(n_inputs,)``: the value is ``w_critic @ x``."""
        return self.critic.weights()[0]

    @property
    def w_actor(self) -> np.ndarray:
        """Actor weights ``(n_actions, n_inputs)``."""
        return self.actor.weights()

    # -- policy ------------------------------------------------------------------------------
    def _policy(self, x) -> np.ndarray:
        h = self.actor.drive(x)
        if not self.discrete:
            return h
        z = self.params.beta * (h - h.max())
        p = np.exp(z)
        return p / p.sum()

    def policy(self, obs) -> np.ndarray:
        """Action probabilities (discrete) or the read-out mean in [-1, 1] units (continuous)
        in state ``obs``, without acting (a stateful encoder is not advanced)."""
        if hasattr(self.encoder, "state_dict"):
            saved = self.encoder.state_dict()
            x = self._encode(obs)
            self.encoder.load_state_dict(saved)
        else:
            x = self._encode(obs)
        return self._policy(x)

    def _encode(self, obs):
        if self.sparse:
            return np.asarray(self.encoder.active(obs), dtype=np.int64).reshape(-1)
        x = np.asarray(self.encoder(obs), dtype=np.float64).reshape(-1)
        if x.size != self.n_inputs:
            raise ValueError(f"encoder returned {x.size} rates, expected {self.n_inputs}")
        return x

    def act(self, obs):
        """Choose an action in state ``obs`` (the first call of an episode encodes it)."""
        if self.x is None:
            if hasattr(self.encoder, "reset"):
                self.encoder.reset()
            self.x = self._encode(obs)
        x = self.x
        self.value = float(self.critic.drive(x)[0])
        if self.discrete:
            pi = self._policy(x)
            a = int(min(np.searchsorted(np.cumsum(pi), self.rng.random() * pi.sum(),
                                        side="right"), self.n_actions - 1))
            self.psi = -pi
            self.psi[a] += 1.0
            return a + self._start
        mu = self._policy(x)
        xi = self.rng.standard_normal(self.n_actions)
        u = mu + self.params.sigma * xi
        self.psi = xi / self.params.sigma
        a = self._lo + (np.clip(u, -1.0, 1.0) + 1.0) * 0.5 * (self._hi - self._lo)
        return a.astype(self._dtype)

    def observe(self, reward: float, next_obs, terminated: bool, truncated: bool = False
                ) -> float:
        """Learn from the transition that followed the last :meth:`act`; return δ."""
        if self.x is None:
            raise RuntimeError("observe() before act(): call act(obs) first")
        r = float(reward)
        if not math.isfinite(r):
            raise ValueError(f"reward must be finite, got {reward!r}")
        p = self.params
        x_next = None
        if terminated:
            v_next = 0.0
        else:
            x_next = self._encode(next_obs)
            v_next = float(self.critic.drive(x_next)[0])
        delta = r + p.gamma * v_next - self.value
        self.last_delta = delta
        da = self._dopamine(delta)
        self.last_dopamine = da
        self.critic.step(_ONE, self.x, p.eta_critic * da)
        self.actor.step(self.psi, self.x, p.eta_actor * da)
        self.steps += 1
        if terminated or truncated:
            self.end_episode()
        else:
            self.x = x_next
        return delta

    def _dopamine(self, delta: float) -> float:
        mode = self.params.dopamine
        if mode == "intact":
            return delta
        if mode == "zero":
            return 0.0
        buf = self.delta_buffer
        buf[self.n_deltas % buf.size] = delta
        self.n_deltas += 1
        return float(buf[self.rng.integers(min(self.n_deltas, buf.size))])

    def end_episode(self) -> None:
        """Close the episode: traces end (no learning), the next :meth:`act` starts afresh."""
        self.critic.end_episode()
        self.actor.end_episode()
        self.x = None

    # -- checkpoints -------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Everything that changes while learning, as numpy arrays (safetensors-ready)."""
        rng = json.dumps(self.rng.bit_generator.state).encode()
        out: dict[str, np.ndarray] = {
            "delta_buffer": self.delta_buffer.copy(), "psi": self.psi.copy(),
            "scalars": np.array([self.value, self.last_delta, self.last_dopamine]),
            "counters": np.array([self.n_deltas, self.steps, self.x is not None],
                                 dtype=np.int64),
            "x": (self.x.copy() if self.x is not None else np.zeros(0)).astype(np.float64),
            "rng": np.frombuffer(rng, dtype=np.uint8).copy(),
        }
        for name, syn in (("critic", self.critic), ("actor", self.actor)):
            out.update({f"{name}.W": syn.W.copy(), f"{name}.E": syn.E.copy(),
                        f"{name}.sc": syn.sc.copy()})
        if hasattr(self.encoder, "state_dict"):
            out.update({f"encoder.{k}": v for k, v in self.encoder.state_dict().items()})
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (arrays or tensors); the next step is bit-identical."""
        def arr(k, dtype=np.float64):
            if k not in state:
                raise ValueError(f"state_dict has no {k!r}")
            v = state[k]
            v = v.numpy() if hasattr(v, "numpy") else v
            return np.array(v, dtype=dtype)

        def put(obj, attr, key):
            ref = getattr(obj, attr)
            v = arr(key)
            if v.shape != ref.shape:
                raise ValueError(f"state {key!r} has shape {v.shape}, expected {ref.shape}")
            setattr(obj, attr, v)

        put(self, "delta_buffer", "delta_buffer")
        put(self, "psi", "psi")
        for name, syn in (("critic", self.critic), ("actor", self.actor)):
            for attr in ("W", "E", "sc"):
                put(syn, attr, f"{name}.{attr}")
        self.value, self.last_delta, self.last_dopamine = (float(v) for v in arr("scalars"))
        n_deltas, steps, has_x = (int(v) for v in arr("counters", np.int64))
        self.n_deltas, self.steps = n_deltas, steps
        x = arr("x")
        self.x = (x.astype(np.int64) if self.sparse else x) if has_x else None
        self.rng.bit_generator.state = json.loads(arr("rng", np.uint8).tobytes().decode())
        if hasattr(self.encoder, "load_state_dict"):
            enc = {k[len("encoder."):]: (v.numpy() if hasattr(v, "numpy") else v)
                   for k, v in state.items() if k.startswith("encoder.")}
            self.encoder.load_state_dict(enc)


_ONE = np.ones(1)
