"""Explanations of the models trained by local rules: the Diehl & Cook network and the agents.

A network trained by STDP has no useful gradient, so it is explained *interventionally*: the
input is changed in the simulator and the effect on the model's decision is measured.

* :class:`DiehlCookScore` — a black-box score of a trained :class:`~neuroplastic.models.
  diehl_cook.DiehlCook` for Captum: rates ``(B, n_input)`` -> the vote of every class
  ``(B, n_classes)`` (the mean spike count of the excitatory neurons labelled with the class,
  the quantity the model's all-neuron vote maximises). Input spikes are drawn from the model's
  counter-based stream keyed by (seed, stream, sample position, attempt): whether input ``i``
  fires at step ``t`` depends only on that key and on ``x_i``, so an input evaluated at the same
  position with some pixels deleted sees *exactly* the same spikes on every other pixel
  (common random numbers, no re-seeding needed); the positions travel with the batch.
* :func:`diehl_cook_attribution` — delete pixels (rate 0), one at a time or in groups of a
  feature mask, with Captum's ``FeatureAblation``; the drop of the target class's vote is the
  attribution.
* :func:`lesioned` / :func:`neuron_mediation` — silence excitatory neurons and follow the
  target vote (causal mediation). ``mode="simulation"``: the neuron is lesioned in the
  simulation (its input weights are zero, so it never reaches threshold, never drives its
  inhibitory partner, and the others lose its lateral inhibition); ``mode="readout"``: the
  intact simulation runs and the neuron's spikes are excluded from the vote.
* :func:`agent_attribution` — occlusion of the observation dimensions of a
  :class:`~neuroplastic.agents.basal_ganglia.BasalGangliaAgent` against a baseline (the mean
  observation by default), for the chosen action's probability or the critic's value.
* :func:`agent_code_attribution` — deletion of the encoder's features (place cells,
  population-code neurons: rate set to 0) in the agent's code, interventional on the code.
* :func:`granule_attribution` / :func:`mossy_attribution` — a cerebellum's output (along a
  direction, :func:`cerebellum_readout`) explained by silencing granule cells (exact: the
  Purkinje read-out is linear in the parallel fibres) or occluding mossy-fibre inputs through
  the fixed granule layer (Captum ``FeatureAblation``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .._validation import check_choice, check_int

__all__ = [
    "DiehlCookScore",
    "agent_attribution",
    "agent_code_attribution",
    "agent_score",
    "cerebellum_readout",
    "granule_attribution",
    "granule_readout_score",
    "diehl_cook_attribution",
    "lesioned",
    "mossy_attribution",
    "mossy_readout_score",
    "neuron_mediation",
]

AGENT_OUTPUTS = ("policy", "value")
SILENCE_MODES = ("simulation", "readout")


def _check_diehl_cook(model: Any):
    from ..models.diehl_cook import DiehlCook

    if not isinstance(model, DiehlCook):
        raise ValueError(f"model must be a DiehlCook, got {type(model).__name__}")
    if model.labels_ is None:
        raise ValueError("model has no neuron labels: call model.label(X, y) first")
    return model


def _check_rates(model: Any, X: Any) -> Tensor:
    x = torch.as_tensor(X, dtype=torch.float64)
    if x.dim() != 2 or x.shape[1] != model.params.n_input:
        raise ValueError(f"X must have shape (n_samples, {model.params.n_input}), got "
                         f"{tuple(x.shape)}")
    if x.numel() and (not torch.isfinite(x).all() or x.min() < 0 or x.max() > 1):
        raise ValueError("X must hold finite intensities in [0, 1]")
    return x


class DiehlCookScore:
    """Class votes of a labelled :class:`~neuroplastic.models.diehl_cook.DiehlCook`.

    ``score(X, positions)``: ``X`` ``(B, n_input)`` rates in [0, 1], ``positions`` ``(B,)``
    sample positions in the input stream ``(model.seed, stream)`` -> ``(B, n_classes)`` mean
    spike count of the neurons of each class (-1 for a class without neurons, as
    :func:`~neuroplastic.models.diehl_cook.vote`). Learning is off; the model is unchanged.

    ``exclude`` ``(n_exc,)`` bool: neurons whose spikes are left out of the vote (read-out
    ablation; the class mean is still over all its neurons, so the vote drops).
    """

    def __init__(self, model: Any, *, stream: str = "explain", n_classes: int = 10,
                 exclude: Tensor | None = None) -> None:
        self.model = _check_diehl_cook(model)
        if not isinstance(stream, str) or not stream:
            raise ValueError(f"stream must be a non-empty string, got {stream!r}")
        self.stream = stream
        self.n_classes = check_int("n_classes", n_classes, 1)
        self.exclude = None
        if exclude is not None:
            ex = torch.as_tensor(exclude, dtype=torch.bool)
            if tuple(ex.shape) != (model.n_exc,):
                raise ValueError(f"exclude must have shape ({model.n_exc},), got "
                                 f"{tuple(ex.shape)}")
            self.exclude = ex

    def counts(self, X: Any, positions: Tensor) -> Tensor:
        """Excitatory spike counts ``(B, n_exc)``; runs of consecutive positions share a call."""
        x = _check_rates(self.model, X)
        pos = torch.as_tensor(positions, dtype=torch.int64).reshape(-1)
        if pos.shape[0] != x.shape[0] or (pos < 0).any():
            raise ValueError(f"positions must be {x.shape[0]} non-negative integers, got "
                             f"shape {tuple(pos.shape)}")
        out = torch.zeros((x.shape[0], self.model.n_exc), dtype=torch.int64)
        breaks = [0, *(torch.nonzero(pos[1:] != pos[:-1] + 1)[:, 0] + 1).tolist(), x.shape[0]]
        for a, b in zip(breaks[:-1], breaks[1:], strict=True):
            if b > a:
                out[a:b] = self.model.run(x[a:b], learn=False, stream=self.stream,
                                          first=int(pos[a]))[0]
        return out

    def votes(self, counts: Tensor) -> Tensor:
        """Class votes ``(B, n_classes)`` of spike counts ``(B, n_exc)``."""
        r = counts.to(torch.float64)
        if self.exclude is not None:
            r = r * (~self.exclude).to(r.dtype)
        labels = self.model.labels_
        # an unlabelled neuron (label -1, e.g. continual-stdp) votes for no class
        onehot = (torch.nn.functional.one_hot(labels.clamp(min=0), self.n_classes)
                  * (labels >= 0)[:, None]).to(r.dtype)
        n_per = onehot.sum(0)
        return torch.where(n_per > 0, (r @ onehot) / n_per.clamp(min=1), -1.0)

    def __call__(self, X: Any, positions: Tensor) -> Tensor:
        return self.votes(self.counts(X, positions))

    def bind(self, positions: Tensor):
        """``X -> votes`` at fixed ``positions`` (for :func:`~.validity.perturbation_curves`)."""
        return lambda X: self(X, positions)


def diehl_cook_attribution(model: Any, X: Any, target: Tensor | None = None, *,
                           seed: int = 0, feature_mask: Tensor | None = None,
                           score: DiehlCookScore | None = None) -> tuple[Tensor, Tensor]:
    """Interventional attribution of a trained Diehl & Cook network ``(B, n_input)``.

    Each pixel (or each group of ``feature_mask`` ``(n_input,)`` integer ids) is deleted —
    its rate set to 0, so it emits no input spike — and the drop of the ``target`` class's
    vote is its attribution (Captum ``FeatureAblation``). Sample ``b`` is simulated at stream
    position ``b`` of the stream ``explain-<seed>`` with and without every deletion, so all
    remaining input spikes are identical (common random numbers). ``target`` defaults to the
    predicted class of the intact input. Returns ``(attributions, target)``.
    """
    from captum.attr import FeatureAblation

    model = _check_diehl_cook(model)
    check_int("seed", seed, 0)
    x = _check_rates(model, X).to(torch.float32)
    score = DiehlCookScore(model, stream=f"explain-{seed}") if score is None else score
    pos = torch.arange(x.shape[0])
    if target is None:
        target = score(x, pos).argmax(1)
    target = torch.as_tensor(target, dtype=torch.int64).reshape(-1)
    if target.shape[0] != x.shape[0]:
        raise ValueError(f"target must have {x.shape[0]} entries, got {target.shape[0]}")
    mask = None
    if feature_mask is not None:
        mask = torch.as_tensor(feature_mask, dtype=torch.int64)
        if tuple(mask.shape) != (model.params.n_input,):
            raise ValueError(f"feature_mask must have shape ({model.params.n_input},), got "
                             f"{tuple(mask.shape)}")
        mask = mask[None]
    attr = FeatureAblation(lambda xx, p: score(xx, p).to(torch.float32)).attribute(
        x, baselines=0.0, target=target, additional_forward_args=(pos,),
        feature_mask=mask, perturbations_per_eval=16)
    return attr.detach().to(torch.float64), target


def lesioned(model: Any, neurons: Tensor) -> Any:
    """A copy of ``model`` whose excitatory ``neurons`` (``(n_exc,)`` bool) are lesioned in
    the simulation: their input weights are zero, so they never fire, never excite their
    inhibitory partner and never inhibit the others. The labels are kept."""
    from ..models.diehl_cook import DiehlCook

    model = _check_diehl_cook(model)
    m = torch.as_tensor(neurons, dtype=torch.bool)
    if tuple(m.shape) != (model.n_exc,):
        raise ValueError(f"neurons must have shape ({model.n_exc},), got {tuple(m.shape)}")
    state = model.state_dict()
    state["w"][:, m] = 0.0
    copy = DiehlCook(model.n_exc, model.params, seed=model.seed, backend=model.backend)
    copy.load_state_dict(state)
    return copy


def neuron_mediation(model: Any, X: Any, target: Tensor, order: Tensor, *, steps: int = 10,
                     mode: str = "simulation", seed: int = 0,
                     positions: Tensor | None = None) -> Tensor:
    """Target vote ``(B, steps + 1)`` while silencing the first ``k/steps`` of the excitatory
    neurons in ``order`` (``(n_exc,)``, one order for all inputs), by ``mode``
    (:data:`SILENCE_MODES`); column 0 is the intact network. Input ``b`` is simulated at
    position ``positions[b]`` (default ``b``) of the stream ``explain-<seed>``, as in
    :func:`diehl_cook_attribution`."""
    model = _check_diehl_cook(model)
    check_choice("mode", mode, SILENCE_MODES)
    check_int("steps", steps, 1)
    check_int("seed", seed, 0)
    x = _check_rates(model, X)
    order = torch.as_tensor(order, dtype=torch.int64).reshape(-1)
    if sorted(order.tolist()) != list(range(model.n_exc)):
        raise ValueError(f"order must be a permutation of range({model.n_exc})")
    tgt = torch.as_tensor(target, dtype=torch.int64).reshape(-1, 1)
    pos = torch.arange(x.shape[0]) if positions is None else torch.as_tensor(positions)
    stream = f"explain-{seed}"
    out = torch.empty(x.shape[0], steps + 1, dtype=torch.float64)
    counts = DiehlCookScore(model, stream=stream).counts(x, pos)
    for k in range(steps + 1):
        off = torch.zeros(model.n_exc, dtype=torch.bool)
        off[order[: round(model.n_exc * k / steps)]] = True
        if mode == "readout":
            v = DiehlCookScore(model, stream=stream, exclude=off).votes(counts)
        else:
            v = DiehlCookScore(lesioned(model, off), stream=stream)(x, pos)
        out[:, k] = v.gather(1, tgt)[:, 0]
    return out


# ----------------------------------------------------------------------------------- agents
def _check_agent(agent: Any):
    from ..agents.basal_ganglia import BasalGangliaAgent

    if not isinstance(agent, BasalGangliaAgent):
        raise ValueError(f"agent must be a BasalGangliaAgent, got {type(agent).__name__}")
    return agent


def _check_obs(agent: Any, obs: Any) -> Tensor:
    o = torch.as_tensor(np.asarray(obs, dtype=np.float64))
    if o.dim() != 2 or o.shape[0] == 0 or not torch.isfinite(o).all():
        raise ValueError(f"obs must be a finite (n_observations, obs_dim) array, got shape "
                         f"{tuple(o.shape)}")
    d = getattr(getattr(agent.encoder, "low", None), "size", None)
    if d is not None and o.shape[1] != d:
        raise ValueError(f"obs must have {d} columns (the encoder's dimensions), got "
                         f"{o.shape[1]}")
    return o


def _encode(agent: Any, obs: np.ndarray) -> np.ndarray:
    """The agent's code of ``obs`` (dense rates); a stateful encoder is not advanced."""
    enc = agent.encoder
    saved = enc.state_dict() if hasattr(enc, "state_dict") else None
    x = np.asarray(enc(obs), dtype=np.float64).reshape(-1)
    if saved is not None:
        enc.load_state_dict(saved)
    return x


