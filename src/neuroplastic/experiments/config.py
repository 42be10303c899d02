"""Configs from the command line: ``--set key=value`` parsed against the dataclass's types.

Unknown keys and values of the wrong type are refused before any work starts, with the key,
the value and the expected type in the message.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any, Literal, get_args, get_origin

__all__ = ["apply_overrides", "coerce_value", "config_from_dict", "parse_value"]


def _type_name(tp: Any) -> str:
    if get_origin(tp) is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    return getattr(tp, "__name__", str(tp))


def parse_value(key: str, text: str, tp: Any) -> Any:
    """Convert ``text`` to type ``tp`` (int, float, bool, str, Literal, tuple, Optional)."""
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if text.lower() in ("none", "null") and len(args) < len(get_args(tp)):
            return None
        errors = []
        for a in args:
            try:
                return parse_value(key, text, a)
            except ValueError as e:
                errors.append(str(e))
        raise ValueError(f"--set {key}={text!r}: expected {' or '.join(map(_type_name, args))}")
    if origin is Literal:
        for a in get_args(tp):
            if str(a) == text:
                return a
        raise ValueError(f"--set {key}={text!r}: expected {_type_name(tp)}")
    if origin is tuple or tp is tuple:
        inner = get_args(tp)
        parts = [p for p in text.strip("()[] ").split(",") if p.strip()]
        el = inner[0] if inner else float
        return tuple(parse_value(key, p.strip(), el) for p in parts)
    if tp is bool:
        low = text.lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"--set {key}={text!r}: expected a bool (true/false)")
    if tp is int:
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"--set {key}={text!r}: expected an integer") from None
    if tp is float:
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"--set {key}={text!r}: expected a number") from None
    if tp is str:
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise ValueError(f"--set {key}={text!r}: expected {_type_name(tp)}") from None


def _unknown(key: str, config_cls: type, fields: set[str], origin: str) -> ValueError:
    import difflib

    close = difflib.get_close_matches(key, sorted(fields), n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return ValueError(
        f"{origin} {key}: unknown key for {config_cls.__name__}; {hint}known keys: "
        f"{', '.join(sorted(fields))}"
    )


def _construct(config_cls: type, kwargs: dict[str, Any], shown: dict[str, str]) -> Any:
    """``config_cls(**kwargs)``; a validation error is re-raised naming the overrides given."""
    try:
        return config_cls(**kwargs)
    except (ValueError, TypeError) as e:
        given = ", ".join(f"{k}={v}" for k, v in shown.items())
        where = f" (given {given})" if given else ""
        raise ValueError(f"invalid {config_cls.__name__}{where}: {e}") from None


def apply_overrides(config_cls: type, overrides: list[str], base: Any = None) -> Any:
    """Build ``config_cls`` with ``key=value`` overrides; validation runs in the dataclass.

    ``base`` (an instance, e.g. loaded with :func:`config_from_dict`) supplies the values not
    overridden; by default the dataclass defaults.
    """
    hints = typing.get_type_hints(config_cls)
    fields = {f.name for f in dataclasses.fields(config_cls)}
    kwargs: dict[str, Any] = {}
    shown: dict[str, str] = {}
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"--set expects key=value, got {item!r}")
        key, text = item.split("=", 1)
        key = key.strip()
        if key not in fields:
            raise _unknown(key, config_cls, fields, "--set")
        kwargs[key] = parse_value(key, text.strip(), hints[key])
        shown[key] = text.strip()
    if base is not None:
        kwargs = {**{f: getattr(base, f) for f in fields}, **kwargs}
    return _construct(config_cls, kwargs, shown)


def coerce_value(key: str, value: Any, tp: Any) -> Any:
    """Check a JSON value against type ``tp`` (no silent conversions except int -> float)."""
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in get_args(tp):
            return None
        for a in get_args(tp):
            if a is type(None):
                continue
            try:
                return coerce_value(key, value, a)
            except ValueError:
                pass
        raise ValueError(f"{key}={value!r}: expected {' or '.join(map(_type_name, get_args(tp)))}")
    if origin is Literal:
        if any(value == a and type(value) is type(a) for a in get_args(tp)):
            return value
        raise ValueError(f"{key}={value!r}: expected {_type_name(tp)}")
    if origin is tuple or tp is tuple:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{key}={value!r}: expected a list")
        inner = get_args(tp)
        el = inner[0] if inner else float
        return tuple(coerce_value(key, v, el) for v in value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ValueError(f"{key}={value!r}: expected a bool (true/false)")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ValueError(f"{key}={value!r}: expected an integer")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ValueError(f"{key}={value!r}: expected a number")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ValueError(f"{key}={value!r}: expected a string")
    return value


def config_from_dict(config_cls: type, data: Any) -> Any:
    """Build ``config_cls`` from a JSON object (e.g. a result folder's ``config.json``).

    Accepts ``{"experiment": ..., "config": {...}}`` or the plain field mapping; unknown keys
    and values of the wrong type are refused with the key, the value and the expected type.
    """
    if isinstance(data, dict) and "config" in data and isinstance(data["config"], dict):
        data = data["config"]
    if not isinstance(data, dict):
        raise ValueError(f"config must be a JSON object, got {type(data).__name__}")
    hints = typing.get_type_hints(config_cls)
    fields = {f.name for f in dataclasses.fields(config_cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in fields:
            raise _unknown(key, config_cls, fields, "config")
        kwargs[key] = coerce_value(key, value, hints[key])
    return _construct(config_cls, kwargs, {k: json.dumps(v) for k, v in data.items()})
