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
force-field            cerebellar adaptive controller (end of the run): its correction
                       along its own direction in the (target, time) contexts of the reaches,
                       explained by granule-cell deletion (exact: a linear Purkinje read-out)
                       and occlusion of the mossy fibres (target, time in the reach); the
                       forward model's predicted acceleration at the states of frozen reaches
                       in the field: granule deletion and occlusion of its inputs (hand
                       velocity, torque command)
eyeblink               one cerebellum per CS-US interval: the conditioned response on the
                       CS-alone probe at the steps within ``peak_tolerance`` of the US time,
                       granule-cell deletion and occlusion of the CS trace's microstimuli
sanger-pca             the Hebbian components (a linear map): each digit's dominant component
                       score, pixels occluded by their mean (Captum occlusion and IG, equal to
                       the analytic ``W_ji (x_i - mean_i)``)
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
    "load_eyeblink",
    "load_force_field",
    "load_lever_delay",
    "load_randman",
    "load_sanger_pca",
    "load_state_checked",
    "load_walk_agent",
    "pca_score",
    "run_experiment",
]

SUPPORTED = ("surrogate-digits", "stdp-digits", "surrogate-randman", "continual-digits",
             "continual-stdp", "cartpole", "walk", "lever-delay", "force-field", "eyeblink",
             "sanger-pca")

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
    from ..experiments.continual_stdp import model_params
    from ..models.diehl_cook import DiehlCook

    if condition not in ("gated", "ungated"):
        raise ValueError(f"condition must be 'gated' or 'ungated', got {condition!r}")
    run_dir = Path(run_dir)
    _expect(run_dir, "continual-stdp")
    cfg = _config(run_dir, ContinualStdpConfig)
    tasks = split_digits(cfg.n_tasks, test_size=cfg.test_size, seed=cfg.seed)
    n_in = int(tasks[0].x_test.shape[1])
    model = DiehlCook(cfg.n_exc, model_params(cfg, n_in), seed=cfg.seed)
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
    if config.env != "inverted_pendulum":
        raise ValueError(f"env: explain rebuilds the walk agent of InvertedPendulum-v5 runs "
                         f"(env='inverted_pendulum'); this run used env={config.env!r}, whose "
                         f"posture-choosing agent it does not explain yet")
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


# ------------------------------------------------------------------------------ cerebellum
def _load_cerebellum(cb: Any, arrays: dict[str, Tensor], prefix: str, run_dir: Path,
                     what: str) -> Any:
    """Load the ``prefix``-ed state of a :class:`~neuroplastic.agents.Cerebellum` (PF
    weights, last granule activity, wiring), each checked by name and shape; the saved wiring
    must be the one config.json's seed and sizes build."""
    ref = cb.state_dict()
    got = {k: _need(arrays, prefix + k, tuple(v.shape), run_dir, what) for k, v in ref.items()}
    if not np.array_equal(got["wiring"].numpy(), ref["wiring"]):
        raise ValueError(f"{run_dir / 'arrays.safetensors'}: parameter {prefix + 'wiring'!r} "
                         f"differs from the granule wiring of the {what} of config.json (a "
                         "checkpoint of another seed or model?)")
    cb.load_state_dict(got)
    return cb


def load_force_field(run_dir: str | Path) -> tuple[Any, Any]:
    """The arm, plans and the two cerebellar modules (adaptive controller, forward model) of
    a ``force-field`` folder at the end of the run (after the second field exposure), and its
    config."""
    from ..experiments.configs.force_field import ForceFieldConfig
    from ..experiments.force_field import _Lab

    run_dir = Path(run_dir)
    _expect(run_dir, "force-field")
    config = _config(run_dir, ForceFieldConfig)
    lab = _Lab(config)
    arrays = _arrays(run_dir)
    for name, mod in (("controller", lab.controller), ("forward", lab.forward)):
        _load_cerebellum(mod.cb, arrays, f"{name}.", run_dir, f"force-field {name}")
    return lab, config


