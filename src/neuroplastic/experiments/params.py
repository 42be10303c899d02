"""Declarative experiment-config fields: default, meaning, unit and allowed values in one place.

An experiment's config is a frozen dataclass whose fields are declared with :func:`param`::

    @dataclass(frozen=True)
    class MyConfig:
        tau_ms: float = param(20.0, "membrane time constant", unit="ms", low=0, low_open=True)
        n: int = param(100, "neurons", low=1)
        seed: int = param(0, "everything random", low=0)

        def __post_init__(self) -> None:
            check_fields(self)            # every field against its declared domain
            ...                           # then the checks that relate two fields

:func:`check_fields` validates every value with the validators of :mod:`neuroplastic._validation`
(the ones the library's own parameter classes use), so a config is refused when it is parsed,
with one line naming the key, the value and the allowed range. :func:`describe` lists the
fields for ``neuroplastic run EXP --help``.

This module imports nothing heavy (no torch, numpy or numba): configs are parsed and checked
before the lab imports any of them, so a typo fails in a fraction of a second.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin

from .._validation import check_choice, check_finite, check_int

__all__ = ["Cost", "FieldDoc", "check_fields", "describe", "domain_text", "param", "type_text"]


@dataclass(frozen=True)
class Cost:
    """A run's estimated price: wall-clock seconds on a 2-core machine and what drives them."""

    seconds: float
    what: str  # e.g. "1797 images x 3 epochs x 100 neurons"

    def text(self) -> str:
        s = self.seconds
        t = f"{s:.0f} s" if s < 120 else f"{s / 60:.0f} min" if s < 7200 else f"{s / 3600:.1f} h"
        return f"about {t} ({self.what})"


def param(
    default: Any,
    help: str,
    *,
    unit: str = "",
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> Any:
    """A dataclass field with its meaning, unit and domain ``[low, high]`` (ends may be open).

    Bounds apply to numbers and to every element of a tuple of numbers; ``Literal`` types
    restrict strings to their choices by themselves.
    """
    if not isinstance(help, str) or not help:
        raise ValueError("param(): help must be a non-empty string")
    meta = {"help": help, "unit": unit, "low": low, "high": high, "low_open": low_open,
            "high_open": high_open}
    return dataclasses.field(default=default, metadata=meta)


def _check_number(name: str, value: Any, tp: Any, meta: dict[str, Any]) -> None:
    low, high = meta.get("low"), meta.get("high")
    if tp is int:
        v: float = check_int(name, value)
    else:
        v = check_finite(name, value)
    if low is not None:
        if meta.get("low_open") and not v > low:
            raise ValueError(f"{name} must be > {low}, got {value!r}")
        if not v >= low:
            raise ValueError(f"{name} must be >= {low}, got {value!r}")
    if high is not None:
        if meta.get("high_open") and not v < high:
            raise ValueError(f"{name} must be < {high}, got {value!r}")
        if not v <= high:
            raise ValueError(f"{name} must be <= {high}, got {value!r}")


def _check_value(name: str, value: Any, tp: Any, meta: dict[str, Any]) -> None:
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = get_args(tp)
        if value is None:
            if type(None) in args:
                return
            raise ValueError(f"{name} must not be None")
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                _check_value(name, value, a, meta)
                return
            except ValueError as e:
                errors.append(str(e))
        raise ValueError(errors[0] if len(errors) == 1 else " or ".join(errors))
    if origin is Literal:
        check_choice(name, value, get_args(tp))
        return
    if origin is tuple or tp is tuple:
        if not isinstance(value, tuple):
            raise ValueError(f"{name} must be a tuple, got {value!r}")
        args = get_args(tp)
        inner = [a for a in args if a is not Ellipsis] or [float]
        if args and Ellipsis not in args and len(value) != len(args):
            raise ValueError(f"{name} must have {len(args)} elements, got {len(value)}")
        for i, v in enumerate(value):
            _check_value(f"{name}[{i}]", v, inner[0] if len(inner) == 1 else inner[i], meta)
        return
    if tp is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be a bool, got {value!r}")
        return
    if tp in (int, float):
        _check_number(name, value, tp, meta)
        return
    if tp is str:
        if not isinstance(value, str):
            raise ValueError(f"{name} must be a string, got {value!r}")
        return


def check_fields(config: Any) -> None:
    """Check every field of the dataclass instance ``config`` against its type and domain.

    Raises ``ValueError`` naming the first offending field. Fields declared without
    :func:`param` are checked against their type only (finite numbers, bools, choices).
    """
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        _check_value(f.name, getattr(config, f.name), hints[f.name], dict(f.metadata))


def type_text(tp: Any) -> str:
    """A short human name of a field type (``float | None``, ``'digits' | 'mnist'``)."""
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_text(a) for a in get_args(tp))
    if origin is Literal:
        return " | ".join(repr(a) for a in get_args(tp))
    if origin is tuple or tp is tuple:
        inner = [a for a in get_args(tp) if a is not Ellipsis]
        return f"tuple of {type_text(inner[0])}" if inner else "tuple"
    if tp is type(None):
        return "None"
    return getattr(tp, "__name__", str(tp))


def domain_text(meta: dict[str, Any]) -> str:
    """``(0, inf)``, ``[0, 1]``, ... or ``""`` when the field declares no bounds."""
    low, high = meta.get("low"), meta.get("high")
    if low is None and high is None:
        return ""
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    left = "(" if (low is None or meta.get("low_open")) else "["
    right = ")" if (high is None or meta.get("high_open")) else "]"
    return f"{left}{lo}, {hi}{right}"


@dataclass(frozen=True)
class FieldDoc:
    name: str
    type: str
    default: Any
    unit: str
    domain: str
    help: str


def describe(config_cls: type) -> list[FieldDoc]:
    """One :class:`FieldDoc` per field of ``config_cls``, in declaration order."""
    hints = typing.get_type_hints(config_cls)
    out = []
    for f in dataclasses.fields(config_cls):
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = None
        meta = dict(f.metadata)
        out.append(FieldDoc(f.name, type_text(hints[f.name]), default, meta.get("unit", ""),
                            domain_text(meta), meta.get("help", "")))
    return out

