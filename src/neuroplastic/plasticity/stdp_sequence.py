r"""Many clock steps of pair-based STDP in one call: :func:`stdp_sequence`, compiled with numba
on the CPU (:mod:`neuroplastic.plasticity._stdp_kernels`), bit-identical to looping
:func:`~neuroplastic.plasticity.stdp_step`. Also the coefficients and flags the compiled
kernels (this one and the network simulator's) read from :class:`~.stdp_params.STDPParams`."""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from torch import Tensor

from .._validation import check_choice
from ._stdp_events import _batch_scale, _check_dt, _weights_layout
from .stdp_layout import CSRLayout
from .stdp_pair import STDPState, stdp_step
from .stdp_params import STDPParams

__all__ = [
    "SEQUENCE_BACKENDS",
    "stdp_sequence",
]

SEQUENCE_BACKENDS = ("auto", "numba", "torch")


def _check_rasters(pre_spikes: Any, post_spikes: Any, state: Any) -> tuple[int, int, int, int]:
    """Validate ``(T, batch, n)`` boolean rasters against the traces; return the sizes."""
    for name, r in (("pre_spikes", pre_spikes), ("post_spikes", post_spikes)):
        if not isinstance(r, Tensor):
            raise ValueError(f"{name} must be a torch tensor, got {type(r).__name__}")
        if r.ndim != 3:
            raise ValueError(
                f"{name} must be a raster of shape (T, batch, n) (one (batch, n) spike array "
                f"per step), got shape {tuple(r.shape)}"
            )
    if pre_spikes.dtype != torch.bool or post_spikes.dtype != torch.bool:
        raise ValueError(
            f"pre_spikes and post_spikes must be boolean tensors, got {pre_spikes.dtype} and "
            f"{post_spikes.dtype}"
        )
    traces = (getattr(state, "pre_trace", None), getattr(state, "post_trace", None))
    if not all(isinstance(x, Tensor) and x.ndim == 2 for x in traces):
        raise ValueError("state must be an STDPState with 2-D pre_trace and post_trace tensors")
    if traces[0].shape[0] != traces[1].shape[0]:
        raise ValueError(
            f"state traces disagree on the batch: pre_trace {tuple(traces[0].shape)}, post_trace "
            f"{tuple(traces[1].shape)}"
        )
    (batch, n_pre), n_post = traces[0].shape, traces[1].shape[1]
    n_steps = pre_spikes.shape[0]
    if pre_spikes.shape != (n_steps, batch, n_pre) or post_spikes.shape != (
        n_steps, batch, n_post
    ):
        raise ValueError(
            f"spike rasters must be pre (T, batch, n_pre) = (T, {batch}, {n_pre}) and post (T, "
            f"batch, n_post) = (T, {batch}, {n_post}) with the same T (batch and sizes from the "
            f"state traces), got {tuple(pre_spikes.shape)} and {tuple(post_spikes.shape)}"
        )
    return n_steps, batch, n_pre, n_post


def _not_compiled_reason(w: Tensor, pre: Tensor, post: Tensor, state: Any, csr: Any) -> str | None:
    """Why the compiled kernel cannot run this call (None: it can)."""
    tensors = [w, pre, post, state.pre_trace, state.post_trace]
    if csr is not None:
        tensors += [csr.indptr, csr.indices, csr.col_ptr, csr.perm, csr.perm_rows]
    if any(x.device.type != "cpu" for x in tensors):
        return "the compiled kernel runs on the CPU; weights, spikes, state and csr must be there"
    if any(x.dtype != torch.float64 for x in (w, state.pre_trace, state.post_trace)):
        return (
            f"the compiled kernel needs float64 weights and traces, got w {w.dtype}, traces "
            f"{state.pre_trace.dtype}/{state.post_trace.dtype}"
        )
    if any(x.requires_grad for x in (w, state.pre_trace, state.post_trace)):
        return "the compiled kernel does not track gradients (w or the traces require grad)"
    return None


def _kernel_coefficients(params: STDPParams, dt_ms: float, batch_scale: float) -> list[float]:
    """The factors :func:`stdp_step` multiplies by, in the compiled kernels' order:
    ``dec_pre, dec_post, a_causal, a_acausal, w_zero, eta * batch_scale, w_min, w_max``."""
    form = params.window.trace_form()
    return [
        math.exp(-dt_ms / form.tau_causal_ms),
        math.exp(-dt_ms / form.tau_acausal_ms),
        form.a_causal,
        form.a_acausal,
        form.w_zero,
        params.learning_rate * batch_scale,
        params.w_min,
        params.w_max,
    ]


def _kernel_flags(params: STDPParams) -> list[bool]:
    """``has_w_zero, multiplicative, clip, nearest`` for the compiled kernels."""
    return [
        params.window.trace_form().w_zero != 0.0,
        params.update == "multiplicative",
        math.isfinite(params.w_min) or math.isfinite(params.w_max),
        params.pairing == "nearest",
    ]


