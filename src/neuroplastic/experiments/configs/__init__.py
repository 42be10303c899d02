"""The experiments' config dataclasses, importable without torch, numpy or numba.

Each module here defines the config of one experiment module of
:mod:`neuroplastic.experiments` and a mapping ``EXPERIMENTS = {"name": ConfigClass}``. The
command line looks a config up here first (:func:`config_class`), so ``--help``, unknown keys
and out-of-range values are answered before the heavy libraries load; the experiment module
imports the same class and registers it (:func:`neuroplastic.experiments.register` checks that
both agree).
"""

from __future__ import annotations

import importlib
import pkgutil

__all__ = ["catalog", "config_class"]


def catalog() -> dict[str, type]:
    """``{experiment name: config class}`` of every config module here (no heavy imports)."""
    out: dict[str, type] = {}
    for mod in pkgutil.iter_modules(__path__):
        if mod.name.startswith("_"):
            continue
        m = importlib.import_module(f"{__name__}.{mod.name}")
        for name, cls in getattr(m, "EXPERIMENTS", {}).items():
            if name in out:
                raise ValueError(f"experiment {name!r} has two configs: {out[name]} and {cls}")
            out[name] = cls
    return dict(sorted(out.items()))


def config_class(name: str) -> type | None:
    """The config class of experiment ``name``, or ``None`` if no config module declares it."""
    return catalog().get(name)
