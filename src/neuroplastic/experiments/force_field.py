"""Reaching in a curl force field: adaptation, after-effect, savings (Shadmehr & Mussa-Ivaldi
1994; Smith, Ghazizadeh & Shadmehr 2006).

The two-joint arm of :class:`neuroplastic.agents.envs.CurlFieldReachEnv` reaches to 8 targets
(10 cm, in shuffled cycles of 8) along minimum-jerk plans. The motor command is

* the null-field inverse dynamics of the planned joint trajectory (the internal model the
  subject had before the experiment),
* plus a joint-space feedback command (stiffness ``kp``, damping ``kd``),
* plus the correction of a cerebellar **adaptive controller**
  (:class:`neuroplastic.agents.AdaptiveController`; mossy fibres: the target and the time in
  the movement; two-rate PF plasticity) trained by feedback-error learning: the climbing-fibre
  error is the feedback command, paired with the PF activity ``cf_lag_steps`` earlier.

A cerebellar **forward model** (:class:`neuroplastic.agents.ForwardModel`; mossy fibres: hand
velocity and the efference copy of the torque) predicts the hand acceleration of each step and
learns from the sensory prediction error (SPE).

Blocks: baseline (no field), field on, washout (field off: after-effect), field on again
(relearning: savings). The lateral error of a reach is the signed perpendicular deviation of
the hand from the straight start–target line half-way through the planned movement (mm;
positive to the left of the movement). Metrics: ``after_effect_sign_ok`` (the first washout
trials deviate opposite to the first field trials), ``savings_ratio`` (trials to criterion in
the first / second exposure, criterion: the 8-trial mean |lateral error| falls to
``criterion_frac`` of the first exposure's initial one; > 1 is savings; a block that never
reaches it counts as ``field_trials + 1`` and ``criterion_reached_*`` says so), initial / final
lateral errors of each exposure, ``spe_first`` / ``spe_last`` (RMS SPE of the first and last
8 trials, m/s²). Curves: lateral error and SPE per trial. Figure: hand paths early / late in
the field and in the washout.

Resumable after every block.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from ..lab.checkpointer import Checkpointer
from .base import Result, register
from .configs.force_field import ForceFieldConfig

__all__ = ["ForceFieldConfig", "inverse_kinematics", "plan_reach", "run", "trials_to_criterion"]

N_TARGETS = 8
WINDOW = 8  # trials per moving mean (one cycle of targets on average)


def inverse_kinematics(p: np.ndarray) -> np.ndarray:
    """Joint angles (elbow flexed, ``q2 > 0``) placing the hand at ``p`` (m)."""
    from ..agents.envs.reaching import ARM

    l1, l2 = ARM["l1"], ARM["l2"]
    c2 = (p[0] ** 2 + p[1] ** 2 - l1 ** 2 - l2 ** 2) / (2 * l1 * l2)
    q2 = math.acos(min(1.0, max(-1.0, c2)))
    q1 = math.atan2(p[1], p[0]) - math.atan2(l2 * math.sin(q2), l1 + l2 * math.cos(q2))
    return np.array([q1, q2])


def plan_reach(env, target: int, movement_s: float) -> dict[str, np.ndarray]:
    """Minimum-jerk hand plan to ``target``; joint plan and its null-field inverse dynamics."""
    from ..agents.envs.reaching import arm_dynamics

    n = env.steps
    tgt = env.target_position(target)
    s = np.clip(np.arange(n + 1) * env.dt_s / movement_s, 0.0, 1.0)
    mj = 10 * s ** 3 - 15 * s ** 4 + 6 * s ** 5
    hand = env.start[None, :] + mj[:, None] * (tgt - env.start)[None, :]
    q = np.array([inverse_kinematics(p) for p in hand])
    dq = np.gradient(q, env.dt_s, axis=0)
    ddq = np.gradient(dq, env.dt_s, axis=0)
    tau = np.empty_like(q)
    for i in range(n + 1):  # accelerations are affine in the torque: invert column by column
        c = arm_dynamics(q[i], dq[i], np.zeros(2), 0.0)
        m_inv = np.stack([arm_dynamics(q[i], dq[i], e, 0.0) - c for e in np.eye(2)], 1)
        tau[i] = np.linalg.solve(m_inv, ddq[i] - c)
    return {"q": q, "dq": dq, "tau": tau, "target": tgt}


def trials_to_criterion(abs_errors, threshold: float, window: int = WINDOW) -> int:
    """First trial count ``n`` (>= ``window``) at which the mean of the last ``window`` values
    is <= ``threshold``; ``len + 1`` if never."""
    a = np.asarray(abs_errors, dtype=np.float64)
    for n in range(window, a.size + 1):
        if a[n - window:n].mean() <= threshold:
            return n
    return a.size + 1


class _Lab:
    """The arm, its plans, the two cerebellar modules and the trial loop."""

    def __init__(self, config: ForceFieldConfig) -> None:
        from ..agents import AdaptiveController, CerebellumParams, ForwardModel, PopulationCode
        from ..agents.envs import CurlFieldReachEnv

        c = self.config = config
        self.env = CurlFieldReachEnv(dt_s=c.dt_s, reach_s=c.movement_s + 0.2, distance_m=0.1,
                                     n_targets=N_TARGETS, substeps=4)
        self.plans = [plan_reach(self.env, k, c.movement_s) for k in range(N_TARGETS)]
        n = self.env.steps
        self.time_code = PopulationCode([0.0], [n * c.dt_s], max(4, n // 2))
        n_ctx = N_TARGETS + self.time_code.size
        self.controller = AdaptiveController(CerebellumParams(
            n_mossy=n_ctx, n_out=2, n_granule=c.n_granule, fan_in=4, threshold=0.3,
            eta_fast=c.eta_fast, eta_slow=c.eta_slow, retain_fast=c.retain_fast,
            retain_slow=c.retain_slow, seed=c.seed))
        self.sensor_code = PopulationCode([-0.6, -0.6, -8.0, -8.0], [0.6, 0.6, 8.0, 8.0], 10)
        self.forward = ForwardModel(CerebellumParams(
            n_mossy=self.sensor_code.size, n_out=2, n_granule=c.n_granule, fan_in=4,
            threshold=0.3, eta_fast=c.eta_forward, seed=c.seed + 1))

    def context(self, target: int, i: int) -> np.ndarray:
        onehot = np.zeros(N_TARGETS)
        onehot[target] = 1.0
        return np.concatenate([onehot, self.time_code([i * self.config.dt_s])])

    def reach(self, target: int, field: float) -> tuple[float, float, np.ndarray]:
        """One trial: lateral error (mm), RMS SPE (m/s²), hand path ``(steps + 1, 2)``."""
        c, env = self.config, self.env
        plan = self.plans[target]
        obs, _ = env.reset(options={"target": target, "field_strength": field})
        u = plan["target"] - env.start
        u /= np.linalg.norm(u)
        mid = int(round(0.5 * c.movement_s / c.dt_s))
        path, xs, spe2 = [obs[4:6].copy()], [], []
        lateral = 0.0
        for i in range(env.steps):
            q, dq, v = obs[0:2], obs[2:4], obs[6:8]
            fb = c.kp * (plan["q"][i] - q) + c.kd * (plan["dq"][i] - dq)
            tau = plan["tau"][i] + fb + self.controller.correction(self.context(target, i))
            xs.append(self.controller.cb.x)
            self.forward.predict(self.sensor_code(np.concatenate([v, tau])))
            obs, _, term, _, _ = env.step(tau)
            spe = self.forward.update((obs[6:8] - v) / c.dt_s)
            spe2.append(float(spe @ spe))
            if i >= c.cf_lag_steps:
                self.controller.cb.learn(fb, x=xs[i - c.cf_lag_steps])
            path.append(obs[4:6].copy())
            if i + 1 == mid:
                d = obs[4:6] - env.start
                lateral = 1000.0 * float(u[0] * d[1] - u[1] * d[0])
            if term:
                break
        self.controller.cb.end_trial()
        return lateral, math.sqrt(float(np.mean(spe2))), np.array(path)

    def state(self) -> dict[str, torch.Tensor]:
        out = {}
        for name, cb in (("controller", self.controller.cb), ("forward", self.forward.cb)):
            out.update({f"{name}.{k}": torch.from_numpy(v)
                        for k, v in cb.state_dict().items()})
        return out

    def load(self, arrays: dict) -> None:
        for name, cb in (("controller", self.controller.cb), ("forward", self.forward.cb)):
            cb.load_state_dict({k[len(name) + 1:]: v for k, v in arrays.items()
                                if k.startswith(name + ".")})


def _blocks(c: ForceFieldConfig) -> list[tuple[str, float, int]]:
    b = c.field_strength
    return [("baseline", 0.0, c.baseline_trials), ("field", b, c.field_trials),
            ("washout", 0.0, c.washout_trials), ("refield", b, c.field_trials)]


def _figure(paths: np.ndarray, targets: np.ndarray, c: ForceFieldConfig, env_start):
    import matplotlib.pyplot as plt

    b0 = c.baseline_trials
    f1 = b0 + c.field_trials
    groups = [("early in the field", range(b0, min(b0 + N_TARGETS, f1))),
              ("late in the field", range(f1 - N_TARGETS, f1)),
              ("after-effect (field off)", range(f1, f1 + min(N_TARGETS, c.washout_trials)))]
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.6), sharex=True, sharey=True)
    for ax, (title, idx) in zip(axes, groups):
        for t in idx:
            p = paths[t] - env_start
            ax.plot(1000 * p[:, 0], 1000 * p[:, 1], lw=1)
        for k in range(N_TARGETS):
            a = 2 * math.pi * k / N_TARGETS
            ax.plot(100 * math.cos(a), 100 * math.sin(a), "ko", ms=4)
        ax.set(title=title, xlabel="x (mm)", aspect="equal")
    axes[0].set_ylabel("y (mm)")
    fig.tight_layout()
    return fig


@register("force-field", ForceFieldConfig,
          "Reaching in a curl field: cerebellar adaptation, after-effect and savings")
def run(config: ForceFieldConfig, *, progress: bool = True,
        checkpoint: Checkpointer | None = None) -> Result:
    from tqdm.auto import tqdm

    t_start = time.perf_counter()
    c = config
    lab = _Lab(c)
    blocks = _blocks(c)
    rng = np.random.Generator(np.random.PCG64(c.seed))  # targets in shuffled cycles of 8
    targets = np.concatenate([rng.permutation(N_TARGETS)
                              for _ in range(-(-c.trials // N_TARGETS))])[:c.trials]
    lateral: list[float] = []
    spe: list[float] = []
    paths: list[np.ndarray] = []
    done = 0
    state = checkpoint.load() if checkpoint is not None else None
    if state is not None:
        done, arrays, meta = state
        lab.load(arrays)
        lateral, spe = list(meta["lateral_mm"]), list(meta["spe"])
        paths = list(arrays["paths"].numpy()) if len(lateral) else []
    bar = tqdm(total=c.trials, initial=len(lateral), desc="force-field", disable=not progress)
    while done < len(blocks):
        _, field, n = blocks[done]
        for _ in range(n):
            lat, s, path = lab.reach(int(targets[len(lateral)]), field)
            lateral.append(lat)
            spe.append(s)
            paths.append(path)
            bar.update(1)
        done += 1
        if checkpoint is not None and checkpoint.due():
            arrays = {**lab.state(), "paths": torch.from_numpy(np.array(paths))}
            checkpoint.save(done, arrays, {"lateral_mm": lateral, "spe": spe})
    bar.close()
    lat = np.array(lateral)
    b0, nf, nw = c.baseline_trials, c.field_trials, c.washout_trials
    f1 = lat[b0:b0 + nf]
    f2 = lat[b0 + nf + nw:]
    wash = lat[b0 + nf:b0 + nf + nw]
    w = min(WINDOW, nf)
    initial1 = float(np.abs(f1[:w]).mean())
    threshold = c.criterion_frac * initial1
    n1 = trials_to_criterion(np.abs(f1), threshold, w)
    n2 = trials_to_criterion(np.abs(f2), threshold, w)
    first_sign = float(np.mean(f1[:w]))
    ae = float(np.mean(wash[:min(w, nw)]))
    sw = min(WINDOW, len(spe))
    metrics = {
        "after_effect_sign_ok": bool(first_sign * ae < 0),
        "savings_ratio": n1 / n2,
        "trials_to_criterion_first": n1, "trials_to_criterion_second": n2,
        "criterion_reached_first": n1 <= nf, "criterion_reached_second": n2 <= nf,
        "criterion_mm": threshold,
        "baseline_lateral_mm": float(np.abs(lat[:b0]).mean()),
        "initial_lateral_mm": initial1, "final_lateral_mm": float(np.abs(f1[-w:]).mean()),
        "initial_lateral_second_mm": float(np.abs(f2[:w]).mean()),
        "final_lateral_second_mm": float(np.abs(f2[-w:]).mean()),
        "first_field_signed_mm": first_sign, "after_effect_signed_mm": ae,
        "spe_first": float(np.mean(spe[:sw])), "spe_last": float(np.mean(spe[-sw:])),
        "spe_field_onset": float(np.mean(spe[b0:b0 + w])),
    }
    path_arr = np.array(paths)
    fig = _figure(path_arr, targets, c, lab.env.start)
    curves = {"lateral_error_mm": [float(v) for v in lat], "spe_rms": [float(v) for v in spe]}
    arrays = {**lab.state(), "paths": torch.from_numpy(path_arr),
              "targets": torch.from_numpy(targets.astype(np.int64))}
    return Result(metrics=metrics, figures={"hand_paths": fig}, arrays=arrays, curves=curves,
                  timings={"wall_s": time.perf_counter() - t_start})
