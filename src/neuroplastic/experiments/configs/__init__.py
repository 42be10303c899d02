"""The experiments' config dataclasses, importable without torch, numpy or numba.

Each module here defines the config of one experiment module of
:mod:`neuroplastic.experiments`, a mapping ``EXPERIMENTS = {"name": ConfigClass}`` and a
module-level ``TOPIC`` (one of :data:`TOPICS`; ``neuroplastic list`` groups by it). The
command line looks a config up here first (:func:`config_class`), so ``--help``, unknown keys
and out-of-range values are answered before the heavy libraries load; the experiment module
imports the same class and registers it (:func:`neuroplastic.experiments.register` checks that
both agree).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from types import ModuleType

__all__ = ["OTHER", "TOPICS", "catalog", "config_class", "topics"]

# the topics of ``neuroplastic list``, in the order it prints them
TOPICS: tuple[str, ...] = ("neurons", "plasticity", "surrogate", "energy", "continual", "agents",
                           "behaviour", "explain", "scale")
OTHER = "other"  # the topic of an experiment whose config module declares none


def _modules() -> Iterator[ModuleType]:
    for mod in pkgutil.iter_modules(__path__):
        if not mod.name.startswith("_"):
            yield importlib.import_module(f"{__name__}.{mod.name}")


def catalog() -> dict[str, type]:
    """``{experiment name: config class}`` of every config module here (no heavy imports)."""
    out: dict[str, type] = {}
    for m in _modules():
        for name, cls in getattr(m, "EXPERIMENTS", {}).items():
            if name in out:
                raise ValueError(f"experiment {name!r} has two configs: {out[name]} and {cls}")
            out[name] = cls
    return dict(sorted(out.items()))


def topics() -> dict[str, str]:
    """``{experiment name: topic}`` from each config module's ``TOPIC`` (``"other"`` when a
    module declares none); ``ValueError`` naming the module when its ``TOPIC`` is not one of
    :data:`TOPICS`."""
    out: dict[str, str] = {}
    for m in _modules():
        topic = getattr(m, "TOPIC", OTHER)
        if topic != OTHER and topic not in TOPICS:
            raise ValueError(f"{m.__name__}: TOPIC {topic!r} is not one of {', '.join(TOPICS)}")
        for name in getattr(m, "EXPERIMENTS", {}):
            out[name] = topic
    return dict(sorted(out.items()))


def config_class(name: str) -> type | None:
    """The config class of experiment ``name``, or ``None`` if no config module declares it."""
    return catalog().get(name)
