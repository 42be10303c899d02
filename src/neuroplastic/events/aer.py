r"""Address-event representation (AER): event streams, packed words, conversions.

An *address event* is one spike (or one pixel change) sent over a link as the address of its
source, the time it happened and, for event cameras, a polarity bit. This module holds

* :class:`EventStream` — a time-sorted stream of events in memory: ``address`` (uint32),
  timestamps as integer ``ticks`` (int64) of ``resolution_us`` microseconds each, ``polarity``
  (int8, 0 or 1), and optional pixel coordinates ``x``, ``y`` (uint16);
* :class:`AERFormat` — the layout of one packed AER word (timestamp resolution and bit widths);
* :func:`encode` / :func:`decode` — times to packed ``uint32`` / ``uint64`` words and back;
* conversions to and from the simulator's spike monitor (``(step_index, neuron)`` pairs plus
  ``dt_ms``), dense boolean rasters ``(time, neurons)`` and Tonic-style structured arrays with
  fields ``x, y, t, p`` (``t`` in µs).

Word layout (least significant bit first)::

    bit 0                       polarity (only when ``AERFormat.polarity``)
    bits p .. p+A-1             address  (A = address_bits)
    bits p+A .. p+A+T-1         timestamp counter modulo 2**T (T = timestamp_bits)

so a word is ``(ts mod 2**T) << (A+p) | address << p | polarity``. Words fit ``uint32`` when
``T + A + p <= 32``, else ``uint64`` (at most 64 bits).

Quantization
    A time :math:`t` becomes the tick :math:`k = \mathrm{rint}(t/\Delta)` (round to nearest,
    ties to even), so the quantization error :math:`|k\Delta - t|` never exceeds
    :math:`\Delta/2`. Decoding is lossless at the native resolution: ``decode(encode(...))``
    returns exactly the ticks that were encoded.

Wrap-around of the timestamp counter
    A ``T``-bit counter wraps every :math:`2^T` ticks. Two strategies (``AERFormat.wrap``):

    ``"marker"`` (default, exact for any gaps)
        the all-ones address :math:`2^A-1` is reserved: before the first event of every new
        counter epoch the encoder emits one *wrap marker* word whose timestamp field holds the
        number of wraps crossed since the previous word (several markers when more than
        :math:`2^T-1` wraps are skipped). The decoder adds up the markers, so absolute times
        are recovered for arbitrarily long silences. Cost: one reserved address and at most one
        extra word per wrap period.
    ``"unwrap"`` (no reserved address, no extra words)
        the decoder adds one wrap whenever the counter decreases between consecutive words.
        This is exact if and only if consecutive events are less than one wrap period
        (:math:`2^T` ticks) apart and the first event falls in the first period; the encoder
        refuses (``ValueError``) streams that break this assumption instead of producing
        ambiguous words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from .._validation import check_choice, check_int, check_positive

__all__ = [
    "TONIC_DTYPE",
    "AERFormat",
    "MAX_WRAP_MARKERS",
    "EventStream",
    "check_us_fit_int64",
    "decode",
    "encode",
    "encode_ticks",
    "from_monitor",
    "from_raster",
    "from_tonic",
    "quantize_times",
    "to_monitor",
    "to_raster",
    "to_tonic",
]

#: dtype of Tonic-style event arrays produced by :func:`to_tonic` (``t`` in microseconds).
TONIC_DTYPE = np.dtype([("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "<i1")])

_TIME_UNITS_US = {"s": 1e6, "ms": 1e3, "us": 1.0}
_INT64_MAX = 2**63 - 1
#: Most wrap-marker words one :func:`encode_ticks` call emits (``wrap="marker"``): one per
#: ``2**timestamp_bits - 1`` counter periods of silence; more means timestamps far beyond what
#: the counter width is meant for.
MAX_WRAP_MARKERS = 2**24


def check_us_fit_int64(name: str, stream: EventStream) -> None:
    """Refuse a stream whose last event is beyond 2**63 - 1 whole microseconds (int64 µs, as
    in Tonic arrays and EVT 3.0 files); ``name`` is the caller's parameter."""
    if not len(stream):
        return
    last, res = int(stream.ticks[-1]), stream.resolution_us
    if float(res).is_integer():
        fits = last * int(res) <= _INT64_MAX  # exact: ticks * resolution is what is written
    else:
        fits = last * res < 2.0**63  # rint of a float below 2**63 fits int64
    if not fits:
        raise ValueError(
            f"{name}: the last event, tick {last} of resolution_us={res!r} "
            f"({last * res:.6g} us), is beyond 2**63 - 1 microseconds (int64)"
        )


