"""AER words, quantization, wrap-around and conversions (neuroplastic.events.aer)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroplastic.events.aer import (
    TONIC_DTYPE,
    AERFormat,
    EventStream,
    decode,
    encode,
    encode_ticks,
    from_monitor,
    from_raster,
    from_tonic,
    quantize_times,
    to_monitor,
    to_raster,
    to_tonic,
)


@st.composite
def streams(draw, wrap="marker"):
    ts_bits = draw(st.integers(1, 20))
    addr_bits = draw(st.integers(2, 20))
    pol = draw(st.booleans())
    fmt = AERFormat(draw(st.sampled_from([1.0, 0.5, 10.0])), ts_bits, addr_bits, pol, wrap)
    n = draw(st.integers(0, 60))
    max_gap = 2 * fmt.wrap_ticks + 5 if wrap == "marker" else fmt.wrap_ticks - 1
    gaps = draw(st.lists(st.integers(0, max_gap), min_size=n, max_size=n))
    ticks = np.cumsum(np.array(gaps, dtype=np.int64))
    if wrap == "unwrap" and n:
        ticks -= ticks[0]  # first event inside the first counter period
    addr = draw(st.lists(st.integers(0, fmt.max_address), min_size=n, max_size=n))
    pol_v = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    return fmt, ticks, np.array(addr, np.int64), np.array(pol_v, np.int64)


@settings(max_examples=150, deadline=None)
@given(streams("marker"))
def test_round_trip_lossless_marker(case):
    fmt, ticks, addr, pol = case
    words = encode_ticks(ticks, addr, pol, fmt)
    assert words.dtype == fmt.dtype
    out = decode(words, fmt)
    assert np.array_equal(out.ticks, ticks)
    assert np.array_equal(out.address, addr)
    assert np.array_equal(out.polarity, pol if fmt.polarity else np.ones_like(pol))
    # exactly one marker word per (2**T - 1) wraps crossed (ceil), none otherwise
    if len(ticks):
        crossed = np.diff(ticks >> fmt.timestamp_bits, prepend=0)
        expected = int(np.sum(-(-crossed // (fmt.wrap_ticks - 1))))
        assert len(words) - len(ticks) == expected


@settings(max_examples=100, deadline=None)
@given(streams("unwrap"))
def test_round_trip_lossless_unwrap(case):
    fmt, ticks, addr, pol = case
    words = encode_ticks(ticks, addr, pol, fmt)
    assert len(words) == len(ticks)  # no extra words
    out = decode(words, fmt)
    assert np.array_equal(out.ticks, ticks) and np.array_equal(out.address, addr)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.floats(0, 1e7, allow_nan=False), min_size=1, max_size=50),
    st.floats(0.01, 1000.0),
)
def test_quantization_error_at_most_half_tick(times, res):
    times = np.sort(np.array(times))
    fmt = AERFormat(res, 24, 8)
    out = decode(encode(times, np.zeros(len(times), int), None, fmt), fmt)
    err = np.abs(out.times_us - times)
    assert np.all(err <= res / 2 * (1 + 1e-9) + 1e-9 * times)


def test_units_and_rounding_to_nearest():
    fmt = AERFormat(100.0, 16, 4)
    out = decode(encode([0.00014, 0.00026], [1, 2], [1, 0], fmt, unit="s"), fmt)
    assert out.ticks.tolist() == [1, 3]  # 140 us -> 1 tick, 260 us -> 3 ticks (nearest)
    assert quantize_times([149.9, 150.1], 100.0).tolist() == [1, 2]


def test_word_layout_by_hand():
    fmt = AERFormat(1.0, 4, 3, polarity=True)  # 8-bit words: tttt aaa p
    words = encode_ticks([5, 17], [3, 6], [1, 0], fmt)
    # tick 5 -> 0101 011 1 ; tick 17 crosses one wrap: marker (count 1, address 111, p 0)
    # then 17 mod 16 = 1 -> 0001 110 0
    assert words.tolist() == [0b0101_011_1, 0b0001_111_0, 0b0001_110_0]


def test_long_stream_many_wraps_decodes_absolute_times():
    fmt = AERFormat(1.0, 8, 10)  # wraps every 256 us
    rng = np.random.default_rng(1)
    gaps = rng.choice([0, 3, 200, 255, 256, 257, 5000, 300000], size=2000)
    ticks = np.cumsum(gaps)
    assert ticks[-1] > 1000 * fmt.wrap_ticks
    addr = rng.integers(0, fmt.max_address + 1, ticks.size)
    out = decode(encode_ticks(ticks, addr, None, fmt), fmt)
    assert np.array_equal(out.ticks, ticks)


def test_unwrap_decoding_and_refusal_of_ambiguous_gaps():
    fmt = AERFormat(1.0, 8, 10, wrap="unwrap")
    ticks = np.arange(0, 5000, 255)  # gaps just under one period: many wraps, no markers
    out = decode(encode_ticks(ticks, np.zeros_like(ticks), None, fmt), fmt)
    assert np.array_equal(out.ticks, ticks)
    with pytest.raises(ValueError, match="gaps shorter than one wrap period"):
        encode_ticks([0, 256], [0, 0], None, fmt)
    with pytest.raises(ValueError, match="first counter period"):
        encode_ticks([300], [0], None, fmt)


def test_encode_rejects_bad_input():
    fmt = AERFormat(1.0, 8, 4)
    with pytest.raises(ValueError, match="non-decreasing"):
        encode([5.0, 1.0], [0, 0], None, fmt)
    with pytest.raises(ValueError, match="addresses"):
        encode([1.0], [15], None, fmt)  # 15 = reserved marker address
    with pytest.raises(ValueError, match="polarity"):
        encode([1.0], [1], [2], fmt)
    with pytest.raises(ValueError, match="times_us"):
        encode([-1.0], [1], None, fmt)
    with pytest.raises(ValueError, match="bits set above"):
        decode(np.array([1 << 20], np.uint32), fmt)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"timestamp_resolution_us": 0.0}, "timestamp_resolution_us"),
        ({"timestamp_resolution_us": float("nan")}, "timestamp_resolution_us"),
        ({"timestamp_bits": 0}, "timestamp_bits"),
        ({"address_bits": 64}, "address_bits"),
        ({"timestamp_bits": 40, "address_bits": 30}, "64"),
        ({"wrap": "bogus"}, "wrap"),
        ({"polarity": 1}, "polarity"),
    ],
)
def test_format_validation(kwargs, name):
    with pytest.raises(ValueError, match=name):
        AERFormat(**kwargs)


@given(st.integers(-100, 0) | st.integers(64, 1000))
def test_format_validation_bits_property(bits):
    with pytest.raises(ValueError, match="timestamp_bits"):
        AERFormat(timestamp_bits=bits)


def test_event_stream_validation():
    with pytest.raises(ValueError, match="non-decreasing"):
        EventStream(address=[0, 1], ticks=[3, 2], polarity=[1, 1])
    with pytest.raises(ValueError, match="ticks has 1 events"):
        EventStream(address=[0, 1], ticks=[3], polarity=[1, 1])
    with pytest.raises(ValueError, match="x and y"):
        EventStream(address=[0], ticks=[3], polarity=[1], x=[0])
    with pytest.raises(ValueError, match="address"):
        EventStream(address=[-1], ticks=[3], polarity=[1])
    with pytest.raises(ValueError, match="resolution_us"):
        EventStream(address=[0], ticks=[3], polarity=[1], resolution_us=-1.0)


def _monitor(seed=0, n_neurons=30, n_steps=500, p=0.05):
    g = torch.Generator().manual_seed(seed)
    raster = torch.rand(n_steps, n_neurons, generator=g) < p
    steps, neurons = torch.nonzero(raster, as_tuple=True)
    return raster, steps, neurons


def test_monitor_aer_raster_round_trip():
    raster, steps, neurons = _monitor()
    dt_ms = 0.1
    stream = from_monitor(steps, neurons, dt_ms)
    assert stream.resolution_us == pytest.approx(100.0)
    fmt = AERFormat(100.0, 6, 5)  # short counter: the 50 ms run wraps ~7 times
    decoded = decode(encode(stream.times_us, stream.address, None, fmt), fmt)
    assert decoded.equals(stream)
    s2, n2 = to_monitor(decoded, dt_ms)
    assert torch.equal(s2, steps) and torch.equal(n2, neurons)
    assert s2.dtype == torch.int64
    back = to_raster(decoded, n_neurons=30, n_steps=raster.shape[0])
    assert back.dtype == torch.bool and torch.equal(back, raster)
    assert from_raster(raster, dt_ms).equals(stream)


def test_raster_rebinning_to_coarser_steps():
    stream = from_monitor([0, 1, 2, 9], [0, 0, 1, 1], dt_ms=0.1)
    r = to_raster(stream, 2, dt_ms=0.5)  # 0.5 ms bins: steps 0,0.2->0 ; 0.4->0 ; 1.8->2
    assert r.shape == (3, 2)
    assert r.nonzero().tolist() == [[0, 0], [0, 1], [2, 1]]
    with pytest.raises(ValueError, match="outside the raster"):
        to_raster(stream, 1)


def test_tonic_round_trip():
    rng = np.random.default_rng(3)
    n = 500
    ev = np.empty(n, TONIC_DTYPE)
    ev["x"] = rng.integers(0, 34, n)
    ev["y"] = rng.integers(0, 34, n)
    ev["t"] = np.sort(rng.integers(0, 10**7, n))
    ev["p"] = rng.integers(0, 2, n)
    stream = from_tonic(ev, width=34)
    assert np.array_equal(stream.address, ev["y"].astype(np.int64) * 34 + ev["x"])
    assert np.array_equal(to_tonic(stream), ev)
    fmt = AERFormat(1.0, 16, 11)  # 34 * 34 = 1156 addresses
    decoded = decode(encode(stream.times_us, stream.address, stream.polarity, fmt), fmt)
    assert np.array_equal(to_tonic(decoded, width=34), ev)  # x, y recovered from the address


def test_tonic_polarity_conventions_and_fields():
    ev = np.zeros(3, dtype=[("x", int), ("y", int), ("t", int), ("p", int)])
    ev["p"] = [-1, 1, -1]
    ev["t"] = [1, 2, 3]
    assert from_tonic(ev).polarity.tolist() == [0, 1, 0]
    with pytest.raises(ValueError, match="missing"):
        from_tonic(np.zeros(2, dtype=[("x", int), ("t", int)]))
    with pytest.raises(ValueError, match="width"):
        to_tonic(EventStream(address=[1], ticks=[0], polarity=[1]))
