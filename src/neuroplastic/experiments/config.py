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

__all__ = ["apply_overrides", "parse_value"]


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


def apply_overrides(config_cls: type, overrides: list[str]) -> Any:
    """Build ``config_cls`` with ``key=value`` overrides; validation runs in the dataclass."""
    hints = typing.get_type_hints(config_cls)
    fields = {f.name for f in dataclasses.fields(config_cls)}
    kwargs: dict[str, Any] = {}
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"--set expects key=value, got {item!r}")
        key, text = item.split("=", 1)
        key = key.strip()
        if key not in fields:
            raise ValueError(
                f"--set {key}: unknown key for {config_cls.__name__}; known keys: "
                f"{', '.join(sorted(fields))}"
            )
        kwargs[key] = parse_value(key, text.strip(), hints[key])
    return config_cls(**kwargs)
