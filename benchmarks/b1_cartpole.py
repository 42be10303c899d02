"""B1: environment steps to solve CartPole-v1 — the basal-ganglia agent vs PPO, A2C and random.

Workload: Gymnasium's ``CartPole-v1`` (500-step cap). "Solved" = the 100-episode moving mean of
the return first reaches 475; the figure is the number of environment steps consumed until the
end of the episode that completes that window (``-1`` when the budget runs out first). Same
seeds for every learner, one thread each.

* ours: :class:`neuroplastic.agents.BasalGangliaAgent` with the ``cartpole`` experiment's default
  config (place-cell code, TD error as dopamine × eligibility, no backprop), trained episode by
  episode;
* peers: stable-baselines3 ``PPO("MlpPolicy")`` and ``A2C("MlpPolicy")`` with their **defaults**
  (the issue asks for defaults; tuned rl-zoo hyperparameters would do better), trained for at
  most ``--max-steps`` steps with a ``Monitor`` recording every episode's return;
* random policy: its mean return (it never solves the task).

Also reported: wall time per environment step of each learner (learning included).
stable-baselines3 is an optional peer (install it beside torch 2.13.0 into the peers' venv:
``benchmarks/install-peers.sh VENV && VENV/bin/pip install stable-baselines3==2.9.2``); when it
is missing its rows say so and are skipped.

Run: ``python benchmarks/b1_cartpole.py [--seeds 3] [--max-steps 300000] [--episodes 600]``;
the last line is JSON.
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


def _ours(seed: int, episodes: int) -> dict:
    import gymnasium as gym

    from neuroplastic.experiments.cartpole import (
        CartpoleConfig,
        _episode,
        _reset_seed,
        make_agent,
        steps_to_threshold,
    )

    cfg = CartpoleConfig(seed=seed, seeds=1, episodes=episodes)
    env = gym.make("CartPole-v1")
    agent = make_agent(cfg, seed, env)
    returns, t0 = [], time.perf_counter()
    for ep in range(episodes):
        ret, _ = _episode(env, agent, _reset_seed(seed, ep))
        returns.append(ret)
        if len(returns) >= 100 and sum(returns[-100:]) / 100 >= 475:
            break
    wall = time.perf_counter() - t0
    steps = int(sum(returns))
    return {"steps_to_475": steps_to_threshold(returns), "steps": steps,
            "us_per_step": 1e6 * wall / steps, "final_mean100": sum(returns[-100:]) / 100}


def _sb3(algo: str, seed: int, max_steps: int) -> dict | None:
    try:
        import stable_baselines3 as sb3
        from stable_baselines3.common.callbacks import BaseCallback
        from stable_baselines3.common.monitor import Monitor
    except ImportError as e:
        print(f"  {algo}: skipped, stable-baselines3 not importable ({e})")
        return None
    import gymnasium as gym

    from neuroplastic.experiments.cartpole import steps_to_threshold

    env = Monitor(gym.make("CartPole-v1"))

    class Stop(BaseCallback):
        def _on_step(self) -> bool:  # stop once the 100-episode mean reaches 475
            r = env.get_episode_rewards()
            return not (len(r) >= 100 and sum(r[-100:]) / 100 >= 475)

    model = getattr(sb3, algo)("MlpPolicy", env, seed=seed, verbose=0, device="cpu")
    t0 = time.perf_counter()
    model.learn(total_timesteps=max_steps, callback=Stop())
    wall = time.perf_counter() - t0
    r = list(env.get_episode_rewards())
    steps = int(model.num_timesteps)
    return {"steps_to_475": steps_to_threshold(r), "steps": steps,
            "us_per_step": 1e6 * wall / max(steps, 1),
            "final_mean100": sum(r[-100:]) / max(len(r[-100:]), 1)}


def _random(seed: int, episodes: int = 100) -> float:
    import gymnasium as gym
    import numpy as np

    env = gym.make("CartPole-v1")
    rng = np.random.default_rng(seed)
    tot = 0.0
    for ep in range(episodes):
        env.reset(seed=seed * 1000 + ep)
        while True:
            _, r, term, trunc, _ = env.step(int(rng.integers(2)))
            tot += r
            if term or trunc:
                break
    return tot / episodes


def _summary(rows: list[dict]) -> dict:
    solved = [r["steps_to_475"] for r in rows if r["steps_to_475"] >= 0]
    return {"solved": f"{len(solved)}/{len(rows)}",
            "median_steps_to_475": statistics.median(solved) if solved else None,
            "us_per_step": statistics.median(r["us_per_step"] for r in rows),
            "per_seed": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--episodes", type=int, default=600, help="ours: episode budget per seed")
    ap.add_argument("--max-steps", type=int, default=300_000, help="PPO/A2C: step budget")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--peers", default="PPO,A2C")
    args = ap.parse_args()
    pin_threads(args.threads)
    print(f"B1 CartPole-v1, steps to 100-episode mean >= 475 — {machine()}, "
          f"{args.threads} thread(s), seeds 0..{args.seeds - 1}")
    out: dict = {"benchmark": "b1_cartpole", "seeds": args.seeds}
    rows = []
    for s in range(args.seeds):
        rows.append(_ours(s, args.episodes))
        print(f"  ours seed {s}: {rows[-1]['steps_to_475']} steps "
              f"({rows[-1]['us_per_step']:.0f} us/step)", flush=True)
    out["ours"] = _summary(rows)
    for algo in filter(None, args.peers.split(",")):
        prow = []
        for s in range(args.seeds):
            r = _sb3(algo, s, args.max_steps)
            if r is None:
                break
            prow.append(r)
            print(f"  {algo} seed {s}: {r['steps_to_475']} steps "
                  f"({r['us_per_step']:.0f} us/step)", flush=True)
        out[algo.lower()] = _summary(prow) if prow else None
    out["random_mean_return"] = statistics.mean(_random(s) for s in range(args.seeds))
    print(f"\n{'learner':<10}{'solved':>8}{'median steps':>14}{'us/step':>10}{'ours faster':>13}")
    ours_med = out["ours"]["median_steps_to_475"]
    for name in ["ours", *(a.lower() for a in args.peers.split(",") if a)]:
        s = out.get(name)
        if not s:
            print(f"{name:<10}{'skipped (not installed)':>45}")
            continue
        med = s["median_steps_to_475"]
        ratio = (f"{med / ours_med:.1f}x" if med and ours_med and name != "ours" else "")
        print(f"{name:<10}{s['solved']:>8}{med if med else '-':>14}{s['us_per_step']:>10.0f}"
              f"{ratio:>13}")
    print(f"random policy mean return: {out['random_mean_return']:.1f}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
