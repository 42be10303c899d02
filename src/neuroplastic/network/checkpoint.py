"""Checkpoints without pickle: tensors in safetensors, metadata in JSON.

A checkpoint is a directory holding ``state.safetensors`` (weights, neuron and synapse state,
delay ring buffer, STDP traces of plastic projections, counters, recorded monitor data) and
``meta.json`` (format version, clock step, seed, a fingerprint of the network's structure and
the SHA-256 of the tensor file). Loading checks all of it: a file that is not safetensors
(e.g. a pickle), whose hash does not match (tampered or truncated), or that belongs to a
differently built network is refused with a ``CheckpointError`` saying why. Random numbers are
counter-based (see ``_rng``), so the clock step is all the random state there is: a resumed run
is bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

if TYPE_CHECKING:
    from .network import Network

FORMAT = "neuroplastic-network-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be trusted or does not fit the network."""


def _fingerprint(net: Network) -> dict:
    sim = net._sim
    fp = {
        "dt_ms": net.dt_ms,
        "batch": net.batch,
        "seed": net.seed,
        "populations": {k: [p.kind, p.n, p.start] for k, p in sim.populations.items()},
        "projections": {
            p.name: [p.pre, p.post, p.n_pre, p.n_post, p.nnz, p.channel, p.storage]
            for p in net._projections.values()
        },
        "indices_sha256": hashlib.sha256(sim.indices.numpy().tobytes()).hexdigest(),
    }
    if net._plasticity:  # only then, so that checkpoints of networks without it are unchanged
        fp["plasticity"] = {k: repr(v) for k, v in net._plasticity.items()}
    return fp


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_checkpoint(net: Network, path: str | Path) -> Path:
    sim = net._sim
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {
        "v": sim.v,
        "isyn": sim.isyn,
        "theta": sim.theta,
        "ref_left": sim.ref_left,
        "buf": sim.buf,
        "weights": sim.weights,
        "spike_count": sim.spike_count,
        "synops": sim.synops,
        "i_ext": sim.i_ext,
    }
    if sim.stdp_x.numel():
        tensors["stdp_traces"] = sim.stdp_x
    for name, m in net.spike_monitors.items():
        tensors[f"spikes/{name}/steps"] = m.steps
        tensors[f"spikes/{name}/batch"] = m.batch
        tensors[f"spikes/{name}/neurons"] = m.neurons
    for name, m in net.state_monitors.items():
        tensors[f"state/{name}/times"] = m.times_ms
        tensors[f"state/{name}/v"] = m.v
        tensors[f"state/{name}/theta"] = m.theta
        tensors[f"state/{name}/i_syn"] = m.i_syn
    for name, m in net.rate_monitors.items():
        tensors[f"rate/{name}/counts"] = m.counts
    for name, p in net._pops.items():
        if p["kind"] == "poisson":
            tensors[f"rates/{name}"] = p["rates"]
    tmp = out / "state.safetensors.tmp"
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp))
    tmp.replace(out / "state.safetensors")
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "step": net.step,
        "fingerprint": _fingerprint(net),
        "sha256": _sha256(out / "state.safetensors"),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return out


def load_checkpoint(net: Network, path: str | Path) -> None:
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
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise CheckpointError(
            f"{meta_path} is not a {FORMAT} v{VERSION} file "
            f"(format={meta.get('format')!r}, version={meta.get('version')!r})"
        )
    with open(state_path, "rb") as f:
        head = f.read(2)
    if head[:1] == b"\x80" or head == b"PK":
        raise CheckpointError(
            f"{state_path} looks like a pickle / torch.save file; only safetensors is accepted "
            "(pickle can run arbitrary code)"
        )
    digest = _sha256(state_path)
    if digest != meta.get("sha256"):
        raise CheckpointError(
            f"{state_path} does not match the SHA-256 recorded in meta.json: the file was "
            "modified or truncated after saving"
        )
    fp = _fingerprint(net)
    if meta.get("fingerprint") != json.loads(json.dumps(fp)):
        diff = [k for k in fp if meta["fingerprint"].get(k) != json.loads(json.dumps(fp[k]))]
        raise CheckpointError(
            f"checkpoint was saved from a differently built network (differs in: "
            f"{', '.join(diff)})"
        )
    try:
        t = load_file(str(state_path))
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"{state_path} is not a readable safetensors file: {e}") from None
    sim = net._sim
    names = ["v", "isyn", "theta", "ref_left", "buf", "weights", "spike_count", "synops", "i_ext"]
    if sim.stdp_x.numel():
        if "stdp_traces" not in t:
            raise CheckpointError(f"{state_path} lacks the STDP traces of the plastic projections")
        names.append("stdp_traces")
    for name in names:
        target = sim.stdp_x if name == "stdp_traces" else getattr(sim, name)
        if t[name].shape != target.shape or t[name].dtype != target.dtype:
            raise CheckpointError(
                f"tensor {name!r} has shape {tuple(t[name].shape)} / {t[name].dtype}, "
                f"expected {tuple(target.shape)} / {target.dtype}"
            )
        target.copy_(t[name])
    for name, p in net._pops.items():
        if p["kind"] == "poisson":
            p["rates"] = t[f"rates/{name}"].clone()
    for name, m in net.spike_monitors.items():
        m.clear()
        if f"spikes/{name}/steps" in t:
            m._steps.append(t[f"spikes/{name}/steps"].numpy().copy())
            m._batch.append(t[f"spikes/{name}/batch"].numpy().copy())
            m._neurons.append(t[f"spikes/{name}/neurons"].numpy().copy())
    for name, m in net.state_monitors.items():
        m.clear()
        if f"state/{name}/v" in t:
            steps = np.round(t[f"state/{name}/times"].numpy() / net.dt_ms).astype(np.int64)
            m._steps.append(steps)
            m._v.append(t[f"state/{name}/v"].numpy().copy())
            m._theta.append(t[f"state/{name}/theta"].numpy().copy())
            m._isyn.append(t[f"state/{name}/i_syn"].numpy().copy())
    for name, m in net.rate_monitors.items():
        m.clear()
        if f"rate/{name}/counts" in t and t[f"rate/{name}/counts"].numel():
            m._counts.append(t[f"rate/{name}/counts"].numpy().copy())
    net.step = int(meta["step"])
    sim._block_cache.clear()
