"""Named, configurable experiments (see :mod:`neuroplastic.experiments.base`)."""

from __future__ import annotations

import importlib
import pkgutil

from .base import Experiment, Result, register, write_result

__all__ = ["Experiment", "Result", "get", "register", "registry", "unavailable", "write_result"]


def registry() -> dict[str, Experiment]:
    """All experiments, importing every module of this package once."""
    from . import base

    for mod in pkgutil.iter_modules(__path__):
        if mod.name in ("base", "config") or mod.name.startswith("_"):
            continue
        try:
            importlib.import_module(f"{__name__}.{mod.name}")
        except ImportError as e:  # an optional dependency is missing: the others still work
            _UNAVAILABLE[mod.name] = str(e)
    return dict(sorted(base._REGISTRY.items()))


_UNAVAILABLE: dict[str, str] = {}


def unavailable() -> dict[str, str]:
    """Experiment modules that could not be imported, with the reason."""
    registry()
    return dict(_UNAVAILABLE)


def get(name: str) -> Experiment:
    reg = registry()
    if name not in reg:
        extra = "".join(f"; {m} unavailable: {why}" for m, why in _UNAVAILABLE.items())
        raise ValueError(f"unknown experiment {name!r}; known: {', '.join(reg)}{extra}")
    return reg[name]
