r"""Run a :class:`~neuroplastic.network.Network` on NEST (``pip install nest-simulator``).

:func:`to_nest` builds the same network in NEST's kernel (reset first, so one process holds one
network at a time): LIF populations as ``iaf_psc_exp`` (or ``iaf_psc_exp_multisynapse``), Poisson
sources as ``poisson_generator`` -> ``parrot_neuron`` (one generator and one parrot per source
neuron, so that every target of a source sees the same train, as in ours), spike-time sources
as ``spike_generator`` (through a ``parrot_neuron`` into plastic projections, which NEST does
not allow from devices), constant currents as ``I_e``, time-varying ones as
``step_current_generator``, every projection synapse by synapse (``one_to_one`` over the CSR
rows: the exact connectivity, weights and delays), plastic projections as ``stdp_synapse`` /
``stdp_nn_symm_synapse``, spike monitors as ``spike_recorder``, state monitors as
``multimeter``. :func:`run_nest` runs it and returns spikes, states and learned weights in the
package's monitor classes. Parameter mapping, units and the stated differences are in
:mod:`neuroplastic.interop.nest_map`; what NEST cannot express raises ``NotImplementedError``
naming the feature (nothing is dropped). Randomness: NEST's own generators (``rng_seed`` from
the network's seed), so Poisson inputs agree with ours in statistics, not spike by spike;
networks without random inputs agree step by step (up to the threshold comparison).

**Threads and MPI.** ``threads`` sets NEST's ``local_num_threads`` (OpenMP). The same script
runs on a cluster with an MPI-enabled NEST build: ``mpirun -np 4 python script.py`` starts four
ranks that each build the whole description and own the neurons NEST assigns them (round robin
over virtual processes). Spike recorders, multimeters and synapses are local to the rank that
owns the neuron; :func:`run_nest` (and the recorded-protocol runs) gather them over all ranks
with ``mpi4py`` (``allgather``), so every rank returns the whole result — write it from rank 0
(``nest.Rank() == 0``). NEST's results depend only on the number of virtual processes
(ranks x threads): 2 ranks x 1 thread give the same spikes, states and weights as 1 rank x 2
threads (tested by ``tests/test_nest_mpi.py`` where an MPI-enabled NEST is installed:
``benchmarks/install-nest-mpi.sh`` builds one; the ``nest-simulator`` wheel on PyPI has no MPI).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..network import _rng
from ..network.monitors import RateMonitor, SpikeMonitor, StateMonitor
from .nest_map import LIFMapping, map_lif, map_stdp, nest_delay_steps

__all__ = [
    "DistalRewardNest",
    "DopamineSTDPRun",
    "NestModel",
    "NestRun",
    "TripletSTDPRun",
    "require_nest",
    "run_dopamine_stdp",
    "run_nest",
    "run_triplet_stdp",
    "to_nest",
]


def require_nest():
    """Import and return ``nest`` quietly, or raise an ImportError saying how to get it."""
    os.environ.setdefault("PYNEST_QUIET", "1")  # no banner
    try:
        import nest
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "neuroplastic.interop.nest needs NEST: pip install nest-simulator"
        ) from err
    nest.verbosity = nest.VerbosityLevel.ERROR
    return nest


@dataclass
class NestModel:
    """What :func:`to_nest` built: NEST node collections by population, devices, connections."""

    net: Any
    nodes: dict[str, Any]  # population -> NodeCollection (neurons, parrots or generators)
    parrots: dict[str, Any]  # spike-time source -> parrots (only where plastic projections need)
    spike_recorders: dict[str, Any]
    multimeters: dict[str, tuple[Any, LIFMapping]]
    plastic: dict[str, tuple[Any, Any, str]]  # projection -> (pre nodes, post nodes, model)
    pre_recorders: dict[str, Any] = field(default_factory=dict)  # plastic projection -> rec
    build_s: float = 0.0


@dataclass
class NestRun:
    """Results of :func:`run_nest` in the package's monitor classes."""

    spike_monitors: dict[str, SpikeMonitor] = field(default_factory=dict)
    state_monitors: dict[str, StateMonitor] = field(default_factory=dict)
    rate_monitors: dict[str, RateMonitor] = field(default_factory=dict)
    weights: dict[str, torch.Tensor] = field(default_factory=dict)  # plastic projections, CSR
    steps: int = 0
    build_s: float = 0.0
    sim_s: float = 0.0
    virtual_processes: int = 1  # NEST's MPI ranks x threads


def _nest_seed(seed: int) -> int:
    return 1 + seed % (2**31 - 2)  # NEST's rng_seed lies in [1, 2**31 - 1]


def _channel_signs(net: Any, post: str) -> dict[int, int]:
    signs: dict[int, int] = {}
    for name, proj in net._projections.items():
        if proj.post != post:
            continue
        w = proj.weights.numpy()
        plastic = net._plasticity.get(name)
        lo = min(float(w.min()) if w.size else 0.0, plastic.w_min if plastic else 0.0)
        hi = max(float(w.max()) if w.size else 0.0, plastic.w_max if plastic else 0.0)
        s = 1 if lo >= 0 else (-1 if hi <= 0 else 0)
        old = signs.get(proj.channel, s)
        signs[proj.channel] = s if old == s else 0
    return signs


