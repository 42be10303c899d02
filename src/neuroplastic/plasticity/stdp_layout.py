r"""Sparse connectivity for the plasticity rules: a CSR projection (rows = presynaptic neurons)
with its column (postsynaptic) view, and :func:`normalize_incoming`, which scales each
postsynaptic neuron's incoming weights (dense or CSR) to a target sum."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from .._validation import check_int, check_positive

__all__ = [
    "CSRLayout",
    "csr_layout",
    "csr_to_csc",
    "normalize_incoming",
]

def csr_to_csc(indptr: Tensor, indices: Tensor, n_post: int) -> tuple[Tensor, Tensor, Tensor]:
    """Column (postsynaptic) view of a CSR projection.

    Parameters
    ----------
    indptr : Tensor, int64 ``(n_pre + 1,)``
    indices : Tensor, int64 ``(nnz,)`` — post neuron of each synapse
    n_post : int

    Returns
    -------
    col_ptr : Tensor, int64 ``(n_post + 1,)``
        Synapses onto post neuron ``j`` are ``perm[col_ptr[j]:col_ptr[j+1]]``.
    perm : Tensor, int64 ``(nnz,)``
        Synapse ids (positions in ``indices``/values) sorted by post neuron, stable (so by pre
        neuron within a column when rows are in order).
    rows : Tensor, int64 ``(nnz,)``
        Presynaptic neuron of synapse ``perm[k]``.
    """
    n_post = check_int("n_post", n_post, 1)
    indptr = torch.as_tensor(indptr, dtype=torch.int64)
    indices = torch.as_tensor(indices, dtype=torch.int64, device=indptr.device)
    if indptr.ndim != 1 or indices.ndim != 1 or int(indptr[-1]) != indices.numel():
        raise ValueError(
            f"indptr (n_pre+1,) must end at nnz = len(indices); got indptr shape "
            f"{tuple(indptr.shape)}, last {int(indptr[-1])}, indices shape {tuple(indices.shape)}"
        )
    if indices.numel() and (int(indices.min()) < 0 or int(indices.max()) >= n_post):
        raise ValueError(f"indices must lie in [0, {n_post - 1}]")
    n_pre = indptr.numel() - 1
    row_of = torch.repeat_interleave(torch.arange(n_pre, device=indptr.device), indptr.diff())
    perm = torch.argsort(indices, stable=True)
    counts = torch.bincount(indices, minlength=n_post)
    col_ptr = torch.zeros(n_post + 1, dtype=torch.int64, device=indptr.device)
    col_ptr[1:] = torch.cumsum(counts, 0)
    return col_ptr, perm, row_of[perm]


class CSRLayout(NamedTuple):
    """A CSR projection with its precomputed column view; build with :func:`csr_layout`."""

    indptr: Tensor  # (n_pre + 1,) int64
    indices: Tensor  # (nnz,) int64, post neuron of each synapse
    col_ptr: Tensor  # (n_post + 1,) int64
    perm: Tensor  # (nnz,) synapse ids in column order
    perm_rows: Tensor  # (nnz,) pre neuron of each synapse in column order
    n_pre: int
    n_post: int


def csr_layout(indptr: Tensor, indices: Tensor, n_post: int) -> CSRLayout:
    """Bundle a CSR projection with its CSC permutation (see :func:`csr_to_csc`)."""
    col_ptr, perm, rows = csr_to_csc(indptr, indices, n_post)
    indptr = torch.as_tensor(indptr, dtype=torch.int64)
    indices = torch.as_tensor(indices, dtype=torch.int64, device=indptr.device)
    return CSRLayout(indptr, indices, col_ptr, perm, rows, indptr.numel() - 1, int(n_post))


def normalize_incoming(w: Tensor, target: float, *, csr: CSRLayout | None = None) -> Tensor:
    """Scale each postsynaptic neuron's incoming weights to sum to ``target`` (in place).

    Columns whose sum is 0 are left unchanged. ``w``: dense ``(n_pre, n_post)`` or
    ``(batch, n_pre, n_post)``, or CSR values ``(nnz,)`` / ``(batch, nnz)`` with ``csr``.
    """
    check_positive("target", target)
    if csr is None:
        s = w.sum(dim=-2, keepdim=True)
        w.mul_(torch.where(s != 0, target / torch.where(s != 0, s, 1.0), 1.0))
        return w
    lead = w.shape[:-1]
    s = torch.zeros(*lead, csr.n_post, dtype=w.dtype, device=w.device)
    s.index_add_(-1, csr.indices, w)
    f = torch.where(s != 0, target / torch.where(s != 0, s, 1.0), 1.0)
    w.mul_(f[..., csr.indices])
    return w
