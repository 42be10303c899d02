"""Parameter validation shared by every module.

Each checker raises ``ValueError`` whose message names the parameter, the offending value and
the allowed range, so that a bad configuration fails at construction, never deep in a loop.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_finite(name: str, value: Any) -> float:
    """Return ``value`` as float; raise if it is not a finite real number."""
    if not _is_real(value):
        raise ValueError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)


def check_positive(name: str, value: Any) -> float:
    """Finite and strictly greater than zero (time constants, rates of decay, steps)."""
    v = check_finite(name, value)
    if v <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return v


def check_nonnegative(name: str, value: Any) -> float:
    v = check_finite(name, value)
    if v < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return v


def check_range(name: str, value: Any, low: float, high: float) -> float:
    """Finite and in the closed interval [low, high]."""
    v = check_finite(name, value)
    if not (low <= v <= high):
        raise ValueError(f"{name} must be in [{low}, {high}], got {value!r}")
    return v


def check_int(name: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    """An integer (bools refused) within the optional bounds."""
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            import numpy as np

            if isinstance(value, np.integer):
                value = int(value)
            else:
                raise TypeError
        except TypeError:
            raise ValueError(
                f"{name} must be an integer, got {value!r} ({type(value).__name__})"
            ) from None
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {value!r}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value!r}")
    return int(value)


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_less(name_low: str, low: float, name_high: str, high: float) -> None:
    """Require ``low < high`` (e.g. reset below threshold)."""
    if not low < high:
        raise ValueError(f"{name_low} ({low!r}) must be below {name_high} ({high!r})")
