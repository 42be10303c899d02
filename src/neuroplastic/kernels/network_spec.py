"""What every argument of the network loop ``run_steps`` must be (dtype, shape, layout, value
range), checked before compiled code runs (:mod:`neuroplastic.kernels._checks`).

Shared by the two builds of the same loop: :mod:`.network_numba` (compiled on first use) and
:mod:`.aot` (compiled ahead of time into extension modules) — numba-free, so that the
ahead-of-time build runs without importing numba.
"""

from __future__ import annotations

import numpy as np

__all__ = ["RUN_STEPS"]


def _weight_layout(a) -> str:
    """Spec of ``proj_woff`` after checking that every stored projection's synapses lie within
    ``weights`` (and that plastic ones are stored): the loop reads ``weights[proj_woff[p] +
    e]`` for ``indptr`` values ``e`` of projection ``p`` without bounds checks."""
    woff, indptr = a["proj_woff"], a["indptr"]
    if not (isinstance(woff, np.ndarray) and woff.dtype == np.int64 and woff.ndim == 1
            and isinstance(indptr, np.ndarray) and indptr.dtype == np.int64
            and isinstance(a["weights"], np.ndarray)):
        return "i8[P]"  # the type checks name the argument
    try:
        starts, stops = np.asarray(a["proj_pre_start"]), np.asarray(a["proj_pre_stop"])
        ptr_off, plastic = np.asarray(a["proj_ptr_off"]), np.asarray(a["proj_plastic"])
        for p in range(woff.shape[0]):
            seg = indptr[ptr_off[p] : ptr_off[p] + stops[p] - starts[p] + 1]
            top = int(seg.max()) if seg.size else 0
            if woff[p] < -1 or (woff[p] == -1 and plastic[p]) or (
                    woff[p] >= 0 and woff[p] + top > a["weights"].shape[0]):
                raise ValueError(
                    f"run_steps: proj_woff[{p}] = {woff[p]} does not place projection {p}'s "
                    f"synapses (up to {top}) within weights of {a['weights'].shape[0]}, or is "
                    f"-1 for a plastic projection")
    except (IndexError, TypeError):
        return "i8[P]"  # shapes are checked (and named) by the spec
    return "i8[P]"



# What every array of :func:`_run_steps` must be (kernels/_checks.py): the loop has no bounds
# checks, so a wrong dtype, shape or layout would read or write out of bounds. Shapes: B trials,
# C channels, n_lif LIF neurons of n_total, P projections, nnz synapses, R recorded neurons.
_PER_LIF = ("decay_v", "v_rest", "v_reset", "v_thresh", "drive_ext", "noise_scale",
            "decay_theta", "theta_plus", "q_step", "q_lo", "q_hi", "q_coef_unused")
_PROJ = ("proj_ptr_off", "proj_syn_off", "csc_ptr_off", "csc_syn_off")
RUN_STEPS = {
    "t0": "int >=0", "n_steps": "int >=0", "n_lif": "int >=0", "n_total": "int >=n_lif",
    # ``real``: float64 (the reference precision) or float32, the same for the state, the
    # coefficients, the currents and the weights of one call (Network(dtype=...))
    "v": "real[B,n_lif] out", "isyn": "real[B,C,n_lif] out", "theta": "real[B,n_lif] out",
    # refractory counters: int16, or int32 for refractory periods of 2**15 steps or more
    # (simulation._ref_dtype), in both precisions
    "ref_left": lambda a: ("i2" if np.asarray(a["ref_left"]).dtype == np.int16 else "i4")
    + "[B,n_lif] out",
    "buf": "real[D,B,C,n_lif] out",
    **{k: "real[n_lif]" for k in _PER_LIF},
    "decay_syn": "real[C,n_lif]", "drive_syn": "real[C,n_lif]",
    **{k: "i8[n_lif]" for k in ("ref_steps", "sub_reset", "rounding", "overflow")},
    "digital_idx": "i8[*] >=0 <n_lif",
    "seg_bounds": "i8[S1] >=0 <=n_lif", "seg_fast": "i8[S1-1]",
    "i_ext": "real[B,n_lif]", "has_i_ext_t": "bool", "has_noise": "bool",
    "i_ext_t": lambda a: "real[>=n_steps,B,n_lif]" if a["has_i_ext_t"] else None,
    "noise": lambda a: "real[>=n_steps,B,n_lif]" if a["has_noise"] else None,
    "src_spikes": "u1[>=n_steps,B,n_total-n_lif]",
    "proj_pre_start": "i8[P] >=0 <=n_total", "proj_pre_stop": "i8[P] >=0 <=n_total",
    "proj_post_start": "i8[P] >=0 <=n_lif", "proj_channel": "i8[P] >=0 <C",
    **{k: "i8[P] >=0" for k in _PROJ},
    # weights[proj_woff[p] + e]: synapse e of projection p (proj_woff[p] = -1: proj_wval[p]
    # for all, not stored; never for plastic projections), checked by _weight_layout
    "weights": "real[*] out", "indices": "i4[nnz] >=0 <n_lif",
    "proj_wval": "real[P]",
    "indptr": "i8[*] >=0 <=nnz",
    # 1 + the delay every synapse of projection p shares, or 0 (each has its own: read delays)
    "proj_delay": "i8[P] >=0",
    # per synapse, read only for projections with proj_delay 0 (else unused, any length)
    "delays": lambda a: ("i8[nnz] >=0" if np.any(np.asarray(a["proj_delay"]) == 0)
                         else "i8[*]"),
    "proj_plastic": "i8[P]", "stdp_prm": "f8[P,8]", "stdp_flags": "i8[P,4]",
    "stdp_xoff": "i8[P,3] >=0", "stdp_x": "f8[B,*] out",
    "csc_ptr": "i8[*] >=0", "csc_perm": "i8[*] >=0", "csc_rows": "i8[*] >=0",
    "proj_gated": "i8[P]",
    # one gate factor per synapse when a projection has a gate (else unused, any length)
    "gate": lambda a: "f8[nnz] >=0 <=1" if np.any(np.asarray(a["proj_gated"]) != 0) else "f8[*]",
    "spike_count": "i8[n_total] out", "synops": "i8[P] out",
    "pop_counts": "i8[>=n_steps,B,n_pops] out", "pop_of": "i8[n_total] >=0 <n_pops",
    "mon_mask": "u1[n_total]",
    **{k: "i8[E] out" for k in ("ev_step", "ev_batch", "ev_neuron")}, "ev_n": "i8[1] out >=0",
    "rec_idx": "i8[R] >=0 <n_lif", "rec_stride": "int >=1",
    # rows for the sampled steps t0 <= t < t0 + n_steps with t % rec_stride == 0 (from row 0);
    # unused when nothing is recorded
    **{k: (lambda a, s=s: s if len(a["rec_idx"]) and a["n_steps"] else None) for k, s in (
        ("rec_v", "f8[>=(t0+n_steps-1)//rec_stride-(t0-1)//rec_stride,B,R] out"),
        ("rec_theta", "f8[>=(t0+n_steps-1)//rec_stride-(t0-1)//rec_stride,B,R] out"),
        ("rec_isyn", "f8[>=(t0+n_steps-1)//rec_stride-(t0-1)//rec_stride,B,R,C] out"),
    )},
    "rec_n": "i8[1] out >=0 <=0",
    # last: checked against the other (already checked) arguments
    "proj_woff": _weight_layout,
}
