"""Operant chamber: press a lever, the pellet arrives ``delay_s`` seconds later.

A discrete-trial free-operant procedure in steps of ``dt_s`` seconds. Each episode is one
trial of fixed length (so that its duration tells nothing about the choice):

* at reset the house light comes on (observation channel ``light``) and the lever and
  ``n_distractors`` other manipulanda (a nose-poke hole, a chain, ...) are available for the
  first ``response_window_s`` seconds;
* action ``0`` is *idle*, ``1`` presses the lever, ``2 .. 1 + n_distractors`` operate a
  distractor. The first non-idle action in the window is the animal's choice and closes the
  window (the lever retracts); its click is observed at the next step (channel ``lever`` or
  ``distractor_k``). Actions outside the window have no consequence;
* a lever press delivers a food pellet (reward 1, channel ``pellet``) exactly ``delay_s``
  seconds after the click; nothing else is ever rewarded;
* the trial ends ``post_s`` seconds after the latest possible pellet time (``truncated``:
  the chamber is a continuing task cut into trials, not a terminal state).

Observations are the stimulus *onsets* of this step (0/1 per channel): a temporal state code
(:class:`neuroplastic.agents.encoders.MicrostimulusCode`) turns them into a representation of
the time since each event — the environment itself carries no memory of the choice.
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ..._validation import check_int, check_nonnegative, check_positive

__all__ = ["OperantChamberEnv"]


class OperantChamberEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(self, delay_s: float = 3.0, dt_s: float = 0.5, n_distractors: int = 2,
                 response_window_s: float | None = None, post_s: float = 1.0,
                 render_mode: str | None = None) -> None:
        self.delay_s = check_nonnegative("delay_s", delay_s)
        self.dt_s = check_positive("dt_s", dt_s)
        self.n_distractors = check_int("n_distractors", n_distractors, 0, 64)
        window = dt_s if response_window_s is None else response_window_s
        self.response_window_s = check_positive("response_window_s", window)
        self.post_s = check_nonnegative("post_s", post_s)
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.render_mode = render_mode
        self.delay_steps = round(self.delay_s / self.dt_s)
        if abs(self.delay_steps * self.dt_s - self.delay_s) > 1e-9 * max(1.0, self.delay_s):
            raise ValueError(f"delay_s ({delay_s}) must be a whole number of dt_s ({dt_s}) steps")
        self.window_steps = max(1, math.ceil(self.response_window_s / self.dt_s - 1e-9))
        if self.window_steps + self.delay_steps > 100_000:
            raise ValueError(f"delay_s / dt_s = {self.delay_steps} steps is too long (> 1e5)")
        # a click observed at step k + 1 (choice at step k <= window - 1) -> pellet at k+1+delay
        self.trial_steps = self.window_steps + self.delay_steps + max(
            1, math.ceil(self.post_s / self.dt_s - 1e-9))
        self.channels = (["light", "lever"] + [f"distractor_{k}" for k in
                                               range(1, self.n_distractors + 1)] + ["pellet"])
        self.observation_space = spaces.Box(0.0, 1.0, (len(self.channels),), np.float64)
        self.action_space = spaces.Discrete(2 + self.n_distractors)
        self._t = 0
        self._choice: int | None = None
        self._pellet_step = -1

    def _obs(self, events: dict[str, float]) -> np.ndarray:
        o = np.zeros(len(self.channels))
        for k, v in events.items():
            o[self.channels.index(k)] = v
        return o

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._t = 0
        self._choice = None
        self._pellet_step = -1
        return self._obs({"light": 1.0}), {"time_s": 0.0}

    def step(self, action):
        a = int(action)
        if not self.action_space.contains(a):
            raise ValueError(f"action must be in 0..{self.action_space.n - 1}, got {action!r}")
        events: dict[str, float] = {}
        if self._choice is None and self._t < self.window_steps and a != 0:
            self._choice = a
            events["lever" if a == 1 else f"distractor_{a - 1}"] = 1.0
            if a == 1:
                self._pellet_step = self._t + 1 + self.delay_steps
        self._t += 1
        reward = 0.0
        if self._t == self._pellet_step:
            events["pellet"] = 1.0
            reward = 1.0
        obs = self._obs(events)
        # the chamber is a continuing task cut into trials: the end of a trial is a time limit
        # (truncated), not a terminal state, so a learner bootstraps across it
        truncated = self._t >= self.trial_steps
        info = {"time_s": self._t * self.dt_s, "choice": self._choice}
        return obs, reward, False, truncated, info

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        img = np.full((40, 40 * len(self.channels), 3), 30, np.uint8)
        lever_out = self._choice is None and self._t < self.window_steps
        img[10:30, 40:80] = (200, 200, 60) if lever_out else (80, 80, 80)
        if self._pellet_step >= 0 and self._t >= self._pellet_step:
            img[10:30, -40:] = (160, 100, 40)
        return img
