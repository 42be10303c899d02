"""B2: the duet's MuJoCo task — BG alone and BG + cerebellum vs PPO and a random policy.

Workload: Gymnasium's ``InvertedPendulum-v5`` (MuJoCo) capped at the ``walk`` experiment's
``max_steps`` (300 steps of 40 ms), the **same body throughout** (no mid-run change: the
``walk`` experiment measures recovery from the body change; here every learner meets the same
unchanged task). Criterion = the ``walk`` experiment's: the ``window``-episode (10) trailing mean
return first reaches ``criterion`` (150). Reported per learner and seed: episodes and
environment steps until the criterion (``-1``: not within the budget), the mean return of the
last ``window`` episodes at the end of the budget, the mean return over all training episodes,
wall time per environment step (learning included). Same seeds for every learner, one thread.

* ``bg_alone``: :class:`neuroplastic.agents.BasalGangliaAgent` with the ``walk`` defaults
  (``n_levels`` coarse pushes, place-cell state code, TD error as dopamine × eligibility);
* ``duet``: the same plus the cerebellar adaptive controller (``walk``'s ``make_agent``);
  no backpropagation in either;
* ``ppo``: stable-baselines3 ``PPO("MlpPolicy")`` with its **defaults** (an optional peer:
  skipped with a message when not importable), trained for ``--ppo-steps`` environment steps
  with a ``Monitor`` recording every episode (SB3's default ``n_steps = 2048`` rollout);
* ``random``: uniform actions in the action box.

``--env hopper``: the same comparison on Gymnasium's ``Hopper-v5`` (the ``walk`` experiment's
``env="hopper"`` agents: the BG choose one of 5 target postures held for 5 steps, a spinal PD
loop tracks them, the duet adds a 3-joint cerebellum learning from the PD feedback command),
cap 500 steps, criterion a 10-episode mean return >= 400 (the healthy bonus is 1 per step:
400 means the hopper stays up most of the episode — balance, not locomotion; PPO's return also
counts forward velocity), cerebellar rate 0.01, 500 granule cells.

Needs MuJoCo (``pip install 'gymnasium[mujoco]'``) in the interpreter that runs it; for the PPO
rows also stable-baselines3 (e.g. the peers' venv: ``benchmarks/install-peers.sh VENV &&
VENV/bin/pip install stable-baselines3==2.9.2 mujoco``).

Run: ``python benchmarks/b2_walk.py [--env hopper] [--seeds 3] [--episodes 180]
[--ppo-steps 100000]``; the
last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, pin_threads  # noqa: E402


def _criterion_point(returns: list[float], lengths: list[int], criterion: float,
                     window: int) -> tuple[int, int]:
    """(episodes, env steps) until the trailing ``window``-episode mean first reaches
    ``criterion``; (-1, -1) if it never does."""
    from neuroplastic.experiments.walk import episodes_to_criterion

    n = episodes_to_criterion(returns, criterion, window)
    return (n, int(sum(lengths[:n]))) if n > 0 else (-1, -1)


def _row(returns: list[float], lengths: list[int], wall: float, cfg) -> dict:
    n, steps = _criterion_point(returns, lengths, cfg.criterion, cfg.window)
    tot = int(sum(lengths))
    return {"episodes_to_criterion": n, "steps_to_criterion": steps, "episodes": len(returns),
            "steps": tot, "final_mean_return": statistics.mean(returns[-cfg.window:]),
            "mean_return": statistics.mean(returns), "us_per_step": 1e6 * wall / max(tot, 1)}


def _ours(cfg, seed: int, with_cerebellum: bool) -> dict:
    import gymnasium as gym

    from neuroplastic.experiments.cartpole import _reset_seed
    from neuroplastic.experiments.walk import env_id, make_agent

    env = gym.make(env_id(cfg), max_episode_steps=cfg.max_steps)
    agent = make_agent(cfg, seed, with_cerebellum)
    returns, lengths, t0 = [], [], time.perf_counter()
    for ep in range(cfg.episodes):  # the walk experiment's episode loop, steps counted
        obs, _ = env.reset(seed=_reset_seed(seed, ep))
        ret, n = 0.0, 0
        while True:
            obs, r, term, trunc, _ = env.step(agent.act(obs))
            agent.observe(r, obs, term, trunc)
            ret += float(r)
            n += 1
            if term or trunc:
                break
        returns.append(ret)
        lengths.append(n)
    wall = time.perf_counter() - t0
    env.close()
    return _row(returns, lengths, wall, cfg)


def _ppo(cfg, seed: int, steps: int) -> dict | None:
    try:
        import stable_baselines3 as sb3
        from stable_baselines3.common.monitor import Monitor
    except ImportError as e:
        print(f"  PPO: skipped, stable-baselines3 not importable ({e})")
        return None
    import gymnasium as gym

    from neuroplastic.experiments.walk import env_id

    env = Monitor(gym.make(env_id(cfg), max_episode_steps=cfg.max_steps))
    model = sb3.PPO("MlpPolicy", env, seed=seed, verbose=0, device="cpu")
    t0 = time.perf_counter()
    model.learn(total_timesteps=steps)
    wall = time.perf_counter() - t0
    returns = [float(r) for r in env.get_episode_rewards()]
    lengths = [int(n) for n in env.get_episode_lengths()]
    env.close()
    return _row(returns, lengths, wall, cfg)


def _random(cfg, seed: int, episodes: int = 50) -> float:
    import gymnasium as gym
    import numpy as np

    from neuroplastic.experiments.walk import env_id

    env = gym.make(env_id(cfg), max_episode_steps=cfg.max_steps)
    rng = np.random.default_rng(seed)
    tot = 0.0
    for ep in range(episodes):
        env.reset(seed=seed * 1000 + ep)
        while True:
            a = rng.uniform(env.action_space.low, env.action_space.high).astype(np.float32)
            _, r, term, trunc, _ = env.step(a)
            tot += float(r)
            if term or trunc:
                break
    env.close()
    return tot / episodes


def _summary(rows: list[dict]) -> dict:
    ok = [r for r in rows if r["episodes_to_criterion"] > 0]

    def med(k: str):
        return statistics.median(r[k] for r in ok) if ok else None

    return {"reached": f"{len(ok)}/{len(rows)}",
            "median_episodes_to_criterion": med("episodes_to_criterion"),
            "median_steps_to_criterion": med("steps_to_criterion"),
            "mean_final_return": statistics.mean(r["final_mean_return"] for r in rows),
            "us_per_step": statistics.median(r["us_per_step"] for r in rows),
            "per_seed": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", choices=("inverted_pendulum", "hopper"),
                    default="inverted_pendulum")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--episodes", type=int, default=180, help="ours: episodes per seed")
    ap.add_argument("--ppo-steps", type=int, default=100_000, help="PPO: env-step budget")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-ppo", action="store_true")
    args = ap.parse_args()
    pin_threads(args.threads)
    from neuroplastic.experiments.walk import WalkConfig, env_id, require_mujoco

    require_mujoco()
    hopper = ({"env": "hopper", "max_steps": 500, "criterion": 400.0, "cb_eta": 0.01,
               "n_granule": 500} if args.env == "hopper" else {})
    cfg = WalkConfig(episodes=args.episodes, change_episode=args.episodes + 1, **hopper)
    env_name = env_id(cfg)
    print(f"B2 {env_name} (cap {cfg.max_steps} steps), to a {cfg.window}-episode mean >= "
          f"{cfg.criterion:g} — {machine()}, {args.threads} thread(s), seeds "
          f"0..{args.seeds - 1}", flush=True)
    out: dict = {"benchmark": "b2_walk", "env": env_name, "seeds": args.seeds,
                 "max_steps": cfg.max_steps, "criterion": cfg.criterion, "window": cfg.window}
    for name, cb in (("bg_alone", False), ("duet", True)):
        rows = []
        for s in range(args.seeds):
            rows.append(_ours(cfg, s, cb))
            r = rows[-1]
            print(f"  {name} seed {s}: criterion at episode {r['episodes_to_criterion']} / "
                  f"{r['steps_to_criterion']} steps; last {cfg.window} episodes "
                  f"{r['final_mean_return']:.0f} ({r['us_per_step']:.0f} us/step)", flush=True)
        out[name] = _summary(rows)
    out["ppo"] = None
    if not args.no_ppo:
        rows = []
        for s in range(args.seeds):
            r = _ppo(cfg, s, args.ppo_steps)
            if r is None:
                break
            rows.append(r)
            print(f"  PPO seed {s}: criterion at episode {r['episodes_to_criterion']} / "
                  f"{r['steps_to_criterion']} steps; last {cfg.window} episodes "
                  f"{r['final_mean_return']:.0f} ({r['us_per_step']:.0f} us/step)", flush=True)
        out["ppo"] = _summary(rows) if rows else None
    out["random_mean_return"] = statistics.mean(_random(cfg, s) for s in range(args.seeds))
    print(f"\n{'learner':<10}{'reached':>9}{'median episodes':>17}{'median steps':>14}"
          f"{'final return':>14}{'us/step':>9}")
    for name in ("bg_alone", "duet", "ppo"):
        s = out[name]
        if not s:
            print(f"{name:<10}{'skipped (stable-baselines3 not installed)':>50}")
            continue
        ep, st = s["median_episodes_to_criterion"], s["median_steps_to_criterion"]
        print(f"{name:<10}{s['reached']:>9}{ep if ep else '-':>17}{st if st else '-':>14}"
              f"{s['mean_final_return']:>14.1f}{s['us_per_step']:>9.0f}")
    print(f"random policy mean return: {out['random_mean_return']:.1f}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
