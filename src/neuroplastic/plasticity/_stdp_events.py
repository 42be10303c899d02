r"""The event-driven update shared by every STDP rule: which synapses the spikes of one step
touch (rows of spiking presynaptic neurons, columns of spiking postsynaptic ones), the soft
and hard bounds, the batch reduction, and the checks of spikes, weights and ``dt_ms``."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
from torch import Tensor

from .._validation import check_positive
from .stdp_layout import CSRLayout


def _segments(ptr: Tensor, ids: Tensor) -> tuple[Tensor, Tensor]:
    """Positions ``ptr[i]..ptr[i+1]-1`` for each ``i`` in ``ids``, and the owner index."""
    starts = ptr.index_select(0, ids)
    lens = ptr.index_select(0, ids + 1) - starts
    ends = torch.cumsum(lens, 0)
    total = int(ends[-1]) if ends.numel() else 0
    # owner of each output position; searchsorted instead of repeat_interleave, which is slow
    # (multi-threaded) for the small arrays of one step
    pos = torch.arange(total, device=ptr.device)
    owner = torch.searchsorted(ends, pos, right=True)
    return pos + (starts + lens - ends).index_select(0, owner), owner


def _take(x: Tensor, b: Tensor, n: Tensor) -> Tensor:
    """``x[b, n]`` for a 2-D ``x`` (index_select on the flat view: cheaper than indexing)."""
    return x.reshape(-1).index_select(0, b * x.shape[1] + n)


# --------------------------------------------------------------------------------------------
# The event-driven update kernel shared by every rule
# --------------------------------------------------------------------------------------------


class _Touched(NamedTuple):
    flat: Tensor  # (E,) index into the flattened weights
    batch: Tensor  # (E,) trial of the spike
    owner: Tensor  # (E,) neuron that spiked (pre for rows, post for columns)
    partner: Tensor  # (E,) the other neuron of the synapse


def _weights_layout(w: Tensor, batch: int, n_pre: int, n_post: int, csr: CSRLayout | None):
    """Validate the weight tensor; return (per_trial, synapses per trial)."""
    if not w.is_contiguous() or not w.is_floating_point():
        raise ValueError("weights w must be a contiguous floating tensor (updated in place)")
    if csr is None:
        if w.shape == (n_pre, n_post):
            return False, n_pre * n_post
        if w.shape == (batch, n_pre, n_post):
            return True, n_pre * n_post
        raise ValueError(
            f"dense weights must be (n_pre, n_post) = {(n_pre, n_post)} or (batch, n_pre, "
            f"n_post) = {(batch, n_pre, n_post)}, got {tuple(w.shape)}"
        )
    if csr.n_pre != n_pre or csr.n_post != n_post:
        raise ValueError(
            f"csr layout is {csr.n_pre}x{csr.n_post} but spikes/state are {n_pre}x{n_post}"
        )
    nnz = csr.indices.numel()
    if w.shape == (nnz,):
        return False, nnz
    if w.shape == (batch, nnz):
        return True, nnz
    raise ValueError(f"CSR values must be (nnz,) = ({nnz},) or (batch, nnz), got {tuple(w.shape)}")


def _touched_rows(pre_spikes: Tensor, n_post: int, per_trial: bool, size: int, csr) -> _Touched:
    b, i = torch.nonzero(pre_spikes, as_tuple=True)
    if csr is None:
        base = b * size if per_trial else torch.zeros_like(b)
        j = torch.arange(n_post, device=pre_spikes.device)
        flat = (base[:, None] + i[:, None] * n_post + j[None, :]).reshape(-1)
        k = torch.arange(b.numel(), device=b.device)[:, None].expand(-1, n_post).reshape(-1)
        return _Touched(flat, b[k], i[k], j.repeat(b.numel()))
    pos, k = _segments(csr.indptr, i)
    bk = b.index_select(0, k)
    flat = pos if not per_trial else bk * size + pos
    return _Touched(flat, bk, i.index_select(0, k), csr.indices.index_select(0, pos))


def _touched_cols(post_spikes: Tensor, n_pre: int, n_post: int, per_trial: bool, size: int, csr):
    b, j = torch.nonzero(post_spikes, as_tuple=True)
    if csr is None:
        base = b * size if per_trial else torch.zeros_like(b)
        i = torch.arange(n_pre, device=post_spikes.device)
        flat = (base[:, None] + i[None, :] * n_post + j[:, None]).reshape(-1)
        k = torch.arange(b.numel(), device=b.device)[:, None].expand(-1, n_pre).reshape(-1)
        return _Touched(flat, b[k], j[k], i.repeat(b.numel()))
    pos, k = _segments(csr.col_ptr, j)
    bk = b.index_select(0, k)
    syn = csr.perm.index_select(0, pos)
    flat = syn if not per_trial else bk * size + syn
    return _Touched(flat, bk, j.index_select(0, k), csr.perm_rows.index_select(0, pos))


def _soft(dw: Tensor, w_old: Tensor, update: str, w_min: float, w_max: float) -> Tensor:
    if update == "additive":
        return dw
    return torch.where(dw > 0, dw * (w_max - w_old), dw * (w_old - w_min))


def _apply(
    w: Tensor,
    rows: _Touched,
    row_parts: tuple[Tensor, ...],
    cols: _Touched,
    col_parts: tuple[Tensor, ...],
    *,
    eta: float,
    update: str,
    w_min: float,
    w_max: float,
    scale_batch: float,
) -> Tensor:
    """Add the per-synapse changes (each part soft-bounded on its own, all from the weights at
    the start of the step), then clip the touched synapses to the hard bounds. In place."""
    flat_w = w.view(-1)
    scale = eta * scale_batch
    if update == "additive":
        d_rows = row_parts[0] if len(row_parts) == 1 else sum(row_parts)
        d_cols = col_parts[0] if len(col_parts) == 1 else sum(col_parts)
    else:
        w_r, w_c = flat_w[rows.flat], flat_w[cols.flat]
        d_rows = sum(_soft(p, w_r, update, w_min, w_max) for p in row_parts)
        d_cols = sum(_soft(p, w_c, update, w_min, w_max) for p in col_parts)
    if rows.flat.numel():
        flat_w.index_add_(0, rows.flat, d_rows * scale)
    if cols.flat.numel():
        flat_w.index_add_(0, cols.flat, d_cols * scale)
    if math.isfinite(w_min) or math.isfinite(w_max):
        touched = torch.cat([rows.flat, cols.flat])
        flat_w[touched] = flat_w[touched].clamp(
            min=w_min if math.isfinite(w_min) else None,
            max=w_max if math.isfinite(w_max) else None,
        )
    return w

def _check_spikes(pre_spikes: Tensor, post_spikes: Tensor, batch: int, n_pre: int, n_post: int):
    if pre_spikes.shape != (batch, n_pre) or post_spikes.shape != (batch, n_post):
        raise ValueError(
            f"spikes must be pre (batch, n_pre) = {(batch, n_pre)} and post (batch, n_post) = "
            f"{(batch, n_post)}, got {tuple(pre_spikes.shape)} and {tuple(post_spikes.shape)}"
        )
    if pre_spikes.dtype != torch.bool or post_spikes.dtype != torch.bool:
        raise ValueError("pre_spikes and post_spikes must be boolean tensors")


def _check_weight_range(w: Tensor, learning_rate: float, amplitude: float, name: str) -> None:
    """The rules compute weight changes in ``w``'s dtype: refuse a learning rate and amplitude
    whose product exceeds its largest value (float32: 3.4e38), which would turn into inf/NaN."""
    top = torch.finfo(w.dtype).max
    if not (learning_rate <= top and learning_rate * abs(amplitude) <= top):
        raise ValueError(
            f"learning_rate * |{name}| = {learning_rate!r} * {abs(amplitude)!r} exceeds the "
            f"largest {w.dtype} ({top:.6g}) of the weights w; use float64 weights or smaller "
            "values"
        )


def _check_dt(dt_ms: Any) -> float:
    return check_positive("dt_ms", dt_ms)


def _bump(trace: Tensor, spikes: Tensor, pairing: str) -> Tensor:
    if pairing == "all":
        return trace.add_(spikes)  # trace is a fresh tensor (the decayed copy)
    return trace.masked_fill_(spikes, 1.0)

def _batch_scale(per_trial: bool, batch: int, reduce: str) -> float:
    return 1.0 / batch if (not per_trial and reduce == "mean") else 1.0
