r"""Export a :class:`~neuroplastic.network.Network` to PyNN (``pip install pyNN``), so that it runs
on any PyNN backend (NEST, NEURON, Brian2, SpiNNaker, ...).

:func:`pynn_description` turns the network into a plain description (numbers and arrays, no
PyNN import): LIF populations as ``IF_curr_exp`` with their parameters per neuron, spike-time
sources as ``SpikeSourceArray``, Poisson sources as ``SpikeSourcePoisson``, constant currents as
``i_offset``, every projection synapse by synapse as a ``FromListConnector`` list
``(i, j, weight nA, delay ms)`` onto the ``excitatory`` or ``inhibitory`` receptor, pair STDP as
``STDPMechanism(SpikePairRule, Additive/MultiplicativeWeightDependence)``, spike monitors as
``record("spikes")``. :func:`build` makes the PyNN objects from a description with any PyNN
simulator module; :func:`run_pynn` builds, runs and brings spikes and learned weights back;
:func:`export_pynn_script` writes a standalone script (``build``'s own source, no neuroplastic
import) plus an ``.npz`` with the arrays::

    python net.py nest 1000          # simulator module pyNN.<name>, duration in ms
    mpirun -np 4 python net.py nest 1000   # with an MPI-enabled NEST and mpi4py

The numbers are those of :mod:`neuroplastic.interop.nest_map` (the same mapping as our NEST
backend, so that ``pyNN.nest`` reproduces our simulator's spikes on a deterministic network):
``cm = tau_m / R`` nF, ``tau_refrac = (round(t_ref/dt) - 1) dt`` (NEST counts the refractory
steps one more than ours), the one-step-dendritic-delay rescaling of the STDP amplitudes
(PyNN's ``A_plus`` is NEST's ``lambda``, ``A_minus = alpha * lambda``), spike times
``(s + 1) dt`` for our step ``s``. On another PyNN backend the same parameters mean the same
model, but its own conventions for thresholds, refractoriness and STDP delays apply.

Refused (``NotImplementedError`` naming the feature): what :func:`~neuroplastic.interop.nest.
to_nest` refuses, plus more than two synaptic channels or two channels that need the same
receptor (``IF_curr_exp`` has one excitatory and one inhibitory time constant), time-varying
currents (``add_current``), spikes of a spike-time source at step 0.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .nest_map import map_lif, map_stdp, nest_delay_steps

__all__ = ["build", "export_pynn_script", "load_description", "pynn_description", "run_pynn"]


def pynn_description(net: Any, *, zero_delay: str = "refuse") -> dict:
    """The network as ``{"dt", "seed", "populations", "projections", "record"}`` (lists of
    dicts of numbers and numpy arrays); see the module docstring."""
    from .._validation import check_choice
    from .nest import _channel_signs, _check_network, _realized, _v_init

    check_choice("zero_delay", zero_delay, ("refuse", "one_step"))
    _check_network(net)
    h = net.dt_ms
    currents_t = {name for name, _, _ in net._currents_t}
    stdp, tau_minus = {}, {}
    for name, params in net._plasticity.items():
        proj = net._projections[name]
        if params.pairing != "all":
            raise NotImplementedError(
                f"projection {name!r}: STDP pairing={params.pairing!r} (PyNN's SpikePairRule "
                "is all-to-all: NEST's stdp_synapse)")
        d = nest_delay_steps(name, proj.delays.numpy(), zero_delay)
        stdp[name] = (map_stdp(name, params, h, d), params.update)
        old = tau_minus.setdefault(proj.post, stdp[name][0].tau_minus)
        if old != stdp[name][0].tau_minus:
            raise NotImplementedError(
                f"plastic projections into {proj.post!r} with different acausal time constants "
                f"({old} and {stdp[name][0].tau_minus} ms): tau_minus belongs to the neuron")
    pops, layouts = [], {}
    for name, p in net._pops.items():
        n = p["n"]
        if p["kind"] == "lif":
            if name in currents_t:
                raise NotImplementedError(
                    f"time-varying current into {name!r} (add_current) is not exported to PyNN")
            tau_m, v_th = _realized(net, name, p)
            m = map_lif(name, p["params"], p["substrate"], n, h,
                        channel_signs=_channel_signs(net, name), tau_m=tau_m, v_thresh=v_th)
            if m.model != "iaf_psc_exp":
                raise NotImplementedError(
                    f"population {name!r}: {len(p['params'].tau_syn_ms)} synaptic channels "
                    "(or two of the same sign); PyNN's IF_curr_exp has one excitatory and one "
                    "inhibitory current")
            q = {k: np.broadcast_to(np.asarray(v, dtype=float), (n,)).copy()
                 for k, v in m.params.items()}
            i_off = 1000.0 * p["i_ext"][0].numpy() if "i_ext" in p else np.zeros(n)
            taus = p["params"].tau_syn_ms
            ex = m.channel_names.index("I_syn_ex") if "I_syn_ex" in m.channel_names else None
            inh = m.channel_names.index("I_syn_in") if "I_syn_in" in m.channel_names else None
            layouts[name] = m.channel_names
            pops.append({
                "name": name, "kind": "IF_curr_exp", "n": n,
                "params": {
                    "tau_m": q["tau_m"], "cm": q["C_m"] / 1000.0, "v_rest": q["E_L"],
                    "v_thresh": q["V_th"], "v_reset": q["V_reset"], "tau_refrac": q["t_ref"],
                    "i_offset": i_off / 1000.0,
                    "tau_syn_E": np.full(n, float(taus[ex if ex is not None else 0])),
                    "tau_syn_I": np.full(n, float(taus[inh if inh is not None else 0])),
                },
                "v_init": _v_init(net, name, p).astype(float),
            })
        elif p["kind"] == "poisson":
            pops.append({"name": name, "kind": "SpikeSourcePoisson", "n": n,
                         "params": {"rate": p["rates"][0].numpy().astype(float)}})
        else:
            steps, idx = p["steps"].numpy(), p["idx"].numpy()
            if steps.size and steps.min() == 0:
                raise NotImplementedError(
                    f"source {name!r}: a spike at step 0 (a PyNN SpikeSourceArray on NEST "
                    "emits through a parrot neuron, one step later: no spike before t = dt)")
            times = [((np.unique(steps[idx == i]) + 1) * h).astype(float) for i in range(n)]
            pops.append({"name": name, "kind": "SpikeSourceArray", "n": n,
                         "params": {"spike_times": times}})
    projs = []
    for name, proj in net._projections.items():
        d = nest_delay_steps(name, proj.delays.numpy(), zero_delay) * h
        rows = np.repeat(np.arange(proj.n_pre), np.diff(proj.indptr.numpy()))
        cols = proj.indices.numpy().astype(np.int64)
        w = proj.weights.numpy().astype(float)
        names = layouts[proj.post]
        base = {"pre": proj.pre, "post": proj.post}
        if name in stdp:
            mp, update = stdp[name]
            q = mp.params
            base["stdp"] = {
                "tau_plus": q["tau_plus"], "tau_minus": mp.tau_minus, "A_plus": q["lambda"],
                "A_minus": q["alpha"] * q["lambda"], "w_min": 0.0, "w_max": q["Wmax"],
                "dependence": "multiplicative" if update == "multiplicative" else "additive"}
        if len(names) == 2:  # iaf_psc_exp's two currents: the channel's receptor
            rec = "excitatory" if names[proj.channel] == "I_syn_ex" else "inhibitory"
            parts = [(rec, np.ones(w.size, dtype=bool))]
        else:  # one channel: NEST sorts by sign, PyNN needs one receptor per projection
            parts = [("excitatory", w >= 0), ("inhibitory", w < 0)]
        for k, (receptor, keep) in enumerate(parts):
            if not keep.any() and k:
                continue
            projs.append({**base, "name": name if k == 0 else f"{name}:{receptor}",
                          "of": name, "receptor": receptor, "i": rows[keep], "j": cols[keep],
                          "weight": w[keep], "delay": d[keep].astype(float),
                          "index": np.flatnonzero(keep)})
    record = sorted(set(net.spike_monitors))
    return {"dt": float(h), "seed": int(net.seed), "populations": pops, "projections": projs,
            "record": record}


def build(sim: Any, desc: dict, *, threads: int = 1) -> tuple[dict, dict]:
    """Set up ``sim`` (a PyNN simulator module, e.g. ``pyNN.nest``) and create the
    description's populations and projections; returns ``(populations, projections)`` by name.
    Uses only numpy and ``sim`` (its source is copied into exported scripts)."""
    import numpy as np

    h = desc["dt"]
    d_max = max([float(np.max(p["delay"])) for p in desc["projections"] if len(p["delay"])],
                default=h)
    extra = {"rng_seed": 1 + desc["seed"] % (2**31 - 2)}
    eps = 0.0
    if sim.__name__.endswith(".nest"):  # iaf_psc_exp on the grid, not iaf_psc_exp_ps
        extra["spike_precision"] = "on_grid"
        # pyNN.nest feeds SpikeSourceArray times t - min_delay to a precise spike_generator,
        # which emits t in step ceil(t / dt): a rounding error above the grid point would be
        # one step late, so the times go a hair (1e-6 dt) below it
        eps = 1e-6 * h
    if threads > 1:
        extra["threads"] = threads
    sim.setup(timestep=h, min_delay=h, max_delay=max(d_max, 2 * h), **extra)
    pops = {}
    for p in desc["populations"]:
        q = p["params"]
        if p["kind"] == "IF_curr_exp":
            pop = sim.Population(p["n"], sim.IF_curr_exp(), label=p["name"])
            pop.set(**{k: np.asarray(v, dtype=float) for k, v in q.items()})
            pop.initialize(v=np.asarray(p["v_init"], dtype=float))
        elif p["kind"] == "SpikeSourcePoisson":
            pop = sim.Population(p["n"], sim.SpikeSourcePoisson(rate=np.asarray(q["rate"])),
                                 label=p["name"])
        else:
            seqs = [sim.Sequence(np.asarray(t, dtype=float) - eps) for t in q["spike_times"]]
            pop = sim.Population(p["n"], sim.SpikeSourceArray(spike_times=seqs), label=p["name"])
        pops[p["name"]] = pop
    projs = {}
    for pr in desc["projections"]:
        if not len(pr["i"]):
            continue
        conns = np.column_stack([pr["i"], pr["j"], pr["weight"], pr["delay"]])
        connector = sim.FromListConnector(conns, column_names=["weight", "delay"])
        s = pr.get("stdp")
        if s:
            dep = (sim.MultiplicativeWeightDependence if s["dependence"] == "multiplicative"
                   else sim.AdditiveWeightDependence)
            syn = sim.STDPMechanism(
                timing_dependence=sim.SpikePairRule(tau_plus=s["tau_plus"],
                                                    tau_minus=s["tau_minus"],
                                                    A_plus=s["A_plus"], A_minus=s["A_minus"]),
                weight_dependence=dep(w_min=s["w_min"], w_max=s["w_max"]),
                weight=float(pr["weight"][0]), delay=float(pr["delay"][0]),
                dendritic_delay_fraction=1.0)
        else:
            syn = sim.StaticSynapse()
        projs[pr["name"]] = sim.Projection(pops[pr["pre"]], pops[pr["post"]], connector, syn,
                                           receptor_type=pr["receptor"], label=pr["name"])
    for name in desc["record"]:
        pops[name].record("spikes")
    return pops, projs


def _spikes(pop: Any, h: float, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """(steps, neuron) of a recorded population, sorted by step then neuron."""
    seg = pop.get_data("spikes").segments[0]
    steps, nrn = [], []
    for st in seg.spiketrains:
        t = np.asarray(st.magnitude, dtype=float)  # ms
        steps.append(np.round(t / h).astype(np.int64) - 1)
        nrn.append(np.full(t.size, int(st.annotations["source_index"]), dtype=np.int64))
    s = np.concatenate(steps) if steps else np.zeros(0, np.int64)
    n = np.concatenate(nrn) if nrn else np.zeros(0, np.int64)
    keep = s < n_steps
    s, n = s[keep], n[keep]
    order = np.lexsort((n, s))
    return s[order], n[order]


def run_pynn(net: Any, duration_ms: float, sim: Any = None, *, zero_delay: str = "refuse",
             threads: int = 1) -> dict:
    """Export ``net``, run it with the PyNN module ``sim`` (default ``pyNN.nest``) for
    ``duration_ms`` and return ``{"spikes": {pop: (steps, neurons)}, "weights": {projection:
    tensor in our CSR order}}`` (plastic projections only; NEST's weights as PyNN reads them,
    without the potentiation NEST still owes for post spikes after a synapse's last pre
    spike)."""
    if sim is None:
        import pyNN.nest as sim  # noqa: N813
    desc = pynn_description(net, zero_delay=zero_delay)
    pops, projs = build(sim, desc, threads=threads)
    h = desc["dt"]
    n_steps = int(round(duration_ms / h))
    sim.run(n_steps * h)
    out: dict = {"spikes": {}, "weights": {}}
    for name in desc["record"]:
        out["spikes"][name] = _spikes(pops[name], h, n_steps)
    for pr in desc["projections"]:
        if not pr.get("stdp") or pr["name"] not in projs:
            continue
        got = np.asarray(projs[pr["name"]].get("weight", format="list", with_address=True),
                         dtype=float).reshape(-1, 3)
        mine = np.lexsort((np.arange(len(pr["i"])), pr["j"], pr["i"]))
        theirs = np.lexsort((got[:, 1], got[:, 0]))
        w = np.empty(len(pr["i"]))
        w[mine] = got[theirs, 2]
        full = net._projections[pr["of"]].weights.numpy().astype(float).copy()
        full[pr["index"]] = w
        out["weights"][pr["of"]] = torch.from_numpy(full)
    sim.end()
    return out


# --------------------------------------------------------------------------- standalone script
_SCRIPT = '''"""{name}: a neuroplastic network exported to PyNN (neuroplastic.interop.pynn).

