r"""Event files: Prophesee EVT 3.0 ``.raw`` and the native ``.npev`` format.

EVT 3.0 (Prophesee, event cameras up to 2048 x 2048)
    An ASCII header of lines ``% <keyword> <value>\n`` (optionally closed by ``% end``; data
    starts at the first line that does not begin with ``"% "``), then little-endian 16-bit
    words. The 4 most significant bits of a word give its type; the decoder keeps a state:

    ====  ==============  ===================================================================
    type  name            payload (bits)
    ====  ==============  ===================================================================
    0x0   EVT_ADDR_Y      [10:0] y, [11] system type (master/slave); sets the current row
    0x2   EVT_ADDR_X      [10:0] x, [11] polarity; one event at (x, current y, current time)
    0x3   VECT_BASE_X     [10:0] x, [11] polarity; base column of the following vectors
    0x4   VECT_12         [11:0] valid mask; events at base+i for set bits i, then base += 12
    0x5   VECT_8          [7:0] valid mask; events at base+i for set bits i, then base += 8
    0x6   EVT_TIME_LOW    [11:0] lower 12 bits of the 24-bit µs time base
    0x7   CONTINUED_4     extra data of the previous word (ignored here)
    0x8   EVT_TIME_HIGH   [11:0] upper 12 bits of the 24-bit time base
    0xA   EXT_TRIGGER     [0] edge value, [11:8] channel id (returned as triggers)
    0xD   IMU             sensor-specific (ignored)
    0xE   OTHERS          system events (ignored; their CONTINUED words too)
    0xF   CONTINUED_12    extra data of the previous word (ignored here)
    ====  ==============  ===================================================================

    Types 0x1, 0x9, 0xB and 0xC are reserved: a file containing them is refused. Time:
    the 24-bit base wraps every 2**24 µs (16.8 s); as in Prophesee's OpenEB decoder, a wrap is
    counted when a TIME_HIGH value is at least 2048 below the previous one, and a TIME_HIGH that
    changes the high part resets the low part to 0. Words before the first TIME_HIGH carry no
    time and are skipped (OpenEB does the same). Times are absolute (not shifted to start at 0).
    The writer emits a TIME_HIGH word whenever the high part changes, inserting keep-alive
    TIME_HIGH words so that consecutive ones advance by at most 2047 (x 4096 µs): arbitrarily
    long silences survive the wrap-around, and OpenEB-compatible readers recover the same
    absolute times. It writes one EVT_ADDR_X word per event (no vectorization), which every
    EVT 3.0 reader decodes.

``.npev`` (native, lossless for :class:`~neuroplastic.events.aer.EventStream`)
    ``b"NPEV\x00\r\n\x1a"`` magic (8 bytes), format version (uint16 LE), header length
    (uint32 LE), a UTF-8 JSON header (``n_events``, ``resolution_us``, column names and dtypes,
    free ``meta``), the columns as little-endian arrays back to back, then the CRC-32 (uint32
    LE) of every preceding byte.

Decoding and encoding run compiled by default (:mod:`neuroplastic.kernels.evt3_numba`: one
pass of the state machine above over the words, outputs written in their final dtypes); the
vectorized numpy implementations stay as the reference (``backend="numpy"``) and are tested to
give identical events, triggers, words and errors.

Every malformed or truncated file raises :class:`EventFileError` (a ``ValueError``) naming
the file, the problem and, where it applies, the byte offset — never silently wrong data.
"""

from __future__ import annotations

import dataclasses
import json
import os
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

from .aer import EventStream, _as_int_array, check_us_fit_int64

__all__ = [
    "EVT3_TYPES",
    "MAX_EVT3_TIME_US",
    "NPEV_MAGIC",
    "TRIGGER_DTYPE",
    "EventFileError",
    "Evt3Recording",
    "decode_evt3_words",
    "encode_evt3_words",
    "parse_raw_header",
    "read_evt3",
    "read_npev",
    "write_evt3",
    "write_npev",
]


