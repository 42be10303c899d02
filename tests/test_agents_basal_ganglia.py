"""Basal-ganglia actor-critic: the update is the three-factor rule, it learns from delayed
reward, ablating dopamine abolishes learning, bad input is refused, state resumes exactly."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from neuroplastic.agents import (
    ActorCriticParams,
    BasalGangliaAgent,
    MicrostimulusCode,
    PlaceCells,
    PopulationCode,
)
from neuroplastic.plasticity.three_factor import init_eligibility_state, three_factor_step


class _Dense:
    """The place-cell code without ``active``: forces the agent's dense path."""

    def __init__(self, enc):
        self.enc, self.size = enc, enc.size

    def __call__(self, x):
        return self.enc(x)


def _cartpole_run(params, episodes, encoder=None):
    env = gym.make("CartPole-v1")
    enc = encoder or PlaceCells([-2.4, -3, -0.21, -3.5], [2.4, 3, 0.21, 3.5], 4, 16)
    agent = BasalGangliaAgent(env.observation_space, env.action_space, enc, params)
    rets = []
    for ep in range(episodes):
        obs, _ = env.reset(seed=ep)
        ret = 0.0
        while True:
            a = agent.act(obs)
            obs, r, term, trunc, _ = env.step(a)
            agent.observe(r, obs, term, trunc)
            ret += r
            if term or trunc:
                break
        rets.append(ret)
    return agent, rets


# the cartpole experiment's defaults: optimistic critic (V0 = 1/(1-gamma) = 100 over 16 tilings)
CP = dict(eta_critic=0.00625, eta_actor=0.00125, tau_e_critic_s=0.2, tau_e_actor_s=0.5,
          value_init=100.0 / 16)


