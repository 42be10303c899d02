"""The basal-ganglia agent is not tied to CartPole: the same class, unchanged, learns
Gymnasium's Acrobot-v1 (6-d observation, 3 actions, reward -1 per step until the tip swings
above the bar, 500-step cap) from a place-cell code, and the dopamine ablation abolishes it.

Reference points: a random policy almost never reaches the goal within the cap (mean return
about -500; measured -499 over these resets); a solved Acrobot is around -100. Measured with
these settings (seed 0): mean return over episodes 0-24 -359, over 50-74 -138; with the
dopamine signal zeroed, -500 throughout.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")

from neuroplastic.agents import ActorCriticParams, BasalGangliaAgent, PlaceCells  # noqa: E402

LOW = [-1, -1, -1, -1, -4 * math.pi, -9 * math.pi]
HIGH = [1, 1, 1, 1, 4 * math.pi, 9 * math.pi]


def _train(episodes: int, dopamine: str) -> list[float]:
    env = gym.make("Acrobot-v1")
    enc = PlaceCells(LOW, HIGH, bins=4, n_tilings=8)
    p = ActorCriticParams(gamma=0.99, dt_s=0.2, eta_critic=0.02, eta_actor=0.02,
                          tau_e_critic_s=1.0, tau_e_actor_s=1.0, dopamine=dopamine, seed=0)
    agent = BasalGangliaAgent(env.observation_space, env.action_space, enc, p)
    out = []
    for ep in range(episodes):
        obs, _ = env.reset(seed=ep)
        ret = 0.0
        while True:
            obs, r, term, trunc, _ = env.step(agent.act(obs))
            agent.observe(r, obs, term, trunc)
            ret += r
            if term or trunc:
                break
        out.append(ret)
    env.close()
    return out


def test_acrobot_is_learned_and_dopamine_ablation_abolishes_it():
    intact = _train(75, "intact")
    late = float(np.mean(intact[50:]))
    assert late > -200, f"late mean return {late} (random policy: about -500)"
    assert late > float(np.mean(intact[:25])) + 100
    zero = _train(15, "zero")
    assert float(np.mean(zero)) < -450, zero