class EventFileError(ValueError):
    """A malformed, truncated or unsupported event file."""


EVT3_TYPES = {
    0x0: "EVT_ADDR_Y",
    0x2: "EVT_ADDR_X",
    0x3: "VECT_BASE_X",
    0x4: "VECT_12",
    0x5: "VECT_8",
    0x6: "EVT_TIME_LOW",
    0x7: "CONTINUED_4",
    0x8: "EVT_TIME_HIGH",
    0xA: "EXT_TRIGGER",
    0xD: "IMU",
    0xE: "OTHERS",
    0xF: "CONTINUED_12",
}
_EVT3_RESERVED = (0x1, 0x9, 0xB, 0xC)
_MAX_HIGH_STEP = 2047  # keep-alive spacing of TIME_HIGH words (OpenEB wrap rule needs <= 2048)
# Latest time the writer encodes: 2**28 keep-alive TIME_HIGH words (512 MiB of them), ~71 years.
MAX_EVT3_TIME_US = 2**28 * _MAX_HIGH_STEP * 4096

#: dtype of external trigger events: time (µs), channel id, edge value.
TRIGGER_DTYPE = np.dtype([("t", "<i8"), ("id", "<u1"), ("value", "<u1")])


@dataclass(frozen=True, eq=False)
class Evt3Recording:
    """Content of an EVT 3.0 file.

    Attributes
    ----------
    events : EventStream
        Change-detection events at 1 µs resolution, with ``x``, ``y`` and
        ``address = y * width + x``.
    width, height : int
        Sensor geometry from the header (or one past the largest coordinate when absent).
    header : dict of str to str
        The ``% key value`` pairs, in file order.
    triggers : ndarray of :data:`TRIGGER_DTYPE`
        External trigger events.
    """

    events: EventStream
    width: int
    height: int
    header: dict = field(default_factory=dict)
    triggers: np.ndarray = field(default_factory=lambda: np.empty(0, TRIGGER_DTYPE))


# --------------------------------------------------------------------------------- header


def parse_raw_header(data: bytes, *, source: str = "<bytes>") -> tuple[dict, int]:
    """Parse a Prophesee RAW ASCII header; return ``(header, data_offset)``."""
    header: dict[str, str] = {}
    pos = 0
    while data.startswith(b"% ", pos):
        end = data.find(b"\n", pos)
        if end < 0:
            raise EventFileError(f"{source}: truncated header: line at byte {pos} has no newline")
        try:
            line = data[pos + 2 : end].decode("ascii").strip()
        except UnicodeDecodeError:
            raise EventFileError(
                f"{source}: bad header: non-ASCII header line at byte {pos}"
            ) from None
        pos = end + 1
        if line == "end":
            break
        key, _, value = line.partition(" ")
        header[key] = value.strip()
    return header, pos


def _geometry(header: dict, source: str) -> tuple[int | None, int | None]:
    width = height = None
    fmt = header.get("format", "")
    for item in fmt.split(";")[1:]:
        k, _, v = item.partition("=")
        if k.strip() in ("width", "height"):
            try:
                val = int(v)
            except ValueError:
                raise EventFileError(f"{source}: bad header: format {fmt!r}") from None
            if k.strip() == "width":
                width = val
            else:
                height = val
    if width is None and "geometry" in header:
        try:
            w, h = header["geometry"].lower().split("x")
            width, height = int(w), int(h)
        except ValueError:
            raise EventFileError(
                f"{source}: bad header: geometry {header['geometry']!r} is not WIDTHxHEIGHT"
            ) from None
    for name, val in (("width", width), ("height", height)):
        if val is not None and not 1 <= val <= 2048:
            raise EventFileError(f"{source}: bad header: {name}={val} outside 1..2048 of EVT 3.0")
    return width, height


