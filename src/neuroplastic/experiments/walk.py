"""The duet on MuJoCo: basal ganglia alone vs basal ganglia + cerebellum, with a body change.

Task: Gymnasium's ``InvertedPendulum-v5`` (MuJoCo; a cart pushed along a rail balances a
pole; +1 per step, the episode ends when the pole tilts past 0.2 rad or at ``max_steps``).
Two conditions on the same seeds and the same episode starts:

* **BG alone** — :class:`neuroplastic.agents.BasalGangliaAgent` chooses one of ``n_levels``
  coarse pushes in ``[-force, force]`` (place-cell state code, dopamine-gated eligibility);
* **duet** — the same basal ganglia plus a cerebellar adaptive controller
  (:class:`neuroplastic.agents.duet.DuetAgent`): a population code of the state as mossy
  fibres, a continuous correction added to the chosen push, parallel-fibre plasticity driven by
  a climbing-fibre error read from the pole's tilt and tilt rate after the step
  (``cf_angle * angle + cf_rate * angle_rate``).

**Body change**: at the start of episode ``change_episode`` the actuator's gear is multiplied
by ``gear_scale`` (default 0.5: a weaker actuator) and the pole's mass and inertia by
``mass_scale`` (default 1: unchanged), through ``env.unwrapped.model``.

Metrics: ``duet_episodes_to_criterion`` / ``bg_alone_episodes_to_criterion`` (mean over seeds
of the episodes until the ``window``-episode trailing mean return first reaches ``criterion``,
before the change; a seed that never gets there counts as ``change_episode + 1``) with
``*_seeds_reaching_criterion``; ``duet_recovery_episodes`` / ``bg_alone_recovery_episodes``
(the same count on the episodes after the change only, the trailing mean taken over
post-change episodes; never: ``episodes - change_episode + 1``; -1 without a change);
``random_mean_return`` (uniform random actions), per-condition mean returns before / after
the change, per-seed values. Curves: return per episode per condition and seed. Figures:
trailing mean returns with the body change marked; with ``MUJOCO_GL=egl`` (or ``osmesa``) and
``frames > 0`` also a frame strip of one more episode of seed 0's trained duet in the final
body (Gymnasium's ``rgb_array`` render; skipped otherwise).

Measured (defaults: 3 seeds x 180 episodes, change at 120: gear x0.25 and pole mass x4; ~30 s
on 2 cores): the duet reaches the 10-episode mean of 150 in 25, 41, 28 episodes (mean 31.3),
the BG alone in 55, 99 and not within 120 (mean 91.7, counting 121); after the change the duet
is back at the criterion within 1, 6, 1 episodes, the BG alone — which collapses from ~300 to
~30 — within 29 episodes for one seed and not within the 60 post-change episodes for two
(mean 50.3); random policy 5.1. A pole mass x4 alone (gear unchanged) barely perturbs either:
in a 400-episode run (change at 250) the BG-alone seeds that had learned were back in one
episode, as the duet (1-2).

**Hopper** (``env="hopper"``, Gymnasium's ``Hopper-v5``, 3 joint torques, the env's own reward
= 1 per healthy step + forward velocity - control cost; the episode ends when the hopper falls):
:class:`neuroplastic.agents.duet.PostureDuetAgent` — the basal ganglia choose one of 5 target
postures (:data:`HOPPER_POSTURES`, joint angles of thigh, leg, foot), each held for ``hold``
8 ms steps, from a place-cell code of torso angle, torso angular velocity, forward velocity and
height; a spinal PD loop (``kp``, ``kd``) tracks a reference that moves smoothly toward the
target (``smooth``); the cerebellum (one Purkinje read-out per
joint, mossy fibres = a population code of torso and joint angles, joint rates and the chosen
target) adds a feed-forward torque learned from the PD feedback command of the next state as
climbing-fibre error (feedback-error learning). The body change multiplies the three actuator
gears by ``gear_scale`` and the torso's mass and inertia by ``mass_scale``. ``n_levels``,
``force``, ``cf_angle``, ``cf_rate`` apply to the pendulum only. Also recorded: the hopper's x
position at the end of each episode (``x_<condition>_seed<k>`` curves; forward progress — the
healthy bonus makes standing still worth ~1 per step, so a high return is balance, not
locomotion, unless x grows).

Measured on the hopper (5 seeds x 160 episodes, cap 500, criterion 400, change at 80,
``cb_eta=0.01``, ``n_granule=500``; ~96 s on 2 cores): both conditions learn to stay up in 4/5
seeds — BG alone in 37.8 episodes on average (never counted as 81), the duet in 45.0: no
advantage before the change. After gear x0.25 the duet is back at a full 10-episode mean >= 400
in 4/5 seeds (34-67 episodes), the BG alone in 0/5 (~200 per episode: it falls once the weak
joints sag); after torso mass x3, 3/5 vs 0/5, but two duet seeds collapse (~40). Random policy
18. The final x is ~0 in every seed: balance, not hopping.

Resumable at every episode boundary (agent and cerebellum weights, traces, random generators,
returns).
"""

