"""A built network's simulation state as named tensors: what a checkpoint holds.

:func:`state_tensors` lists the tensors of the state (neurons, synapses, delay ring buffer,
STDP traces, counters, recorded monitor data, Poisson rates), :func:`fingerprint` describes the
network's structure (so that a checkpoint is only restored into an identically built network),
and :func:`restore_state` copies a verified :class:`~.checkpoint.Checkpoint` back. The network
is duck-typed (a built :class:`~neuroplastic.network.Network`): nothing here imports it.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import torch
from torch import Tensor

from . import _rng
from .checkpoint import Checkpoint, CheckpointError

__all__ = ["fingerprint", "restore_state", "state_tensors"]

_STATE = ["v", "isyn", "theta", "ref_left", "buf", "weights", "spike_count", "synops", "i_ext"]


def _indices_sha256(indices: np.ndarray, chunk: int = 1 << 20) -> str:
    """SHA-256 of the post indices as int64 bytes (what they were stored as before int32:
    fingerprints, hence checkpoints, stay valid), converted chunk by chunk."""
    h = hashlib.sha256()
    for a in range(0, indices.size, chunk):
        h.update(np.ascontiguousarray(indices[a : a + chunk], dtype=np.int64).tobytes())
    return h.hexdigest()


def fingerprint(net: Any) -> dict:
    """The structure a checkpoint must match: clock, batch, seed, populations, projections,
    connectivity (hashed) and, when there is any, the plasticity of each projection."""
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
        "indices_sha256": _indices_sha256(sim.indices.numpy()),
    }
    if net.dtype != "float64":  # only then: float64 checkpoints stay as they were
        fp["dtype"] = net.dtype
    if net._plasticity:  # only then, so that checkpoints of networks without it are unchanged
        fp["plasticity"] = {k: repr(v) for k, v in net._plasticity.items()}
    return fp


_PARTS = ("weights/stored", "weights/shared", "weights/store")


def _weight_parts(sim: Any) -> dict[str, Tensor]:
    """The weights of a network whose projections share one weight each until read, as
    ``weights/stored`` ``(P,)`` int64 (1: the projection stores a weight per synapse),
    ``weights/shared`` ``(P,)`` (the one weight of each other projection) and ``weights/store``
    (the stored ones, back to back in projection order): no array of every synapse's weight
    (at 4M neurons 1.3-2.6 GB per checkpoint of a static network)."""
    return {"weights/stored": (sim.proj_woff >= 0).to(torch.int64),
            "weights/shared": sim.proj_wval, "weights/store": sim._w}


def _check_weight_parts(sim: Any, t: dict[str, Tensor], state_path: Any) -> None:
    missing = [k for k in _PARTS if k not in t]
    if missing:
        raise CheckpointError(f"{state_path} lacks the tensor 'weights' (or its parts "
                              f"{', '.join(map(repr, missing))})")
    P = len(sim.proj_names)
    stored, shared, store = (t[k] for k in _PARTS)
    if stored.shape != (P,) or stored.dtype != torch.int64 or bool(((stored != 0)
                                                                    & (stored != 1)).any()):
        raise CheckpointError(f"{state_path}: 'weights/stored' must be {P} int64 flags of 0 or 1")
    if shared.shape != (P,) or shared.dtype != sim.real:
        raise CheckpointError(f"{state_path}: 'weights/shared' has shape {tuple(shared.shape)} "
                              f"/ {shared.dtype}, expected ({P},) / {sim.real}")
    n = sum(nnz for nnz, f in zip(sim.proj_nnz, stored.tolist()) if f)
    if store.shape != (n,) or store.dtype != sim.real:
        raise CheckpointError(f"{state_path}: 'weights/store' has shape {tuple(store.shape)} / "
                              f"{store.dtype}, expected ({n},) / {sim.real} (the stored "
                              "projections' synapses)")


def state_tensors(net: Any) -> dict[str, Tensor]:
    """Every tensor of the simulation state, by checkpoint name."""
    sim = net._sim
    tensors = {name: getattr(sim, name) for name in _STATE if name != "weights"}
    if any(sim._lazy):  # weights in parts: per synapse only where stored (Simulation)
        tensors.update(_weight_parts(sim))
    else:
        tensors["weights"] = sim.weights_snapshot()
    if sim.stdp_x.numel():
        tensors["stdp_traces"] = sim.stdp_x
    if bool(sim.proj_gated.any()):  # importance gates (only then: older files stay unchanged)
        tensors["proj_gated"] = sim.proj_gated
        tensors["gate"] = sim.gate
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
    return tensors


def _restore_gates(net: Any, t: dict[str, Tensor], state_path: Any) -> None:
    """The importance gates of the checkpoint (none when it holds none)."""
    sim = net._sim
    gates: dict[str, Tensor] = {}
    if "gate" in t or "proj_gated" in t:
        flags, gate = t.get("proj_gated"), t.get("gate")
        P = len(sim.proj_names)
        if (flags is None or gate is None or flags.shape != (P,) or flags.dtype != torch.int64
                or gate.shape != (sim.n_synapses,) or gate.dtype != torch.float64):
            raise CheckpointError(f"{state_path} has malformed importance gates "
                                  f"('gate' / 'proj_gated')")
        if torch.isnan(gate).any() or (gate < 0).any() or (gate > 1).any():
            raise CheckpointError(f"{state_path} has gate factors outside [0, 1]")
        for p, name in enumerate(sim.proj_names):
            if int(flags[p]):
                if name not in net._plasticity:
                    raise CheckpointError(f"{state_path} gates projection {name!r}, which is "
                                          "not plastic")
                so = int(sim.proj_syn_off[p])
                gates[name] = gate[so : so + sim.proj_nnz[p]].clone()
    for name in list(net._gates):
        if name not in gates:
            net.set_gate(name, None)
    for name, g in gates.items():
        net.set_gate(name, g)


def _older_counters(saved: Tensor, shape: tuple, dtype: torch.dtype) -> bool:
    """``saved`` refractory counters are another integer type than the simulation's (float64
    checkpoints kept them as int64 before they became int16) with values it holds."""
    if (tuple(saved.shape) != shape or saved.dtype in (dtype, torch.bool)
            or saved.is_floating_point() or saved.is_complex()):
        return False
    if not saved.numel():
        return True
    info = torch.iinfo(dtype)
    return info.min <= int(saved.min()) and int(saved.max()) <= info.max


def restore_state(net: Any, ck: Checkpoint) -> None:
    """Copy a verified checkpoint (of this network's fingerprint) into the network's state,
    monitors, Poisson rates and clock; refuses tensors of the wrong shape or dtype."""
    t, sim = ck.tensors, net._sim
    state_path = ck.directory / "state.safetensors"
    if ck.step > _rng.MAX_STEPS:
        raise CheckpointError(
            f"checkpoint clock step {ck.step} is beyond the clock's limit of {_rng.MAX_STEPS} steps"
        )
    names = list(_STATE)
    if sim.stdp_x.numel():
        if "stdp_traces" not in t:
            raise CheckpointError(f"{state_path} lacks the STDP traces of the plastic projections")
        names.append("stdp_traces")
    if "weights" not in t:  # a checkpoint that stores the weights in parts
        _check_weight_parts(sim, t, state_path)
        names.remove("weights")
    for name in names:
        if name == "weights":  # checked like the others, copied by the simulation
            shape, dtype = (sim.n_synapses,), sim.real
        else:
            target = sim.stdp_x if name == "stdp_traces" else getattr(sim, name)
            shape, dtype = tuple(target.shape), target.dtype
        if name not in t:
            raise CheckpointError(f"{state_path} lacks the tensor {name!r}")
        if name == "ref_left" and _older_counters(t[name], shape, dtype):
            t = {**t, name: t[name].to(dtype)}  # int64 counters of an older float64 file
        if tuple(t[name].shape) != shape or t[name].dtype != dtype:
            raise CheckpointError(
                f"tensor {name!r} has shape {tuple(t[name].shape)} / {t[name].dtype}, "
                f"expected {shape} / {dtype}"
            )
    for name in names:  # nothing is changed before every tensor is checked
        if name == "weights":
            sim.load_weights(t[name])
        else:
            (sim.stdp_x if name == "stdp_traces" else getattr(sim, name)).copy_(t[name])
    if "weights" not in t:
        sim.load_weight_parts(*(t[k] for k in _PARTS))
    _restore_gates(net, t, state_path)
    for name, p in net._pops.items():
        if p["kind"] == "poisson":
            p["rates"] = t[f"rates/{name}"].clone()
    for name, m in net.spike_monitors.items():
        m.clear()
        if f"spikes/{name}/steps" in t:
            m._steps.append(t[f"spikes/{name}/steps"].numpy().copy())
            m._batch.append(t[f"spikes/{name}/batch"].numpy().astype(np.int32))
            m._neurons.append(t[f"spikes/{name}/neurons"].numpy().astype(np.int32))
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
    net.step = ck.step
    sim._block_cache.clear()
