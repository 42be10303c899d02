"""A lever press rewarded after a delay of up to 30 s: which mechanism bridges the gap?

An operant chamber (:class:`neuroplastic.agents.envs.OperantChamberEnv`): at the start of each
trial the animal chooses among idling, the lever and ``n_distractors`` other manipulanda; only
the lever is rewarded, with a pellet ``D`` seconds later. A basal-ganglia actor-critic
(:class:`neuroplastic.agents.BasalGangliaAgent`, dopamine = TD error gating eligibility) learns
it — or not — in four conditions, each for every ``D`` in ``delays_s``:

* ``code_trace`` — microstimulus temporal state code (Ludvig, Sutton & Kehoe 2008) of the
  stimulus onsets (light, lever click, distractor clicks, pellet) and eligibility traces of
  ``tau_e_s``;
* ``code_no_trace`` — the same code, no eligibility traces (TD(0), one-step actor);
* ``no_code_trace`` — no temporal code (a constant input only), traces of ``tau_e_s``;
* ``no_code_long_trace`` — no code, traces of ``long_tau_e_s`` (as long as the delay).

The lever counts as learned when the policy's probability of pressing it at trial start is at
least ``criterion`` after ``trials`` trials (chance: 1 / (2 + n_distractors)). Metrics:
``learned_delays_s`` (the list of delays, in s, learned by ``code_trace``; a JSON list),
``longest_learned_delay_s`` (0 if none), the same per condition, and the final P(lever) of every
condition and delay. Curves: P(lever) per trial, and for ``code_trace`` at the longest delay the
TD error at the choice and at the pellet per trial (the response to the pellet fades as it
becomes predicted: the burst moves to the earliest predictor, the trial start) and within the
first and the last lever trial.

Resumable after every (condition, delay) block.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from ..lab.checkpointer import Checkpointer
from .base import Result, register
from .configs.lever_delay import LeverDelayConfig

__all__ = ["CONDITIONS", "LeverDelayConfig", "run", "train_lever"]

CONDITIONS = ("code_trace", "code_no_trace", "no_code_trace", "no_code_long_trace")


def _dkey(d: float) -> str:
    return f"{d:g}".replace(".", "p")


def train_lever(config: LeverDelayConfig, condition: str, delay_s: float, seed: int,
                record: bool = False) -> dict:
    """Train one agent for ``config.trials`` trials; P(lever) per trial, weights, δ records."""
    from ..agents import ActorCriticParams, BasalGangliaAgent, MicrostimulusCode
    from ..agents.envs import OperantChamberEnv

    if condition not in CONDITIONS:
        raise ValueError(f"condition must be one of {CONDITIONS}, got {condition!r}")
    env = OperantChamberEnv(delay_s=delay_s, dt_s=config.dt_s,
                            n_distractors=config.n_distractors)
    code = condition.startswith("code")
    tau = {"code_trace": config.tau_e_s, "code_no_trace": 0.0,
           "no_code_trace": config.tau_e_s, "no_code_long_trace": config.long_tau_e_s}[condition]
    enc = MicrostimulusCode(len(env.channels), n_micro=config.n_micro if code else 0,
                            tau_s=config.code_tau_s, dt_s=config.dt_s, bias=True)
    p = ActorCriticParams(gamma=config.gamma, dt_s=config.dt_s, eta_critic=config.eta_critic,
                          eta_actor=config.eta_actor, tau_e_critic_s=tau, tau_e_actor_s=tau,
                          seed=seed)
    agent = BasalGangliaAgent(env.observation_space, env.action_space, enc, p)
    p_lever, d_choice, d_pellet = [], [], []
    first_trace: list[float] | None = None
    trace: list[float] = []
    for t in range(config.trials):
        obs, _ = env.reset(seed=t)
        p_lever.append(float(agent.policy(obs)[1]))
        trace = []
        pellet_delta = 0.0
        while True:
            a = agent.act(obs)
            obs, r, term, trunc, info = env.step(a)
            d = agent.observe(r, obs, term, trunc)
            trace.append(d)
            if r > 0:
                pellet_delta = d
            if term or trunc:
                break
        d_choice.append(trace[0])
        d_pellet.append(pellet_delta)
        if record and first_trace is None and info["choice"] == 1:
            first_trace = list(trace)
    obs, _ = env.reset()
    final = float(agent.policy(obs)[1])
    out = {"p_lever": p_lever + [final], "final": final,
           "w_critic": agent.w_critic.copy(), "w_actor": agent.w_actor.copy()}
    if record:
        out.update(delta_choice=d_choice, delta_pellet=d_pellet,
                   delta_first_lever_trial=first_trace or [0.0], delta_last_trial=trace)
    return out


def _figures(config: LeverDelayConfig, curves: dict, finals: dict) -> dict:
    import matplotlib.pyplot as plt

    figs = {}
    fig, axes = plt.subplots(1, len(CONDITIONS), figsize=(12, 3.4), sharey=True)
    for ax, cond in zip(axes, CONDITIONS):
        for d in config.delays_s:
            ax.plot(curves[f"p_lever_{cond}_D{_dkey(d)}"], label=f"D = {d:g} s")
        ax.axhline(config.criterion, color="k", ls="--", lw=0.7)
        ax.set(title=cond.replace("_", " "), xlabel="trial", ylim=(-0.02, 1.02))
    axes[0].set_ylabel("P(lever) at trial start")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    figs["p_lever"] = fig
    fig, ax = plt.subplots(figsize=(6, 3.4))
    x = np.arange(len(config.delays_s))
    for i, cond in enumerate(CONDITIONS):
        ax.bar(x + 0.2 * (i - 1.5), [finals[cond][d] for d in config.delays_s], 0.2,
               label=cond.replace("_", " "))
    ax.axhline(config.criterion, color="k", ls="--", lw=0.7)
    ax.set(xticks=x, xticklabels=[f"{d:g} s" for d in config.delays_s], xlabel="delay D",
           ylabel="final P(lever)", title="where each mechanism stops working")
    ax.legend(fontsize=7)
    fig.tight_layout()
    figs["learned_by_delay"] = fig
    dmax = _dkey(max(config.delays_s))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    axes[0].plot(curves[f"delta_choice_D{dmax}"], label="at the choice")
    axes[0].plot(curves[f"delta_pellet_D{dmax}"], label="at the pellet")
    axes[0].set(xlabel="trial", ylabel="TD error (dopamine)",
                title=f"code + trace, D = {max(config.delays_s):g} s")
    axes[0].legend(fontsize=7)
    t = np.arange(len(curves[f"delta_last_trial_D{dmax}"])) * config.dt_s
    axes[1].plot(np.arange(len(curves[f"delta_first_lever_trial_D{dmax}"])) * config.dt_s,
                 curves[f"delta_first_lever_trial_D{dmax}"], label="first lever trial")
    axes[1].plot(t, curves[f"delta_last_trial_D{dmax}"], label="last trial")
    axes[1].set(xlabel="time in trial (s)", ylabel="TD error",
                title="the pellet response fades once predicted")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    figs["dopamine"] = fig
    return figs


def _learned(finals: dict, delays, criterion: float) -> list[float]:
    return [d for d in delays if finals[d] >= criterion]


@register("lever-delay", LeverDelayConfig,
          "Lever press, pellet after D <= 30 s: temporal code vs eligibility traces")
def run(config: LeverDelayConfig, *, progress: bool = True,
        checkpoint: Checkpointer | None = None) -> Result:
    from tqdm.auto import tqdm

    t_start = time.perf_counter()
    blocks = [(c, d) for c in CONDITIONS for d in config.delays_s]
    dmax = max(config.delays_s)
    curves: dict[str, list[float]] = {}
    finals_list: list[float] = []
    arrays: dict[str, torch.Tensor] = {}
    done = 0
    state = checkpoint.load() if checkpoint is not None else None
    if state is not None:
        done, arrays, meta = state
        arrays = dict(arrays)
        curves = {k: list(v) for k, v in meta["curves"].items()}
        finals_list = list(meta["finals"])
    bar = tqdm(total=len(blocks), initial=done, desc="lever-delay", disable=not progress)
    while done < len(blocks):
        cond, d = blocks[done]
        record = cond == "code_trace" and d == dmax
        out = train_lever(config, cond, d, config.seed * 1000 + done, record=record)
        key = f"{cond}_D{_dkey(d)}"
        curves[f"p_lever_{key}"] = out["p_lever"]
        if record:
            for k in ("delta_choice", "delta_pellet", "delta_first_lever_trial",
                      "delta_last_trial"):
                curves[f"{k}_D{_dkey(d)}"] = list(map(float, out[k]))
        finals_list.append(out["final"])
        arrays[f"w_critic_{key}"] = torch.from_numpy(out["w_critic"])
        arrays[f"w_actor_{key}"] = torch.from_numpy(out["w_actor"])
        done += 1
        bar.update(1)
        if checkpoint is not None and checkpoint.due():
            checkpoint.save(done, arrays, {"curves": curves, "finals": finals_list})
    bar.close()
    finals = {c: {} for c in CONDITIONS}
    for (c, d), f in zip(blocks, finals_list):
        finals[c][d] = f
    metrics: dict = {"chance": 1.0 / (2 + config.n_distractors)}
    for c in CONDITIONS:
        learned = _learned(finals[c], config.delays_s, config.criterion)
        suffix = "" if c == "code_trace" else f"_{c}"
        metrics[f"learned_delays_s{suffix}"] = [float(d) for d in learned]
        metrics[f"longest_learned_delay_s{suffix}"] = float(max(learned)) if learned else 0.0
        for d in config.delays_s:
            metrics[f"p_lever_{c}_D{_dkey(d)}"] = finals[c][d]
    timings = {"wall_s": time.perf_counter() - t_start}
    return Result(metrics=metrics, figures=_figures(config, curves, finals), arrays=arrays,
                  curves=curves, timings=timings)
