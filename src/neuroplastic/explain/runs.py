"""Rebuild the trained model of a finished run folder and explain it (``neuroplastic explain``).

Every model is rebuilt from the folder's ``config.json`` and ``arrays.safetensors`` (no pickle):
the experiment's own builder makes the untrained model of the saved config and the saved
tensors are loaded into it, each checked by name and shape — a checkpoint of another model is a
``ValueError`` naming the parameter that does not fit.

=====================  =====================================================================
run type               model and explanation
=====================  =====================================================================
surrogate-digits       64-H-10 LIF network (spike counts): IG, saliency, GradientSHAP,
                       occlusion, interventional spike deletion (:mod:`.pipeline`)
surrogate-randman      20-H LIF -> LI read-out (max membrane): the same five methods over
                       input × time; deletion / insertion vs random and permuted maps
continual-digits       the continual learner's final network (ANN or SNN, pixels as
                       current): the same methods over the 64 pixels
stdp-digits,           Diehl & Cook network (gated and ungated for continual-stdp): pixel
continual-stdp         deletion in the simulator (:mod:`.local_models`)
cartpole, walk         basal-ganglia actor (and critic): occlusion of the observation
                       dimensions against the mean observation, and deletion of place cells
                       of the code; states from greedy roll-outs of the trained agent
lever-delay            basal-ganglia actor-critic on the microstimulus code: deletion of
                       code features along the trials (value) and at the choice (policy)
=====================  =====================================================================

Each returns ``(metrics, figures, title)``; :func:`~.pipeline.explain_run` writes them.
For a run without a trained model (e.g. ``cuba``, a simulation of a fixed network) the error
says so.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

__all__ = [
    "NO_MODEL",
    "SUPPORTED",
    "MaxReadoutScore",
    "StaticScore",
    "baseline_curves",
    "explain_folder",
    "load_cartpole_agent",
    "load_continual_digits",
    "load_continual_stdp",
    "load_lever_delay",
    "load_randman",
    "load_state_checked",
    "load_walk_agent",
    "run_experiment",
]

SUPPORTED = ("surrogate-digits", "stdp-digits", "surrogate-randman", "continual-digits",
             "continual-stdp", "cartpole", "walk", "lever-delay")

#: run types known to leave no trained model, and why
NO_MODEL = {
    "cuba": "a simulation of a fixed, untrained network (its arrays are firing rates and "
            "spike times): there is no learned model to explain",
    "explain-digits": "an explanation run itself (its arrays are attribution maps)",
    "energy-report": "a measurement of SynOps and energy; its classifiers are not saved",
}


# ------------------------------------------------------------------------ reading a folder
def run_experiment(run_dir: str | Path) -> str:
    """The experiment name of a finished result folder (``ValueError`` naming run.json)."""
    run_json = Path(run_dir) / "run.json"
    if not run_json.is_file():
        raise ValueError(f"{run_json}: not found (not a finished result folder)")
    try:
        name = json.loads(run_json.read_text()).get("experiment")
    except (json.JSONDecodeError, AttributeError):
        raise ValueError(f"{run_json}: not a valid run record (JSON object)") from None
    if not isinstance(name, str):
        raise ValueError(f"{run_json}: names no experiment")
    return name


def _config(run_dir: Path, cls: type) -> Any:
    path = run_dir / "config.json"
    if not path.is_file():
        raise ValueError(f"{path}: not found (the run's configuration)")
    try:
        cfg = json.loads(path.read_text()).get("config", {})
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items()})
    except (json.JSONDecodeError, AttributeError, TypeError, ValueError) as e:
        raise ValueError(f"{path}: not a valid {cls.__name__} ({e})") from None


def _arrays(run_dir: Path) -> dict[str, Tensor]:
    from safetensors.torch import load_file

    path = run_dir / "arrays.safetensors"
    if not path.is_file():
        raise ValueError(f"{path}: not found (the run saved no model)")
    try:
        return load_file(str(path))
    except Exception as e:  # noqa: BLE001 - safetensors raises its own error types
        raise ValueError(f"{path}: unreadable ({e})") from None


def _need(arrays: dict[str, Tensor], key: str, shape: tuple[int, ...], run_dir: Path,
          what: str) -> Tensor:
    """``arrays[key]`` with ``shape``, else ``ValueError`` naming the parameter."""
    path = run_dir / "arrays.safetensors"
    if key not in arrays:
        raise ValueError(f"{path}: lacks parameter {key!r} of the {what} "
                         f"(has {sorted(arrays)[:8]})")
    v = arrays[key]
    if tuple(v.shape) != tuple(shape):
        raise ValueError(f"{path}: parameter {key!r} has shape {tuple(v.shape)}, the "
                         f"{what} of config.json needs {tuple(shape)} (a checkpoint of "
                         "another model?)")
    return v


def load_state_checked(module: nn.Module, arrays: dict[str, Tensor], prefix: str,
                       run_dir: Path, what: str) -> nn.Module:
    """Load the ``prefix``-ed tensors of ``arrays`` into ``module``: every parameter and
    buffer must be there with its shape, and nothing else may carry the prefix (``ValueError``
    naming the parameter)."""
    ref = module.state_dict()
    state = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
    for k, v in ref.items():
        state[k] = _need(arrays, prefix + k, tuple(v.shape), run_dir, what).to(v.dtype)
    extra = sorted(set(state) - set(ref))
    if extra:
        raise ValueError(f"{run_dir / 'arrays.safetensors'}: parameter {prefix + extra[0]!r} "
                         f"is not part of the {what} of config.json (a checkpoint of another "
                         "model?)")
    module.load_state_dict(state)
    return module.eval()


# ------------------------------------------------------------------------------- scores
class MaxReadoutScore(nn.Module):
    """``(B, T, n)`` spikes -> softmax of the read-out's maximum membrane over time (the
    prediction rule of ``surrogate-randman``)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        out = self.model(x.transpose(0, 1))
        mem = out[0] if isinstance(out, tuple) else out
        return mem.max(0).values.softmax(-1)


