r"""Exact activity counts — spikes, synaptic operations, MACs — from recorded activity.

Everything here is a pure function of recorded spikes (rasters or AER addresses) and
connectivity (CSR row pointers, dense weights or masks, ``nn.Linear`` / ``nn.Conv2d``), so the
same counters serve simulator networks and surrogate-trained torch modules.

Definitions (per projection ``pre -> post``, over ``T`` time steps and ``B`` inferences):

* fan-out :math:`k_i` — number of (non-zero) synapses leaving presynaptic neuron ``i``;
* SynOps :math:`S = \sum_i c_i k_i` where :math:`c_i` counts the spikes of ``i``;
* neuron updates — ``n_post × T × B`` (clock-driven integration of the targets);
* dense MACs — the multiply–accumulates an equivalent non-spiking layer performs in the same
  ``T × B`` steps: ``n_pre × n_post`` per step for a fully connected layer, the usual
  convolution count ``C_out·H_out·W_out · (C_in/groups)·kh·kw`` (padding taps and zero weights
  included) for ``nn.Conv2d``;
* weight updates — plastic synapse updates, supplied by the caller or from
  :func:`event_driven_weight_updates`.

All counts are exact integers (int64 arithmetic, returned as Python ``int``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from .._validation import check_choice, check_int

__all__ = [
    "ActivityCounts",
    "LayerCounts",
    "conv2d_fan_out",
    "count_from_events",
    "count_from_raster",
    "count_module_activity",
    "event_driven_weight_updates",
    "fan_out_from_csr",
    "fan_out_from_dense",
    "synops_from_spikes",
]


def _as_numpy(x: Any) -> np.ndarray:
    if isinstance(x, Tensor):
        x = x.detach().cpu()
        if x.dtype == torch.bool:
            x = x.to(torch.uint8)
        return x.numpy()
    return np.asarray(x)


def _as_counts(name: str, x: Any) -> np.ndarray:
    """Non-negative integer-valued array -> int64 (bool and integral floats accepted)."""
    a = _as_numpy(x)
    if a.dtype == np.bool_:
        return a.astype(np.int64)
    if np.issubdtype(a.dtype, np.integer):
        out = a.astype(np.int64)
    elif np.issubdtype(a.dtype, np.floating):
        if not np.all(np.isfinite(a)) or np.any(a != np.round(a)):
            raise ValueError(f"{name} must hold non-negative integer counts (0/1 spikes)")
        out = a.astype(np.int64)
    else:
        raise ValueError(f"{name} must be numeric, got dtype {a.dtype}")
    if out.size and out.min() < 0:
        raise ValueError(f"{name} must be non-negative, got minimum {out.min()}")
    return out


@dataclass(frozen=True)
class LayerCounts:
    """Exact activity of one projection over ``steps × batch`` (all fields are counts).

    Parameters
    ----------
    name : str
        Layer label (unique within an :class:`ActivityCounts`).
    n_pre, n_post : int
        Presynaptic / postsynaptic neurons (for conv layers: input / output pixels × channels).
    steps : int
        Time steps ``T`` per inference.
    batch : int
        Inferences ``B`` (samples) covered.
    spikes_in : int
        Presynaptic spikes entering the projection, summed over ``T × B``.
    synops : int
        Synaptic events ``Σ_i c_i k_i``.
    n_synapses : int
        ``Σ_i k_i`` (so the mean fan-out is ``n_synapses / n_pre``).
    dense_macs : int
        MACs of the equivalent dense layer over ``T × B``.
    neuron_updates : int
        ``n_post × T × B``.
    weight_updates : int
        Plastic synapse updates.
    """

    name: str
    n_pre: int
    n_post: int
    steps: int
    batch: int
    spikes_in: int
    synops: int
    n_synapses: int
    dense_macs: int
    neuron_updates: int
    weight_updates: int = 0

    def __post_init__(self) -> None:
        for field_name in ("n_pre", "n_post", "steps", "batch"):
            check_int(field_name, getattr(self, field_name), low=1)
        for field_name in (
            "spikes_in",
            "synops",
            "n_synapses",
            "dense_macs",
            "neuron_updates",
            "weight_updates",
        ):
            check_int(field_name, getattr(self, field_name), low=0)

    @property
    def mean_fan_out(self) -> float:
        """Mean number of synapses per presynaptic neuron ``k``."""
        return self.n_synapses / self.n_pre

    def mean_rate_per_step(self) -> float:
        """Mean presynaptic spikes per neuron per time step (multiply by 1/dt for Hz)."""
        return self.spikes_in / (self.n_pre * self.steps * self.batch)


@dataclass(frozen=True)
class ActivityCounts:
    """Counts of a whole run: one :class:`LayerCounts` per projection, same ``steps × batch``."""

    layers: tuple[LayerCounts, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        if not self.layers:
            raise ValueError("layers must hold at least one LayerCounts, got none")
        names = [layer.name for layer in self.layers]
        if len(set(names)) != len(names):
            raise ValueError(f"layer names must be unique, got {names}")
        shapes = {(layer.steps, layer.batch) for layer in self.layers}
        if len(shapes) != 1:
            raise ValueError(f"all layers must share (steps, batch), got {sorted(shapes)}")

    @property
    def steps(self) -> int:
        return self.layers[0].steps

    @property
    def batch(self) -> int:
        return self.layers[0].batch

    def _total(self, attr: str) -> int:
        return int(sum(getattr(layer, attr) for layer in self.layers))

    @property
    def spikes(self) -> int:
        return self._total("spikes_in")

    @property
    def synops(self) -> int:
        return self._total("synops")

    @property
    def dense_macs(self) -> int:
        return self._total("dense_macs")

    @property
    def neuron_updates(self) -> int:
        return self._total("neuron_updates")

    @property
    def weight_updates(self) -> int:
        return self._total("weight_updates")

    @property
    def n_synapses(self) -> int:
        return self._total("n_synapses")

    @property
    def n_pre(self) -> int:
        return self._total("n_pre")

    def spikes_per_layer(self) -> dict[str, int]:
        return {layer.name: layer.spikes_in for layer in self.layers}

    def synops_per_layer(self) -> dict[str, int]:
        return {layer.name: layer.synops for layer in self.layers}


# ---------------------------------------------------------------------------------------------
# Fan-out
# ---------------------------------------------------------------------------------------------
def fan_out_from_csr(indptr: Any) -> np.ndarray:
    """Fan-out from CSR row pointers, one row per presynaptic neuron.

    Parameters
    ----------
    indptr : array_like, shape (n_pre + 1,)
        Non-decreasing row pointers starting at 0 (``scipy.sparse.csr_array.indptr``).

    Returns
    -------
    numpy.ndarray of int64, shape (n_pre,)
    """
    p = _as_counts("indptr", indptr)
    if p.ndim != 1 or p.size < 2:
        raise ValueError(f"indptr must be 1-D with length n_pre + 1 >= 2, got shape {p.shape}")
    if p[0] != 0:
        raise ValueError(f"indptr must start at 0, got {p[0]}")
    k = np.diff(p)
    if np.any(k < 0):
        raise ValueError("indptr must be non-decreasing")
    return k


def fan_out_from_dense(
    weight_or_mask: Any, *, layout: Literal["post_pre", "pre_post"] = "post_pre"
) -> np.ndarray:
    """Fan-out: number of non-zero entries per presynaptic neuron.

    Parameters
    ----------
    weight_or_mask : array_like or Tensor, shape (n_post, n_pre) or (n_pre, n_post)
        Dense weights or a boolean connectivity mask; zeros are absent synapses.
    layout : {"post_pre", "pre_post"}
        ``"post_pre"`` is the torch ``nn.Linear.weight`` convention ``(n_out, n_in)``.

    Returns
    -------
    numpy.ndarray of int64, shape (n_pre,)
    """
    check_choice("layout", layout, ("post_pre", "pre_post"))
    w = _as_numpy(weight_or_mask)
    if w.ndim != 2:
        raise ValueError(f"weight_or_mask must be 2-D, got shape {w.shape}")
    axis = 0 if layout == "post_pre" else 1
    return np.count_nonzero(w, axis=axis).astype(np.int64)


def _conv_padding(conv: nn.Conv2d) -> tuple[int, int, int, int]:
    """Explicit (left, right, top, bottom) padding of ``conv``, as torch applies it."""
    kh, kw = conv.kernel_size
    dh, dw = conv.dilation
    if conv.padding == "valid":
        return (0, 0, 0, 0)
    if conv.padding == "same":
        th, tw = dh * (kh - 1), dw * (kw - 1)
        return (tw // 2, tw - tw // 2, th // 2, th - th // 2)
    ph, pw = conv.padding
    return (pw, pw, ph, ph)


def conv2d_fan_out(
    conv: nn.Conv2d, input_hw: tuple[int, int], *, nonzero_only: bool = True
) -> np.ndarray:
    """Exact fan-out of every input pixel of a 2-D convolution, boundaries included.

    The convolution is a linear map ``A`` from inputs to outputs; the fan-out of input ``i`` is
    the number of non-zero entries in its column, ``(|A|^T 1)_i``. It is computed exactly as the
    gradient of ``sum(conv(x; mask))`` with respect to ``x``, where ``mask`` is the 0/1 kernel
    (float64, so every count is an exact integer). Stride, padding (any mode), dilation and
    groups are honoured.

    Parameters
    ----------
    conv : nn.Conv2d
    input_hw : (int, int)
        Input height and width.
    nonzero_only : bool
        Count only non-zero kernel weights (pruned weights are not synapses). ``False`` counts
        every tap, i.e. the MACs of the dense convolution.

    Returns
    -------
    numpy.ndarray of int64, shape (in_channels * H * W,)
        In ``(C, H, W)`` row-major order, matching ``x.flatten()`` of one sample.
    """
    if not isinstance(conv, nn.Conv2d):
        raise ValueError(f"conv must be an nn.Conv2d, got {type(conv).__name__}")
    h = check_int("input_hw[0]", input_hw[0], low=1)
    w = check_int("input_hw[1]", input_hw[1], low=1)
    with torch.no_grad():
        weight = conv.weight.detach().to("cpu", torch.float64)
        mask = (weight != 0).to(torch.float64) if nonzero_only else torch.ones_like(weight)
    x = torch.ones(1, conv.in_channels, h, w, dtype=torch.float64, requires_grad=True)
    with torch.enable_grad():
        xp = x
        if conv.padding_mode != "zeros":
            xp = nn.functional.pad(x, _conv_padding(conv), mode=conv.padding_mode)
            padding: Any = 0
        else:
            left, right, top, bottom = _conv_padding(conv)
            if left == right and top == bottom:
                padding = (top, left)
            else:
                xp = nn.functional.pad(x, (left, right, top, bottom))
                padding = 0
        y = nn.functional.conv2d(xp, mask, None, conv.stride, padding, conv.dilation, conv.groups)
        (grad,) = torch.autograd.grad(y.sum(), x)
    return np.rint(grad.reshape(-1).numpy()).astype(np.int64)


# ---------------------------------------------------------------------------------------------
# SynOps
# ---------------------------------------------------------------------------------------------
def synops_from_spikes(spike_counts: Any, fan_out: Any) -> int:
    """Exact synaptic operations ``Σ_i c_i k_i``.

    Parameters
    ----------
    spike_counts : array_like, shape (n_pre,)
        Spikes emitted by each presynaptic neuron.
    fan_out : array_like, shape (n_pre,)
        Synapses leaving each presynaptic neuron.

    Returns
    -------
    int
    """
    c = _as_counts("spike_counts", spike_counts)
    k = _as_counts("fan_out", fan_out)
    if c.ndim != 1 or c.shape != k.shape:
        raise ValueError(
            f"spike_counts and fan_out must both have shape (n_pre,), got {c.shape} and {k.shape}"
        )
    return int(np.dot(c, k))


def event_driven_weight_updates(
    pre_counts: Any, fan_out: Any, post_counts: Any, fan_in: Any
) -> int:
    """Synapse updates of a trace-based, event-driven rule (STDP): every pre spike updates its
    outgoing synapses, every post spike its incoming ones: ``Σ_i c_i k_i + Σ_j d_j m_j``."""
    return synops_from_spikes(pre_counts, fan_out) + synops_from_spikes(post_counts, fan_in)


def _layer(
    name: str,
    per_pre: np.ndarray,
    fan_out: np.ndarray,
    *,
    steps: int,
    batch: int,
    n_post: int,
    dense_macs_per_step: int | None,
    weight_updates: int,
) -> LayerCounts:
    n_post = check_int("n_post", n_post, low=1)
    n_pre = int(fan_out.shape[0])
    if dense_macs_per_step is None:
        dense_macs_per_step = n_pre * n_post
    dense_macs_per_step = check_int("dense_macs_per_step", dense_macs_per_step, low=0)
    return LayerCounts(
        name=name,
        n_pre=n_pre,
        n_post=n_post,
        steps=steps,
        batch=batch,
        spikes_in=int(per_pre.sum()),
        synops=synops_from_spikes(per_pre, fan_out),
        n_synapses=int(fan_out.sum()),
        dense_macs=dense_macs_per_step * steps * batch,
        neuron_updates=n_post * steps * batch,
        weight_updates=check_int("weight_updates", weight_updates, low=0),
    )


def count_from_raster(
    spikes: Any,
    fan_out: Any,
    *,
    n_post: int,
    name: str = "layer",
    dense_macs_per_step: int | None = None,
    weight_updates: int = 0,
) -> LayerCounts:
    """Counts of one projection from a spike raster.

    Parameters
    ----------
    spikes : array_like or Tensor, shape (T, B, n_pre) or (T, B, C, H, W)
        Presynaptic spikes (0/1, bool, or integer spike counts per bin); trailing dims are
        flattened in row-major order.
    fan_out : array_like, shape (n_pre,)
    n_post : int
        Postsynaptic neurons (for neuron updates and the dense-MAC default).
    name : str
    dense_macs_per_step : int, optional
        MACs of the equivalent dense layer per step and sample; default ``n_pre * n_post``.
    weight_updates : int
        Plastic synapse updates during the run.

    Returns
    -------
    LayerCounts
    """
    s = _as_counts("spikes", spikes)
    if s.ndim < 3:
        raise ValueError(f"spikes must have shape (T, B, n_pre, ...), got {s.shape}")
    steps, batch = s.shape[0], s.shape[1]
    per_pre = s.reshape(steps, batch, -1).sum(axis=(0, 1))
    k = _as_counts("fan_out", fan_out)
    if k.shape != per_pre.shape:
        raise ValueError(f"fan_out must have shape ({per_pre.size},), got {k.shape}")
    if steps < 1 or batch < 1:
        raise ValueError(f"spikes needs T >= 1 and B >= 1, got shape {s.shape}")
    return _layer(
        name,
        per_pre,
        k,
        steps=steps,
        batch=batch,
        n_post=n_post,
        dense_macs_per_step=dense_macs_per_step,
        weight_updates=weight_updates,
    )


def count_from_events(
    pre_addresses: Any,
    fan_out: Any,
    *,
    steps: int,
    batch: int,
    n_post: int,
    name: str = "layer",
    dense_macs_per_step: int | None = None,
    weight_updates: int = 0,
) -> LayerCounts:
    """Counts of one projection from AER events (one presynaptic address per spike).

    Parameters
    ----------
    pre_addresses : array_like of int, shape (n_events,)
        Address (index in ``[0, n_pre)``) of the neuron that emitted each event.
    fan_out : array_like, shape (n_pre,)
    steps, batch : int
        Time steps and inferences the events cover.
    n_post, name, dense_macs_per_step, weight_updates
        As in :func:`count_from_raster`.
    """
    k = _as_counts("fan_out", fan_out)
    if k.ndim != 1:
        raise ValueError(f"fan_out must be 1-D, got shape {k.shape}")
    a = _as_counts("pre_addresses", pre_addresses).reshape(-1)
    if a.size and a.max() >= k.size:
        raise ValueError(f"pre_addresses must be < n_pre = {k.size}, got {a.max()}")
    per_pre = np.bincount(a, minlength=k.size).astype(np.int64)
    return _layer(
        name,
        per_pre,
        k,
        steps=check_int("steps", steps, low=1),
        batch=check_int("batch", batch, low=1),
        n_post=n_post,
        dense_macs_per_step=dense_macs_per_step,
        weight_updates=weight_updates,
    )


def count_module_activity(
    layers: Sequence[tuple[Any, Any]],
    *,
    names: Sequence[str] | None = None,
    weight_updates: Sequence[int] | None = None,
) -> ActivityCounts:
    """Counts of a feed-forward stack from the spikes entering each layer.

    Parameters
    ----------
    layers : sequence of (spikes_in, layer)
        ``spikes_in`` is a ``(T, B, n_in)`` raster (``(T, B, C, H, W)`` for conv layers);
        ``layer`` is a weight Tensor/array ``(n_out, n_in)``, an ``nn.Linear`` or an
        ``nn.Conv2d``. Zero weights are not counted as synapses; the dense-MAC count includes
        them (a dense ANN multiplies by zeros too). Biases are ignored.
    names : sequence of str, optional
        Layer labels; default ``layer0, layer1, ...``.
    weight_updates : sequence of int, optional
        Plastic updates per layer; default 0.

    Returns
    -------
    ActivityCounts
    """
    layers = list(layers)
    names = [f"layer{i}" for i in range(len(layers))] if names is None else list(names)
    updates = [0] * len(layers) if weight_updates is None else list(weight_updates)
    if len(names) != len(layers) or len(updates) != len(layers):
        raise ValueError(
            f"names ({len(names)}) and weight_updates ({len(updates)}) must match "
            f"layers ({len(layers)})"
        )
    out = []
    for (spikes, layer), name, wu in zip(layers, names, updates):
        if isinstance(layer, nn.Conv2d):
            shape = tuple(spikes.shape)
            if len(shape) != 5 or shape[2] != layer.in_channels:
                raise ValueError(
                    f"{name}: Conv2d input must be (T, B, {layer.in_channels}, H, W), got {shape}"
                )
            hw = (shape[3], shape[4])
            fan = conv2d_fan_out(layer, hw, nonzero_only=True)
            probe = torch.zeros(1, layer.in_channels, *hw, dtype=layer.weight.dtype)
            with torch.no_grad():
                n_post = int(layer(probe.to(layer.weight.device)).numel())
            kh, kw = layer.kernel_size
            # Standard conv MAC count: every output × every kernel tap, padding taps included.
            macs = n_post * (layer.in_channels // layer.groups) * kh * kw
            out.append(
                count_from_raster(
                    spikes,
                    fan,
                    n_post=n_post,
                    name=name,
                    dense_macs_per_step=macs,
                    weight_updates=wu,
                )
            )
            continue
        weight = layer.weight if isinstance(layer, nn.Linear) else layer
        w = _as_numpy(weight)
        if w.ndim != 2:
            raise ValueError(f"{name}: weight must be 2-D (n_out, n_in), got shape {w.shape}")
        out.append(
            count_from_raster(
                spikes, fan_out_from_dense(w), n_post=w.shape[0], name=name, weight_updates=wu
            )
        )
    return ActivityCounts(tuple(out))