from __future__ import annotations

import importlib.util
import time

import numpy as np
import torch

from ..lab.checkpointer import Checkpointer
from .base import Result, register
from .cartpole import _episode, _reset_seed
from .configs.walk import WalkConfig

__all__ = ["CONDITIONS", "ENV_ID", "HOPPER_ID", "HOPPER_POSTURES", "MujocoMissingError",
           "WalkConfig", "env_id", "episodes_to_criterion", "make_agent", "run"]

ENV_ID = "InvertedPendulum-v5"
HOPPER_ID = "Hopper-v5"
ENV_IDS = {"inverted_pendulum": ENV_ID, "hopper": HOPPER_ID}
# Hopper-v5 observation: z, torso angle, thigh, leg, foot angles, vx, vz, torso rate, 3 joint
# rates. Target postures (thigh, leg, foot joint angles, rad) the basal ganglia choose from:
HOPPER_POSTURES = [[0.0, 0.0, 0.0], [-0.5, -0.5, 0.3], [-0.5, 0.0, -0.3], [0.0, -0.5, 0.3],
                   [-0.2, -0.2, 0.0]]
HOPPER_JOINTS, HOPPER_RATES = [2, 3, 4], [8, 9, 10]
# BG state code: torso angle, torso rate, forward velocity, height
HOPPER_BG_DIMS = [1, 7, 5, 0]
HOPPER_BG_LOW, HOPPER_BG_HIGH = [-0.25, -2.0, -1.0, 0.7], [0.25, 2.0, 2.0, 1.4]
# cerebellar mossy fibres: torso angle, 3 joint angles, 3 joint rates (obs) + 3 target angles
HOPPER_CB_DIMS = [1, 2, 3, 4, 8, 9, 10]
HOPPER_CB_LOW = [-0.25, -1.5, -1.5, -0.8, -3.0, -3.0, -3.0, -1.5, -1.5, -0.8]
HOPPER_CB_HIGH = [0.25, 0.2, 0.2, 0.8, 3.0, 3.0, 3.0, 0.2, 0.2, 0.8]
CONDITIONS = ("duet", "bg_alone")
# encoder bounds: cart position (m), pole angle (rad), cart velocity (m/s), angle rate (rad/s)
LOW = [-1.0, -0.2, -2.0, -3.0]
HIGH = [1.0, 0.2, 2.0, 3.0]


class MujocoMissingError(ValueError):
    """MuJoCo is not installed (``pip install 'gymnasium[mujoco]'``)."""


def require_mujoco() -> None:
    if importlib.util.find_spec("mujoco") is None:
        raise MujocoMissingError("walk needs MuJoCo: pip install 'gymnasium[mujoco]'")


def env_id(config: WalkConfig) -> str:
    """The Gymnasium id of ``config.env``."""
    return ENV_IDS[config.env]