def load_eyeblink(run_dir: str | Path) -> tuple[dict[int, tuple[Any, Any]], Any]:
    """``{isi_ms: (cerebellum, CS code)}`` of an ``eyeblink`` folder (one trained cerebellum
    per interval; the granule wiring is rebuilt from the seed, the PF weights ``w_<isi>`` are
    loaded) and its config."""
    from ..experiments.configs.eyeblink import EyeblinkConfig
    from ..experiments.eyeblink import _parts

    run_dir = Path(run_dir)
    _expect(run_dir, "eyeblink")
    c = _config(run_dir, EyeblinkConfig)
    arrays = _arrays(run_dir)
    out = {}
    for isi in c.isis_ms:
        _env, code, cb = _parts(c, isi)
        w = _need(arrays, f"w_{isi}", (1, c.n_granule), run_dir,
                  f"eyeblink cerebellum (ISI {isi} ms)")
        cb.w_fast = w.numpy().astype(np.float64)
        out[isi] = (cb, code)
    extra = sorted(set(arrays) - {f"w_{isi}" for isi in c.isis_ms})
    if extra:
        raise ValueError(f"{run_dir / 'arrays.safetensors'}: parameter {extra[0]!r} is not "
                         f"part of the eyeblink cerebella of config.json (intervals "
                         f"{list(c.isis_ms)}; a checkpoint of another model?)")
    return out, c


