"""Verified, atomic checkpoints of a running experiment (safetensors + JSON, no pickle).

A checkpoint at step ``N`` is two files in the checkpoint folder:

* ``step-N.safetensors`` — the tensors (weights, states, generator states, ...);
* ``step-N.json`` — the step, the experiment's JSON metadata, the SHA-256 and size of the
  tensor file, and a SHA-256 of this manifest itself;

and ``latest.json`` points at the newest one. Every file is written to a temporary name,
flushed and ``fsync``-ed, then renamed over the old one (and the folder is synced), so a
process killed at any instant — SIGKILL included — leaves complete files only. The last
``keep`` checkpoints are kept: when the newest is damaged (a flipped byte, a truncated file, a
garbage pointer), :meth:`Checkpointer.load` says so in one line naming the file and falls back
to the previous good one; with no good one left it raises :class:`CheckpointError`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["CheckpointError", "Checkpointer", "atomic_write"]

FORMAT = "neuroplastic-lab-checkpoint"
VERSION = 1
_STEP_FILE = re.compile(r"^step-(\d+)\.json$")


class CheckpointError(ValueError):
    """A checkpoint that cannot be trusted (damaged, foreign, or missing a file)."""


def atomic_write(path: str | Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one."""
    path = Path(path)
    if isinstance(data, str):
        data = data.encode()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. a platform without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _kill_after() -> int:
    """``NEUROPLASTIC_KILL_AFTER_SAVES=K``: the process SIGKILLs itself right after its K-th
    checkpoint (tests use it to interrupt a run at a known point; unset in normal use)."""
    try:
        return int(os.environ.get("NEUROPLASTIC_KILL_AFTER_SAVES", "0"))
    except ValueError:
        return 0


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def _rank() -> int:
    from .world import world

    return world()[0]


def _jsonable(x: Any) -> Any:
    from ..experiments.base import _jsonable as conv

    return conv(x)