def _check_dt_ms(dt_ms) -> float:
    """A simulation step (ms) whose length in µs, ``1000 * dt_ms``, is a finite float64."""
    dt = check_positive("dt_ms", dt_ms)
    if not math.isfinite(1000.0 * dt):
        raise ValueError(
            f"dt_ms must be at most {1.7976931348623157e308 / 1000.0:.6g} ms (its length in "
            f"microseconds, 1000 * dt_ms, must be a finite float64), got {dt_ms!r}"
        )
    return dt


def _as_numpy(a, name: str) -> np.ndarray:
    if isinstance(a, Tensor):
        a = a.detach().cpu().numpy()
    arr = np.asarray(a)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def _as_int_array(a, name: str, dtype, low: int, high: int) -> np.ndarray:
    arr = _as_numpy(a, name)
    if arr.size and arr.dtype.kind not in "biu":
        if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            pass
        else:
            raise ValueError(f"{name} must hold integers, got dtype {arr.dtype}")
    if arr.size:
        lo, hi = arr.min(), arr.max()
        if arr.dtype.kind == "f":  # integral floats: compare exactly (2.0**63 > 2**63 - 1)
            lo, hi = int(lo), int(hi)
        if lo < low or hi > high:
            raise ValueError(f"{name} must lie in [{low}, {high}], got values in [{lo}, {hi}]")
    return arr.astype(dtype, copy=False)


@dataclass(frozen=True, eq=False)
class EventStream:
    """A time-sorted stream of address events (columns of equal length ``n``).

    Inputs are converted to the dtypes below (values are range-checked, never wrapped).
    Use :meth:`equals` for comparison (arrays make ``==`` ambiguous).

    Parameters
    ----------
    address : ndarray of uint32, shape (n,)
        Source address (neuron index, or ``y * width + x`` for a pixel array).
    ticks : ndarray of int64, shape (n,)
        Timestamps in ticks of ``resolution_us``; non-negative and non-decreasing.
    polarity : ndarray of int8, shape (n,)
        0 or 1 (OFF / ON for event cameras; 1 for spikes).
    resolution_us : float
        Duration of one tick in microseconds.
    x, y : ndarray of uint16, shape (n,), optional
        Pixel coordinates (event cameras); both or neither.
    """

    address: np.ndarray
    ticks: np.ndarray
    polarity: np.ndarray
    resolution_us: float = 1.0
    x: np.ndarray | None = None
    y: np.ndarray | None = None

    def __post_init__(self) -> None:
        check_positive("resolution_us", self.resolution_us)
        object.__setattr__(self, "resolution_us", float(self.resolution_us))
        address = _as_int_array(self.address, "address", np.uint32, 0, 2**32 - 1)
        ticks = _as_int_array(self.ticks, "ticks", np.int64, 0, 2**63 - 1)
        polarity = _as_int_array(self.polarity, "polarity", np.int8, 0, 1)
        n = address.shape[0]
        for name, arr in (("ticks", ticks), ("polarity", polarity)):
            if arr.shape[0] != n:
                raise ValueError(f"{name} has {arr.shape[0]} events but address has {n}")
        if n > 1 and np.any(np.diff(ticks) < 0):
            raise ValueError("ticks must be non-decreasing (AER streams are time-ordered)")
        if n and not math.isfinite(float(ticks[-1]) * self.resolution_us):
            raise ValueError(
                f"resolution_us={self.resolution_us!r} times the last tick {int(ticks[-1])} "
                f"overflows float64 microseconds: resolution_us must be at most "
                f"{1.7976931348623157e308 / float(ticks[-1]):.6g} for these ticks"
            )
        if (self.x is None) != (self.y is None):
            raise ValueError("x and y must be given together (or both left out)")
        object.__setattr__(self, "address", address)
        object.__setattr__(self, "ticks", ticks)
        object.__setattr__(self, "polarity", polarity)
        if self.x is not None:
            x = _as_int_array(self.x, "x", np.uint16, 0, 2**16 - 1)
            y = _as_int_array(self.y, "y", np.uint16, 0, 2**16 - 1)
            if x.shape[0] != n or y.shape[0] != n:
                raise ValueError(f"x and y must have {n} events, got {x.shape[0]}, {y.shape[0]}")
            object.__setattr__(self, "x", x)
            object.__setattr__(self, "y", y)

    def __len__(self) -> int:
        return int(self.address.shape[0])

    @property
    def times_us(self) -> np.ndarray:
        """Event times in microseconds, ``ticks * resolution_us`` (float64, shape (n,))."""
        return self.ticks * self.resolution_us

    @property
    def duration_us(self) -> float:
        """Time of the last event in microseconds (0 for an empty stream)."""
        return float(self.ticks[-1] * self.resolution_us) if len(self) else 0.0

    def equals(self, other: EventStream) -> bool:
        """True when every column and the resolution are identical."""
        if not isinstance(other, EventStream) or self.resolution_us != other.resolution_us:
            return False
        if (self.x is None) != (other.x is None):
            return False
        pairs = [(self.address, other.address), (self.ticks, other.ticks)]
        pairs.append((self.polarity, other.polarity))
        if self.x is not None:
            pairs += [(self.x, other.x), (self.y, other.y)]
        return all(a.shape == b.shape and np.array_equal(a, b) for a, b in pairs)

    def __repr__(self) -> str:
        xy = ", with x/y" if self.x is not None else ""
        return (
            f"EventStream(n={len(self)}, resolution_us={self.resolution_us}, "
            f"duration_us={self.duration_us}{xy})"
        )