class _Select:
    """An encoder applied to some dimensions of the observation (``active`` kept sparse)."""

    def __init__(self, encoder, dims) -> None:
        self.encoder, self.dims, self.size = encoder, np.asarray(dims), encoder.size

    def active(self, obs) -> np.ndarray:
        return self.encoder.active(np.asarray(obs, dtype=np.float64)[self.dims])

    def __call__(self, obs) -> np.ndarray:
        return self.encoder(np.asarray(obs, dtype=np.float64)[self.dims])


class _HopperMossy:
    """Mossy fibres of the hopper's cerebellum: state + efference copy of the target."""

    def __init__(self) -> None:
        from ..agents import PopulationCode

        self.code = PopulationCode(HOPPER_CB_LOW, HOPPER_CB_HIGH, n_per_dim=6)
        self.size = self.code.size

    def __call__(self, obs, target) -> np.ndarray:
        o = np.asarray(obs, dtype=np.float64)
        return self.code(np.concatenate([o[HOPPER_CB_DIMS], target]))


def _make_hopper_agent(config: WalkConfig, seed: int, with_cerebellum: bool):
    from gymnasium import spaces

    from ..agents import (
        ActorCriticParams,
        AdaptiveController,
        BasalGangliaAgent,
        CerebellumParams,
        PlaceCells,
    )
    from ..agents.duet import PostureDuetAgent

    enc = _Select(PlaceCells(HOPPER_BG_LOW, HOPPER_BG_HIGH, bins=config.bins,
                             n_tilings=config.n_tilings), HOPPER_BG_DIMS)
    p = ActorCriticParams(gamma=config.gamma, dt_s=0.008 * config.hold,
                          eta_critic=config.eta_critic, eta_actor=config.eta_actor,
                          tau_e_critic_s=config.tau_e_s, tau_e_actor_s=config.tau_e_s,
                          beta=config.beta, seed=seed)
    obs_space = spaces.Box(-np.inf, np.inf, (11,), dtype=np.float64)
    bg = BasalGangliaAgent(obs_space, spaces.Discrete(len(HOPPER_POSTURES)), enc, p)
    cb = mossy = None
    if with_cerebellum:
        mossy = _HopperMossy()
        cb = AdaptiveController(CerebellumParams(
            n_mossy=mossy.size, n_out=3, n_granule=config.n_granule, fan_in=4, threshold=0.2,
            eta_fast=config.cb_eta, seed=seed))
    return PostureDuetAgent(bg, HOPPER_POSTURES, HOPPER_JOINTS, HOPPER_RATES, config.kp,
                            config.kd, -1.0, 1.0, cb, mossy, hold=config.hold,
                            smooth=config.smooth)


def make_agent(config: WalkConfig, seed: int, with_cerebellum: bool):
    if config.env == "hopper":
        return _make_hopper_agent(config, seed, with_cerebellum)
    from gymnasium import spaces

    from ..agents import (
        ActorCriticParams,
        AdaptiveController,
        BasalGangliaAgent,
        CerebellumParams,
        PlaceCells,
        PopulationCode,
    )
    from ..agents.duet import DuetAgent, coarse_levels

    enc = PlaceCells(LOW, HIGH, bins=config.bins, n_tilings=config.n_tilings)
    p = ActorCriticParams(gamma=config.gamma, dt_s=0.04, eta_critic=config.eta_critic,
                          eta_actor=config.eta_actor, tau_e_critic_s=config.tau_e_s,
                          tau_e_actor_s=config.tau_e_s, beta=config.beta, seed=seed)
    obs_space = spaces.Box(-np.inf, np.inf, (4,), dtype=np.float64)
    bg = BasalGangliaAgent(obs_space, spaces.Discrete(config.n_levels), enc, p)
    cb = mossy = None
    if with_cerebellum:
        mossy = PopulationCode(LOW, HIGH, n_per_dim=8)
        cb = AdaptiveController(CerebellumParams(
            n_mossy=mossy.size, n_granule=config.n_granule, fan_in=4, threshold=0.2,
            eta_fast=config.cb_eta, seed=seed))
    return DuetAgent(bg, coarse_levels(-config.force, config.force, config.n_levels), -3.0,
                     3.0, cb, mossy, [0.0, config.cf_angle, 0.0, config.cf_rate])