def _check_evt3_header(header: dict, source: str) -> None:
    evt = header.get("evt")
    fmt = header.get("format", "").split(";")[0].strip().upper()
    if evt is None and not fmt:
        raise EventFileError(
            f"{source}: not an EVT 3.0 file: the header has no '% evt 3.0' or '% format EVT3' line"
        )
    if (evt is not None and evt != "3.0") or (fmt and fmt != "EVT3"):
        raise EventFileError(
            f"{source}: unsupported encoding: header says evt={evt!r}, format={fmt!r}; "
            "only EVT 3.0 is read"
        )


# ---------------------------------------------------------------------------- EVT 3 words


def _ffill_index(mask: np.ndarray) -> np.ndarray:
    """Index of the last True at or before each position (-1 where none)."""
    idx = np.where(mask, np.arange(mask.shape[0], dtype=np.int32), np.int32(-1))
    return np.maximum.accumulate(idx) if idx.size else idx


_RESERVED_LUT = np.zeros(16, bool)
_RESERVED_LUT[list(_EVT3_RESERVED)] = True
_POPCOUNT = np.array([bin(i).count("1") for i in range(4096)], np.int64)
_STEP_LUT = np.zeros(16, np.int32)
_STEP_LUT[0x4], _STEP_LUT[0x5] = 12, 8


_BACKENDS = ("numba", "numpy")


def _check_backend(backend: str) -> None:
    if backend not in _BACKENDS:
        raise ValueError(f"backend must be one of {_BACKENDS}, got {backend!r}")


def _evt3_decode_checked(w: np.ndarray, width: int, source: str, byte_offset: int) -> tuple:
    """Run the compiled decoder; raise the reference's errors. Returns its outputs after the
    error code and index."""
    from ..kernels.evt3_numba import (
        ERR_NO_ROW,
        ERR_NO_TIME,
        ERR_NO_VECTOR_BASE,
        ERR_RESERVED,
        evt3_decode,
    )

    code, i, *out = evt3_decode(w, width)
    if code == ERR_RESERVED:
        raise EventFileError(
            f"{source}: unknown EVT 3.0 word type 0x{int(w[i]) >> 12:X} at byte "
            f"{byte_offset + 2 * i} (word 0x{int(w[i]):04X})"
        )
    if code == ERR_NO_TIME:
        raise EventFileError(f"{source}: events but no EVT_TIME_HIGH word: time undefined")
    if code == ERR_NO_ROW:
        raise EventFileError(
            f"{source}: event word at byte {byte_offset + 2 * i} before any EVT_ADDR_Y: "
            "row undefined"
        )
    if code == ERR_NO_VECTOR_BASE:
        raise EventFileError(
            f"{source}: vector word at byte {byte_offset + 2 * i} before any VECT_BASE_X"
        )
    return tuple(out)


