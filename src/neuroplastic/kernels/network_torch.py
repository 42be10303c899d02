"""Reference network loop in plain torch: one Python iteration per step, vectorized over
neurons. It is the specification the compiled kernel is tested against (bit for bit) and the
backend on non-CPU devices. Same schedule as :mod:`.network_numba`; plastic projections call
:func:`neuroplastic.plasticity.stdp_step` itself after propagation, and a projection with an
importance gate then keeps the fraction ``g`` of that step's change per synapse with
:func:`neuroplastic.continual.gate.gated_update`.

On a GPU (``Network(device="cuda")``) the spikes of a step are delivered by one sparse matrix
product per projection and delay, over all trials of the batch at once
(:func:`delivery_matrices`), instead of the per-trial index loop that defines the order of
the CPU reference: the same sums in another order (equal where the weights add exactly,
tested; within rounding otherwise). Static projections only: plastic ones are refused on
devices other than the CPU (:class:`~neuroplastic.network.simulation.Simulation`).
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import torch

from ..neurons.lif import LIFState, lif_step, receive_synaptic
from ..plasticity.stdp import STDPState, stdp_step

# a projection's matrix is dense on a GPU up to this size (one GEMV/GEMM per step is far
# cheaper there than a sparse product's set-up), sparse CSR beyond and on the CPU
DENSE_MAX_BYTES = 1 << 27


def _dense_ok(dev: torch.device, nbytes: int) -> bool:
    return dev.type != "cpu" and nbytes <= DENSE_MAX_BYTES


def delivery_matrices(sim) -> list[tuple[int, int, int, int, int, int, int, torch.Tensor]]:
    """For each projection and each delay of its synapses: ``(p, lo, hi, post0, n_post,
    channel, delay, M)`` with ``M`` the ``(n_post, n_pre)`` sparse CSR matrix of those
    synapses' weights (repeated pairs summed) on the state's device, in the state's dtype, or
    on a GPU, where it has at most :data:`DENSE_MAX_BYTES`, its dense ``(n_pre, n_post)``
    transpose."""
    dev, real = sim.v.device, sim.v.dtype
    w_all = sim.weights_snapshot()
    out = []
    for p in range(len(sim.proj_names)):
        lo, hi = int(sim.proj_pre_start[p]), int(sim.proj_pre_stop[p])
        po, so = int(sim.proj_ptr_off[p]), int(sim.proj_syn_off[p])
        nnz = sim.proj_nnz[p]
        if nnz == 0:
            continue
        n_pre = hi - lo
        n_post = sim._projs[p].n_post
        ptr = sim.indptr[po : po + n_pre + 1]
        pre = torch.repeat_interleave(torch.arange(n_pre), ptr[1:] - ptr[:-1])
        post = sim.indices[so : so + nnz].to(torch.int64)
        w = w_all[so : so + nnz].to(real)
        dp = int(sim.proj_delay[p]) - 1  # -1: per synapse
        d = sim.delays[so : so + nnz] if dp < 0 else torch.full((nnz,), dp, dtype=torch.int64)
        for delay in torch.unique(d).tolist():
            sel = d == delay
            with warnings.catch_warnings():  # torch >= 2.11 warns though it is checked here
                warnings.filterwarnings("ignore", message="Sparse invariant checks")
                m = torch.sparse_coo_tensor(torch.stack([post[sel], pre[sel]]), w[sel],
                                            (n_post, n_pre), check_invariants=True).coalesce()
            if _dense_ok(dev, n_pre * n_post * w.element_size()):
                m = m.to_dense().t().contiguous().to(dev)  # (n_pre, n_post): s @ m
            else:
                with warnings.catch_warnings():  # "sparse CSR support is in beta"
                    warnings.simplefilter("ignore", UserWarning)
                    m = m.to_sparse_csr().to(dev)
            out.append((p, lo, hi, int(sim.proj_post_start[p]), n_post,
                        int(sim.proj_channel[p]), int(delay), m))
    return out


def _deliver_by_matrices(sim, spikes, t, mats) -> None:
    """This step's synaptic events by :func:`delivery_matrices` (all trials at once)."""
    D = sim.D
    for _p, lo, hi, post0, n_post, ch, delay, m in mats:
        s = spikes[:, lo:hi].to(m.dtype)
        add = (m @ s.t()).t() if m.layout == torch.sparse_csr else s @ m  # (B, n_post)
        if delay == 0:
            sim.isyn[:, ch, post0 : post0 + n_post] += add
        else:
            sim.buf[(t + delay) % D, :, ch, post0 : post0 + n_post] += add