def trailing_mean(r, window: int) -> np.ndarray:
    """Mean of the last ``window`` values at each episode (fewer at the start)."""
    r = np.asarray(r, dtype=np.float64)
    c = np.concatenate([[0.0], np.cumsum(r)])
    i = np.arange(1, r.size + 1)
    lo = np.maximum(i - window, 0)
    return (c[i] - c[lo]) / (i - lo)


def episodes_to_criterion(returns, criterion: float, window: int) -> int:
    """Episodes until the trailing ``window``-episode mean first reaches ``criterion`` (-1:
    never)."""
    hit = np.nonzero(trailing_mean(returns, window) >= criterion)[0]
    return int(hit[0]) + 1 if hit.size else -1


class _Body:
    """The original actuator gear and pole mass of an env, and the changed ones."""

    def __init__(self, env, config: WalkConfig) -> None:
        m = env.unwrapped.model
        self.model, self.config = m, config
        self.pole = m.body("torso" if config.env == "hopper" else "pole").id
        self.gear0 = m.actuator_gear.copy()
        self.mass0 = float(m.body_mass[self.pole])
        self.inertia0 = m.body_inertia[self.pole].copy()

    def set(self, episode: int) -> None:
        changed = episode >= self.config.change_episode
        g = self.config.gear_scale if changed else 1.0
        s = self.config.mass_scale if changed else 1.0
        self.model.actuator_gear[:, 0] = self.gear0[:, 0] * g
        self.model.body_mass[self.pole] = self.mass0 * s
        self.model.body_inertia[self.pole] = self.inertia0 * s


def _random_returns(env, body: _Body, seed: int, episodes: int) -> list[float]:
    rng = np.random.Generator(np.random.PCG64(seed + 7_777_777))
    body.set(0)
    out = []
    for ep in range(episodes):
        env.reset(seed=_reset_seed(seed, 10_000_000 + ep))
        ret = 0.0
        while True:
            if body.config.env == "hopper":
                a = rng.uniform(-1.0, 1.0, size=3).astype(np.float32)
            else:
                a = rng.uniform(-3.0, 3.0, size=1).astype(np.float32)
            _, r, term, trunc, _ = env.step(a)
            ret += float(r)
            if term or trunc:
                break
        out.append(ret)
    return out