def agent_score(agent: Any, output: str = "policy"):
    """``obs (B, d) -> (B, k)``: the agent's action probabilities (discrete; the read-out mean
    if continuous) or its value ``(B, 1)``, one :meth:`policy` / critic call per row."""
    agent = _check_agent(agent)
    check_choice("output", output, AGENT_OUTPUTS)

    def score(obs: Tensor) -> Tensor:
        rows = []
        for o in obs.detach().to(torch.float64).numpy():
            if output == "policy":
                rows.append(agent.policy(o))
            else:
                rows.append(np.atleast_1d(agent.w_critic @ _encode(agent, o)))
        return torch.as_tensor(np.stack(rows), dtype=obs.dtype)

    return score


def _target(out: Tensor, target: Tensor | None, b: int) -> Tensor:
    if target is None:
        return out.argmax(1)
    t = torch.as_tensor(target, dtype=torch.int64).reshape(-1)
    if t.shape[0] != b or (t < 0).any() or (t >= out.shape[1]).any():
        raise ValueError(f"target must be {b} indices in [0, {out.shape[1]})")
    return t


def agent_attribution(agent: Any, obs: Any, target: Tensor | None = None, *,
                      output: str = "policy", baseline: Any = None) -> tuple[Tensor, Tensor]:
    """Occlusion attribution ``(B, d)`` of an agent's output to its observation dimensions.

    Every dimension in turn is replaced by ``baseline`` (``(d,)``; default the mean of
    ``obs``) and the drop of the output is its attribution (Captum ``FeatureAblation``).
    ``output="policy"``: the probability of ``target`` (default the greedy action);
    ``"value"``: the critic's value. Deterministic (no sampling). Returns
    ``(attributions, target)``.
    """
    from captum.attr import FeatureAblation

    score = agent_score(agent, output)
    o = _check_obs(agent, obs)
    base = o.mean(0) if baseline is None else torch.as_tensor(baseline, dtype=torch.float64)
    if tuple(base.shape) != (o.shape[1],):
        raise ValueError(f"baseline must have shape ({o.shape[1]},), got {tuple(base.shape)}")
    t = _target(score(o), None if output == "value" else target, o.shape[0])
    attr = FeatureAblation(score).attribute(o, baselines=base[None], target=t,
                                            perturbations_per_eval=o.shape[1])
    return attr.detach(), t