def _tally(sim, n_pops: int) -> torch.Tensor:
    """``(n_total, pops + P)`` float64: one product ``spikes @ tally`` per step counts both
    the spikes per trial and population (``tally[i, q] = 1`` if neuron ``i`` is in population
    ``q``) and the synaptic events per trial and projection (``tally[i, pops + p]`` = the
    fan-out of ``i`` in projection ``p``); exact for counts below 2**53."""
    P = len(sim.proj_names)
    tally = torch.zeros(sim.n_total, n_pops + P, dtype=torch.float64)
    tally[torch.arange(sim.n_total), sim.pop_of] = 1.0
    for p, (po, lo, hi) in enumerate(zip(sim.proj_ptr_off.tolist(), sim.proj_pre_start.tolist(),
                                          sim.proj_pre_stop.tolist())):
        ptr = sim.indptr[po : po + hi - lo + 1]
        tally[lo:hi, n_pops + p] = (ptr[1:] - ptr[:-1]).to(torch.float64)
    return tally.to(sim.v.device)


def _device_step(sim, t, i_ext, z, src_k, mats, tally, out_row, spike_count, analog):
    """One step on the device, with no host synchronisation: neurons, counters into
    ``out_row`` / ``spike_count``, delivery. Returns the spikes ``(B, n_total)``."""
    state = LIFState(sim.v, sim.isyn.transpose(1, 2), sim.theta, sim.ref_left)
    state, spk_lif = lif_step(state, sim.coef, i_ext, z, analog=analog)
    sim.v.copy_(state.v)
    sim.isyn.copy_(state.i_syn.transpose(1, 2))
    sim.theta.copy_(state.theta)
    sim.ref_left.copy_(state.ref_left)
    spikes = torch.cat([spk_lif, src_k], dim=1)
    spike_count += spikes.sum(0)
    torch.mm(spikes.to(torch.float64), tally, out=out_row)
    _deliver_by_matrices(sim, spikes, t, mats)
    return spikes


def _end_of_step(sim, t, rec_v, rec_th, rec_is, rec_n) -> None:
    """The end of step ``t`` (both loops): this step's slot of the delay buffer joins the
    currents, digital currents are re-quantized, sampled state is recorded."""
    D = sim.D
    if D > 1:
        slot = t % D
        sim.isyn.add_(sim.buf[slot])
        sim.buf[slot].zero_()
    if sim.digital_idx.numel():
        fixed = receive_synaptic(sim.isyn.transpose(1, 2), torch.zeros(()), sim.coef)
        sim.isyn.copy_(fixed.transpose(1, 2))
    R = sim.rec_idx.numel()
    if R and t % sim.rec_stride == 0:
        r = int(rec_n[0])
        rec_v[r] = sim.v[:, sim.rec_idx].cpu().numpy()
        rec_th[r] = sim.theta[:, sim.rec_idx].cpu().numpy()
        rec_is[r] = sim.isyn[:, :, sim.rec_idx].transpose(1, 2).cpu().numpy()
        rec_n[0] = r + 1


def _graph_ok(sim, mon_idx) -> bool:
    """Whether a step can be one CUDA graph: on a CUDA device, no delays (the ring buffer's
    slot would change per step), analog neurons, no spike or state monitors (they read spikes
    back every step), dense delivery matrices (a sparse product allocates while it runs), unless
    ``$NEUROPLASTIC_CUDA_GRAPHS=0`` turns graphs off (tests/test_cuda.py checks that a replayed
    step gives the same spikes, counters and states as the eager one)."""
    return (sim.v.device.type == "cuda" and sim.D == 1 and not sim.digital_idx.numel()
            and not mon_idx.numel() and not sim.rec_idx.numel()
            and all(m.layout == torch.strided for *_, m in sim.delivery)
            and os.environ.get("NEUROPLASTIC_CUDA_GRAPHS", "1") != "0")


class _StepGraph:
    """One step captured as a CUDA graph (static input buffers, counters into static
    outputs): replaying it launches every kernel of the step at once, instead of ~40
    launches of a few microseconds of work each."""

    def __init__(self, sim, tally) -> None:
        B, dev = sim.v.shape[0], sim.v.device
        n_src = sim.n_total - sim.n_lif
        self.z = torch.zeros_like(sim.v) if sim.has_noise else None
        self.cur = torch.zeros_like(sim.v) if sim.has_i_ext_t else None
        self.src = torch.zeros(B, n_src, dtype=torch.bool, device=dev)
        self.out = torch.zeros(B, tally.shape[1], dtype=torch.float64, device=dev)
        self.spike_count = torch.zeros(sim.n_total, dtype=torch.int64, device=dev)
        # every tensor the captured kernels read must outlive the graph: the replay reads
        # their memory, which the allocator would otherwise hand to other tensors
        self.tally = tally
        saved = [x.clone() for x in (sim.v, sim.isyn, sim.theta, sim.ref_left)]

        def step():
            i_ext = self.cur if self.cur is not None else sim.i_ext
            _device_step(sim, 0, i_ext, self.z, self.src, sim.delivery, tally, self.out,
                         self.spike_count, True)

        try:
            side = torch.cuda.Stream(dev)
            side.wait_stream(torch.cuda.current_stream(dev))
            with torch.cuda.stream(side):  # warm-up (libraries' lazy set-up), then undone
                step()
                step()
            torch.cuda.current_stream(dev).wait_stream(side)
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):
                step()
        finally:  # the state as it was, whether the capture worked or not
            for x, y in zip((sim.v, sim.isyn, sim.theta, sim.ref_left), saved):
                x.copy_(y)
            self.spike_count.zero_()


