"""Named, configurable experiments (see :mod:`neuroplastic.experiments.base`)."""

from __future__ import annotations

import importlib
import pkgutil

from .base import Experiment, Result, register, write_result

__all__ = ["Experiment", "Result", "get", "register", "registry", "write_result"]


def registry() -> dict[str, Experiment]:
    """All experiments, importing every module of this package once."""
    from . import base

    for mod in pkgutil.iter_modules(__path__):
        if mod.name != "base" and not mod.name.startswith("_"):
            importlib.import_module(f"{__name__}.{mod.name}")
    return dict(sorted(base._REGISTRY.items()))


def get(name: str) -> Experiment:
    reg = registry()
    if name not in reg:
        raise ValueError(f"unknown experiment {name!r}; known: {', '.join(reg)}")
    return reg[name]