def stdp_sequence(
    w: Tensor,
    pre_spikes: Tensor,
    post_spikes: Tensor,
    state: STDPState,
    params: STDPParams,
    *,
    dt_ms: float,
    csr: CSRLayout | None = None,
    backend: Literal["auto", "numba", "torch"] = "auto",
) -> tuple[Tensor, STDPState]:
    r"""``T`` clock steps of :func:`stdp_step` in one call, compiled (numba) on the CPU.

    Exactly the semantics of ``T`` successive :func:`stdp_step` calls on ``pre_spikes[k]``,
    ``post_spikes[k]`` (same order within a step, same pairing, update mode, bounds,
    ``batch_reduce`` and ``norm_target``): the compiled kernel
    (:mod:`neuroplastic.plasticity._stdp_kernels`) repeats the torch arithmetic operation by
    operation, so weights and traces agree bit for bit — except with ``norm_target`` on dense
    weights, where column sums are accumulated in another order (last-bit differences). It is
    event driven: each step costs ∝ spikes × fan-out plus a pass over the traces to decay them.

    Parameters
    ----------
    w : Tensor
        As in :func:`stdp_step`: dense ``(n_pre, n_post)`` / ``(batch, n_pre, n_post)`` or CSR
        values ``(nnz,)`` / ``(batch, nnz)``. **Updated in place** and returned.
    pre_spikes, post_spikes : Tensor, bool ``(T, batch, n_pre)``, ``(T, batch, n_post)``
        Spike rasters, one ``(batch, n)`` array per clock step.
    state : STDPState
        Traces before the first step; not modified (new traces are returned).
    params : STDPParams
        Its window must have a trace form.
    dt_ms : float
        Clock step (ms).
    csr : CSRLayout, optional
        Sparse connectivity; ``None`` for dense weights.
    backend : {'auto', 'numba', 'torch'}
        ``'numba'``: the compiled kernel (float64 weights and traces on the CPU, no autograd;
        anything else raises ``ValueError``). ``'torch'``: a Python loop over :func:`stdp_step`
        (any dtype or device). ``'auto'`` (default): numba where it applies, else torch.
        The first numba call of a process compiles or loads the kernel from numba's cache.

    Returns
    -------
    (w, state)
        The updated weights (the same tensor) and the traces after the last step.
    """
    if not isinstance(params, STDPParams):
        raise ValueError(f"params must be STDPParams, got {type(params).__name__}")
    form = params.window.trace_form()
    if form is None:
        raise ValueError(
            f"window {type(params.window).__name__} has no trace form; loop stdp_history_step"
        )
    dt_ms = _check_dt(dt_ms)
    check_choice("backend", backend, SEQUENCE_BACKENDS)
    n_steps, batch, n_pre, n_post = _check_rasters(pre_spikes, post_spikes, state)
    per_trial, _ = _weights_layout(w, batch, n_pre, n_post, csr)
    reason = None if backend == "torch" else _not_compiled_reason(
        w, pre_spikes, post_spikes, state, csr
    )
    if backend == "numba" and reason is not None:
        raise ValueError(f"backend='numba' cannot run this call: {reason}")
    if backend == "torch" or reason is not None:
        for k in range(n_steps):
            w, state = stdp_step(
                w, pre_spikes[k], post_spikes[k], state, params, dt_ms=dt_ms, csr=csr
            )
        return w, state

    import numpy as np

    from ._stdp_kernels import raster_words, stdp_sequence_kernel

    x_pre = state.pre_trace.detach().clone(memory_format=torch.contiguous_format)
    x_post = state.post_trace.detach().clone(memory_format=torch.contiguous_format)
    if n_steps == 0:
        return w, STDPState(x_pre, x_post)
    w_flat = w.view(batch if per_trial else 1, -1)
    empty = np.empty(0, dtype=np.int64)
    lay = [empty] * 5 if csr is None else [
        x.contiguous().numpy() for x in (csr.indptr, csr.indices, csr.col_ptr, csr.perm,
                                         csr.perm_rows)
    ]
    prm = np.array(
        _kernel_coefficients(params, dt_ms, _batch_scale(per_trial, batch, params.batch_reduce))
        + [0.0 if params.norm_target is None else params.norm_target], dtype=np.float64,
    )
    flags = np.array(
        [csr is None, *_kernel_flags(params), per_trial, params.norm_target is not None],
        dtype=np.int64,
    )
    pre_np, post_np = pre_spikes.contiguous().numpy(), post_spikes.contiguous().numpy()
    pre_bytes, pre_words, pre_head = raster_words(pre_np)
    post_bytes, post_words, post_head = raster_words(post_np)
    stdp_sequence_kernel(
        w_flat.numpy(), pre_np, post_np, pre_bytes, pre_words, post_bytes, post_words,
        np.array([pre_head, post_head], dtype=np.int64), x_pre.numpy(), x_post.numpy(), *lay,
        prm, flags,
    )
    return w, STDPState(x_pre, x_post)