def test_update_is_the_three_factor_rule_with_td_dopamine():
    """Dense agent == three_factor_step (hebb coincidence, M = δ) of neuroplastic.plasticity,
    for the critic (post = 1) and the actor (post = chosen - expected)."""
    p = ActorCriticParams(gamma=0.9, dt_s=0.1, eta_critic=0.3, eta_actor=0.2,
                          tau_e_critic_s=0.7, tau_e_actor_s=0.4, seed=3)
    enc = PopulationCode([-1.0, -1.0], [1.0, 1.0], n_per_dim=5)
    agent = BasalGangliaAgent(spaces.Box(-1, 1, (2,)), spaces.Discrete(3), enc, p)
    tc, ta = p.three_factor_params("critic"), p.three_factor_params("actor")
    wc = torch.zeros(1, enc.size, dtype=torch.float64)
    wa = torch.zeros(3, enc.size, dtype=torch.float64)
    sc = init_eligibility_state(1, enc.size, 1)
    sa = init_eligibility_state(1, enc.size, 3)
    rng = np.random.default_rng(0)
    obs = rng.uniform(-1, 1, 2)
    for t in range(40):
        x = torch.from_numpy(enc(obs))[None]
        agent.act(obs)
        psi = torch.from_numpy(agent.psi.copy())[None]
        nxt = rng.uniform(-1, 1, 2)
        r = float(rng.normal())
        term = t % 13 == 12
        delta = agent.observe(r, nxt, term)
        v = float(wc[0] @ x[0])
        v2 = 0.0 if term else float(wc[0] @ torch.from_numpy(enc(nxt)))
        assert delta == pytest.approx(r + 0.9 * v2 - v, abs=1e-12)
        wc, sc = three_factor_step(wc[None], sc, x, torch.ones(1, 1, dtype=torch.float64),
                                   delta, tc, 100.0)
        wa, sa = three_factor_step(wa[None], sa, x, psi, delta, ta, 100.0)
        wc, wa = wc[0], wa[0]
        if term:
            sc = init_eligibility_state(1, enc.size, 1)
            sa = init_eligibility_state(1, enc.size, 3)
        np.testing.assert_allclose(agent.w_critic, wc[0].numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(agent.w_actor, wa.numpy(), rtol=1e-10, atol=1e-12)
        obs = nxt


def test_sparse_place_cell_path_equals_the_dense_rule():
    enc = PlaceCells([-2.4, -3, -0.21, -3.5], [2.4, 3, 0.21, 3.5], 4, 16)
    a_sparse, r_sparse = _cartpole_run(ActorCriticParams(**CP), 15, enc)
    a_dense, r_dense = _cartpole_run(ActorCriticParams(**CP), 15, _Dense(enc))
    assert a_sparse.sparse and not a_dense.sparse
    np.testing.assert_allclose(a_sparse.w_critic, a_dense.w_critic, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a_sparse.w_actor, a_dense.w_actor, rtol=1e-9, atol=1e-12)
    assert r_sparse == r_dense


def test_cartpole_learns_and_dopamine_ablation_abolishes_it():
    _, intact = _cartpole_run(ActorCriticParams(**CP), 120)
    _, zero = _cartpole_run(ActorCriticParams(**CP, dopamine="zero"), 120)
    _, shuffled = _cartpole_run(ActorCriticParams(**CP, dopamine="shuffled"), 120)
    _, rand = _cartpole_run(ActorCriticParams(**{**CP, "eta_actor": 0.0, "eta_critic": 0.0}), 120)
    late = slice(70, 120)
    m = {k: float(np.mean(v[late])) for k, v in
         dict(intact=intact, zero=zero, shuffled=shuffled, rand=rand).items()}
    assert m["intact"] > 400, m  # measured 497 (optimistic critic, 16 tilings)
    assert m["intact"] > 4 * m["zero"] and m["intact"] > 4 * m["shuffled"], m
    assert m["zero"] < 40 and m["shuffled"] < 40 and m["rand"] < 40, m
    assert zero == rand  # no dopamine reaching the synapses = no learning at all


class _Target(gym.Env):
    """One-step continuous task: reward -(a - target)^2 with a state-dependent target."""

    observation_space = spaces.Discrete(2)
    action_space = spaces.Box(-2.0, 2.0, (1,), np.float64)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.s = int(self.np_random.integers(2))
        return self.s, {}

    def step(self, a):
        target = (-1.0, 1.0)[self.s]
        return self.s, -float((a[0] - target) ** 2), True, False, {}


def test_continuous_actions_population_readout_learns():
    env = _Target()
    agent = BasalGangliaAgent(env.observation_space, env.action_space, None,
                              ActorCriticParams(eta_critic=0.1, eta_actor=0.02, sigma=0.2))
    for ep in range(2000):
        obs, _ = env.reset(seed=ep)
        a = agent.act(obs)
        assert env.action_space.contains(a)
        obs, r, term, trunc, _ = env.step(a)
        agent.observe(r, obs, term, trunc)
    # read-out mean in [-1, 1] units maps to [-2, 2]: targets -1, +1 -> -0.5, +0.5
    mu = agent.w_actor[0]
    assert mu[0] == pytest.approx(-0.5, abs=0.1) and mu[1] == pytest.approx(0.5, abs=0.1)


@pytest.mark.parametrize("kw, key", [({"gamma": 1.0}, "gamma"), ({"gamma": -0.1}, "gamma"),
                                     ({"gamma": float("nan")}, "gamma"),
                                     ({"tau_e_actor_s": -1.0}, "tau_e_actor_s"),
                                     ({"dopamine": "half"}, "dopamine"),
                                     ({"eta_critic": -1.0}, "eta_critic")])
def test_bad_parameters_name_the_parameter(kw, key):
    with pytest.raises(ValueError, match=key):
        ActorCriticParams(**kw)


def test_unsupported_spaces_are_refused():
    obs = spaces.Box(-1, 1, (2,))
    with pytest.raises(ValueError, match="action_space"):
        BasalGangliaAgent(obs, spaces.MultiDiscrete([2, 2]))
    with pytest.raises(ValueError, match="action_space"):
        BasalGangliaAgent(obs, spaces.Box(-np.inf, np.inf, (1,)))
    with pytest.raises(ValueError, match="observation_space"):
        BasalGangliaAgent(spaces.Dict({"a": obs}), spaces.Discrete(2))
    with pytest.raises(ValueError, match="observation_space"):
        BasalGangliaAgent(spaces.Box(-np.inf, np.inf, (2,)), spaces.Discrete(2))
    with pytest.raises(ValueError, match="delay_s"):
        gym.make("neuroplastic/OperantChamber-v0", delay_s=-3.0)


@pytest.mark.parametrize("encoder", ["place", "micro"])
def test_state_dict_resumes_bit_for_bit_mid_episode(encoder):
    if encoder == "place":
        env = gym.make("CartPole-v1")
        make_enc = lambda: PlaceCells([-2.4, -3, -0.21, -3.5], [2.4, 3, 0.21, 3.5], 6, 8)  # noqa
        params = ActorCriticParams(**CP, dopamine="shuffled", seed=5)
    else:
        env = gym.make("neuroplastic/OperantChamber-v0", delay_s=2.0)
        make_enc = lambda: MicrostimulusCode(5, dt_s=0.5)  # noqa
        params = ActorCriticParams(dt_s=0.5, eta_actor=0.5, tau_e_actor_s=3.0, seed=5)
    a = BasalGangliaAgent(env.observation_space, env.action_space, make_enc(), params)
    obs, _ = env.reset(seed=0)
    for _ in range(7):
        act = a.act(obs)
        obs, r, te, tr, _ = env.step(act)
        a.observe(r, obs, te, tr)
    saved = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in a.state_dict().items()}
    b = BasalGangliaAgent(env.observation_space, env.action_space, make_enc(), params)
    b.load_state_dict(saved)
    for _ in range(60):
        x1, x2 = a.act(obs), b.act(obs)
        assert np.array_equal(np.asarray(x1), np.asarray(x2))
        obs, r, te, tr, _ = env.step(x1)
        assert a.observe(r, obs, te, tr) == b.observe(r, obs, te, tr)
        if te or tr:
            obs, _ = env.reset(seed=1)
    assert np.array_equal(a.w_critic, b.w_critic) and np.array_equal(a.w_actor, b.w_actor)


