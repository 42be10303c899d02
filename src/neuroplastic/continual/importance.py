r"""Synapse importance :math:`I_{ij}`: how much a synapse matters to what was already learned.

Every estimator returns the same object, one :class:`Importance` per parameter (gradient
training) or projection (local rules): the non-negative importance tensor, of the parameter's
shape, and the *anchor* :math:`\theta^*` it protects. The same object is used two ways: as the
quadratic penalty :math:`\tfrac\lambda2\sum I(\theta-\theta^*)^2` of
:mod:`~neuroplastic.continual.penalty`, or as the per-synapse gate
:math:`\Delta w \leftarrow g(I)\,\Delta w` of :mod:`~neuroplastic.continual.gate`.

Estimators

* **EWC** (Kirkpatrick et al. 2017) — the diagonal Fisher information
  :math:`F = \mathbb E_x \mathbb E_{y\sim p_\theta(y|x)}[(\partial_\theta \log p_\theta(y|x))^2]`
  (:func:`fisher_diagonal`; ``mode="exact"`` sums over all classes, ``"sample"`` draws one
  ``y`` per input, ``"empirical"`` uses the true labels).
* **Online EWC** (Schwarz et al. 2018) —
  :math:`F \leftarrow \gamma F_\mathrm{old} + F_\mathrm{new}`, anchored at the newest
  parameters (:func:`combine`).
* **SI** (Zenke, Poole & Ganguli 2017) — the path integral
  :math:`\omega = -\sum_t g_t\,(\theta_{t+1}-\theta_t)` of the gradient along the training
  trajectory, normalised per task, :math:`\Omega \mathrel{+}= \omega/((\Delta\theta)^2+\xi)`
  (:class:`SynapticIntelligence`, :func:`path_integral`). The tracker stores *copies* of the
  parameters: a stored view would follow the in-place optimizer update and give
  :math:`\Delta\theta = 0`, hence :math:`\omega = 0` (the failure of Avalanche 0.6's SI plugin).
* **MAS** (Aljundi et al. 2018) — output sensitivity
  :math:`\Omega = \mathbb E_x\,|\partial_\theta \lVert f_\theta(x)\rVert_2^2|`
  (:func:`mas_importance`).
* **Local, activity-based** importance for rule-trained projections: accumulated
  co-activity :math:`\sum \mathrm{pre}_i\,\mathrm{post}_j` or accumulated :math:`|\Delta w|`
  (:class:`ActivityImportance`, :func:`coactivity`) — no gradient and no label needed.

Per-sample gradients are computed by a plain loop over samples (generic: it works for any
module, including the spiking layers' compiled kernels); ``max_samples`` bounds its cost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from .._validation import check_choice, check_finite, check_int, check_nonnegative

__all__ = [
    "FISHER_MODES",
    "ActivityImportance",
    "Importance",
    "SynapticIntelligence",
    "coactivity",
    "combine",
    "combine_maps",
    "fisher_diagonal",
    "mas_importance",
    "named_parameters",
    "path_integral",
    "si_importance",
]

FISHER_MODES = ("exact", "sample", "empirical")
ForwardFn = Callable[[nn.Module, Tensor], Tensor]


@dataclass(frozen=True)
class Importance:
    """Importance of the synapses of one parameter / projection, and the values it protects.

    Attributes
    ----------
    values : Tensor
        :math:`I \\ge 0` (``+inf`` allowed: a synapse that must never move), shape of the
        parameter.
    anchor : Tensor
        :math:`\\theta^*`, the parameter value the importance refers to (same shape).
    method : str
        Which estimator made it (``"ewc"``, ``"online-ewc"``, ``"si"``, ``"mas"``, ...).
    """

    values: Tensor
    anchor: Tensor
    method: str = "custom"

    def __post_init__(self) -> None:
        for name in ("values", "anchor"):
            t = getattr(self, name)
            if not isinstance(t, Tensor):
                raise ValueError(f"importance {name} must be a tensor, got {type(t).__name__}")
            if not t.is_floating_point():
                raise ValueError(f"importance {name} must be a float tensor, got {t.dtype}")
        if self.values.shape != self.anchor.shape:
            raise ValueError(
                f"importance values have shape {tuple(self.values.shape)} but the anchor has "
                f"{tuple(self.anchor.shape)}"
            )
        if torch.isnan(self.values).any() or (self.values < 0).any():
            raise ValueError("importance values must be >= 0 (no NaN)")
        if not torch.isfinite(self.anchor).all():
            raise ValueError("importance anchor must be finite")
        if not isinstance(self.method, str) or not self.method:
            raise ValueError(f"method must be a non-empty string, got {self.method!r}")

    @property
    def shape(self) -> torch.Size:
        return self.values.shape

    def check_shape(self, name: str, shape: tuple[int, ...] | torch.Size) -> Importance:
        """Raise ``ValueError`` naming ``name`` when this importance does not fit ``shape``."""
        if tuple(self.values.shape) != tuple(shape):
            raise ValueError(
                f"importance of {name} has shape {tuple(self.values.shape)}, the parameter has "
                f"{tuple(shape)}"
            )
        return self

    def scaled(self, factor: float) -> Importance:
        """``factor * values`` (same anchor)."""
        f = check_nonnegative("factor", factor)
        return Importance(self.values * f, self.anchor, self.method)


def named_parameters(
    model: nn.Module, names: list[str] | None = None
) -> dict[str, Tensor]:
    """``{name: parameter}`` of the trainable parameters of ``model`` (or only ``names``)."""
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    if names is None:
        return params
    missing = [n for n in names if n not in params]
    if missing:
        raise ValueError(f"model has no trainable parameter named {missing[0]!r}")
    return {n: params[n] for n in names}


def _logits(model: nn.Module, x: Tensor, forward: ForwardFn | None) -> Tensor:
    out = model(x) if forward is None else forward(model, x)
    return out[0] if isinstance(out, tuple) else out


def _samples(x: Tensor, max_samples: int | None) -> Iterator[Tensor]:
    n = x.shape[0] if max_samples is None else min(x.shape[0], max_samples)
    for i in range(n):
        yield x[i : i + 1]


def _check_inputs(x: Tensor) -> Tensor:
    if not isinstance(x, Tensor) or x.dim() < 2 or x.shape[0] == 0:
        raise ValueError("inputs must be a tensor (n_samples, ...) with n_samples >= 1")
    return x


def fisher_diagonal(
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor | None = None,
    *,
    mode: Literal["exact", "sample", "empirical"] = "exact",
    names: list[str] | None = None,
    forward: ForwardFn | None = None,
    max_samples: int | None = None,
    generator: torch.Generator | None = None,
) -> dict[str, Importance]:
    r"""Diagonal Fisher information of a classifier (EWC's importance).

    .. math:: F = \frac1N\sum_{n}\sum_y w_{n,y}\,(\partial_\theta\log p_\theta(y\mid x_n))^2

    with :math:`w_{n,y} = p_\theta(y|x_n)` (``"exact"``: every class, C backward passes per
    sample), :math:`w = 1` for one ``y`` drawn from :math:`p_\theta` (``"sample"``) or for the
    label (``"empirical"``, needs ``targets``).

    Parameters
    ----------
    model
        Maps a batch ``(1, ...)`` to logits ``(1, C)`` (or ``(logits, state)``; use ``forward``
        to adapt other outputs, e.g. spike counts).
    inputs
        ``(N, ...)`` samples; the first ``max_samples`` are used.
    targets
        ``(N,)`` labels (``mode="empirical"`` only).
    """
    check_choice("mode", mode, FISHER_MODES)
    x = _check_inputs(inputs)
    if mode == "empirical":
        if targets is None or targets.shape != (x.shape[0],):
            raise ValueError(f"targets must have shape ({x.shape[0]},) for the empirical Fisher")
    if max_samples is not None:
        check_int("max_samples", max_samples, 1)
    params = named_parameters(model, names)
    acc = {n: torch.zeros_like(p) for n, p in params.items()}
    count = 0
    for i, xi in enumerate(_samples(x, max_samples)):
        logp = torch.log_softmax(_logits(model, xi, forward), dim=-1)[0]
        if mode == "exact":
            probs = logp.detach().exp()
            choices = [(c, float(probs[c])) for c in range(logp.shape[0])]
        elif mode == "sample":
            c = int(torch.multinomial(logp.detach().exp(), 1, generator=generator))
            choices = [(c, 1.0)]
        else:
            choices = [(int(targets[i]), 1.0)]
        for k, (c, weight) in enumerate(choices):
            grads = torch.autograd.grad(
                logp[c], list(params.values()), retain_graph=k < len(choices) - 1,
                allow_unused=True,
            )
            for (n, _), g in zip(params.items(), grads):
                if g is not None:
                    acc[n] += weight * g.detach() ** 2
        count += 1
    return {
        n: Importance(acc[n] / count, params[n].detach().clone(), "ewc") for n in params
    }


def mas_importance(
    model: nn.Module,
    inputs: Tensor,
    *,
    names: list[str] | None = None,
    forward: ForwardFn | None = None,
    max_samples: int | None = None,
) -> dict[str, Importance]:
    r"""Memory-aware synapses: :math:`\Omega = \frac1N\sum_n |\partial_\theta\lVert f_\theta(x_n)
    \rVert_2^2|` (Aljundi et al. 2018; no labels needed)."""
    x = _check_inputs(inputs)
    if max_samples is not None:
        check_int("max_samples", max_samples, 1)
    params = named_parameters(model, names)
    acc = {n: torch.zeros_like(p) for n, p in params.items()}
    count = 0
    for xi in _samples(x, max_samples):
        out = _logits(model, xi, forward)
        grads = torch.autograd.grad(
            out.pow(2).sum(), list(params.values()), allow_unused=True
        )
        for (n, _), g in zip(params.items(), grads):
            if g is not None:
                acc[n] += g.detach().abs()
        count += 1
    return {n: Importance(acc[n] / count, params[n].detach().clone(), "mas") for n in params}


# ------------------------------------------------------------------------------------- SI
def path_integral(grads: list[Tensor], thetas: list[Tensor]) -> Tensor:
    r"""SI's per-parameter path integral :math:`\omega = -\sum_t g_t\,(\theta_{t+1}-\theta_t)`.

    ``thetas`` has one more entry than ``grads`` (the trajectory's points; ``grads[t]`` is the
    gradient used for the step from ``thetas[t]`` to ``thetas[t+1]``).
    """
    if len(thetas) != len(grads) + 1:
        raise ValueError(f"thetas must have len(grads) + 1 = {len(grads) + 1} entries, "
                         f"got {len(thetas)}")
    omega = torch.zeros_like(thetas[0])
    for t, g in enumerate(grads):
        omega = omega - g * (thetas[t + 1] - thetas[t])
    return omega


def si_importance(omega: Tensor, delta: Tensor, damping: float) -> Tensor:
    r"""Per-task SI importance :math:`\omega/(\Delta\theta^2 + \xi)`, clipped at 0."""
    xi = check_finite("damping", damping)
    if xi <= 0:
        raise ValueError(f"damping must be > 0, got {damping!r}")
    return (omega / (delta**2 + xi)).clamp(min=0)


class SynapticIntelligence:
    r"""Online SI tracker (Zenke et al. 2017) around any optimizer.

    Call :meth:`begin_task` before a task, :meth:`before_step` after ``loss.backward()`` and
    before ``optimizer.step()`` (it copies the gradients and the parameters), :meth:`after_step`
    after it, and :meth:`end_task` at the end of a task: it returns the accumulated importance
    :math:`\Omega = \sum_{\text{tasks}} \omega_k/(\Delta\theta_k^2+\xi)` anchored at the current
    parameters.

    Parameters
    ----------
    params
        ``{name: parameter}`` (see :func:`named_parameters`).
    damping
        :math:`\xi > 0` of the normalisation.
    """

    def __init__(self, params: Mapping[str, Tensor], damping: float = 0.1) -> None:
        self.params = dict(params)
        if not self.params:
            raise ValueError("params must not be empty")
        si_importance(torch.zeros(1), torch.zeros(1), damping)  # validates damping
        self.damping = float(damping)
        self.omega = {n: torch.zeros_like(p.detach()) for n, p in self.params.items()}
        self.total = {n: torch.zeros_like(p.detach()) for n, p in self.params.items()}
        self.start = {n: p.detach().clone() for n, p in self.params.items()}
        self._prev: dict[str, Tensor] | None = None
        self._grad: dict[str, Tensor] | None = None

    def begin_task(self) -> None:
        self.start = {n: p.detach().clone() for n, p in self.params.items()}
        self.omega = {n: torch.zeros_like(p.detach()) for n, p in self.params.items()}

    def before_step(self) -> None:
        """Copy (not view) the parameters and their gradients before the optimizer moves them."""
        self._prev = {n: p.detach().clone() for n, p in self.params.items()}
        self._grad = {
            n: (torch.zeros_like(p) if p.grad is None else p.grad.detach().clone())
            for n, p in self.params.items()
        }

    def after_step(self) -> None:
        if self._prev is None or self._grad is None:
            raise RuntimeError("call before_step() before after_step()")
        for n, p in self.params.items():
            self.omega[n] -= self._grad[n] * (p.detach() - self._prev[n])
        self._prev = self._grad = None

    def end_task(self) -> dict[str, Importance]:
        out = {}
        for n, p in self.params.items():
            delta = p.detach() - self.start[n]
            self.total[n] = self.total[n] + si_importance(self.omega[n], delta, self.damping)
            out[n] = Importance(self.total[n].clone(), p.detach().clone(), "si")
        self.begin_task()
        return out

    def state_tensors(self) -> dict[str, Tensor]:
        """Everything needed to resume (for checkpoints)."""
        out = {}
        for n in self.params:
            out[f"omega.{n}"] = self.omega[n]
            out[f"total.{n}"] = self.total[n]
            out[f"start.{n}"] = self.start[n]
        return out

    def load_state_tensors(self, tensors: Mapping[str, Tensor]) -> None:
        for n in self.params:
            self.omega[n] = tensors[f"omega.{n}"].clone()
            self.total[n] = tensors[f"total.{n}"].clone()
            self.start[n] = tensors[f"start.{n}"].clone()


# ---------------------------------------------------------------------------- combining
def combine(
    previous: Importance | None,
    new: Importance,
    *,
    decay: float = 1.0,
    anchor: Literal["latest", "weighted"] = "latest",
) -> Importance:
    r"""Merge the importance of past tasks with a new task's.

    ``values = decay * previous + new``. ``anchor="latest"`` is online EWC (Schwarz et al.
    2018; ``decay`` = :math:`\gamma`); ``anchor="weighted"`` with ``decay=1`` is the one
    quadratic equal (up to a constant) to the sum of EWC's per-task penalties,
    :math:`\sum_k F_k(\theta-\theta_k)^2`: anchor :math:`\sum_k F_k\theta_k/\sum_k F_k`.
    """
    g = check_finite("decay", decay)
    if not 0.0 <= g <= 1.0:
        raise ValueError(f"decay must be in [0, 1], got {decay!r}")
    check_choice("anchor", anchor, ("latest", "weighted"))
    if previous is None:
        return new
    if previous.shape != new.shape:
        raise ValueError(f"importance shapes differ: {tuple(previous.shape)} and "
                         f"{tuple(new.shape)}")
    old = previous.values * g
    values = old + new.values
    if anchor == "latest":
        a = new.anchor
    else:
        num = old * previous.anchor + new.values * new.anchor
        a = torch.where(values > 0, num / values.clamp(min=torch.finfo(values.dtype).tiny),
                        new.anchor)
    method = new.method if new.method.startswith("online-") or g == 1.0 else f"online-{new.method}"
    return Importance(values, a, method)


def combine_maps(
    previous: Mapping[str, Importance] | None,
    new: Mapping[str, Importance],
    **kw,
) -> dict[str, Importance]:
    """:func:`combine` parameter by parameter."""
    if previous is None:
        return dict(new)
    if set(previous) != set(new):
        raise ValueError(f"importance maps cover different parameters: {sorted(previous)} vs "
                         f"{sorted(new)}")
    return {n: combine(previous[n], new[n], **kw) for n in new}


# ---------------------------------------------------------------------- local (rule) importance
def coactivity(pre: Tensor, post: Tensor) -> Tensor:
    r"""Mean pre × post activity :math:`\frac1B\sum_b \mathrm{pre}_{bi}\,\mathrm{post}_{bj}`,
    shape ``(n_pre, n_post)`` (``pre`` ``(B, n_pre)``, ``post`` ``(B, n_post)``)."""
    if pre.dim() != 2 or post.dim() != 2 or pre.shape[0] != post.shape[0]:
        raise ValueError(f"pre must be (B, n_pre) and post (B, n_post); got "
                         f"{tuple(pre.shape)} and {tuple(post.shape)}")
    p, q = pre.to(torch.float64), post.to(torch.float64)
    return p.T @ q / pre.shape[0]


class ActivityImportance:
    r"""Local importance of a rule-trained projection, accumulated while it learns.

    ``kind="coactivity"``: :math:`I \mathrel{+}= \mathrm{pre}_i\,\mathrm{post}_j` per sample
    (:meth:`update_activity`); ``kind="abs_dw"``: :math:`I \mathrel{+}= |\Delta w_{ij}|`
    (:meth:`update_change`). :meth:`result` normalises by ``scale`` and returns an
    :class:`Importance` anchored at the given weights.
    """

    def __init__(self, shape: tuple[int, ...],
                 kind: Literal["coactivity", "abs_dw"] = "coactivity") -> None:
        self.kind = check_choice("kind", kind, ("coactivity", "abs_dw"))
        self.values = torch.zeros(tuple(shape), dtype=torch.float64)

    def update_activity(self, pre: Tensor, post: Tensor) -> None:
        if self.kind != "coactivity":
            raise ValueError("update_activity needs kind='coactivity'")
        c = coactivity(pre, post) * pre.shape[0]
        Importance(c, torch.zeros_like(c)).check_shape("the projection", self.values.shape)
        self.values += c

    def update_change(self, dw: Tensor) -> None:
        if self.kind != "abs_dw":
            raise ValueError("update_change needs kind='abs_dw'")
        if tuple(dw.shape) != tuple(self.values.shape):
            raise ValueError(f"dw has shape {tuple(dw.shape)}, the projection "
                             f"{tuple(self.values.shape)}")
        self.values += dw.detach().abs().to(torch.float64)

    def result(self, anchor: Tensor, scale: float = 1.0) -> Importance:
        s = check_finite("scale", scale)
        if s <= 0:
            raise ValueError(f"scale must be > 0, got {scale!r}")
        return Importance(self.values / s, anchor.detach().to(torch.float64).clone(),
                          f"local-{self.kind}")
