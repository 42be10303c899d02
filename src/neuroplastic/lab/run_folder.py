"""A result folder, owned by one object from creation to the ``DONE`` marker.

:class:`RunFolder` decides whether a run may use a folder (a new run never mixes with the files
of an earlier one: it refuses a non-empty folder unless told to replace it or to resume it),
hands the experiment its :class:`~neuroplastic.lab.checkpointer.Checkpointer`, writes every
result file atomically, records in ``run.json`` the list of files this run wrote (the report
shows only those), and marks the folder finished.

Layout of a finished folder::

    config.json         the resolved config (seed included)
    metrics.json        flat metrics: numbers, strings, booleans or lists of finite numbers
                        (wall-clock ones listed in run.json "timing_metrics")
    curves.json         per-step / per-epoch series
    <figure>.png        the experiment's plots
    arrays.safetensors  learned state (weights, ...)
    run.json            command, versions, wall time, files written, resume information
    report.html         self-contained report (written by :mod:`neuroplastic.lab.report`)
    DONE                written last
    checkpoint/         only while the run is unfinished
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .checkpointer import Checkpointer, atomic_write

__all__ = ["DONE_MARKER", "NonFiniteMetricError", "RunFolder", "check_metrics", "is_done",
           "read_json"]

DONE_MARKER = "DONE"


class NonFiniteMetricError(RuntimeError):
    """A run produced a NaN or infinite metric: an error, never a silent result."""


def is_done(folder: str | Path) -> bool:
    """A result folder is finished when it holds ``metrics.json`` and the ``DONE`` marker."""
    folder = Path(folder)
    return (folder / "metrics.json").is_file() and (folder / DONE_MARKER).is_file()


def read_json(path: str | Path, what: str = "file") -> Any:
    """Parse a JSON file; ``ValueError`` naming the file and the problem otherwise."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"{path}: no such {what}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: cannot read the {what} ({e})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: damaged {what}, not valid JSON ({e.msg} at line {e.lineno} "
                         f"column {e.colno}); rerun the experiment or restore the file") from None


def _file_ancestor(path: Path) -> Path | None:
    """The first existing ancestor of ``path`` (itself included) that is not a folder."""
    for p in [path, *path.parents]:
        if p.exists():
            return None if p.is_dir() else p
    return None


def _jsonable(x: Any) -> Any:
    from ..experiments.base import _jsonable as conv

    return conv(x)


def check_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """The metrics as JSON values, checked to be flat: each is a number, a string, a boolean,
    ``None`` or a **list of numbers** (a tuple or a 1-D array becomes a JSON list; booleans
    are not numbers here). A nested list, a dict, a 2-D array, or a list holding anything but
    numbers is a ``TypeError`` naming the metric. Non-finite values are left for the caller
    to refuse."""
    out = {}
    for k, v in metrics.items():
        ndim = getattr(v, "ndim", 0)
        if ndim > 1:
            raise TypeError(f"metrics.json must be flat: {k!r} is a {ndim}-D array")
        if ndim == 1 and hasattr(v, "tolist"):  # numpy / torch 1-D array
            v = v.tolist()
        v = _jsonable(v)
        if isinstance(v, dict):
            raise TypeError(f"metrics.json must be flat: {k!r} is a dict")
        if isinstance(v, list):
            wrong = [x for x in v if isinstance(x, bool) or not isinstance(x, (int, float))]
            if wrong:
                raise TypeError(f"metrics.json must be flat: list metric {k!r} holds "
                                f"{type(wrong[0]).__name__} {wrong[0]!r}; only lists of numbers "
                                "are allowed")
        out[str(k)] = v
    return out


