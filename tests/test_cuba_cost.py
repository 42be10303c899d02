"""The cuba experiment's cost estimate: what the lab prints before a run and what its 30-minute
guard refuses without ``--yes``.

Independent truth: the W1-scale figures measured side by side with Brian2 (BENCHMARKS.md,
session 11, `benchmarks/w1s_scale.py`, 1 thread, the 2-core Intel VM): build + 1 s of CUBA at
in-degree 80. The estimate (less its fixed 2 s of start-up) must stay within 2x of them either
way: an estimate 400x too high (as the one before it, calibrated on an early, slower loop)
refuses a 13 s run as a 34-minute one.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroplastic.experiments.configs.cuba import CubaConfig

# (N, dtype, build s, run s) - medians of 3 fresh processes (4M: one run), BENCHMARKS.md
MEASURED = [
    (4_000, "float64", 0.16, 0.039),
    (4_000, "float32", 0.16, 0.022),
    (40_000, "float64", 0.12, 0.361),
    (40_000, "float32", 0.12, 0.202),
    (400_000, "float64", 0.45, 6.04),
    (400_000, "float32", 0.41, 3.33),
    (4_000_000, "float64", 6.91, 117.1),
    (4_000_000, "float32", 3.88, 50.7),
]


@pytest.mark.parametrize("n, dtype, build_s, run_s", MEASURED)
def test_the_estimate_is_within_2x_of_the_measured_w1_scale(n, dtype, build_s, run_s):
    est = CubaConfig(n_neurons=n, p_connect=80 / n, dtype=dtype).cost().seconds - 2.0
    assert 0.5 <= est / (build_s + run_s) <= 2.0


def test_the_nest_estimate_is_within_2x_of_nest_measured():
    # NEST 3.10 at 40k, one thread: build 2.00 s + run 18.5 s (same table)
    est = CubaConfig(n_neurons=40_000, p_connect=0.002, backend="nest").cost().seconds - 2.0
    assert 0.5 <= est / 20.5 <= 2.0


@settings(max_examples=60, deadline=None)
@given(n=st.integers(10, 10_000_000), p=st.floats(1e-6, 1.0), ms=st.floats(0.1, 1e6),
       trials=st.integers(1, 64), dtype=st.sampled_from(["float64", "float32"]),
       backend=st.sampled_from(["auto", "numba", "torch"]))
def test_the_estimate_grows_with_the_work(n, p, ms, trials, dtype, backend):
    base = dict(n_neurons=n, p_connect=p, duration_ms=ms, dtype=dtype, backend=backend)
    c = CubaConfig(**base, trials=trials).cost().seconds
    assert c > 0
    assert CubaConfig(**base, trials=trials + 1).cost().seconds > c
    assert CubaConfig(**{**base, "duration_ms": 2 * ms}, trials=trials).cost().seconds > c
    if 4_096 < n <= 1_000_000:  # above 2**24 pairs (no per-pair draws), within the limit
        assert CubaConfig(**{**base, "n_neurons": 10 * n}, trials=trials).cost().seconds > c