class StaticScore(nn.Module):
    """``(B, 1, n)`` -> softmax of ``model(x[:, 0])`` (a static-input classifier seen as a
    one-step raster, so the same attribution code serves it)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x[:, 0]).softmax(-1)


# ------------------------------------------------------------------------------- loaders
def load_randman(run_dir: str | Path) -> tuple[nn.Module, Any, Tensor, Tensor]:
    """The trained network of a ``surrogate-randman`` folder, its config and the run's test
    split ``(B, T, units)`` float spikes, labels."""
    from ..experiments.configs.surrogate_randman import RandmanConfig
    from ..experiments.surrogate_randman import build_randman_model, randman_splits

    run_dir = Path(run_dir)
    _expect(run_dir, "surrogate-randman")
    config = _config(run_dir, RandmanConfig)
    with torch.random.fork_rng(devices=[]):
        net = build_randman_model(config)
    model = load_state_checked(net, _arrays(run_dir), "model.", run_dir,
                               "surrogate-randman network")
    _, _, test = randman_splits(config)
    x = test.dense(config.num_steps, 1.0).transpose(0, 1).to(torch.float32)
    return model, config, x, test.labels


def load_continual_digits(run_dir: str | Path) -> tuple[nn.Module, Any, Tensor, Tensor]:
    """The final network of a ``continual-digits`` folder (after the last task), its config
    and the held-out digits of all tasks ``(B, 64)``, labels."""
    from ..continual.learner import build_model
    from ..continual.streams import split_digits
    from ..experiments.configs.continual_digits import ContinualDigitsConfig
    from ..experiments.continual_digits import _params

    run_dir = Path(run_dir)
    _expect(run_dir, "continual-digits")
    config = _config(run_dir, ContinualDigitsConfig)
    if config.method == "vcl":
        raise ValueError(f"{run_dir / 'config.json'}: method 'vcl' (a Bayesian network whose "
                         "weights are distributions) is not supported by explain yet")
    with torch.random.fork_rng(devices=[]):
        net = build_model(_params(config), 64, 10)
    model = load_state_checked(net, _arrays(run_dir), "weights.", run_dir,
                               f"continual-digits {config.network} network")
    tasks = split_digits(config.n_tasks, test_size=config.test_size, seed=config.seed)
    x = torch.cat([t.x_test for t in tasks]).to(torch.float32)
    y = torch.cat([t.y_test for t in tasks])
    order = torch.randperm(y.numel(), generator=torch.Generator().manual_seed(config.seed))
    return model, config, x[order], y[order]


def load_continual_stdp(run_dir: str | Path, condition: str = "gated"
                        ) -> tuple[Any, Any, Tensor, Tensor]:
    """The ``condition`` (gated / ungated) Diehl & Cook network of a ``continual-stdp``
    folder after the last task (unlabelled neurons vote for no class), its config and the
    held-out digits of all tasks (shuffled by the seed), labels."""
    from ..continual.streams import split_digits
    from ..experiments.configs.continual_stdp import ContinualStdpConfig
    from ..models.diehl_cook import DiehlCook, DiehlCookParams

    if condition not in ("gated", "ungated"):
        raise ValueError(f"condition must be 'gated' or 'ungated', got {condition!r}")
    run_dir = Path(run_dir)
    _expect(run_dir, "continual-stdp")
    cfg = _config(run_dir, ContinualStdpConfig)
    tasks = split_digits(cfg.n_tasks, test_size=cfg.test_size, seed=cfg.seed)
    n_in = int(tasks[0].x_test.shape[1])
    # the parameters continual_stdp.run builds (the stdp-digits defaults for the digits)
    params = DiehlCookParams(
        n_input=n_in, max_rate_hz=cfg.max_rate_hz, boost_rate_hz=cfg.max_rate_hz / 2,
        weight_sum_per_input=0.2, eta_pre=cfg.eta_pre, eta_post=cfg.eta_post,
        theta_plus_mv=0.05, w_inh_exc_mv=17.5, one_spike=False)
    model = DiehlCook(cfg.n_exc, params, seed=cfg.seed)
    arrays = _arrays(run_dir)
    what = "continual-stdp Diehl & Cook network"
    state = model.state_dict()
    state.update(
        w=_need(arrays, f"weights_{condition}", tuple(state["w"].shape), run_dir, what),
        theta=_need(arrays, f"theta_{condition}", tuple(state["theta"].shape), run_dir, what),
        labels=_need(arrays, f"labels_{condition}", (cfg.n_exc,), run_dir, what).long())
    model.load_state_dict(state)
    x = torch.cat([t.x_test for t in tasks]).to(torch.float64)
    y = torch.cat([t.y_test for t in tasks])
    order = torch.randperm(y.numel(), generator=torch.Generator().manual_seed(cfg.seed))
    return model, cfg, x[order], y[order]


def _set_weights(agent: Any, w_actor: Tensor, w_critic: Tensor | None) -> Any:
    agent.actor.W[:] = w_actor.numpy()
    agent.actor.E[:] = 0.0
    agent.actor.sc[:] = (1.0, 0.0)
    if w_critic is not None:
        agent.critic.W[0] = w_critic.numpy()
        agent.critic.E[:] = 0.0
        agent.critic.sc[:] = (1.0, 0.0)
    return agent


def load_cartpole_agent(run_dir: str | Path, seed_index: int = 0) -> tuple[Any, Any, Any]:
    """Agent ``seed_index`` of a ``cartpole`` folder (actor and critic weights), its config and
    a CartPole-v1 environment."""
    import gymnasium as gym

    from ..experiments.cartpole import make_agent
    from ..experiments.configs.cartpole import CartpoleConfig

    run_dir = Path(run_dir)
    _expect(run_dir, "cartpole")
    config = _config(run_dir, CartpoleConfig)
    env = gym.make("CartPole-v1")
    agent = make_agent(config, config.seed + seed_index, env)
    arrays = _arrays(run_dir)
    what = "cartpole agent"
    wa = _need(arrays, f"w_actor_seed{seed_index}", (agent.n_actions, agent.n_inputs), run_dir,
               what)
    wc = _need(arrays, f"w_critic_seed{seed_index}", (agent.n_inputs,), run_dir, what)
    return _set_weights(agent, wa, wc), config, env


def load_walk_agent(run_dir: str | Path, condition: str = "duet", seed_index: int = 0
                    ) -> tuple[Any, Any, np.ndarray]:
    """The basal-ganglia actor of ``condition`` (duet / bg_alone), seed ``seed_index``, of a
    ``walk`` folder (the run saves no critic), its config and the pushes it chooses among."""
    from ..agents.duet import coarse_levels
    from ..experiments.configs.walk import WalkConfig
    from ..experiments.walk import make_agent

    if condition not in ("duet", "bg_alone"):
        raise ValueError(f"condition must be 'duet' or 'bg_alone', got {condition!r}")
    run_dir = Path(run_dir)
    _expect(run_dir, "walk")
    config = _config(run_dir, WalkConfig)
    bg = make_agent(config, config.seed + seed_index, False).bg
    wa = _need(_arrays(run_dir), f"w_actor_{condition}_seed{seed_index}",
               (bg.n_actions, bg.n_inputs), run_dir, f"walk {condition} actor")
    return (_set_weights(bg, wa, None), config,
            coarse_levels(-config.force, config.force, config.n_levels))


def load_lever_delay(run_dir: str | Path, block: str | None = None
                     ) -> tuple[dict[str, Any], Any]:
    """The actor-critic of one (condition, delay) block of a ``lever-delay`` folder (default:
    ``code_trace`` at the longest delay): ``{"w_actor", "w_critic", "env", "encoder",
    "block", "beta"}`` and the config."""
    from ..agents import MicrostimulusCode
    from ..agents.envs import OperantChamberEnv
    from ..experiments.configs.lever_delay import LeverDelayConfig
    from ..experiments.lever_delay import CONDITIONS, _dkey

    run_dir = Path(run_dir)
    _expect(run_dir, "lever-delay")
    cfg = _config(run_dir, LeverDelayConfig)
    blocks = {f"{c}_D{_dkey(d)}": (c, d) for c in CONDITIONS for d in cfg.delays_s}
    block = f"code_trace_D{_dkey(max(cfg.delays_s))}" if block is None else block
    if block not in blocks:
        raise ValueError(f"block must be one of {sorted(blocks)}, got {block!r}")
    cond, delay = blocks[block]
    env = OperantChamberEnv(delay_s=delay, dt_s=cfg.dt_s, n_distractors=cfg.n_distractors)
    enc = MicrostimulusCode(len(env.channels), n_micro=cfg.n_micro if cond.startswith("code")
                            else 0, tau_s=cfg.code_tau_s, dt_s=cfg.dt_s, bias=True)
    arrays = _arrays(run_dir)
    what = f"lever-delay {block} actor-critic"
    n_act = int(env.action_space.n)
    wa = _need(arrays, f"w_actor_{block}", (n_act, enc.size), run_dir, what)
    wc = _need(arrays, f"w_critic_{block}", (enc.size,), run_dir, what)
    from ..agents import ActorCriticParams

    beta = ActorCriticParams().beta  # lever-delay uses the default inverse temperature
    return {"w_actor": wa.numpy(), "w_critic": wc.numpy(), "env": env, "encoder": enc,
            "block": block, "beta": beta}, cfg


def _expect(run_dir: Path, name: str) -> None:
    got = run_experiment(run_dir)
    if got != name:
        raise ValueError(f"{run_dir / 'run.json'}: run of {got!r}, not of {name}")


# -------------------------------------------------------------------------- validity
def baseline_curves(score: Callable[[Tensor], Tensor], x: Tensor, target: Tensor,
                    attr: Tensor, baseline: Tensor, *, mode: str = "deletion") -> Tensor:
    """Deletion / insertion curves for real-valued inputs ``(B, d)``: the ``k`` most
    attributed features are replaced by ``baseline`` ``(d,)`` (deletion), or only they are
    kept and the rest is at the baseline (insertion); ``(B, d + 1)``, column ``k`` the target
    score with ``k`` features changed."""
    from .._validation import check_choice

    check_choice("mode", mode, ("deletion", "insertion"))
    b, d = x.shape
    order = torch.argsort(attr, dim=1, descending=True, stable=True)
    pos = torch.empty_like(order)
    pos.scatter_(1, order, torch.arange(d).expand(b, d).contiguous())
    out = torch.empty(b, d + 1, dtype=torch.float64)
    base = baseline.to(x.dtype).expand(b, d)
    with torch.no_grad():
        for k in range(d + 1):
            top = pos < k
            xk = torch.where(top, base, x) if mode == "deletion" else torch.where(top, x, base)
            out[:, k] = score(xk).gather(1, target.long()[:, None])[:, 0].to(torch.float64)
    return out


def _versus_random(score: Callable, x: Tensor, target: Tensor, attr: Tensor, seed: int,
                   curve: Callable, name: str, **kw: Any) -> tuple[dict[str, float], dict]:
    """Deletion and insertion AUCs of ``attr`` and of a random order, one-sided paired
    Wilcoxon; metrics ``{name}_{mode}_auc[_random|_p]`` and mean curves."""
    from .validity import auc, paired_test

    rnd = torch.rand(attr.shape, generator=torch.Generator().manual_seed(seed + 1),
                     dtype=torch.float64)
    m: dict[str, float] = {}
    curves: dict[str, dict[str, Tensor]] = {}
    for mode, alt in (("deletion", "less"), ("insertion", "greater")):
        ours = curve(score, x, target, attr, mode=mode, **kw)
        rand = curve(score, x, target, rnd, mode=mode, **kw)
        m[f"{name}_{mode}_auc"] = float(auc(ours).mean())
        m[f"{name}_{mode}_auc_random"] = float(auc(rand).mean())
        m[f"{name}_{mode}_p"] = (paired_test(auc(ours), auc(rand), alt) if x.shape[0] > 1
                                 else float("nan"))
        curves[mode] = {name: ours, "random": rand}
    return m, curves


# ------------------------------------------------------------------------ explainers
def _gradient_models(score: nn.Module, x: Tensor, y: Tensor, n_explain: int, seed: int,
                     window: int) -> tuple[dict[str, Any], Any, Tensor, Tensor]:
    from .pipeline import faithfulness

    n = min(n_explain, x.shape[0])
    x = x[:n]
    with torch.no_grad():
        pred = score(x).argmax(1)
    res = faithfulness(score, x, pred, seed=seed, window=window)
    metrics: dict[str, Any] = {"n_explained": n,
                               "accuracy_explained": float((pred == y[:n]).float().mean())}
    metrics.update(res.metrics())
    return metrics, res, x, pred


def _explain_randman(run_dir: Path, n_explain: int, seed: int):
    from .pipeline import curve_figure, map_figure

    model, config, x, y = load_randman(run_dir)
    window = max(1, config.num_steps // 20)
    metrics, res, x, pred = _gradient_models(MaxReadoutScore(model), x, y, n_explain, seed,
                                             window)
    metrics["occlusion_window_steps"] = window
    return metrics, {"maps": map_figure(x, res.maps, pred),
                     "curves": curve_figure(res.curves)}, "surrogate-randman LIF network"


def _image_maps_figure(x: Tensor, maps: dict[str, Tensor], labels: Tensor, n_show: int = 3):
    import matplotlib.pyplot as plt

    side = int(round(x.shape[-1] ** 0.5))
    n_show = min(n_show, x.shape[0])
    cols = 1 + len(maps)
    fig, axes = plt.subplots(n_show, cols, figsize=(1.8 * cols, 1.9 * n_show), squeeze=False)
    for i in range(n_show):
        axes[i, 0].imshow(x[i].reshape(side, side).numpy(), cmap="gray_r")
        axes[i, 0].set_title(f"class {int(labels[i])}", fontsize=8)
        for j, (name, a) in enumerate(maps.items(), start=1):
            v = a[i].reshape(side, side).numpy()
            lim = float(np.abs(v).max()) or 1.0
            axes[i, j].imshow(v, cmap="RdBu_r", vmin=-lim, vmax=lim)
            if i == 0:
                axes[i, j].set_title(name, fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def _explain_continual_digits(run_dir: Path, n_explain: int, seed: int):
    from .pipeline import curve_figure

    model, config, x, y = load_continual_digits(run_dir)
    metrics, res, x3, pred = _gradient_models(StaticScore(model), x[:, None], y, n_explain,
                                              seed, 1)
    maps = {k: v[:, 0] for k, v in res.maps.items()}
    return metrics, {"maps": _image_maps_figure(x3[:, 0], maps, pred),
                     "curves": curve_figure(res.curves)}, (
        f"continual-digits {config.network} network after the last task ({config.method})")


def _explain_continual_stdp(run_dir: Path, n_explain: int, seed: int):
    from .local_models import diehl_cook_explanation

    metrics: dict[str, Any] = {}
    figs = {}
    for c in ("gated", "ungated"):
        model, _cfg, x, y = load_continual_stdp(run_dir, c)
        m, fig = diehl_cook_explanation(model, x, y, n_explain=n_explain, seed=seed)
        metrics.update({f"{c}_{k}": v for k, v in m.items()})
        figs[f"maps_{c}"] = fig
    return metrics, figs, "continual-stdp Diehl & Cook networks (interventional)"


def _rollout_obs(env: Any, choose: Callable, n: int, seed: int, max_steps: int) -> np.ndarray:
    """States visited by the greedy policy ``choose`` over seeded episodes, ``n`` of them
    evenly spread over at most ``max_steps`` steps."""
    obs_list: list[np.ndarray] = []
    e = 0
    while len(obs_list) < max_steps and e < 1000:
        o, _ = env.reset(seed=seed * 1_000_003 + e)
        while len(obs_list) < max_steps:
            obs_list.append(np.asarray(o, dtype=np.float64))
            o, _r, term, trunc, _ = env.step(choose(o))
            if term or trunc:
                break
        e += 1
    idx = np.unique(np.linspace(0, len(obs_list) - 1, min(n, len(obs_list))).round()
                    .astype(int))
    return np.stack([obs_list[i] for i in idx])


def _agent_metrics(agent: Any, obs: np.ndarray, seed: int, outputs: tuple[str, ...],
                   prefix: str = "") -> tuple[dict[str, Any], dict[str, Any]]:
    """Occlusion of the observation dimensions (policy) and code-feature deletion (each of
    ``outputs``), each against a random order; metrics and what the figures need."""
    from .local_models import (
        _encode,
        agent_attribution,
        agent_score,
        linear_code_attribution,
        linear_code_score,
    )
    from .validity import perturbation_curves

    o = torch.as_tensor(obs, dtype=torch.float64)
    occ, t = agent_attribution(agent, o, output="policy")
    m, occ_curves = _versus_random(agent_score(agent, "policy"), o, t, occ, seed,
                                   baseline_curves, "policy_obs", baseline=o.mean(0))
    code = torch.as_tensor(np.stack([_encode(agent, r) for r in obs]))
    n_active = int((code > 0).sum(1).min())
    steps = max(1, min(10, n_active))
    curves = {}
    for out in outputs:
        w_c = agent.w_critic if out == "value" else None
        attr, tc = linear_code_attribution(code, agent.w_actor, w_c, agent.params.beta,
                                           output=out, discrete=agent.discrete)
        score = linear_code_score(agent.w_actor, w_c, agent.params.beta, output=out,
                                  discrete=agent.discrete)
        mm, curves[out] = _versus_random(score, code, tc, attr, seed, perturbation_curves,
                                         f"{out}_code", steps=steps)
        m.update(mm)
    m = {prefix + k: v for k, v in m.items()}
    m[prefix + "n_explained"] = int(o.shape[0])
    m[prefix + "code_active_features_min"] = n_active
    return m, {"occlusion": occ, "obs_curves": occ_curves, "code_curves": curves}


def _agent_figure(parts: dict[str, dict[str, Any]], obs_names: list[str]):
    import matplotlib.pyplot as plt

    from .validity import auc

    rows = len(parts)
    ncols = 1 + max(len(p["code_curves"]) for p in parts.values()) + 1
    fig, axes = plt.subplots(rows, ncols, figsize=(3.6 * ncols, 3.1 * rows), squeeze=False)
    for r, (tag, p) in enumerate(parts.items()):
        a = p["occlusion"].numpy()
        ax = axes[r, 0]
        ax.bar(np.arange(a.shape[1]), np.abs(a).mean(0), yerr=np.abs(a).std(0), capsize=3)
        ax.set_xticks(np.arange(a.shape[1]), obs_names, fontsize=7)
        ax.set(ylabel="|Δ P(greedy action)|", title=f"{tag}: occlusion of the state")
        panels = [("state dims (policy)", p["obs_curves"]),
                  *((f"code features ({k})", v) for k, v in p["code_curves"].items())]
        for j, (title, cs) in enumerate(panels, start=1):
            ax = axes[r, j]
            for mode, style in (("deletion", "-"), ("insertion", "--")):
                for name, cv in cs[mode].items():
                    frac = np.linspace(0, 1, cv.shape[1])
                    ax.plot(frac, cv.mean(0).numpy(), style,
                            color="k" if name == "random" else "C0" if mode == "deletion"
                            else "C1",
                            label=f"{mode} {'random' if name == 'random' else 'attributed'}"
                                  f" (AUC {float(auc(cv).mean()):.3f})")
            ax.set(xlabel="fraction changed", title=title)
            ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


def _explain_cartpole(run_dir: Path, n_explain: int, seed: int):
    agent, _config, env = load_cartpole_agent(run_dir)
    obs = _rollout_obs(env, lambda o: int(np.argmax(agent.policy(o))), n_explain, seed,
                       max(20 * n_explain, 500))
    env.close()
    m, parts = _agent_metrics(agent, obs, seed, ("policy", "value"))
    names = ["cart x", "cart v", "pole θ", "pole ω"]
    return m, {"maps": _agent_figure({"seed 0": parts}, names)}, (
        "cartpole basal-ganglia agent (seed 0): occlusion and place-cell deletion")


def _explain_walk(run_dir: Path, n_explain: int, seed: int):
    import gymnasium as gym

    from ..experiments.walk import ENV_ID, require_mujoco

    require_mujoco()
    metrics: dict[str, Any] = {}
    parts = {}
    for cond in ("duet", "bg_alone"):
        bg, config, levels = load_walk_agent(run_dir, cond)
        env = gym.make(ENV_ID, max_episode_steps=config.max_steps)
        obs = _rollout_obs(
            env, lambda o, bg=bg, lv=levels: np.array([lv[int(np.argmax(bg.policy(o)))]],
                                           dtype=np.float32),
            n_explain, seed, max(20 * n_explain, 500))
        env.close()
        m, parts[cond] = _agent_metrics(bg, obs, seed, ("policy",), prefix=f"{cond}_")
        metrics.update(m)
    names = ["cart x", "pole θ", "cart v", "pole ω"]
    return metrics, {"maps": _agent_figure(parts, names)}, (
        "walk: the basal ganglia's choice of push (seed 0, greedy roll-outs in the original "
        "body; the cerebellum's correction is not part of it)")


def _lever_states(d: dict[str, Any]) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Codes of every state of one trial per first action (idle, lever, distractors), the
    code carried along as the agent sees it; and (first action, step) of each row."""
    env, enc = d["env"], d["encoder"]
    codes, where = [], []
    for a0 in range(int(env.action_space.n)):
        obs, _ = env.reset(seed=0)
        enc.reset()
        step = 0
        while True:
            codes.append(enc(obs))
            where.append((a0, step))
            obs, _r, _term, trunc, _ = env.step(a0 if step == 0 else 0)
            step += 1
            if trunc:
                break
    return np.stack(codes), where