class RunFolder:
    """One result folder. Make it with :meth:`prepare`; see the module docstring."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.written: list[str] = []

    # -- lifecycle -------------------------------------------------------------------------
    @staticmethod
    def check(path: str | Path, experiment: str, config: Any, *, resume: bool = False,
              force: bool = False) -> None:
        """Whether a run of ``experiment`` with ``config`` may use ``path`` (writes nothing).

        * ``resume``: the folder must be empty, missing, or hold a run of the same experiment
          and config (it continues from its checkpoint; a finished one is left as it is).
        * otherwise a non-empty folder is refused unless ``force`` (replace its contents).

        Raises ``ValueError`` saying what is wrong and what to do.
        """
        p = Path(path)
        blocker = _file_ancestor(p)
        if blocker is not None:
            raise ValueError(f"--out {p}: {blocker} is a file, not a folder; choose another --out")
        saved = None
        if p.is_dir() and (p / "config.json").exists():
            saved = read_json(p / "config.json", "config file")
        nonempty = p.is_dir() and any(p.iterdir())
        if resume and nonempty:
            if saved is None:
                raise ValueError(f"--resume: {p} holds files but no config.json, so it is not a "
                                 "run to continue; choose another --out")
            if not isinstance(saved, dict) or saved.get("experiment") != experiment:
                got = saved.get("experiment") if isinstance(saved, dict) else None
                raise ValueError(f"--resume: {p}/config.json is a run of {got!r}, not "
                                 f"{experiment!r}; choose another --out")
            mine = json.loads(json.dumps(_jsonable(config)))
            theirs = saved.get("config") if isinstance(saved.get("config"), dict) else {}
            if theirs != mine:
                keys = sorted(k for k in set(mine) | set(theirs) if theirs.get(k) != mine.get(k))
                raise ValueError(f"--resume: the config differs from {p}/config.json in "
                                 f"{', '.join(keys)}; drop --set/--config or use another --out")
        elif nonempty and not force:
            what = "a finished run" if is_done(p) else (
                "an unfinished run" if saved is not None else "other files")
            raise ValueError(f"--out {p} already holds {what}; pass --resume to continue it, "
                             "--force to replace it, or choose another --out")

    @classmethod
    def prepare(cls, path: str | Path, experiment: str, config: Any, *, resume: bool = False,
                force: bool = False, write: bool = True) -> RunFolder:
        """:meth:`check`, then set the folder up: with ``force`` its old contents are deleted;
        ``config.json`` is written (unless a finished folder is resumed). ``write=False``
        (ranks > 0 under ``torch.distributed``) does nothing: rank 0 prepares."""
        self = cls(path)
        if not write:
            return self
        p = self.path
        cls.check(p, experiment, config, resume=resume, force=force)
        if force and p.is_dir() and not resume:
            for child in p.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        if not (resume and is_done(p)):
            p.mkdir(parents=True, exist_ok=True)
            (p / DONE_MARKER).unlink(missing_ok=True)
            self.write_json("config.json", {"experiment": experiment,
                                            "config": _jsonable(config)}, indent=2)
        return self

    def checkpointer(self, every_s: float = 30.0) -> Checkpointer:
        """The checkpointer of this folder (``checkpoint/``)."""
        return Checkpointer(self.path / "checkpoint", every_s=every_s)

    @property
    def done(self) -> bool:
        return is_done(self.path)

    def mark_done(self) -> None:
        """Delete the checkpoints and write ``DONE`` (last)."""
        self.checkpointer().clear()
        atomic_write(self.path / DONE_MARKER, time.strftime("%Y-%m-%dT%H:%M:%S%z") + "\n")

    # -- writing ---------------------------------------------------------------------------
    def write_bytes(self, name: str, data: bytes | str) -> Path:
        atomic_write(self.path / name, data)
        if name not in self.written:
            self.written.append(name)
        return self.path / name

    def write_json(self, name: str, obj: Any, indent: int | None = None,
                   sort_keys: bool = False) -> Path:
        return self.write_bytes(name, json.dumps(obj, indent=indent, sort_keys=sort_keys,
                                                 allow_nan=False) + "\n")

    def write_result(self, name: str, config: Any, result: Any, wall_s: float,
                     argv: Sequence[str] | None, extra_meta: dict[str, Any] | None = None
                     ) -> Path:
        """config.json, metrics.json, curves.json, PNG plots, arrays, text files and run.json.

        Raises :class:`NonFiniteMetricError` (before writing anything) if a metric, an element
        of a list metric or a curve point is NaN or infinite; ``TypeError`` if a metric is not
        flat (see :func:`check_metrics`).
        """
        metrics = check_metrics(result.metrics)
        timings = {k: _jsonable(v) for k, v in getattr(result, "timings", {}).items()}
        bad = [k for k, v in metrics.items()
               if any(isinstance(x, float) and not math.isfinite(x)
                      for x in (v if isinstance(v, list) else [v]))]
        curves = {str(k): [float(x) for x in _jsonable(list(v))]
                  for k, v in result.curves.items()}
        bad += [f"curve {k}" for k, v in curves.items() if not all(map(math.isfinite, v))]
        if bad:
            raise NonFiniteMetricError(
                f"{name}: non-finite values in {', '.join(bad)} (the run diverged or a value "
                f"was never computed); {self.path} is not marked done")
        clash = sorted(set(metrics) & set(timings))
        if clash:
            raise ValueError(f"{name}: {', '.join(clash)} both a metric and a timing")
        metrics.update(timings)
        metrics.setdefault("wall_s", round(wall_s, 4))
        self.path.mkdir(parents=True, exist_ok=True)
        self.write_json("config.json", {"experiment": name, "config": _jsonable(config)},
                        indent=2)
        self.write_json("metrics.json", metrics, indent=2, sort_keys=True)
        self.write_json("curves.json", curves)
        import matplotlib

        matplotlib.use("Agg")
        import io

        import matplotlib.pyplot as plt

        for fname, fig in result.figures.items():
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
            plt.close(fig)
            self.write_bytes(f"{fname}.png", buf.getvalue())
        if result.arrays:
            import torch
            from safetensors.torch import save as st_save

            tensors = {k: torch.as_tensor(v).detach().cpu().contiguous()
                       for k, v in result.arrays.items()}
            self.write_bytes("arrays.safetensors", st_save(tensors))
        for fname, txt in result.text.items():
            self.write_bytes(fname, txt)
        from ..experiments.base import versions

        meta = {
            "experiment": name,
            "command": " ".join(argv) if argv else None,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "wall_s": round(wall_s, 4),
            "figures": list(result.figures),
            "timing_metrics": sorted({*timings, "wall_s"}),
            "versions": versions(),
            **(extra_meta or {}),
        }
        meta["files"] = [*self.written, "run.json"]
        self.write_json("run.json", meta, indent=2)
        return self.path

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"
