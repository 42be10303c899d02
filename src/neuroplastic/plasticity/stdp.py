r"""Spike-timing-dependent plasticity: learning windows, event-driven trace rules, triplet rule.

Conventions
-----------
Time is in ms. The lag of a pair is :math:`\Delta t = t_\mathrm{post} - t_\mathrm{pre}`; a
*causal* pair (pre before post) has :math:`\Delta t > 0` and is potentiated by the default
window. Pair-based STDP changes a weight by

.. math::

    \Delta w = \eta \sum_{\text{pairs}} W(t_\mathrm{post} - t_\mathrm{pre}),

over all pairs (``pairing='all'``) or over nearest-spike pairs (``pairing='nearest'``: every post
spike pairs with the latest earlier pre spike, every pre spike with the latest earlier post
spike — Morrison, Diesmann & Gerstner 2008, "symmetric nearest-spike"; coincident spikes
always pair once with weight :math:`W(0)`). :func:`stdp_pair_sum` evaluates this sum directly
and is the reference the event-driven rules are tested against.

Event-driven evaluation
-----------------------
For windows that are one exponential on each side (:class:`ExponentialWindow`, the exponential
:class:`SymmetricWindow`) the sum is carried by two traces, decayed analytically by
:math:`e^{-dt/\tau}` each step and incremented (all-to-all) or reset to 1 (nearest) on a spike.
:func:`stdp_step` touches the weights only on the rows of presynaptic neurons that spiked
(their acausal pairs, read from the post trace) and on the columns of postsynaptic neurons that
spiked (causal pairs, read from the pre trace). Within one step, the order is: decay traces,
update weights from the traces (which hold only *earlier* spikes), add :math:`W(0)` for each
coincident pre/post pair, then increment the traces. :func:`stdp_sequence` runs many such
steps from spike rasters in one call, compiled with numba on the CPU (bit-identical to looping
:func:`stdp_step`). Windows with no trace form
(:class:`FunctionWindow`, the Mexican-hat :class:`SymmetricWindow`) use
:func:`stdp_history_step`, which keeps the recent spike times of every neuron instead.
:func:`triplet_step` is the triplet rule of Pfister & Gerstner (2006).

Weights and batches
-------------------
Weights are dense ``(n_pre, n_post)`` or sparse CSR values ``(nnz,)`` in the projection layout
(``indptr (n_pre+1,)``, ``indices (nnz,)`` = post neuron of each synapse, rows = presynaptic
neurons; pass ``csr=csr_layout(indptr, indices, n_post)``). Spikes per step are boolean
``(batch, n)``. With ``batch > 1`` the weights are either *shared* (shapes above; the changes of
all trials, each computed from the weights at the start of the step, are summed — or averaged
with ``batch_reduce='mean'``) or *per-trial* (dense ``(batch, n_pre, n_post)``, CSR values
``(batch, nnz)``: every trial learns on its own copy).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import torch
from torch import Tensor, nn

from .._validation import (
    check_choice,
    check_finite,
    check_int,
    check_positive,
)

__all__ = [
    "CSRLayout",
    "ExponentialWindow",
    "FunctionWindow",
    "STDP",
    "STDPParams",
    "STDPState",
    "SpikeHistoryState",
    "SymmetricWindow",
    "TraceForm",
    "TripletParams",
    "TripletState",
    "csr_layout",
    "csr_to_csc",
    "init_history_state",
    "init_stdp_state",
    "init_triplet_state",
    "normalize_incoming",
    "stdp_history_step",
    "stdp_pair_sum",
    "stdp_sequence",
    "stdp_step",
    "triplet_pair_sum",
    "triplet_step",
]

ZERO_LAG = ("zero", "causal", "acausal", "mean")
PAIRINGS = ("all", "nearest")
UPDATES = ("additive", "multiplicative")
BATCH_REDUCE = ("sum", "mean")
SYMMETRIC_SHAPES = ("exponential", "mexican_hat")
# An exponential side of a window is cut at this many time constants where a finite support is
# needed (spike-history path, quadrature): e^-30 ~ 1e-13 of the amplitude.
_CUTOFF_TAUS = 30.0


def _std_normal_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _exp_side_gaussian(mean: float, std: float, tau: float, causal: bool) -> float:
    r"""E[e^{-|X|/tau} 1{X>0 (causal) or X<0}] for X ~ N(mean, std^2)."""
    if std == 0.0:
        if causal:
            return math.exp(-mean / tau) if mean > 0 else 0.0
        return math.exp(mean / tau) if mean < 0 else 0.0
    m = mean if causal else -mean
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
        if self.shape == "exponential":
            return self.a * (
                _exp_side_gaussian(mean_ms, std_ms, self.tau_ms, True)
                + _exp_side_gaussian(mean_ms, std_ms, self.tau_ms, False)
                + (1.0 if std_ms == 0.0 and mean_ms == 0.0 else 0.0)
            )
        # Ricker wavelet against a Gaussian: the product of two Gaussians is Gaussian, with
        # s^2 = tau^2 + std^2: E[W] = a (tau/s) e^{-mu^2/(2 s^2)} (tau^2/s^2) (1 - mu^2/s^2)
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


# --------------------------------------------------------------------------------------------
# Dense reference
# --------------------------------------------------------------------------------------------


def stdp_pair_sum(
    pre_times_ms: Tensor,
    post_times_ms: Tensor,
    window: Window,
    pairing: Literal["all", "nearest"] = "all",
) -> Tensor:
    r"""Sum of :math:`W(t_\mathrm{post} - t_\mathrm{pre})` over spike pairs, evaluated densely.

    The plain reference for the event-driven rules (no traces, no time grid).

    Parameters
    ----------
    pre_times_ms : Tensor, shape ``(..., m)``
        Presynaptic spike times in ms; ``NaN`` entries are padding and ignored.
    post_times_ms : Tensor, shape ``(..., n)``
        Postsynaptic spike times in ms (``NaN`` = padding). Leading dimensions broadcast, so
        ``pre (n_pre, 1, m)`` and ``post (1, n_post, n)`` give every synapse of a dense layer.
    window : ExponentialWindow | SymmetricWindow | FunctionWindow
    pairing : {'all', 'nearest'}
        ``'all'``: every pre/post pair. ``'nearest'``: each post spike pairs with the latest
        strictly earlier pre spike, each pre spike with the latest strictly earlier post spike,
        and every coincident pair counts once with :math:`W(0)`.

    Returns
    -------
    Tensor, shape ``(...)``
        :math:`\sum W` (without learning rate), dtype of the inputs (float64 recommended).
    """
    check_choice("pairing", pairing, PAIRINGS)
    _check_window("window", window)
    pre = torch.as_tensor(pre_times_ms)
    post = torch.as_tensor(post_times_ms)
    if not pre.is_floating_point():
        pre = pre.to(torch.float64)
    post = post.to(pre.dtype)
    if pre.ndim == 0 or post.ndim == 0:
        raise ValueError("pre_times_ms and post_times_ms must have at least one dimension")
    lag = post.unsqueeze(-2) - pre.unsqueeze(-1)  # (..., m, n): t_post - t_pre
    valid = ~torch.isnan(lag)
    safe = torch.where(valid, lag, torch.zeros_like(lag))
    w = torch.where(valid, window(safe), torch.zeros_like(lag))
    if pairing == "all":
        return w.sum(dim=(-2, -1))
    inf = torch.full_like(lag, math.inf)
    # latest earlier pre for each post spike: smallest positive lag in its column
    causal = torch.where(valid & (lag > 0), lag, inf).amin(dim=-2)  # (..., n)
    has_c = torch.isfinite(causal)
    wc = torch.where(has_c, window(torch.where(has_c, causal, torch.ones_like(causal))), 0.0)
    # latest earlier post for each pre spike: negative lag closest to 0 in its row
    acausal = torch.where(valid & (lag < 0), -lag, inf).amin(dim=-1)  # (..., m)
    has_a = torch.isfinite(acausal)
    wa = torch.where(has_a, window(-torch.where(has_a, acausal, torch.ones_like(acausal))), 0.0)
    zero = torch.where(valid & (lag == 0), w, torch.zeros_like(w)).sum(dim=(-2, -1))
    return wc.sum(dim=-1) + wa.sum(dim=-1) + zero


def triplet_pair_sum(
    pre_times_ms: Tensor, post_times_ms: Tensor, params: TripletParams
) -> Tensor:
    r"""Total weight change of the triplet rule, evaluated directly from spike times.

    The plain reference for :func:`triplet_step` (single synapse, no traces): for every post
    spike at :math:`t`, :math:`\eta\,\sum_{t_\mathrm{pre}<t} e^{-(t-t_\mathrm{pre})/\tau_+}
    \,[A_2^+ + A_3^+ \sum_{t'_\mathrm{post}<t} e^{-(t-t'_\mathrm{post})/\tau_y}]`, and for every
    pre spike at :math:`t`, :math:`-\eta\,\sum_{t_\mathrm{post}<t}
    e^{-(t-t_\mathrm{post})/\tau_-}\,[A_2^- + A_3^- \sum_{t'_\mathrm{pre}<t}
    e^{-(t-t'_\mathrm{pre})/\tau_x}]` (Pfister & Gerstner 2006, Eqs. 3–4). With
    ``pairing='nearest'`` each inner sum keeps only its latest term. Coincident spikes do not
    interact (as :func:`triplet_step`). Times are 1-D tensors in ms (float64 recommended);
    bounds are ignored.
    """
    pre = torch.as_tensor(pre_times_ms, dtype=torch.float64).flatten()
    post = torch.as_tensor(post_times_ms, dtype=torch.float64).flatten()
    pre, post = pre[~torch.isnan(pre)], post[~torch.isnan(post)]
    p = params

    def kernel(t: Tensor, times: Tensor, tau: float) -> Tensor:
        lag = t[:, None] - times[None, :]
        k = torch.where(lag > 0, torch.exp(-lag.clamp(min=0.0) / tau), torch.zeros_like(lag))
        if p.pairing == "all" or times.numel() == 0:
            return k.sum(dim=1)
        return k.amax(dim=1)  # the latest earlier spike has the largest kernel value

    pot = kernel(post, pre, p.tau_plus_ms) * (
        p.a2_plus + p.a3_plus * kernel(post, post, p.tau_y_ms)
    )
    dep = kernel(pre, post, p.tau_minus_ms) * (
        p.a2_minus + p.a3_minus * kernel(pre, pre, p.tau_x_ms)
    )
    return p.learning_rate * (pot.sum() - dep.sum())


# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------


def _check_bounds(w_min: Any, w_max: Any) -> None:
    for name, v in (("w_min", w_min), ("w_max", w_max)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v):
            raise ValueError(f"{name} must be a real number (+-inf allowed), got {v!r}")
    if not w_min < w_max:
        raise ValueError(f"w_min ({w_min!r}) must be below w_max ({w_max!r})")


def _check_update(update: str, w_min: float, w_max: float) -> None:
    check_choice("update", update, UPDATES)
    if update == "multiplicative" and not (math.isfinite(w_min) and math.isfinite(w_max)):
        raise ValueError(
            f"update='multiplicative' needs finite w_min and w_max (soft bounds), got "
            f"w_min={w_min!r}, w_max={w_max!r}"
        )


@dataclass(frozen=True)
class STDPParams:
    r"""Pair-based STDP: window, spike pairing, weight dependence, bounds.

    The weight change of one pair is :math:`\eta\,W(\Delta t)` (``update='additive'``) or, with
    soft bounds (``'multiplicative'``), :math:`\eta\,W(\Delta t)\,(w_\max - w)` when
    :math:`W > 0` and :math:`\eta\,W(\Delta t)\,(w - w_\min)` when :math:`W < 0`. Weights are then
    clipped to ``[w_min, w_max]`` (hard bounds; ``-inf``/``inf`` = unbounded). With
    ``norm_target`` set, every step ends by scaling each postsynaptic neuron's incoming weights
    so that they sum to ``norm_target``, after the clipping (so it may leave the bounds); this
    touches every synapse, O(synapses) per step — Diehl & Cook (2015) normalise once per sample
    instead: call :func:`normalize_incoming` yourself for that.
    """

    window: ExponentialWindow | SymmetricWindow | FunctionWindow = ExponentialWindow()
    pairing: Literal["all", "nearest"] = "all"  # all pairs, or nearest-spike (trace reset to 1)
    update: Literal["additive", "multiplicative"] = "additive"  # hard or soft weight dependence
    learning_rate: float = 1.0  # eta, multiplies every window value
    w_min: float = 0.0  # lower hard bound (-inf = none)
    w_max: float = 1.0  # upper hard bound (inf = none)
    norm_target: float | None = None  # sum of incoming weights per post neuron, or None
    batch_reduce: Literal["sum", "mean"] = "sum"  # combine trials that share one weight tensor

    def __post_init__(self) -> None:
        _check_window("window", self.window)
        check_choice("pairing", self.pairing, PAIRINGS)
        check_positive("learning_rate", self.learning_rate)
        _check_bounds(self.w_min, self.w_max)
        _check_update(self.update, self.w_min, self.w_max)
        if self.norm_target is not None:
            check_positive("norm_target", self.norm_target)
        check_choice("batch_reduce", self.batch_reduce, BATCH_REDUCE)


# Pfister & Gerstner (2006), Table 4, visual cortex (fits of Sjostrom et al. 2001); tau_+ and
# tau_- are 16.8 and 33.7 ms in every set.
_PFISTER_GERSTNER = {
    ("all", False): dict(
        a2_plus=5e-10, a3_plus=6.2e-3, a2_minus=7e-3, a3_minus=2.3e-4, tau_x_ms=101.0,
        tau_y_ms=125.0,
    ),
    ("all", True): dict(
        a2_plus=0.0, a3_plus=6.5e-3, a2_minus=7.1e-3, a3_minus=0.0, tau_x_ms=101.0,
        tau_y_ms=125.0,
    ),
    ("nearest", False): dict(
        a2_plus=8.8e-11, a3_plus=5.3e-2, a2_minus=6.6e-3, a3_minus=3.1e-3, tau_x_ms=714.0,
        tau_y_ms=40.0,
    ),
}


@dataclass(frozen=True)
class TripletParams:
    r"""Triplet STDP (Pfister & Gerstner 2006, J. Neurosci. 26:9673).

    Two presynaptic traces :math:`r_1` (:math:`\tau_+`), :math:`r_2` (:math:`\tau_x`) and two
    postsynaptic traces :math:`o_1` (:math:`\tau_-`), :math:`o_2` (:math:`\tau_y`). At a post
    spike :math:`w \mathrel{+}= \eta\,r_1\,[A_2^+ + A_3^+ o_2(t-\epsilon)]`; at a pre spike
    :math:`w \mathrel{-}= \eta\,o_1\,[A_2^- + A_3^- r_2(t-\epsilon)]` (:math:`t-\epsilon`: before
    the trace's own increment). All traces jump by 1 (``'all'``) or are reset to 1
    (``'nearest'``). Amplitudes are magnitudes (>= 0). Use :meth:`visual_cortex` for the
    published parameter sets. Additive with hard bounds, as in the paper.
    """

    a2_plus: float = 5e-10  # pair potentiation amplitude A2+
    a3_plus: float = 6.2e-3  # triplet potentiation amplitude A3+
    a2_minus: float = 7e-3  # pair depression amplitude A2-
    a3_minus: float = 2.3e-4  # triplet depression amplitude A3-
    tau_plus_ms: float = 16.8  # pre trace r1
    tau_minus_ms: float = 33.7  # post trace o1
    tau_x_ms: float = 101.0  # slow pre trace r2
    tau_y_ms: float = 125.0  # slow post trace o2
    pairing: Literal["all", "nearest"] = "all"  # trace increment (all) or reset to 1 (nearest)
    learning_rate: float = 1.0  # eta
    w_min: float = -math.inf  # lower hard bound
    w_max: float = math.inf  # upper hard bound
    batch_reduce: Literal["sum", "mean"] = "sum"  # combine trials sharing one weight tensor

    def __post_init__(self) -> None:
        for name in ("a2_plus", "a3_plus", "a2_minus", "a3_minus"):
            v = check_finite(name, getattr(self, name))
            if v < 0:
                raise ValueError(f"{name} must be >= 0 (a magnitude), got {v!r}")
        for name in ("tau_plus_ms", "tau_minus_ms", "tau_x_ms", "tau_y_ms"):
            check_positive(name, getattr(self, name))
        check_choice("pairing", self.pairing, PAIRINGS)
        check_positive("learning_rate", self.learning_rate)
        _check_bounds(self.w_min, self.w_max)
        check_choice("batch_reduce", self.batch_reduce, BATCH_REDUCE)

    @classmethod
    def visual_cortex(
        cls, pairing: Literal["all", "nearest"] = "all", minimal: bool = False, **overrides: Any
    ) -> TripletParams:
        """Pfister & Gerstner (2006) Table 4, visual cortex (Sjöström et al. 2001 data).

        ``pairing='all'``: full set (A2+ 5e-10, A3+ 6.2e-3, A2- 7e-3, A3- 2.3e-4, tau_x 101 ms,
        tau_y 125 ms) or ``minimal=True`` (A2+ = A3- = 0, A3+ 6.5e-3, A2- 7.1e-3, tau_y 125 ms).
        ``pairing='nearest'``: full set (A2+ 8.8e-11, A3+ 5.3e-2, A2- 6.6e-3, A3- 3.1e-3, tau_x
        714 ms, tau_y 40 ms). tau_+ = 16.8 ms, tau_- = 33.7 ms.
        """
        check_choice("pairing", pairing, PAIRINGS)
        key = (pairing, bool(minimal))
        if key not in _PFISTER_GERSTNER:
            raise ValueError(f"no published minimal set for pairing={pairing!r} in this module")
        kw: dict[str, Any] = dict(_PFISTER_GERSTNER[key], pairing=pairing)
        kw.update(overrides)
        return cls(**kw)


# --------------------------------------------------------------------------------------------
# Sparse layout
# --------------------------------------------------------------------------------------------


def csr_to_csc(indptr: Tensor, indices: Tensor, n_post: int) -> tuple[Tensor, Tensor, Tensor]:
    """Column (postsynaptic) view of a CSR projection.

    Parameters
    ----------
    indptr : Tensor, int64 ``(n_pre + 1,)``
    indices : Tensor, int64 ``(nnz,)`` — post neuron of each synapse
    n_post : int

    Returns
    -------
    col_ptr : Tensor, int64 ``(n_post + 1,)``
        Synapses onto post neuron ``j`` are ``perm[col_ptr[j]:col_ptr[j+1]]``.
    perm : Tensor, int64 ``(nnz,)``
        Synapse ids (positions in ``indices``/values) sorted by post neuron, stable (so by pre
        neuron within a column when rows are in order).
    rows : Tensor, int64 ``(nnz,)``
        Presynaptic neuron of synapse ``perm[k]``.
    """
    n_post = check_int("n_post", n_post, 1)
    indptr = torch.as_tensor(indptr, dtype=torch.int64)
    indices = torch.as_tensor(indices, dtype=torch.int64, device=indptr.device)
    if indptr.ndim != 1 or indices.ndim != 1 or int(indptr[-1]) != indices.numel():
        raise ValueError(
            f"indptr (n_pre+1,) must end at nnz = len(indices); got indptr shape "
            f"{tuple(indptr.shape)}, last {int(indptr[-1])}, indices shape {tuple(indices.shape)}"
        )
    if indices.numel() and (int(indices.min()) < 0 or int(indices.max()) >= n_post):
        raise ValueError(f"indices must lie in [0, {n_post - 1}]")
    n_pre = indptr.numel() - 1
    row_of = torch.repeat_interleave(torch.arange(n_pre, device=indptr.device), indptr.diff())
    perm = torch.argsort(indices, stable=True)
    counts = torch.bincount(indices, minlength=n_post)
    col_ptr = torch.zeros(n_post + 1, dtype=torch.int64, device=indptr.device)
    col_ptr[1:] = torch.cumsum(counts, 0)
    return col_ptr, perm, row_of[perm]


class CSRLayout(NamedTuple):
    """A CSR projection with its precomputed column view; build with :func:`csr_layout`."""

    indptr: Tensor  # (n_pre + 1,) int64
    indices: Tensor  # (nnz,) int64, post neuron of each synapse
    col_ptr: Tensor  # (n_post + 1,) int64
    perm: Tensor  # (nnz,) synapse ids in column order
    perm_rows: Tensor  # (nnz,) pre neuron of each synapse in column order
    n_pre: int
    n_post: int


def csr_layout(indptr: Tensor, indices: Tensor, n_post: int) -> CSRLayout:
    """Bundle a CSR projection with its CSC permutation (see :func:`csr_to_csc`)."""
    col_ptr, perm, rows = csr_to_csc(indptr, indices, n_post)
    indptr = torch.as_tensor(indptr, dtype=torch.int64)
    indices = torch.as_tensor(indices, dtype=torch.int64, device=indptr.device)
    return CSRLayout(indptr, indices, col_ptr, perm, rows, indptr.numel() - 1, int(n_post))


def _segments(ptr: Tensor, ids: Tensor) -> tuple[Tensor, Tensor]:
    """Positions ``ptr[i]..ptr[i+1]-1`` for each ``i`` in ``ids``, and the owner index."""
    starts = ptr.index_select(0, ids)
    lens = ptr.index_select(0, ids + 1) - starts
    ends = torch.cumsum(lens, 0)
    total = int(ends[-1]) if ends.numel() else 0
    # owner of each output position; searchsorted instead of repeat_interleave, which is slow
    # (multi-threaded) for the small arrays of one step
    pos = torch.arange(total, device=ptr.device)
    owner = torch.searchsorted(ends, pos, right=True)
    return pos + (starts + lens - ends).index_select(0, owner), owner


def _take(x: Tensor, b: Tensor, n: Tensor) -> Tensor:
    """``x[b, n]`` for a 2-D ``x`` (index_select on the flat view: cheaper than indexing)."""
    return x.reshape(-1).index_select(0, b * x.shape[1] + n)


# --------------------------------------------------------------------------------------------
# The event-driven update kernel shared by every rule
# --------------------------------------------------------------------------------------------


class _Touched(NamedTuple):
    flat: Tensor  # (E,) index into the flattened weights
    batch: Tensor  # (E,) trial of the spike
    owner: Tensor  # (E,) neuron that spiked (pre for rows, post for columns)
    partner: Tensor  # (E,) the other neuron of the synapse


def _weights_layout(w: Tensor, batch: int, n_pre: int, n_post: int, csr: CSRLayout | None):
    """Validate the weight tensor; return (per_trial, synapses per trial)."""
    if not w.is_contiguous() or not w.is_floating_point():
        raise ValueError("weights w must be a contiguous floating tensor (updated in place)")
    if csr is None:
        if w.shape == (n_pre, n_post):
            return False, n_pre * n_post
        if w.shape == (batch, n_pre, n_post):
            return True, n_pre * n_post
        raise ValueError(
            f"dense weights must be (n_pre, n_post) = {(n_pre, n_post)} or (batch, n_pre, "
            f"n_post) = {(batch, n_pre, n_post)}, got {tuple(w.shape)}"
        )
    if csr.n_pre != n_pre or csr.n_post != n_post:
        raise ValueError(
            f"csr layout is {csr.n_pre}x{csr.n_post} but spikes/state are {n_pre}x{n_post}"
        )
    nnz = csr.indices.numel()
    if w.shape == (nnz,):
        return False, nnz
    if w.shape == (batch, nnz):
        return True, nnz
    raise ValueError(f"CSR values must be (nnz,) = ({nnz},) or (batch, nnz), got {tuple(w.shape)}")


def _touched_rows(pre_spikes: Tensor, n_post: int, per_trial: bool, size: int, csr) -> _Touched:
    b, i = torch.nonzero(pre_spikes, as_tuple=True)
    if csr is None:
        base = b * size if per_trial else torch.zeros_like(b)
        j = torch.arange(n_post, device=pre_spikes.device)
        flat = (base[:, None] + i[:, None] * n_post + j[None, :]).reshape(-1)
        k = torch.arange(b.numel(), device=b.device)[:, None].expand(-1, n_post).reshape(-1)
        return _Touched(flat, b[k], i[k], j.repeat(b.numel()))
    pos, k = _segments(csr.indptr, i)
    bk = b.index_select(0, k)
    flat = pos if not per_trial else bk * size + pos
    return _Touched(flat, bk, i.index_select(0, k), csr.indices.index_select(0, pos))


def _touched_cols(post_spikes: Tensor, n_pre: int, n_post: int, per_trial: bool, size: int, csr):
    b, j = torch.nonzero(post_spikes, as_tuple=True)
    if csr is None:
        base = b * size if per_trial else torch.zeros_like(b)
        i = torch.arange(n_pre, device=post_spikes.device)
        flat = (base[:, None] + i[None, :] * n_post + j[:, None]).reshape(-1)
        k = torch.arange(b.numel(), device=b.device)[:, None].expand(-1, n_pre).reshape(-1)
        return _Touched(flat, b[k], j[k], i.repeat(b.numel()))
    pos, k = _segments(csr.col_ptr, j)
    bk = b.index_select(0, k)
    syn = csr.perm.index_select(0, pos)
    flat = syn if not per_trial else bk * size + syn
    return _Touched(flat, bk, j.index_select(0, k), csr.perm_rows.index_select(0, pos))


def _soft(dw: Tensor, w_old: Tensor, update: str, w_min: float, w_max: float) -> Tensor:
    if update == "additive":
        return dw
    return torch.where(dw > 0, dw * (w_max - w_old), dw * (w_old - w_min))


def _apply(
    w: Tensor,
    rows: _Touched,
    row_parts: tuple[Tensor, ...],
    cols: _Touched,
    col_parts: tuple[Tensor, ...],
    *,
    eta: float,
    update: str,
    w_min: float,
    w_max: float,
    scale_batch: float,
) -> Tensor:
    """Add the per-synapse changes (each part soft-bounded on its own, all from the weights at
    the start of the step), then clip the touched synapses to the hard bounds. In place."""
    flat_w = w.view(-1)
    scale = eta * scale_batch
    if update == "additive":
        d_rows = row_parts[0] if len(row_parts) == 1 else sum(row_parts)
        d_cols = col_parts[0] if len(col_parts) == 1 else sum(col_parts)
    else:
        w_r, w_c = flat_w[rows.flat], flat_w[cols.flat]
        d_rows = sum(_soft(p, w_r, update, w_min, w_max) for p in row_parts)
        d_cols = sum(_soft(p, w_c, update, w_min, w_max) for p in col_parts)
    if rows.flat.numel():
        flat_w.index_add_(0, rows.flat, d_rows * scale)
    if cols.flat.numel():
        flat_w.index_add_(0, cols.flat, d_cols * scale)
    if math.isfinite(w_min) or math.isfinite(w_max):
        touched = torch.cat([rows.flat, cols.flat])
        flat_w[touched] = flat_w[touched].clamp(
            min=w_min if math.isfinite(w_min) else None,
            max=w_max if math.isfinite(w_max) else None,
        )
    return w


def normalize_incoming(w: Tensor, target: float, *, csr: CSRLayout | None = None) -> Tensor:
    """Scale each postsynaptic neuron's incoming weights to sum to ``target`` (in place).

    Columns whose sum is 0 are left unchanged. ``w``: dense ``(n_pre, n_post)`` or
    ``(batch, n_pre, n_post)``, or CSR values ``(nnz,)`` / ``(batch, nnz)`` with ``csr``.
    """
    check_positive("target", target)
    if csr is None:
        s = w.sum(dim=-2, keepdim=True)
        w.mul_(torch.where(s != 0, target / torch.where(s != 0, s, 1.0), 1.0))
        return w
    lead = w.shape[:-1]
    s = torch.zeros(*lead, csr.n_post, dtype=w.dtype, device=w.device)
    s.index_add_(-1, csr.indices, w)
    f = torch.where(s != 0, target / torch.where(s != 0, s, 1.0), 1.0)
    w.mul_(f[..., csr.indices])
    return w


def _check_spikes(pre_spikes: Tensor, post_spikes: Tensor, batch: int, n_pre: int, n_post: int):
    if pre_spikes.shape != (batch, n_pre) or post_spikes.shape != (batch, n_post):
        raise ValueError(
            f"spikes must be pre (batch, n_pre) = {(batch, n_pre)} and post (batch, n_post) = "
            f"{(batch, n_post)}, got {tuple(pre_spikes.shape)} and {tuple(post_spikes.shape)}"
        )
    if pre_spikes.dtype != torch.bool or post_spikes.dtype != torch.bool:
        raise ValueError("pre_spikes and post_spikes must be boolean tensors")


def _check_dt(dt_ms: Any) -> float:
    return check_positive("dt_ms", dt_ms)


def _bump(trace: Tensor, spikes: Tensor, pairing: str) -> Tensor:
    if pairing == "all":
        return trace.add_(spikes)  # trace is a fresh tensor (the decayed copy)
    return trace.masked_fill_(spikes, 1.0)


# --------------------------------------------------------------------------------------------
# Pair-based STDP on traces
# --------------------------------------------------------------------------------------------


class STDPState(NamedTuple):
    """Traces of pair-based STDP (dimensionless, 0 at rest)."""

    pre_trace: Tensor  # (batch, n_pre): sum (all) or latest (nearest) of e^{-(t - t_pre)/tau_c}
    post_trace: Tensor  # (batch, n_post): same for post spikes with tau_a


def init_stdp_state(
    batch: int,
    n_pre: int,
    n_post: int,
    *,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> STDPState:
    """Zero traces for ``batch`` trials."""
    batch, n_pre, n_post = (check_int(n, v, 1) for n, v in
                            (("batch", batch), ("n_pre", n_pre), ("n_post", n_post)))
    return STDPState(
        torch.zeros(batch, n_pre, dtype=dtype, device=device),
        torch.zeros(batch, n_post, dtype=dtype, device=device),
    )


def _batch_scale(per_trial: bool, batch: int, reduce: str) -> float:
    return 1.0 / batch if (not per_trial and reduce == "mean") else 1.0


def stdp_step(
    w: Tensor,
    pre_spikes: Tensor,
    post_spikes: Tensor,
    state: STDPState,
    params: STDPParams,
    *,
    dt_ms: float,
    csr: CSRLayout | None = None,
) -> tuple[Tensor, STDPState]:
    r"""One clock step of event-driven pair-based STDP on traces.

    Order within the step: traces decay by :math:`e^{-dt/\tau}`; each presynaptic neuron that
    spiked updates its row, :math:`\Delta w_{ij} = \eta\,[a_a\,x^\mathrm{post}_j + W(0)\,
    s^\mathrm{post}_j]`; each postsynaptic neuron that spiked updates its column,
    :math:`\Delta w_{ij} = \eta\,a_c\,x^\mathrm{pre}_i` (:class:`TraceForm` amplitudes); the
    traces then jump by 1 (``'all'``) or reset to 1 (``'nearest'``). A pre and a post spike
    ``k`` steps apart therefore change the weight by exactly :math:`\eta\,W(k\,dt)`.

    Parameters
    ----------
    w : Tensor
        Dense ``(n_pre, n_post)`` (shared) or ``(batch, n_pre, n_post)`` (per trial), or CSR
        values ``(nnz,)`` / ``(batch, nnz)`` with ``csr``. **Updated in place** (only touched
        synapses, cost ∝ spikes × fan-out) and returned; pass ``w.clone()`` to keep the old one.
    pre_spikes, post_spikes : Tensor, bool ``(batch, n_pre)``, ``(batch, n_post)``
    state : STDPState
    params : STDPParams
        Its window must have a trace form (exponential windows); else use
        :func:`stdp_history_step`.
    dt_ms : float
        Clock step (ms).
    csr : CSRLayout, optional
        Sparse connectivity (:func:`csr_layout`); ``None`` for dense weights.

    Returns
    -------
    (w, state)
    """
    form = params.window.trace_form()
    if form is None:
        raise ValueError(
            f"window {type(params.window).__name__} has no trace form; use stdp_history_step"
        )
    dt_ms = _check_dt(dt_ms)
    batch, n_pre = state.pre_trace.shape
    n_post = state.post_trace.shape[1]
    _check_spikes(pre_spikes, post_spikes, batch, n_pre, n_post)
    per_trial, size = _weights_layout(w, batch, n_pre, n_post, csr)

    x_pre = state.pre_trace * math.exp(-dt_ms / form.tau_causal_ms)
    x_post = state.post_trace * math.exp(-dt_ms / form.tau_acausal_ms)

    rows = _touched_rows(pre_spikes, n_post, per_trial, size, csr)
    cols = _touched_cols(post_spikes, n_pre, n_post, per_trial, size, csr)
    row_parts = [form.a_acausal * _take(x_post, rows.batch, rows.partner).to(w.dtype)]
    if form.w_zero != 0.0:
        row_parts.append(form.w_zero * _take(post_spikes, rows.batch, rows.partner).to(w.dtype))
    col_parts = [form.a_causal * _take(x_pre, cols.batch, cols.partner).to(w.dtype)]
    _apply(
        w, rows, tuple(row_parts), cols, tuple(col_parts),
        eta=params.learning_rate, update=params.update, w_min=params.w_min, w_max=params.w_max,
        scale_batch=_batch_scale(per_trial, batch, params.batch_reduce),
    )
    if params.norm_target is not None:
        normalize_incoming(w, params.norm_target, csr=csr)
    new = STDPState(
        _bump(x_pre, pre_spikes, params.pairing), _bump(x_post, post_spikes, params.pairing)
    )
    return w, new


SEQUENCE_BACKENDS = ("auto", "numba", "torch")


def _check_rasters(pre_spikes: Any, post_spikes: Any, state: Any) -> tuple[int, int, int, int]:
    """Validate ``(T, batch, n)`` boolean rasters against the traces; return the sizes."""
    for name, r in (("pre_spikes", pre_spikes), ("post_spikes", post_spikes)):
        if not isinstance(r, Tensor):
            raise ValueError(f"{name} must be a torch tensor, got {type(r).__name__}")
        if r.ndim != 3:
            raise ValueError(
                f"{name} must be a raster of shape (T, batch, n) (one (batch, n) spike array "
                f"per step), got shape {tuple(r.shape)}"
            )
    if pre_spikes.dtype != torch.bool or post_spikes.dtype != torch.bool:
        raise ValueError(
            f"pre_spikes and post_spikes must be boolean tensors, got {pre_spikes.dtype} and "
            f"{post_spikes.dtype}"
        )
    traces = (getattr(state, "pre_trace", None), getattr(state, "post_trace", None))
    if not all(isinstance(x, Tensor) and x.ndim == 2 for x in traces):
        raise ValueError("state must be an STDPState with 2-D pre_trace and post_trace tensors")
    if traces[0].shape[0] != traces[1].shape[0]:
        raise ValueError(
            f"state traces disagree on the batch: pre_trace {tuple(traces[0].shape)}, post_trace "
            f"{tuple(traces[1].shape)}"
        )
    (batch, n_pre), n_post = traces[0].shape, traces[1].shape[1]
    n_steps = pre_spikes.shape[0]
    if pre_spikes.shape != (n_steps, batch, n_pre) or post_spikes.shape != (
        n_steps, batch, n_post
    ):
        raise ValueError(
            f"spike rasters must be pre (T, batch, n_pre) = (T, {batch}, {n_pre}) and post (T, "
            f"batch, n_post) = (T, {batch}, {n_post}) with the same T (batch and sizes from the "
            f"state traces), got {tuple(pre_spikes.shape)} and {tuple(post_spikes.shape)}"
        )
    return n_steps, batch, n_pre, n_post


def _not_compiled_reason(w: Tensor, pre: Tensor, post: Tensor, state: Any, csr: Any) -> str | None:
    """Why the compiled kernel cannot run this call (None: it can)."""
    tensors = [w, pre, post, state.pre_trace, state.post_trace]
    if csr is not None:
        tensors += [csr.indptr, csr.indices, csr.col_ptr, csr.perm, csr.perm_rows]
    if any(x.device.type != "cpu" for x in tensors):
        return "the compiled kernel runs on the CPU; weights, spikes, state and csr must be there"
    if any(x.dtype != torch.float64 for x in (w, state.pre_trace, state.post_trace)):
        return (
            f"the compiled kernel needs float64 weights and traces, got w {w.dtype}, traces "
            f"{state.pre_trace.dtype}/{state.post_trace.dtype}"
        )
    if any(x.requires_grad for x in (w, state.pre_trace, state.post_trace)):
        return "the compiled kernel does not track gradients (w or the traces require grad)"
    return None


def _kernel_coefficients(params: STDPParams, dt_ms: float, batch_scale: float) -> list[float]:
    """The factors :func:`stdp_step` multiplies by, in the compiled kernels' order:
    ``dec_pre, dec_post, a_causal, a_acausal, w_zero, eta * batch_scale, w_min, w_max``."""
    form = params.window.trace_form()
    return [
        math.exp(-dt_ms / form.tau_causal_ms),
        math.exp(-dt_ms / form.tau_acausal_ms),
        form.a_causal,
        form.a_acausal,
        form.w_zero,
        params.learning_rate * batch_scale,
        params.w_min,
        params.w_max,
    ]


def _kernel_flags(params: STDPParams) -> list[bool]:
    """``has_w_zero, multiplicative, clip, nearest`` for the compiled kernels."""
    return [
        params.window.trace_form().w_zero != 0.0,
        params.update == "multiplicative",
        math.isfinite(params.w_min) or math.isfinite(params.w_max),
        params.pairing == "nearest",
    ]


def stdp_sequence(
    w: Tensor,
    pre_spikes: Tensor,
    post_spikes: Tensor,
    state: STDPState,
    params: STDPParams,
    *,
    dt_ms: float,
    csr: CSRLayout | None = None,
    backend: Literal["auto", "numba", "torch"] = "auto",
) -> tuple[Tensor, STDPState]:
    r"""``T`` clock steps of :func:`stdp_step` in one call, compiled (numba) on the CPU.

    Exactly the semantics of ``T`` successive :func:`stdp_step` calls on ``pre_spikes[k]``,
    ``post_spikes[k]`` (same order within a step, same pairing, update mode, bounds,
    ``batch_reduce`` and ``norm_target``): the compiled kernel
    (:mod:`neuroplastic.plasticity._stdp_kernels`) repeats the torch arithmetic operation by
    operation, so weights and traces agree bit for bit — except with ``norm_target`` on dense
    weights, where column sums are accumulated in another order (last-bit differences). It is
    event driven: each step costs ∝ spikes × fan-out plus a pass over the traces to decay them.

    Parameters
    ----------
    w : Tensor
        As in :func:`stdp_step`: dense ``(n_pre, n_post)`` / ``(batch, n_pre, n_post)`` or CSR
        values ``(nnz,)`` / ``(batch, nnz)``. **Updated in place** and returned.
    pre_spikes, post_spikes : Tensor, bool ``(T, batch, n_pre)``, ``(T, batch, n_post)``
        Spike rasters, one ``(batch, n)`` array per clock step.
    state : STDPState
        Traces before the first step; not modified (new traces are returned).
    params : STDPParams
        Its window must have a trace form.
    dt_ms : float
        Clock step (ms).
    csr : CSRLayout, optional
        Sparse connectivity; ``None`` for dense weights.
    backend : {'auto', 'numba', 'torch'}
        ``'numba'``: the compiled kernel (float64 weights and traces on the CPU, no autograd;
        anything else raises ``ValueError``). ``'torch'``: a Python loop over :func:`stdp_step`
        (any dtype or device). ``'auto'`` (default): numba where it applies, else torch.
        The first numba call of a process compiles or loads the kernel from numba's cache.

    Returns
    -------
    (w, state)
        The updated weights (the same tensor) and the traces after the last step.
    """
    if not isinstance(params, STDPParams):
        raise ValueError(f"params must be STDPParams, got {type(params).__name__}")
    form = params.window.trace_form()
    if form is None:
        raise ValueError(
            f"window {type(params.window).__name__} has no trace form; loop stdp_history_step"
        )
    dt_ms = _check_dt(dt_ms)
    check_choice("backend", backend, SEQUENCE_BACKENDS)
    n_steps, batch, n_pre, n_post = _check_rasters(pre_spikes, post_spikes, state)
    per_trial, _ = _weights_layout(w, batch, n_pre, n_post, csr)
    reason = None if backend == "torch" else _not_compiled_reason(
        w, pre_spikes, post_spikes, state, csr
    )
    if backend == "numba" and reason is not None:
        raise ValueError(f"backend='numba' cannot run this call: {reason}")
    if backend == "torch" or reason is not None:
        for k in range(n_steps):
            w, state = stdp_step(
                w, pre_spikes[k], post_spikes[k], state, params, dt_ms=dt_ms, csr=csr
            )
        return w, state

    import numpy as np

    from ._stdp_kernels import raster_words, stdp_sequence_kernel

    x_pre = state.pre_trace.detach().clone(memory_format=torch.contiguous_format)
    x_post = state.post_trace.detach().clone(memory_format=torch.contiguous_format)
    if n_steps == 0:
        return w, STDPState(x_pre, x_post)
    w_flat = w.view(batch if per_trial else 1, -1)
    empty = np.empty(0, dtype=np.int64)
    lay = [empty] * 5 if csr is None else [
        x.contiguous().numpy() for x in (csr.indptr, csr.indices, csr.col_ptr, csr.perm,
                                         csr.perm_rows)
    ]
    prm = np.array(
        _kernel_coefficients(params, dt_ms, _batch_scale(per_trial, batch, params.batch_reduce))
        + [0.0 if params.norm_target is None else params.norm_target], dtype=np.float64,
    )
    flags = np.array(
        [csr is None, *_kernel_flags(params), per_trial, params.norm_target is not None],
        dtype=np.int64,
    )
    pre_np, post_np = pre_spikes.contiguous().numpy(), post_spikes.contiguous().numpy()
    pre_bytes, pre_words, pre_head = raster_words(pre_np)
    post_bytes, post_words, post_head = raster_words(post_np)
    stdp_sequence_kernel(
        w_flat.numpy(), pre_np, post_np, pre_bytes, pre_words, post_bytes, post_words,
        np.array([pre_head, post_head], dtype=np.int64), x_pre.numpy(), x_post.numpy(), *lay,
        prm, flags,
    )
    return w, STDPState(x_pre, x_post)


# --------------------------------------------------------------------------------------------
# Any window: spike-history formulation
# --------------------------------------------------------------------------------------------


class SpikeHistoryState(NamedTuple):
    """Recent spike times per neuron (ms; ``-inf`` = empty slot), a ring buffer of ``capacity``
    slots (1 for nearest-spike pairing), and the time of the next step."""

    t_ms: Tensor  # () float64: time of the next step
    pre_times: Tensor  # (batch, n_pre, capacity)
    post_times: Tensor  # (batch, n_post, capacity)
    pre_count: Tensor  # (batch, n_pre) int64: spikes recorded so far (next slot = count % cap)
    post_count: Tensor  # (batch, n_post) int64


def init_history_state(
    batch: int,
    n_pre: int,
    n_post: int,
    capacity: int = 1,
    *,
    t0_ms: float = 0.0,
    device: torch.device | str | None = None,
) -> SpikeHistoryState:
    """Empty spike history. ``capacity`` must exceed the most spikes one neuron fires within
    the window's ``support_ms`` for ``pairing='all'`` (checked at run time); nearest-spike
    pairing needs 1."""
    batch, n_pre, n_post = (check_int(n, v, 1) for n, v in
                            (("batch", batch), ("n_pre", n_pre), ("n_post", n_post)))
    capacity = check_int("capacity", capacity, 1)
    check_finite("t0_ms", t0_ms)
    f64 = dict(dtype=torch.float64, device=device)
    return SpikeHistoryState(
        torch.tensor(float(t0_ms), **f64),
        torch.full((batch, n_pre, capacity), -math.inf, **f64),
        torch.full((batch, n_post, capacity), -math.inf, **f64),
        torch.zeros(batch, n_pre, dtype=torch.int64, device=device),
        torch.zeros(batch, n_post, dtype=torch.int64, device=device),
    )


def _window_sum(window: Window, lags: Tensor, support: float) -> Tensor:
    """Sum over the last axis of W(lag) for finite lags within the support."""
    ok = torch.isfinite(lags) & (lags.abs() <= support)
    safe = torch.where(ok, lags, torch.zeros_like(lags))
    return torch.where(ok, window(safe), torch.zeros_like(lags)).sum(dim=-1)


def _record(times: Tensor, count: Tensor, spikes: Tensor, t: Tensor, check_after: float | None):
    b, n = torch.nonzero(spikes, as_tuple=True)
    cap = times.shape[-1]
    slot = count[b, n] % cap
    if check_after is not None and b.numel():
        old = times[b, n, slot]
        if bool((old >= check_after).any()):
            raise RuntimeError(
                "spike-history capacity exceeded: a spike still inside the window support would "
                "be overwritten; raise `capacity` in init_history_state"
            )
    times = times.clone()
    times[b, n, slot] = t
    count = count.clone()
    count[b, n] += 1
    return times, count


def stdp_history_step(
    w: Tensor,
    pre_spikes: Tensor,
    post_spikes: Tensor,
    state: SpikeHistoryState,
    params: STDPParams,
    *,
    dt_ms: float,
    csr: CSRLayout | None = None,
) -> tuple[Tensor, SpikeHistoryState]:
    r"""One step of event-driven pair-based STDP for *any* window, from spike histories.

    A presynaptic spike at :math:`t` changes its row by :math:`\eta\sum_s W(t^\mathrm{post}_{j,s}
    - t) + \eta W(0) s^\mathrm{post}_j`, a postsynaptic spike its column by
    :math:`\eta\sum_s W(t - t^\mathrm{pre}_{i,s})`, where :math:`s` runs over the stored
    earlier spikes (the latest one for ``'nearest'``, all within ``window.support_ms`` for
    ``'all'``). Same shapes, bounds, in-place update and batching as :func:`stdp_step`; the
    step happens at ``state.t_ms`` and advances it by ``dt_ms``.
    """
    dt_ms = _check_dt(dt_ms)
    batch, n_pre, _ = state.pre_times.shape
    n_post = state.post_times.shape[1]
    _check_spikes(pre_spikes, post_spikes, batch, n_pre, n_post)
    per_trial, size = _weights_layout(w, batch, n_pre, n_post, csr)
    window, t = params.window, state.t_ms
    support = float(window.support_ms)
    nearest = params.pairing == "nearest"
    if nearest and state.pre_times.shape[-1] != 1:
        raise ValueError("pairing='nearest' needs a spike history of capacity 1")

    rows = _touched_rows(pre_spikes, n_post, per_trial, size, csr)
    cols = _touched_cols(post_spikes, n_pre, n_post, per_trial, size, csr)
    lag_r = (state.post_times[rows.batch, rows.partner] - t).to(w.dtype)  # (E, cap) < 0
    lag_c = (t - state.pre_times[cols.batch, cols.partner]).to(w.dtype)  # (E, cap) > 0
    row_parts = [_window_sum(window, lag_r, support)]
    w0 = window.w_zero
    if w0 != 0.0:
        row_parts.append(w0 * _take(post_spikes, rows.batch, rows.partner).to(w.dtype))
    col_parts = [_window_sum(window, lag_c, support)]
    _apply(
        w, rows, tuple(row_parts), cols, tuple(col_parts),
        eta=params.learning_rate, update=params.update, w_min=params.w_min, w_max=params.w_max,
        scale_batch=_batch_scale(per_trial, batch, params.batch_reduce),
    )
    if params.norm_target is not None:
        normalize_incoming(w, params.norm_target, csr=csr)
    check_after = None if nearest else float(t) - support
    pre_times, pre_count = _record(
        state.pre_times, state.pre_count, pre_spikes, t, check_after
    )
    post_times, post_count = _record(
        state.post_times, state.post_count, post_spikes, t, check_after
    )
    return w, SpikeHistoryState(t + dt_ms, pre_times, post_times, pre_count, post_count)


# --------------------------------------------------------------------------------------------
# Triplet STDP
# --------------------------------------------------------------------------------------------


class TripletState(NamedTuple):
    """Traces of the triplet rule (Pfister & Gerstner 2006 notation)."""

    r1: Tensor  # (batch, n_pre), tau_plus
    r2: Tensor  # (batch, n_pre), tau_x
    o1: Tensor  # (batch, n_post), tau_minus
    o2: Tensor  # (batch, n_post), tau_y


def init_triplet_state(
    batch: int,
    n_pre: int,
    n_post: int,
    *,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> TripletState:
    s = init_stdp_state(batch, n_pre, n_post, dtype=dtype, device=device)
    return TripletState(s.pre_trace, s.pre_trace.clone(), s.post_trace, s.post_trace.clone())


def triplet_step(
    w: Tensor,
    pre_spikes: Tensor,
    post_spikes: Tensor,
    state: TripletState,
    params: TripletParams,
    *,
    dt_ms: float,
    csr: CSRLayout | None = None,
) -> tuple[Tensor, TripletState]:
    r"""One clock step of the triplet rule (Pfister & Gerstner 2006, Eqs. 3–4), event driven.

    Same order, shapes, in-place update and batching as :func:`stdp_step`: traces decay, pre
    spikes depress their rows by :math:`\eta\,o_1 [A_2^- + A_3^- r_2]`, post spikes potentiate
    their columns by :math:`\eta\,r_1 [A_2^+ + A_3^+ o_2]` (all traces before this step's
    spikes, so coincident spikes do not interact), then all four traces jump (or reset).
    """
    dt_ms = _check_dt(dt_ms)
    p = params
    batch, n_pre = state.r1.shape
    n_post = state.o1.shape[1]
    _check_spikes(pre_spikes, post_spikes, batch, n_pre, n_post)
    per_trial, size = _weights_layout(w, batch, n_pre, n_post, csr)
    r1 = state.r1 * math.exp(-dt_ms / p.tau_plus_ms)
    r2 = state.r2 * math.exp(-dt_ms / p.tau_x_ms)
    o1 = state.o1 * math.exp(-dt_ms / p.tau_minus_ms)
    o2 = state.o2 * math.exp(-dt_ms / p.tau_y_ms)

    rows = _touched_rows(pre_spikes, n_post, per_trial, size, csr)
    cols = _touched_cols(post_spikes, n_pre, n_post, per_trial, size, csr)
    r2_i = _take(r2, rows.batch, rows.owner)
    o2_j = _take(o2, cols.batch, cols.owner)
    dep = -_take(o1, rows.batch, rows.partner) * (p.a2_minus + p.a3_minus * r2_i)
    pot = _take(r1, cols.batch, cols.partner) * (p.a2_plus + p.a3_plus * o2_j)
    _apply(
        w, rows, (dep.to(w.dtype),), cols, (pot.to(w.dtype),),
        eta=p.learning_rate, update="additive", w_min=p.w_min, w_max=p.w_max,
        scale_batch=_batch_scale(per_trial, batch, p.batch_reduce),
    )
    new = TripletState(
        _bump(r1, pre_spikes, p.pairing),
        _bump(r2, pre_spikes, p.pairing),
        _bump(o1, post_spikes, p.pairing),
        _bump(o2, post_spikes, p.pairing),
    )
    return w, new


# --------------------------------------------------------------------------------------------
# Module wrapper
# --------------------------------------------------------------------------------------------


class STDP(nn.Module):
    """Thin module over :func:`stdp_step` (trace windows) or :func:`stdp_history_step` (others).

    Holds the parameters, the clock step and the sparse layout; the state is explicit::

        rule = STDP(STDPParams(...), dt_ms=0.1)
        state = rule.init_state(batch, n_pre, n_post)
        w, state = rule(w, pre_spikes, post_spikes, state)
    """

    def __init__(
        self,
        params: STDPParams,
        *,
        dt_ms: float,
        csr: CSRLayout | None = None,
        history_capacity: int = 16,
    ) -> None:
        super().__init__()
        if not isinstance(params, STDPParams):
            raise ValueError(f"params must be STDPParams, got {type(params).__name__}")
        self.params = params
        self.dt_ms = _check_dt(dt_ms)
        self.csr = csr
        self.uses_traces = params.window.trace_form() is not None
        self.history_capacity = check_int("history_capacity", history_capacity, 1)

    def init_state(
        self, batch: int, n_pre: int, n_post: int, *, device: torch.device | str | None = None
    ) -> STDPState | SpikeHistoryState:
        if self.uses_traces:
            return init_stdp_state(batch, n_pre, n_post, device=device)
        cap = 1 if self.params.pairing == "nearest" else self.history_capacity
        return init_history_state(batch, n_pre, n_post, cap, device=device)

    def forward(
        self, w: Tensor, pre_spikes: Tensor, post_spikes: Tensor, state: Any
    ) -> tuple[Tensor, Any]:
        step = stdp_step if self.uses_traces else stdp_history_step
        return step(w, pre_spikes, post_spikes, state, self.params, dt_ms=self.dt_ms, csr=self.csr)