def _triggers(t: np.ndarray, ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.empty(t.shape[0], TRIGGER_DTYPE)
    out["t"], out["id"], out["value"] = t, ids, values
    return out


def decode_evt3_words(
    words: np.ndarray, *, source: str = "<words>", byte_offset: int = 0, backend: str = "numba"
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Decode EVT 3.0 words (uint16) into ``(x, y, t_us, p, triggers)`` arrays.

    ``x, y, t_us, p`` are int64 arrays in word order, ``triggers`` a :data:`TRIGGER_DTYPE`
    array. ``backend="numba"`` (default) runs the compiled state machine of
    :mod:`neuroplastic.kernels.evt3_numba`; ``"numpy"`` the vectorized reference (no
    compilation). Both give identical results and errors. Raises :class:`EventFileError` on
    reserved word types, events without a row (EVT_ADDR_Y) or vectors without a base
    (VECT_BASE_X).
    """
    _check_backend(backend)
    if backend == "numpy":
        return _decode_evt3_numpy(words, source=source, byte_offset=byte_offset)
    w = np.ascontiguousarray(words, dtype=np.uint16)
    x, y, t, p, _, tt, tid, tval, *_ = _evt3_decode_checked(w, 0, source, byte_offset)
    i64 = np.int64
    return x.astype(i64), y.astype(i64), t, p.astype(i64), _triggers(tt, tid, tval)


def _decode_evt3_numpy(
    words: np.ndarray, *, source: str = "<words>", byte_offset: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The vectorized numpy reference of :func:`decode_evt3_words`."""
    w = np.asarray(words, dtype=np.uint16)
    typ = (w >> 12).astype(np.uint8)
    reserved = _RESERVED_LUT[typ]
    if reserved.any():
        i = int(np.argmax(reserved))
        raise EventFileError(
            f"{source}: unknown EVT 3.0 word type 0x{int(typ[i]):X} at byte "
            f"{byte_offset + 2 * i} (word 0x{int(w[i]):04X})"
        )
    is_th = typ == 0x8
    empty = np.empty(0, np.int64)
    is_x, is_v12, is_v8 = typ == 0x2, typ == 0x4, typ == 0x5
    if not is_th.any():
        if (is_x | is_v12 | is_v8).any():
            raise EventFileError(f"{source}: events but no EVT_TIME_HIGH word: time undefined")
        return empty, empty, empty, empty, np.empty(0, TRIGGER_DTYPE)
    start = int(np.argmax(is_th))
    if start:
        w, typ, is_th = w[start:], typ[start:], is_th[start:]
        is_x, is_v12, is_v8 = is_x[start:], is_v12[start:], is_v8[start:]
        byte_offset += 2 * start
    pay = (w & 0x0FFF).astype(np.int32)

    # time: 24-bit base (high << 12 | low) extended by a loop counter
    th = np.flatnonzero(is_th)
    highs = pay[th].astype(np.int64)
    loops = np.zeros(highs.shape[0], np.int64)
    loops[1:] = np.cumsum(highs[:-1] >= highs[1:] + 2048)
    high_abs = (loops << 12) + highs
    changed = np.ones(highs.shape[0], bool)
    changed[1:] = highs[1:] != highs[:-1]
    is_tl = typ == 0x6
    low_setter = is_tl.copy()
    low_setter[th[changed]] = True
    high_of_word = np.zeros(typ.shape[0], np.int64)
    high_of_word[th] = high_abs

    # event-producing words and their state
    is_y = typ == 0x0
    is_vec = is_v12 | is_v8
    producing = is_x | is_vec
    p_idx = np.flatnonzero(producing)
    last_y = _ffill_index(is_y)[p_idx]
    if p_idx.size and last_y[0] < 0:
        i = int(p_idx[np.argmax(last_y < 0)])
        raise EventFileError(
            f"{source}: event word at byte {byte_offset + 2 * i} before any EVT_ADDR_Y: "
            "row undefined"
        )
    t_p = (high_of_word[_ffill_index(is_th)[p_idx]] << 12) + np.where(is_tl, pay, 0)[
        _ffill_index(low_setter)[p_idx]
    ]
    y_p = pay[last_y] & 0x7FF
    pay_p = pay[p_idx]
    x_p = pay_p & 0x7FF
    pol_p = (pay_p >> 11) & 1
    counts = np.ones(p_idx.shape[0], np.int64)
    v_sel = np.flatnonzero(is_vec[p_idx])
    if v_sel.size:
        v_idx = p_idx[v_sel]
        last_base = _ffill_index(typ == 0x3)[v_idx]
        if last_base[0] < 0:
            i = int(v_idx[np.argmax(last_base < 0)])
            raise EventFileError(
                f"{source}: vector word at byte {byte_offset + 2 * i} before any VECT_BASE_X"
            )
        step = _STEP_LUT[typ]
        before = np.cumsum(step, dtype=np.int64) - step  # vector columns before each word
        base_pay = pay[last_base]
        x_p[v_sel] = (base_pay & 0x7FF) + before[v_idx] - before[last_base]
        pol_p[v_sel] = (base_pay >> 11) & 1
        mask = np.where(is_v12[v_idx], pay[v_idx], pay[v_idx] & 0xFF).astype(np.uint16)
        counts[v_sel] = _POPCOUNT[mask]
    # place the events: one per ADDR_X word, one per set bit of a vector mask, in word order
    first = np.cumsum(counts) - counts
    n_ev = int(counts.sum())
    src = np.repeat(np.arange(p_idx.shape[0]), counts) if v_sel.size else np.arange(n_ev)
    x = x_p[src].astype(np.int64)
    if v_sel.size:
        bits = ((mask[:, None] >> np.arange(12, dtype=np.uint16)) & 1).astype(bool)
        row, col = np.nonzero(bits)
        rank = np.cumsum(bits, axis=1)[row, col] - 1
        x[first[v_sel[row]] + rank] += col
    y = y_p[src].astype(np.int64)
    t = t_p[src]
    p = pol_p[src].astype(np.int64)

    # triggers
    trig_idx = np.flatnonzero(typ == 0xA)
    triggers = np.empty(trig_idx.shape[0], TRIGGER_DTYPE)
    if trig_idx.size:
        low_now = np.where(is_tl, pay, 0)[_ffill_index(low_setter)[trig_idx]]
        triggers["t"] = (high_of_word[_ffill_index(is_th)[trig_idx]] << 12) + low_now
        triggers["id"] = (pay[trig_idx] >> 8) & 0xF
        triggers["value"] = pay[trig_idx] & 1
    return x, y, t, p, triggers


def encode_evt3_words(x, y, t_us, p, *, backend: str = "numba") -> np.ndarray:
    """Encode events (sorted by ``t_us``, integer µs) as EVT 3.0 words (uint16).

    The stream starts with ``EVT_TIME_HIGH 0``; then per event: TIME_HIGH words when the high
    part changes (keep-alive steps of at most 2047), TIME_LOW when the time changes, ADDR_Y when
    the row changes, and one ADDR_X word. ``backend``: ``"numba"`` (compiled, default) or
    ``"numpy"`` (vectorized reference); identical words.
    """
    _check_backend(backend)
    x = np.asarray(x, np.int64)
    y = np.asarray(y, np.int64)
    t = _as_int_array(t_us, "t_us", np.int64, -(2**63), 2**63 - 1)  # no silent float casts
    p = np.asarray(p, np.int64)
    n = t.shape[0]
    if not (x.shape == y.shape == p.shape == (n,)):
        raise ValueError("x, y, t_us and p must be 1-D arrays of equal length")
    if n == 0:
        return np.array([0x8000], np.uint16)
    if n and (x.min() < 0 or x.max() > 2047 or y.min() < 0 or y.max() > 2047):
        raise ValueError("EVT 3.0 coordinates must lie in 0..2047")
    if n and (p.min() < 0 or p.max() > 1):
        raise ValueError("polarity must be 0 or 1")
    if n and (t.min() < 0 or np.any(np.diff(t) < 0)):
        raise ValueError("t_us must be non-negative and non-decreasing")
    if n and t[-1] > MAX_EVT3_TIME_US:
        raise ValueError(
            f"t_us up to {int(t[-1])} us is beyond the {MAX_EVT3_TIME_US} us (~71 years) this "
            f"writer encodes: EVT 3.0 needs a TIME_HIGH keep-alive word every "
            f"{_MAX_HIGH_STEP} * 4096 us, at most 2**28 of them"
        )
    if backend == "numba":
        from ..kernels.evt3_numba import evt3_encode

        return evt3_encode(x, y, t, p, _MAX_HIGH_STEP)
    high = t >> 12
    low = t & 0xFFF
    prev_high = np.concatenate(([0], high[:-1]))
    n_th = -(-(high - prev_high) // _MAX_HIGH_STEP)  # ceil; 0 when unchanged
    new_time = np.ones(n, bool)
    new_time[1:] = t[1:] != t[:-1]
    new_time |= n_th > 0
    new_y = np.ones(n, bool)
    new_y[1:] = y[1:] != y[:-1]
    per_event = n_th + new_time + new_y + 1
    end = 1 + np.cumsum(per_event)
    begin = end - per_event
    out = np.empty(int(end[-1]) if n else 1, np.uint16)
    out[0] = 0x8000  # TIME_HIGH 0: the time base starts at 0
    total_th = int(n_th.sum())
    if total_th:
        owner = np.repeat(np.arange(n), n_th)
        within = np.arange(total_th) - np.repeat(np.cumsum(n_th) - n_th, n_th)
        value = np.minimum(prev_high[owner] + _MAX_HIGH_STEP * (within + 1), high[owner])
        out[begin[owner] + within] = 0x8000 | (value & 0xFFF)
    pos = begin + n_th
    out[pos[new_time]] = 0x6000 | low[new_time]
    pos = pos + new_time
    out[pos[new_y]] = y[new_y]
    out[end - 1] = 0x2000 | (p << 11) | x
    return out


# -------------------------------------------------------------------------------- EVT 3 IO


def _read_bytes(path) -> tuple[bytes, str]:
    source = os.fspath(path)
    with open(path, "rb") as fh:
        return fh.read(), source


def read_evt3(path, *, backend: str = "numba") -> Evt3Recording:
    """Read a Prophesee EVT 3.0 ``.raw`` file (little-endian words).

    Events come in file order, except that a stream whose decoded times step backwards (the
    readout of real sensors can, by a few µs) is stably sorted by time. ``backend``:
    ``"numba"`` (compiled state machine, default) or ``"numpy"`` (vectorized reference); both
    return identical recordings and raise identical errors.

    Raises
    ------
    EventFileError
        Missing or foreign header, truncated data (odd byte count), reserved word types,
        events before their row or vector base, coordinates outside the header geometry.
    """
    _check_backend(backend)
    data, source = _read_bytes(path)
    header, offset = parse_raw_header(data, source=source)
    _check_evt3_header(header, source)
    width, height = _geometry(header, source)
    body = memoryview(data)[offset:]
    if len(body) % 2:
        raise EventFileError(
            f"{source}: truncated data: {len(body)} bytes after the header is not a whole "
            "number of 16-bit EVT 3.0 words"
        )
    words = np.frombuffer(body, dtype="<u2")
    if backend == "numba":
        return _read_evt3_compiled(words, header, width, height, source, offset)
    x, y, t, p, triggers = decode_evt3_words(
        words, source=source, byte_offset=offset, backend="numpy"
    )
    if width is None:
        width = int(x.max()) + 1 if x.size else 1
        height = int(y.max()) + 1 if y.size else 1
    if x.size and (x.max() >= width or y.max() >= height):
        raise EventFileError(
            f"{source}: event at x={int(x.max())} or y={int(y.max())} outside the "
            f"{width}x{height} sensor of the header"
        )
    if t.size > 1 and np.any(np.diff(t) < 0):  # sensors may step back a few µs: sort stably
        order = np.argsort(t, kind="stable")
        x, y, t, p = x[order], y[order], t[order], p[order]
    events = EventStream(address=y * width + x, ticks=t, polarity=p, resolution_us=1.0, x=x, y=y)
    return Evt3Recording(
        events=events, width=width, height=height, header=header, triggers=triggers
    )


def _read_evt3_compiled(
    words: np.ndarray,
    header: dict,
    width: int | None,
    height: int | None,
    source: str,
    offset: int,
) -> Evt3Recording:
    """The compiled path of :func:`read_evt3`: events decoded straight into their final dtypes
    (addresses included when the header gives the width), no extra passes for the checks."""
    w = np.ascontiguousarray(words, dtype=np.uint16)
    x, y, t, p, address, tt, tid, tval, x_max, y_max, backwards = _evt3_decode_checked(
        w, width or 0, source, offset
    )
    n_ev = x.shape[0]
    if width is None:
        width = int(x_max) + 1 if n_ev else 1
        height = int(y_max) + 1 if n_ev else 1
        address = y.astype(np.uint32) * np.uint32(width) + x
    if n_ev and (x_max >= width or y_max >= height):
        raise EventFileError(
            f"{source}: event at x={int(x_max)} or y={int(y_max)} outside the "
            f"{width}x{height} sensor of the header"
        )
    if backwards:  # sensors may step back a few µs: sort stably
        order = np.argsort(t, kind="stable")
        x, y, t, p, address = x[order], y[order], t[order], p[order], address[order]
    events = _decoded_stream(address=address, ticks=t, polarity=p, x=x, y=y)
    return Evt3Recording(
        events=events, width=width, height=height, header=header, triggers=_triggers(tt, tid, tval)
    )


_STREAM_FIELDS = ("address", "ticks", "polarity", "resolution_us", "x", "y")


def _decoded_stream(**cols: np.ndarray) -> EventStream:
    """An :class:`EventStream` (1 µs ticks) from the compiled decoder's columns, without the
    constructor's O(n) re-validation: the decoder already guarantees the dtypes (uint32,
    int64, int8, uint16), the ranges (ticks >= 0, polarity 0/1, coordinates inside the checked
    geometry) and the order (stably sorted when needed). Falls back to the validating
    constructor if :class:`EventStream` ever gains fields this does not know."""
    if tuple(f.name for f in dataclasses.fields(EventStream)) != _STREAM_FIELDS:
        return EventStream(resolution_us=1.0, **cols)
    stream = object.__new__(EventStream)
    for name, value in dict(cols, resolution_us=1.0).items():
        object.__setattr__(stream, name, value)
    return stream


def write_evt3(path, events: EventStream, *, width: int, height: int, header=None) -> None:
    """Write a stream with pixel coordinates as a Prophesee EVT 3.0 ``.raw`` file.

    Times are rounded to whole microseconds (exact for integer ``resolution_us``). The header
    holds ``evt 3.0``, ``format EVT3;height=H;width=W``, ``geometry WxH``, the optional extra
    ``header`` pairs and ``end``.
    """
    if events.x is None:
        raise ValueError("events need x and y coordinates to be written as EVT 3.0")
    for name, val in (("width", width), ("height", height)):
        if not isinstance(val, int) or not 1 <= val <= 2048:
            raise ValueError(f"{name} must be an integer in 1..2048, got {val!r}")
    if len(events) and (events.x.max() >= width or events.y.max() >= height):
        raise ValueError(f"events fall outside the {width}x{height} sensor")
    check_us_fit_int64("events", events)
    if float(events.resolution_us).is_integer():
        t = events.ticks * int(events.resolution_us)
    else:
        t = np.rint(events.times_us).astype(np.int64)
    words = encode_evt3_words(events.x, events.y, t, events.polarity)
    lines = {"evt": "3.0", "format": f"EVT3;height={height};width={width}"}
    lines["geometry"] = f"{width}x{height}"
    for k, v in (header or {}).items():
        if k in lines or k == "end" or not k or " " in k or "\n" in f"{k}{v}":
            raise ValueError(f"header key {k!r} is reserved or not a single word")
        lines[k] = str(v)
    text = "".join(f"% {k} {v}\n" for k, v in lines.items()) + "% end\n"
    with open(path, "wb") as fh:
        fh.write(text.encode("ascii"))
        fh.write(words.astype("<u2").tobytes())


# ------------------------------------------------------------------------------- .npev IO

NPEV_MAGIC = b"NPEV\x00\r\n\x1a"
_NPEV_VERSION = 1
_NPEV_COLUMNS = {"address": "<u4", "ticks": "<i8", "polarity": "<i1", "x": "<u2", "y": "<u2"}


def write_npev(path, events: EventStream, *, meta: dict | None = None) -> None:
    """Write a stream losslessly as ``.npev`` (see the module docstring for the layout)."""
    names = ["address", "ticks", "polarity"] + (["x", "y"] if events.x is not None else [])
    header = {
        "n_events": len(events),
        "resolution_us": events.resolution_us,
        "columns": [[name, _NPEV_COLUMNS[name]] for name in names],
        "meta": meta or {},
    }
    head = json.dumps(header, sort_keys=True).encode("utf-8")
    parts = [NPEV_MAGIC, struct.pack("<HI", _NPEV_VERSION, len(head)), head]
    parts += [getattr(events, name).astype(_NPEV_COLUMNS[name]).tobytes() for name in names]
    crc = 0
    for part in parts:
        crc = zlib.crc32(part, crc)
    with open(path, "wb") as fh:
        for part in parts:
            fh.write(part)
        fh.write(struct.pack("<I", crc))


def read_npev(path) -> tuple[EventStream, dict]:
    """Read a ``.npev`` file; return the stream and the header's ``meta`` dict."""
    data, source = _read_bytes(path)
    fixed = len(NPEV_MAGIC) + 6
    if len(data) < fixed or not data.startswith(NPEV_MAGIC):
        if data[: len(NPEV_MAGIC)] != NPEV_MAGIC[: len(data)]:
            raise EventFileError(f"{source}: wrong magic bytes: not a .npev file")
        raise EventFileError(f"{source}: truncated file: {len(data)} bytes, shorter than a header")
    version, head_len = struct.unpack_from("<HI", data, len(NPEV_MAGIC))
    if version != _NPEV_VERSION:
        raise EventFileError(
            f"{source}: unsupported .npev version {version} (reads {_NPEV_VERSION})"
        )
    if len(data) < fixed + head_len + 4:
        raise EventFileError(f"{source}: truncated file: header of {head_len} bytes cut short")
    try:
        header = json.loads(data[fixed : fixed + head_len].decode("utf-8"))
        n = header["n_events"]
        resolution_us = header["resolution_us"]
        columns = [(str(c[0]), str(c[1])) for c in header["columns"]]
        meta = header.get("meta", {})
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, IndexError) as exc:
        raise EventFileError(f"{source}: bad header: {exc}") from None
    if not isinstance(n, int) or n < 0:
        raise EventFileError(f"{source}: bad header: n_events={n!r}")
    known = {name: dt for name, dt in columns if _NPEV_COLUMNS.get(name) == dt}
    if len(known) != len(columns) or not {"address", "ticks", "polarity"} <= set(known):
        raise EventFileError(f"{source}: bad header: columns {columns!r}")
    expected = fixed + head_len + sum(n * np.dtype(dt).itemsize for _, dt in columns) + 4
    if len(data) != expected:
        kind = "truncated file" if len(data) < expected else "trailing bytes"
        raise EventFileError(
            f"{source}: {kind}: {len(data)} bytes, expected {expected} for {n} events"
        )
    (stored,) = struct.unpack_from("<I", data, len(data) - 4)
    if zlib.crc32(memoryview(data)[:-4]) != stored:
        raise EventFileError(f"{source}: checksum mismatch: the file is corrupt")
    cols = {}
    pos = fixed + head_len
    for name, dt in columns:
        size = n * np.dtype(dt).itemsize
        cols[name] = np.frombuffer(data, dtype=dt, count=n, offset=pos).copy()
        pos += size
    try:
        stream = EventStream(resolution_us=resolution_us, **cols)
    except ValueError as exc:
        raise EventFileError(f"{source}: invalid content: {exc}") from None
    return stream, meta
