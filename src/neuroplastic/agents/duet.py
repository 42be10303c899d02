r"""The duet: the basal ganglia choose a coarse action, the cerebellum refines its execution.

A baby learning to walk uses both loops (issue 14): the **basal ganglia**
(:class:`~neuroplastic.agents.BasalGangliaAgent`) learn *what to do* from reward — here they
choose one of a few coarse motor commands (``levels``, a noisy winner-take-all of action
channels) with dopamine-gated eligibility traces — and the **cerebellum**
(:class:`~neuroplastic.agents.AdaptiveController`) learns *how to do it*: in the context of
the current state (mossy fibres: a population code of the observation) it adds a continuous
correction to the chosen command,

.. math:: u = \mathrm{clip}\big(\ell_{a} + c(s)\big),

and its parallel-fibre synapses learn from a **climbing-fibre error** computed from a sensory
error of the state that followed (a linear read-out of the observation, e.g. the pole's tilt
and tilt rate — the deviation from upright that a reflex would push against):
:math:`e = K\,o_{t+1}`, credited to the parallel fibres active when the command was issued
(Ito LTD/LTP, :meth:`~neuroplastic.agents.Cerebellum.learn`). Learning stops when the sensory
error vanishes, so the cerebellum absorbs a change of the body (added mass, weaker actuator)
without waiting for a reward. No gradient flows between the two: each learns with its own
local rule and its own broadcast signal (dopamine, climbing fibres).

``cerebellum=None`` is the basal ganglia alone, in the same harness.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .basal_ganglia import BasalGangliaAgent
from .cerebellum import AdaptiveController

__all__ = ["DuetAgent", "PostureDuetAgent", "coarse_levels"]


def coarse_levels(low: float, high: float, n: int) -> np.ndarray:
    """``n`` commands evenly spread over ``[low, high]`` (the basal ganglia's menu)."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 2:
        raise ValueError(f"n_levels must be an integer >= 2, got {n!r}")
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(f"need finite low < high, got {low!r}, {high!r}")
    return np.linspace(float(low), float(high), n)


class DuetAgent:
    """Basal ganglia (coarse choice) + cerebellum (continuous correction) on a 1-D ``Box``
    action.

    Parameters
    ----------
    bg
        A :class:`BasalGangliaAgent` with a ``Discrete(len(levels))`` action space.
    levels
        The command of each BG action (action units).
    low, high
        Bounds of the environment's action (the sum is clipped to them).
    cerebellum
        An :class:`AdaptiveController` with one output, or ``None`` (BG alone).
    mossy
        Callable ``obs -> rates`` (the cerebellum's mossy-fibre context); needed with a
        cerebellum.
    error_gain
        Climbing-fibre read-out :math:`K` (one weight per observation dimension, action
        units per observation unit): the CF error is ``error_gain @ next_obs``.
    """

    def __init__(self, bg: BasalGangliaAgent, levels, low: float, high: float,
                 cerebellum: AdaptiveController | None = None, mossy=None,
                 error_gain=None) -> None:
        if not isinstance(bg, BasalGangliaAgent) or not bg.discrete:
            raise ValueError("bg must be a BasalGangliaAgent with a Discrete action space")
        self.levels = np.asarray(levels, dtype=np.float64).reshape(-1)
        if self.levels.size != bg.n_actions:
            raise ValueError(f"levels has {self.levels.size} commands, the basal ganglia "
                             f"have {bg.n_actions} actions")
        self.low, self.high = float(low), float(high)
        self.bg, self.cb = bg, cerebellum
        if cerebellum is not None:
            if not isinstance(cerebellum, AdaptiveController):
                raise ValueError("cerebellum must be an AdaptiveController or None")
            if cerebellum.cb.params.n_out != 1:
                raise ValueError("the cerebellum must have one output (a 1-D action)")
            if mossy is None or error_gain is None:
                raise ValueError("a cerebellum needs mossy (encoder) and error_gain")
            self.error_gain = np.asarray(error_gain, dtype=np.float64).reshape(-1)
            if not np.all(np.isfinite(self.error_gain)):
                raise ValueError("error_gain must be finite")
        self.mossy = mossy
        self.last_correction = 0.0
        self.last_error = 0.0

    def act(self, obs) -> np.ndarray:
        """The BG choose a level; the cerebellum adds its correction in this context."""
        u = float(self.levels[self.bg.act(obs) - self.bg._start])
        if self.cb is not None:
            self.last_correction = float(self.cb.correction(self.mossy(obs))[0])
            u += self.last_correction
        return np.array([min(max(u, self.low), self.high)], dtype=np.float32)

    def sensory_error(self, obs) -> float:
        """Climbing-fibre error of observation ``obs`` (``error_gain @ obs``)."""
        return float(self.error_gain @ np.asarray(obs, dtype=np.float64).reshape(-1))

    def observe(self, reward: float, next_obs, terminated: bool, truncated: bool = False
                ) -> float:
        """Dopamine for the BG, the climbing-fibre error for the cerebellum; returns δ."""
        if self.cb is not None:
            self.last_error = self.sensory_error(next_obs)
            self.cb.update(np.array([self.last_error]))
        return self.bg.observe(reward, next_obs, terminated, truncated)

    # -- checkpoints -------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        out = _parts_state(self)
        out["duet.scalars"] = np.array([self.last_correction, self.last_error])
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        _load_parts(self, state)
        v = _array(state, "duet.scalars")
        self.last_correction, self.last_error = (float(x) for x in v)


class PostureDuetAgent:
    r"""The duet on a multi-joint body (e.g. MuJoCo ``Hopper-v5``): the basal ganglia choose a
    target posture, a spinal PD loop turns it into torques, the cerebellum adds a per-joint
    feed-forward correction learned by feedback-error learning (Kawato 1987).

    At every step the basal ganglia pick one of ``K`` joint-target vectors
    :math:`q^*_a` (``postures``, shape ``(K, d)``); the spinal feedback command is
    :math:`u_{fb} = k_p (q^*_a - q) - k_d \dot q` (joint angles and rates read from the
    observation at ``joint_index`` / ``vel_index``) and the action is

    .. math:: u = \mathrm{clip}\big(u_{fb} + c(s, q^*_a)\big),

    where :math:`c` is the cerebellum's output (one Purkinje read-out per joint; mossy fibres
    = ``mossy(obs, target)``, a population code of the state and an efference copy of the
    chosen target). Its climbing-fibre error is the feedback command of the state that
    followed, :math:`e = k_p (q^*_a - q') - k_d \dot q'` (the part of the command the reflex
    loop still had to supply), credited to the parallel fibres active when the command was
    issued; learning stops when the joints track their targets without feedback. A heavier
    body or a weaker actuator increases the tracking error, hence the CF error, and the
    correction grows to absorb it — without waiting for a reward.

    ``hold`` steps per choice: the chosen posture is held for ``hold`` environment steps (a
    motor primitive); the BG see one transition per choice (the summed reward of its steps).

    ``smooth`` in (0, 1]: the spinal loop tracks a reference :math:`r` that moves toward the
    chosen target by this fraction per step (a first-order low-pass; a smooth movement to the
    posture, starting from the joint angles of the episode's first state) instead of the target
    itself, :math:`u_{fb} = k_p (r - q) - k_d \dot q`; the CF error uses the same reference.
    1: :math:`r` is the target.

    ``cerebellum=None`` is the basal ganglia + spinal loop alone (same harness). The BG learn
    from the environment's reward (dopamine × eligibility), the cerebellum from its CF error;
    no gradient flows anywhere.
    """

    def __init__(self, bg: BasalGangliaAgent, postures, joint_index, vel_index, kp, kd,
                 low, high, cerebellum: AdaptiveController | None = None,
                 mossy=None, hold: int = 1, smooth: float = 1.0) -> None:
        if not isinstance(bg, BasalGangliaAgent) or not bg.discrete:
            raise ValueError("bg must be a BasalGangliaAgent with a Discrete action space")
        self.postures = np.asarray(postures, dtype=np.float64)
        if self.postures.ndim != 2 or self.postures.shape[0] != bg.n_actions:
            raise ValueError(f"postures must have shape (n_actions={bg.n_actions}, d), got "
                             f"{self.postures.shape}")
        if not np.all(np.isfinite(self.postures)):
            raise ValueError("postures must be finite")
        d = self.postures.shape[1]
        self.joint_index = np.asarray(joint_index, dtype=np.int64).reshape(-1)
        self.vel_index = np.asarray(vel_index, dtype=np.int64).reshape(-1)
        if self.joint_index.size != d or self.vel_index.size != d:
            raise ValueError(f"joint_index and vel_index need {d} entries (one per joint)")
        self.kp = np.broadcast_to(np.asarray(kp, dtype=np.float64), (d,)).copy()
        self.kd = np.broadcast_to(np.asarray(kd, dtype=np.float64), (d,)).copy()
        if not (np.all(np.isfinite(self.kp)) and np.all(self.kp >= 0)
                and np.all(np.isfinite(self.kd)) and np.all(self.kd >= 0)):
            raise ValueError("kp and kd must be finite and >= 0")
        self.low = np.broadcast_to(np.asarray(low, dtype=np.float64), (d,)).copy()
        self.high = np.broadcast_to(np.asarray(high, dtype=np.float64), (d,)).copy()
        if not np.all(self.low < self.high):
            raise ValueError("need low < high for every joint")
        self.bg, self.cb, self.mossy = bg, cerebellum, mossy
        if cerebellum is not None:
            if not isinstance(cerebellum, AdaptiveController):
                raise ValueError("cerebellum must be an AdaptiveController or None")
            if cerebellum.cb.params.n_out != d:
                raise ValueError(f"the cerebellum must have one output per joint ({d})")
            if mossy is None:
                raise ValueError("a cerebellum needs mossy (obs, target) -> rates")
        if not isinstance(hold, int) or isinstance(hold, bool) or hold < 1:
            raise ValueError(f"hold must be an integer >= 1, got {hold!r}")
        self.hold = hold
        if not (isinstance(smooth, (int, float)) and 0.0 < smooth <= 1.0):
            raise ValueError(f"smooth must be in (0, 1], got {smooth!r}")
        self.smooth = float(smooth)
        self.phase = 0  # steps since the current choice
        self.reward_sum = 0.0
        self.target = self.postures[0].copy()
        self.reference = self.target.copy()
        self.last_correction = np.zeros(d)
        self.last_error = np.zeros(d)

    def feedback(self, obs, target=None) -> np.ndarray:
        """Spinal PD command toward ``target`` (the current one by default) in ``obs``."""
        o = np.asarray(obs, dtype=np.float64).reshape(-1)
        t = self.reference if target is None else target
        return self.kp * (t - o[self.joint_index]) - self.kd * o[self.vel_index]

    def act(self, obs) -> np.ndarray:
        start = self.bg.x is None
        if self.phase == 0:
            self.target = self.postures[self.bg.act(obs) - self.bg._start]
        if self.smooth == 1.0:
            self.reference = self.target
        else:
            if start:
                self.reference = np.asarray(obs, dtype=np.float64)[self.joint_index].copy()
            self.reference = self.reference + self.smooth * (self.target - self.reference)
        u = self.feedback(obs)
        if self.cb is not None:
            self.last_correction = np.asarray(self.cb.correction(self.mossy(obs, self.target)),
                                              dtype=np.float64).copy()
            u = u + self.last_correction
        return np.clip(u, self.low, self.high).astype(np.float32)

    def observe(self, reward: float, next_obs, terminated: bool, truncated: bool = False
                ) -> float:
        """Dopamine for the BG, the spinal feedback command as CF error; returns δ."""
        if self.cb is not None:
            self.last_error = self.feedback(next_obs)
            self.cb.update(self.last_error)
        if self.hold == 1:
            return self.bg.observe(reward, next_obs, terminated, truncated)
        self.reward_sum += float(reward)
        self.phase += 1
        if self.phase < self.hold and not (terminated or truncated):
            return 0.0
        r, self.reward_sum, self.phase = self.reward_sum, 0.0, 0
        return self.bg.observe(r, next_obs, terminated, truncated)

    # -- checkpoints -------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        out = _parts_state(self)
        out["duet.target"] = self.target.copy()
        out["duet.reference"] = np.array(self.reference, dtype=np.float64)
        out["duet.hold"] = np.array([self.phase, self.reward_sum])
        out["duet.vectors"] = np.stack([self.last_correction, self.last_error])
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        _load_parts(self, state)
        self.target = _array(state, "duet.target").reshape(-1)
        self.reference = _array(state, "duet.reference").reshape(-1)
        ph, rs = _array(state, "duet.hold").reshape(-1)
        self.phase, self.reward_sum = int(ph), float(rs)
        v = _array(state, "duet.vectors")
        self.last_correction, self.last_error = v[0].copy(), v[1].copy()


# -- checkpoints of both duets: the BG's and the cerebellum's states under "bg." / "cb." ----
def _parts_state(agent) -> dict[str, np.ndarray]:
    out = {f"bg.{k}": v for k, v in agent.bg.state_dict().items()}
    if agent.cb is not None:
        out.update({f"cb.{k}": v for k, v in agent.cb.cb.state_dict().items()})
    return out


def _load_parts(agent, state: dict[str, Any]) -> None:
    def sub(prefix):
        return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}

    agent.bg.load_state_dict(sub("bg."))
    if agent.cb is not None:
        agent.cb.cb.load_state_dict(sub("cb."))


def _array(state: dict[str, Any], key: str) -> np.ndarray:
    if key not in state:
        raise ValueError(f"state_dict has no {key!r}")
    v = state[key]
    return np.array(v.numpy() if hasattr(v, "numpy") else v, dtype=np.float64)
