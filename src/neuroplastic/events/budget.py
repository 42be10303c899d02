r"""Link budget planner: bandwidth and timestamp resolution for learning over an AER link.

Bandwidth
    ``N`` neurons firing at a mean rate ``r`` (Hz) with fan-out ``k`` put on the link

    * ``routing="multicast"``: :math:`N r` events/s — one packet per spike carrying the *source*
      address; routers replicate it to the ``k`` targets (SpiNNaker, Loihi, DYNAP style);
    * ``routing="unicast"``: :math:`N r k` events/s — one packet per target, each carrying a
      destination address.

    Every packet costs ``address_bits + timestamp_bits + polarity_bits + overhead_bits``
    (``overhead_bits``: framing, header, CRC, per packet). With wrap markers
    (:class:`~neuroplastic.events.aer.AERFormat` ``wrap="marker"``) the counter of
    ``timestamp_bits`` adds at most one marker word per wrap period :math:`2^T \Delta`, included
    in ``bits_per_s`` as ``marker_rate_hz``.

STDP update error under timestamp quantization
    Both spike times of a pair are rounded to a grid of resolution :math:`\Delta`, so the pair
    lag :math:`s = t_\mathrm{post} - t_\mathrm{pre}` becomes a multiple :math:`k\Delta`. For
    independent spikes (Poisson trains) the grid phase is uniform, and
    :math:`P(\hat s = k\Delta \mid s) = \max(0, 1 - |s - k\Delta|/\Delta)` (a triangle). We
    define the **STDP update error** as the relative RMS error of the weight update per pair,
    over all pairs of independent Poisson trains (lags uniform over the window's support):

    .. math::

        \varepsilon(\Delta)^2 = \frac{\sum_k \int \max(0, 1-|s-k\Delta|/\Delta)\,
        \big(W(k\Delta) - W(s)\big)^2\,ds}{\int W(s)^2\,ds}.

    It does not depend on the rates or the duration. For the exponential window
    :math:`W(s) = a_+ e^{-s/\tau_+}` (:math:`s>0`), :math:`-a_- e^{s/\tau_-}` (:math:`s<0`),
    :math:`W(0) = W_0` the sum over grid cells is a geometric series and each cell an integral over
    :math:`[0, 1]` of a smooth function (Gauss–Legendre, exact to rounding), so
    :math:`\varepsilon` costs microseconds. The error is dominated by pairs within one tick of
    zero lag, whose sign flips: :math:`\varepsilon^2 \approx \Delta\,[(a_+ - W_0)^2 + (a_- +
    W_0)^2] / (a_+^2\tau_+ + a_-^2\tau_-)`, i.e. :math:`\varepsilon \propto \sqrt{\Delta/\tau}`
    — a 4x coarser clock doubles the error. A worst case per pair is unbounded for that reason
    (a pair 1 µs after the pre spike can be counted as depression), so we report the worst case
    only away from the jump: pairs whose lag keeps its sign err by at most
    :math:`e^{\Delta/\tau_\min} - 1` relative (``worst_case_same_sign_error``).

    The planner picks the coarsest resolution of the 1-2-5 series (…, 10, 20, 50, 100 µs, …) with
    :math:`\varepsilon \le` ``tolerance``; ``resolution_us_exact`` is the root of
    :math:`\varepsilon(\Delta) = ` ``tolerance`` itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from .._validation import (
    check_choice,
    check_finite,
    check_int,
    check_nonnegative,
    check_positive,
    check_range,
)

__all__ = [
    "LinkPlan",
    "STDPWindowLike",
    "bits_per_event",
    "events_per_second",
    "max_rate_hz",
    "plan_link",
    "resolution_for_tolerance",
    "stdp_quantization_error",
]

_GL_X, _GL_W = np.polynomial.legendre.leggauss(48)
_GL_X = 0.5 * (_GL_X + 1.0)  # nodes on [0, 1]
_GL_W = 0.5 * _GL_W


class STDPWindowLike(Protocol):
    """An exponential STDP window (e.g. :class:`neuroplastic.plasticity.stdp.ExponentialWindow`):
    amplitudes (``a_minus`` a magnitude), time constants in ms and the value ``w_zero`` at 0."""

    a_plus: float
    a_minus: float
    tau_plus_ms: float
    tau_minus_ms: float

    @property
    def w_zero(self) -> float: ...


def _window_params(window) -> tuple[float, float, float, float, float]:
    try:
        a, b = float(window.a_plus), float(window.a_minus)
        tp, tm = float(window.tau_plus_ms), float(window.tau_minus_ms)
        w0 = float(window.w_zero)
    except AttributeError as exc:
        raise ValueError(
            "window must be an exponential STDP window with a_plus, a_minus, tau_plus_ms, "
            f"tau_minus_ms and w_zero ({exc})"
        ) from None
    for name, tau in (("window.tau_plus_ms", tp), ("window.tau_minus_ms", tm)):
        check_range(name, tau, 1e-300, 1e300)  # normal floats with room for the error sums
    if a == 0 and b == 0:
        raise ValueError("window must have a nonzero amplitude (a_plus or a_minus)")
    for name, v in (("window.a_plus", a), ("window.a_minus", b), ("window.w_zero", w0)):
        check_finite(name, v)
    top = max(abs(a), abs(b), abs(w0))
    if not 1e-100 <= top <= 1e100:  # the error is relative: rescale before squaring amplitudes
        a, b, w0 = a / top, b / top, w0 / top
    return a, b, tp, tm, w0


def _side_error(amp: float, tau: float, w0: float, delta: float) -> float:
    r"""Quantization error :math:`\int (\hat W - W)^2` over one side :math:`s \ge 0` of
    :math:`W(s) = amp\,e^{-s/\tau}` with :math:`W(0) = w_0`, resolution ``delta``."""
    d = delta / tau
    x = _GL_X
    e = np.exp(-x * d)
    # cells j >= 1: [j, j+1] Delta, endpoints W_j = amp e^{-jd}, W_{j+1} = W_j e^{-d}
    cell = np.sum(_GL_W * ((1 - x) * (1 - e) ** 2 + x * (math.exp(-d) - e) ** 2))
    tail = -math.expm1(-2 * d)
    geom = math.exp(-2 * d) / tail if tail > 0 else math.inf
    first = np.sum(_GL_W * ((1 - x) * (w0 - amp * e) ** 2 + x * amp**2 * (math.exp(-d) - e) ** 2))
    cells = amp**2 * cell * geom if cell > 0 else 0.0  # cell = 0: d so small that e == 1
    return delta * (cells + first)


def stdp_quantization_error(resolution_ms: float, window: STDPWindowLike) -> float:
    r"""Relative RMS STDP update error :math:`\varepsilon(\Delta)` (see the module docstring).

    Parameters
    ----------
    resolution_ms : float
        Timestamp resolution :math:`\Delta` in ms (both spike times rounded to it).
    window : exponential STDP window
        Provides ``a_plus``, ``a_minus`` (magnitude), ``tau_plus_ms``, ``tau_minus_ms``, ``w_zero``.

    Returns
    -------
    float
        :math:`\varepsilon \ge 0` (dimensionless).
    """
    check_positive("resolution_ms", resolution_ms)
    a, b, tp, tm, w0 = _window_params(window)
    num = _side_error(a, tp, w0, resolution_ms) + _side_error(-b, tm, w0, resolution_ms)
    den = 0.5 * (a * a * tp + b * b * tm)
    return math.sqrt(num / den)


def resolution_for_tolerance(tolerance: float, window: STDPWindowLike) -> float:
    r"""Coarsest resolution (ms) with :math:`\varepsilon(\Delta) \le` ``tolerance`` (the root).

    Raises ``ValueError`` if even the coarsest sensible clock (1000 time constants) stays below
    the tolerance, i.e. timing is irrelevant at that tolerance.
    """
    check_positive("tolerance", tolerance)
    a, b, tp, tm, w0 = _window_params(window)
    # 1e-9 .. 1e3 time constants, kept within normal, finite float64
    lo, hi = max(1e-9 * min(tp, tm), 1e-300), min(1e3 * max(tp, tm), 1e300)
    if stdp_quantization_error(hi, window) <= tolerance:
        raise ValueError(
            f"tolerance={tolerance} is above the error of any resolution up to {hi} ms"
        )
    if stdp_quantization_error(lo, window) > tolerance:
        raise ValueError(f"tolerance={tolerance} is below the error at {lo} ms resolution")
    for _ in range(200):  # bisection in log space: error grows monotonically with Delta
        mid = math.sqrt(lo * hi)
        if stdp_quantization_error(mid, window) <= tolerance:
            lo = mid
        else:
            hi = mid
        if hi / lo < 1 + 1e-12:
            break
    return lo


def _floor_125(value: float) -> float:
    """Largest number of the 1-2-5 series not above ``value``."""
    decade = 10.0 ** math.floor(math.log10(value))
    for m in (5.0, 2.0, 1.0):
        if m * decade <= value * (1 + 1e-12):
            return m * decade
    return 0.5 * decade  # pragma: no cover - unreachable for value >= decade


def events_per_second(
    n_neurons: int, rate_hz: float, fan_out: int = 1, routing: str = "multicast"
) -> float:
    """Packets per second on the link: ``N r`` (multicast) or ``N r k`` (unicast)."""
    check_int("n_neurons", n_neurons, 1)
    check_nonnegative("rate_hz", rate_hz)
    check_int("fan_out", fan_out, 1)
    check_choice("routing", routing, ("multicast", "unicast"))
    events = n_neurons * rate_hz * (fan_out if routing == "unicast" else 1)
    if not math.isfinite(events):
        raise ValueError(
            f"rate_hz={rate_hz!r} makes n_neurons * rate_hz (x fan_out) = {events!r} events/s; "
            f"rate_hz must be at most {1.7976931348623157e308 / (events / rate_hz):.6g} Hz"
        )
    return events


def bits_per_event(
    address_bits: int, timestamp_bits: int, polarity: bool = False, overhead_bits: int = 0
) -> int:
    """Bits of one packet: address + timestamp + polarity + per-packet overhead."""
    check_int("address_bits", address_bits, 1, 64)
    check_int("timestamp_bits", timestamp_bits, 0, 64)
    check_int("overhead_bits", overhead_bits, 0)
    return address_bits + timestamp_bits + int(bool(polarity)) + overhead_bits


def max_rate_hz(
    link_bits_per_s: float,
    n_neurons: int,
    *,
    address_bits: int,
    timestamp_bits: int,
    resolution_us: float,
    fan_out: int = 1,
    routing: str = "multicast",
    polarity: bool = False,
    overhead_bits: int = 0,
) -> float:
    """Largest mean rate (Hz) a link of ``link_bits_per_s`` carries, wrap markers included."""
    check_positive("link_bits_per_s", link_bits_per_s)
    check_positive("resolution_us", resolution_us)
    bpe = bits_per_event(address_bits, timestamp_bits, polarity, overhead_bits)
    markers = _marker_rate_hz(timestamp_bits, resolution_us)
    per_hz = events_per_second(n_neurons, 1.0, fan_out, routing)
    return max(0.0, (link_bits_per_s / bpe - markers) / per_hz)


def _marker_rate_hz(timestamp_bits: int, resolution_us: float) -> float:
    return 1e6 / (2.0**timestamp_bits * resolution_us)


@dataclass(frozen=True)
class LinkPlan:
    """Numbers of a planned AER link (all rates per second of simulated/real time)."""

    n_neurons: int  # neurons sending on the link
    rate_hz: float  # mean firing rate per neuron
    fan_out: int  # targets per neuron
    routing: Literal["multicast", "unicast"]  # packet replication strategy
    address_bits: int  # address field width
    timestamp_bits: int  # timestamp counter width
    polarity: bool  # one polarity bit per packet
    overhead_bits: int  # framing / header bits per packet
    tolerance: float  # allowed relative RMS STDP update error
    events_per_s: float  # packets per second
    bits_per_event: int  # bits per packet
    marker_rate_hz: float  # wrap-marker words per second (upper bound)
    bits_per_s: float  # link bandwidth needed, markers included
    resolution_us: float  # chosen timestamp resolution (1-2-5 series)
    resolution_us_exact: float  # root of error(resolution) = tolerance
    stdp_error: float  # relative RMS STDP update error at resolution_us
    worst_case_same_sign_error: float  # max relative error of pairs that keep their sign
    wrap_period_s: float  # timestamp counter period
    link_bits_per_s: float | None = None  # capacity of the link, if given
    max_rate_hz: float | None = None  # largest mean rate the link carries, if given

    @property
    def fits(self) -> bool | None:
        """Whether the link capacity covers the bandwidth (None when no capacity given)."""
        return None if self.link_bits_per_s is None else self.bits_per_s <= self.link_bits_per_s

    def summary(self) -> str:
        """A human-readable multi-line report."""
        lines = [
            f"AER link for {self.n_neurons} neurons at {self.rate_hz:g} Hz, fan-out "
            f"{self.fan_out} ({self.routing})",
            f"  packets: {self.events_per_s:,.0f} events/s x {self.bits_per_event} bits "
            f"({self.address_bits} address + {self.timestamp_bits} timestamp + "
            f"{int(self.polarity)} polarity + {self.overhead_bits} overhead)",
            f"  wrap markers: {self.marker_rate_hz:.3g}/s (counter wraps every "
            f"{self.wrap_period_s:.4g} s)",
            f"  bandwidth: {self.bits_per_s / 1e6:.4g} Mbit/s",
            f"  timestamp resolution: {self.resolution_us:g} us (exact limit "
            f"{self.resolution_us_exact:.4g} us) for STDP error <= {self.tolerance:g}",
            f"  STDP update error at {self.resolution_us:g} us: {self.stdp_error:.4f} "
            f"(relative RMS per pair); same-sign pairs <= "
            f"{self.worst_case_same_sign_error:.2e}",
        ]
        if self.link_bits_per_s is not None:
            verdict = "fits" if self.fits else "DOES NOT FIT"
            lines.append(
                f"  link {self.link_bits_per_s / 1e6:.4g} Mbit/s: {verdict}; max mean rate "
                f"{self.max_rate_hz:.4g} Hz"
            )
        return "\n".join(lines)


def plan_link(
    n_neurons: int,
    rate_hz: float,
    window: STDPWindowLike,
    tolerance: float,
    *,
    fan_out: int = 1,
    routing: Literal["multicast", "unicast"] = "multicast",
    address_bits: int | None = None,
    timestamp_bits: int = 16,
    polarity: bool = False,
    overhead_bits: int = 0,
    link_bits_per_s: float | None = None,
) -> LinkPlan:
    """Plan an AER link for a population learning with an exponential STDP window.

    Parameters
    ----------
    n_neurons : int
        Neurons whose spikes travel on the link.
    rate_hz : float
        Mean firing rate per neuron (Hz).
    window : exponential STDP window
        E.g. ``ExponentialWindow(a_plus, a_minus, tau_plus_ms, tau_minus_ms)``.
    tolerance : float
        Allowed relative RMS STDP update error (module docstring), e.g. 0.1.
    fan_out : int
        Targets per neuron (matters for ``routing="unicast"``).
    routing : {"multicast", "unicast"}
        One packet per spike, or one per target.
    address_bits : int, optional
        Defaults to ``ceil(log2(n_neurons + 1))`` (room for the reserved wrap-marker address).
    timestamp_bits, polarity, overhead_bits
        Packet fields (see :func:`bits_per_event`).
    link_bits_per_s : float, optional
        Link capacity; adds ``max_rate_hz`` and :attr:`LinkPlan.fits`.
    """
    check_positive("tolerance", tolerance)
    events = events_per_second(n_neurons, rate_hz, fan_out, routing)
    if address_bits is None:
        address_bits = max(1, math.ceil(math.log2(n_neurons + 1)))
    check_int("address_bits", address_bits, 1, 64)
    if (1 << address_bits) - 1 < n_neurons:
        raise ValueError(
            f"address_bits={address_bits} cannot address {n_neurons} neurons plus the wrap marker"
        )
    bpe = bits_per_event(address_bits, timestamp_bits, polarity, overhead_bits)
    exact_ms = resolution_for_tolerance(tolerance, window)
    res_us = _floor_125(exact_ms * 1000.0)
    a, b, tp, tm, _ = _window_params(window)
    markers = _marker_rate_hz(timestamp_bits, res_us)
    bits = (events + markers) * bpe
    max_rate = None
    if link_bits_per_s is not None:
        max_rate = max_rate_hz(
            link_bits_per_s,
            n_neurons,
            address_bits=address_bits,
            timestamp_bits=timestamp_bits,
            resolution_us=res_us,
            fan_out=fan_out,
            routing=routing,
            polarity=polarity,
            overhead_bits=overhead_bits,
        )
    return LinkPlan(
        n_neurons=n_neurons,
        rate_hz=float(rate_hz),
        fan_out=fan_out,
        routing=routing,
        address_bits=address_bits,
        timestamp_bits=timestamp_bits,
        polarity=bool(polarity),
        overhead_bits=overhead_bits,
        tolerance=float(tolerance),
        events_per_s=float(events),
        bits_per_event=bpe,
        marker_rate_hz=markers,
        bits_per_s=float(bits),
        resolution_us=res_us,
        resolution_us_exact=exact_ms * 1000.0,
        stdp_error=stdp_quantization_error(res_us / 1000.0, window),
        worst_case_same_sign_error=math.expm1(res_us / 1000.0 / min(tp, tm)),
        wrap_period_s=2.0**timestamp_bits * res_us * 1e-6,
        link_bits_per_s=None if link_bits_per_s is None else float(link_bits_per_s),
        max_rate_hz=max_rate,
    )