@dataclass(frozen=True)
class AERFormat:
    """Layout of one packed AER word.

    Parameters
    ----------
    timestamp_resolution_us : float
        Tick of the timestamp counter in microseconds (> 0).
    timestamp_bits : int
        Width of the timestamp field, 1..63; the counter wraps every ``2**timestamp_bits``
        ticks (see the module docstring for the two wrap strategies).
    address_bits : int
        Width of the address field, 1..63. With ``wrap="marker"`` the all-ones address is
        reserved, so usable addresses are ``0 .. 2**address_bits - 2``.
    polarity : bool
        Whether a polarity bit is sent (bit 0).
    wrap : {"marker", "unwrap"}
        How decoders recover absolute time across counter wraps.
    """

    timestamp_resolution_us: float = 1.0  # one counter tick, µs
    timestamp_bits: int = 16  # counter width; wraps every 2**bits ticks
    address_bits: int = 15  # source address width
    polarity: bool = True  # send a polarity bit
    wrap: Literal["marker", "unwrap"] = "marker"  # wrap-around strategy

    def __post_init__(self) -> None:
        check_positive("timestamp_resolution_us", self.timestamp_resolution_us)
        check_int("timestamp_bits", self.timestamp_bits, 1, 63)
        check_int("address_bits", self.address_bits, 1, 63)
        if not isinstance(self.polarity, bool):
            raise ValueError(f"polarity must be a bool, got {self.polarity!r}")
        check_choice("wrap", self.wrap, ("marker", "unwrap"))
        if self.word_bits > 64:
            raise ValueError(
                f"timestamp_bits + address_bits + polarity must be <= 64, got {self.word_bits}"
            )
        if not math.isfinite(self.wrap_period_us):
            raise ValueError(
                f"timestamp_resolution_us must be at most "
                f"{1.7976931348623157e308 / self.wrap_ticks:.6g} us with timestamp_bits="
                f"{self.timestamp_bits} (the wrap period, 2**timestamp_bits ticks, must be a "
                f"finite float64), got {self.timestamp_resolution_us!r}"
            )

    @property
    def word_bits(self) -> int:
        """Number of used bits in a word."""
        return self.timestamp_bits + self.address_bits + int(self.polarity)

    @property
    def dtype(self) -> np.dtype:
        """``uint32`` when the word fits 32 bits, else ``uint64``."""
        return np.dtype(np.uint32) if self.word_bits <= 32 else np.dtype(np.uint64)

    @property
    def wrap_ticks(self) -> int:
        """Counter period in ticks, ``2**timestamp_bits``."""
        return 1 << self.timestamp_bits

    @property
    def wrap_period_us(self) -> float:
        """Counter period in microseconds."""
        return self.wrap_ticks * self.timestamp_resolution_us

    @property
    def max_address(self) -> int:
        """Largest address an event may carry (one less with wrap markers)."""
        top = (1 << self.address_bits) - 1
        return top - 1 if self.wrap == "marker" else top

    @property
    def marker_address(self) -> int:
        """The reserved all-ones address of wrap markers (``wrap="marker"``)."""
        return (1 << self.address_bits) - 1