def agent_code_attribution(agent: Any, obs: Any, target: Tensor | None = None, *,
                           output: str = "policy") -> tuple[Tensor, Tensor]:
    """Interventional attribution ``(B, n_inputs)`` on the agent's *code*: each encoder
    feature (place cell, population neuron) active for an observation is deleted (rate 0) and
    the drop of the chosen action's probability (``output="policy"``) or of the value is its
    attribution; computed from the agent's weights, ``softmax(beta · W_a x)`` /
    ``w_c · x``."""
    agent = _check_agent(agent)
    check_choice("output", output, AGENT_OUTPUTS)
    o = _check_obs(agent, obs)
    code = torch.as_tensor(np.stack([_encode(agent, r) for r in o.numpy()]))
    return linear_code_attribution(code, agent.w_actor, agent.w_critic, agent.params.beta,
                                   target, output=output, discrete=agent.discrete)


def linear_code_score(w_actor: Any, w_critic: Any, beta: float, *, output: str = "policy",
                      discrete: bool = True):
    """``code (B, n_inputs) -> (B, k)``: ``softmax(beta · W_a x)`` (discrete; ``W_a x`` if
    continuous) or the value ``(B, 1) = w_c · x`` of a basal-ganglia actor-critic."""
    check_choice("output", output, AGENT_OUTPUTS)
    w_a = torch.as_tensor(np.asarray(w_actor, dtype=np.float64))
    w_c = None if w_critic is None else torch.as_tensor(np.asarray(w_critic, dtype=np.float64))
    if output == "value" and w_c is None:
        raise ValueError("output='value' needs the critic's weights (w_critic is None)")

    def score(x: Tensor) -> Tensor:
        x = x.to(torch.float64)
        if output == "value":
            return (x @ w_c)[:, None]
        h = x @ w_a.T
        return (beta * h).softmax(1) if discrete else h

    return score


