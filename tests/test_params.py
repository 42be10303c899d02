"""The declared-parameter checks of :mod:`neuroplastic.experiments.params` on tuple fields."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from neuroplastic.experiments.params import check_fields, param


@dataclass(frozen=True)
class _Fixed:
    x: tuple[float, float, float] = param((0.1, 0.2, 0.3), "three fractions", low=0, high=1)
    y: tuple[int, ...] = param((1, 2), "any number of counts", low=0, high=9)
    seed: int = param(0, "seed", low=0, high=10)

    def __post_init__(self) -> None:
        check_fields(self)


@given(st.lists(st.floats(0, 1), max_size=6).map(tuple))
def test_fixed_length_tuple_is_checked_by_length_then_by_element(v):
    if len(v) == 3:
        assert _Fixed(x=v).x == v
    else:
        with pytest.raises(ValueError, match=rf"^x must have 3 elements, got {len(v)}$"):
            _Fixed(x=v)


@given(st.lists(st.integers(-2, 12), max_size=6).map(tuple))
def test_variable_length_tuple_checks_every_element(v):
    if all(0 <= e <= 9 for e in v):
        assert _Fixed(y=v).y == v
    else:
        with pytest.raises(ValueError, match=r"^y\[\d\] must be"):
            _Fixed(y=v)
