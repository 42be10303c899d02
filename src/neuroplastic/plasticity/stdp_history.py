r"""Pair-based STDP for any window, from spike histories: :func:`stdp_history_step` keeps the
recent spike times of every neuron (a ring buffer) instead of traces, for windows without a
trace form (:class:`~.stdp_windows.FunctionWindow`, the Mexican hat)."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from .._validation import check_finite, check_int
from ._stdp_events import (
    _apply,
    _batch_scale,
    _check_dt,
    _check_spikes,
    _check_weight_range,
    _take,
    _touched_cols,
    _touched_rows,
    _weights_layout,
)
from .stdp_layout import CSRLayout, normalize_incoming
from .stdp_params import STDPParams
from .stdp_windows import Window

__all__ = [
    "SpikeHistoryState",
    "init_history_state",
    "stdp_history_step",
]

_MAX_STEPS = 2.0**52  # |t_ms| / dt_ms beyond this: t + dt rounds to t, or lags lose steps


class SpikeHistoryState(NamedTuple):
    """Recent spike times per neuron (ms; ``-inf`` = empty slot), a ring buffer of ``capacity``
    slots (1 for nearest-spike pairing), and the time of the next step."""

    t_ms: Tensor  # () float64: time of the next step
    pre_times: Tensor  # (batch, n_pre, capacity)
    post_times: Tensor  # (batch, n_post, capacity)
    pre_count: Tensor  # (batch, n_pre) int64: spikes recorded so far (next slot = count % cap)
    post_count: Tensor  # (batch, n_post) int64


def init_history_state(
    batch: int,
    n_pre: int,
    n_post: int,
    capacity: int = 1,
    *,
    t0_ms: float = 0.0,
    device: torch.device | str | None = None,
) -> SpikeHistoryState:
    """Empty spike history. ``capacity`` must exceed the most spikes one neuron fires within
    the window's ``support_ms`` for ``pairing='all'`` (checked at run time); nearest-spike
    pairing needs 1."""
    batch, n_pre, n_post = (check_int(n, v, 1) for n, v in
                            (("batch", batch), ("n_pre", n_pre), ("n_post", n_post)))
    capacity = check_int("capacity", capacity, 1)
    check_finite("t0_ms", t0_ms)
    f64 = dict(dtype=torch.float64, device=device)
    return SpikeHistoryState(
        torch.tensor(float(t0_ms), **f64),
        torch.full((batch, n_pre, capacity), -math.inf, **f64),
        torch.full((batch, n_post, capacity), -math.inf, **f64),
        torch.zeros(batch, n_pre, dtype=torch.int64, device=device),
        torch.zeros(batch, n_post, dtype=torch.int64, device=device),
    )


def _window_sum(window: Window, lags: Tensor, support: float) -> Tensor:
    """Sum over the last axis of W(lag) for finite lags within the support."""
    ok = torch.isfinite(lags) & (lags.abs() <= support)
    safe = torch.where(ok, lags, torch.zeros_like(lags))
    return torch.where(ok, window(safe), torch.zeros_like(lags)).sum(dim=-1)


def _record(times: Tensor, count: Tensor, spikes: Tensor, t: Tensor, check_after: float | None):
    b, n = torch.nonzero(spikes, as_tuple=True)
    cap = times.shape[-1]
    slot = count[b, n] % cap
    if check_after is not None and b.numel():
        old = times[b, n, slot]
        if bool((old >= check_after).any()):
            raise RuntimeError(
                "spike-history capacity exceeded: a spike still inside the window support would "
                "be overwritten; raise `capacity` in init_history_state"
            )
    times = times.clone()
    times[b, n, slot] = t
    count = count.clone()
    count[b, n] += 1
    return times, count


def stdp_history_step(
    w: Tensor,
    pre_spikes: Tensor,
    post_spikes: Tensor,
    state: SpikeHistoryState,
    params: STDPParams,
    *,
    dt_ms: float,
    csr: CSRLayout | None = None,
) -> tuple[Tensor, SpikeHistoryState]:
    r"""One step of event-driven pair-based STDP for *any* window, from spike histories.

    A presynaptic spike at :math:`t` changes its row by :math:`\eta\sum_s W(t^\mathrm{post}_{j,s}
    - t) + \eta W(0) s^\mathrm{post}_j`, a postsynaptic spike its column by
    :math:`\eta\sum_s W(t - t^\mathrm{pre}_{i,s})`, where :math:`s` runs over the stored
    earlier spikes (the latest one for ``'nearest'``, all within ``window.support_ms`` for
    ``'all'``). Same shapes, bounds, in-place update and batching as :func:`stdp_step`; the
    step happens at ``state.t_ms`` and advances it by ``dt_ms``.
    """
    dt_ms = _check_dt(dt_ms)
    batch, n_pre, _ = state.pre_times.shape
    n_post = state.post_times.shape[1]
    _check_spikes(pre_spikes, post_spikes, batch, n_pre, n_post)
    per_trial, size = _weights_layout(w, batch, n_pre, n_post, csr)
    _check_weight_range(w, params.learning_rate, params.window.w_zero, "W(0)")
    window, t = params.window, state.t_ms
    support = float(window.support_ms)
    nearest = params.pairing == "nearest"
    if nearest and state.pre_times.shape[-1] != 1:
        raise ValueError("pairing='nearest' needs a spike history of capacity 1")
    t_now = float(t)
    if not abs(t_now) <= _MAX_STEPS * dt_ms:
        raise ValueError(
            f"state.t_ms={t_now!r} ms is more than 2**52 steps of dt_ms={dt_ms!r} from 0 (at most "
            f"{_MAX_STEPS * dt_ms:.6g} ms): float64 spike times that large no longer tell "
            "consecutive steps apart"
        )

    rows = _touched_rows(pre_spikes, n_post, per_trial, size, csr)
    cols = _touched_cols(post_spikes, n_pre, n_post, per_trial, size, csr)
    lag_r = (state.post_times[rows.batch, rows.partner] - t).to(w.dtype)  # (E, cap) < 0
    lag_c = (t - state.pre_times[cols.batch, cols.partner]).to(w.dtype)  # (E, cap) > 0
    row_parts = [_window_sum(window, lag_r, support)]
    w0 = window.w_zero
    if w0 != 0.0:
        row_parts.append(w0 * _take(post_spikes, rows.batch, rows.partner).to(w.dtype))
    col_parts = [_window_sum(window, lag_c, support)]
    _apply(
        w, rows, tuple(row_parts), cols, tuple(col_parts),
        eta=params.learning_rate, update=params.update, w_min=params.w_min, w_max=params.w_max,
        scale_batch=_batch_scale(per_trial, batch, params.batch_reduce),
    )
    if params.norm_target is not None:
        normalize_incoming(w, params.norm_target, csr=csr)
    check_after = None if nearest else float(t) - support
    pre_times, pre_count = _record(
        state.pre_times, state.pre_count, pre_spikes, t, check_after
    )
    post_times, post_count = _record(
        state.post_times, state.post_count, post_spikes, t, check_after
    )
    return w, SpikeHistoryState(t + dt_ms, pre_times, post_times, pre_count, post_count)
