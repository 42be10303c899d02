r"""Drift theory of pair-based STDP: :math:`\langle \dot w\rangle = \eta\int W(\tau)C(\tau)d\tau`.

For additive, all-to-all pair-based STDP (no bounds reached) the expected weight change per
unit time is the window integrated against the pre/post correlation function
(Kempter, Gerstner & van Hemmen 1999; Gerstner & Kistler 2002, ch. 11)

.. math::

    \langle \dot w \rangle = \eta \int_{-\infty}^{\infty} W(\tau)\, C(\tau)\, d\tau, \qquad
    C(\tau) = \langle s_\mathrm{pre}(t)\, s_\mathrm{post}(t + \tau) \rangle_t ,

with :math:`s(t) = \sum_f \delta(t - t^f)` spike trains. The lag :math:`\tau` is
:math:`t_\mathrm{post} - t_\mathrm{pre}`, the :math:`\Delta t` of the window, so causal
correlations sit at :math:`\tau > 0`. :math:`C` includes the baseline
:math:`r_\mathrm{pre} r_\mathrm{post}` (it is *not* the covariance). Units: :math:`\tau` in ms,
rates in Hz, :math:`C` in Hz², drift in weight units per second
(:math:`\int W C\,d\tau` with :math:`d\tau` converted to s).

Two ways to get :math:`C`:

* :class:`SharedInputPoisson` — the analytic shared-input model: Poisson trains of rates
  :math:`r_\mathrm{pre}, r_\mathrm{post}` that share a Poisson source of rate
  :math:`r_c = c\sqrt{r_\mathrm{pre} r_\mathrm{post}}`; the post copy of each shared spike is
  delayed by ``lag_ms`` :math:`d` and jittered by a Gaussian of std ``jitter_ms`` :math:`\sigma`.
  Then :math:`C(\tau) = r_\mathrm{pre} r_\mathrm{post} + r_c\,\mathcal N(\tau; d, \sigma^2)`
  (a delta :math:`r_c\,\delta(\tau - d)` when :math:`\sigma = 0`), and
  :math:`\langle\dot w\rangle = \eta\,[r_\mathrm{pre} r_\mathrm{post}\int W + r_c\,
  E\,W(d + \sigma\xi)]`, closed form for exponential windows (:func:`predicted_drift`), or by
  quadrature for any window (``method='quadrature'`` / :func:`drift_integral`).
* :func:`cross_correlogram` — an estimate of :math:`C` from recorded spike trains, integrated
  against :math:`W` by :func:`estimated_drift`.

Nearest-spike pairing, soft bounds and triplet terms are outside this first-order theory.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from .._validation import check_choice, check_finite, check_int, check_nonnegative, check_positive
from .stdp_windows import ExponentialWindow, FunctionWindow, SymmetricWindow

__all__ = [
    "SharedInputPoisson",
    "cross_correlogram",
    "drift_integral",
    "estimated_drift",
    "predicted_drift",
    "sample_shared_input",
]

Window = ExponentialWindow | SymmetricWindow | FunctionWindow
_MS = 1e-3  # seconds per ms
#: Most points of a lag grid (the window on a clock grid, correlogram bins): 2**24 float64 values
#: are 128 MiB; a finer grid is a configuration error, not something to hand to the allocator.
MAX_GRID_POINTS = 2**24
#: Most random draws of one :func:`sample_shared_input` call (spike times x train pairs).
MAX_DRAWS = 2**26
_MAX_EXACT = 2.0**53  # lags in steps beyond this are not exact integers in float64


def _check_grid(name: str, value: Any, n_points: float, what: str) -> None:
    if not n_points <= MAX_GRID_POINTS:
        raise ValueError(
            f"{name}={value!r} makes {what} of {n_points:.6g} points, more than the limit of "
            f"{MAX_GRID_POINTS} (2**24)"
        )


def _w_np(window: Window, tau_ms: np.ndarray | float) -> np.ndarray:
    return window(torch.as_tensor(np.asarray(tau_ms, dtype=np.float64))).numpy()


@dataclass(frozen=True)
class SharedInputPoisson:
    r"""Two Poisson trains correlated through a shared Poisson source.

    The pre train is the union of the shared spikes and an independent part; the post train is
    the union of the shared spikes shifted by ``lag_ms`` (plus Gaussian jitter) and its own
    independent part. ``c`` is the correlation coefficient of the spike counts in long windows:
    the shared rate is :math:`r_c = c\sqrt{r_\mathrm{pre} r_\mathrm{post}}`, which must not
    exceed either rate, i.e. :math:`c \le \sqrt{\min(r)/\max(r)}`.
    """

    rate_pre_hz: float  # total rate of the presynaptic train
    rate_post_hz: float  # total rate of the postsynaptic train
    c: float  # count correlation coefficient in [0, sqrt(min/max rate)]
    lag_ms: float = 0.0  # d: post copy of a shared spike comes d ms after the pre copy
    jitter_ms: float = 0.0  # sigma: std of the Gaussian jitter of the post copy

    def __post_init__(self) -> None:
        check_positive("rate_pre_hz", self.rate_pre_hz)
        check_positive("rate_post_hz", self.rate_post_hz)
        if not math.isfinite(self.rate_pre_hz * self.rate_post_hz):
            raise ValueError(
                f"rate_pre_hz * rate_post_hz (the baseline of C, Hz^2) must be at most "
                f"1.79769e+308, got {self.rate_pre_hz!r} * {self.rate_post_hz!r}"
            )
        hi = math.sqrt(
            min(self.rate_pre_hz, self.rate_post_hz) / max(self.rate_pre_hz, self.rate_post_hz)
        )
        check_finite("c", self.c)
        if not 0.0 <= self.c <= hi:
            raise ValueError(
                f"c must be in [0, {hi:g}] (sqrt(min rate / max rate)), got {self.c!r}"
            )
        check_finite("lag_ms", self.lag_ms)
        check_nonnegative("jitter_ms", self.jitter_ms)

    @property
    def shared_rate_hz(self) -> float:
        """:math:`r_c = c\\sqrt{r_\\mathrm{pre} r_\\mathrm{post}}` (Hz)."""
        return self.c * math.sqrt(self.rate_pre_hz * self.rate_post_hz)

    def cross_covariance(self, tau_ms: np.ndarray | float) -> np.ndarray:
        r""":math:`C(\tau) - r_\mathrm{pre}r_\mathrm{post} = r_c\,\mathcal N(\tau; d,\sigma^2)`
        in Hz² (the Gaussian density converted to 1/s). Needs ``jitter_ms > 0``: with no
        jitter it is the delta :math:`r_c\,\delta(\tau - d)`."""
        if self.jitter_ms == 0.0:
            raise ValueError(
                "with jitter_ms = 0 the cross-covariance is a delta r_c*delta(tau - lag_ms); "
                "it has no pointwise value"
            )
        z = (np.asarray(tau_ms, dtype=np.float64) - self.lag_ms) / self.jitter_ms
        density_per_ms = np.exp(-0.5 * z * z) / (self.jitter_ms * math.sqrt(2.0 * math.pi))
        return self.shared_rate_hz * density_per_ms / _MS

    def correlation(self, tau_ms: np.ndarray | float) -> np.ndarray:
        r""":math:`C(\tau) = r_\mathrm{pre}r_\mathrm{post} + ` :meth:`cross_covariance` (Hz²)."""
        return self.rate_pre_hz * self.rate_post_hz + self.cross_covariance(tau_ms)


def drift_integral(
    window: Window,
    correlation: Callable[[np.ndarray], np.ndarray],
    *,
    learning_rate: float = 1.0,
    support_ms: float | None = None,
    points: Sequence[float] = (),
) -> float:
    r""":math:`\eta\int W(\tau)\,C(\tau)\,d\tau` by adaptive quadrature (scipy), per second.

    Parameters
    ----------
    window : a window of :mod:`neuroplastic.plasticity.stdp`
    correlation : callable
        :math:`C(\tau)` in Hz² for lags in ms (numpy in, numpy out). Must be smooth (no deltas).
    support_ms : float, optional
        Integrate over ``[-support_ms, support_ms]``; default ``window.support_ms``.
    points : sequence of float
        Extra break points (ms) where the integrand changes fast (e.g. a correlation peak).
    """
    from scipy.integrate import quad

    check_positive("learning_rate", learning_rate)
    s = float(window.support_ms if support_ms is None else check_positive("support_ms", support_ms))

    def f(x: float) -> float:
        return float(_w_np(window, x) * np.asarray(correlation(np.asarray(x)), dtype=np.float64))

    cuts = sorted({-s, 0.0, s, *(p for p in points if -s < p < s)})
    total = sum(quad(f, a, b, limit=400)[0] for a, b in zip(cuts[:-1], cuts[1:]))
    return learning_rate * total * _MS


def predicted_drift(
    window: Window,
    model: SharedInputPoisson,
    *,
    learning_rate: float = 1.0,
    method: Literal["closed_form", "quadrature"] = "closed_form",
    dt_ms: float | None = None,
) -> float:
    r"""Mean drift :math:`\langle\dot w\rangle` (weight units per second) of additive,
    all-to-all pair STDP under the shared-input model.

    .. math::

        \langle\dot w\rangle = \eta\,\Big[r_\mathrm{pre} r_\mathrm{post}\int W(\tau)\,d\tau
        + r_c\, E_{\xi\sim N(0,1)}\, W(d + \sigma\xi)\Big]

    ``'closed_form'`` uses the window's ``integral()`` and ``gaussian_expectation()`` (exact
    for exponential windows and the Mexican hat); ``'quadrature'`` integrates
    :math:`W(\tau)C(\tau)` numerically (the delta term, when :math:`\sigma = 0`, is
    :math:`r_c W(d)` with the window's own :math:`W(0)` convention at :math:`d = 0`).

    ``dt_ms`` gives the drift of a clock-driven simulation whose spikes sit on a grid of
    ``dt_ms`` (as :func:`sample_shared_input`): the baseline integral becomes the Riemann sum
    :math:`\sum_k W(k\,dt)\,dt` — which includes :math:`W(0)\,dt` for coincident
    independent spikes — and the jittered lag is rounded to the grid. (``method`` is then
    ignored; the Bernoulli grid's loss of order :math:`r\,dt` of the shared pairs is not
    modelled.)
    """
    check_choice("method", method, ("closed_form", "quadrature"))
    check_positive("learning_rate", learning_rate)
    base = model.rate_pre_hz * model.rate_post_hz
    rc = model.shared_rate_hz
    if dt_ms is not None:
        check_positive("dt_ms", dt_ms)
        span = float(window.support_ms) / dt_ms
        _check_grid("dt_ms", dt_ms, 2.0 * span + 3.0,
                    f"the window's support (+-{float(window.support_ms):g} ms) a grid")
        k_max = int(math.ceil(span))
        w_grid = _w_np(window, np.arange(-k_max, k_max + 1) * dt_ms)
        baseline = base * float(w_grid.sum()) * dt_ms * _MS
        if model.jitter_ms > 0.0:
            _check_grid("jitter_ms", model.jitter_ms, 20.0 * model.jitter_ms / dt_ms + 3.0,
                        f"+-10 jitter std on the grid of dt_ms={dt_ms!r}")
        if not abs(model.lag_ms) / dt_ms <= _MAX_EXACT:
            # the lag (+-10 jitter std, at most 2**24 steps) is > 2**52 steps: far beyond the
            # window's support (< 2**23 steps), where W is 0
            corr = 0.0
        elif model.jitter_ms == 0.0:
            corr = float(_w_np(window, round(model.lag_ms / dt_ms) * dt_ms))
        else:
            from scipy.special import ndtr

            lo = math.floor((model.lag_ms - 10 * model.jitter_ms) / dt_ms)
            hi = math.ceil((model.lag_ms + 10 * model.jitter_ms) / dt_ms)
            k = np.arange(lo, hi + 1)
            with np.errstate(over="ignore"):  # +-inf edges of a tiny jitter: ndtr gives 0, 1
                edges = (k[:, None] + np.array([-0.5, 0.5])) * dt_ms - model.lag_ms
                edges = edges / model.jitter_ms
            prob = ndtr(edges[:, 1]) - ndtr(edges[:, 0])
            corr = float(np.sum(prob * _w_np(window, k * dt_ms)))
        return learning_rate * (baseline + rc * corr)
    if method == "closed_form":
        corr = rc * window.gaussian_expectation(model.lag_ms, model.jitter_ms)
        return learning_rate * (base * window.integral() * _MS + corr)
    d, sd = model.lag_ms, model.jitter_ms
    pts = (d - 3 * sd, d, d + 3 * sd, d - 6 * sd, d + 6 * sd, d - 12 * sd, d + 12 * sd)
    if sd == 0.0 or 12 * sd < 1e-9 * abs(d):
        # a delta, or a peak so narrow against its lag that W is flat across it (and that
        # quadrature, at the float spacing of the lag, could not resolve it)
        baseline = drift_integral(window, lambda t: np.full_like(t, base, dtype=np.float64))
        return learning_rate * (baseline + rc * float(_w_np(window, model.lag_ms)))
    if sd < 1e-300:
        raise ValueError(
            f"jitter_ms={sd!r} is too narrow for method='quadrature' (its Gaussian density "
            "overflows float64 at the peak): use jitter_ms = 0 or >= 1e-300, or "
            "method='closed_form'"
        )
    support = float(window.support_ms)
    s = max(support, abs(model.lag_ms) + 12 * model.jitter_ms)
    if s > support:  # a far peak: keep the window's own support as break points too
        pts = (*pts, -support, support)
    return drift_integral(
        window, model.correlation, learning_rate=learning_rate, support_ms=s, points=pts
    )


def sample_shared_input(
    model: SharedInputPoisson,
    n_pairs: int,
    duration_ms: float,
    *,
    dt_ms: float,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r"""Draw ``n_pairs`` independent pre/post train pairs of the shared-input model on a grid.

    Each train is a Bernoulli process on the grid of ``dt_ms`` (the discrete Poisson process,
    at most one spike per bin): the shared source has probability :math:`r_c\,dt` per bin, the
    independent parts are chosen so that the union has probability :math:`r\,dt` per bin. Post
    copies of shared spikes move by ``round((lag + jitter*N(0,1)) / dt)`` bins; copies that
    land outside the run are dropped and copies that land on another post spike merge with
    it. Requires :math:`r\,dt \le 1`.

    Returns
    -------
    pre_steps, pre_ids, post_steps, post_ids : np.ndarray of int64
        Events (step index, pair index), sorted by step then index.
    """
    n_pairs = check_int("n_pairs", n_pairs, 1)
    check_positive("duration_ms", duration_ms)
    check_positive("dt_ms", dt_ms)
    steps = duration_ms / dt_ms
    limit = (2**62) // n_pairs  # events are keyed step * n_pairs + pair in int64
    if not steps <= limit:
        raise ValueError(
            f"duration_ms={duration_ms!r} is {steps:.6g} steps of dt_ms={dt_ms!r}; with "
            f"n_pairs={n_pairs} at most {limit} steps ({limit * dt_ms:.6g} ms)"
        )
    n_steps = int(round(steps))
    rng = np.random.default_rng(seed)
    p_pre, p_post = model.rate_pre_hz * dt_ms * _MS, model.rate_post_hz * dt_ms * _MS
    p_c = model.shared_rate_hz * dt_ms * _MS
    if max(p_pre, p_post) > 1.0:
        raise ValueError(f"rate * dt must be <= 1, got {max(p_pre, p_post):g}")
    p_top = max(p_pre, p_post)
    draws = n_pairs * (n_steps * p_top + 8.0 * math.sqrt(n_steps * p_top + 1.0) + 8.0)
    if draws > MAX_DRAWS:
        raise ValueError(
            f"duration_ms={duration_ms!r} needs about {draws:.6g} random draws ({n_pairs} pairs "
            f"x {n_steps} steps x spike probability {p_top:.3g}), more than the limit of "
            f"{MAX_DRAWS} (2**26); shorten duration_ms or lower n_pairs"
        )

    def bernoulli(p: float) -> tuple[np.ndarray, np.ndarray]:
        if p <= 0.0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        mean = n_steps * p
        m = int(mean + 8.0 * math.sqrt(mean + 1.0) + 8)
        gaps = rng.geometric(p, size=(n_pairs, m))
        steps = np.cumsum(gaps, axis=1) - 1
        if (steps[:, -1] < n_steps).any():  # not enough draws: extremely unlikely, redo
            return bernoulli(p)
        ids = np.broadcast_to(np.arange(n_pairs)[:, None], steps.shape)
        keep = steps < n_steps
        return steps[keep].astype(np.int64), ids[keep].astype(np.int64)

    def indep(p_total: float) -> float:
        return 1.0 - (1.0 - p_total) / (1.0 - p_c) if p_c < 1.0 else 0.0

    s_steps, s_ids = bernoulli(p_c)
    a_steps, a_ids = bernoulli(indep(p_pre))
    b_steps, b_ids = bernoulli(indep(p_post))
    shift = model.lag_ms + model.jitter_ms * rng.standard_normal(s_steps.size)
    # copies beyond the run are dropped: clip first so that huge lags cannot overflow int64
    moved = s_steps + np.clip(np.rint(shift / dt_ms), -n_steps - 1, n_steps + 1).astype(np.int64)
    inside = (moved >= 0) & (moved < n_steps)

    def union(steps: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        key = np.unique(steps * n_pairs + ids)
        return key // n_pairs, key % n_pairs

    pre = union(np.concatenate([s_steps, a_steps]), np.concatenate([s_ids, a_ids]))
    post = union(
        np.concatenate([moved[inside], b_steps]), np.concatenate([s_ids[inside], b_ids])
    )
    return pre[0], pre[1], post[0], post[1]


def _as_trains(x: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
    if isinstance(x, (np.ndarray, torch.Tensor)) and np.asarray(x).ndim == 1:
        return [np.asarray(x, dtype=np.float64)]
    return [np.asarray(t, dtype=np.float64).ravel() for t in x]


def cross_correlogram(
    pre_times_ms: np.ndarray | Sequence[np.ndarray],
    post_times_ms: np.ndarray | Sequence[np.ndarray],
    *,
    duration_ms: float,
    bin_ms: float,
    max_lag_ms: float,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Estimate :math:`C(\tau) = \langle s_\mathrm{pre}(t)\,s_\mathrm{post}(t+\tau)\rangle`
    from recorded spike trains (Hz², baseline included).

    Bins are centred on :math:`\tau_k = k\,\Delta` (:math:`\Delta` = ``bin_ms``,
    :math:`|k| \le` ``round(max_lag_ms / bin_ms)``), so spikes on a clock grid of
    :math:`\Delta` fall on bin centres. With :math:`n_k` the number of pairs
    (:math:`t_\mathrm{post} - t_\mathrm{pre}` in bin :math:`k`) summed over the ``m`` train pairs,
    :math:`\hat C_k = n_k / (m\,(T - |\tau_k|)\,\Delta)` with times in s; the
    :math:`T - |\tau|` factor corrects for the pairs a finite recording cannot contain.

    Parameters
    ----------
    pre_times_ms, post_times_ms : 1-D array, or a sequence of 1-D arrays
        Spike times (ms) in ``[0, duration_ms)``; with sequences, the k-th pre train is paired
        with the k-th post train and the estimates are pooled.
    duration_ms, bin_ms, max_lag_ms : float

    Returns
    -------
    lags_ms : np.ndarray ``(2K+1,)``
    c_hz2 : np.ndarray ``(2K+1,)``
    """
    check_positive("duration_ms", duration_ms)
    check_positive("bin_ms", bin_ms)
    check_positive("max_lag_ms", max_lag_ms)
    if max_lag_ms >= duration_ms:
        raise ValueError(f"max_lag_ms ({max_lag_ms!r}) must be below duration_ms ({duration_ms!r})")
    pres, posts = _as_trains(pre_times_ms), _as_trains(post_times_ms)
    if len(pres) != len(posts):
        raise ValueError(f"{len(pres)} pre trains but {len(posts)} post trains")
    _check_grid("bin_ms", bin_ms, 2.0 * (max_lag_ms / bin_ms) + 1.0,
                f"max_lag_ms={max_lag_ms!r} a correlogram")
    if not math.isfinite(len(pres) * duration_ms * bin_ms * _MS * _MS):
        raise ValueError(
            f"duration_ms * bin_ms (the exposure of a bin, ms^2) must be finite, got "
            f"{duration_ms!r} * {bin_ms!r} for {len(pres)} train pairs"
        )
    k_max = int(round(max_lag_ms / bin_ms))
    half = (k_max + 0.5) * bin_ms
    # put every train pair on its own stretch of one long time axis, far apart
    stride = duration_ms + 4.0 * half + 1.0
    pre = np.concatenate([np.sort(t) + i * stride for i, t in enumerate(pres)])
    post = np.concatenate([np.sort(t) + i * stride for i, t in enumerate(posts)])
    counts = np.zeros(2 * k_max + 1, dtype=np.float64)
    if pre.size and post.size:
        lo = np.searchsorted(post, pre - half, side="left")
        hi = np.searchsorted(post, pre + half, side="left")
        n = hi - lo
        owner = np.repeat(np.arange(pre.size), n)
        first = np.cumsum(n) - n
        idx = np.arange(owner.size) - first[owner] + lo[owner]
        lag = post[idx] - pre[owner]
        k = np.floor(lag / bin_ms + 0.5).astype(np.int64) + k_max
        ok = (k >= 0) & (k <= 2 * k_max)
        counts = np.bincount(k[ok], minlength=2 * k_max + 1).astype(np.float64)
    lags = np.arange(-k_max, k_max + 1) * bin_ms
    exposure_s = len(pres) * (duration_ms - np.abs(lags)) * _MS
    return lags, counts / (exposure_s * bin_ms * _MS)


def estimated_drift(
    pre_times_ms: np.ndarray | Sequence[np.ndarray],
    post_times_ms: np.ndarray | Sequence[np.ndarray],
    window: Window,
    *,
    duration_ms: float,
    bin_ms: float,
    max_lag_ms: float,
    learning_rate: float = 1.0,
) -> float:
    r""":math:`\eta\sum_k W(\tau_k)\,\hat C_k\,\Delta` from a :func:`cross_correlogram`
    (weight units per second, per train pair). Lags beyond ``max_lag_ms`` are left out: choose
    it where :math:`|W|` is negligible. :math:`W(0)` follows the window's convention, which
    matters when spikes can coincide (clock-driven data)."""
    check_positive("learning_rate", learning_rate)
    lags, c = cross_correlogram(
        pre_times_ms, post_times_ms, duration_ms=duration_ms, bin_ms=bin_ms, max_lag_ms=max_lag_ms
    )
    return learning_rate * float(np.sum(_w_np(window, lags) * c) * bin_ms * _MS)
