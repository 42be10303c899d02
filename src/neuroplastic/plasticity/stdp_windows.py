r"""STDP learning windows :math:`W(\Delta t)`, :math:`\Delta t = t_\mathrm{post} - t_\mathrm{pre}`.

* :class:`ExponentialWindow` — asymmetric exponential (Bi & Poo 1998; Song, Miller & Abbott
  2000), with a convention for :math:`W(0)`;
* :class:`SymmetricWindow` — a function of :math:`|\Delta t|`: exponential or Mexican hat;
* :class:`FunctionWindow` — any elementwise function with a finite support.

Every window evaluates elementwise on tensors, gives :math:`W(0)` (``w_zero``), its integral,
its expectation under a Gaussian lag (``gaussian_expectation``, used by the drift theory) and,
when it is one exponential on each side, its :class:`TraceForm` — the two-trace representation
the event-driven rule :func:`~neuroplastic.plasticity.stdp_step` runs on.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import torch
from torch import Tensor

from .._validation import check_choice, check_finite, check_nonnegative, check_positive

__all__ = [
    "ExponentialWindow",
    "FunctionWindow",
    "SymmetricWindow",
    "TraceForm",
    "Window",
]

ZERO_LAG = ("zero", "causal", "acausal", "mean")
SYMMETRIC_SHAPES = ("exponential", "mexican_hat")
# An exponential side of a window is cut at this many time constants where a finite support is
# needed (spike-history path, quadrature): e^-30 ~ 1e-13 of the amplitude.
_CUTOFF_TAUS = 30.0
_FLOAT_MAX = 1.7976931348623157e308
# Beyond this, products of two window quantities (tau^2, std/tau, ...) may overflow float64.
_SAFE = 1e150


def _check_extent(taus: dict[str, float], cutoff: float, areas: dict) -> None:
    """A window's support (``cutoff`` time constants) and the areas of its sides must be finite
    floats: refuse time constants and amplitudes whose products overflow."""
    for name, tau in taus.items():
        if not math.isfinite(cutoff * tau):
            raise ValueError(
                f"{name} must be at most {_FLOAT_MAX / cutoff:.6g} ms (the window is cut at "
                f"{cutoff:g} time constants, which must be a finite float64), got {tau!r}"
            )
    for (a_name, tau_name), (a, tau) in areas.items():
        if not math.isfinite(a * tau):
            raise ValueError(
                f"|{a_name}| * {tau_name} (the area of one side of the window) must be at most "
                f"{_FLOAT_MAX:.6g}, got {a!r} * {tau!r}"
            )


def _check_gaussian(mean_ms: Any, std_ms: Any) -> None:
    check_finite("mean_ms", mean_ms)
    check_nonnegative("std_ms", std_ms)


def _std_normal_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _exp_side_gaussian(mean: float, std: float, tau: float, causal: bool) -> float:
    r"""E[e^{-|X|/tau} 1{X>0 (causal) or X<0}] for X ~ N(mean, std^2)."""
    if std == 0.0:
        if causal:
            return math.exp(-mean / tau) if mean > 0 else 0.0
        return math.exp(mean / tau) if mean < 0 else 0.0
    m = mean if causal else -mean
    if std / tau > _SAFE:  # tau negligible against std: E <= phi(m/std) * tau/std < 1e-150
        return 0.0
    # E[e^{-Y/tau} 1{Y>0}], Y ~ N(m, std^2), computed in log space against overflow
    z = (m - std * std / tau) / std
    cdf = _std_normal_cdf(z)
    if cdf == 0.0:
        return 0.0
    return math.exp(-m / tau + 0.5 * (std / tau) ** 2 + math.log(cdf))


class TraceForm(NamedTuple):
    r"""A window that is one exponential on each side, :math:`W(\Delta t>0) = a_c
    e^{-\Delta t/\tau_c}`, :math:`W(\Delta t<0) = a_a e^{\Delta t/\tau_a}`, plus :math:`W(0)`."""

    a_causal: float  # amplitude for Delta t > 0 (read from the pre trace at post spikes)
    tau_causal_ms: float  # time constant of the pre trace
    a_acausal: float  # amplitude for Delta t < 0 (read from the post trace at pre spikes)
    tau_acausal_ms: float  # time constant of the post trace
    w_zero: float  # W(0), added once per coincident pair


@dataclass(frozen=True)
class ExponentialWindow:
    r"""Asymmetric exponential window (Bi & Poo 1998; Song, Miller & Abbott 2000).

    .. math::

        W(\Delta t) = \begin{cases} a_+ e^{-\Delta t/\tau_+} & \Delta t > 0 \\
        -a_- e^{\Delta t/\tau_-} & \Delta t < 0 \\ W_0 & \Delta t = 0 \end{cases}

    with :math:`W_0` chosen by ``at_zero``: ``'zero'`` (0, default), ``'causal'`` (:math:`a_+`,
    as a simulator that processes pre before post within a step), ``'acausal'`` (:math:`-a_-`)
    or ``'mean'`` (:math:`(a_+ - a_-)/2`). ``a_minus`` is a magnitude: depression is negative.
    Negative amplitudes are allowed (anti-Hebbian windows).
    """

    a_plus: float = 0.01  # potentiation amplitude for causal pairs (Delta t > 0)
    a_minus: float = 0.0105  # depression magnitude for acausal pairs (A-/A+ = 1.05, Song 2000)
    tau_plus_ms: float = 20.0  # decay of the causal side
    tau_minus_ms: float = 20.0  # decay of the acausal side
    at_zero: Literal["zero", "causal", "acausal", "mean"] = "zero"  # value at Delta t = 0

    def __post_init__(self) -> None:
        check_finite("a_plus", self.a_plus)
        check_finite("a_minus", self.a_minus)
        check_positive("tau_plus_ms", self.tau_plus_ms)
        check_positive("tau_minus_ms", self.tau_minus_ms)
        check_choice("at_zero", self.at_zero, ZERO_LAG)
        _check_extent(
            {"tau_plus_ms": self.tau_plus_ms, "tau_minus_ms": self.tau_minus_ms},
            _CUTOFF_TAUS,
            {
                ("a_plus", "tau_plus_ms"): (abs(self.a_plus), self.tau_plus_ms),
                ("a_minus", "tau_minus_ms"): (abs(self.a_minus), self.tau_minus_ms),
            },
        )

    @property
    def w_zero(self) -> float:
        """:math:`W(0)` under the ``at_zero`` convention."""
        return {
            "zero": 0.0,
            "causal": float(self.a_plus),
            "acausal": -float(self.a_minus),
            "mean": 0.5 * (self.a_plus - self.a_minus),
        }[self.at_zero]

    @property
    def support_ms(self) -> float:
        """Half-width beyond which :math:`|W|` is negligible (30 time constants)."""
        return _CUTOFF_TAUS * max(self.tau_plus_ms, self.tau_minus_ms)

    def __call__(self, dt_ms: Tensor) -> Tensor:
        """Evaluate :math:`W` elementwise; ``dt_ms`` any shape, floating dtype."""
        dt_ms = torch.as_tensor(dt_ms)
        if not dt_ms.is_floating_point():
            dt_ms = dt_ms.to(torch.get_default_dtype())
        pos = self.a_plus * torch.exp(-dt_ms.clamp(min=0.0) / self.tau_plus_ms)
        neg = -self.a_minus * torch.exp(dt_ms.clamp(max=0.0) / self.tau_minus_ms)
        out = torch.where(dt_ms > 0, pos, neg)
        return torch.where(dt_ms == 0, torch.full_like(out, self.w_zero), out)

    def integral(self) -> float:
        r""":math:`\int W(\tau)\,d\tau = a_+\tau_+ - a_-\tau_-` (amplitude × ms)."""
        return self.a_plus * self.tau_plus_ms - self.a_minus * self.tau_minus_ms

    def gaussian_expectation(self, mean_ms: float, std_ms: float) -> float:
        r""":math:`E[W(X)]` for :math:`X \sim N(\mu, \sigma^2)`, closed form
        (:math:`\sigma = 0` gives :math:`W(\mu)`)."""
        _check_gaussian(mean_ms, std_ms)
        if std_ms == 0.0 and mean_ms == 0.0:
            return self.w_zero
        return self.a_plus * _exp_side_gaussian(
            mean_ms, std_ms, self.tau_plus_ms, True
        ) - self.a_minus * _exp_side_gaussian(mean_ms, std_ms, self.tau_minus_ms, False)

    def trace_form(self) -> TraceForm:
        """The two-trace representation used by :func:`stdp_step`."""
        return TraceForm(
            float(self.a_plus),
            float(self.tau_plus_ms),
            -float(self.a_minus),
            float(self.tau_minus_ms),
            self.w_zero,
        )


@dataclass(frozen=True)
class SymmetricWindow:
    r"""Symmetric window, a function of :math:`|\Delta t|` only.

    ``shape='exponential'``: :math:`W = a\,e^{-|\Delta t|/\tau}` (has a trace form, integral
    :math:`2a\tau`). ``shape='mexican_hat'``: the Ricker wavelet
    :math:`W = a\,(1 - \Delta t^2/\tau^2)\,e^{-\Delta t^2/(2\tau^2)}`, positive for
    :math:`|\Delta t| < \tau`, negative beyond, integral 0 (needs :func:`stdp_history_step`).
    Both are continuous at 0, :math:`W(0) = a`. A negative ``a`` flips the sign.
    """

    a: float = 0.01  # amplitude at Delta t = 0
    tau_ms: float = 20.0  # width
    shape: Literal["exponential", "mexican_hat"] = "exponential"  # functional form

    def __post_init__(self) -> None:
        check_finite("a", self.a)
        check_positive("tau_ms", self.tau_ms)
        check_choice("shape", self.shape, SYMMETRIC_SHAPES)
        exponential = self.shape == "exponential"
        _check_extent(
            {"tau_ms": self.tau_ms},
            _CUTOFF_TAUS if exponential else 10.0,
            {("2 * a", "tau_ms"): (2.0 * abs(self.a), self.tau_ms)} if exponential else {},
        )

    @property
    def w_zero(self) -> float:
        return float(self.a)

    @property
    def support_ms(self) -> float:
        return (_CUTOFF_TAUS if self.shape == "exponential" else 10.0) * self.tau_ms

    def __call__(self, dt_ms: Tensor) -> Tensor:
        dt_ms = torch.as_tensor(dt_ms)
        if not dt_ms.is_floating_point():
            dt_ms = dt_ms.to(torch.get_default_dtype())
        if self.shape == "exponential":
            return self.a * torch.exp(-dt_ms.abs() / self.tau_ms)
        u2 = (dt_ms / self.tau_ms) ** 2
        return self.a * (1.0 - u2) * torch.exp(-0.5 * u2)

    def integral(self) -> float:
        return 2.0 * self.a * self.tau_ms if self.shape == "exponential" else 0.0

    def gaussian_expectation(self, mean_ms: float, std_ms: float) -> float:
        _check_gaussian(mean_ms, std_ms)
        if self.shape == "exponential":
            return self.a * (
                _exp_side_gaussian(mean_ms, std_ms, self.tau_ms, True)
                + _exp_side_gaussian(mean_ms, std_ms, self.tau_ms, False)
                + (1.0 if std_ms == 0.0 and mean_ms == 0.0 else 0.0)
            )
        # Ricker wavelet against a Gaussian: the product of two Gaussians is Gaussian, with
        # s^2 = tau^2 + std^2: E[W] = a (tau/s) e^{-mu^2/(2 s^2)} (tau^2/s^2) (1 - mu^2/s^2)
        if max(self.tau_ms, std_ms, abs(mean_ms)) > _SAFE:  # the same, scaled against overflow
            s = math.hypot(self.tau_ms, std_ms)
            r, u = self.tau_ms / s, abs(mean_ms) / s
            if u > 40.0:  # e^{-u^2/2} < 1e-347: nothing left
                return 0.0
            return self.a * r * math.exp(-0.5 * u * u) * (r * r) * (1.0 - u * u)
        t2, s2 = self.tau_ms**2, self.tau_ms**2 + std_ms**2
        g = math.sqrt(t2 / s2) * math.exp(-0.5 * mean_ms**2 / s2)
        return self.a * g * (t2 / s2) * (1.0 - mean_ms**2 / s2)

    def trace_form(self) -> TraceForm | None:
        if self.shape != "exponential":
            return None
        a, tau = float(self.a), float(self.tau_ms)
        return TraceForm(a, tau, a, tau, a)


@dataclass(frozen=True)
class FunctionWindow:
    r"""Any window :math:`W(\Delta t)` given as a function, zero for :math:`|\Delta t| >`
    ``support_ms``.

    ``fn`` maps a floating tensor of lags (ms, any shape) to a tensor of the same shape,
    elementwise; it must be finite on ``[-support_ms, support_ms]``, and ``fn(0)`` is
    :math:`W(0)`. It has no trace form: use :func:`stdp_history_step`.
    """

    fn: Callable[[Tensor], Tensor]  # elementwise W(dt_ms)
    support_ms: float  # W is zero beyond |dt| > support_ms

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise ValueError(f"fn must be callable, got {self.fn!r} ({type(self.fn).__name__})")
        check_positive("support_ms", self.support_ms)

    @property
    def w_zero(self) -> float:
        return float(self.fn(torch.zeros((), dtype=torch.float64)))

    def __call__(self, dt_ms: Tensor) -> Tensor:
        dt_ms = torch.as_tensor(dt_ms)
        if not dt_ms.is_floating_point():
            dt_ms = dt_ms.to(torch.get_default_dtype())
        inside = dt_ms.abs() <= self.support_ms
        safe = torch.where(inside, dt_ms, torch.zeros_like(dt_ms))
        return torch.where(inside, self.fn(safe).to(dt_ms.dtype), torch.zeros_like(dt_ms))

    def _scalar(self, x: float) -> float:
        return float(self(torch.tensor(x, dtype=torch.float64)))

    def integral(self) -> float:
        """:math:`\\int W` by adaptive quadrature (scipy), split at 0."""
        from scipy.integrate import quad

        s = float(self.support_ms)
        neg = quad(self._scalar, -s, 0.0, limit=200)[0]
        pos = quad(self._scalar, 0.0, s, limit=200)[0]
        return neg + pos

    def gaussian_expectation(self, mean_ms: float, std_ms: float) -> float:
        """:math:`E[W(X)]`, :math:`X \\sim N(\\mu, \\sigma^2)`, by quadrature."""
        _check_gaussian(mean_ms, std_ms)
        if std_ms == 0.0:
            return self._scalar(mean_ms)
        from scipy.integrate import quad

        def f(x: float) -> float:
            z = (x - mean_ms) / std_ms
            return self._scalar(x) * math.exp(-0.5 * z * z) / (std_ms * math.sqrt(2 * math.pi))

        s = float(self.support_ms)
        lo, hi = max(-s, mean_ms - 12 * std_ms), min(s, mean_ms + 12 * std_ms)
        if lo >= hi:
            return 0.0
        pts = [p for p in (0.0, mean_ms) if lo < p < hi]
        return quad(f, lo, hi, points=pts or None, limit=200)[0]

    def trace_form(self) -> None:
        return None


Window = ExponentialWindow | SymmetricWindow | FunctionWindow


def _check_window(name: str, window: Any) -> None:
    if not isinstance(window, (ExponentialWindow, SymmetricWindow, FunctionWindow)):
        raise ValueError(
            f"{name} must be an ExponentialWindow, SymmetricWindow or FunctionWindow, "
            f"got {window!r} ({type(window).__name__})"
        )
