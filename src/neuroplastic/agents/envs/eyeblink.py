"""Eyeblink conditioning: a tone (CS) predicts an air puff (US) ``isi_s`` seconds later.

Each episode is one trial in steps of ``dt_s``: the CS comes on at ``t = 0`` and stays on until
the US ends; the US (a puff lasting one step) arrives at ``t = isi_s``; the trial continues to
``t = isi_s + post_s``. The action is the eyelid closure in ``[0, 1]``; the reward is
``-puff * (1 - closure)`` (a closed eye protects). Observation: ``[cs, us]`` (0/1). A
conditioned response is a closure that rises *before* the US and peaks at it (McCormick &
Thompson 1984; the cerebellar interpositus is necessary).
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ..._validation import check_nonnegative, check_positive

__all__ = ["EyeblinkEnv"]


class EyeblinkEnv(gym.Env):
    metadata = {"render_modes": [], "render_fps": 100}

    def __init__(self, isi_s: float = 0.25, dt_s: float = 0.01, post_s: float = 0.2,
                 us_probability: float = 1.0) -> None:
        self.isi_s = check_positive("isi_s", isi_s)
        self.dt_s = check_positive("dt_s", dt_s)
        self.post_s = check_nonnegative("post_s", post_s)
        p = check_nonnegative("us_probability", us_probability)
        if p > 1:
            raise ValueError(f"us_probability must be in [0, 1], got {us_probability!r}")
        self.us_probability = p
        self.us_step = round(self.isi_s / self.dt_s)
        if self.us_step < 1 or abs(self.us_step * self.dt_s - self.isi_s) > 1e-9:
            raise ValueError(f"isi_s ({isi_s}) must be a whole number (>= 1) of dt_s ({dt_s})")
        self.trial_steps = self.us_step + max(1, math.ceil(self.post_s / self.dt_s - 1e-9))
        if self.trial_steps > 100_000:
            raise ValueError(f"isi_s / dt_s = {self.us_step} steps is too long (> 1e5)")
        self.observation_space = spaces.Box(0.0, 1.0, (2,), np.float64)
        self.action_space = spaces.Box(0.0, 1.0, (1,), np.float64)
        self._t = 0
        self._puff = True

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._t = 0
        self._puff = bool(self.np_random.random() < self.us_probability)
        return np.array([1.0, 0.0]), {"time_s": 0.0, "us": self._puff}

    def step(self, action):
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != (1,) or not np.all(np.isfinite(a)):
            raise ValueError(f"action must be one finite closure in [0, 1], got {action!r}")
        closure = float(np.clip(a[0], 0.0, 1.0))
        us = 1.0 if (self._t == self.us_step and self._puff) else 0.0
        reward = -us * (1.0 - closure)
        self._t += 1
        cs = 1.0 if self._t <= self.us_step else 0.0
        us_next = 1.0 if (self._t == self.us_step and self._puff) else 0.0
        terminated = self._t >= self.trial_steps
        return (np.array([cs, us_next]), reward, terminated, False,
                {"time_s": self._t * self.dt_s, "us": self._puff})
