r"""Triplet STDP (Pfister & Gerstner 2006): the event-driven rule on four traces,
:func:`triplet_step`, and its reference from spike times, :func:`triplet_pair_sum`."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

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
from .stdp_layout import CSRLayout
from .stdp_pair import init_stdp_state
from .stdp_params import TripletParams

__all__ = [
    "TripletState",
    "init_triplet_state",
    "triplet_pair_sum",
    "triplet_step",
]

def triplet_pair_sum(
    pre_times_ms: Tensor, post_times_ms: Tensor, params: TripletParams
) -> Tensor:
    r"""Total weight change of the triplet rule, evaluated directly from spike times.

    The plain reference for :func:`triplet_step` (single synapse, no traces): for every post
    spike at :math:`t`, :math:`\eta\,\sum_{t_\mathrm{pre}<t} e^{-(t-t_\mathrm{pre})/\tau_+}
    \,[A_2^+ + A_3^+ \sum_{t'_\mathrm{post}<t} e^{-(t-t'_\mathrm{post})/\tau_y}]`, and for every
    pre spike at :math:`t`, :math:`-\eta\,\sum_{t_\mathrm{post}<t}
    e^{-(t-t_\mathrm{post})/\tau_-}\,[A_2^- + A_3^- \sum_{t'_\mathrm{pre}<t}
    e^{-(t-t'_\mathrm{pre})/\tau_x}]` (Pfister & Gerstner 2006, Eqs. 3–4). With
    ``pairing='nearest'`` each inner sum keeps only its latest term. Coincident spikes do not
    interact (as :func:`triplet_step`). Times are 1-D tensors in ms (float64 recommended);
    bounds are ignored.
    """
    pre = torch.as_tensor(pre_times_ms, dtype=torch.float64).flatten()
    post = torch.as_tensor(post_times_ms, dtype=torch.float64).flatten()
    pre, post = pre[~torch.isnan(pre)], post[~torch.isnan(post)]
    p = params

    def kernel(t: Tensor, times: Tensor, tau: float) -> Tensor:
        lag = t[:, None] - times[None, :]
        k = torch.where(lag > 0, torch.exp(-lag.clamp(min=0.0) / tau), torch.zeros_like(lag))
        if p.pairing == "all" or times.numel() == 0:
            return k.sum(dim=1)
        return k.amax(dim=1)  # the latest earlier spike has the largest kernel value

    pot = kernel(post, pre, p.tau_plus_ms) * (
        p.a2_plus + p.a3_plus * kernel(post, post, p.tau_y_ms)
    )
    dep = kernel(pre, post, p.tau_minus_ms) * (
        p.a2_minus + p.a3_minus * kernel(pre, pre, p.tau_x_ms)
    )
    return p.learning_rate * (pot.sum() - dep.sum())


class TripletState(NamedTuple):
    """Traces of the triplet rule (Pfister & Gerstner 2006 notation)."""

    r1: Tensor  # (batch, n_pre), tau_plus
    r2: Tensor  # (batch, n_pre), tau_x
    o1: Tensor  # (batch, n_post), tau_minus
    o2: Tensor  # (batch, n_post), tau_y


def init_triplet_state(
    batch: int,
    n_pre: int,
    n_post: int,
    *,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> TripletState:
    s = init_stdp_state(batch, n_pre, n_post, dtype=dtype, device=device)
    return TripletState(s.pre_trace, s.pre_trace.clone(), s.post_trace, s.post_trace.clone())


def triplet_step(
    w: Tensor,
    pre_spikes: Tensor,
    post_spikes: Tensor,
    state: TripletState,
    params: TripletParams,
    *,
    dt_ms: float,
    csr: CSRLayout | None = None,
) -> tuple[Tensor, TripletState]:
    r"""One clock step of the triplet rule (Pfister & Gerstner 2006, Eqs. 3–4), event driven.

    Same order, shapes, in-place update and batching as :func:`stdp_step`: traces decay, pre
    spikes depress their rows by :math:`\eta\,o_1 [A_2^- + A_3^- r_2]`, post spikes potentiate
    their columns by :math:`\eta\,r_1 [A_2^+ + A_3^+ o_2]` (all traces before this step's
    spikes, so coincident spikes do not interact), then all four traces jump (or reset).
    """
    dt_ms = _check_dt(dt_ms)
    p = params
    batch, n_pre = state.r1.shape
    n_post = state.o1.shape[1]
    _check_spikes(pre_spikes, post_spikes, batch, n_pre, n_post)
    per_trial, size = _weights_layout(w, batch, n_pre, n_post, csr)
    amp = max(p.a2_plus, p.a3_plus, p.a2_minus, p.a3_minus)
    _check_weight_range(w, p.learning_rate, amp, "amplitude")
    r1 = state.r1 * math.exp(-dt_ms / p.tau_plus_ms)
    r2 = state.r2 * math.exp(-dt_ms / p.tau_x_ms)
    o1 = state.o1 * math.exp(-dt_ms / p.tau_minus_ms)
    o2 = state.o2 * math.exp(-dt_ms / p.tau_y_ms)

    rows = _touched_rows(pre_spikes, n_post, per_trial, size, csr)
    cols = _touched_cols(post_spikes, n_pre, n_post, per_trial, size, csr)
    r2_i = _take(r2, rows.batch, rows.owner)
    o2_j = _take(o2, cols.batch, cols.owner)
    dep = -_take(o1, rows.batch, rows.partner) * (p.a2_minus + p.a3_minus * r2_i)
    pot = _take(r1, cols.batch, cols.partner) * (p.a2_plus + p.a3_plus * o2_j)
    _apply(
        w, rows, (dep.to(w.dtype),), cols, (pot.to(w.dtype),),
        eta=p.learning_rate, update="additive", w_min=p.w_min, w_max=p.w_max,
        scale_batch=_batch_scale(per_trial, batch, p.batch_reduce),
    )
    new = TripletState(
        _bump(r1, pre_spikes, p.pairing),
        _bump(r2, pre_spikes, p.pairing),
        _bump(o1, post_spikes, p.pairing),
        _bump(o2, post_spikes, p.pairing),
    )
    return w, new