def _figure(curves: dict, config: WalkConfig, random_mean: float):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4))
    colours = {"duet": "C0", "bg_alone": "C3"}
    labels = {"duet": "BG + cerebellum", "bg_alone": "BG alone"}
    for c in CONDITIONS:
        for k in range(config.seeds):
            r = curves[f"return_{c}_seed{k}"]
            ax.plot(r, color=colours[c], lw=0.4, alpha=0.3)
            ax.plot(trailing_mean(r, config.window), color=colours[c], lw=1.3,
                    label=labels[c] if k == 0 else None)
    if config.change_episode < config.episodes:
        ax.axvline(config.change_episode - 0.5, color="k", lw=1, ls="-.",
                   label=f"body change (gear x{config.gear_scale:g}, "
                         f"pole mass x{config.mass_scale:g})")
    ax.axhline(config.criterion, color="k", ls="--", lw=0.8, label="criterion")
    ax.axhline(random_mean, color="0.5", ls=":", lw=1, label=f"random ({random_mean:.0f})")
    ax.set(xlabel="episode", ylabel="return",
           title=f"{env_id(config)}: the duet vs the basal ganglia alone "
                 f"({config.window}-episode mean)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _frame_strip(config: WalkConfig, weights: dict):
    """Frames of one episode of seed 0's trained duet (changed body), or None when headless
    rendering is not configured (``MUJOCO_GL`` must be ``egl`` or ``osmesa``)."""
    import os

    if config.frames == 0 or os.environ.get("MUJOCO_GL") not in ("egl", "osmesa"):
        return None
    import gymnasium as gym
    import matplotlib.pyplot as plt

    agent = make_agent(config, config.seed, True)
    agent.bg.actor.W[:] = weights["w_actor_duet_seed0"].numpy()
    agent.cb.cb.w_fast[:] = weights["w_pf_duet_seed0"].numpy()
    env = gym.make(env_id(config), max_episode_steps=config.max_steps, render_mode="rgb_array",
                   width=240, height=180)
    _Body(env, config).set(config.episodes)
    obs, _ = env.reset(seed=_reset_seed(config.seed, 20_000_000))
    frames, t = [env.render()], 0
    while True:
        obs, r, term, trunc, _ = env.step(agent.act(obs))
        agent.observe(r, obs, term, trunc)
        t += 1
        frames.append(env.render())
        if term or trunc:
            break
    env.close()
    pick = np.unique(np.linspace(0, len(frames) - 1, config.frames).round().astype(int))
    fig, axes = plt.subplots(1, pick.size, figsize=(1.6 * pick.size, 1.6), squeeze=False)
    for ax, i in zip(axes[0], pick):
        ax.imshow(frames[i])
        ax.set_axis_off()
        ax.set_title(f"step {i}", fontsize=7)
    fig.suptitle(f"trained duet, body of the last episode: {t} steps", fontsize=8)
    fig.tight_layout()
    return fig


def _summary(returns: dict, config: WalkConfig) -> dict:
    C, E, S = config.change_episode, config.episodes, config.seeds
    pre_n, changed = min(C, E), C < E
    metrics: dict = {"env": env_id(config), "seeds": S, "episodes": E, "change_episode": C,
                     "gear_scale": config.gear_scale, "mass_scale": config.mass_scale,
                     "criterion": config.criterion}
    for c in CONDITIONS:
        learn, recover = [], []
        reached = recovered = 0
        for k in range(S):
            r = returns[c][k]
            n = episodes_to_criterion(r[:pre_n], config.criterion, config.window)
            reached += n > 0
            learn.append(n if n > 0 else pre_n + 1)
            metrics[f"{c}_episodes_to_criterion_seed{k}"] = learn[-1]
            if changed:
                m = episodes_to_criterion(r[C:], config.criterion, config.window)
                recovered += m > 0
                recover.append(m if m > 0 else E - C + 1)
                metrics[f"{c}_recovery_episodes_seed{k}"] = recover[-1]
        metrics[f"{c}_episodes_to_criterion"] = float(np.mean(learn))
        metrics[f"{c}_seeds_reaching_criterion"] = reached
        metrics[f"{c}_recovery_episodes"] = float(np.mean(recover)) if changed else -1.0
        metrics[f"{c}_seeds_recovering"] = recovered
        pre = [x for k in range(S) for x in returns[c][k][:pre_n]]
        metrics[f"{c}_mean_return_before_change"] = float(np.mean(pre))
        post = [x for k in range(S) for x in returns[c][k][C:]]
        metrics[f"{c}_mean_return_after_change"] = float(np.mean(post)) if post else -1.0
    return metrics


@register("walk", WalkConfig,
          "The duet on MuJoCo InvertedPendulum: basal ganglia choose, the cerebellum refines; "
          "BG alone vs BG + cerebellum, with a body change mid-run")
def run(config: WalkConfig, *, progress: bool = True,
        checkpoint: Checkpointer | None = None) -> Result:
    require_mujoco()
    import gymnasium as gym
    from tqdm.auto import tqdm

    t_start = time.perf_counter()
    S, E = config.seeds, config.episodes
    env = gym.make(env_id(config), max_episode_steps=config.max_steps)
    body = _Body(env, config)
    hopper = config.env == "hopper"
    xs: dict[str, list[list[float]]] = {c: [[] for _ in range(S)] for c in CONDITIONS}
    runs = [(c, k) for c in CONDITIONS for k in range(S)]
    returns: dict[str, list[list[float]]] = {c: [[] for _ in range(S)] for c in CONDITIONS}
    weights: dict[str, torch.Tensor] = {}
    train_s, n_steps = 0.0, 0
    i, agent = 0, None
    state = checkpoint.load() if checkpoint is not None else None
    if state is not None:
        _, tensors, meta = state
        i, returns = int(meta["run_index"]), meta["returns"]
        xs = meta.get("xs", xs)
        train_s, n_steps = float(meta["train_s"]), int(meta["n_steps"])
        weights = {n[2:]: v for n, v in tensors.items() if n.startswith("W.")}
        if i < len(runs):
            c, k = runs[i]
            agent = make_agent(config, config.seed + k, c == "duet")
            agent.load_state_dict({n[2:]: v for n, v in tensors.items() if n.startswith("A.")})
    bar = tqdm(total=len(runs) * E, initial=sum(len(r) for c in CONDITIONS for r in returns[c]),
               desc="walk", disable=not progress)
    while i < len(runs):
        c, k = runs[i]
        if agent is None:
            agent = make_agent(config, config.seed + k, c == "duet")
        rk = returns[c][k]
        while len(rk) < E:
            ep = len(rk)
            body.set(ep)
            t0 = time.perf_counter()
            ret, _ = _episode(env, agent, _reset_seed(config.seed + k, ep))
            train_s += time.perf_counter() - t0
            n_steps += int(ret) if not hopper else int(env._elapsed_steps)
            rk.append(ret)
            if hopper:  # forward progress of the episode (x starts within 0.005 of 0)
                xs[c][k].append(float(env.unwrapped.data.qpos[0]))
            bar.update(1)
            if progress:
                bar.set_postfix(run=f"{c}{k}", ret=f"{np.mean(rk[-config.window:]):.0f}")
            done = len(rk) == E
            if done:
                weights[f"w_actor_{c}_seed{k}"] = torch.from_numpy(agent.bg.w_actor.copy())
                if agent.cb is not None:
                    weights[f"w_pf_{c}_seed{k}"] = torch.from_numpy(agent.cb.cb.weights.copy())
            if checkpoint is not None and checkpoint.due():
                tensors = {f"W.{n}": v for n, v in weights.items()}
                if not done:
                    tensors.update({f"A.{n}": torch.from_numpy(np.ascontiguousarray(v))
                                    for n, v in agent.state_dict().items()})
                checkpoint.save(sum(len(r) for cc in CONDITIONS for r in returns[cc]), tensors,
                                {"run_index": i + 1 if done else i, "returns": returns,
                                 **({"xs": xs} if hopper else {}),
                                 "train_s": train_s, "n_steps": n_steps})
        i += 1
        agent = None
    bar.close()
    random_r = [r for k in range(S)
                for r in _random_returns(env, body, config.seed + k, config.random_episodes)]
    env.close()
    metrics = _summary(returns, config)
    metrics["random_mean_return"] = float(np.mean(random_r))
    metrics["total_env_steps"] = n_steps
    curves = {f"return_{c}_seed{k}": list(map(float, returns[c][k]))
              for c in CONDITIONS for k in range(S)}
    if hopper:
        curves.update({f"x_{c}_seed{k}": xs[c][k] for c in CONDITIONS for k in range(S)})
        for c in CONDITIONS:
            metrics[f"{c}_mean_final_x_last_window"] = float(np.mean(
                [x for k in range(S) for x in xs[c][k][-config.window:]]))
    timings = {"train_s": train_s, "us_per_env_step": 1e6 * train_s / max(n_steps, 1),
               "wall_s": time.perf_counter() - t_start}
    figures = {"returns": _figure(curves, config, metrics["random_mean_return"])}
    strip = _frame_strip(config, weights)
    if strip is not None:
        figures["frames"] = strip
    return Result(metrics=metrics, figures=figures, arrays=weights, curves=curves,
                  timings=timings)
