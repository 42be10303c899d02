"""Environments of the agents: Gymnasium API, registration, the physics and the trial logic."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import neuroplastic.agents  # noqa: F401  (registers the environments)
from neuroplastic.agents.envs import CurlFieldReachEnv, EyeblinkEnv, OperantChamberEnv
from neuroplastic.agents.envs.reaching import arm_dynamics, hand_jacobian, hand_state


@pytest.mark.parametrize("env_id", ["neuroplastic/OperantChamber-v0", "neuroplastic/Eyeblink-v0",
                                    "neuroplastic/CurlFieldReach-v0"])
def test_registered_and_pass_gymnasiums_checker(env_id):
    env = gym.make(env_id)
    check_env(env.unwrapped, skip_render_check=True)
    env.close()


@pytest.mark.parametrize("delay_s", [0.0, 1.0, 3.0, 30.0])
def test_operant_pellet_exactly_delay_after_the_click(delay_s):
    env = OperantChamberEnv(delay_s=delay_s, dt_s=0.5, n_distractors=2)
    obs, _ = env.reset(seed=0)
    assert obs[env.channels.index("light")] == 1
    obs, r, term, trunc, info = env.step(1)  # press
    click_t = info["time_s"]
    assert obs[env.channels.index("lever")] == 1
    pellets = [(info["time_s"], r)] if r else []
    while not (term or trunc):
        obs, r, term, trunc, info = env.step(1)  # pressing again does nothing
        if r:
            pellets.append((info["time_s"], r))
            assert obs[env.channels.index("pellet")] == 1
    assert len(pellets) == 1 and pellets[0][1] == 1.0
    assert math.isclose(pellets[0][0] - click_t, delay_s)
    assert trunc and not term  # a continuing task cut into trials


def test_operant_distractors_and_idle_never_rewarded():
    env = OperantChamberEnv(delay_s=2.0, dt_s=0.5, n_distractors=3)
    for first in (0, 2, 3, 4):
        env.reset(seed=0)
        total, steps = 0.0, 0
        obs, r, term, trunc, _ = env.step(first)
        total += r
        if first >= 2:
            assert obs[env.channels.index(f"distractor_{first - 1}")] == 1
        while not (term or trunc):
            obs, r, term, trunc, _ = env.step(1 if first == 0 else 0)  # lever too late
            total += r
            steps += 1
        assert total == 0.0
        assert steps + 1 == env.trial_steps  # fixed length whatever the choice


def test_bad_environment_parameters_name_the_parameter():
    with pytest.raises(ValueError, match="delay_s"):
        OperantChamberEnv(delay_s=-1.0)
    with pytest.raises(ValueError, match="delay_s"):
        OperantChamberEnv(delay_s=1.25, dt_s=0.5)
    with pytest.raises(ValueError, match="isi_s"):
        EyeblinkEnv(isi_s=-0.1)
    with pytest.raises(ValueError, match="n_targets"):
        CurlFieldReachEnv(n_targets=0)


def test_eyeblink_puff_at_the_isi_and_closure_protects():
    env = EyeblinkEnv(isi_s=0.3, dt_s=0.01)
    obs, _ = env.reset(seed=0)
    rewards, us_seen = [], []
    for _ in range(env.trial_steps):
        obs, r, term, trunc, _ = env.step([0.0])
        rewards.append(r)
        us_seen.append(obs[1])
    assert term
    assert np.nonzero(rewards)[0].tolist() == [30] and rewards[30] == -1.0
    assert np.nonzero(us_seen)[0].tolist() == [29]  # observed as the next state
    env.reset(seed=0)
    got = [env.step([1.0])[1] for _ in range(env.trial_steps)]
    assert all(r == 0.0 for r in got)


def test_arm_energy_balance_without_field_and_curl_does_no_work():
    """Unforced arm: the kinetic energy only falls (joint viscosity); a curl field is
    perpendicular to the hand velocity, so it does no work: F . v = 0."""
    rng = np.random.default_rng(0)
    for _ in range(20):
        q = rng.uniform([0.2, 0.5], [1.2, 2.0])
        dq = rng.normal(0, 1.0, 2)
        J = hand_jacobian(q)
        v = J @ dq
        F = 13.0 * np.array([[0.0, 1.0], [-1.0, 0.0]]) @ v
        assert abs(F @ v) < 1e-12
        # finite-difference Jacobian
        eps = 1e-6
        for j in range(2):
            dqj = np.zeros(2)
            dqj[j] = eps
            num = (hand_state(q + dqj, dq)[0] - hand_state(q - dqj, dq)[0]) / (2 * eps)
            np.testing.assert_allclose(num, J[:, j], atol=1e-8)
        # energy: d/dt (1/2 dq' M dq) = -dq' B dq <= 0 with zero torque, any field
        for b in (0.0, 13.0):
            ddq = arm_dynamics(q, dq, np.zeros(2), b)
            h = 1e-6

            def kin(qq, dd):
                from neuroplastic.agents.envs.reaching import ARM

                a1 = (ARM["I1"] + ARM["I2"] + ARM["m1"] * ARM["lc1"] ** 2
                      + ARM["m2"] * (ARM["l1"] ** 2 + ARM["lc2"] ** 2))
                a2 = ARM["m2"] * ARM["l1"] * ARM["lc2"]
                a3 = ARM["I2"] + ARM["m2"] * ARM["lc2"] ** 2
                c2 = math.cos(qq[1])
                M = np.array([[a1 + 2 * a2 * c2, a3 + a2 * c2], [a3 + a2 * c2, a3]])
                return 0.5 * dd @ M @ dd

            power = (kin(q + h * dq, dq + h * ddq) - kin(q - h * dq, dq - h * ddq)) / (2 * h)
            from neuroplastic.agents.envs.reaching import JOINT_VISCOSITY

            assert power == pytest.approx(-dq @ JOINT_VISCOSITY @ dq, rel=1e-6, abs=1e-9)


def test_curl_field_pushes_the_hand_sideways():
    """The same torques in a clockwise curl field deflect the hand to the right of its path."""
    ends = {}
    for b in (0.0, 13.0):
        env = CurlFieldReachEnv(field_strength=b)
        env.reset(seed=0, options={"target": 2})  # straight ahead (+y)
        for _ in range(15):
            *_, info = env.step([0.0, 0.0])[:4], env.step([3.0, -1.0])[4]
        ends[b] = info["hand"]
    moved = ends[0.0] - env.start
    side = ends[13.0] - ends[0.0]
    # clockwise curl: F = b [v_y, -v_x] -> to the right of the movement direction
    right = np.array([moved[1], -moved[0]]) / np.linalg.norm(moved)
    assert side @ right > 0.005
