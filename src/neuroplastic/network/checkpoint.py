"""Checkpoints without pickle: tensors in safetensors, metadata in JSON.

A checkpoint is a directory holding ``state.safetensors`` (weights, neuron and synapse state,
delay ring buffer, STDP traces of plastic projections, counters, recorded monitor data) and
``meta.json`` (format version, clock step, seed, a fingerprint of the network's structure and
the SHA-256 of the tensor file). Loading checks all of it: a file that is not safetensors
(e.g. a pickle), whose hash does not match (tampered or truncated), or that belongs to a
differently built network is refused with a ``CheckpointError`` saying why. Random numbers are
counter-based (see ``_rng``), so the clock step is all the random state there is: a resumed run
is bit-identical to an uninterrupted one.

This module is the file format alone: :func:`write_checkpoint` and :func:`read_checkpoint` move
named tensors, a clock step and a fingerprint (any JSON-able dict) to and from a directory and
verify them; it does not import the simulator, so a checkpoint can be read and checked without
building a network. Which tensors a network saves, its fingerprint and how a state is restored
live in :mod:`._state`, used by ``Network.save_checkpoint`` / ``Network.load_checkpoint``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, NamedTuple

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

__all__ = [
    "FORMAT",
    "VERSION",
    "Checkpoint",
    "CheckpointError",
    "read_checkpoint",
    "sha256_file",
    "write_checkpoint",
]

FORMAT = "neuroplastic-network-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be trusted or does not fit the network."""


class Checkpoint(NamedTuple):
    """A verified checkpoint as read from disk."""

    step: int  # clock step at which it was saved
    fingerprint: dict  # structure of the network that saved it (JSON values)
    tensors: dict[str, Tensor]  # every tensor of state.safetensors, by name (CPU)
    meta: dict  # the whole of meta.json
    directory: Path  # where it was read from


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _json(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists, keys strings)."""
    return json.loads(json.dumps(value))


def write_checkpoint(
    path: str | Path, tensors: dict[str, Tensor], *, step: int, fingerprint: dict
) -> Path:
    """Write ``tensors`` (safetensors, atomically renamed into place) and ``meta.json`` (format,
    version, ``step``, ``fingerprint`` and the tensor file's SHA-256) into directory ``path``."""
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "state.safetensors.tmp"
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp))
    tmp.replace(out / "state.safetensors")
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "step": step,
        "fingerprint": fingerprint,
        "sha256": sha256_file(out / "state.safetensors"),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return out


def read_checkpoint(path: str | Path, *, fingerprint: dict | None = None) -> Checkpoint:
    """Read and verify a checkpoint directory.

    Checks, in this order: both files exist, ``meta.json`` is JSON of this format and version,
    the tensor file is not a pickle / ``torch.save`` archive, its SHA-256 is the recorded one,
    the recorded fingerprint equals ``fingerprint`` (when given; compared as JSON values), and
    the tensors parse as safetensors. Any failure raises :class:`CheckpointError` saying why.
    """
    src = Path(path)
    meta_path, state_path = src / "meta.json", src / "state.safetensors"
    if not src.is_dir() or not meta_path.exists() or not state_path.exists():
        raise CheckpointError(
            f"{src} is not a checkpoint directory (needs meta.json and state.safetensors)"
        )
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{meta_path} is not valid JSON: {e}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") != VERSION:
        got = meta if isinstance(meta, dict) else {}
        raise CheckpointError(
            f"{meta_path} is not a {FORMAT} v{VERSION} file "
            f"(format={got.get('format')!r}, version={got.get('version')!r})"
        )
    with open(state_path, "rb") as f:
        head = f.read(2)
    if head[:1] == b"\x80" or head == b"PK":
        raise CheckpointError(
            f"{state_path} looks like a pickle / torch.save file; only safetensors is accepted "
            "(pickle can run arbitrary code)"
        )
    if sha256_file(state_path) != meta.get("sha256"):
        raise CheckpointError(
            f"{state_path} does not match the SHA-256 recorded in meta.json: the file was "
            "modified or truncated after saving"
        )
    if fingerprint is not None:
        expected, saved = _json(fingerprint), meta.get("fingerprint")
        if saved != expected:
            saved = saved if isinstance(saved, dict) else {}
            diff = [k for k in expected if saved.get(k) != expected[k]]
            raise CheckpointError(
                f"checkpoint was saved from a differently built network (differs in: "
                f"{', '.join(diff)})"
            )
    step = meta.get("step")
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise CheckpointError(f"{meta_path} has no valid clock step (step={step!r})")
    try:
        tensors = load_file(str(state_path))
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"{state_path} is not a readable safetensors file: {e}") from None
    return Checkpoint(step, meta.get("fingerprint"), tensors, meta, src)