def run_steps_device(
    sim, t0, n_steps, noise, cur, src, pop_counts, ev, ev_n, rec_v, rec_th, rec_is, rec_n
) -> int:
    """The reference step on the state's device, for static networks: spikes never leave the
    device except those of monitored neurons; the counters (spikes, per-population counts,
    synaptic events) accumulate there and are copied once per call; spikes are delivered by
    :func:`delivery_matrices` (all trials at once). Without spike or state monitors a whole
    segment runs without waiting for the device, and on a GPU (no delays, analog neurons,
    small projections) each step can be one replay of a CUDA graph (:class:`_StepGraph`;
    ``NEUROPLASTIC_CUDA_GRAPHS=0`` steps eagerly: same numbers, on an H200 2-4x slower for
    1-64 trials of CUBA, the same for 2048)."""
    B = sim.v.shape[0]
    dev = sim.v.device
    mon_idx = torch.nonzero(sim.mon_mask).flatten().to(dev)
    ev_cap = ev.shape[1]
    mats = sim.delivery
    src = src.to(dev, torch.bool)
    noise = noise.to(dev) if sim.has_noise else None
    cur = cur.to(dev) if sim.has_i_ext_t else None
    n_pops = pop_counts.shape[2]
    tally = _tally(sim, n_pops)
    per_step = torch.zeros(n_steps, B, tally.shape[1], dtype=torch.float64, device=dev)
    spike_count = torch.zeros(sim.n_total, dtype=torch.int64, device=dev)
    analog = not sim.digital_idx.numel()
    graph = sim.step_graph
    if graph is None and _graph_ok(sim, mon_idx):
        try:
            graph = _StepGraph(sim, tally)
        except Exception as e:  # noqa: BLE001 -- capture refused: the eager steps are the same
            warnings.warn(f"neuroplastic: CUDA graph capture failed ({e}); stepping eagerly",
                          RuntimeWarning, stacklevel=2)
            graph = False
        sim.step_graph = graph
    if graph:
        for k in range(n_steps):
            if noise is not None:
                graph.z.copy_(noise[k])
            if cur is not None:
                graph.cur.copy_(cur[k])
            graph.src.copy_(src[k])
            graph.graph.replay()
            per_step[k].copy_(graph.out)
        spike_count += graph.spike_count
        graph.spike_count.zero_()
        n_steps = 0  # done
    done = per_step.shape[0]
    for k in range(n_steps):
        t = t0 + k
        if int(ev_n[0]) + B * sim.n_mon > ev_cap:
            done = k
            break
        i_ext = cur[k] if cur is not None else sim.i_ext
        z = noise[k] if noise is not None else None
        spikes = _device_step(sim, t, i_ext, z, src[k], mats, tally, per_step[k], spike_count,
                              analog)
        if mon_idx.numel():  # (trial, neuron) of monitored spikes, in the loop's order
            bb, jj = torch.nonzero(spikes[:, mon_idx], as_tuple=True)
            m = bb.numel()
            if m:
                e = int(ev_n[0])
                ev[0, e : e + m] = t
                ev[1, e : e + m] = bb.cpu().numpy()
                ev[2, e : e + m] = mon_idx[jj].cpu().numpy()
                ev_n[0] = e + m
        _end_of_step(sim, t, rec_v, rec_th, rec_is, rec_n)
    tallied = per_step[:done].cpu()
    pop_counts[:done] += tallied[:, :, :n_pops].to(torch.int64).numpy()
    sim.spike_count += spike_count.cpu()
    sim.synops += tallied[:, :, n_pops:].sum((0, 1)).to(torch.int64)
    return done