def _realized(net: Any, name: str, pop: dict) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Per-neuron tau_m and threshold where mismatch is drawn (the simulator's own stream)."""
    sub = pop["substrate"]
    if getattr(sub, "tau_mem_cv", 0.0) == 0.0 and getattr(sub, "v_thresh_cv", 0.0) == 0.0:
        return None, None
    from ..neurons.lif import realize_lif

    g = _rng.torch_generator(net.seed, "mismatch", name)
    c = realize_lif(pop["params"], sub, pop["n"], net.dt_ms, generator=g)
    tau_m = (-net.dt_ms / torch.log(c.decay_v)).numpy()
    return tau_m, c.v_thresh.numpy()


def _v_init(net: Any, name: str, pop: dict) -> np.ndarray:
    vi, n = pop["v_init"], pop["n"]
    if isinstance(vi, str):
        return np.full(n, pop["params"].v_rest_mv)
    if isinstance(vi, tuple):
        g = _rng.torch_generator(net.seed, "v_init", name)
        u = torch.rand(net.batch, n, generator=g, dtype=torch.float64)
        return (vi[0] + u * (vi[1] - vi[0]))[0].numpy()
    if isinstance(vi, (int, float)):
        return np.full(n, float(vi))
    return vi[0].numpy().copy()


def _check_network(net: Any) -> None:
    if net.batch != 1:
        raise NotImplementedError(
            f"several trials (batch={net.batch}) in one NEST network; build one per trial"
        )
    if getattr(net, "_gates", None):
        raise NotImplementedError(
            f"plasticity gates (set_gate / set_importance on {', '.join(net._gates)}): NEST's "
            "STDP synapses have no per-synapse gate"
        )
    if net._sim is not None and net.step:
        raise ValueError("to_nest builds from the initial state: call it before net.run")


def _set_per_node(nc: Any, columns: dict[str, Any]) -> None:
    """Set one value per node: a list of per-node dicts, the form NEST accepts under MPI too
    (``nc.set({key: list})`` expands lists only when every node is local to the process)."""
    cols = {k: np.asarray(v, dtype=float).tolist() for k, v in columns.items()}
    nc.set([dict(zip(cols, vals)) for vals in zip(*cols.values())])


def to_nest(net: Any, *, threads: int = 1, zero_delay: str = "refuse") -> NestModel:
    """Build ``net`` in a freshly reset NEST kernel (resolution ``dt_ms``, ``rng_seed`` from
    ``net.seed``, ``local_num_threads = threads``). ``zero_delay``: ``"refuse"`` or
    ``"one_step"`` (zero-delay projections get NEST's smallest delay, one step)."""
    from .._validation import check_choice, check_int

    check_int("threads", threads, 1, 1024)
    check_choice("zero_delay", zero_delay, ("refuse", "one_step"))
    _check_network(net)
    nest = require_nest()
    t0 = time.perf_counter()
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": net.dt_ms, "rng_seed": _nest_seed(net.seed),
                          "local_num_threads": threads})
    h = net.dt_ms
    pops = net._pops
    # plastic projections fix the post neurons' tau_minus
    stdp = {}
    tau_minus: dict[str, float] = {}
    for name, params in net._plasticity.items():
        proj = net._projections[name]
        d = nest_delay_steps(name, proj.delays.numpy(), zero_delay)
        stdp[name] = map_stdp(name, params, h, d)
        old = tau_minus.setdefault(proj.post, stdp[name].tau_minus)
        if old != stdp[name].tau_minus:
            raise NotImplementedError(
                f"plastic projections into {proj.post!r} with different acausal time constants "
                f"({old} and {stdp[name].tau_minus} ms): NEST's tau_minus belongs to the neuron"
            )
    nodes, maps, parrots = {}, {}, {}
    for name, p in pops.items():
        if p["kind"] == "lif":
            tau_m, v_th = _realized(net, name, p)
            m = map_lif(name, p["params"], p["substrate"], p["n"], h,
                        channel_signs=_channel_signs(net, name), tau_m=tau_m, v_thresh=v_th)
            maps[name] = m
            nc = nest.Create(m.model, p["n"])
            status = {k: v for k, v in m.params.items() if not isinstance(v, np.ndarray)}
            status["tau_minus"] = tau_minus.get(name, 20.0)
            nc.set(status)
            per_node = {k: v for k, v in m.params.items() if isinstance(v, np.ndarray)}
            per_node["V_m"] = _v_init(net, name, p)
            if "i_ext" in p:
                per_node["I_e"] = 1000.0 * np.asarray(p["i_ext"][0], dtype=float)
            _set_per_node(nc, per_node)
            nodes[name] = nc
        elif p["kind"] == "poisson":
            rates = p["rates"][0].numpy()
            gen = nest.Create("poisson_generator", p["n"], params={"rate": rates.tolist()})
            par = nest.Create("parrot_neuron", p["n"])
            nest.Connect(gen, par, "one_to_one", {"delay": h})
            nodes[name] = par
        else:
            nodes[name] = _spike_generators(nest, p, h, shift=1)
            if any(pr.pre == name for pn, pr in net._projections.items() if pn in stdp):
                par = nest.Create("parrot_neuron", p["n"])
                nest.Connect(_spike_generators(nest, p, h, shift=0, who=name), par,
                             "one_to_one", {"delay": h})
                parrots[name] = par
    _currents(nest, net, nodes, h)
    plastic, pre_recs = {}, {}
    for name, proj in net._projections.items():
        pre = parrots.get(proj.pre, nodes[proj.pre]) if name in stdp else nodes[proj.pre]
        post = nodes[proj.post]
        d = nest_delay_steps(name, proj.delays.numpy(), zero_delay)
        rows = np.repeat(np.arange(proj.n_pre), np.diff(proj.indptr.numpy()))
        if not rows.size:
            continue
        src = np.asarray(pre.tolist())[rows]
        tgt = np.asarray(post.tolist())[proj.indices.numpy()]
        spec = {"weight": 1000.0 * proj.weights.numpy(), "delay": d * h,
                "receptor_type": maps[proj.post].receptor[proj.channel]}
        if name in stdp:
            spec = {"synapse_model": stdp[name].model, **stdp[name].params, **spec}
            spec["Wmax"] = 1000.0 * stdp[name].params["Wmax"]
            plastic[name] = (pre, post, stdp[name].model)
        nest.Connect(src, tgt, "one_to_one", spec)
        if name in stdp:
            pre_recs[name] = nest.Create("spike_recorder")
            nest.Connect(pre, pre_recs[name])
    recs = {}
    # sorted: every MPI rank must create the same nodes in the same order (and gather the
    # recorders in one order); a set's order differs between processes (string hashing)
    for name in sorted({*net.spike_monitors, *(pr.post for pn, pr in net._projections.items()
                                                if pn in stdp)}):
        rec = nest.Create("spike_recorder")
        nest.Connect(nodes[name], rec)
        recs[name] = rec
    mms = {}
    for name, mon in net.state_monitors.items():
        m = maps[name]
        mm = nest.Create("multimeter", params={
            "interval": mon.stride * h,
            "record_from": ["V_m", *sorted(set(m.channel_names))]})
        nest.Connect(mm, nodes[name][mon.neurons.tolist()])
        mms[name] = (mm, m)
    for name in net.rate_monitors:
        if name not in recs:
            rec = nest.Create("spike_recorder")
            nest.Connect(nodes[name], rec)
            recs[name] = rec
    return NestModel(net, nodes, parrots, recs, mms, plastic, pre_recs,
                     time.perf_counter() - t0)


