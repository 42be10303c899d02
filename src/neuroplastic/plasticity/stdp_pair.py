r"""Pair-based STDP: the dense reference sum over spike pairs and the event-driven trace rule.

:func:`stdp_pair_sum` evaluates :math:`\sum_\text{pairs} W(t_\mathrm{post} - t_\mathrm{pre})`
directly from spike times; :func:`stdp_step` runs one clock step on two traces (windows with
a :class:`~.stdp_windows.TraceForm`) and is tested against it. See
:mod:`neuroplastic.plasticity.stdp` for the conventions.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import torch
from torch import Tensor

from .._validation import check_choice, check_int
from ._stdp_events import (
    _apply,
    _batch_scale,
    _bump,
    _check_dt,
    _check_spikes,
    _check_weight_range,
    _take,
    _touched_cols,
    _touched_rows,
    _weights_layout,
)
from .stdp_layout import CSRLayout, normalize_incoming
from .stdp_params import PAIRINGS, STDPParams
from .stdp_windows import Window, _check_window

__all__ = [
    "STDPState",
    "init_stdp_state",
    "stdp_pair_sum",
    "stdp_step",
]

def stdp_pair_sum(
    pre_times_ms: Tensor,
    post_times_ms: Tensor,
    window: Window,
    pairing: Literal["all", "nearest"] = "all",
) -> Tensor:
    r"""Sum of :math:`W(t_\mathrm{post} - t_\mathrm{pre})` over spike pairs, evaluated densely.

    The plain reference for the event-driven rules (no traces, no time grid).

    Parameters
    ----------
    pre_times_ms : Tensor, shape ``(..., m)``
        Presynaptic spike times in ms; ``NaN`` entries are padding and ignored.
    post_times_ms : Tensor, shape ``(..., n)``
        Postsynaptic spike times in ms (``NaN`` = padding). Leading dimensions broadcast, so
        ``pre (n_pre, 1, m)`` and ``post (1, n_post, n)`` give every synapse of a dense layer.
    window : ExponentialWindow | SymmetricWindow | FunctionWindow
    pairing : {'all', 'nearest'}
        ``'all'``: every pre/post pair. ``'nearest'``: each post spike pairs with the latest
        strictly earlier pre spike, each pre spike with the latest strictly earlier post spike,
        and every coincident pair counts once with :math:`W(0)`.

    Returns
    -------
    Tensor, shape ``(...)``
        :math:`\sum W` (without learning rate), dtype of the inputs (float64 recommended).
    """
    check_choice("pairing", pairing, PAIRINGS)
    _check_window("window", window)
    pre = torch.as_tensor(pre_times_ms)
    post = torch.as_tensor(post_times_ms)
    if not pre.is_floating_point():
        pre = pre.to(torch.float64)
    post = post.to(pre.dtype)
    if pre.ndim == 0 or post.ndim == 0:
        raise ValueError("pre_times_ms and post_times_ms must have at least one dimension")
    lag = post.unsqueeze(-2) - pre.unsqueeze(-1)  # (..., m, n): t_post - t_pre
    valid = ~torch.isnan(lag)
    safe = torch.where(valid, lag, torch.zeros_like(lag))
    w = torch.where(valid, window(safe), torch.zeros_like(lag))
    if pairing == "all":
        return w.sum(dim=(-2, -1))
    inf = torch.full_like(lag, math.inf)
    # latest earlier pre for each post spike: smallest positive lag in its column
    causal = torch.where(valid & (lag > 0), lag, inf).amin(dim=-2)  # (..., n)
    has_c = torch.isfinite(causal)
    wc = torch.where(has_c, window(torch.where(has_c, causal, torch.ones_like(causal))), 0.0)
    # latest earlier post for each pre spike: negative lag closest to 0 in its row
    acausal = torch.where(valid & (lag < 0), -lag, inf).amin(dim=-1)  # (..., m)
    has_a = torch.isfinite(acausal)
    wa = torch.where(has_a, window(-torch.where(has_a, acausal, torch.ones_like(acausal))), 0.0)
    zero = torch.where(valid & (lag == 0), w, torch.zeros_like(w)).sum(dim=(-2, -1))
    return wc.sum(dim=-1) + wa.sum(dim=-1) + zero


class STDPState(NamedTuple):
    """Traces of pair-based STDP (dimensionless, 0 at rest)."""

    pre_trace: Tensor  # (batch, n_pre): sum (all) or latest (nearest) of e^{-(t - t_pre)/tau_c}
    post_trace: Tensor  # (batch, n_post): same for post spikes with tau_a


def init_stdp_state(
    batch: int,
    n_pre: int,
    n_post: int,
    *,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> STDPState:
    """Zero traces for ``batch`` trials."""
    batch, n_pre, n_post = (check_int(n, v, 1) for n, v in
                            (("batch", batch), ("n_pre", n_pre), ("n_post", n_post)))
    return STDPState(
        torch.zeros(batch, n_pre, dtype=dtype, device=device),
        torch.zeros(batch, n_post, dtype=dtype, device=device),
    )


def stdp_step(
    w: Tensor,
    pre_spikes: Tensor,
    post_spikes: Tensor,
    state: STDPState,
    params: STDPParams,
    *,
    dt_ms: float,
    csr: CSRLayout | None = None,
) -> tuple[Tensor, STDPState]:
    r"""One clock step of event-driven pair-based STDP on traces.

    Order within the step: traces decay by :math:`e^{-dt/\tau}`; each presynaptic neuron that
    spiked updates its row, :math:`\Delta w_{ij} = \eta\,[a_a\,x^\mathrm{post}_j + W(0)\,
    s^\mathrm{post}_j]`; each postsynaptic neuron that spiked updates its column,
    :math:`\Delta w_{ij} = \eta\,a_c\,x^\mathrm{pre}_i` (:class:`TraceForm` amplitudes); the
    traces then jump by 1 (``'all'``) or reset to 1 (``'nearest'``). A pre and a post spike
    ``k`` steps apart therefore change the weight by exactly :math:`\eta\,W(k\,dt)`.

    Parameters
    ----------
    w : Tensor
        Dense ``(n_pre, n_post)`` (shared) or ``(batch, n_pre, n_post)`` (per trial), or CSR
        values ``(nnz,)`` / ``(batch, nnz)`` with ``csr``. **Updated in place** (only touched
        synapses, cost ∝ spikes × fan-out) and returned; pass ``w.clone()`` to keep the old one.
    pre_spikes, post_spikes : Tensor, bool ``(batch, n_pre)``, ``(batch, n_post)``
    state : STDPState
    params : STDPParams
        Its window must have a trace form (exponential windows); else use
        :func:`stdp_history_step`.
    dt_ms : float
        Clock step (ms).
    csr : CSRLayout, optional
        Sparse connectivity (:func:`csr_layout`); ``None`` for dense weights.

    Returns
    -------
    (w, state)
    """
    form = params.window.trace_form()
    if form is None:
        raise ValueError(
            f"window {type(params.window).__name__} has no trace form; use stdp_history_step"
        )
    dt_ms = _check_dt(dt_ms)
    batch, n_pre = state.pre_trace.shape
    n_post = state.post_trace.shape[1]
    _check_spikes(pre_spikes, post_spikes, batch, n_pre, n_post)
    per_trial, size = _weights_layout(w, batch, n_pre, n_post, csr)
    amp = max(abs(form.a_causal), abs(form.a_acausal), abs(form.w_zero))
    _check_weight_range(w, params.learning_rate, amp, "window amplitude")

    x_pre = state.pre_trace * math.exp(-dt_ms / form.tau_causal_ms)
    x_post = state.post_trace * math.exp(-dt_ms / form.tau_acausal_ms)

    rows = _touched_rows(pre_spikes, n_post, per_trial, size, csr)
    cols = _touched_cols(post_spikes, n_pre, n_post, per_trial, size, csr)
    row_parts = [form.a_acausal * _take(x_post, rows.batch, rows.partner).to(w.dtype)]
    if form.w_zero != 0.0:
        row_parts.append(form.w_zero * _take(post_spikes, rows.batch, rows.partner).to(w.dtype))
    col_parts = [form.a_causal * _take(x_pre, cols.batch, cols.partner).to(w.dtype)]
    _apply(
        w, rows, tuple(row_parts), cols, tuple(col_parts),
        eta=params.learning_rate, update=params.update, w_min=params.w_min, w_max=params.w_max,
        scale_batch=_batch_scale(per_trial, batch, params.batch_reduce),
    )
    if params.norm_target is not None:
        normalize_incoming(w, params.norm_target, csr=csr)
    new = STDPState(
        _bump(x_pre, pre_spikes, params.pairing), _bump(x_post, post_spikes, params.pairing)
    )
    return w, new
