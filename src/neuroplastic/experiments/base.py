"""What an experiment is: a seeded config dataclass plus ``run(config, progress) -> Result``.

Experiments register themselves with :func:`register`; every module in this package is
imported by :func:`neuroplastic.experiments.registry`, so adding an experiment is adding a file.

Conventions the lab (:mod:`neuroplastic.lab`) relies on:

* **Config** — a frozen dataclass whose fields are declared with
  :func:`~neuroplastic.experiments.params.param` (meaning, unit, allowed range) and checked in
  ``__post_init__``; it lives in :mod:`neuroplastic.experiments.configs` (no heavy imports) so
  that the command line checks it, and shows it with ``--help``, before torch loads. Its
  optional ``cost()`` estimates the run's price before it starts.
* **Timings** — wall-clock measurements go in ``Result.timings``, not ``Result.metrics``.

* **Curves** — per-step / per-epoch series go in ``Result.curves`` (``{name: [float, ...]}``);
  they are written to ``curves.json``, drawn in ``report.html``, overlaid by
  ``neuroplastic compare`` and exported to TensorBoard with ``--tensorboard``.
* **Checkpoints** — an experiment that can resume declares a keyword
  ``run(config, *, progress=True, checkpoint: Checkpointer | None = None)``. At start it calls
  ``checkpoint.load()`` (``None`` or ``(step, tensors, meta)``) and restores its state; while
  running it calls ``checkpoint.save(step, tensors, meta)`` (safetensors + JSON, no pickle).
  Resuming must give the same final metrics as an uninterrupted run, so everything random
  (e.g. ``torch.Generator.get_state()``) belongs in the checkpoint. Experiments without the
  keyword simply rerun from scratch.
* **Finished** — a result folder is finished when it holds ``metrics.json`` and ``DONE``.
"""

from __future__ import annotations

import dataclasses
import inspect
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..lab.checkpointer import Checkpointer

__all__ = [
    "Checkpointer",
    "Experiment",
    "Result",
    "accepts_checkpoint",
    "register",
    "versions",
    "write_result",
]



@dataclass
class Result:
    """What a run produces. ``metrics`` is flat JSON (numbers, strings, bools)."""

    metrics: dict[str, Any]
    figures: dict[str, Any] = field(default_factory=dict)  # name -> matplotlib Figure
    arrays: dict[str, Any] = field(default_factory=dict)  # name -> tensor/ndarray (safetensors)
    text: dict[str, str] = field(default_factory=dict)  # file name -> contents
    curves: dict[str, list[float]] = field(default_factory=dict)  # name -> series (curves.json)
    # wall-clock measurements (seconds, rates per second): written into metrics.json beside
    # the others, listed in run.json as "timing_metrics", and the only metrics allowed to
    # differ between a resumed and an uninterrupted run
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Experiment:
    name: str
    config_cls: type
    run: Callable[..., Result]
    description: str


_REGISTRY: dict[str, Experiment] = {}


def register(name: str, config_cls: type, description: str = "") -> Callable:
    """Decorator: ``@register("cuba", CubaConfig, "...")`` on ``run(config, *, progress)``."""
    if not dataclasses.is_dataclass(config_cls):
        raise TypeError(f"config of experiment {name!r} must be a dataclass")
    if not any(f.name == "seed" for f in dataclasses.fields(config_cls)):
        raise TypeError(f"config of experiment {name!r} must have a 'seed' field")

    def deco(fn: Callable[..., Result]) -> Callable[..., Result]:
        if name in _REGISTRY:
            raise ValueError(f"experiment {name!r} registered twice")
        from .configs import config_class

        declared = config_class(name)
        if declared is not None and declared is not config_cls:
            raise TypeError(f"experiment {name!r}: registered with {config_cls.__qualname__} "
                            f"but configs/ declares {declared.__qualname__}")
        _REGISTRY[name] = Experiment(name, config_cls, fn, description or (fn.__doc__ or ""))
        return fn

    return deco


def accepts_checkpoint(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` takes a ``checkpoint`` keyword (i.e. the experiment can resume)."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "checkpoint" in params


def versions() -> dict[str, str]:
    """Versions of Python, the platform, neuroplastic and its main dependencies."""
    from importlib import metadata

    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for pkg in ("neuroplastic", "torch", "numpy", "scipy", "scikit-learn", "matplotlib",
                "safetensors", "numba", "tqdm"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _jsonable(x: Any) -> Any:
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return {f.name: _jsonable(getattr(x, f.name)) for f in dataclasses.fields(x)}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if hasattr(x, "item") and callable(x.item):
        try:
            return x.item()
        except (ValueError, RuntimeError):
            return str(x)
    return x


def write_result(
    out: Path,
    name: str,
    config: Any,
    result: Result,
    wall_s: float,
    argv: list[str] | None,
    extra_meta: dict[str, Any] | None = None,
) -> Path:
    """Write the result files of ``result`` into ``out`` (see
    :meth:`neuroplastic.lab.run_folder.RunFolder.write_result`); the ``DONE`` marker is not
    written here (the lab writes it after the report)."""
    from ..lab.run_folder import RunFolder

    return RunFolder(out).write_result(name, config, result, wall_s, argv, extra_meta)