def _spike_generators(nest: Any, p: dict, h: float, *, shift: int, who: str = "") -> Any:
    """One ``spike_generator`` per source neuron. A source spike of step ``s`` reaches a target
    over ``d`` steps at the end of step ``s + d``: NEST delivers a generator time ``T`` at the
    end of step ``T/h + d - 1``, so ``T = (s + 1) h`` directly (``shift=1``), ``T = s h`` into a
    parrot that re-emits one step later (``shift=0``; a spike at step 0 cannot)."""
    steps, idx = p["steps"].numpy(), p["idx"].numpy()
    if (p["bidx"].numpy() > 0).any():  # pragma: no cover - batch is 1 here
        raise NotImplementedError("per-trial source spikes (batch > 1)")
    if shift == 0 and steps.size and steps.min() == 0:
        raise NotImplementedError(
            f"source {who!r}: a spike at step 0 into a plastic projection (it needs a "
            "parrot_neuron, one step later; NEST has no spike before t = h)"
        )
    gens = nest.Create("spike_generator", p["n"])
    # ours marks a source as spiking in a step once, however many times fall in it
    times = [((np.unique(steps[idx == i]) + shift) * h).tolist() for i in range(p["n"])]
    gens.set([{"spike_times": t} for t in times])
    return gens


def _currents(nest: Any, net: Any, nodes: dict, h: float) -> None:
    """Time-varying currents: one ``step_current_generator`` per neuron (values per step).

    NEST applies a current sent in step ``k`` from step ``k + 2`` (one step of delay, one of
    buffering); ours applies row ``k`` in step ``k``: the amplitude times are two steps early.
    """
    for name, vals, start in net._currents_t:
        v = vals[:, 0, :].numpy()  # (T, n)
        for i, node in enumerate(nodes[name]):
            col = 1000.0 * v[:, i]
            keep = np.r_[True, np.diff(col) != 0]
            ts = (start + np.flatnonzero(keep) - 1) * h
            amp = col[keep]
            amp = np.r_[amp, 0.0]
            ts = np.r_[ts, (start + len(col) - 1) * h]
            if ts[0] <= 0:
                raise NotImplementedError(
                    f"time-varying current into {name!r} from step {start} (NEST's "
                    "step_current_generator cannot act before step 2)"
                )
            gen = nest.Create("step_current_generator",
                              params={"amplitude_times": ts.tolist(),
                                      "amplitude_values": amp.tolist()})
            nest.Connect(gen, node, syn_spec={"delay": h})


def run_nest(net: Any, duration_ms: float, *, threads: int = 1, zero_delay: str = "refuse",
             model: NestModel | None = None, progress: bool | None = None) -> NestRun:
    """Build (unless ``model`` is given) and run ``net`` on NEST for ``duration_ms``; return the
    spikes, states, population rates and learned weights in the package's formats (times on
    our step grid: a NEST spike stamped ``(s + 1) h`` is our step ``s``).

    ``progress``: show a progress bar (default: when steps x neurons exceed 10^9, about a
    minute of NEST on one thread); the run then goes in ~100 pieces of whole min-delay slices
    between one ``Prepare`` and ``Cleanup`` — the same simulation (tested)."""
    nest = require_nest()
    model = model or to_nest(net, threads=threads, zero_delay=zero_delay)
    h = net.dt_ms
    n_steps = int(round(duration_ms / h))
    n_neurons = sum(p["n"] for p in net._pops.values())
    show = n_steps * n_neurons > 10**9 if progress is None else bool(progress)
    t0 = time.perf_counter()
    if show:
        _simulate_in_pieces(nest, n_steps, h)
    else:
        nest.Simulate(n_steps * h)
    out = NestRun(steps=n_steps, build_s=model.build_s, sim_s=time.perf_counter() - t0,
                  virtual_processes=int(nest.GetKernelStatus("total_num_virtual_procs")))
    if model.plastic:
        # NEST updates a synapse when it delivers a presynaptic spike, at the start of the
        # next min-delay slice: one more slice delivers the spikes of the last one (spikes and
        # states of the extra slice are discarded below)
        nest.Simulate(nest.GetKernelStatus("min_delay"))
    spikes = {}
    for name, rec in model.spike_recorders.items():
        spikes[name] = _events(rec, model.nodes[name], h, n_steps)
    for name, (steps, nrn) in spikes.items():
        n = net._pops[name]["n"]
        if name in net.spike_monitors:
            mon = SpikeMonitor(name, 0, n, h)
            mon._append(steps, np.zeros_like(steps), nrn)
            out.spike_monitors[name] = mon
        if name in net.rate_monitors:
            rmon = RateMonitor(name, 0, n, h)
            rmon._append(np.bincount(steps, minlength=n_steps)[:n_steps, None, None])
            out.rate_monitors[name] = rmon
    for name, (mm, m) in model.multimeters.items():
        src = net.state_monitors[name]
        ev = _gathered(mm.get("events"), ("times", "senders", "V_m", *m.channel_names))
        ids = np.asarray(model.nodes[name][src.neurons.tolist()].tolist())
        col = {g: k for k, g in enumerate(ids)}
        keep = np.round(np.asarray(ev["times"]) / h) - 1 < n_steps
        ev = {k: np.asarray(ev[k])[keep] for k in ("times", "senders", "V_m",
                                                 *m.channel_names)}
        times = np.unique(ev["times"])
        row = {t: k for k, t in enumerate(times)}
        R, C = len(ids), len(m.channel_names)
        v = np.zeros((len(times), 1, R))
        isyn = np.zeros((len(times), 1, R, C))
        r_idx = np.array([row[t] for t in ev["times"]], dtype=np.int64)
        c_idx = np.array([col[g] for g in ev["senders"]], dtype=np.int64)
        v[r_idx, 0, c_idx] = ev["V_m"]
        for c, rec_name in enumerate(m.channel_names):
            isyn[r_idx, 0, c_idx, c] = np.asarray(ev[rec_name]) / 1000.0
        mon = StateMonitor(name, src.neurons.clone(), src.stride, h, column=0)
        steps = np.round(times / h).astype(np.int64) - 1
        mon._append(steps, v, np.zeros_like(v), isyn)
        out.state_monitors[name] = mon
    for name, (pre, _, _) in model.plastic.items():
        pre_spikes = _events(model.pre_recorders[name], pre, h, n_steps)
        post_spikes = spikes[net._projections[name].post]
        out.weights[name] = _learned_weights(nest, net, model, name, pre_spikes, post_spikes)
    return out