Run: python {script} [SIMULATOR] [DURATION_MS]   (SIMULATOR: nest, neuron, brian2, ...;
default nest, {duration} ms). With an MPI-enabled simulator: mpirun -np N python {script} nest.
Writes {stem}_spikes.npz: for each recorded population, spike times (ms) and neuron indices.
The arrays are in {data}.
"""
from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


{build_src}

def load_description(path):
    z = np.load(path, allow_pickle=False)
    desc = json.loads(str(z["meta"]))
    for p in desc["populations"]:
        for k in p.pop("array_keys"):
            if k == "spike_times":
                t, c = z[f"pop/{{p['name']}}/spike_times"], z[f"pop/{{p['name']}}/spike_counts"]
                p["params"][k] = np.split(t, np.cumsum(c)[:-1])
            elif k == "v_init":
                p[k] = z[f"pop/{{p['name']}}/v_init"]
            else:
                p["params"][k] = z[f"pop/{{p['name']}}/{{k}}"]
    for k, pr in enumerate(desc["projections"]):
        for a in ("i", "j", "weight", "delay", "index"):
            pr[a] = z[f"proj/{{k}}/{{a}}"]
    return desc


if __name__ == "__main__":
    name = sys.argv[1] if len(sys.argv) > 1 else "nest"
    duration = float(sys.argv[2]) if len(sys.argv) > 2 else {duration}
    sim = importlib.import_module(f"pyNN.{{name}}")
    desc = load_description(HERE / "{data}")
    pops, projs = build(sim, desc)
    sim.run(duration)
    out = {{}}
    for pop_name in desc["record"]:
        seg = pops[pop_name].get_data("spikes").segments[0]
        out[f"{{pop_name}}/times_ms"] = np.concatenate(
            [np.asarray(s.magnitude, float) for s in seg.spiketrains] or [np.zeros(0)])
        out[f"{{pop_name}}/neurons"] = np.concatenate(
            [np.full(len(s), int(s.annotations["source_index"])) for s in seg.spiketrains]
            or [np.zeros(0, int)])
    if sim.rank() == 0:
        np.savez(HERE / "{stem}_spikes.npz", **out)
    sim.end()
'''


def _save_description(desc: dict, path: Path) -> None:
    arrays: dict[str, np.ndarray] = {}
    meta = {k: desc[k] for k in ("dt", "seed", "record")}
    meta["populations"], meta["projections"] = [], []
    for p in desc["populations"]:
        q = {"name": p["name"], "kind": p["kind"], "n": p["n"], "params": {},
             "array_keys": []}
        for k, v in p["params"].items():
            if k == "spike_times":
                arrays[f"pop/{p['name']}/spike_times"] = (
                    np.concatenate(v) if len(v) else np.zeros(0))
                arrays[f"pop/{p['name']}/spike_counts"] = np.array([len(t) for t in v])
            else:
                arrays[f"pop/{p['name']}/{k}"] = np.asarray(v)
            q["array_keys"].append(k)
        if "v_init" in p:
            arrays[f"pop/{p['name']}/v_init"] = np.asarray(p["v_init"])
            q["array_keys"].append("v_init")
        meta["populations"].append(q)
    for k, pr in enumerate(desc["projections"]):
        meta["projections"].append({a: pr[a] for a in ("name", "of", "pre", "post", "receptor")}
                                   | ({"stdp": pr["stdp"]} if pr.get("stdp") else {}))
        for a in ("i", "j", "weight", "delay", "index"):
            arrays[f"proj/{k}/{a}"] = np.asarray(pr[a])
    np.savez(path, meta=np.array(json.dumps(meta)), **arrays)


def load_description(path: str | Path) -> dict:
    """Read a description written by :func:`export_pynn_script` (the ``.npz``)."""
    ns: dict = {}
    src = _SCRIPT.split("def load_description")[1].split('\n\nif __name__')[0]
    exec("import json\nimport numpy as np\ndef load_description" + src.replace("{{", "{")
         .replace("}}", "}"), ns)
    return ns["load_description"](Path(path))


def export_pynn_script(net: Any, path: str | Path, *, duration_ms: float = 1000.0,
                       zero_delay: str = "refuse") -> tuple[Path, Path]:
    """Write ``path`` (a ``.py`` script running the network with any PyNN simulator) and the
    arrays next to it (``<stem>.npz``), creating its folder if needed; returns both paths."""
    path = Path(path)
    if path.suffix != ".py":
        raise ValueError(f"path must end in .py, got {str(path)!r}")
    desc = pynn_description(net, zero_delay=zero_delay)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = path.with_suffix(".npz")
    _save_description(desc, data)
    text = _SCRIPT.format(name=path.stem, script=path.name, stem=path.stem, data=data.name,
                          duration=float(duration_ms), build_src=inspect.getsource(build))
    path.write_text(text)
    return path, data
