"""Reinforcement schedules in a free-operant chamber (Ferster & Skinner 1957).

:class:`ScheduleChamberEnv` is a Gymnasium environment: every step (``dt_s``) the animal idles
or presses the lever; a pellet follows a press when the schedule says so —

* ``FR n`` — every ``n``-th press;
* ``VR n`` — each press with probability ``1/n`` (a random-ratio schedule, mean ``n``);
* ``FI t`` — the first press at least ``t`` seconds after the last pellet;
* ``EXT`` — never (extinction).

Each press costs ``press_cost`` (effort). Observations are the onsets of this step (lever click,
pellet), as in :class:`neuroplastic.agents.envs.OperantChamberEnv`: a temporal state code such
as :class:`neuroplastic.agents.MicrostimulusCode` turns them into time since each event, which
is what lets a learner time its presses on FI (the "scallop"). A session is truncated after
``session_s``.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from .._validation import check_choice, check_nonnegative, check_positive

__all__ = ["SCHEDULES", "ScheduleChamberEnv", "train_schedule"]

SCHEDULES = ("FR", "VR", "FI", "EXT")


class ScheduleChamberEnv(gym.Env):
    metadata = {"render_modes": []}

    def __init__(self, schedule: str = "FR", value: float = 5.0, dt_s: float = 1.0,
                 session_s: float = 300.0, press_cost: float = 0.02) -> None:
        self.schedule = check_choice("schedule", schedule, SCHEDULES)
        self.value = check_positive("value", value) if schedule != "EXT" else 0.0
        if schedule in ("FR", "VR") and (self.value < 1 or self.value != int(self.value)):
            raise ValueError(f"value of {schedule} must be a whole number >= 1, got {value!r}")
        self.dt_s = check_positive("dt_s", dt_s)
        self.session_steps = max(1, round(check_positive("session_s", session_s) / dt_s))
        self.press_cost = check_nonnegative("press_cost", press_cost)
        self.channels = ("press", "pellet")
        self.observation_space = spaces.Box(0.0, 1.0, (2,), np.float64)
        self.action_space = spaces.Discrete(2)
        self._t = 0
        self._count = 0
        self._since = 0.0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._t = 0
        self._count = 0
        self._since = 0.0
        return np.zeros(2), {"time_s": 0.0}

    def _reinforced(self) -> bool:
        if self.schedule == "FR":
            return self._count >= self.value
        if self.schedule == "VR":
            return bool(self.np_random.random() < 1.0 / self.value)
        if self.schedule == "FI":
            return self._since >= self.value - 1e-9
        return False

    def step(self, action):
        a = int(action)
        if not self.action_space.contains(a):
            raise ValueError(f"action must be 0 (idle) or 1 (press), got {action!r}")
        self._t += 1
        self._since += self.dt_s
        obs = np.zeros(2)
        reward = 0.0
        pellet = False
        if a == 1:
            obs[0] = 1.0
            reward -= self.press_cost
            self._count += 1
            if self._reinforced():
                pellet = True
                obs[1] = 1.0
                reward += 1.0
                self._count = 0
                self._since = 0.0
        truncated = self._t >= self.session_steps
        return obs, reward, False, truncated, {"time_s": self._t * self.dt_s, "pellet": pellet,
                                               "press": a == 1}


def train_schedule(schedule: str, value: float, sessions: int, agent_params, *,
                   session_s: float = 200.0, press_cost: float = 0.1, n_micro: int = 10,
                   code_tau_s: float = 8.0, seed: int = 0, agent=None
                   ) -> tuple[object, dict[str, np.ndarray]]:
    """Train (or continue training) a :class:`neuroplastic.agents.BasalGangliaAgent` with a
    microstimulus code of the click and pellet onsets on one schedule. Returns the agent and
    ``press_rate`` per session, and for the last session ``presses`` (0/1 per step) and
    ``since_pellet_s`` (time since the last pellet at each step)."""
    from ..agents import BasalGangliaAgent, MicrostimulusCode

    env = ScheduleChamberEnv(schedule, value if schedule != "EXT" else 1.0,
                             dt_s=agent_params.dt_s, session_s=session_s, press_cost=press_cost)
    if agent is None:
        enc = MicrostimulusCode(2, n_micro=n_micro, tau_s=code_tau_s, dt_s=agent_params.dt_s,
                                bias=True)
        agent = BasalGangliaAgent(env.observation_space, env.action_space, enc, agent_params)
    rates = np.zeros(sessions)
    presses: list[int] = []
    since: list[float] = []
    for s in range(sessions):
        obs, _ = env.reset(seed=seed * 100_003 + s)
        last = s == sessions - 1
        t_since, n = 0.0, 0
        while True:
            a = agent.act(obs)
            obs, r, term, trunc, info = env.step(a)
            agent.observe(r, obs, term, trunc)
            n += int(a)
            if last:
                presses.append(int(a))
                since.append(t_since)
            t_since = 0.0 if info["pellet"] else t_since + env.dt_s
            if term or trunc:
                break
        rates[s] = n / env.session_steps
    return agent, {"press_rate": rates, "presses": np.array(presses),
                   "since_pellet_s": np.array(since)}
