"""Run one experiment into a result folder: checkpoints, resume, report, TensorBoard, DONE.

Shared by ``neuroplastic run`` and the sweep workers, so a sweep point is exactly a run.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import os
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..experiments.base import Experiment, _jsonable, accepts_checkpoint
from .run_folder import RunFolder, is_done, read_json
from .world import world

__all__ = ["find_experiment", "is_done", "load_modules", "reproduce_command", "run_point"]


def load_modules(modules: Sequence[str]) -> None:
    """Import extra experiment modules: dotted names or paths to ``.py`` files."""
    for mod in modules:
        if mod.endswith(".py") or os.sep in mod:
            path = Path(mod).resolve()
            if not path.is_file():
                raise ValueError(f"--module {mod}: no such file")
            name = "neuroplastic_user_" + "".join(c if c.isalnum() else "_" for c in str(path))
            if name in sys.modules:
                continue
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise ValueError(f"--module {mod}: cannot import")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        else:
            try:
                importlib.import_module(mod)
            except ImportError as e:
                raise ValueError(f"--module {mod}: {e}") from None


def find_experiment(name: str) -> Experiment:
    """The experiment ``name``: one already registered (e.g. by ``--module``) without importing
    the whole package (cheap in sweep workers), else from the full registry."""
    from ..experiments import base, get

    if name in base._REGISTRY:
        return base._REGISTRY[name]
    return get(name)


def _fmt_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "none"
    if isinstance(v, (list, tuple)):
        return ",".join(_fmt_value(x) for x in v)
    return str(v)


def set_args(config: Any) -> list[str]:
    """``key=value`` for every field of ``config`` that differs from the dataclass default."""
    out = []
    for f in dataclasses.fields(config):
        v = getattr(config, f.name)
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = dataclasses.MISSING
        if default is dataclasses.MISSING or v != default:
            out.append(f"{f.name}={_fmt_value(v)}")
    return out


def reproduce_command(
    name: str, config: Any, out: str | Path, modules: Sequence[str] = ()
) -> str:
    """The ``neuroplastic run`` command line that recreates this result folder."""
    parts = ["neuroplastic", "run", name]
    for m in modules:
        parts += ["--module", m]
    for kv in set_args(config):
        parts += ["--set", kv]
    parts += ["--out", str(out)]
    return shlex.join(parts)


def run_point(
    exp: Experiment,
    config: Any,
    out: str | Path,
    *,
    progress: bool = True,
    resume: bool = False,
    force: bool = False,
    tensorboard: bool = False,
    modules: Sequence[str] = (),
    argv: Sequence[str] | None = None,
    checkpoint_every_s: float = 30.0,
) -> dict[str, Any]:
    """Run ``exp`` with ``config`` into the result folder ``out`` and return its metrics.

    The folder is prepared by :meth:`RunFolder.prepare`: a non-empty one is refused unless
    ``resume`` (continue it: a finished folder is left as it is and its metrics returned, an
    interrupted one continues from its newest good checkpoint) or ``force`` (replace it).
    Under ``torch.distributed`` or an MPI launcher (:func:`~neuroplastic.lab.world.world`)
    every rank runs, rank 0 writes.
    """
    rank, size = world()
    folder = RunFolder.prepare(out, exp.name, config, resume=resume, force=force,
                               write=rank == 0)
    if resume and folder.done:
        return read_json(folder.path / "metrics.json", "metrics file")
    if size > 1 and "torch" in sys.modules:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.barrier()  # (under an MPI launcher the ranks > 0 never touch the folder)
    ckpt = folder.checkpointer(checkpoint_every_s)
    kwargs: dict[str, Any] = {"progress": progress and rank == 0}
    resumed_from = None
    if accepts_checkpoint(exp.run):
        kwargs["checkpoint"] = ckpt
        if resume:
            state = ckpt.load()  # verified; a damaged newest one falls back to the previous
            resumed_from = None if state is None else state[0]
            if resumed_from is not None and rank == 0:
                print(f"[neuroplastic] resuming {exp.name} from step {resumed_from}",
                      file=sys.stderr, flush=True)
        elif rank == 0:
            ckpt.clear()
    t0 = time.perf_counter()
    result = exp.run(config, **kwargs)
    wall = time.perf_counter() - t0
    if rank != 0:
        metrics = {k: _jsonable(v) for k, v in result.metrics.items()}
        metrics.setdefault("wall_s", round(wall, 4))
        return metrics
    command = reproduce_command(exp.name, config, out, modules)
    meta = {"reproduce": command, "resumed_from_step": resumed_from, "world_size": size,
            "modules": list(modules), "checkpoints_written": ckpt.saves,
            "checkpoint_warnings": ckpt.warnings}
    folder.write_result(exp.name, config, result, wall, list(argv) if argv else None, meta)
    if tensorboard:
        from .tensorboard import write_events

        write_events(folder.path / "tensorboard", result.curves,
                     read_json(folder.path / "metrics.json", "metrics file"))
    from .report import build_report

    build_report(folder.path)
    folder.mark_done()
    return read_json(folder.path / "metrics.json", "metrics file")
