r"""Rate-based Hebbian learning rules: plain Hebb (bounded), Oja, Sanger's GHA.

All rules act on a weight matrix ``w`` of shape ``(n_out, n_in)`` (row ``i`` holds the input
weights of output unit ``i``) and on a batch of presynaptic rates ``x`` of shape
``(batch, n_in)``; postsynaptic rates ``y`` have shape ``(batch, n_out)``. Arrays may be
``torch.Tensor`` or NumPy arrays (the result has the type of the inputs; NumPy is the faster
choice for the small matrices of online PCA). Updates are averaged over the batch, so a learning
rate means the same thing for every batch size (one sample is a batch of one). Each function is
pure: it returns the new weights and leaves ``w`` untouched.

Rules (``η`` is the learning rate, ``⟨·⟩`` the batch mean)

* Hebb: :math:`\Delta w = \eta\,\langle y x^\top\rangle`, unbounded on its own; kept bounded
  either by multiplicative weight decay, :math:`w \leftarrow (1-\eta d)\,w + \eta\langle y
  x^\top\rangle` (fixed point :math:`\langle y x^\top\rangle / d`), or by rescaling each row to a
  fixed L2 norm after the update (with linear ``y = w x`` this is power iteration on the input
  covariance).
* Oja (1982): :math:`\Delta w_i = \eta\,\langle y_i (x - y_i w_i)\rangle`; with ``y = w x`` each
  row converges to the unit-norm first principal component of (centred) ``x``.
* Sanger (1989), the generalized Hebbian algorithm:
  :math:`\Delta w_{ij} = \eta\,\langle y_i (x_j - \sum_{k \le i} y_k w_{kj})\rangle`, in matrix
  form :math:`\Delta W = \eta\,(\langle y x^\top\rangle - \mathrm{LT}[\langle y y^\top\rangle]\,W)`
  with LT the lower triangle (diagonal included); row ``i`` converges to the ``i``-th principal
  component, in order, when :math:`\sum_t \eta_t = \infty,\ \sum_t \eta_t^2 < \infty`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from .._validation import check_choice, check_positive

__all__ = ["HEBB_BOUNDS", "HebbParams", "hebb_step", "oja_step", "sanger_step"]

HEBB_BOUNDS = ("decay", "normalize")


@dataclass(frozen=True)
class HebbParams:
    """Parameters of the plain Hebb rule and of the mechanism that keeps it bounded."""

    learning_rate: float = 0.01  # η: step per unit of ⟨y x⟩ (dimensionless)
    bound: Literal["decay", "normalize"] = "normalize"  # how the weights are kept bounded
    decay: float = 1.0  # d: multiplicative weight decay rate per unit η ("decay" only)
    row_norm: float = 1.0  # L2 norm every row is rescaled to ("normalize" only)

    def __post_init__(self) -> None:
        check_positive("learning_rate", self.learning_rate)
        check_choice("bound", self.bound, HEBB_BOUNDS)
        check_positive("decay", self.decay)
        check_positive("row_norm", self.row_norm)
        if self.bound == "decay" and self.learning_rate * self.decay > 1.0:
            raise ValueError(
                f"learning_rate * decay must be <= 1 so that weight decay shrinks without "
                f"changing sign, got learning_rate={self.learning_rate!r}, decay={self.decay!r}"
            )


Array = Tensor | np.ndarray


def _as_batch(name: str, t: Array) -> Array:
    if t.ndim == 1:
        return t[None, :]
    if t.ndim != 2:
        raise ValueError(f"{name} must have shape (batch, n) or (n,), got {tuple(t.shape)}")
    return t


def _check_shapes(w: Array, x: Array, y: Array | None) -> None:
    if w.ndim != 2:
        raise ValueError(f"w must have shape (n_out, n_in), got {tuple(w.shape)}")
    if x.shape[1] != w.shape[1]:
        raise ValueError(
            f"x has {x.shape[1]} inputs but w has shape {tuple(w.shape)} (n_out, n_in)"
        )
    if y is not None and (y.shape[1] != w.shape[0] or y.shape[0] != x.shape[0]):
        raise ValueError(
            f"y must have shape (batch={x.shape[0]}, n_out={w.shape[0]}), got {tuple(y.shape)}"
        )


def _check_lr(lr: float | Array) -> None:
    if not isinstance(lr, (Tensor, np.ndarray)):
        check_positive("lr", lr)


@functools.lru_cache(maxsize=32)
def _tril_mask(k: int) -> np.ndarray:
    mask = np.tril(np.ones((k, k)))
    mask.setflags(write=False)
    return mask


def _tril(a: Array) -> Array:
    return torch.tril(a) if isinstance(a, Tensor) else a * _tril_mask(a.shape[0])


def _sanger_update(w: Array, x: Array, y: Array, lr: float | Array) -> Array:
    """Unchecked Sanger step on a 2-d batch (the estimators' hot loop)."""
    yt = y.T
    return w + (lr / x.shape[0]) * (yt @ x - _tril(yt @ y) @ w)


def _oja_update(w: Array, x: Array, y: Array, lr: float | Array) -> Array:
    """Unchecked Oja step on a 2-d batch."""
    return w + (lr / x.shape[0]) * (y.T @ x - (y * y).sum(0)[:, None] * w)


def hebb_step(w: Array, x: Array, y: Array, params: HebbParams) -> Array:
    """One bounded plain-Hebb update.

    Parameters
    ----------
    w : Tensor or ndarray, shape (n_out, n_in)
        Current weights.
    x : Tensor or ndarray, shape (batch, n_in) or (n_in,)
        Presynaptic rates.
    y : Tensor or ndarray, shape (batch, n_out) or (n_out,)
        Postsynaptic rates (e.g. ``x @ w.T`` for a linear unit, or any bounded response).
    params : HebbParams
        Learning rate and bounding mechanism.

    Returns
    -------
    Tensor or ndarray, shape (n_out, n_in)
        ``(1 - η d) w + η ⟨y xᵀ⟩`` for ``bound="decay"``; for ``bound="normalize"`` the rows of
        ``w + η ⟨y xᵀ⟩`` rescaled to L2 norm ``row_norm`` (a zero row stays zero).
    """
    x = _as_batch("x", x)
    y = _as_batch("y", y)
    _check_shapes(w, x, y)
    eta = params.learning_rate
    hebb = y.T @ x / x.shape[0]
    if params.bound == "decay":
        return (1.0 - eta * params.decay) * w + eta * hebb
    new = w + eta * hebb
    norms = ((new * new).sum(1) ** 0.5)[:, None]
    tiny = torch.finfo(new.dtype).tiny if isinstance(new, Tensor) else np.finfo(new.dtype).tiny
    return new * (params.row_norm / (norms + tiny))


def oja_step(w: Array, x: Array, y: Array, lr: float | Array) -> Array:
    """One Oja update, each row an independent unit: Δw_i = η ⟨y_i (x − y_i w_i)⟩.

    Parameters
    ----------
    w : Tensor or ndarray, shape (n_out, n_in)
        Current weights.
    x : Tensor or ndarray, shape (batch, n_in) or (n_in,)
        Presynaptic rates (centre them for PCA).
    y : Tensor or ndarray, shape (batch, n_out) or (n_out,)
        Postsynaptic rates; Oja's rule assumes the linear response ``y = x @ w.T``.
    lr : float or Tensor
        Learning rate η (per batch-averaged step), > 0.

    Returns
    -------
    Tensor or ndarray, shape (n_out, n_in)
        Updated weights.
    """
    _check_lr(lr)
    x = _as_batch("x", x)
    y = _as_batch("y", y)
    _check_shapes(w, x, y)
    return _oja_update(w, x, y, lr)


def sanger_step(w: Array, x: Array, lr: float | Array, *, y: Array | None = None) -> Array:
    """One Sanger (generalized Hebbian algorithm) update, batch-averaged.

    ``ΔW = η (⟨y xᵀ⟩ − tril(⟨y yᵀ⟩) W)`` with ``y = x Wᵀ``: row ``i`` learns Oja's rule on the
    input minus the reconstruction by rows ``0..i`` (implicit Gram–Schmidt deflation).

    Parameters
    ----------
    w : Tensor or ndarray, shape (n_out, n_in)
        Current weights; row ``i`` estimates the ``i``-th principal direction.
    x : Tensor or ndarray, shape (batch, n_in) or (n_in,)
        Centred inputs.
    lr : float or Tensor
        Learning rate η (per batch-averaged step), > 0. Stable while ``η λ_max(⟨x xᵀ⟩) < 1``.
    y : Tensor or ndarray, shape (batch, n_out), optional
        Precomputed ``x @ w.T`` (saves a product when the caller needs the outputs too).

    Returns
    -------
    Tensor or ndarray, shape (n_out, n_in)
        Updated weights.
    """
    _check_lr(lr)
    x = _as_batch("x", x)
    if y is None:
        _check_shapes(w, x, None)
        y = x @ w.T
    else:
        y = _as_batch("y", y)
        _check_shapes(w, x, y)
    return _sanger_update(w, x, y, lr)