def _simulate_in_pieces(nest: Any, n_steps: int, h: float) -> None:
    """``nest.Simulate(n_steps * h)`` as ``Prepare``, ~100 ``Run`` calls of whole min-delay
    slices (the last one takes the rest) and ``Cleanup``, with a progress bar."""
    from tqdm.auto import tqdm

    slice_steps = max(1, int(round(nest.GetKernelStatus("min_delay") / h)))
    piece = max(1, n_steps // 100 // slice_steps) * slice_steps
    nest.Prepare()
    try:
        with tqdm(total=n_steps, unit="step", unit_scale=True, desc="NEST",
                  leave=False) as bar:
            done = 0
            while done < n_steps:
                k = min(piece, n_steps - done)
                nest.Run(k * h)
                done += k
                bar.update(k)
    finally:
        nest.Cleanup()


def _events(rec: Any, nodes: Any, h: float, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """(steps, local neuron) of a spike recorder's events before step ``n_steps``, sorted by
    step then neuron (a NEST spike stamped ``(s + 1) h`` is our step ``s``)."""
    ev = _gathered(rec.get("events"), ("times", "senders"))
    steps = np.round(np.asarray(ev["times"]) / h).astype(np.int64) - 1
    nrn = np.asarray(ev["senders"], dtype=np.int64) - nodes[0].global_id
    keep = steps < n_steps
    steps, nrn = steps[keep], nrn[keep]
    order = np.lexsort((nrn, steps))
    return steps[order], nrn[order]


def _learned_weights(nest: Any, net: Any, model: NestModel, name: str,
                     pre_spikes: tuple, post_spikes: tuple) -> torch.Tensor:
    """The plastic projection's weights in our CSR order (nA), with the potentiation NEST
    still owes (post spikes after a synapse's last presynaptic spike are paired only at the
    next presynaptic spike): NEST's own ``facilitate`` step, applied here for those spikes."""
    pre, post, syn_model = model.plastic[name]
    proj = net._projections[name]
    conns = nest.GetConnections(source=pre, target=post, synapse_model=syn_model)
    keys = ["source", "target", "port", "weight", "Wmax", "lambda", "mu_plus", "tau_plus"]
    if syn_model == "stdp_synapse":
        keys.append("Kplus")
    st = {k: v.astype(float) for k, v in _gathered(_status(conns, keys), keys).items()}
    src = st["source"].astype(np.int64) - pre[0].global_id
    tgt = st["target"].astype(np.int64) - post[0].global_id
    kplus = st.get("Kplus", np.ones_like(st["weight"]))
    w = st["weight"].copy()
    h = net.dt_ms
    last_pre = np.full(proj.n_pre, -1, dtype=np.int64)
    np.maximum.at(last_pre, pre_spikes[1], pre_spikes[0])
    ps, pn = post_spikes
    for k in np.flatnonzero(last_pre[src] >= 0):
        s_last = last_pre[src[k]]
        later = ps[(pn == tgt[k]) & (ps >= s_last)]
        if not later.size:
            continue
        wmax, lam, mu, tau = st["Wmax"][k], st["lambda"][k], st["mu_plus"][k], st["tau_plus"][k]
        nw = w[k] / wmax
        for s_post in later:  # stamps (s+1) h; the dendritic delay is one step
            kk = kplus[k] * np.exp(((s_last + 1) * h - ((s_post + 1) * h + h)) / tau)
            nw = nw + lam * (1.0 - nw) ** mu * kk
            nw = min(nw, 1.0)
        w[k] = nw * wmax
    order = np.lexsort((st["port"], tgt, src))
    w_nest = w[order] / 1000.0
    rows = np.repeat(np.arange(proj.n_pre), np.diff(proj.indptr.numpy()))
    ours = np.lexsort((np.arange(len(rows)), proj.indices.numpy(), rows))
    w = np.empty(len(rows))
    w[ours] = w_nest
    return torch.from_numpy(w)


# ------------------------------------------------------------------ MPI: gather the ranks' parts
def _mpi_comm() -> Any:
    """mpi4py's ``COMM_WORLD`` when NEST runs on several MPI processes, else ``None``."""
    nest = require_nest()
    n = nest.NumProcesses()
    if n == 1:
        return None
    try:
        from mpi4py import MPI
    except ImportError as err:
        raise ImportError(
            f"NEST runs on {n} MPI processes: run_nest gathers every rank's spikes, states and "
            "weights with mpi4py (pip install mpi4py, against the MPI that NEST was built with)"
        ) from err
    return MPI.COMM_WORLD


def _status(conns: Any, keys: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``conns.get(keys)`` that also answers for a rank that holds none of the synapses."""
    return conns.get(list(keys)) if len(conns) else {k: [] for k in keys}


def _gathered(parts: dict[str, Any], keys: tuple[str, ...] | list[str]) -> dict[str, np.ndarray]:
    """``parts[keys]`` as 1-d arrays, joined over all MPI ranks (spike recorders, multimeters
    and synapses are local to the rank that owns the neuron; every rank gets the whole)."""
    local = {k: np.atleast_1d(np.asarray(parts[k])) for k in keys}
    comm = _mpi_comm()
    if comm is None:
        return local
    every = comm.allgather(local)
    return {k: np.concatenate([p[k] for p in every]) for k in keys}


# ------------------------------------------------------------------ recorded spike protocols
def _recorded_steps(pre_steps: Any, post_steps: Any, lead: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique pre and post spike steps of a recorded protocol, checked: NEST has no
    spike at t = 0 (and a post train fed ``lead`` steps early starts ``lead`` steps later)."""
    pre = np.unique(np.asarray(pre_steps, dtype=np.int64))
    post = np.unique(np.asarray(post_steps, dtype=np.int64))
    if (pre.size and pre.min() < 1) or (post.size and post.min() < 1 + lead):
        raise ValueError(f"pre/post spike steps must be >= 1 (post >= {1 + lead} when fed "
                         f"{lead} step early): NEST has no spike at t = 0")
    return pre, post


def _parrots(nest: Any, h: float, times_ms: list[np.ndarray]) -> Any:
    """A fresh kernel at resolution ``h`` with one ``spike_generator -> parrot_neuron`` (delay
    ``h``) per spike train; returns the parrots."""
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": h})
    gens = nest.Create("spike_generator", len(times_ms))
    gens.set([{"spike_times": t.tolist()} for t in times_ms])
    par = nest.Create("parrot_neuron", len(times_ms))
    nest.Connect(gens, par, "one_to_one", {"delay": h})
    return par


@dataclass
class TripletSTDPRun:
    """One ``stdp_triplet_synapse`` at the end of :func:`run_triplet_stdp`."""

    weight: float
    nest_status: dict[str, float]


def run_triplet_stdp(pre_steps: Any, post_steps: Any, params: Any, dt_ms: float,
                     duration_ms: float, *, w_init: float = 0.0) -> TripletSTDPRun:
    """One triplet-STDP synapse on NEST: recorded pre and post spike steps ->
    ``stdp_triplet_synapse`` (parameters: :func:`~neuroplastic.interop.nest_map.map_triplet_stdp`);
    returns its weight at ``duration_ms``, to compare with
    :func:`~neuroplastic.plasticity.triplet_step` driven by the same steps.

    Spikes as in :func:`run_dopamine_stdp` with ``align=True``: ``spike_generator ->
    parrot_neuron`` for both trains, the post train fed one step early so that the synapse's
    one-step dendritic delay puts each post spike in the step our rule sees it. NEST applies a
    post spike's potentiation only when the next pre spike arrives, so the protocol must end
    with a pre spike after the last post spike (refused otherwise: the last potentiations
    would be missing, not wrong). Requires pre steps >= 1, post steps >= 2,
    ``0 <= w_init <= w_max``."""
    from .nest_map import map_triplet_stdp

    nest = require_nest()
    h = float(dt_ms)
    n_steps = int(round(duration_ms / h))
    pre, post = _recorded_steps(pre_steps, post_steps, 1)
    if not pre.size or (post.size and post.max() >= pre.max()):
        raise ValueError("the protocol must end with a pre spike after the last post spike "
                         "(NEST applies potentiation when the next pre spike arrives)")
    if pre.max() >= n_steps - 1:
        raise ValueError(f"the last pre spike (step {int(pre.max())}) must come before the last "
                         f"step of the run ({n_steps} steps)")
    m = map_triplet_stdp("triplet", params)
    if not 0.0 <= w_init <= m.params["Wmax"]:
        raise ValueError(f"w_init={w_init!r} must lie in [0, w_max={m.params['Wmax']!r}] "
                         "(NEST's triplet synapse keeps the weight there)")
    par = _parrots(nest, h, [pre * h, (post - 1) * h])
    par[1].set(m.post)
    nest.CopyModel("stdp_triplet_synapse", "np_triplet", m.params)
    nest.Connect(par[0], par[1], syn_spec={"synapse_model": "np_triplet", "weight": w_init,
                                           "delay": h, "receptor_type": 1})
    nest.Simulate(n_steps * h)
    keys = ("weight", "Kplus", "Kplus_triplet")
    conn = nest.GetConnections(synapse_model="np_triplet")
    st = {k: float(v[0]) for k, v in _gathered(_status(conn, keys), keys).items()}
    return TripletSTDPRun(st["weight"], st)


# ------------------------------------------------------------------ dopamine-modulated STDP
@dataclass
class DopamineSTDPRun:
    """State of one ``stdp_dopamine_synapse`` at the end of :func:`run_dopamine_stdp`, in the
    package's units (``eligibility`` = NEST's ``c / scale``, ``modulator_excess`` = NEST's
    ``n * release * tau_n``)."""

    weight: float
    eligibility: float
    modulator_excess: float
    nest_status: dict[str, float]


def run_dopamine_stdp(pre_steps: Any, post_steps: Any, dopamine_steps: Any, params: Any,
                      dopamine: Any, dt_ms: float, duration_ms: float, *,
                      w_init: float = 0.0, align: bool = True) -> DopamineSTDPRun:
    """One three-factor synapse on NEST: recorded pre/post spike steps and dopamine release
    steps (``DopamineParams.release`` each) -> ``stdp_dopamine_synapse`` with a
    ``volume_transmitter``; returns its state at ``duration_ms``.

    Spike-time conventions (as :func:`run_nest`): our step ``s`` is NEST's stamp ``(s + 1) h``;
    pre and post spikes come from ``spike_generator -> parrot_neuron`` (the plastic connection
    goes into the post parrot's receptor 1, which does not re-emit), dopamine from
    ``spike_generator -> parrot_neuron -> volume_transmitter`` (generator time ``(s - 1) h``:
    two one-step hops). Parameters: :func:`~neuroplastic.interop.nest_map.map_dopamine_stdp`.
    ``align=True``: the post train is fed one step early, which cancels the synapse's one-step
    dendritic delay (``lag_steps=0``: the two rules then coincide for every lag);
    ``align=False``: the spikes as a network would have them (``lag_steps=1``, the stated
    differences apply). Requires pre steps >= 1, post steps >= 1 (>= 2 aligned), dopamine steps
    >= 2, no post spike in the last two steps (NEST pairs it only at a later update)."""
    from .nest_map import map_dopamine_stdp

    nest = require_nest()
    h = float(dt_ms)
    n_steps = int(round(duration_ms / h))
    lead = int(bool(align))
    pre, post = _recorded_steps(pre_steps, post_steps, lead)
    da = np.asarray(dopamine_steps, dtype=np.int64)
    if da.size and da.min() < 2:
        raise ValueError("dopamine steps must be >= 2 (two one-step hops to the transmitter)")
    if post.size and post.max() >= n_steps - 2:
        raise ValueError("post spikes must end before the last two steps")
    m = map_dopamine_stdp("pair", params, dopamine, h, lag_steps=1 - lead)
    par = _parrots(nest, h, [pre * h, (post - lead) * h, (da - 1) * h])
    par[1].set({"tau_minus": m.tau_minus})
    vt = nest.Create("volume_transmitter")
    nest.Connect(par[2], vt, syn_spec={"delay": h})
    nest.CopyModel("stdp_dopamine_synapse", "np_dopa_pair",
                   {"volume_transmitter": vt, **m.params})
    nest.Connect(par[0], par[1], syn_spec={"synapse_model": "np_dopa_pair", "weight": w_init,
                                           "delay": h, "receptor_type": 1})
    nest.Simulate(n_steps * h)
    keys = ("weight", "c", "n", "Kplus")
    conn = nest.GetConnections(synapse_model="np_dopa_pair")
    st = {k: float(v[0]) for k, v in _gathered(_status(conn, keys), keys).items()}
    return DopamineSTDPRun(st["weight"], st["c"] / m.scale,
                           st["n"] * dopamine.release * dopamine.tau_ms, st)


class DistalRewardNest:
    """The distal-reward network (:mod:`neuroplastic.experiments.distal_reward`, built by its
    ``build_network``) in NEST, advanced like the kernel's ``simulate``.

    Izhikevich neurons as ``izhikevich`` (``consistent_integration=False``: the published two
    half steps of ``v``, ``u`` from the new ``v``), resolution 1 ms; excitatory synapses as
    ``stdp_dopamine_synapse`` (:func:`~neuroplastic.interop.nest_map.map_daspnet_stdp`; the
    rewarded one as a copy of the model, so that it can be read), inhibitory ones static, delay
    1 ms; dopamine through one ``volume_transmitter`` that brings every synapse up to date each
    ``block_ms`` (``deliver_interval``; NEST integrates the weights exactly between events, so
    this only sets when they can be read); the thalamic input is the kernel's own counter-based
    stream (``uniform_hash``), replayed through one ``step_current_generator`` per neuron. The
    reward rule runs in Python between ``nest.Run`` blocks of ``block_ms``: the spikes of
    ``n1`` and ``n2`` are read, a pairing schedules a release with the kernel's own delay draw,
    delivered by ``spike_generator`` -> ``parrot_neuron`` -> ``volume_transmitter`` so that
    dopamine rises at the end of the kernel's release step. The rewarded synapse's weight,
    eligibility and dopamine are read every ``record_ms``.

    Stated differences from the kernel: a spike raises ``v`` of its targets by the weight at
    once (NEST), where the kernel adds it to the step's input current (integrated in two half
    steps); the STDP window at lags 0 and -1 ms, all-to-all pairing instead of the kernel's
    latest-spike traces, exact weight integration instead of 10 ms Euler steps
    (:func:`~neuroplastic.interop.nest_map.map_daspnet_stdp`); no thalamic input in the first
    two steps (a current reaches a NEST neuron two steps after it is sent). The network is the
    same model, not the same trajectory: compare statistics and the learning outcome.

    Refused (``NotImplementedError``): ``max_delay_ms > 1`` (NEST's delay is dendritic, it
    would shift every pairing by twice the delay), repeated (source, target) synapses that
    learn without delivering (``sum_multapses=False`` where repeats exist: a NEST synapse
    always transmits its weight), reward delays under ``block_ms + 2`` ms.

    One process (``threads`` OpenMP threads give the same spikes); refused under MPI: the
    reward loop would need the spikes of ``n1`` and ``n2`` from every rank after each block.
    """

    BLOCK_MS = 10

    def __init__(self, net: Any, *, threads: int = 1, block_ms: int = 10,
                 record_ms: int | None = None) -> None:
        from .._validation import check_int
        from .nest_map import map_daspnet_stdp

        check_int("threads", threads, 1, 1024)
        check_int("block_ms", block_ms, 10, 100_000)
        if block_ms % 10:
            raise ValueError(f"block_ms must be a multiple of 10 ms, got {block_ms}")
        self.BLOCK_MS = block_ms
        self.record_ms = block_ms if record_ms is None else check_int("record_ms", record_ms, 1)
        if self.record_ms % block_ms:
            raise ValueError(f"record_ms ({record_ms}) must be a multiple of block_ms "
                             f"({block_ms})")
        cfg = net.config
        if cfg.max_delay_ms != 1:
            raise NotImplementedError(
                f"distal reward on NEST: conduction delays over 1 ms (max_delay_ms="
                f"{cfg.max_delay_ms}); NEST's stdp_dopamine_synapse treats the delay as "
                "dendritic, which shifts every pairing window by twice the delay")
        if not cfg.sum_multapses and not net.deliver.all():
            raise NotImplementedError(
                "distal reward on NEST: repeated (source, target) synapses that learn but do "
                "not deliver (sum_multapses=False, MATLAB's I(ind) = ...); a NEST synapse always "
                "transmits its weight: set sum_multapses=True")
        if cfg.reward_delay_min_ms < self.BLOCK_MS + 2:
            raise NotImplementedError(
                f"distal reward on NEST: reward_delay_min_ms={cfg.reward_delay_min_ms} (the "
                f"reward loop reads spikes every {self.BLOCK_MS} ms; rewards must come >= "
                f"{self.BLOCK_MS + 2} ms after the pairing)")
        if net.step:
            raise ValueError("DistalRewardNest builds from the initial state")
        nest = require_nest()
        if nest.NumProcesses() > 1:
            raise NotImplementedError(
                f"distal reward on NEST under MPI ({nest.NumProcesses()} processes): the reward "
                "loop reads spikes and weights after every block on one process; use threads")
        t0 = time.perf_counter()
        self.net, self.cfg, self.nest = net, cfg, nest
        self.map = m = map_daspnet_stdp(cfg.w_max, cfg.da_release)
        ne, n, M = cfg.n_exc, cfg.n_exc + cfg.n_inh, cfg.synapses_per_neuron
        nest.ResetKernel()
        nest.SetKernelStatus({"resolution": 1.0, "local_num_threads": threads,
                              "rng_seed": _nest_seed(cfg.seed)})
        nrn = nest.Create("izhikevich", n)
        nrn.set({"consistent_integration": False, "V_th": 30.0, "tau_minus": m.tau_minus})
        nrn.set({"a": net.a.tolist(), "b": net.b.tolist(), "c": net.c.tolist(),
                 "d": net.d.tolist(), "V_m": net.v.tolist(), "U_m": net.u.tolist()})
        self.nrn = nrn
        self.gens = nest.Create("step_current_generator", n)
        nest.Connect(self.gens, nrn, "one_to_one", {"delay": 1.0})
        self.da_gen = nest.Create("spike_generator")
        da_par = nest.Create("parrot_neuron")
        vt = nest.Create("volume_transmitter", params={"deliver_interval": self.BLOCK_MS})
        nest.Connect(self.da_gen, da_par, syn_spec={"delay": 1.0})
        nest.Connect(da_par, vt, syn_spec={"delay": 1.0})
        common = {"volume_transmitter": vt, **m.params}
        nest.CopyModel("stdp_dopamine_synapse", "np_daspnet", common)
        nest.CopyModel("stdp_dopamine_synapse", "np_daspnet_rewarded", common)
        ids = np.asarray(nrn.tolist())
        src = np.repeat(np.arange(ne), M)
        tgt = net.post[:ne].reshape(-1).astype(np.int64)
        chosen = cfg.n1 * M + cfg.syn
        keep = np.ones(src.size, dtype=bool)
        keep[chosen] = False
        self._order = np.lexsort((tgt[keep], src[keep]))  # ours -> (source, target) order
        self._flat = np.flatnonzero(keep)
        nest.Connect(ids[src[keep]], ids[tgt[keep]], "one_to_one",
                     {"synapse_model": "np_daspnet", "weight": net.s[:ne].reshape(-1)[keep],
                      "delay": np.ones(int(keep.sum()))})
        nest.Connect(nrn[cfg.n1], nrn[int(net.n2)], syn_spec={
            "synapse_model": "np_daspnet_rewarded", "weight": float(net.s[cfg.n1, cfg.syn]),
            "delay": 1.0})
        if n > ne:
            isrc = np.repeat(np.arange(ne, n), M)
            itgt = net.post[ne:].reshape(-1).astype(np.int64)
            nest.Connect(ids[isrc], ids[itgt], "one_to_one",
                         {"weight": net.s[ne:].reshape(-1), "delay": np.ones(isrc.size)})
        self.rec_pair = nest.Create("spike_recorder")
        nest.Connect(nrn[cfg.n1], self.rec_pair)
        if int(net.n2) != cfg.n1:
            nest.Connect(nrn[int(net.n2)], self.rec_pair)
        self.rec_exc = nest.Create("spike_recorder")
        nest.Connect(nrn[:ne], self.rec_exc)
        if n > ne:
            self.rec_inh = nest.Create("spike_recorder")
            nest.Connect(nrn[ne:], self.rec_inh)
        else:
            self.rec_inh = None
        self._ids0 = int(ids[0])
        self.pending: set[int] = set()  # steps of scheduled dopamine releases
        self.n1_last = int(net.iscal[0])
        self._input_until = 2  # first step whose input is not yet sent
        self._conn = None
        self._pair_seen = 0  # events of the n1/n2 recorder read so far
        self._counts0 = net.counts[:2].copy()
        self.build_s = time.perf_counter() - t0
        self.sim_s = 0.0
        nest.Prepare()

    def _send_input(self, until: int) -> None:
        """Thalamic input of steps ``[_input_until, until)``: our step ``k`` is amplitude time
        ``(k - 1)`` ms (sent in NEST step ``k - 2``, applied in step ``k``)."""
        from ..kernels.izhikevich_numba import uniform_hash

        k0 = self._input_until
        if until <= k0:
            return
        n = self.cfg.n_exc + self.cfg.n_inh
        steps = np.arange(k0, until)
        vals = 13.0 * (uniform_hash(self.net.seed32, steps, np.arange(n)) - 0.5)  # (T, n)
        times = steps - 1.0
        vals = np.ascontiguousarray(vals.T)
        self.gens.set([{"amplitude_times": times, "amplitude_values": vals[i]}
                       for i in range(n)])
        self._input_until = until

    def simulate(self, n_steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Advance by ``n_steps`` ms (a multiple of ``record_ms``); returns the rewarded
        synapse's weight, its eligibility (kernel units) and the dopamine level every
        ``record_ms`` (every 10 ms by default, like the kernel's)."""
        nest, net, cfg, B = self.nest, self.net, self.cfg, self.BLOCK_MS
        R = self.record_ms
        if n_steps % R or net.step % R:
            raise ValueError(f"n_steps must be a multiple of record_ms={R} ms, got {n_steps}")
        out = np.zeros((3, n_steps // R))
        t0 = time.perf_counter()
        scale = self.map.scale
        da_unit = cfg.da_release * self.map.params["tau_n"]
        k0_all = net.step
        for _ in range(n_steps // B):
            k0 = net.step
            if self._input_until < k0 + B + 2:  # one second of input at a time
                self._send_input(k0 + max(1000, B) + 2)
            nest.Run(float(B))
            net.step = k0 + B
            self._rewards(k0)
            if net.step % R:
                continue
            if self._conn is None:
                self._conn = nest.GetConnections(synapse_model="np_daspnet_rewarded")
            st = self._conn.get(["weight", "c", "n"])
            r = (net.step - k0_all) // R - 1
            out[:, r] = st["weight"], st["c"] / scale, st["n"] * da_unit
        # recorders cannot be cleared inside Prepare/Run/Cleanup: counts are cumulative
        net.counts[0] = self._counts0[0] + int(self.rec_exc.get("n_events"))
        if self.rec_inh is not None:
            net.counts[1] = self._counts0[1] + int(self.rec_inh.get("n_events"))
        self.sim_s += time.perf_counter() - t0
        return out[0], out[1], out[2]

    def _rewards(self, k0: int) -> None:
        """The kernel's reward rule on this block's spikes of n1 and n2 (NEST's stamp ``k`` ms is
        the kernel's firing step ``k``)."""
        from ..kernels.izhikevich_numba import uniform_hash

        net, cfg = self.net, self.cfg
        n_ev = int(self.rec_pair.get("n_events"))
        if n_ev == self._pair_seen:  # neither n1 nor n2 fired: no pairing, nothing to read
            ev = {"times": [], "senders": []}
        else:
            ev = self.rec_pair.get("events")
        self._pair_seen = n_ev
        # this block's spikes are stamped k0 + 1 .. k0 + B (with several threads the recorder's
        # events come per thread, not in time order; the recorder cannot be cleared while
        # prepared)
        t = np.round(np.asarray(ev["times"], dtype=float)).astype(np.int64)
        mine = (t > k0) & (t <= k0 + self.BLOCK_MS)
        steps = t[mine]
        who = np.asarray(ev["senders"], dtype=np.int64)[mine] - self._ids0
        n = cfg.n_exc + cfg.n_inh
        new = []
        for k in np.unique(steps):
            fired = who[steps == k]
            if (fired == cfg.n1).any():
                self.n1_last = int(k)
            if (fired == net.n2).any() and 0 < k - self.n1_last < cfg.interval_ms:
                r = uniform_hash(net.seed32, int(k), np.array([n], dtype=np.uint64))[0]
                delay = cfg.reward_delay_min_ms + int(np.ceil(cfg.reward_delay_span_ms * r))
                new.append(int(k) + delay)
                net.counts[3] += 1
        net.iscal[0] = self.n1_last
        end = k0 + self.BLOCK_MS
        # the kernel adds DA once per step, at the end of step s; count those of this block
        for s in sorted(x for x in self.pending if x < end):
            if net.counts[2] < net.reward_steps.size:
                net.reward_steps[net.counts[2]] = s
            net.counts[2] += 1
        self.pending = {x for x in self.pending if x >= end}
        if new:
            self.pending |= set(new)
            # DA at the end of step s: transmitter time s + 1, generator time s - 1; the
            # generator's list is replaced, so it holds only the times still to come
            self.da_gen.set({"spike_times": [float(x - 1) for x in sorted(self.pending)
                                             if x - 1 > end]})

    def weights(self) -> np.ndarray:
        """All weights in the kernel's ``(N, M)`` layout (excitatory rows from NEST)."""
        cfg, nest = self.cfg, self.nest
        M = cfg.synapses_per_neuron
        s = self.net.s.copy()
        st = nest.GetConnections(synapse_model="np_daspnet").get(["source", "target", "weight"])
        src = np.asarray(st["source"], dtype=np.int64)
        tgt = np.asarray(st["target"], dtype=np.int64)
        w = np.asarray(st["weight"], dtype=float)
        order = np.lexsort((tgt, src))  # repeats of a (source, target) pair learn alike
        flat = s[: cfg.n_exc].reshape(-1)
        flat[self._flat[self._order]] = w[order]
        s[: cfg.n_exc] = flat.reshape(cfg.n_exc, M)
        rew = self.nest.GetConnections(synapse_model="np_daspnet_rewarded").get("weight")
        s[cfg.n1, cfg.syn] = float(np.atleast_1d(rew)[0])
        return s

    def close(self) -> None:
        self.nest.Cleanup()