def linear_code_attribution(code: Any, w_actor: Any, w_critic: Any, beta: float,
                            target: Tensor | None = None, *, output: str = "policy",
                            discrete: bool = True) -> tuple[Tensor, Tensor]:
    """Interventional attribution ``(B, n_inputs)`` of a basal-ganglia actor-critic on its
    code ``(B, n_inputs)`` (rates, e.g. a stateful temporal code recorded along a trial):
    each feature in turn is deleted (rate 0) and the drop of the output of
    :func:`linear_code_score` is its attribution — what Captum's ``FeatureAblation`` with
    baseline 0 computes, evaluated only on each row's non-zero features (deleting a silent
    feature changes nothing), so a code of 10⁴ place cells costs one small matrix per row."""
    code = torch.as_tensor(np.asarray(code, dtype=np.float64))
    w_a = torch.as_tensor(np.asarray(w_actor, dtype=np.float64))
    if code.dim() != 2 or w_a.dim() != 2 or code.shape[1] != w_a.shape[1]:
        raise ValueError(f"code must have shape (n, {w_a.shape[-1]}) (the actor's inputs), "
                         f"got {tuple(code.shape)}")
    score = linear_code_score(w_actor, w_critic, beta, output=output, discrete=discrete)
    t = _target(score(code), None if output == "value" else target, code.shape[0])
    attr = torch.zeros_like(code)
    for b in range(code.shape[0]):
        idx = torch.nonzero(code[b])[:, 0]
        if idx.numel() == 0:
            continue
        # row r of ``ablated``: the code with feature idx[r] deleted
        ablated = code[b].expand(idx.numel(), -1).clone()
        ablated[torch.arange(idx.numel()), idx] = 0.0
        full = score(code[b : b + 1])[0, t[b]]
        attr[b, idx] = full - score(ablated)[:, t[b]]
    return attr, t


