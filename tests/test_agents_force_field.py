"""Force-field reaching: the plan's inverse dynamics reach the target open loop, and the
cerebellum shows adaptation, an after-effect of opposite sign, savings and a falling SPE."""

from __future__ import annotations

import numpy as np
import pytest

from neuroplastic.agents.envs import CurlFieldReachEnv
from neuroplastic.agents.envs.reaching import hand_state
from neuroplastic.experiments.configs.force_field import ForceFieldConfig
from neuroplastic.experiments.force_field import (
    inverse_kinematics,
    plan_reach,
    run,
    trials_to_criterion,
)


def test_inverse_kinematics_round_trip():
    rng = np.random.default_rng(0)
    for _ in range(20):
        p = np.array([rng.uniform(-0.2, 0.2), rng.uniform(0.25, 0.55)])
        x, _ = hand_state(inverse_kinematics(p), np.zeros(2))
        np.testing.assert_allclose(x, p, atol=1e-12)


def test_planned_inverse_dynamics_reach_the_target_open_loop_without_field():
    env = CurlFieldReachEnv(dt_s=0.02, reach_s=0.7, substeps=4)
    for k in (0, 3, 6):
        plan = plan_reach(env, k, 0.5)
        env.reset(options={"target": k, "field_strength": 0.0})
        for i in range(env.steps):
            obs, *_ = env.step(plan["tau"][i])
        assert np.linalg.norm(obs[4:6] - plan["target"]) < 0.01  # < 1 cm of 10 cm, no feedback


def test_trials_to_criterion():
    assert trials_to_criterion([10, 10, 1, 1, 1, 1], 2.0, window=2) == 4
    assert trials_to_criterion([10] * 5, 2.0, window=2) == 6


def test_adaptation_after_effect_savings_and_falling_spe():
    """Measured at defaults (seeds 0-3): after-effect of opposite sign in all, savings ratio
    1.1-2.1, lateral error 16-20 mm -> 6-8 mm, SPE 0.8 -> 0.25 m/s^2."""
    cfg = ForceFieldConfig(baseline_trials=8, field_trials=64, washout_trials=16, n_granule=400,
                           seed=1)
    m = run(cfg, progress=False).metrics
    assert m["after_effect_sign_ok"] is True
    assert m["baseline_lateral_mm"] < 2 and m["initial_lateral_mm"] > 10
    assert m["final_lateral_mm"] < 0.6 * m["initial_lateral_mm"]
    assert m["savings_ratio"] > 1
    assert m["spe_last"] < 0.5 * m["spe_first"] and m["spe_field_onset"] > m["spe_last"]


@pytest.mark.parametrize("kw, name", [
    ({"eta_fast": 0.1, "eta_slow": 0.2}, "eta_slow"), ({"retain_fast": 0.0}, "retain_fast"),
    ({"eta_fast": 2.0}, "eta_fast"), ({"field_trials": 1}, "field_trials"),
    ({"movement_s": 0.05}, "movement_s"), ({"cf_lag_steps": -1}, "cf_lag_steps"),
])
def test_bad_config_raises_naming_the_field(kw, name):
    with pytest.raises(ValueError, match=name):
        ForceFieldConfig(**kw)
