r"""Compiled EVT 3.0 decoder and encoder (numba, CPU).

Same semantics as the vectorized numpy reference in :mod:`neuroplastic.events.formats` (see
its module docstring for the word types and the time rules), written as the state machine of
the format:

* :func:`evt3_decode` — one pass that validates the words and runs the state machine (row,
  vector base, 24-bit time base with wrap counter, time low), writing the events in their
  final dtypes together with the largest coordinates and whether the times ever step
  backwards (what the reader checks next, without extra passes over the columns);
* :func:`evt3_encode` — the writer's word stream in two passes (size, then fill).

Errors are reported as ``(code, word index)`` and turned into the reference's
:class:`~neuroplastic.events.formats.EventFileError` messages by the caller; the codes follow
the reference's order of checks: a reserved word type anywhere wins over everything, then
"events but no EVT_TIME_HIGH", then the first event-producing word before any EVT_ADDR_Y, then
the first vector before any VECT_BASE_X.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from neuroplastic.kernels._checks import checked

__all__ = [
    "ERR_NONE",
    "ERR_NO_ROW",
    "ERR_NO_TIME",
    "ERR_NO_VECTOR_BASE",
    "ERR_RESERVED",
    "evt3_decode",
    "evt3_encode",
]

ERR_NONE = 0
ERR_RESERVED = 1  # reserved word type (0x1, 0x9, 0xB, 0xC); index of the first one
ERR_NO_TIME = 2  # event words but no EVT_TIME_HIGH at all
ERR_NO_ROW = 3  # event-producing word before any EVT_ADDR_Y (after the first TIME_HIGH)
ERR_NO_VECTOR_BASE = 4  # vector word before any VECT_BASE_X (after the first TIME_HIGH)


def _grow(a: np.ndarray, k: int, need: int) -> np.ndarray:
    """A copy of ``a[:k]`` with room for at least ``need`` more entries (capacity doubled)."""
    out = np.empty(max(2 * a.shape[0], k + need), a.dtype)
    out[:k] = a[:k]
    return out


@njit(cache=True, inline="always")
def _is_reserved(typ):
    return typ == 0x1 or typ == 0x9 or typ == 0xB or typ == 0xC


@njit(cache=True)
def _first_reserved(words, lo):
    for i in range(lo, words.shape[0]):
        if _is_reserved(words[i] >> 12):
            return i
    return -1


#: index of the lowest set bit of every 12-bit mask (0 for 0)
_CTZ = np.array([(m & -m).bit_length() - 1 if m else 0 for m in range(4096)], np.int64)

# slots of the decoder state carried between calls of _run (all int64)
_I, _K, _KT, _LOOPS, _PREV_HIGH, _BASE_T, _LOW, _ROW, _HAVE_ROW = 0, 1, 2, 3, 4, 5, 6, 7, 8
_VBASE, _VPOL, _HAVE_BASE, _LAST_T, _X_MAX, _Y_MAX, _BACKWARDS, _ERR, _ERR_AT = range(9, 18)


@njit(cache=True)
def _run(words, st, x, y, t, p, address, width, trig_t, trig_id, trig_value):
    """The state machine from word ``st[_I]`` until the end, an error, or full outputs."""
    n = words.shape[0]
    cap = x.shape[0] - 12  # room for one more word of any kind
    tcap = trig_t.shape[0]
    i = st[_I]
    k = st[_K]
    kt = st[_KT]
    loops = st[_LOOPS]
    prev_high = st[_PREV_HIGH]
    base_t = st[_BASE_T]
    low = st[_LOW]
    row = st[_ROW]
    have_row = st[_HAVE_ROW] != 0
    vbase = st[_VBASE]
    vpol = st[_VPOL]
    have_base = st[_HAVE_BASE] != 0
    last_t = st[_LAST_T]
    x_max = st[_X_MAX]
    y_max = st[_Y_MAX]
    backwards = st[_BACKWARDS] != 0
    err = ERR_NONE
    err_at = -1
    while i < n:
        if k > cap or kt >= tcap:
            break
        w = np.int64(words[i])
        typ = w >> 12
        pay = w & 0xFFF
        if typ == 0x2:  # EVT_ADDR_X
            if not have_row:
                err, err_at = ERR_NO_ROW, i
                break
            now = base_t + low
            xx = pay & 0x7FF
            x[k] = xx
            y[k] = row
            t[k] = now
            p[k] = (pay >> 11) & 1
            if width > 0:
                address[k] = row * width + xx
            x_max = max(x_max, xx)
            y_max = max(y_max, row)
            backwards = backwards or now < last_t
            last_t = now
            k += 1
        elif typ == 0x4 or typ == 0x5:  # VECT_12 / VECT_8
            if not have_row:
                err, err_at = ERR_NO_ROW, i
                break
            if not have_base:
                err, err_at = ERR_NO_VECTOR_BASE, i
                break
            m = pay if typ == 0x4 else pay & 0xFF
            if m:
                now = base_t + low
                backwards = backwards or now < last_t
                last_t = now
                y_max = max(y_max, row)
                xx = vbase
                while m:  # one event per set bit, lowest first
                    xx = vbase + _CTZ[m]
                    x[k] = xx
                    y[k] = row
                    t[k] = now
                    p[k] = vpol
                    if width > 0:
                        address[k] = row * width + xx
                    k += 1
                    m &= m - 1
                x_max = max(x_max, xx)  # the last (highest) bit
            vbase += 12 if typ == 0x4 else 8
        elif typ == 0x0:  # EVT_ADDR_Y
            row = pay & 0x7FF
            have_row = True
        elif typ == 0x6:  # EVT_TIME_LOW
            low = pay
        elif typ == 0x8:  # EVT_TIME_HIGH
            if prev_high >= 0:
                if prev_high >= pay + 2048:
                    loops += 1
                if pay != prev_high:
                    low = 0
            prev_high = pay
            base_t = ((loops << 12) + pay) << 12
        elif typ == 0x3:  # VECT_BASE_X
            vbase = pay & 0x7FF
            vpol = (pay >> 11) & 1
            have_base = True
        elif typ == 0xA:  # EXT_TRIGGER
            trig_t[kt] = base_t + low
            trig_id[kt] = (pay >> 8) & 0xF
            trig_value[kt] = pay & 1
            kt += 1
        elif _is_reserved(typ):
            err, err_at = ERR_RESERVED, i
            break
        i += 1
    st[_I] = i
    st[_K] = k
    st[_KT] = kt
    st[_LOOPS] = loops
    st[_PREV_HIGH] = prev_high
    st[_BASE_T] = base_t
    st[_LOW] = low
    st[_ROW] = row
    st[_HAVE_ROW] = have_row
    st[_VBASE] = vbase
    st[_VPOL] = vpol
    st[_HAVE_BASE] = have_base
    st[_LAST_T] = last_t
    st[_X_MAX] = x_max
    st[_Y_MAX] = y_max
    st[_BACKWARDS] = backwards
    st[_ERR] = err
    st[_ERR_AT] = err_at


@njit(cache=True)
def _prefix(words):
    """Skip to the first EVT_TIME_HIGH: ``(code, index, start)``; ``start = -1`` when none."""
    early_event = False
    for i in range(words.shape[0]):
        typ = words[i] >> 12
        if typ == 0x8:
            return ERR_NONE, -1, i
        if _is_reserved(typ):
            return ERR_RESERVED, i, -1
        if typ == 0x2 or typ == 0x4 or typ == 0x5:
            early_event = True
    return (ERR_NO_TIME if early_event else ERR_NONE), -1, -1


def _failed(code: int, index: int) -> tuple:
    e16, e64, e8 = np.empty(0, np.uint16), np.empty(0, np.int64), np.empty(0, np.uint8)
    return (code, index, e16, e16, e64, np.empty(0, np.int8), np.empty(0, np.uint32), e64, e8,
            e8, -1, -1, False)


def _evt3_decode(words: np.ndarray, width: int) -> tuple:
    """Decode EVT 3.0 ``words`` (uint16) in one pass of the format's state machine.

    Parameters
    ----------
    words : ndarray of uint16, shape (n_words,)
        Native byte order, contiguous.
    width : int
        Sensor width for ``address = y * width + x`` (0: addresses left empty).

    Returns
    -------
    code, index : int
        ``ERR_*`` code and index of the offending word (``ERR_NONE``, -1 when valid; the event
        arrays are then empty).
    x, y : ndarray of uint16, shape (n_events,)
    t : ndarray of int64
        Absolute times (µs).
    p : ndarray of int8
    address : ndarray of uint32 (empty when ``width == 0``)
    trig_t : ndarray of int64, trig_id, trig_value : ndarray of uint8
        External triggers.
    x_max, y_max : int
        Largest coordinates (-1 when there are no events).
    backwards : bool
        Whether some event time is smaller than the one before it.

    Notes
    -----
    The compiled state machine (``_run``) writes into preallocated outputs (one event per word
    to start with); when they are full it pauses, they double here, and it resumes from its
    saved state. Vector masks are walked set bit by set bit (real recordings hold about one
    event per vector word). The arrays returned are views of the first ``n_events`` entries.
    """
    words = words.view()
    words.flags.writeable = False  # one compiled specialization (file buffers are read-only)
    n = words.shape[0]
    code, index, start = _prefix(words)
    if start < 0:
        return _failed(code, index)
    cap = n - start + 12
    x = np.empty(cap, np.uint16)
    y = np.empty(cap, np.uint16)
    t = np.empty(cap, np.int64)
    p = np.empty(cap, np.int8)
    address = np.empty(cap if width > 0 else 0, np.uint32)
    trig = [np.empty(16, np.int64), np.empty(16, np.uint8), np.empty(16, np.uint8)]
    st = np.zeros(18, np.int64)
    st[_I] = start
    st[_PREV_HIGH] = st[_LAST_T] = st[_X_MAX] = st[_Y_MAX] = -1
    while True:
        _run(words, st, x, y, t, p, address, width, *trig)
        if st[_ERR] != ERR_NONE:
            if st[_ERR] != ERR_RESERVED:  # a reserved word anywhere takes precedence
                r = _first_reserved(words, st[_ERR_AT] + 1)
                if r >= 0:
                    return _failed(ERR_RESERVED, r)
            return _failed(int(st[_ERR]), int(st[_ERR_AT]))
        if st[_I] >= n:
            break
        k, kt = int(st[_K]), int(st[_KT])
        if k > x.shape[0] - 12:
            x, y, t, p = _grow(x, k, 12), _grow(y, k, 12), _grow(t, k, 12), _grow(p, k, 12)
            if width > 0:
                address = _grow(address, k, 12)
        if kt >= trig[0].shape[0]:
            trig = [_grow(a, kt, 1) for a in trig]
    k, kt = int(st[_K]), int(st[_KT])
    return (
        ERR_NONE, -1, x[:k], y[:k], t[:k], p[:k], address[:k], trig[0][:kt], trig[1][:kt],
        trig[2][:kt], int(st[_X_MAX]), int(st[_Y_MAX]), bool(st[_BACKWARDS]),
    )


@njit(cache=True)
def _evt3_encode(x, y, t, p, max_high_step):
    """EVT 3.0 words of validated events (int64 columns, ``t`` non-decreasing, >= 0).

    The stream starts with ``EVT_TIME_HIGH 0``; per event: TIME_HIGH words while the high part
    changes (steps of at most ``max_high_step``), TIME_LOW when the time changes, ADDR_Y when
    the row changes, then one ADDR_X word.
    """
    n = t.shape[0]
    size = 1
    prev_high = np.int64(0)
    prev_t = np.int64(-1)
    prev_y = np.int64(-1)
    for i in range(n):
        high = t[i] >> 12
        dh = high - prev_high
        n_th = (dh + max_high_step - 1) // max_high_step if dh > 0 else 0
        size += n_th + (1 if (t[i] != prev_t or n_th > 0) else 0) + (1 if y[i] != prev_y else 0)
        size += 1
        prev_high, prev_t, prev_y = high, t[i], y[i]
    out = np.empty(size, np.uint16)
    out[0] = 0x8000
    j = 1
    prev_high = np.int64(0)
    prev_t = np.int64(-1)
    prev_y = np.int64(-1)
    for i in range(n):
        ti = t[i]
        high = ti >> 12
        new_time = ti != prev_t
        h = prev_high
        while h < high:
            h = min(h + max_high_step, high)
            out[j] = 0x8000 | (h & 0xFFF)
            j += 1
            new_time = True
        if new_time:
            out[j] = 0x6000 | (ti & 0xFFF)
            j += 1
        if y[i] != prev_y:
            out[j] = y[i]
            j += 1
        out[j] = 0x2000 | (p[i] << 11) | x[i]
        j += 1
        prev_high, prev_t, prev_y = high, ti, y[i]
    return out


# Entry points: arguments checked before the compiled code runs (neuroplastic/kernels/_checks.py).
evt3_decode = checked({"words": "u2[n]", "width": "int >=0"}, "evt3_decode")(_evt3_decode)
evt3_encode = checked(
    {"x": "i8[n] >=0", "y": "i8[n] >=0", "t": "i8[n] >=0", "p": "i8[n] >=0",
     "max_high_step": "int >=1"},
    "evt3_encode",
)(_evt3_encode)