# ------------------------------------------------------------------------------- cerebellum
def cerebellum_readout(weights: Any, dn_gain: float, directions: Any) -> Tensor:
    """Effective read-out ``(B, n_granule)`` of a cerebellum's deep-nuclear output along a
    direction per row: ``v_b = -dn_gain · u_b W`` (``weights`` ``(n_out, n_granule)``, the
    summed fast + slow PF weights; ``directions`` ``(B, n_out)``), so that the explained scalar
    is ``u_b · y = v_b · x`` for granule activity ``x`` — linear in the parallel fibres."""
    w = torch.as_tensor(np.asarray(weights, dtype=np.float64))
    u = torch.as_tensor(np.asarray(directions, dtype=np.float64))
    if w.dim() != 2 or u.dim() != 2 or u.shape[1] != w.shape[0]:
        raise ValueError(f"directions must have shape (n, {w.shape[0] if w.dim() == 2 else '?'})"
                         f" (one weight per output), got {tuple(u.shape)}")
    if not math.isfinite(dn_gain) or dn_gain == 0:
        raise ValueError(f"dn_gain must be finite and non-zero, got {dn_gain!r}")
    return -float(dn_gain) * (u @ w)


def _tiled(v: Tensor, n: int) -> Tensor:
    """``v`` ``(B, d)`` repeated for a batch of ``n`` rows (Captum evaluates several
    perturbations of the batch at once, each a copy of its ``B`` rows in order)."""
    if n % v.shape[0]:
        raise ValueError(f"a batch of {n} rows is not a whole number of the {v.shape[0]} "
                         "explained rows")
    return v.repeat(n // v.shape[0], 1)


def granule_readout_score(readout: Tensor):
    """``x (B, n_granule) -> (B, 1)``: the cerebellum's output ``v_b · x`` along row ``b``'s
    direction (:func:`cerebellum_readout`), for parallel-fibre activity ``x``."""
    v = torch.as_tensor(readout, dtype=torch.float64)

    def score(x: Tensor) -> Tensor:
        x = x.to(torch.float64)
        return (x * _tiled(v, x.shape[0])).sum(1, keepdim=True)

    return score


def granule_attribution(x: Any, readout: Tensor) -> tuple[Tensor, Tensor]:
    """Interventional attribution ``(B, n_granule)`` of a cerebellum's output to its granule
    cells: each parallel fibre in turn is silenced (rate 0, the Golgi normalisation of the
    intact context kept) and the drop of :func:`granule_readout_score` is its attribution —
    what Captum's ``FeatureAblation`` with baseline 0 computes; as the Purkinje read-out is
    linear, it is exactly the fibre's contribution ``x_k v_k``. Returns
    ``(attributions, target)`` (the target is the single output, 0)."""
    x = torch.as_tensor(np.asarray(x, dtype=np.float64))
    v = torch.as_tensor(readout, dtype=torch.float64)
    if x.shape != v.shape:
        raise ValueError(f"x must have the shape of the read-out {tuple(v.shape)}, got "
                         f"{tuple(x.shape)}")
    return x * v, torch.zeros(x.shape[0], dtype=torch.int64)


def mossy_readout_score(granule: Any, readout: Tensor):
    """``mossy (B, n_mossy) -> (B, 1)``: the cerebellum's output along row ``b``'s direction
    for mossy-fibre rates (through the fixed granule layer ``granule``: fan-in, threshold,
    Golgi normalisation — not linear)."""
    v = torch.as_tensor(readout, dtype=torch.float64)

    def score(m: Tensor) -> Tensor:
        g = np.stack([granule(r) for r in m.detach().to(torch.float64).numpy()])
        return (torch.as_tensor(g) * _tiled(v, m.shape[0])).sum(1, keepdim=True)

    return score


def mossy_attribution(granule: Any, mossy: Any, readout: Tensor, *, baseline: Any = 0.0,
                      feature_mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Occlusion attribution ``(B, n_mossy)`` of a cerebellum's output to its mossy-fibre
    inputs: each fibre (or each group of ``feature_mask`` ``(n_mossy,)`` integer ids, e.g. the
    fibres coding one input variable) is replaced by ``baseline`` (0: silent) and the drop of
    :func:`mossy_readout_score` is its attribution (Captum ``FeatureAblation``)."""
    from captum.attr import FeatureAblation

    m = torch.as_tensor(np.asarray(mossy, dtype=np.float64))
    if m.dim() != 2 or m.shape[1] != granule.n_mossy or m.shape[0] != readout.shape[0]:
        raise ValueError(f"mossy must have shape ({readout.shape[0]}, {granule.n_mossy}), got "
                         f"{tuple(m.shape)}")
    mask = None
    if feature_mask is not None:
        mask = torch.as_tensor(feature_mask, dtype=torch.int64)
        if tuple(mask.shape) != (granule.n_mossy,):
            raise ValueError(f"feature_mask must have shape ({granule.n_mossy},), got "
                             f"{tuple(mask.shape)}")
        mask = mask[None]
    base = torch.as_tensor(baseline, dtype=torch.float64)
    if base.dim() == 1:
        base = base[None]
    t = torch.zeros(m.shape[0], dtype=torch.int64)
    attr = FeatureAblation(mossy_readout_score(granule, readout)).attribute(
        m, baselines=base, target=t, feature_mask=mask, perturbations_per_eval=4)
    return attr.detach(), t


def load_stdp_digits(run_dir: str | Path) -> tuple[Any, Any, Tensor, Tensor]:
    """The trained Diehl & Cook network of a finished ``stdp-digits`` run folder, its config
    and its held-out digits ``(x_test, y_test)`` (the run's own split).

    Raises ``ValueError`` naming the file when the folder holds another model (or none)."""
    import json

    from safetensors.torch import load_file

    from ..experiments.configs.stdp_digits import StdpDigitsConfig
    from ..experiments.stdp_digits import _data, make_model

    run_dir = Path(run_dir)
    run_json = run_dir / "run.json"
    if not run_json.is_file():
        raise ValueError(f"{run_json}: not found (not a finished result folder)")
    name = json.loads(run_json.read_text()).get("experiment")
    if name != "stdp-digits":
        raise ValueError(f"{run_json}: run of {name!r}, not of stdp-digits")
    cfg = json.loads((run_dir / "config.json").read_text()).get("config", {})
    config = StdpDigitsConfig(**{k: tuple(v) if isinstance(v, list) else v
                                 for k, v in cfg.items()})
    _, _, x_te, y_te = _data(config)
    arrays = load_file(str(run_dir / "arrays.safetensors"))
    missing = {"weights", "theta", "labels"} - set(arrays)
    if missing:
        raise ValueError(f"{run_dir / 'arrays.safetensors'}: lacks {sorted(missing)}")
    model = make_model(config, x_te.shape[1])
    state = model.state_dict()
    state.update(w=arrays["weights"], theta=arrays["theta"], labels=arrays["labels"])
    model.load_state_dict(state)
    return model, config, x_te, y_te


def explain_stdp_run(run_dir: str | Path, out: Path, *, n_explain: int = 100,
                     seed: int = 0) -> dict[str, Any]:
    """Explain a finished ``stdp-digits`` run interventionally: pixel-deletion maps of
    ``n_explain`` held-out digits, deletion and insertion curves against a random order
    (one-sided paired Wilcoxon), figures in ``out``; returns the metrics."""
    import matplotlib.pyplot as plt

    check_int("n_explain", n_explain, 2)
    model, _config, x_te, y_te = load_stdp_digits(run_dir)
    metrics, fig = diehl_cook_explanation(model, x_te, y_te, n_explain=n_explain, seed=seed)
    fig.savefig(out / "maps.png", dpi=110)
    plt.close(fig)
    return metrics


def diehl_cook_explanation(model: Any, x_te: Tensor, y_te: Tensor, *, n_explain: int = 100,
                           seed: int = 0) -> tuple[dict[str, Any], Any]:
    """Pixel-deletion maps of the first ``n_explain`` of ``x_te`` for a labelled Diehl & Cook
    network, deletion and insertion curves against a random order (one-sided paired
    Wilcoxon); the metrics and the figure (digits, maps, curves)."""
    import matplotlib.pyplot as plt

    from .validity import auc, paired_test, perturbation_curves

    check_int("n_explain", n_explain, 2)
    n = min(n_explain, x_te.shape[0])
    x = x_te[:n].to(torch.float64)
    attr, target = diehl_cook_attribution(model, x, seed=seed)
    score = DiehlCookScore(model, stream=f"explain-{seed}").bind(torch.arange(n))
    rnd = torch.rand(x.shape, generator=torch.Generator().manual_seed(seed + 1))
    metrics: dict[str, Any] = {"n_explained": n, "accuracy_explained":
                               float((target == y_te[:n]).float().mean())}
    curves = {}
    for mode, alt in (("deletion", "less"), ("insertion", "greater")):
        ours = perturbation_curves(score, x, target, attr, steps=10, mode=mode)
        rand = perturbation_curves(score, x, target, rnd, steps=10, mode=mode)
        curves[mode] = (ours.mean(0).numpy(), rand.mean(0).numpy())
        metrics[f"{mode}_auc_interventional"] = float(auc(ours).mean())
        metrics[f"{mode}_auc_random"] = float(auc(rand).mean())
        metrics[f"{mode}_auc_p"] = float(paired_test(auc(ours), auc(rand), alt))
    side = int(round(x.shape[1] ** 0.5))
    k = min(4, n)
    fig, axes = plt.subplots(2, k + 2, figsize=(2.1 * (k + 2), 4.2), squeeze=False)
    for i in range(k):
        axes[0, i].imshow(x[i].reshape(side, side).numpy(), cmap="gray_r")
        axes[0, i].set_title(f"vote {int(target[i])}", fontsize=8)
        a = attr[i].reshape(side, side).numpy()
        lim = float(np.abs(a).max()) or 1.0
        axes[1, i].imshow(a, cmap="RdBu_r", vmin=-lim, vmax=lim)
        axes[1, i].set_title("pixel deletion", fontsize=8)
    for j, mode in enumerate(("deletion", "insertion")):
        ax = axes[j, k]
        ax.plot(curves[mode][0], label="attribution order")
        ax.plot(curves[mode][1], label="random order")
        ax.set_title(f"{mode} (p = {metrics[f'{mode}_auc_p']:.1g})", fontsize=8)
        ax.legend(fontsize=6)
    for ax in axes.ravel():
        if not ax.lines:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, k + 1].axis("off")
    axes[1, k + 1].axis("off")
    fig.tight_layout()
    return metrics, fig
