r"""The stability–plasticity controller :math:`J=\alpha F_\mathrm{learn}-\beta F_\mathrm{forget}`.

:math:`\alpha` (plasticity) and :math:`\beta` (stability) are neuromodulatory signals of
:mod:`neuroplastic.neuromodulation`, advanced once per training step from the data alone:

* the controller keeps a running expectation :math:`\bar L` of the loss on incoming data
  (:func:`~neuroplastic.neuromodulation.update_expectation`) and of its squared deviation;
  the prediction error :math:`\delta = L - \bar L`
  (:func:`~neuroplastic.neuromodulation.reward_prediction_error`) is the surprise;
* :math:`\alpha` is a globally broadcast modulator
  (:func:`~neuroplastic.neuromodulation.dopamine_step`) relaxing to ``alpha_base`` with time
  constant ``alpha_tau`` steps; each step releases
  ``alpha_release`` × the relative surprise :math:`\min(1, \max(0,\delta)/\bar L)`. A new task
  makes the loss jump (α rises); as the task is learned the loss falls below its expectation,
  nothing is released and α decays back;
* a **task switch** is declared when :math:`\delta` exceeds ``switch_threshold`` running
  standard deviations (after ``warmup`` steps, at most once per ``refractory`` steps); the
  expectation then restarts at the new loss level;
* :math:`\beta` is a second modulator (baseline ``beta_base``, time constant ``beta_tau``; ∞ =
  permanent) that receives ``beta_release`` at every consolidation — by default at every
  detected switch: what was learned before the switch is consolidated.

The training objective to *minimise* is :math:`\alpha L_\mathrm{learn} + \beta L_\mathrm{forget}`
(:func:`controlled_loss`; :math:`F_\mathrm{forget}` is a penalty, the negative of what is kept),
optionally normalised by :math:`\alpha+\beta`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from .._validation import check_finite, check_int, check_nonnegative
from ..neuromodulation import (
    DopamineParams,
    dopamine_decay,
    dopamine_step,
    reward_prediction_error,
    update_expectation,
)

__all__ = [
    "ControllerParams",
    "ControllerState",
    "StabilityPlasticityController",
    "controlled_loss",
    "controller_step",
    "init_controller",
]


@dataclass(frozen=True)
class ControllerParams:
    """Signals of the stability–plasticity controller (times in training steps)."""

    alpha_base: float = 0.2  # plasticity alpha with nothing new
    alpha_release: float = 1.0  # alpha released per unit of relative surprise
    alpha_tau: float = 30.0  # steps for alpha to relax to alpha_base
    beta_base: float = 0.0  # stability beta before anything is consolidated
    beta_release: float = 1.0  # beta released at each consolidation
    beta_tau: float = math.inf  # steps for beta to relax to beta_base (inf: never)
    expectation_rate: float = 0.1  # rate of the running loss expectation (Rescorla-Wagner)
    switch_threshold: float = 4.0  # surprise (running standard deviations) declaring a switch
    warmup: int = 10  # steps before the first switch can be declared
    refractory: int = 20  # steps after a switch before the next can be declared

    def __post_init__(self) -> None:
        for name in ("alpha_base", "alpha_release", "beta_base", "beta_release"):
            check_nonnegative(name, getattr(self, name))
        for name in ("alpha_tau", "beta_tau"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
                raise ValueError(f"{name} must be > 0 (inf allowed), got {v!r}")
        r = check_finite("expectation_rate", self.expectation_rate)
        if not 0 < r <= 1:
            raise ValueError(f"expectation_rate must be in (0, 1], got {r!r}")
        if check_finite("switch_threshold", self.switch_threshold) <= 0:
            raise ValueError(f"switch_threshold must be > 0, got {self.switch_threshold!r}")
        check_int("warmup", self.warmup, 1)
        check_int("refractory", self.refractory, 1)

    def alpha_signal(self) -> DopamineParams:
        return DopamineParams(tau_ms=self.alpha_tau, release=self.alpha_release,
                              baseline=self.alpha_base)

    def beta_signal(self) -> DopamineParams:
        tau = self.beta_tau if math.isfinite(self.beta_tau) else 1e300
        return DopamineParams(tau_ms=tau, release=self.beta_release, baseline=self.beta_base)


class ControllerState(NamedTuple):
    alpha: Tensor  # () float64
    beta: Tensor
    expected: Tensor  # running loss expectation
    variance: Tensor  # running squared prediction error
    steps: Tensor  # () int64: steps seen
    since_switch: Tensor  # () int64: steps since the last switch (or since the start)
    switches: Tensor  # () int64: switches detected


def init_controller(params: ControllerParams) -> ControllerState:
    f = dict(dtype=torch.float64)
    z = torch.zeros((), dtype=torch.int64)
    return ControllerState(torch.tensor(params.alpha_base, **f),
                           torch.tensor(params.beta_base, **f), torch.zeros((), **f),
                           torch.zeros((), **f), z, z.clone(), z.clone())


def controller_step(
    state: ControllerState, loss: float | Tensor, params: ControllerParams,
    *, consolidate_on_switch: bool = True,
) -> tuple[ControllerState, bool]:
    """Advance the controller by one training step with the loss on the incoming batch.

    Returns the new state and whether a task switch was detected at this step.
    """
    L = torch.as_tensor(float(loss), dtype=torch.float64)
    if not torch.isfinite(L):
        raise ValueError(f"loss must be finite, got {float(L)!r}")
    first = int(state.steps) == 0
    expected = L.clone() if first else state.expected
    delta = reward_prediction_error(L, expected)
    sd = torch.sqrt(state.variance + 1e-12)
    switch = (int(state.steps) >= params.warmup
              and int(state.since_switch) >= params.refractory
              and float(delta) > params.switch_threshold * float(sd))
    rel = torch.clamp(delta.clamp(min=0) / expected.abs().clamp(min=1e-12), max=1.0)
    alpha = dopamine_step(state.alpha, rel, params.alpha_signal(), 1.0)
    beta = dopamine_decay(state.beta, params.beta_signal(), 1.0)
    if switch:
        if consolidate_on_switch:
            beta = beta + params.beta_release
        expected, variance = L.clone(), state.variance
        since = torch.zeros((), dtype=torch.int64)
    else:
        r = params.expectation_rate
        variance = state.variance if first else update_expectation(state.variance, delta**2, r)
        expected = update_expectation(expected, L, r)
        since = state.since_switch + 1
    return ControllerState(alpha, beta, expected, variance, state.steps + 1, since,
                           state.switches + int(switch)), switch


def consolidate(state: ControllerState, params: ControllerParams) -> ControllerState:
    """Release ``beta_release`` of the stability signal (a consolidation told from outside)."""
    return state._replace(beta=state.beta + params.beta_release)


__all__.append("consolidate")


def controlled_loss(alpha: float | Tensor, beta: float | Tensor, learn: Tensor,
                    forget: Tensor | float, *, normalize: bool = True) -> Tensor:
    """:math:`\\alpha L_\\mathrm{learn} + \\beta L_\\mathrm{forget}` (divided by
    :math:`\\alpha+\\beta` when ``normalize``)."""
    a, b = float(alpha), float(beta)
    if a < 0 or b < 0 or not math.isfinite(a) or not math.isfinite(b):
        raise ValueError(f"alpha and beta must be finite and >= 0, got {a!r}, {b!r}")
    total = a * learn + b * forget
    if normalize:
        if a + b == 0:
            raise ValueError("alpha + beta must be > 0 to normalise")
        total = total / (a + b)
    return total


class StabilityPlasticityController:
    """Stateful wrapper: ``step(loss) -> switched``; ``alpha``, ``beta`` and histories.

    :meth:`step` runs :func:`controller_step` on Python floats (float64, the same operations
    in the same order, so the same numbers) — one training step must not pay for a dozen
    tensor operations; :attr:`state` converts to and from :class:`ControllerState`.
    """

    def __init__(self, params: ControllerParams = ControllerParams()) -> None:
        self.params = params
        self.state = init_controller(params)
        self.alpha_history: list[float] = []
        self.beta_history: list[float] = []
        self.switch_steps: list[int] = []
        p = params
        self._decay_a = math.exp(-1.0 / p.alpha_tau)
        beta_tau = p.beta_tau if math.isfinite(p.beta_tau) else 1e300
        self._decay_b = math.exp(-1.0 / beta_tau)

    @property
    def state(self) -> ControllerState:
        f = dict(dtype=torch.float64)
        i = dict(dtype=torch.int64)
        a, b, e, v, n, since, sw = self._s
        return ControllerState(torch.tensor(a, **f), torch.tensor(b, **f), torch.tensor(e, **f),
                               torch.tensor(v, **f), torch.tensor(n, **i),
                               torch.tensor(since, **i), torch.tensor(sw, **i))

    @state.setter
    def state(self, st: ControllerState) -> None:
        self._s = [float(st.alpha), float(st.beta), float(st.expected), float(st.variance),
                   int(st.steps), int(st.since_switch), int(st.switches)]

    @property
    def alpha(self) -> float:
        return self._s[0]

    @property
    def beta(self) -> float:
        return self._s[1]

    def step(self, loss: float | Tensor, *, consolidate_on_switch: bool = True) -> bool:
        """:func:`controller_step` in floats; appends α, β (and a detected switch)."""
        p = self.params
        a, b, expected, variance, steps, since, switches = self._s
        L = float(loss)
        if not math.isfinite(L):
            raise ValueError(f"loss must be finite, got {L!r}")
        first = steps == 0
        if first:
            expected = L
        delta = L - expected
        sd = math.sqrt(variance + 1e-12)
        switch = (steps >= p.warmup and since >= p.refractory
                  and delta > p.switch_threshold * sd)
        rel = min(max(delta, 0.0) / max(abs(expected), 1e-12), 1.0)
        a = p.alpha_base + (a - p.alpha_base) * self._decay_a + p.alpha_release * rel
        b = p.beta_base + (b - p.beta_base) * self._decay_b
        if switch:
            if consolidate_on_switch:
                b = b + p.beta_release
            expected, since = L, 0
        else:
            r = p.expectation_rate
            if not first:
                variance = variance + r * (delta * delta - variance)
            expected = expected + r * (L - expected)
            since += 1
        self._s = [a, b, expected, variance, steps + 1, since, switches + int(switch)]
        if switch:
            self.switch_steps.append(steps)
        self.alpha_history.append(a)
        self.beta_history.append(b)
        return switch

    def consolidate(self) -> None:
        self.state = consolidate(self.state, self.params)