def run_steps_reference(
    sim, t0, n_steps, noise, cur, src, pop_counts, ev, ev_n, rec_v, rec_th, rec_is, rec_n
) -> int:
    B, C, D = sim.v.shape[0], sim.C, sim.D
    n_lif = sim.n_lif
    dev = sim.v.device
    coef = sim.coef
    mon = sim.mon_mask.to(torch.bool)
    ev_cap = ev.shape[1]
    flat_isyn = sim.isyn.view(-1)
    flat_buf = sim.buf.view(-1)
    for k in range(n_steps):
        t = t0 + k
        if int(ev_n[0]) + B * sim.n_mon > ev_cap:
            return k
        i_ext = cur[k].to(dev) if sim.has_i_ext_t else sim.i_ext
        z = noise[k].to(dev) if sim.has_noise else None
        state = LIFState(sim.v, sim.isyn.transpose(1, 2), sim.theta, sim.ref_left)
        state, spk_lif = lif_step(state, coef, i_ext, z)
        sim.v.copy_(state.v)
        sim.isyn.copy_(state.i_syn.transpose(1, 2))
        sim.theta.copy_(state.theta)
        sim.ref_left.copy_(state.ref_left)
        spikes = torch.cat([spk_lif.cpu(), src[k].to(torch.bool)], dim=1)  # (B, n_total)
        # counters and monitors
        sim.spike_count += spikes.sum(0)
        bb, ii = torch.nonzero(spikes, as_tuple=True)
        np.add.at(pop_counts[k], (bb.numpy(), sim.pop_of[ii].numpy()), 1)
        sel = mon[ii]
        m = int(sel.sum())
        if m:
            e = int(ev_n[0])
            ev[0, e : e + m] = t
            ev[1, e : e + m] = bb[sel].numpy()
            ev[2, e : e + m] = ii[sel].numpy()
            ev_n[0] = e + m
        # propagation: projection-major, trials, neurons ascending, synapses in row order
        for p in range(len(sim.proj_names)):
            lo, hi = int(sim.proj_pre_start[p]), int(sim.proj_pre_stop[p])
            po, so = int(sim.proj_ptr_off[p]), int(sim.proj_syn_off[p])
            post0, ch = int(sim.proj_post_start[p]), int(sim.proj_channel[p])
            for b in range(B):
                pre = torch.nonzero(spikes[b, lo:hi]).flatten()
                if pre.numel() == 0:
                    continue
                a, zz = sim.indptr[po + pre], sim.indptr[po + pre + 1]
                cnt = zz - a
                sim.synops[p] += int(cnt.sum())
                if int(cnt.sum()) == 0:
                    continue
                pos = torch.repeat_interleave(a - torch.cumsum(cnt, 0) + cnt, cnt)
                pos = pos + torch.arange(int(cnt.sum())) + so
                j = post0 + sim.indices[pos].to(torch.int64)
                dp = int(sim.proj_delay[p]) - 1  # -1: per synapse (only then stored)
                d = sim.delays[pos] if dp < 0 else torch.full_like(j, dp)
                w = sim.weights[pos]
                now = d == 0
                if now.any():
                    flat_isyn.index_add_(0, ((b * C + ch) * n_lif + j[now]).to(dev), w[now].to(dev))
                if (~now).any():
                    slot = (t + d[~now]) % D
                    idx = ((slot * B + b) * C + ch) * n_lif + j[~now]
                    flat_buf.index_add_(0, idx.to(dev), w[~now].to(dev))
        # plasticity: stdp_step on this step's spikes, after propagation, projection by projection
        # (gated projections: w_old + g * (w_new - w_old) per synapse, every step)
        for p, (params, layout) in sim.stdp_layouts.items():
            lo, hi = int(sim.proj_pre_start[p]), int(sim.proj_pre_stop[p])
            post0, so = int(sim.proj_post_start[p]), int(sim.proj_syn_off[p])
            a, c = int(sim.stdp_xoff[p, 0]), int(sim.stdp_xoff[p, 1])
            n_post, nnz = layout.n_post, layout.indices.numel()
            x_pre, x_post = sim.stdp_x[:, a : a + hi - lo], sim.stdp_x[:, c : c + n_post]
            gated = bool(sim.proj_gated[p])
            w_old = sim.weights[so : so + nnz].clone() if gated else None
            _, new = stdp_step(
                sim.weights[so : so + nnz],  # a view: updated in place in the shared store
                spikes[:, lo:hi],
                spikes[:, post0 : post0 + n_post],
                STDPState(x_pre, x_post),
                params,
                dt_ms=sim.dt_ms,
                csr=layout,
            )
            x_pre.copy_(new.pre_trace)
            x_post.copy_(new.post_trace)
            if gated:
                from ..continual.gate import gated_update

                w = sim.weights[so : so + nnz]
                w.copy_(gated_update(w_old, w, sim.gate[so : so + nnz]))
        _end_of_step(sim, t, rec_v, rec_th, rec_is, rec_n)
    return n_steps