def _cerebellum_metrics(cb: Any, mossy: np.ndarray, readout: Tensor, seed: int, name: str,
                        groups: dict[str, list[int]] | None = None
                        ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Granule-cell deletion (exact) and mossy-fibre occlusion of a cerebellum's output along
    ``readout`` (:func:`~.local_models.cerebellum_readout`) in the contexts ``mossy``, each
    against a random order; ``groups``: input variables (their fibres) occluded together."""
    from .local_models import (
        granule_attribution,
        granule_readout_score,
        mossy_attribution,
        mossy_readout_score,
    )
    from .validity import perturbation_curves

    mo = torch.as_tensor(mossy, dtype=torch.float64)
    x = torch.as_tensor(np.stack([cb.granule(r) for r in mossy]))
    g_attr, t = granule_attribution(x, readout)
    n_active = int((x > 0).sum(1).min())
    m, g_curves = _versus_random(granule_readout_score(readout), x, t, g_attr, seed,
                                 perturbation_curves, f"{name}_granule",
                                 steps=max(1, min(10, n_active)))
    m_attr, _ = mossy_attribution(cb.granule, mo, readout)
    mm, m_curves = _versus_random(mossy_readout_score(cb.granule, readout), mo, t, m_attr,
                                  seed, baseline_curves, f"{name}_mossy",
                                  baseline=torch.zeros(mo.shape[1], dtype=torch.float64))
    m.update(mm)
    with torch.no_grad():
        out = granule_readout_score(readout)(x)[:, 0]
    m[f"{name}_granule_active_min"] = n_active
    m[f"{name}_output_mean"] = float(out.mean())
    # the output is the sum of the granule contributions (a linear read-out): completeness
    m[f"{name}_granule_completeness_err"] = float((g_attr.sum(1) - out).abs().max())
    if groups:
        mask = torch.zeros(mo.shape[1], dtype=torch.int64)
        for j, idx in enumerate(groups.values()):
            mask[idx] = j
        v_attr, _ = mossy_attribution(cb.granule, mo, readout, feature_mask=mask)
        for var, idx in groups.items():
            m[f"{name}_occlude_{var}_mean"] = float(v_attr[:, idx[0]].mean())
    return m, {"granule": g_attr, "mossy": m_attr, "granule_curves": g_curves,
               "mossy_curves": m_curves}


def _curve_panel(ax: Any, cs: dict[str, dict[str, Tensor]], title: str, xlabel: str) -> None:
    from .validity import auc

    for mode, style in (("deletion", "-"), ("insertion", "--")):
        for name, cv in cs[mode].items():
            rnd = name == "random"
            ax.plot(np.linspace(0, 1, cv.shape[1]), cv.mean(0).numpy(), style,
                    color="k" if rnd else "C0" if mode == "deletion" else "C1",
                    label=f"{mode} {'random' if rnd else 'attributed'} "
                          f"(AUC {float(auc(cv).mean()):.3g})")
    ax.set(xlabel=xlabel, title=title)
    ax.legend(fontsize=6)


def _force_field_rollout(lab: Any, field: float) -> np.ndarray:
    """The forward model's inputs ``(8 · steps, 4)`` (hand velocity, joint torque) along one
    reach to every target in a field of strength ``field``, with both cerebella frozen (no
    learning, no retention: the run's final weights throughout)."""
    from ..experiments.force_field import N_TARGETS

    seen: list[np.ndarray] = []
    code = lab.sensor_code
    cbs = (lab.controller.cb, lab.forward.cb)

    def record(v: np.ndarray) -> np.ndarray:
        seen.append(np.array(v, dtype=np.float64))
        return code(v)

    lab.sensor_code = record
    for cb in cbs:
        cb.learn = cb.end_trial = lambda *a, **k: None
    try:
        for k in range(N_TARGETS):
            lab.reach(k, field)
    finally:
        lab.sensor_code = code
        for cb in cbs:
            del cb.learn, cb.end_trial
    return np.stack(seen)


def _spread(norm: np.ndarray, n: int) -> np.ndarray:
    """Indices of ``n`` rows evenly spread over those whose output norm is not negligible
    (> 5 % of the largest)."""
    keep = np.nonzero(norm > 0.05 * norm.max())[0]
    return keep[np.unique(np.linspace(0, keep.size - 1, min(n, keep.size)).round()
                          .astype(int))]


def _explain_force_field(run_dir: Path, n_explain: int, seed: int):
    import matplotlib.pyplot as plt
    from captum.attr import FeatureAblation

    from ..experiments.force_field import N_TARGETS
    from .local_models import cerebellum_readout, mossy_readout_score

    lab, c = load_force_field(run_dir)
    # the adaptive controller: its correction in every (target, time) context of a reach
    cb = lab.controller.cb
    where = [(k, i) for k in range(N_TARGETS) for i in range(lab.env.steps)]
    mossy = np.stack([lab.context(k, i) for k, i in where])
    y = -cb.params.dn_gain * np.stack([cb.granule(r) for r in mossy]) @ cb.weights.T
    norm = np.linalg.norm(y, axis=1)
    if not norm.max() > 0:
        raise ValueError(f"{run_dir / 'arrays.safetensors'}: the adaptive controller's PF "
                         "weights give no correction in any context: nothing to explain")
    idx = _spread(norm, n_explain)
    u = y[idx] / norm[idx, None]  # the explained scalar: the correction along its direction
    readout = cerebellum_readout(cb.weights, cb.params.dn_gain, u)
    n_t = N_TARGETS
    groups = {"target": list(range(n_t)), "time": list(range(n_t, mossy.shape[1]))}
    m, parts = _cerebellum_metrics(cb, mossy[idx], readout, seed, "controller", groups)
    m.update({"n_explained": int(idx.size), "n_contexts": len(where),
              "correction_norm_mean": float(norm[idx].mean()),
              "correction_norm_max": float(norm.max())})
    # the forward model: its predicted hand acceleration at the states of frozen reaches in
    # the field; inputs hand velocity (2) and the efference copy of the torque (2)
    fcb = lab.forward.cb
    obs = _force_field_rollout(lab, c.field_strength)
    f_mossy = np.stack([lab.sensor_code(o) for o in obs])
    fy = -fcb.params.dn_gain * np.stack([fcb.granule(r) for r in f_mossy]) @ fcb.weights.T
    f_norm = np.linalg.norm(fy, axis=1)
    f_parts = None
    if f_norm.max() > 0:
        fi = _spread(f_norm, n_explain)
        f_read = cerebellum_readout(fcb.weights, fcb.params.dn_gain, fy[fi] / f_norm[fi, None])
        npd = lab.sensor_code.n_per_dim
        mm, f_parts = _cerebellum_metrics(fcb, f_mossy[fi], f_read, seed, "forward",
                                          {"velocity": list(range(2 * npd)),
                                           "command": list(range(2 * npd, 4 * npd))})
        m.update(mm)
        # occlusion of the four input variables (each set to its mean over the states)
        mscore = mossy_readout_score(fcb.granule, f_read)

        def var_score(o: Tensor) -> Tensor:
            return mscore(torch.as_tensor(np.stack([lab.sensor_code(r) for r in o.numpy()])))

        o = torch.as_tensor(obs[fi])
        base = o.mean(0)
        t0 = torch.zeros(o.shape[0], dtype=torch.int64)
        v_attr = FeatureAblation(var_score).attribute(o, baselines=base[None], target=t0,
                                                      perturbations_per_eval=4).detach()
        mm, f_parts["var_curves"] = _versus_random(var_score, o, t0, v_attr, seed,
                                                   baseline_curves, "forward_vars",
                                                   baseline=base)
        m.update(mm)
        f_parts["vars"] = v_attr
        for j, var in enumerate(("vx", "vy", "tau1", "tau2")):
            m[f"forward_occlude_{var}_mean"] = float(v_attr[:, j].mean())
        m.update({"forward_n_explained": int(fi.size),
                  "forward_prediction_norm_mean": float(f_norm[fi].mean())})
    rows = 1 if f_parts is None else 2
    fig, axes = plt.subplots(rows, 3, figsize=(13, 3.8 * rows), squeeze=False)
    a = parts["mossy"].numpy()
    lim = float(np.abs(a).max()) or 1.0
    axes[0, 0].imshow(a, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim,
                      interpolation="none")
    axes[0, 0].axvline(n_t - 0.5, color="k", lw=0.8)
    axes[0, 0].set(xlabel=f"mossy fibre (0-{n_t - 1}: target, then time in the reach)",
                   ylabel="explained context (target, step)",
                   title="controller: Δ correction (N m) per occluded fibre")
    _curve_panel(axes[0, 1], parts["granule_curves"], "controller: granule-cell deletion",
                 "fraction of active granule cells changed")
    _curve_panel(axes[0, 2], parts["mossy_curves"], "controller: mossy-fibre occlusion",
                 "fraction of mossy fibres changed")
    axes[0, 1].set_ylabel("correction along its direction (N m)")
    if f_parts is not None:
        va = f_parts["vars"].numpy()
        names = ["hand vx", "hand vy", "torque 1", "torque 2"]
        axes[1, 0].bar(np.arange(4), va.mean(0), yerr=va.std(0), capsize=3)
        axes[1, 0].set_xticks(np.arange(4), names, fontsize=8)
        axes[1, 0].set(ylabel="Δ prediction (m/s²)",
                       title="forward model: occlusion of its inputs (→ mean)")
        _curve_panel(axes[1, 1], f_parts["granule_curves"],
                     "forward model: granule-cell deletion",
                     "fraction of active granule cells changed")
        _curve_panel(axes[1, 2], f_parts["var_curves"], "forward model: input variables",
                     "fraction of variables changed")
        axes[1, 1].set_ylabel("predicted acceleration along its direction (m/s²)")
    fig.tight_layout()
    return m, {"maps": fig}, (
        "force-field: the cerebellar adaptive controller's learned correction (target, time) "
        "and the forward model's prediction (velocity, command), end of the run")


def _eyeblink_rows(cbs: dict[int, tuple[Any, Any]], c: Any, n_explain: int
                   ) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray], list[tuple[int, int]]]:
    """CS-alone probe codes (mossy) and CRs of every interval; (isi, step) of the explained
    rows: the steps within ``peak_tolerance`` of the US time."""
    from ..experiments.eyeblink import probe

    codes, crs, where = {}, {}, []
    for isi, (cb, code) in cbs.items():
        k_us = isi // c.dt_ms
        code.reset()
        codes[isi] = np.stack([code(np.array([1.0])) for _ in range(2 * k_us)])
        crs[isi] = probe(cb, [cb.granule(r) for r in codes[isi]])
        w = max(1, round(c.peak_tolerance * k_us))
        where += [(isi, k) for k in range(max(0, k_us - w), min(2 * k_us, k_us + w + 1))]
    idx = np.unique(np.linspace(0, len(where) - 1, min(n_explain, len(where))).round()
                    .astype(int))
    return codes, crs, [where[i] for i in idx]


