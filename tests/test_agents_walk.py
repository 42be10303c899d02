"""The duet (basal ganglia + cerebellum) on MuJoCo InvertedPendulum-v5: ``walk``."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroplastic.experiments.configs.walk import WalkConfig

gym = pytest.importorskip("gymnasium")
HAS_MUJOCO = importlib.util.find_spec("mujoco") is not None
needs_mujoco = pytest.mark.skipif(not HAS_MUJOCO,
                                  reason="MuJoCo absent (pip install 'gymnasium[mujoco]')")

# reduced setting: 40 episodes of <= 100 steps, at episode 25 the actuator gear x0.25 and the
# pole mass x4, seed 0
SMALL = dict(episodes=40, seeds=1, max_steps=100, change_episode=25, criterion=80.0, window=5,
             gear_scale=0.25, mass_scale=4.0, random_episodes=2, seed=0)


@pytest.fixture(scope="module")
def small_run():
    from neuroplastic.experiments.walk import run

    return run(WalkConfig(**SMALL), progress=False)


@needs_mujoco
def test_duet_reaches_criterion_sooner_and_recovers_faster_than_bg_alone(small_run):
    m = small_run.metrics
    # measured (seed 0): duet 19 episodes; BG alone does not get there before the change
    # (counted as change_episode + 1 = 26)
    assert m["duet_seeds_reaching_criterion"] == 1
    assert m["duet_episodes_to_criterion"] < m["bg_alone_episodes_to_criterion"]
    # after the body change the duet keeps (or regains at once) the criterion: measured 1
    # episode; BG alone: not within the 15 post-change episodes (counted 16) — but here it had
    # not learned before the change either (walk's docstring has a run where it had)
    assert m["duet_seeds_recovering"] == 1
    assert m["duet_recovery_episodes"] <= 2
    assert m["duet_recovery_episodes"] < m["bg_alone_recovery_episodes"]
    # both learn something: far above a random policy (~4 steps)
    assert m["random_mean_return"] < 10
    assert m["bg_alone_mean_return_after_change"] > 2 * m["random_mean_return"]
    r = small_run.curves["return_duet_seed0"]
    assert len(r) == SMALL["episodes"] and max(r) <= SMALL["max_steps"]


@needs_mujoco
def test_learned_correction_pushes_the_cart_under_the_falling_pole(small_run):
    """The climbing-fibre error is the tilt; the learned correction must oppose the fall:
    positive tilt -> positive push (InvertedPendulum-v5's sign), more for a larger tilt."""
    from neuroplastic.experiments.walk import make_agent

    agent = make_agent(WalkConfig(**SMALL), SMALL["seed"], True)
    agent.cb.cb.w_fast = small_run.arrays["w_pf_duet_seed0"].numpy().astype(np.float64)
    c = [float(agent.cb.correction(agent.mossy(np.array([0.0, a, 0.0, 0.0])))[0])
         for a in (-0.1, -0.05, 0.05, 0.1)]
    assert c[0] < c[1] < 0 < c[2] < c[3]


@needs_mujoco
def test_a_silent_cerebellum_is_the_basal_ganglia_alone():
    """cb_eta = 0: the cerebellum's output stays 0, so the duet's returns equal BG alone's
    exactly (same seeds, same episode starts)."""
    from neuroplastic.experiments.walk import run

    cfg = WalkConfig(**{**SMALL, "episodes": 12, "change_episode": 6, "max_steps": 60,
                        "criterion": 40.0, "cb_eta": 0.0})
    c = run(cfg, progress=False).curves
    assert c["return_duet_seed0"] == c["return_bg_alone_seed0"]


def _drive(agent, obs, lo, hi):
    """The agent's actions for steps ``lo .. hi`` of the observation sequence ``obs`` (reward 1
    each step, never done)."""
    out = []
    for t in range(lo, hi):
        out.append(agent.act(obs[t]).copy())
        agent.observe(1.0, obs[t + 1] if t + 1 < len(obs) else obs[t], False)
    return np.array(out)


def test_duet_checkpoint_mid_episode_continues_bit_for_bit():
    from neuroplastic.experiments.walk import make_agent

    cfg = WalkConfig(**{**SMALL, "n_granule": 50})
    rng = np.random.default_rng(3)
    obs = rng.uniform(-0.1, 0.1, size=(60, 4))

    a = make_agent(cfg, 0, True)
    _drive(a, obs, 0, 20)
    state = {k: v.copy() for k, v in a.state_dict().items()}
    ref = _drive(a, obs, 20, 59)
    b = make_agent(cfg, 0, True)
    b.load_state_dict(state)
    np.testing.assert_array_equal(_drive(b, obs, 20, 59), ref)
    assert not np.all(ref == ref[0])  # the run is not trivially constant


@pytest.mark.parametrize("bad, field", [
    ({"criterion": 400.0, "max_steps": 300}, "criterion"),
    ({"window": 50, "episodes": 20}, "window"),
    ({"gear_scale": 0.0}, "gear_scale"),
    ({"force": 5.0}, "force"),
    ({"cb_eta": 2.0}, "cb_eta"),
    ({"n_levels": 1}, "n_levels"),
])
def test_bad_config_is_refused_naming_the_field(bad, field):
    with pytest.raises(ValueError, match=field):
        WalkConfig(**bad)


@settings(max_examples=30, deadline=None)
@given(max_steps=st.integers(2, 1000), excess=st.floats(1e-6, 500))
def test_a_criterion_above_the_episode_cap_is_always_refused(max_steps, excess):
    c = min(float(max_steps) + excess, 1000.0)
    if c <= max_steps:
        WalkConfig(max_steps=max_steps, criterion=c)
        return
    with pytest.raises(ValueError, match="criterion"):
        WalkConfig(max_steps=max_steps, criterion=c)


def test_missing_mujoco_fails_with_one_line_naming_the_extra(monkeypatch):
    from neuroplastic.experiments import walk

    real = importlib.util.find_spec
    monkeypatch.setattr(walk.importlib.util, "find_spec",
                        lambda name, *a: None if name == "mujoco" else real(name, *a))
    with pytest.raises(ValueError, match=r"gymnasium\[mujoco\]") as e:
        walk.run(WalkConfig(**SMALL), progress=False)
    assert isinstance(e.value, walk.MujocoMissingError) and "\n" not in str(e.value)


def test_duet_agent_refuses_mismatched_parts():
    from neuroplastic.agents import BasalGangliaAgent, PopulationCode
    from neuroplastic.agents.duet import DuetAgent, coarse_levels

    box = gym.spaces.Box(-1.0, 1.0, (2,))
    bg = BasalGangliaAgent(box, gym.spaces.Discrete(3), PopulationCode([-1, -1], [1, 1]))
    with pytest.raises(ValueError, match="levels"):
        DuetAgent(bg, [0.0, 1.0], -1, 1)
    with pytest.raises(ValueError, match="mossy"):
        from neuroplastic.agents import AdaptiveController, CerebellumParams

        DuetAgent(bg, coarse_levels(-1, 1, 3), -1, 1,
                  AdaptiveController(CerebellumParams(n_mossy=4, n_granule=20)))
    with pytest.raises(ValueError, match="n_levels"):
        coarse_levels(-1, 1, 1)
    cont = BasalGangliaAgent(box, gym.spaces.Box(-1.0, 1.0, (1,)))
    with pytest.raises(ValueError, match="Discrete"):
        DuetAgent(cont, [0.0], -1, 1)


# -- Hopper-v5: BG choose target postures, spinal PD loop, 3-joint cerebellum (env="hopper") ---
HOP = dict(env="hopper", max_steps=150, change_episode=1, gear_scale=0.25, mass_scale=2.0,
           n_granule=200, episodes=10, window=3, criterion=100.0, seeds=1)


def _hold_crouch(changed: bool, cb_eta: float, episodes: int = 5):
    """Mean spinal feedback command (the CF error) and cerebellar correction per joint in the
    first and last of ``episodes`` episodes holding the crouch posture [-0.5, -0.5, 0.3]."""
    from neuroplastic.experiments.walk import _Body, make_agent

    cfg = WalkConfig(**{**HOP, "cb_eta": cb_eta})
    env = gym.make("Hopper-v5", max_episode_steps=cfg.max_steps)
    _Body(env, cfg).set(int(changed))
    agent = make_agent(cfg, 0, True)
    agent.bg.actor.W[:] = 0.0
    agent.bg.actor.W[1] = 50.0  # the BG (near-)always choose posture 1, the crouch
    out = []
    for ep in range(episodes):
        obs, _ = env.reset(seed=ep)
        fb, corr = [], []
        while True:
            obs, r, term, trunc, _ = env.step(agent.act(obs))
            agent.observe(r, obs, term, trunc)
            fb.append(agent.feedback(obs))
            corr.append(agent.last_correction)
            if term or trunc:
                break
        out.append((np.mean(fb, 0), np.mean(corr, 0)))
    env.close()
    return out[0], out[-1]


@needs_mujoco
def test_hopper_cerebellum_absorbs_a_weaker_heavier_body_by_feedback_error_learning():
    """Gear x0.25 and torso mass x2: the spinal loop's tracking error (the climbing-fibre
    error) grows; the cerebellum's learned correction takes the sign of the feedback command
    (more hip and knee flexion torque against the sag), grows larger than in the original
    body, and removes most of the error within 5 episodes (a silent cerebellum does not)."""
    (fb0_n, _), (_, corr_n) = _hold_crouch(False, 0.05)
    (fb0_c, _), (fbT_silent, _) = _hold_crouch(True, 0.0)
    _, (fbT_c, corr_c) = _hold_crouch(True, 0.05)
    # measured: thigh/leg feedback -0.05 (original) vs -0.14 (changed body)
    assert np.all(fb0_c[:2] < 2 * fb0_n[:2]) and np.all(fb0_c[:2] < 0)
    # correction: same sign as the feedback command, larger for the changed body
    # (measured thigh/leg -0.31/-0.33 vs -0.06/-0.08)
    assert np.all(corr_c[:2] < 0) and np.all(np.abs(corr_c[:2]) > 2 * np.abs(corr_n[:2]))
    # residual feedback command after 5 episodes: measured -0.02/-0.03 vs -0.14 without
    assert np.all(np.abs(fbT_c[:2]) < 0.3 * np.abs(fbT_silent[:2]))


def test_posture_duet_checkpoint_mid_hold_continues_bit_for_bit():
    from neuroplastic.experiments.walk import make_agent

    cfg = WalkConfig(**{**HOP, "n_granule": 50, "hold": 3, "smooth": 0.2})
    rng = np.random.default_rng(4)
    obs = rng.uniform(-0.1, 0.1, size=(60, 11))
    obs[:, 0] += 1.25

    a = make_agent(cfg, 0, True)
    _drive(a, obs, 0, 20)  # 20 = 6 holds of 3 + 2 steps into the 7th
    assert a.phase == 2
    state = {k: v.copy() for k, v in a.state_dict().items()}
    ref = _drive(a, obs, 20, 59)
    b = make_agent(cfg, 0, True)
    b.load_state_dict(state)
    np.testing.assert_array_equal(_drive(b, obs, 20, 59), ref)
    assert ref.shape == (39, 3) and not np.all(ref == ref[0])


def test_hopper_config_and_posture_duet_refuse_bad_input():
    from neuroplastic.agents import BasalGangliaAgent, PopulationCode
    from neuroplastic.agents.duet import PostureDuetAgent

    with pytest.raises(ValueError, match="kp"):
        WalkConfig(env="hopper", kp=0.0)
    with pytest.raises(ValueError, match="env"):
        WalkConfig(env="walker")
    with pytest.raises(ValueError, match="smooth"):
        WalkConfig(smooth=0.0)
    box = gym.spaces.Box(-1.0, 1.0, (2,))
    bg = BasalGangliaAgent(box, gym.spaces.Discrete(2), PopulationCode([-1, -1], [1, 1]))
    with pytest.raises(ValueError, match="postures"):
        PostureDuetAgent(bg, [[0.0, 0.0]] * 3, [0, 1], [0, 1], 1.0, 0.1, -1, 1)
    with pytest.raises(ValueError, match="hold"):
        PostureDuetAgent(bg, [[0.0, 0.0]] * 2, [0, 1], [0, 1], 1.0, 0.1, -1, 1, hold=0)