def _explain_lever_delay(run_dir: Path, n_explain: int, seed: int):
    import matplotlib.pyplot as plt

    from .local_models import linear_code_attribution, linear_code_score
    from .validity import perturbation_curves

    d, _cfg = load_lever_delay(run_dir)
    codes, where = _lever_states(d)
    code = torch.as_tensor(codes)
    n_active = int((code > 0).sum(1).min())
    m, curves = {}, {}
    attr_v, tv = linear_code_attribution(code, d["w_actor"], d["w_critic"], d["beta"],
                                         output="value")
    score_v = linear_code_score(d["w_actor"], d["w_critic"], d["beta"], output="value")
    mm, curves["value"] = _versus_random(score_v, code, tv, attr_v, seed, perturbation_curves,
                                         "value_code", steps=max(1, min(10, n_active)))
    m.update(mm)
    start = code[:1]  # the choice: the first state of a trial (the same for every trial)
    attr_p, tp = linear_code_attribution(start, d["w_actor"], None, d["beta"])
    score_p = linear_code_score(d["w_actor"], None, d["beta"])
    mm, curves["policy"] = _versus_random(score_p, start, tp, attr_p, seed,
                                          perturbation_curves, "policy_code",
                                          steps=max(1, int((start > 0).sum())))
    m.update({k: v for k, v in mm.items() if not k.endswith("_p")})
    with torch.no_grad():
        p0 = score_p(start)[0]
    m.update({"block": d["block"], "n_explained": int(code.shape[0]),
              "p_lever_at_choice": float(p0[1]), "greedy_choice": int(tp[0])})
    env, enc = d["env"], d["encoder"]
    lever_rows = [i for i, (a0, _s) in enumerate(where) if a0 == 1]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    a = attr_v[lever_rows].numpy().T
    lim = float(np.abs(a).max()) or 1.0
    axes[0].imshow(a, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim,
                   extent=(0, len(lever_rows) * env.dt_s, enc.size - 0.5, -0.5))
    for k, ch in enumerate(env.channels):
        axes[0].axhline(k * enc.n_micro - 0.5, color="k", lw=0.3)
        axes[0].text(0, k * enc.n_micro + enc.n_micro / 2, ch, fontsize=6, va="center")
    axes[0].set(xlabel="time in a lever trial (s)", ylabel="code feature (microstimulus)",
                title=f"value: code-feature deletion ({d['block']})")
    axes[1].bar(np.arange(enc.size), attr_p[0].numpy())
    axes[1].set(xlabel="code feature", ylabel="Δ P(greedy action)",
                title=f"choice: P(lever) = {float(p0[1]):.2f}")
    for mode, style in (("deletion", "-"), ("insertion", "--")):
        for name, cv in curves["value"][mode].items():
            axes[2].plot(np.linspace(0, 1, cv.shape[1]), cv.mean(0).numpy(), style,
                         color="k" if name == "random" else "C0",
                         label=f"{mode} {'random' if name == 'random' else 'attributed'}")
    axes[2].set(xlabel="fraction of active features changed", ylabel="value",
                title="value: deletion / insertion")
    axes[2].legend(fontsize=7)
    fig.tight_layout()
    return m, {"maps": fig}, f"lever-delay actor-critic ({d['block']}): code-feature deletion"