class Checkpointer:
    """Save / load an experiment's state in ``directory``; see the module docstring.

    Parameters
    ----------
    directory
        Folder of the checkpoint files (created on first save).
    every_s
        :meth:`due` turns true when this many seconds have passed since the last save (or since
        the checkpointer was made); ``0`` makes every opportunity a checkpoint.
    keep
        How many checkpoints stay on disk (>= 2 keeps a fallback for a damaged newest one).
    """

    def __init__(self, directory: str | Path, every_s: float = 30.0, keep: int = 2) -> None:
        if isinstance(every_s, bool) or not isinstance(every_s, (int, float)) or not (
            math.isfinite(every_s) and every_s >= 0
        ):
            raise ValueError(f"checkpoint interval must be a finite number of seconds >= 0, "
                             f"got {every_s!r}")
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
            raise ValueError(f"keep must be an integer >= 1, got {keep!r}")
        self.directory = Path(directory)
        self.every_s = float(every_s)
        self.keep = keep
        self._last = time.monotonic()
        self.saves = 0  # checkpoints written by this object
        self.warnings: list[str] = []  # damaged checkpoints met by load()

    # -- writing ---------------------------------------------------------------------------
    def due(self) -> bool:
        """Whether a checkpoint should be written now (``every_s`` elapsed since the last)."""
        return time.monotonic() - self._last >= self.every_s

    def save(self, step: int, tensors: dict[str, Any], meta: dict[str, Any]) -> None:
        """Store ``tensors`` (name -> tensor / ndarray) and JSON-able ``meta`` at ``step``."""
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"step must be an integer >= 0, got {step!r}")
        self._last = time.monotonic()
        if _rank() != 0:
            return
        import torch
        from safetensors.torch import save as st_save

        d = self.directory
        d.mkdir(parents=True, exist_ok=True)
        flat = {k: torch.as_tensor(v).detach().cpu().contiguous() for k, v in tensors.items()}
        blob = st_save(flat)
        stem = f"step-{step}"
        manifest: dict[str, Any] = {
            "format": FORMAT, "version": VERSION, "step": step, "meta": _jsonable(meta),
            "tensors_sha256": hashlib.sha256(blob).hexdigest(), "tensors_bytes": len(blob),
        }
        manifest["manifest_sha256"] = _digest(manifest)
        text = json.dumps(manifest)
        atomic_write(d / f"{stem}.safetensors", blob)
        atomic_write(d / f"{stem}.json", text)
        atomic_write(d / "latest.json", json.dumps(
            {"step": step, "stem": stem, "sha256": hashlib.sha256(text.encode()).hexdigest()}))
        self.saves += 1
        for old in self._steps()[self.keep:]:
            (d / f"step-{old}.json").unlink(missing_ok=True)
            (d / f"step-{old}.safetensors").unlink(missing_ok=True)
        if self.saves == _kill_after():  # fault injection for the kill-and-resume tests
            import signal

            os.kill(os.getpid(), signal.SIGKILL)

    # -- reading ---------------------------------------------------------------------------
    def _steps(self) -> list[int]:
        """Steps with a manifest on disk, newest first."""
        if not self.directory.is_dir():
            return []
        steps = []
        for p in self.directory.iterdir():
            m = _STEP_FILE.match(p.name)
            if m:
                steps.append(int(m.group(1)))
        return sorted(steps, reverse=True)

    def _read(self, step: int) -> tuple[int, dict[str, Any], dict[str, Any]]:
        """Load and verify checkpoint ``step``; raise :class:`CheckpointError` naming the file."""
        from safetensors import SafetensorError
        from safetensors.torch import load as st_load

        mpath = self.directory / f"step-{step}.json"
        tpath = self.directory / f"step-{step}.safetensors"
        try:
            manifest = json.loads(mpath.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise CheckpointError(f"{mpath}: not a readable checkpoint manifest ({e})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise CheckpointError(f"{mpath}: not a neuroplastic lab checkpoint manifest")
        claimed = manifest.pop("manifest_sha256", None)
        if claimed != _digest(manifest):
            raise CheckpointError(f"{mpath}: manifest digest mismatch (the file was altered)")
        if manifest.get("version") != VERSION or manifest.get("step") != step:
            raise CheckpointError(f"{mpath}: version {manifest.get('version')!r} / step "
                                  f"{manifest.get('step')!r} do not match step {step}")
        try:
            blob = tpath.read_bytes()
        except OSError as e:
            raise CheckpointError(f"{tpath}: cannot read the tensors ({e.strerror})") from None
        if len(blob) != manifest["tensors_bytes"]:
            raise CheckpointError(f"{tpath}: {len(blob)} bytes, expected "
                                  f"{manifest['tensors_bytes']} (truncated or altered)")
        if hashlib.sha256(blob).hexdigest() != manifest["tensors_sha256"]:
            raise CheckpointError(f"{tpath}: SHA-256 mismatch (the file was altered)")
        try:
            tensors = st_load(blob)
        except (SafetensorError, ValueError, RuntimeError) as e:
            raise CheckpointError(f"{tpath}: not a safetensors file ({e})") from None
        return step, tensors, manifest["meta"]

    def load(self) -> tuple[int, dict[str, Any], dict[str, Any]] | None:
        """``(step, tensors, meta)`` of the newest good checkpoint, or ``None`` if there is none.

        A damaged checkpoint is reported on stderr (one line naming the file) and skipped for
        the previous one; :class:`CheckpointError` when checkpoints exist but none is good.
        """
        pointer = self.directory / "latest.json"
        order = self._steps()
        problems: list[str] = []
        if pointer.exists():
            try:
                latest = json.loads(pointer.read_text())
                stem = latest["stem"]
                m = _STEP_FILE.match(f"{stem}.json")
                if not m or int(m.group(1)) != latest["step"]:
                    raise ValueError("inconsistent pointer")
                text = (self.directory / f"{stem}.json").read_bytes()
                if hashlib.sha256(text).hexdigest() != latest["sha256"]:
                    raise ValueError(f"{stem}.json does not match the digest it records")
                step = int(m.group(1))
                order = [step] + [s for s in order if s != step]
            except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as e:
                problems.append(f"{pointer}: damaged checkpoint pointer ({e})")
        elif not order:
            return None
        for step in order:
            try:
                got = self._read(step)
            except CheckpointError as e:
                problems.append(str(e))
                continue
            for p in problems:
                self._warn(f"{p}; using the checkpoint of step {step}")
            return got
        if not order and problems:
            self._warn(f"{problems[0]}; no checkpoint to resume from, starting over")
            return None
        raise CheckpointError(f"{problems[0]}; no earlier good checkpoint in {self.directory} "
                              "(delete the folder or run without --resume)")

    def _warn(self, msg: str) -> None:
        self.warnings.append(msg)
        print(f"neuroplastic: warning: {msg}", file=sys.stderr, flush=True)

    def clear(self) -> None:
        """Delete every checkpoint (rank 0)."""
        import shutil

        if _rank() == 0 and self.directory.exists():
            shutil.rmtree(self.directory)

    def __repr__(self) -> str:
        return f"Checkpointer({str(self.directory)!r}, every_s={self.every_s:g})"
