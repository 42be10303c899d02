"""Two-joint planar reaching arm in a velocity-dependent curl force field.

The arm of Shadmehr & Mussa-Ivaldi (1994): shoulder and elbow joints moving in the horizontal
plane, rigid-body dynamics

.. math:: M(q)\\ddot q + C(q,\\dot q)\\dot q + B_j\\dot q = \\tau + J(q)^\\top F,
   \\qquad F = b\\begin{pmatrix}0 & 1\\\\ -1 & 0\\end{pmatrix}\\dot x,

with a curl field of strength ``field_strength`` ``b`` (N·s/m; 13 in many later studies,
positive = clockwise push perpendicular to the hand velocity), ``M`` the inertia matrix, ``C``
the Coriolis / centripetal terms, ``B_j`` joint viscosity and ``J`` the hand Jacobian. Segment
parameters are the ones of Shadmehr's textbook arm. Integration: semi-implicit Euler with
``substeps`` per control step ``dt_s``.

Each episode is one reach of ``reach_s`` seconds from a fixed start (shoulder at the origin,
elbow at 90 degrees) to a target ``distance_m`` away in one of ``n_targets``
directions (drawn from ``np_random``, or ``options={"target": k}``); the field can be switched
per trial with ``options={"field_strength": b}``. Action: joint torques (N·m) in
``[-max_torque, max_torque]``. Observation: ``q1, q2, dq1, dq2, x, y, dx, dy, tx, ty``.
Reward: ``-|hand - target| * dt``.
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ..._validation import check_finite, check_int, check_positive

__all__ = ["ARM", "CurlFieldReachEnv", "arm_dynamics", "hand_jacobian", "hand_state"]

# Shadmehr & Wise (2005) arm: lengths, masses, centre-of-mass distances (m, kg), inertias
ARM = {"l1": 0.33, "l2": 0.34, "m1": 1.93, "m2": 1.52, "lc1": 0.165, "lc2": 0.19,
       "I1": 0.0141, "I2": 0.0188}
JOINT_VISCOSITY = np.array([[0.05, 0.025], [0.025, 0.05]])
# inertia-matrix constants: M = [[A1 + 2 A2 cos q2, A3 + A2 cos q2], [A3 + A2 cos q2, A3]]
_A1 = (ARM["I1"] + ARM["I2"] + ARM["m1"] * ARM["lc1"] ** 2
       + ARM["m2"] * (ARM["l1"] ** 2 + ARM["lc2"] ** 2))
_A2 = ARM["m2"] * ARM["l1"] * ARM["lc2"]
_A3 = ARM["I2"] + ARM["m2"] * ARM["lc2"] ** 2


def hand_state(q: np.ndarray, dq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hand position and velocity (m, m/s) of joint angles ``q`` and velocities ``dq``."""
    J = hand_jacobian(q)
    l1, l2 = ARM["l1"], ARM["l2"]
    x = np.array([l1 * math.cos(q[0]) + l2 * math.cos(q[0] + q[1]),
                  l1 * math.sin(q[0]) + l2 * math.sin(q[0] + q[1])])
    return x, J @ dq


def hand_jacobian(q: np.ndarray) -> np.ndarray:
    l1, l2 = ARM["l1"], ARM["l2"]
    s1, c1 = math.sin(q[0]), math.cos(q[0])
    s12, c12 = math.sin(q[0] + q[1]), math.cos(q[0] + q[1])
    return np.array([[-l1 * s1 - l2 * s12, -l2 * s12], [l1 * c1 + l2 * c12, l2 * c12]])


def arm_dynamics(q: np.ndarray, dq: np.ndarray, torque: np.ndarray,
                 field_strength: float) -> np.ndarray:
    """Joint accelerations of the arm under ``torque`` and the curl field."""
    l1, l2 = ARM["l1"], ARM["l2"]
    q1, q2, w1, w2 = float(q[0]), float(q[1]), float(dq[0]), float(dq[1])
    c2, s2 = math.cos(q2), math.sin(q2)
    m11, m12, m22 = _A1 + 2 * _A2 * c2, _A3 + _A2 * c2, _A3
    cor1, cor2 = -_A2 * s2 * (2 * w1 * w2 + w2 * w2), _A2 * s2 * w1 * w1
    s1, c1 = math.sin(q1), math.cos(q1)
    s12, c12 = math.sin(q1 + q2), math.cos(q1 + q2)
    j11, j12 = -l1 * s1 - l2 * s12, -l2 * s12
    j21, j22 = l1 * c1 + l2 * c12, l2 * c12
    vx, vy = j11 * w1 + j12 * w2, j21 * w1 + j22 * w2
    fx, fy = field_strength * vy, -field_strength * vx
    (b11, b12), (b21, b22) = JOINT_VISCOSITY
    r1 = float(torque[0]) + j11 * fx + j21 * fy - cor1 - b11 * w1 - b12 * w2
    r2 = float(torque[1]) + j12 * fx + j22 * fy - cor2 - b21 * w1 - b22 * w2
    det = m11 * m22 - m12 * m12
    return np.array([(m22 * r1 - m12 * r2) / det, (m11 * r2 - m12 * r1) / det])


class CurlFieldReachEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(self, field_strength: float = 0.0, dt_s: float = 0.01, reach_s: float = 0.6,
                 distance_m: float = 0.1, n_targets: int = 8, max_torque: float = 20.0,
                 substeps: int = 5, render_mode: str | None = None) -> None:
        self.field_strength = check_finite("field_strength", field_strength)
        self.dt_s = check_positive("dt_s", dt_s)
        self.reach_s = check_positive("reach_s", reach_s)
        self.distance_m = check_positive("distance_m", distance_m)
        if self.distance_m > 0.2:
            raise ValueError(f"distance_m must be <= 0.2 (the arm's workspace), got {distance_m}")
        self.n_targets = check_int("n_targets", n_targets, 1, 360)
        self.max_torque = check_positive("max_torque", max_torque)
        self.substeps = check_int("substeps", substeps, 1, 1000)
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.render_mode = render_mode
        self.steps = max(1, round(self.reach_s / self.dt_s))
        self.q0 = np.array([math.pi / 4, math.pi / 2])  # hand ~ 0.33 m in front of the chest
        self.start, _ = hand_state(self.q0, np.zeros(2))
        self.observation_space = spaces.Box(-np.inf, np.inf, (10,), np.float64)
        self.action_space = spaces.Box(-self.max_torque, self.max_torque, (2,), np.float64)
        self.q = self.q0.copy()
        self.dq = np.zeros(2)
        self.target = self.start.copy()
        self._t = 0

    def target_position(self, k: int) -> np.ndarray:
        ang = 2 * math.pi * k / self.n_targets
        return self.start + self.distance_m * np.array([math.cos(ang), math.sin(ang)])

    def _obs(self) -> np.ndarray:
        x, v = hand_state(self.q, self.dq)
        return np.concatenate([self.q, self.dq, x, v, self.target])

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        options = options or {}
        if "field_strength" in options:
            self.field_strength = check_finite("field_strength", options["field_strength"])
        k = options.get("target")
        k = int(self.np_random.integers(self.n_targets)) if k is None else check_int(
            "target", k, 0, self.n_targets - 1)
        self.q, self.dq, self._t = self.q0.copy(), np.zeros(2), 0
        self.target = self.target_position(k)
        return self._obs(), {"target": k}

    def step(self, action):
        tau = np.asarray(action, dtype=np.float64).reshape(-1)
        if tau.shape != (2,) or not np.all(np.isfinite(tau)):
            raise ValueError(f"action must be 2 finite joint torques, got {action!r}")
        tau = np.clip(tau, -self.max_torque, self.max_torque)
        h = self.dt_s / self.substeps
        for _ in range(self.substeps):
            ddq = arm_dynamics(self.q, self.dq, tau, self.field_strength)
            self.dq = self.dq + h * ddq
            self.q = self.q + h * self.dq
        self._t += 1
        x, v = hand_state(self.q, self.dq)
        err = float(np.linalg.norm(x - self.target))
        ok = bool(np.all(np.isfinite(self.q)))
        terminated = self._t >= self.steps or not ok
        return self._obs(), -err * self.dt_s, terminated, False, {"hand": x, "velocity": v}

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        img = np.full((200, 200, 3), 255, np.uint8)
        l1 = ARM["l1"]
        elbow = np.array([l1 * math.cos(self.q[0]), l1 * math.sin(self.q[0])])
        hand, _ = hand_state(self.q, self.dq)

        def px(p):
            return int(100 + p[0] * 250), int(190 - p[1] * 250)

        for a, b in ((np.zeros(2), elbow), (elbow, hand)):
            for s in np.linspace(0, 1, 60):
                c, r = px(a + s * (b - a))
                if 0 <= r < 200 and 0 <= c < 200:
                    img[max(r - 1, 0):r + 2, max(c - 1, 0):c + 2] = (40, 40, 160)
        c, r = px(self.target)
        if 0 <= r < 200 and 0 <= c < 200:
            img[max(r - 3, 0):r + 4, max(c - 3, 0):c + 4] = (200, 40, 40)
        return img
