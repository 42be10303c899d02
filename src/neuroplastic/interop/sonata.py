"""SONATA export and import of a :class:`~neuroplastic.network.Network` (needs ``h5py``).

SONATA (Dai et al. 2020) is the file format of the Allen Institute's BMTK, NEURON, NEST
(``nest.SonataNetwork``) and PyNN's ``pyNN.serialization.sonata``. :func:`export_sonata` writes
the network's PyNN description (:func:`~neuroplastic.interop.pynn.pynn_description`, the same
parameters and units)::

    <dir>/circuit_config.json            manifest ($BASE_DIR "."), node and edge files
    <dir>/simulation_config.json         dt, tstop, the spike inputs
    <dir>/network/nodes.h5                /nodes/<population>/{node_id, node_type_id,
                                          node_group_id, node_group_index,
                                          0/dynamics_params/<param>, 0/v_init}
    <dir>/network/node_types.csv          one type per population (model_type, model_template)
    <dir>/network/edges.h5                /edges/<projection>/{source_node_id, target_node_id
                                          (attr node_population), edge_type_id, edge_group_id,
                                          edge_group_index, 0/syn_weight, 0/delay}
    <dir>/network/edge_types.csv          one type per projection (model_template,
                                          receptor_type, our STDP parameters as JSON)
    <dir>/inputs/<population>_spikes.h5   /spikes/<population>/{timestamps, node_ids}

LIF populations are ``point_neuron`` nodes with template ``pyNN:IF_curr_exp`` and their
parameters per node (PyNN names and units: mV, ms, nF, nA); spike-time sources are ``virtual``
nodes (``pyNN:SpikeSourceArray``) whose spikes are in the input file; Poisson sources
``virtual`` nodes with a ``rate`` per node. Weights are in nA, delays in ms (also under
``0/dynamics_params/delay``, where PyNN's reader takes per-edge parameters). Static edges are
``pyNN:StaticSynapse``; plastic ones ``nest:stdp_synapse`` with their ``SpikePairRule``
parameters in the ``pynn_stdp`` column, which only :func:`read_sonata` reads.

:func:`read_sonata` reads such a directory back into a description that
:func:`neuroplastic.interop.pynn.build` runs with any PyNN simulator (tested: the same spikes as
our simulator on ``pyNN.nest``). PyNN's own ``import_from_sonata`` (run from the directory: the
manifest's ``$BASE_DIR`` is ``.``) rebuilds the populations, their parameters and every static
connection (tested); it does not read the initial membrane potentials (``0/v_init``) or the
STDP parameters.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["export_sonata", "read_sonata"]


def export_sonata(net: Any, directory: str | Path, *, duration_ms: float = 1000.0,
                  zero_delay: str = "refuse") -> Path:
    """Write ``net`` as a SONATA circuit + simulation into ``directory``; returns the path of
    ``circuit_config.json``. Refuses what :func:`~neuroplastic.interop.pynn.pynn_description`
    refuses."""
    import h5py

    from .pynn import pynn_description

    desc = pynn_description(net, zero_delay=zero_delay)
    root = Path(directory)
    (root / "network").mkdir(parents=True, exist_ok=True)
    (root / "inputs").mkdir(exist_ok=True)
    inputs = {}
    with h5py.File(root / "network" / "nodes.h5", "w") as f, \
            open(root / "network" / "node_types.csv", "w", newline="") as ft:
        f.attrs["magic"] = np.uint32(0x0A7A)
        f.attrs["version"] = np.array([0, 1], dtype=np.uint32)
        w = csv.writer(ft, delimiter=" ")
        w.writerow(["node_type_id", "pop_name", "model_type", "model_template", "pynn_kind"])
        for k, p in enumerate(desc["populations"]):
            g = f.create_group(f"nodes/{p['name']}")
            n = p["n"]
            g["node_id"] = np.arange(n, dtype=np.uint64)
            g["node_type_id"] = np.full(n, 100 + k, dtype=np.uint64)
            g["node_group_id"] = np.zeros(n, dtype=np.uint32)
            g["node_group_index"] = np.arange(n, dtype=np.uint64)
            grp = g.create_group("0")
            dyn = grp.create_group("dynamics_params")
            if p["kind"] == "IF_curr_exp":
                model, template = "point_neuron", "pyNN:IF_curr_exp"
                for key, v in p["params"].items():
                    dyn[key] = np.asarray(v, dtype=np.float64)
                grp["v_init"] = np.asarray(p["v_init"], dtype=np.float64)
            elif p["kind"] == "SpikeSourcePoisson":
                model, template = "virtual", "pyNN:SpikeSourcePoisson"
                dyn["rate"] = np.asarray(p["params"]["rate"], dtype=np.float64)
            else:
                model, template = "virtual", "pyNN:SpikeSourceArray"
                times = p["params"]["spike_times"]
                ts = np.concatenate(times) if times else np.zeros(0)
                ids = np.concatenate([np.full(len(t), i, dtype=np.uint64)
                                      for i, t in enumerate(times)]) if times else ts
                order = np.argsort(ts, kind="stable")
                path = root / "inputs" / f"{p['name']}_spikes.h5"
                with h5py.File(path, "w") as fs:
                    s = fs.create_group(f"spikes/{p['name']}")
                    s.attrs["sorting"] = "by_time"
                    s["timestamps"] = ts[order]
                    s["timestamps"].attrs["units"] = "ms"
                    s["node_ids"] = ids[order].astype(np.uint64)
                inputs[f"{p['name']}_spikes"] = {
                    "input_type": "spikes", "module": "sonata", "node_set": p["name"],
                    "input_file": f"$BASE_DIR/inputs/{path.name}"}
            w.writerow([100 + k, p["name"], model, template, p["kind"]])
    with h5py.File(root / "network" / "edges.h5", "w") as f, \
            open(root / "network" / "edge_types.csv", "w", newline="") as ft:
        f.attrs["magic"] = np.uint32(0x0A7A)
        f.attrs["version"] = np.array([0, 1], dtype=np.uint32)
        w = csv.writer(ft, delimiter=" ")
        w.writerow(["edge_type_id", "edge_name", "projection", "model_template",
                    "receptor_type", "pynn_stdp"])
        for k, pr in enumerate(desc["projections"]):
            g = f.create_group(f"edges/{pr['name']}")
            m = len(pr["i"])
            g["source_node_id"] = np.asarray(pr["i"], dtype=np.uint64)
            g["source_node_id"].attrs["node_population"] = pr["pre"]
            g["target_node_id"] = np.asarray(pr["j"], dtype=np.uint64)
            g["target_node_id"].attrs["node_population"] = pr["post"]
            g["edge_type_id"] = np.full(m, 100 + k, dtype=np.uint64)
            g["edge_group_id"] = np.zeros(m, dtype=np.uint32)
            g["edge_group_index"] = np.arange(m, dtype=np.uint64)
            grp = g.create_group("0")
            grp["syn_weight"] = np.asarray(pr["weight"], dtype=np.float64)
            grp["delay"] = np.asarray(pr["delay"], dtype=np.float64)
            grp["dynamics_params/delay"] = grp["delay"][()]  # where PyNN's reader looks
            grp["our_index"] = np.asarray(pr["index"], dtype=np.int64)
            s = pr.get("stdp")
            template = "nest:stdp_synapse" if s else "pyNN:StaticSynapse"
            w.writerow([100 + k, pr["name"], pr["of"], template, pr["receptor"],
                        json.dumps(s or {}, separators=(",", ":"))])
    circuit = {
        "manifest": {"$BASE_DIR": ".", "$NETWORK_DIR": "$BASE_DIR/network"},
        "networks": {
            "nodes": [{"nodes_file": "$NETWORK_DIR/nodes.h5",
                       "node_types_file": "$NETWORK_DIR/node_types.csv"}],
            "edges": [{"edges_file": "$NETWORK_DIR/edges.h5",
                       "edge_types_file": "$NETWORK_DIR/edge_types.csv"}]},
        "neuroplastic": {"seed": desc["seed"], "record": desc["record"],
                         "populations": [p["name"] for p in desc["populations"]],
                         "projections": [p["name"] for p in desc["projections"]]},
    }
    (root / "circuit_config.json").write_text(json.dumps(circuit, indent=2))
    sim = {"manifest": {"$BASE_DIR": "."}, "network": "$BASE_DIR/circuit_config.json",
           "run": {"tstop": float(duration_ms), "dt": desc["dt"]}, "inputs": inputs,
           "output": {"output_dir": "$BASE_DIR/output", "spikes_file": "spikes.h5"}}
    (root / "simulation_config.json").write_text(json.dumps(sim, indent=2))
    return root / "circuit_config.json"


def read_sonata(directory: str | Path) -> dict:
    """Read a directory written by :func:`export_sonata` back into a PyNN description
    (:func:`neuroplastic.interop.pynn.build` runs it)."""
    import h5py

    root = Path(directory)
    circuit = json.loads((root / "circuit_config.json").read_text())
    simcfg = json.loads((root / "simulation_config.json").read_text())
    meta = circuit["neuroplastic"]
    with open(root / "network" / "node_types.csv", newline="") as ft:
        ntypes = {int(r["node_type_id"]): r for r in csv.DictReader(ft, delimiter=" ")}
    with open(root / "network" / "edge_types.csv", newline="") as ft:
        etypes = {int(r["edge_type_id"]): r for r in csv.DictReader(ft, delimiter=" ")}
    pops, projs = [], []
    with h5py.File(root / "network" / "nodes.h5", "r") as f:
        for name in meta["populations"]:
            g = f[f"nodes/{name}"]
            kind = ntypes[int(g["node_type_id"][0])]["pynn_kind"]
            grp = g["0"]
            n = int(g["node_id"].shape[0])
            dyn = grp["dynamics_params"]
            if kind == "IF_curr_exp":
                params = {k: dyn[k][()] for k in dyn}
                pops.append({"name": name, "kind": kind, "n": n, "params": params,
                             "v_init": grp["v_init"][()]})
            elif kind == "SpikeSourcePoisson":
                pops.append({"name": name, "kind": kind, "n": n,
                             "params": {"rate": dyn["rate"][()]}})
            else:
                with h5py.File(root / "inputs" / f"{name}_spikes.h5", "r") as fs:
                    ts = fs[f"spikes/{name}/timestamps"][()]
                    ids = fs[f"spikes/{name}/node_ids"][()].astype(np.int64)
                order = np.lexsort((ts, ids))
                ts, ids = ts[order], ids[order]
                cuts = np.searchsorted(ids, np.arange(1, n))
                pops.append({"name": name, "kind": kind, "n": n,
                             "params": {"spike_times": np.split(ts, cuts)}})
    with h5py.File(root / "network" / "edges.h5", "r") as f:
        for name in meta["projections"]:
            g = f[f"edges/{name}"]
            et = etypes[int(g["edge_type_id"][0])] if g["edge_type_id"].shape[0] else None
            if et is None:
                et = next(r for r in etypes.values() if r["edge_name"] == name)
            stdp = json.loads(et["pynn_stdp"])
            pr = {"name": name, "of": et["projection"],
                  "pre": g["source_node_id"].attrs["node_population"],
                  "post": g["target_node_id"].attrs["node_population"],
                  "receptor": et["receptor_type"],
                  "i": g["source_node_id"][()].astype(np.int64),
                  "j": g["target_node_id"][()].astype(np.int64),
                  "weight": g["0/syn_weight"][()], "delay": g["0/delay"][()],
                  "index": g["0/our_index"][()]}
            if stdp:
                pr["stdp"] = stdp
            projs.append(pr)
    return {"dt": float(simcfg["run"]["dt"]), "seed": int(meta["seed"]), "populations": pops,
            "projections": projs, "record": list(meta["record"])}