def test_microstimuli_tile_time_since_onset():
    """Successive microstimuli peak later and lower (Ludvig et al. 2008, Fig. 1); an onset
    restarts the trace; a sustained stimulus is not a new onset."""
    code = MicrostimulusCode(1, n_micro=8, tau_s=5.0, dt_s=0.1, bias=False)
    feats = [code([1.0])] + [code([1.0 if t < 5 else 0.0]) for t in range(1, 200)]
    f = np.array(feats)  # (time, micro)
    peaks = f.argmax(0)  # microstimulus i has centre (i + 1) / m: lower centre, later peak
    assert np.all(np.diff(peaks) < 0), peaks
    heights = f.max(0)
    assert np.all(np.diff(heights) > 0)  # the later (lower-centred) ones are weaker
    y = np.exp(-np.arange(200) * 0.1 / 5.0)  # the trace the code reads
    i = 3
    c = (i + 1) / 8
    np.testing.assert_allclose(f[:, i], y * np.exp(-(y - c) ** 2 / (2 * 0.08 ** 2)), rtol=1e-12)
    code([0.0])
    again = code([1.0])
    assert again.argmax() == 7  # restarted: the onset microstimulus


def test_place_cells_one_cell_per_population_and_neighbours_share():
    pc = PlaceCells([0.0, 0.0], [1.0, 1.0], bins=4, n_tilings=8)
    a = pc.active([0.5, 0.5])
    assert a.size == 8 and np.unique(a // pc.cells_per_tiling).size == 8
    near = np.intersect1d(a, pc.active([0.52, 0.5])).size
    far = np.intersect1d(a, pc.active([0.95, 0.05])).size
    assert near > far and far == 0
    assert pc([0.5, 0.5]).sum() == 8