EXPLAINERS: dict[str, Callable] = {
    "surrogate-randman": _explain_randman,
    "continual-digits": _explain_continual_digits,
    "continual-stdp": _explain_continual_stdp,
    "cartpole": _explain_cartpole,
    "walk": _explain_walk,
    "lever-delay": _explain_lever_delay,
}


def explain_folder(run_dir: str | Path, *, n_explain: int = 100, seed: int = 0
                   ) -> tuple[dict[str, Any], dict[str, Any], str]:
    """``(metrics, figures, title)`` of the model of a finished run folder of one of the
    types in :data:`EXPLAINERS` (``ValueError`` for any other, saying why)."""
    run_dir = Path(run_dir)
    name = run_experiment(run_dir)
    if name in NO_MODEL:
        raise ValueError(f"{run_dir / 'run.json'}: run of {name!r}, {NO_MODEL[name]}")
    if name in ("surrogate-digits", "stdp-digits"):
        raise ValueError(f"{run_dir / 'run.json'}: run of {name!r}: explain it with "
                         "neuroplastic.explain.pipeline.explain_run")
    if name not in EXPLAINERS:
        keys = sorted(_arrays(run_dir)) if (run_dir / "arrays.safetensors").is_file() else []
        raise ValueError(f"{run_dir / 'run.json'}: run of {name!r}, which leaves no model "
                         f"explain can rebuild (saved arrays: {keys[:6] or 'none'}); explain "
                         f"supports {', '.join(SUPPORTED)}")
    return EXPLAINERS[name](run_dir, n_explain, seed)