def quantize_times(times_us, resolution_us: float) -> np.ndarray:
    """Round times to the nearest tick: ``rint(times_us / resolution_us)`` as int64.

    The error ``|ticks * resolution_us - times_us|`` is at most ``resolution_us / 2``.
    Times must be finite and non-negative.
    """
    check_positive("resolution_us", resolution_us)
    t = _as_numpy(times_us, "times_us").astype(np.float64, copy=False)
    if t.size:
        bad = ~np.isfinite(t) | (t < 0)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"times_us must be finite and >= 0, got {float(t[i])!r} (event {i})")
    with np.errstate(over="ignore"):  # overflow to inf is refused just below
        ticks = np.rint(t / resolution_us)
    if ticks.size and not ticks.max() < 2.0**63:
        raise ValueError(
            f"times_us up to {float(t.max())!r} us are {ticks.max():.6g} ticks of resolution_us="
            f"{resolution_us!r}: int64 ticks hold at most 2**63 - 1 "
            f"({_INT64_MAX * resolution_us:.6g} us at this resolution)"
        )
    return ticks.astype(np.int64)


def encode(times, addresses, polarity, fmt: AERFormat, *, unit: str = "us") -> np.ndarray:
    """Quantize event times to ``fmt``'s tick and pack events into AER words.

    Parameters
    ----------
    times : array_like of float, shape (n,)
        Event times (non-negative, non-decreasing) in ``unit``.
    addresses : array_like of int, shape (n,)
        Source addresses, ``0 .. fmt.max_address``.
    polarity : array_like of int or bool, shape (n,), or None
        0/1 polarities; ``None`` means all 1. Ignored values must still be 0/1.
    fmt : AERFormat
        Word layout.
    unit : {"s", "ms", "us"}
        Unit of ``times``.

    Returns
    -------
    ndarray of ``fmt.dtype``, shape (n + number of wrap markers,)
    """
    check_choice("unit", unit, tuple(_TIME_UNITS_US))
    t = _as_numpy(times, "times").astype(np.float64)
    with np.errstate(over="ignore"):  # overflow to inf is refused just below
        t_us = t * _TIME_UNITS_US[unit]
    if t.size and np.all(np.isfinite(t)) and not np.all(np.isfinite(t_us)):
        raise ValueError(
            f"times up to {float(t.max())!r} {unit} overflow float64 in microseconds; at most "
            f"{1.7976931348623157e308 / _TIME_UNITS_US[unit]:.6g} {unit}"
        )
    ticks = quantize_times(t_us, fmt.timestamp_resolution_us)
    return encode_ticks(ticks, addresses, polarity, fmt)


