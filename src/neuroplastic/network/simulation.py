"""Flattened simulation arrays of a :class:`~neuroplastic.network.Network` and the segment loop.

The network's populations are laid out in one global index space (LIF first, then sources),
projections in one concatenated CSR store. :meth:`Simulation.advance` walks the clock in
segments aligned on the random-block grid of :mod:`._rng`, draws that block's noise and Poisson
numbers, and hands each segment to the compiled kernel or to the torch reference.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..neurons.lif import LIFCoefficients, realize_lif, uniform_lif
from . import _rng
from .population import Population

# The simulated :class:`~neuroplastic.network.Network`, duck-typed: ``network.py`` builds a
# Simulation, so this module does not import it.
NetworkLike = Any

EV_CAP_MIN = 1 << 18
# Longest synaptic delay in steps: the delay ring buffer holds one (batch, channels, LIF neurons)
# slab per step of the longest delay, so its length is capped instead of left to the allocator.
MAX_DELAY_STEPS = 1 << 20


class Simulation:
    def __init__(self, net: NetworkLike) -> None:
        pops = net._pops
        lif = [k for k, p in pops.items() if p["kind"] == "lif"]
        src = [k for k, p in pops.items() if p["kind"] != "lif"]
        self.starts: dict[str, int] = {}
        self.populations: dict[str, Population] = {}
        pos = 0
        for k in lif + src:
            p = pops[k]
            self.starts[k] = pos
            self.populations[k] = Population(
                k, p["kind"], p["n"], pos, p.get("params"), p.get("substrate")
            )
            pos += p["n"]
        self.n_lif = sum(pops[k]["n"] for k in lif)
        self.n_total = pos
        self.lif_names, self.src_names = lif, src
        B, dev = net.batch, net.device
        self.real = real = net.real  # precision of state, coefficients, currents and weights
        C = max([pops[k]["params"].n_channels for k in lif], default=1)
        self.C = C
        # ---- projections: one CSR store
        projs = list(net._projections.values())
        self.proj_names = [p.name for p in projs]
        self.proj_nnz = [p.nnz for p in projs]
        P = len(projs)
        self.proj_pre_start = torch.tensor([self.starts[p.pre] for p in projs], dtype=torch.int64)
        self.proj_pre_stop = self.proj_pre_start + torch.tensor(
            [p.n_pre for p in projs], dtype=torch.int64
        )
        self.proj_post_start = torch.tensor([self.starts[p.post] for p in projs], dtype=torch.int64)
        self.proj_channel = torch.tensor([p.channel for p in projs], dtype=torch.int64)
        self.proj_ptr_off = torch.tensor(
            np.cumsum([0] + [p.n_pre + 1 for p in projs])[:-1], dtype=torch.int64
        )
        self.proj_syn_off = torch.tensor(
            np.cumsum([0] + [p.nnz for p in projs])[:-1], dtype=torch.int64
        )
        cat = lambda xs, dt: torch.cat(xs) if xs else torch.zeros(0, dtype=dt)  # noqa: E731
        self.indptr = cat([p.indptr for p in projs], torch.int64)
        # 1 + the delay all synapses of a projection share (0: they differ): the kernel then
        # reads no delay array (a shared delay is a stride-0 view, see Network.connect)
        self.proj_delay = torch.tensor([1 + _shared_delay(p) for p in projs], dtype=torch.int64)
        per_synapse = bool((self.proj_delay == 0).any())
        # projections see their synapse arrays as views into the shared store (plasticity
        # writes the weights of both); each is copied in and released in turn, so that no
        # second copy of the connectivity is kept, not even while building. Post indices are
        # int32; the delays are stored per synapse only when some projection needs them.
        for attr, dt in (("indices", torch.int32), ("delays", torch.int64)):
            if attr == "delays" and not per_synapse:
                self.delays = torch.zeros(0, dtype=torch.int64)
                continue
            if attr == "indices":  # already back to back in the network's arena: no copy
                arena = getattr(net, "_index_arena", None)
                span = (arena.span([p.indices.numpy() for p in projs])
                        if arena is not None and all(p.indices.device.type == "cpu"
                                                     for p in projs) else None)
                if span is not None:
                    self.indices = torch.from_numpy(span)
                    continue
            # numpy's allocation: large blocks get transparent huge pages (numpy asks the
            # kernel for them), so filling the store faults 512x fewer pages than torch.empty
            store = torch.from_numpy(np.empty(sum(self.proj_nnz), dtype=_NP[dt]))
            for p, off in zip(projs, self.proj_syn_off.tolist()):
                store[off : off + p.nnz] = getattr(p, attr)
                setattr(p, attr, store[off : off + p.nnz])
            setattr(self, attr, store)
        # weights: a static projection made with one weight for every synapse whose weights
        # were never read (Projection.shared_weight) keeps that one value (proj_woff = -1,
        # proj_wval) and no per-synapse array, until any weights are read (the property
        # ``weights``, Projection.weights): then every weight is stored (materialize_weights)
        self._projs = projs
        self._lazy = [
            net.backend == "numba" and p.shared_weight is not None
            and p.name not in net._plasticity for p in projs
        ]
        self._store_weights()
        self.D = 1 + max([int(p.delays.max()) if d == 0 else int(d) - 1
                          for p, d in zip(projs, self.proj_delay.tolist()) if p.nnz], default=0)
        # ---- per-neuron coefficients (after the synapse stores: the transient peak of memory
        # while copying them then sees fewer live arrays)
        coef, same = _coefficients(net, lif, C, real)
        self.coef = LIFCoefficients(*[t.to(dev) for t in coef])
        self.has_noise = bool((self.coef.noise_scale > 0).any())
        self.digital_idx = torch.nonzero(self.coef.q_step > 0).flatten()
        self.seg_bounds, self.seg_fast = _uniform_segments(
            self.coef, [self.starts[k] for k in lif] + [self.n_lif], C, same
        )
        self._build_plasticity(net, projs)
        # off the CPU, the torch loop delivers spikes by sparse matrix products (one per
        # projection and delay, all trials at once) instead of its per-trial index loop
        self.by_matrices = dev.type != "cpu"
        self.delivery: list = []
        # the device matrices are rebuilt before a run when the weights may have changed:
        # loaded, or handed out (Projection.weights is a view a caller may write to)
        self.delivery_stale = True
        self.step_graph: Any = None  # a CUDA graph of one step, or False where refused
        if self.by_matrices and self.stdp_layouts:
            raise ValueError(
                f"plastic (STDP) projections {sorted(net._plasticity)} run on the CPU only "
                f"(backend 'numba' or 'torch' with device='cpu'); device={dev} simulates static "
                "networks"
            )
        self.proj_gated = torch.zeros(P, dtype=torch.int64)
        self.gate = torch.zeros(0, dtype=torch.float64)  # (nnz of all projections,) once gated
        for name, g in net._gates.items():
            self.set_gate(name, g)
        # ---- state, on the network's device (the synapse store stays in host memory: the
        # torch loop builds its device matrices from it, kernels/network_torch.py)
        self.v = torch.zeros(B, self.n_lif, dtype=real, device=dev)
        self.isyn = torch.zeros(B, C, self.n_lif, dtype=real, device=dev)  # channel-major
        self.theta = torch.zeros(B, self.n_lif, dtype=real, device=dev)
        self.ref_left = torch.zeros(B, self.n_lif, dtype=_ref_dtype(self.coef.ref_steps),
                                    device=dev)
        self.buf = torch.zeros(self.D, B, C, self.n_lif, dtype=real, device=dev)
        self.i_ext = torch.zeros(B, self.n_lif, dtype=real, device=dev)
        for k in lif:
            if "i_ext" in pops[k]:
                s = self.starts[k]
                self.i_ext[:, s : s + pops[k]["n"]] = pops[k]["i_ext"]
        self.has_i_ext_t = bool(net._currents_t)
        self.reset_state(net)
        self.spike_count = torch.zeros(self.n_total, dtype=torch.int64)
        self.synops = torch.zeros(P, dtype=torch.int64)
        self.pop_of = torch.zeros(self.n_total, dtype=torch.int64)
        for idx, k in enumerate(pops):
            s = self.starts[k]
            self.pop_of[s : s + pops[k]["n"]] = idx
        self.n_pops = len(pops)
        self.poisson_names = [k for k in src if pops[k]["kind"] == "poisson"]
        self._block_cache: dict[str, tuple[int, Tensor]] = {}
        self.set_monitors(net)
        if net.backend == "numba":
            self._warm_up_kernel(net)

    # ------------------------------------------------------------------ state
    def reset_state(self, net: NetworkLike) -> None:
        pops = net._pops
        for k in self.lif_names:
            p, s, n = pops[k], self.starts[k], pops[k]["n"]
            vi = p["v_init"]
            sl = slice(s, s + n)
            if isinstance(vi, str):
                v = self.coef.v_rest[sl].expand(net.batch, n)
            elif isinstance(vi, tuple):
                g = _rng.torch_generator(net.seed, "v_init", k)
                u = torch.rand(net.batch, n, generator=g, dtype=torch.float64)
                v = vi[0] + u * (vi[1] - vi[0])
            elif isinstance(vi, (int, float)):
                v = torch.full((net.batch, n), float(vi), dtype=torch.float64)
            else:
                v = vi
            self.v[:, sl] = v
        if self.digital_idx.numel():  # the identity on analog neurons: skipped without any
            from ..neurons.lif import _fixed

            self.v.copy_(_fixed(self.v, self.coef))
        self.isyn.zero_()
        self.theta.zero_()
        self.ref_left.zero_()
        self.buf.zero_()
        self.stdp_x.zero_()

    # ------------------------------------------------------------------ plasticity
    def _build_plasticity(self, net: NetworkLike, projs: list) -> None:
        """Per-projection STDP coefficients, trace offsets and column (CSC) views.

        ``stdp_x`` ``(batch, L)`` holds, for each plastic projection, its pre trace
        (``n_pre`` columns from ``stdp_xoff[p, 0]``) and post trace (``n_post`` columns from
        ``stdp_xoff[p, 1]``; ``stdp_xoff[p, 2] = n_post``). ``stdp_prm[p]``: the factors
        :func:`stdp_step` uses, ``dec_pre,
        dec_post, a_causal, a_acausal, w_zero, eta * batch scale, w_min, w_max``;
        ``stdp_flags[p]``: ``has_w_zero, multiplicative, clip, nearest``. Column views are
        concatenated: ``csc_ptr[csc_ptr_off[p]:][:n_post + 1]``, ``csc_perm``/``csc_rows`` from
        ``csc_syn_off[p]`` (synapse ids and pre neurons local to the projection).
        """
        from ..plasticity._stdp_events import _batch_scale
        from ..plasticity.stdp_layout import csr_layout
        from ..plasticity.stdp_sequence import _kernel_coefficients, _kernel_flags

        P = len(projs)
        B = net.batch
        self.dt_ms = net.dt_ms
        self.proj_plastic = torch.zeros(P, dtype=torch.int64)
        self.stdp_prm = torch.zeros(P, 8, dtype=torch.float64)
        self.stdp_flags = torch.zeros(P, 4, dtype=torch.int64)
        self.stdp_xoff = torch.zeros(P, 3, dtype=torch.int64)
        self.csc_ptr_off = torch.zeros(P, dtype=torch.int64)
        self.csc_syn_off = torch.zeros(P, dtype=torch.int64)
        self.stdp_layouts: dict[int, tuple[Any, Any]] = {}  # p -> (STDPParams, CSRLayout)
        ptrs, perms, rows = [], [], []
        L = n_ptr = n_syn = 0
        for p, proj in enumerate(projs):
            params = net._plasticity.get(proj.name)
            if params is None:
                continue
            layout = csr_layout(proj.indptr, proj.indices, proj.n_post)
            self.stdp_layouts[p] = (params, layout)
            self.proj_plastic[p] = 1
            scale = _batch_scale(False, B, params.batch_reduce)
            self.stdp_prm[p] = torch.tensor(
                _kernel_coefficients(params, net.dt_ms, scale), dtype=torch.float64
            )
            self.stdp_flags[p] = torch.tensor(_kernel_flags(params), dtype=torch.int64)
            self.stdp_xoff[p] = torch.tensor([L, L + proj.n_pre, proj.n_post])
            L += proj.n_pre + proj.n_post
            self.csc_ptr_off[p], self.csc_syn_off[p] = n_ptr, n_syn
            ptrs.append(layout.col_ptr)
            perms.append(layout.perm)
            rows.append(layout.perm_rows)
            n_ptr += proj.n_post + 1
            n_syn += proj.nnz
        cat = lambda xs: torch.cat(xs) if xs else torch.zeros(0, dtype=torch.int64)  # noqa: E731
        self.csc_ptr, self.csc_perm, self.csc_rows = cat(ptrs), cat(perms), cat(rows)
        self.stdp_x = torch.zeros(B, L, dtype=torch.float64)

    # ------------------------------------------------------------------ weights
    def _store_weights(self) -> None:
        """(Re)build the weight store ``_w`` of the projections not marked in ``_lazy`` and
        point their ``weights`` at views of it; each projection's array is released before
        the store's pages for it are written (no second copy, even transiently)."""
        projs = self._projs
        P = len(projs)
        self.proj_woff = torch.full((P,), -1, dtype=torch.int64)
        self.proj_wval = torch.zeros(P, dtype=self.real)
        n = 0
        for k, p in enumerate(projs):
            if self._lazy[k]:
                self.proj_wval[k] = p.shared_weight
            else:
                self.proj_woff[k] = n
                n += p.nnz
        store = torch.empty(n, dtype=self.real)
        for k, p in enumerate(projs):
            off = int(self.proj_woff[k])
            x, p._owner = p._weights, self
            if off < 0:
                continue
            if not isinstance(x, Tensor):  # one weight for all, never stored
                p._weights = None
                store[off : off + p.nnz] = float(x)
            elif p.nnz and _all_same_bits(x.to(self.real)):
                value = x[0].to(self.real).item()
                p._weights = None
                del x
                store[off : off + p.nnz] = value
            else:
                store[off : off + p.nnz] = x
                del x
            p._weights = store[off : off + p.nnz]
        self._w = store

    def materialize_weights(self) -> None:
        """Store every weight per synapse (once; a no-op when all are): what reading any
        weights of a built network does, so that every view handed out is of the final
        store. A view handed out may be written to: the device matrices are marked stale."""
        self.delivery_stale = True
        if any(self._lazy):
            self._lazy = [False] * len(self._lazy)
            self._store_weights()

    @property
    def weights(self) -> Tensor:
        """Every synapse's weight ``(nnz,)``, projections concatenated (stores them all)."""
        self.materialize_weights()
        return self._w

    @property
    def n_synapses(self) -> int:
        return sum(self.proj_nnz)

    def weights_snapshot(self) -> Tensor:
        """Every synapse's weight ``(nnz,)`` without storing them per synapse: the store
        itself when it holds all, else a filled copy (for checkpoints)."""
        if not any(self._lazy):
            return self._w
        out = torch.empty(self.n_synapses, dtype=self.real)
        for k, p in enumerate(self._projs):
            so, wo = int(self.proj_syn_off[k]), int(self.proj_woff[k])
            if wo < 0:
                out[so : so + p.nnz] = float(self.proj_wval[k])
            else:
                out[so : so + p.nnz] = self._w[wo : wo + p.nnz]
        return out

    def load_weights(self, w: Tensor) -> None:
        """Copy every synapse's weight ``(nnz,)`` in; projections still sharing one weight
        stay so when ``w`` gives each of their synapses exactly that value (same bits)."""
        for k, p in enumerate(self._projs):
            if self._lazy[k]:
                so = int(self.proj_syn_off[k])
                seg = w[so : so + p.nnz]
                if p.nnz and not (_all_same_bits(seg) and _bits(seg[:1]).item()
                                  == _bits(self.proj_wval[k : k + 1]).item()):
                    self.materialize_weights()
                    break
        for k, p in enumerate(self._projs):
            so, wo = int(self.proj_syn_off[k]), int(self.proj_woff[k])
            if wo >= 0:
                self._w[wo : wo + p.nnz] = w[so : so + p.nnz]
        self.delivery_stale = True

    def load_weight_parts(self, stored: Tensor, shared: Tensor, store: Tensor) -> None:
        """The weights of a checkpoint that keeps them in parts (``_state._weight_parts``):
        per synapse for the projections flagged ``stored`` (``store``, back to back), one
        value ``shared[k]`` for every synapse of each other one. Where this network stores
        the same projections and shares the same values (bit for bit), the store is copied and
        nothing is materialized; otherwise every synapse's weight is assembled and
        :meth:`load_weights` decides."""
        flags = [bool(f) for f in stored.tolist()]
        if flags == [not lazy for lazy in self._lazy] and all(
            f or _bits(shared[k : k + 1]).item() == _bits(self.proj_wval[k : k + 1]).item()
            for k, f in enumerate(flags)
        ):
            self._w.copy_(store)  # the same projections in the same order: the same layout
            self.delivery_stale = True
            return
        full = torch.empty(self.n_synapses, dtype=self.real)
        off = 0
        for k, p in enumerate(self._projs):
            so = int(self.proj_syn_off[k])
            if flags[k]:
                full[so : so + p.nnz] = store[off : off + p.nnz]
                off += p.nnz
            else:
                full[so : so + p.nnz] = shared[k]
        self.load_weights(full)

    def set_gate(self, name: str, gate: Tensor | None) -> None:
        """Install (or, with ``None``, remove) the checked per-synapse gate ``(nnz,)`` of
        plastic projection ``name`` in the concatenated store the kernels read."""
        p = self.proj_names.index(name)
        so = int(self.proj_syn_off[p])
        if gate is None:
            self.proj_gated[p] = 0
            if not bool(self.proj_gated.any()):
                self.gate = torch.zeros(0, dtype=torch.float64)
            return
        if self.gate.numel() != self.n_synapses:
            self.gate = torch.ones(self.n_synapses, dtype=torch.float64)
        self.gate[so : so + gate.numel()] = gate
        self.proj_gated[p] = 1

    def stdp_state(self, name: str):
        from ..plasticity.stdp_pair import STDPState

        p = self.proj_names.index(name)
        params, lay = self.stdp_layouts[p]
        a, c = int(self.stdp_xoff[p, 0]), int(self.stdp_xoff[p, 1])
        return STDPState(self.stdp_x[:, a : a + lay.n_pre], self.stdp_x[:, c : c + lay.n_post])

    def add_time_varying_current(self) -> None:
        """A time-varying current joined after the build: the loops read it from now on (a
        captured GPU step reads none, so it is dropped and decided again)."""
        self.has_i_ext_t = True
        self.step_graph = None

    def set_monitors(self, net: NetworkLike) -> None:
        # a CUDA graph of the step records nothing: whether one may be used is decided again
        # (kernels/network_torch.py) with these monitors
        self.step_graph = None
        self.mon_mask = torch.zeros(self.n_total, dtype=torch.uint8)
        for name, m in net.spike_monitors.items():
            m.start = self.starts[name]
            self.mon_mask[m.start : m.start + m.n] = 1
        cols, col = [], 0
        self.rec_stride = 1
        for name, m in net.state_monitors.items():
            m.column = col
            cols.append(m.neurons + self.starts[name])
            col += len(m.neurons)
            self.rec_stride = m.stride
        self.rec_idx = torch.cat(cols) if cols else torch.zeros(0, dtype=torch.int64)
        self.n_mon = int(self.mon_mask.sum())

    # ------------------------------------------------------------------ random blocks
    def _block(self, net: NetworkLike, stream: str, block: int, shape: tuple, kind: str) -> Tensor:
        cached = self._block_cache.get(stream)
        if cached is not None and cached[0] == block:
            return cached[1]
        g = _rng.torch_generator(net.seed, stream, block)
        x = (torch.randn if kind == "normal" else torch.rand)(
            shape, generator=g, dtype=torch.float64
        )
        self._block_cache[stream] = (block, x)
        return x

    def _segment_inputs(self, net: NetworkLike, t: int, n: int) -> tuple[Tensor, Tensor, Tensor]:
        """Noise, time-varying currents and source spikes for steps ``t .. t+n`` (one block)."""
        B, K = net.batch, _rng.BLOCK
        block, off = divmod(t, K)
        if self.has_noise:
            noise = self._block(net, "noise", block, (K, B, self.n_lif), "normal")[off : off + n]
            noise = noise.to(self.real)  # drawn in float64 (the same numbers in either precision)
        else:
            noise = torch.zeros(0, B, self.n_lif, dtype=self.real)
        if self.has_i_ext_t:
            cur = self.i_ext.expand(n, -1, -1).clone()
            for name, vals, start in net._currents_t:
                s, m = self.starts[name], net._pops[name]["n"]
                lo, hi = max(t, start), min(t + n, start + vals.shape[0])
                if lo < hi:
                    cur[lo - t : hi - t, :, s : s + m] += vals[lo - start : hi - start].to(
                        cur.device)
        else:
            cur = torch.zeros(0, B, self.n_lif, dtype=self.real)
        n_src = self.n_total - self.n_lif
        src = torch.zeros(n, B, n_src, dtype=torch.uint8)
        for name in self.src_names:
            p = net._pops[name]
            s = self.starts[name] - self.n_lif
            if p["kind"] == "poisson":
                u = self._block(net, f"poisson:{name}", block, (K, B, p["n"]), "uniform")
                prob = p["rates"] * (net.dt_ms * 1e-3)
                src[:, :, s : s + p["n"]] = (u[off : off + n] < prob).to(torch.uint8)
            else:
                steps = p["steps"]
                a = int(torch.searchsorted(steps, t))
                z = int(torch.searchsorted(steps, t + n))
                if z > a:
                    st, ix, bi = steps[a:z] - t, p["idx"][a:z] + s, p["bidx"][a:z]
                    every = bi < 0
                    if every.any():
                        src[st[every], :, ix[every]] = 1
                    one = ~every
                    if one.any():
                        src[st[one], bi[one], ix[one]] = 1
        return noise, cur, src

    # ------------------------------------------------------------------ loop
    def advance(self, net: NetworkLike, n_steps: int, bar: Any) -> None:
        end = net.step + n_steps
        if self.by_matrices and self.delivery_stale:  # weights loaded or handed out since
            from ..kernels.network_torch import delivery_matrices

            self.delivery = delivery_matrices(self)
            self.delivery_stale = False
            self.step_graph = None  # captured again from these matrices at the first step
        span = self._free_span(net)
        while net.step < end:
            t = net.step
            n = min(end, (t // _rng.BLOCK + 1) * _rng.BLOCK) - t
            if span:  # nothing is drawn per block: one kernel call for many blocks
                n = max(n, min(end - t, span))
            noise, cur, src = self._segment_inputs(net, t, n)
            done = 0
            while done < n:
                k = self._run_segment(
                    net,
                    t + done,
                    n - done,
                    noise[done:] if self.has_noise else noise,
                    cur[done:] if self.has_i_ext_t else cur,
                    src[done:],
                )
                done += k
                net.step = t + done
                bar.update(k)

    def _free_span(self, net: NetworkLike) -> int:
        """Steps one kernel call may span when the network has no per-block inputs (no noise,
        no Poisson or spike-time sources, no time-varying currents) and records no sampled
        state: then segments need not stop at the random-block grid, and a long run is one
        compiled call instead of one per block (the per-call cost of the argument checks and
        conversions goes). 0 otherwise. Bounded so that the per-segment rate counts stay
        small (8 MiB)."""
        if (self.has_noise or self.has_i_ext_t or self.n_total != self.n_lif
                or self.rec_idx.numel() or net.backend != "numba"):
            return 0
        return max(_rng.BLOCK, (1 << 20) // max(1, net.batch * self.n_pops))

    def _run_segment(self, net, t, n, noise, cur, src) -> int:
        B = net.batch
        cap = max(EV_CAP_MIN, 4 * B * self.n_mon)
        ev = np.empty((3, cap), dtype=np.int64)
        ev_n = np.zeros(1, dtype=np.int64)
        R = self.rec_idx.numel()
        n_rec = len(range(t + (-t) % self.rec_stride, t + n, self.rec_stride)) if R else 0
        rec_v = np.zeros((n_rec, B, R))
        rec_th = np.zeros((n_rec, B, R))
        rec_is = np.zeros((n_rec, B, R, self.C))
        rec_n = np.zeros(1, dtype=np.int64)
        pop_counts = np.zeros((n, B, self.n_pops), dtype=np.int64)
        if net.backend == "numba":
            done = self._run_steps(
                *self._kernel_args(t, n, noise, cur, src),
                self.spike_count.numpy(),
                self.synops.numpy(),
                self.pop_of.numpy(),
                pop_counts,
                self.mon_mask.numpy(),
                ev[0],
                ev[1],
                ev[2],
                ev_n,
                self.rec_idx.numpy(),
                self.rec_stride,
                rec_v,
                rec_th,
                rec_is,
                rec_n,
            )
        else:
            from ..kernels import network_torch

            run = (network_torch.run_steps_device if self.by_matrices
                   else network_torch.run_steps_reference)
            done = run(self, t, n, noise, cur, src, pop_counts, ev, ev_n, rec_v, rec_th, rec_is,
                       rec_n)
        m = int(ev_n[0])
        if m:
            for mon in net.spike_monitors.values():
                mon._append(ev[0, :m], ev[1, :m], ev[2, :m])
        r = int(rec_n[0])
        if r:
            steps = np.arange(t + (-t) % self.rec_stride, t + done, self.rec_stride)[:r]
            for mon in net.state_monitors.values():
                mon._append(steps, rec_v[:r], rec_th[:r], rec_is[:r])
        for mon in net.rate_monitors.values():
            mon._append(pop_counts[:done])
        return done

    def _kernel_args(self, t, n, noise, cur, src) -> tuple:
        c = self.coef
        npy = lambda x: x.contiguous().numpy()  # noqa: E731
        return (
            t,
            n,
            self.n_lif,
            self.n_total,
            self.v.numpy(),
            self.isyn.numpy(),
            self.theta.numpy(),
            self.ref_left.numpy(),
            self.buf.numpy(),
            npy(c.decay_v),
            npy(c.v_rest),
            npy(c.v_reset),
            npy(c.v_thresh),
            npy(c.drive_ext),
            npy(c.decay_syn.T),
            npy(c.drive_syn.T),
            npy(c.noise_scale),
            npy(c.decay_theta),
            npy(c.theta_plus),
            npy(c.ref_steps),
            npy(c.subtract_reset),
            npy(c.q_step),
            npy(c.q_lo),
            npy(c.q_hi),
            npy(c.q_coef),
            npy(c.rounding),
            npy(c.overflow),
            npy(self.digital_idx),
            self.seg_bounds,
            self.seg_fast,
            self.i_ext.numpy(),
            npy(cur) if self.has_i_ext_t else np.zeros((1, 1, 1), self.v.numpy().dtype),
            self.has_i_ext_t,
            npy(noise) if self.has_noise else np.zeros((1, 1, 1), self.v.numpy().dtype),
            self.has_noise,
            npy(src),
            npy(self.proj_pre_start),
            npy(self.proj_pre_stop),
            npy(self.proj_post_start),
            npy(self.proj_channel),
            npy(self.proj_ptr_off),
            npy(self.proj_syn_off),
            npy(self.indptr),
            npy(self.indices),
            self._w.numpy(),
            npy(self.proj_woff),
            npy(self.proj_wval),
            npy(self.delays),
            npy(self.proj_delay),
            npy(self.proj_plastic),
            npy(self.stdp_prm),
            npy(self.stdp_flags),
            npy(self.stdp_xoff),
            self.stdp_x.numpy(),
            npy(self.csc_ptr),
            npy(self.csc_perm),
            npy(self.csc_rows),
            npy(self.csc_ptr_off),
            npy(self.csc_syn_off),
            npy(self.proj_gated),
            self.gate.numpy(),
        )

    def _warm_up_kernel(self, net: NetworkLike) -> None:
        """Load the loop compiled ahead of time (``neuroplastic compile``: no numba in the
        process), else compile it (or load it from numba's cache) once; the time is
        ``compile_s``."""
        t0 = time.perf_counter()
        from ..kernels import aot

        built = aot.load("network")
        if built is not None:
            from ..kernels._checks import checked
            from ..kernels.network_spec import RUN_STEPS

            run_steps = checked(RUN_STEPS, "run_steps")(built._run_steps)
            cold = True  # one call of zero steps: falls back to numba for types not built
        else:
            from ..kernels.network_numba import run_steps  # the first import loads numba itself

            real = str(self.v.numpy().dtype)  # one compiled specialization per precision
            cold = not any(f"array({real}" in str(sig[4]) for sig in run_steps.signatures)
        self._run_steps = run_steps
        net.kernel_origin = "jit" if built is None else "aot"
        if cold:
            B = net.batch
            zeros = lambda *s: np.zeros(s)  # noqa: E731
            izeros = lambda *s: np.zeros(s, dtype=np.int64)  # noqa: E731
            args = list(
                self._kernel_args(
                    0,
                    0,
                    torch.zeros(1, B, self.n_lif, dtype=self.real),
                    torch.zeros(1, B, self.n_lif, dtype=self.real),
                    torch.zeros(1, B, self.n_total - self.n_lif, dtype=torch.uint8),
                )
            )
            args[0:2] = [0, 0]
            args[4:9] = [a.copy() for a in args[4:9]]
            args[-8] = args[-8].copy()  # stdp_x
            run_steps(
                *args,
                izeros(self.n_total),
                izeros(len(self.proj_names)),
                self.pop_of.numpy(),
                izeros(1, B, self.n_pops),
                self.mon_mask.numpy(),
                izeros(4),
                izeros(4),
                izeros(4),
                izeros(1),
                self.rec_idx.numpy(),
                1,
                zeros(0, B, 0),
                zeros(0, B, 0),
                zeros(0, B, 0, self.C),
                izeros(1),
            )
        net.compile_s += time.perf_counter() - t0  # (after the samplers' load, if any)


_NP = {torch.int32: np.int32, torch.int64: np.int64}


def _coefficients(net: NetworkLike, lif: list[str], C: int,
                  real: torch.dtype) -> tuple[LIFCoefficients, list[bool]]:
    """Per-neuron coefficients of the LIF populations ``lif`` in order (mismatch drawn once
    per population stream), synaptic ones padded to ``C`` channels, real-valued ones stored in
    ``real`` (realized in float64 and rounded once, as ``.to(real)`` would); and, per
    population, whether all its neurons have the same coefficients by construction
    (:func:`~neuroplastic.neurons.lif.uniform_lif`)."""
    pops = net._pops
    n_lif = sum(pops[k]["n"] for k in lif)
    coef = LIFCoefficients(  # pages are written (hence resident) population by population
        *[
            torch.empty(
                (n_lif, C) if f in ("decay_syn", "drive_syn") else (n_lif,),
                dtype=torch.int64
                if f in ("ref_steps", "subtract_reset", "rounding", "overflow")
                else real,
            )
            for f in LIFCoefficients._fields
        ]
    )
    s, same = 0, []
    for k in lif:  # each population copied in as it is drawn, then released (less memory)
        p = pops[k]
        part = uniform_lif(p["params"], p["substrate"], p["n"], net.dt_ms)  # no copy made
        same.append(part is not None)
        if part is None:
            g = _rng.torch_generator(net.seed, "mismatch", k)
            part = realize_lif(p["params"], p["substrate"], p["n"], net.dt_ms, generator=g)
        part = list(part)
        for f, out in enumerate(coef):  # each field released once copied
            x, part[f] = part[f], None
            if x.dim() == 2:  # padding channels are zero
                out[s : s + p["n"], : x.shape[1]] = x
                out[s : s + p["n"], x.shape[1] :] = 0
            else:
                out[s : s + p["n"]] = x
            del x
        s += p["n"]
    return coef, same


def _bits(x: Tensor) -> Tensor:
    """The bits of the float64 or float32 tensor ``x`` as integers of the same width."""
    x = x if x.is_contiguous() else x.contiguous()
    return x.view(torch.int64 if x.dtype == torch.float64 else torch.int32)


def _all_same_bits(x: Tensor) -> bool:
    """Every element of the float tensor ``x`` has the bits of ``x[0]`` (so -0.0 and +0.0
    differ)."""
    b = _bits(x)
    return bool((b == b[0]).all())


def _ref_dtype(ref_steps: Tensor) -> torch.dtype:
    """Refractory counters: int16 — less memory streamed per step (2 bytes per neuron instead
    of int64's 8) — unless a refractory period is 2**15 steps or longer (int32); in both
    precisions."""
    top = int(ref_steps.max()) if ref_steps.numel() else 0
    return torch.int16 if top < 2**15 else torch.int32


def _shared_delay(proj) -> int:
    """The delay (steps) every synapse of ``proj`` has, or -1 when they differ."""
    d = proj.delays
    if d.numel() == 0:  # nothing is delivered: any delay will do
        return 0
    if d.stride(0) == 0 or bool((d == d[0]).all()):
        return int(d[0])
    return -1


# Coefficients the fused update (and reset) of the compiled kernel reads as scalars (one per
# segment).
_FUSED = ("decay_v", "v_rest", "v_thresh", "drive_ext", "noise_scale", "decay_syn", "drive_syn",
          "v_reset", "ref_steps", "subtract_reset")


def _uniform_segments(coef: LIFCoefficients, bounds: list[int], C: int,
                      same: list[bool] | None = None):
    """Split the LIF neurons at the population ``bounds`` into segments and mark those whose
    neurons share every coefficient of :data:`_FUSED` (analog, no threshold adaptation, at
    most 2 channels): the kernel updates them in one fused pass with scalar coefficients.
    Adjacent such segments with equal coefficients merge. ``same[i]``: population ``i``'s
    neurons are known to share all their coefficients (its first neuron tells; else every
    neuron is compared). Returns ``(bounds (S+1,), fast (S,))`` as int64 numpy arrays."""
    segs: list[list] = []  # [lo, hi, key or None]
    for i, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        if hi <= lo:
            continue
        key = None
        known = same is not None and same[i]
        end = lo + 1 if known else hi
        if C <= 2 and not bool((coef.q_step[lo:end] != 0).any()) and not bool(
            (coef.theta_plus[lo:end] != 0).any()
        ):
            cols = [getattr(coef, f)[lo:hi] for f in _FUSED]
            if known or all(bool((c == c[:1]).all()) for c in cols):
                key = tuple(c[0].reshape(-1).tolist() for c in cols)
        if segs and key is not None and segs[-1][2] == key:
            segs[-1][1] = hi
        else:
            segs.append([lo, hi, key])
    b = np.array([s[0] for s in segs] + [bounds[-1]], dtype=np.int64)
    return b, np.array([s[2] is not None for s in segs], dtype=np.int64)