def _explain_eyeblink(run_dir: Path, n_explain: int, seed: int):
    import matplotlib.pyplot as plt

    from .local_models import cerebellum_readout

    cbs, c = load_eyeblink(run_dir)
    codes, crs, rows = _eyeblink_rows(cbs, c, n_explain)
    cb0 = cbs[c.isis_ms[0]][0]  # the granule wiring is the same for every interval (seed)
    mossy = np.stack([codes[isi][k] for isi, k in rows])
    readout = torch.cat([cerebellum_readout(cbs[isi][0].weights, cbs[isi][0].params.dn_gain,
                                            np.ones((1, 1))) for isi, _k in rows])
    m, parts = _cerebellum_metrics(cb0, mossy, readout, seed, "cr")
    m.update({"n_explained": len(rows), "window_frac": c.peak_tolerance})
    for isi in c.isis_ms:
        m[f"cr_at_us_{isi}"] = float(crs[isi][isi // c.dt_ms])
    # microstimulus j peaks where the CS trace exp(-t/tau) equals its centre
    code = cbs[c.isis_ms[0]][1]
    peak_ms = -c.trace_tau_ms * np.log(code.centres)
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
    a = parts["mossy"].numpy()
    for isi in c.isis_ms:
        t = np.arange(crs[isi].size) * c.dt_ms
        axes[0].plot(t, crs[isi], label=f"ISI {isi} ms")
        sel = [i for i, (s, _k) in enumerate(rows) if s == isi]
        if sel:
            axes[0].axvspan(rows[sel[0]][1] * c.dt_ms, rows[sel[-1]][1] * c.dt_ms, alpha=0.15)
            axes[1].plot(peak_ms, a[sel].mean(0), "o-", ms=3, label=f"ISI {isi} ms")
        axes[1].axvline(isi, color="k", lw=0.5)
    axes[0].set(xlabel="time after CS onset (ms)", ylabel="CR (deep-nuclear output)",
                title="rebuilt cerebellum: CS-alone probe")
    axes[1].set(xlabel="microstimulus peak after CS onset (ms)",
                ylabel="Δ CR when occluded", title="occlusion of the CS trace near the US")
    for ax in axes[:2]:
        ax.legend(fontsize=7)
    _curve_panel(axes[2], parts["granule_curves"], "granule-cell deletion",
                 "fraction of active granule cells changed")
    _curve_panel(axes[3], parts["mossy_curves"], "CS-trace (microstimulus) occlusion",
                 "fraction of microstimuli changed")
    fig.tight_layout()
    return m, {"maps": fig}, (
        "eyeblink: the cerebellum's conditioned response near the US time, granule deletion "
        "and occlusion of the CS trace's microstimuli")


# ------------------------------------------------------------------------------ sanger-pca
def load_sanger_pca(run_dir: str | Path) -> tuple[np.ndarray, np.ndarray, Any, Tensor, Tensor]:
    """The Hebbian components ``(k, 64)`` of a ``sanger-pca`` folder, the centring mean (the
    running mean of every sample seen: the digits' mean, rebuilt from the data), its config
    and the digits ``(1797, 64)`` (scaled as in the run) with their labels."""
    from sklearn.datasets import load_digits

    from ..experiments.configs.sanger_pca import SangerPCAConfig

    run_dir = Path(run_dir)
    _expect(run_dir, "sanger-pca")
    c = _config(run_dir, SangerPCAConfig)
    digits = load_digits()
    x = digits.data * c.scale
    comp = _need(_arrays(run_dir), "components", (c.n_components, x.shape[1]), run_dir,
                 "sanger-pca components")
    return (comp.numpy().astype(np.float64), x.mean(0), c, torch.as_tensor(x),
            torch.as_tensor(digits.target))


def pca_score(components: Any, mean: Any, signs: Tensor):
    """``x (B, d) -> (B, k)``: the component scores ``(x - mean) Wᵀ`` of a linear PCA, row
    ``b`` times ``signs[b]`` ``(B, k)`` (so the explained score of each row is positive)."""
    from .local_models import _tiled

    w = torch.as_tensor(np.asarray(components, dtype=np.float64))
    mu = torch.as_tensor(np.asarray(mean, dtype=np.float64))
    s = torch.as_tensor(signs, dtype=torch.float64)

    def score(x: Tensor) -> Tensor:
        return ((x.to(torch.float64) - mu) @ w.T) * _tiled(s, x.shape[0])

    return score


def _explain_sanger_pca(run_dir: Path, n_explain: int, seed: int):
    import matplotlib.pyplot as plt
    from captum.attr import FeatureAblation, IntegratedGradients

    comp, mean, c, x_all, y_all = load_sanger_pca(run_dir)
    order = torch.randperm(x_all.shape[0], generator=torch.Generator().manual_seed(seed))
    sel = order[: min(n_explain, x_all.shape[0])]
    x, y = x_all[sel], y_all[sel]
    w = torch.as_tensor(comp)
    mu = torch.as_tensor(mean)
    z = (x - mu) @ w.T
    t = z.abs().argmax(1)  # each digit's dominant component, explained with its sign
    signs = torch.sign(z)
    signs[signs == 0] = 1.0
    score = pca_score(comp, mean, signs)
    occ = FeatureAblation(score).attribute(x, baselines=mu[None], target=t,
                                           perturbations_per_eval=8).detach()
    ig = IntegratedGradients(score).attribute(x, baselines=mu[None], target=t,
                                              n_steps=8).detach()
    # a linear model: replacing pixel i by its mean changes score j by W_ji (x_i - mean_i)
    analytic = signs.gather(1, t[:, None]) * w[t] * (x - mu)
    m, curves = _versus_random(score, x, t, occ, seed, baseline_curves, "component",
                               baseline=mu)
    m.update({
        "n_explained": int(x.shape[0]), "n_components": int(comp.shape[0]),
        "occlusion_analytic_max_err": float((occ - analytic).abs().max()),
        "ig_analytic_max_err": float((ig - analytic).abs().max()),
        "completeness_max_err": float((occ.sum(1) - z.abs().gather(1, t[:, None])[:, 0])
                                      .abs().max()),
        "explained_score_mean": float(z.abs().gather(1, t[:, None]).mean()),
    })
    maps = _image_maps_figure(x, {"occlusion (= analytic)": occ, "IG": ig}, y)
    fig, ax = plt.subplots(figsize=(4.6, 3.4))
    _curve_panel(ax, curves, "pixels set to their mean", "fraction of pixels changed")
    ax.set_ylabel("|score| of the dominant component")
    fig.tight_layout()
    return m, {"maps": maps, "curves": fig}, (
        "sanger-pca: Hebbian principal components of digits (linear: explanations exact)")


EXPLAINERS: dict[str, Callable] = {
    "surrogate-randman": _explain_randman,
    "continual-digits": _explain_continual_digits,
    "continual-stdp": _explain_continual_stdp,
    "cartpole": _explain_cartpole,
    "walk": _explain_walk,
    "lever-delay": _explain_lever_delay,
    "force-field": _explain_force_field,
    "eyeblink": _explain_eyeblink,
    "sanger-pca": _explain_sanger_pca,
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