def encode_ticks(ticks, addresses, polarity, fmt: AERFormat) -> np.ndarray:
    """Pack events whose times are already integer ticks of ``fmt`` (see :func:`encode`)."""
    ticks = _as_int_array(ticks, "ticks", np.int64, 0, 2**63 - 1)
    n = ticks.shape[0]
    addr = _as_int_array(addresses, "addresses", np.uint64, 0, fmt.max_address)
    if polarity is None:
        pol = np.ones(n, dtype=np.uint64)
    else:
        pol = _as_int_array(polarity, "polarity", np.uint64, 0, 1)
    if addr.shape[0] != n or pol.shape[0] != n:
        raise ValueError(
            f"times, addresses and polarity must have equal length, got "
            f"{n}, {addr.shape[0]}, {pol.shape[0]}"
        )
    if n > 1 and np.any(np.diff(ticks) < 0):
        raise ValueError("times must be non-decreasing (AER streams are time-ordered)")
    T, A, P = fmt.timestamp_bits, fmt.address_bits, int(fmt.polarity)
    tmask = np.uint64(fmt.wrap_ticks - 1)
    ts = ticks.astype(np.uint64) & tmask
    words = (ts << np.uint64(A + P)) | (addr << np.uint64(P))
    if P:
        words |= pol
    if fmt.wrap == "unwrap":
        if n and ticks[0] >= fmt.wrap_ticks:
            raise ValueError(
                f"wrap='unwrap' needs the first event in the first counter period "
                f"(< {fmt.wrap_ticks} ticks), got tick {ticks[0]}; use wrap='marker'"
            )
        if n > 1 and np.any(np.diff(ticks) >= fmt.wrap_ticks):
            raise ValueError(
                f"wrap='unwrap' needs gaps shorter than one wrap period ({fmt.wrap_ticks} "
                "ticks) between consecutive events; use wrap='marker'"
            )
        return words.astype(fmt.dtype)
    # wrap markers: before event i, one marker per (2**T - 1) epochs crossed since event i-1
    epoch = ticks >> T
    crossed = np.diff(epoch, prepend=np.int64(0))
    per_marker = fmt.wrap_ticks - 1
    n_markers = -(-crossed // per_marker)  # ceil
    total_markers = int(n_markers.sum())
    if total_markers > MAX_WRAP_MARKERS:
        raise ValueError(
            f"ticks up to {int(ticks[-1])} need {total_markers} wrap markers (one per "
            f"{per_marker} periods of 2**{T} ticks), more than the limit of {MAX_WRAP_MARKERS} "
            f"(2**24): timestamps far beyond this format's counter; use more timestamp_bits "
            f"or a coarser timestamp_resolution_us"
        )
    if total_markers == 0:
        return words.astype(fmt.dtype)
    out = np.empty(n + total_markers, dtype=np.uint64)
    markers_before = np.cumsum(n_markers) - n_markers  # markers emitted before event i's own
    event_pos = np.arange(n) + markers_before + n_markers
    out[event_pos] = words
    owner = np.repeat(np.arange(n), n_markers)  # the event each marker precedes
    within = np.arange(total_markers) - np.repeat(markers_before, n_markers)
    count = np.minimum(crossed[owner] - within * per_marker, per_marker).astype(np.uint64)
    marker_pos = (event_pos - n_markers)[owner] + within
    marker = (count << np.uint64(A + P)) | (np.uint64(fmt.marker_address) << np.uint64(P))
    out[marker_pos] = marker
    return out.astype(fmt.dtype)


def decode(words, fmt: AERFormat) -> EventStream:
    """Unpack AER words into an :class:`EventStream` at the native resolution (lossless).

    Wrap markers (``fmt.wrap == "marker"``) are consumed and do not appear as events.
    """
    w = _as_numpy(words, "words")
    if w.size and w.dtype.kind not in "iu":
        raise ValueError(f"words must be unsigned integers, got dtype {w.dtype}")
    w = w.astype(np.uint64, copy=False)
    T, A, P = fmt.timestamp_bits, fmt.address_bits, int(fmt.polarity)
    if w.size and int(w.max()) >> fmt.word_bits:
        raise ValueError(f"words have bits set above bit {fmt.word_bits - 1} of this format")
    ts = (w >> np.uint64(A + P)).astype(np.int64)
    addr = (w >> np.uint64(P)) & np.uint64((1 << A) - 1)
    pol = (w & np.uint64(1)).astype(np.int8) if P else np.ones(w.shape[0], np.int8)
    max_epoch = _INT64_MAX >> T  # counter periods before int64 ticks overflow
    if fmt.wrap == "marker":
        is_marker = addr == np.uint64(fmt.marker_address)
        epoch = np.cumsum(np.where(is_marker, ts, 0))
        # partial sums of non-negative int64 words: the first overflow turns one negative
        if epoch.size and (epoch.min() < 0 or epoch.max() > max_epoch):
            raise ValueError(
                f"words: the wrap markers add up to more than {max_epoch} counter periods of "
                f"2**{T} ticks, beyond the int64 tick range (2**63 - 1 ticks)"
            )
        keep = ~is_marker
        ticks = (epoch[keep] << T) + ts[keep]
        addr, pol = addr[keep], pol[keep]
    else:
        wrapped = np.zeros(ts.shape[0], dtype=np.int64)
        if ts.shape[0] > 1:
            wrapped[1:] = np.cumsum(ts[1:] < ts[:-1])
        if wrapped.size and wrapped[-1] > max_epoch:
            raise ValueError(
                f"words: the counter wraps {int(wrapped[-1])} times, more than the {max_epoch} "
                f"periods of 2**{T} ticks that int64 ticks (2**63 - 1) hold"
            )
        ticks = (wrapped << T) + ts
    return EventStream(
        address=addr.astype(np.uint32),
        ticks=ticks,
        polarity=pol,
        resolution_us=fmt.timestamp_resolution_us,
    )


# ----------------------------------------------------------------------------- conversions


def from_monitor(step_index, neuron, dt_ms: float) -> EventStream:
    """Spike-monitor events ``(step_index, neuron)`` to a stream with one tick per step.

    Parameters
    ----------
    step_index, neuron : Tensor or ndarray of int, shape (n,)
        Simulator time step and neuron index of each spike, sorted by step.
    dt_ms : float
        Simulation step in ms; becomes ``resolution_us = 1000 * dt_ms``.
    """
    _check_dt_ms(dt_ms)
    return EventStream(
        address=_as_int_array(neuron, "neuron", np.uint32, 0, 2**32 - 1),
        ticks=_as_int_array(step_index, "step_index", np.int64, 0, 2**63 - 1),
        polarity=np.ones(_as_numpy(neuron, "neuron").shape[0], np.int8),
        resolution_us=1000.0 * dt_ms,
    )


def to_monitor(stream: EventStream, dt_ms: float) -> tuple[Tensor, Tensor]:
    """A stream to the simulator's ``(step_index, neuron)`` int64 tensors.

    Each event goes to the step nearest its time, ``rint(t_us / (1000 dt_ms))``, which is
    exact when the stream's resolution is the step (as after :func:`from_monitor`).
    """
    _check_dt_ms(dt_ms)
    ratio = stream.resolution_us / (1000.0 * dt_ms)
    if ratio == 1.0:
        steps = stream.ticks.copy()
    else:
        last_us = float(stream.ticks[-1]) * stream.resolution_us if len(stream) else 0.0
        if not (math.isfinite(ratio) and last_us / (1000.0 * dt_ms) < 2.0**63):
            raise ValueError(
                f"dt_ms={dt_ms!r} puts the last event ({last_us!r} us) at step "
                f"{last_us / (1000.0 * dt_ms):.6g}: int64 step indices hold at most 2**63 - 1; "
                f"dt_ms must be at least {last_us / 1000.0 / 2.0**63:.6g} ms for this stream"
            )
        steps = np.rint(stream.ticks * ratio).astype(np.int64)
    return torch.from_numpy(steps), torch.from_numpy(stream.address.astype(np.int64))


def to_raster(
    stream: EventStream, n_neurons: int, n_steps: int | None = None, *, dt_ms: float | None = None
) -> Tensor:
    """A dense boolean raster of shape ``(time, n_neurons)``.

    Time bins are one tick of the stream, or ``dt_ms`` when given (events go to the nearest
    step). ``n_steps`` defaults to one past the last event. Several events of one neuron in one
    bin collapse into a single ``True``.
    """
    check_int("n_neurons", n_neurons, 1)
    if dt_ms is None:
        steps = stream.ticks
    else:
        steps = to_monitor(stream, dt_ms)[0].numpy()
    if n_steps is None:
        n_steps = int(steps[-1]) + 1 if len(stream) else 0
    check_int("n_steps", n_steps, 0)
    if len(stream) and (steps[-1] >= n_steps or stream.address.max() >= n_neurons):
        raise ValueError(
            f"events outside the raster: last step {steps[-1]} (n_steps={n_steps}), "
            f"max address {stream.address.max()} (n_neurons={n_neurons})"
        )
    raster = torch.zeros(n_steps, n_neurons, dtype=torch.bool)
    raster[torch.from_numpy(steps), torch.from_numpy(stream.address.astype(np.int64))] = True
    return raster


def from_raster(raster, dt_ms: float) -> EventStream:
    """A ``(time, neurons)`` raster (bool or 0/1) to a stream, one tick per step of ``dt_ms``.

    Events are ordered by time, then neuron (the simulator's monitor order).
    """
    _check_dt_ms(dt_ms)
    r = torch.as_tensor(raster)
    if r.ndim != 2:
        raise ValueError(f"raster must have shape (time, neurons), got {tuple(r.shape)}")
    steps, neurons = torch.nonzero(r != 0, as_tuple=True)
    return from_monitor(steps, neurons, dt_ms)


def to_tonic(stream: EventStream, *, width: int | None = None) -> np.ndarray:
    """A stream to a Tonic-style structured array (:data:`TONIC_DTYPE`, ``t`` in µs).

    Pixel coordinates come from ``stream.x``/``stream.y``; without them, from the address
    as ``x = address % width``, ``y = address // width`` (``width`` required). Times are
    rounded to whole microseconds (exact for integer ``resolution_us``).
    """
    out = np.empty(len(stream), dtype=TONIC_DTYPE)
    if stream.x is not None:
        x, y = stream.x, stream.y
    else:
        if width is None:
            raise ValueError("width is required when the stream has no x/y coordinates")
        check_int("width", width, 1)
        x, y = stream.address % width, stream.address // width
    if len(stream) and (x.max() > 32767 or y.max() > 32767):
        raise ValueError("x/y exceed the int16 range of Tonic arrays")
    out["x"], out["y"], out["p"] = x, y, stream.polarity
    check_us_fit_int64("stream", stream)
    if float(stream.resolution_us).is_integer():
        out["t"] = stream.ticks * int(stream.resolution_us)
    else:
        out["t"] = np.rint(stream.times_us).astype(np.int64)
    return out


def from_tonic(events: np.ndarray, *, width: int | None = None) -> EventStream:
    """A structured array with fields ``x, y, t, p`` (``t`` in µs) to a 1 µs stream.

    The address is ``y * width + x``; ``width`` defaults to ``max(x) + 1``. Polarity may be
    0/1, bool, or -1/+1 (mapped to 0/1). Events must be sorted by ``t``.
    """
    names = events.dtype.names or ()
    missing = [f for f in ("x", "y", "t", "p") if f not in names]
    if missing:
        raise ValueError(f"events must have fields x, y, t, p; missing {missing}")
    x = _as_int_array(events["x"], "x", np.int64, 0, 2**16 - 1)
    y = _as_int_array(events["y"], "y", np.int64, 0, 2**16 - 1)
    p = np.asarray(events["p"])
    p = _as_int_array(np.where(p < 0, 0, p) if p.dtype.kind == "i" else p, "p", np.int8, 0, 1)
    if width is None:
        width = int(x.max()) + 1 if x.size else 1
    check_int("width", width, 1)
    if x.size and x.max() >= width:
        raise ValueError(f"x must be < width={width}, got max {x.max()}")
    return EventStream(
        address=y * width + x,
        ticks=_as_int_array(events["t"], "t", np.int64, 0, 2**63 - 1),
        polarity=p,
        resolution_us=1.0,
        x=x,
        y=y,
    )
