r"""Pure functions behind the surrogate-gradient layers.

One LIF step (no refractoriness, no threshold adaptation, analog substrate), in exactly the
operation order of :func:`neuroplastic.neurons.lif.lif_step`:

.. math::

    u_t &= V_\mathrm{rest} + (v_{t-1} - V_\mathrm{rest})\,\alpha + \textstyle\sum_k d_k\, I_{t,k} \\
    s_t &= H(u_t - \vartheta) \quad\text{(surrogate derivative in the backward pass)} \\
    v_t &= u_t - s_t(\vartheta - V_\mathrm{reset}) \ \text{(subtract)}\quad\text{or}\quad
           u_t(1 - s_t) + V_\mathrm{reset}\, s_t \ \text{(hard)}

with :math:`\alpha` = ``decay`` (``exp(-dt/tau_m)``), :math:`d` = ``drive`` (``drive_ext`` or
``drive_syn`` of :func:`~neuroplastic.neurons.lif.realize_lif`), :math:`\vartheta` = ``thr``.

Three ways to run ``T`` steps, all returning ``(spikes (T, B, n), v_T (B, n))``:

* :func:`lif_loop` — a Python loop of :func:`lif_cell_step` under autograd (the reference);
* :func:`lif_fused` — one custom autograd function: the forward loop stores only the pre-reset
  membrane and the spikes, the backward runs the reverse-time recurrence by hand (compiled C or
  numba kernels on the CPU, Triton kernels on CUDA devices (:mod:`._triton`), a torch loop
  elsewhere); no per-step autograd graph;
* :func:`event_linear` — the projection feeding a layer, one product over all ``T * B`` rows
  that touches only the weight rows of non-zero (spiking) inputs when the input is sparse.
"""

from __future__ import annotations

import functools
import math
import os
import warnings
from typing import Literal, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..neurons.lif import lif_integrate, lif_reset
from .spike import Surrogate, spike_fn, surrogate_grad

__all__ = [
    "LIFCoef",
    "event_linear",
    "kernel_engine",
    "li_loop",
    "lif_cell_step",
    "lif_fused",
    "lif_loop",
    "lif_sequence",
    "synaptic_scan",
]

KERNEL_ENGINES = ("auto", "c", "numba", "torch")


@functools.cache
def _load_engine(name: str):
    """The loaded kernel engine ``name`` ("c" or "numba"); raises when unavailable."""
    if name == "c":
        from ._cengine import CEngine, build

        return CEngine(build())
    from . import _kernels  # numba

    return _kernels


@functools.cache
def _resolve(choice: str):
    if choice == "torch":
        return None
    if choice != "auto":
        return _load_engine(choice)
    for name in ("c", "numba"):
        try:
            return _load_engine(name)
        except (ImportError, RuntimeError, OSError) as e:
            warnings.warn(f"neuroplastic: {name} kernels unavailable ({e}); trying the next",
                          RuntimeWarning, stacklevel=3)
    return None


def kernel_engine():
    """The compiled kernels the fused layers use (``None``: plain torch loops).

    Chosen by ``$NEUROPLASTIC_KERNELS``: ``auto`` (default: C, else numba, else torch), ``c``
    (C compiled once with the system compiler, see :mod:`._cengine`), ``numba`` or ``torch``.
    """
    return _resolve(_kernel_choice())


def _kernel_choice() -> str:
    choice = os.environ.get("NEUROPLASTIC_KERNELS", "auto").strip().lower() or "auto"
    if choice not in KERNEL_ENGINES:
        raise ValueError(
            f"NEUROPLASTIC_KERNELS must be one of {KERNEL_ENGINES}, got {choice!r}"
        )
    return choice


def _engine_for(*ts: Tensor):
    """The compiled engine if the tensors are CPU tensors of one dtype, float32 or float64,
    else ``None`` (the torch code runs)."""
    if ts[0].dtype not in (torch.float32, torch.float64):
        return None
    if not all(t.device.type == "cpu" and t.dtype == ts[0].dtype for t in ts):
        return None
    return kernel_engine()


def _device_engine(*ts: Tensor):
    """The Triton kernels (:mod:`._triton`) if the tensors are CUDA tensors of one device and
    one dtype, float32 or float64, Triton is installed and ``$NEUROPLASTIC_KERNELS`` is not
    ``torch``; else ``None`` (the torch loop runs on the tensors' device)."""
    t0 = ts[0]
    if t0.device.type != "cuda" or t0.dtype not in (torch.float32, torch.float64):
        return None
    if not all(t.device == t0.device and t.dtype == t0.dtype for t in ts):
        return None
    if _kernel_choice() == "torch":
        return None
    from . import _triton

    return _triton.engine() if _triton.available() else None


def _float_operands(where: str, named: dict[str, Tensor], params: tuple[str, ...]) -> list:
    """The tensors of ``named``, on one device, cast to the dtype of the parameters.

    ``params`` name the coefficients (a layer's buffers and parameters): their dtype (the
    widest if they differ: an exact cast) is the dtype of the computation, as the layer's
    dtype is that of a layer; inputs and states of another floating dtype are cast to it
    (float16 -> float32 and float32 -> float64 exactly; float64 -> float32 rounds, which is
    what a float32 layer computes in). Raises ``ValueError`` naming the first argument that is
    not a floating-point tensor or lives on another device than the first.
    """
    first, ref = next(iter(named.items()))
    for name, t in named.items():
        if not isinstance(t, Tensor):
            raise ValueError(f"{where}: {name} must be a torch.Tensor, got {type(t).__name__}")
        if not t.is_floating_point():
            raise ValueError(f"{where}: {name} must be a floating-point tensor, got {t.dtype}")
        if t.device != ref.device:
            raise ValueError(
                f"{where}: {name} is on device {t.device} but {first} on {ref.device}"
            )
    dtype = functools.reduce(torch.promote_types, (named[k].dtype for k in params))
    return [t.to(dtype) for t in named.values()]


def _check_shape(where: str, name: str, t: Tensor, shape: tuple, dims: str) -> None:
    if tuple(t.shape) != tuple(shape):
        raise ValueError(
            f"{where}: {name} must have shape {dims} = {tuple(shape)}, got {tuple(t.shape)}"
        )


class LIFCoef(NamedTuple):
    """Per-neuron coefficients of a layer (shapes ``(n,)``; ``drive`` ``(n,)`` or ``(n, C)``)."""

    v_rest: Tensor  # resting potential
    decay: Tensor  # membrane decay per step, exp(-dt/tau_m)
    drive: Tensor  # weight of the input current(s) on the membrane per step
    thr: Tensor  # firing threshold
    v_reset: Tensor  # reset potential (hard) / thr - v_reset is subtracted (subtract)


def _n_chunks() -> int:
    """Threads for one kernel call: ``$NEUROPLASTIC_KERNEL_THREADS``, else PyTorch's count.

    The C kernels run them as OpenMP threads of the runtime PyTorch loaded (one pool for
    both); the numba kernels use them to chunk the synaptic scan.
    """
    raw = os.environ.get("NEUROPLASTIC_KERNEL_THREADS")
    if raw is None:
        return max(1, torch.get_num_threads())
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"NEUROPLASTIC_KERNEL_THREADS must be a positive integer, got {raw!r}")
    return n


def _surrogate_consts(slope: float, dtype: torch.dtype) -> np.ndarray:
    """(1, k, pi k / 2, k / 2) in ``dtype``: the kernels' surrogate arithmetic matches torch's."""
    k = float(slope)
    return np.array([1.0, k, (0.5 * math.pi) * k, 0.5 * k],
                    dtype=np.float32 if dtype == torch.float32 else np.float64)


# ----------------------------------------------------------------------------- single step
def lif_cell_step(
    v: Tensor,
    current: Tensor,
    coef: LIFCoef,
    *,
    subtract: bool,
    surrogate: Surrogate,
    detach_reset: bool = False,
) -> tuple[Tensor, Tensor]:
    """One step: ``(v (B, n), current (B, n) or (B, n, C)) -> (spikes (B, n), v (B, n))``.

    The dynamics of :func:`~neuroplastic.neurons.lif.lif_integrate` and
    :func:`~neuroplastic.neurons.lif.lif_reset`, with the spike function's surrogate gradient.
    """
    if current.dim() == v.dim():
        inputs = [(coef.drive, current)]
    else:
        inputs = [(coef.drive[:, k], current[..., k]) for k in range(current.shape[-1])]
    u = lif_integrate(v, coef.v_rest, coef.decay, inputs)
    s = spike_fn(u - coef.thr, surrogate)
    sr = s.detach() if detach_reset else s
    return s, lif_reset(u, sr, coef.thr, coef.v_reset, subtract)


def lif_loop(
    current: Tensor,
    v0: Tensor,
    coef: LIFCoef,
    *,
    subtract: bool,
    surrogate: Surrogate,
    detach_reset: bool = False,
) -> tuple[Tensor, Tensor]:
    """Reference multi-step: loop of :func:`lif_cell_step` over ``current (T, B, n[, C])``."""
    v, out = v0, []
    for t in range(current.shape[0]):
        s, v = lif_cell_step(
            v, current[t], coef, subtract=subtract, surrogate=surrogate,
            detach_reset=detach_reset,
        )
        out.append(s)
    return torch.stack(out), v


# ----------------------------------------------------------------------------- fused
def _tile(x: Tensor, b: int) -> Tensor:
    return x.detach().contiguous().repeat(b)


class _LIFFused(torch.autograd.Function):
    @staticmethod
    def forward(ctx, cur, v0, v_rest, decay, drive, thr, v_reset, subtract, detach, surrogate):
        T, B, n = cur.shape
        N = B * n
        co = [_tile(c, B) for c in (v_rest, decay, drive, thr, v_reset)]
        cur2 = cur.detach().reshape(T, N).contiguous()
        v0f = v0.detach().reshape(N).contiguous()
        spk = torch.empty_like(cur2)
        mem = torch.empty_like(cur2)
        v_out = torch.empty_like(v0f)
        K = _engine_for(cur2, v0f, *co)
        if K is not None:
            K.lif_forward(
                cur2.numpy(), v0f.numpy(), *(c.numpy() for c in co), bool(subtract),
                _n_chunks(), spk.numpy(), mem.numpy(), v_out.numpy(),
            )
        elif (G := _device_engine(cur2, v0f, *co)) is not None:
            G.lif_forward(cur2, v0f, *co, bool(subtract), spk, mem, v_out)
        else:
            vr, dc, dr, th, vs = co
            v = v0f
            for t in range(T):
                u = lif_integrate(v, vr, dc, ((dr, cur2[t]),))
                mem[t] = u
                s = (u - th > 0).to(u.dtype)
                spk[t] = s
                v = lif_reset(u, s, th, vs, subtract)
            v_out.copy_(v)
        ctx.save_for_backward(mem, v0f, *co)  # spikes are H(mem - thr): recomputed
        ctx.cfg = (T, B, n, bool(subtract), bool(detach), surrogate)
        return spk.reshape(T, B, n), v_out.reshape(B, n)

    @staticmethod
    def backward(ctx, g_spk, g_vT):
        mem, v0f, vr, dc, dr, th, vs = ctx.saved_tensors
        T, B, n, subtract, detach, surrogate = ctx.cfg
        N = B * n
        g_spk = (
            torch.zeros_like(mem) if g_spk is None else g_spk.reshape(T, N).contiguous()
        )
        g_vT = torch.zeros_like(v0f) if g_vT is None else g_vT.reshape(N).contiguous()
        g_cur = torch.empty_like(mem)
        g_v0 = torch.empty_like(v0f)
        g_dec = torch.empty_like(v0f)
        g_thr = torch.empty_like(v0f)
        K = _engine_for(mem, g_spk, g_vT, v0f, vr)
        if K is not None:
            K.lif_backward(
                g_spk.numpy(), g_vT.numpy(), mem.numpy(), v0f.numpy(), vr.numpy(), dc.numpy(),
                dr.numpy(), th.numpy(), vs.numpy(), subtract, detach, surrogate.code,
                _surrogate_consts(surrogate.slope, mem.dtype), _n_chunks(), g_cur.numpy(),
                g_v0.numpy(), g_dec.numpy(), g_thr.numpy(),
            )
        elif (G := _device_engine(g_spk, g_vT, mem, v0f, vr)) is not None:
            G.lif_backward(g_spk, g_vT, mem, v0f, vr, dc, dr, th, vs, subtract, detach,
                           surrogate.code, surrogate.slope, g_cur, g_v0, g_dec, g_thr)
        else:
            gv = g_vT.clone()
            g_dec.zero_()
            g_thr.zero_()
            spk = (mem - th > 0).to(mem.dtype)
            for t in range(T - 1, -1, -1):
                u, s = mem[t], spk[t]
                sg = surrogate_grad(u - th, surrogate)
                gs = g_spk[t]
                if subtract:
                    gu = gv
                    if not detach:
                        gs = gs - gv * (th - vs)
                    g_thr -= gv * s
                else:
                    gu = gv * (1 - s)
                    if not detach:
                        gs = gs + gv * (vs - u)
                gx = gs * sg
                gu = gu + gx
                g_thr -= gx
                g_cur[t] = dr * gu
                if t > 0:
                    vp = lif_reset(mem[t - 1], spk[t - 1], th, vs, subtract)
                else:
                    vp = v0f
                g_dec += gu * (vp - vr)
                gv = gu * dc
            g_v0.copy_(gv)
        need = ctx.needs_input_grad
        return (
            g_cur.reshape(T, B, n) if need[0] else None,
            g_v0.reshape(B, n) if need[1] else None,
            None,
            g_dec.reshape(B, n).sum(0) if need[3] else None,
            None,
            g_thr.reshape(B, n).sum(0) if need[5] else None,
            None, None, None, None,
        )


def lif_fused(
    current: Tensor,
    v0: Tensor,
    coef: LIFCoef,
    *,
    subtract: bool,
    surrogate: Surrogate,
    detach_reset: bool = False,
) -> tuple[Tensor, Tensor]:
    """Fused multi-step LIF over ``current (T, B, n)`` (one input channel, drive ``(n,)``).

    Same values as :func:`lif_loop` (spikes bit for bit); gradients reach ``current``, ``v0``,
    ``coef.decay`` and ``coef.thr``. Memory kept for backward: membrane and spikes, ``2 T B n``.
    The computation runs in the coefficients' dtype (``current`` and ``v0`` of another
    floating dtype are cast to it, as the layers do); any layout is accepted; a non-float
    tensor, a wrong shape or another device raises ``ValueError`` naming the argument.
    """
    if not isinstance(current, Tensor) or current.dim() != 3:
        raise ValueError(
            f"lif_fused: current must be a tensor of shape (T, B, n), got "
            f"{tuple(current.shape) if isinstance(current, Tensor) else type(current).__name__}"
        )
    T, B, n = current.shape
    names = ("v_rest", "decay", "drive", "thr", "v_reset")
    named = {"current": current, "v0": v0, **{f"coef.{k}": getattr(coef, k) for k in names}}
    ops = _float_operands("lif_fused", named, tuple(named)[2:])
    _check_shape("lif_fused", "v0", v0, (B, n), "(B, n)")
    for k in names:
        _check_shape("lif_fused", f"coef.{k}", getattr(coef, k), (n,), "(n,)")
    if coef.v_rest.requires_grad or coef.drive.requires_grad or coef.v_reset.requires_grad:
        raise ValueError("lif_fused learns decay and thr only; v_rest, drive, v_reset are fixed")
    return _LIFFused.apply(*ops, subtract, detach_reset, surrogate)


def lif_sequence(
    current: Tensor,
    v0: Tensor,
    coef: LIFCoef,
    *,
    subtract: bool,
    surrogate: Surrogate,
    detach_reset: bool = False,
    backend: Literal["fused", "loop"] = "fused",
) -> tuple[Tensor, Tensor]:
    """Multi-step LIF; ``backend="fused"`` (fast) or ``"loop"`` (reference autograd loop).

    Multi-channel currents ``(T, B, n, C>1)`` always take the loop.
    """
    if backend == "fused" and current.dim() == 3 and coef.drive.dim() == 1:
        return lif_fused(
            current, v0, coef, subtract=subtract, surrogate=surrogate, detach_reset=detach_reset
        )
    if backend == "fused" and current.dim() == 4 and current.shape[-1] == 1:
        c1 = LIFCoef(coef.v_rest, coef.decay, coef.drive[:, 0], coef.thr, coef.v_reset)
        return lif_fused(
            current[..., 0], v0, c1, subtract=subtract, surrogate=surrogate,
            detach_reset=detach_reset,
        )
    return lif_loop(
        current, v0, coef, subtract=subtract, surrogate=surrogate, detach_reset=detach_reset
    )


def li_loop(
    current: Tensor, v0: Tensor, v_rest: Tensor, decay: Tensor, drive: Tensor
) -> tuple[Tensor, Tensor]:
    """Leaky integrator (LIF without threshold): membrane ``(T, B, n)`` and its last value."""
    v, out = v0, []
    for t in range(current.shape[0]):
        v = lif_integrate(v, v_rest, decay, ((drive, current[t]),))
        out.append(v)
    return torch.stack(out), v


# ----------------------------------------------------------------------------- synapses
class _Scan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, c0, decay):
        T = x.shape[0]
        shape = x.shape[1:]
        N = c0.numel()
        B = N // decay.numel()
        dec = _tile(decay.reshape(-1), B)
        x2 = x.detach().reshape(T, N).contiguous()
        c0f = c0.detach().reshape(N).contiguous()
        out = torch.empty_like(x2)
        last = torch.empty_like(c0f)
        K = _engine_for(x2, c0f, dec)
        if K is not None:
            K.linear_scan(
                x2.numpy(), c0f.numpy(), dec.numpy(), _n_chunks(), out.numpy(), last.numpy()
            )
        elif (G := _device_engine(x2, c0f, dec)) is not None:
            G.linear_scan(x2, c0f, dec, out, last)
        else:
            c = c0f
            for t in range(T):
                out[t] = c
                c = c * dec + x2[t]
            last.copy_(c)
        ctx.save_for_backward(dec)
        ctx.shape = (T, N, shape)
        return out.reshape(T, *shape), last.reshape(shape)

    @staticmethod
    def backward(ctx, g_out, g_last):
        (dec,) = ctx.saved_tensors
        T, N, shape = ctx.shape
        g_out = torch.zeros(T, N, dtype=dec.dtype, device=dec.device) if g_out is None else g_out
        g_out = g_out.reshape(T, N).contiguous()
        g_last = torch.zeros(N, dtype=dec.dtype, device=dec.device) if g_last is None else g_last
        g_last = g_last.reshape(N).contiguous()
        g_x = torch.empty_like(g_out)
        g_c0 = torch.empty_like(g_last)
        K = _engine_for(g_out, g_last, dec)
        if K is not None:
            K.linear_scan_backward(
                g_out.numpy(), g_last.numpy(), dec.numpy(), _n_chunks(), g_x.numpy(), g_c0.numpy()
            )
        elif (G := _device_engine(g_out, g_last, dec)) is not None:
            G.linear_scan_backward(g_out, g_last, dec, g_x, g_c0)
        else:
            g = g_last.clone()
            for t in range(T - 1, -1, -1):
                g_x[t] = g
                g = g * dec + g_out[t]
            g_c0.copy_(g)
        return g_x.reshape(T, *shape), g_c0.reshape(shape), None


def synaptic_scan(
    x: Tensor, c0: Tensor, decay_syn: Tensor, *, backend: Literal["fused", "loop"] = "fused"
) -> tuple[Tensor, Tensor]:
    """Synaptic currents seen by the membrane at each step.

    ``c_0 = c0``, ``c_{t+1} = c_t * decay_syn + x_t`` (arrivals of step ``t`` act from step
    ``t + 1``, as :func:`~neuroplastic.neurons.lif.receive_synaptic`). ``x (T, B, n, C)``,
    ``c0 (B, n, C)``, ``decay_syn (n, C)``; returns ``(c (T, B, n, C), c_T (B, n, C))``.
    More generally ``x (T, *S)``, ``c0`` of shape ``S`` and ``decay_syn`` of a trailing part of
    ``S``. ``x`` and ``c0`` are cast to ``decay_syn``'s dtype; a non-float tensor, a wrong
    shape or another device raises ``ValueError`` naming the argument.
    """
    if not isinstance(x, Tensor) or x.dim() < 1:
        raise ValueError(f"synaptic_scan: x must be a tensor of shape (T, ...), got {x!r}")
    x, c0, decay_syn = _float_operands(
        "synaptic_scan", {"x": x, "c0": c0, "decay_syn": decay_syn}, ("decay_syn",)
    )
    S = tuple(x.shape[1:])
    _check_shape("synaptic_scan", "c0", c0, S, "x.shape[1:]")
    k = decay_syn.dim()
    if k > len(S) or tuple(decay_syn.shape) != S[len(S) - k:]:
        raise ValueError(
            f"synaptic_scan: decay_syn must have the trailing shape of c0 {S} (e.g. "
            f"{S[1:]}), got {tuple(decay_syn.shape)}"
        )
    if backend == "fused":
        return _Scan.apply(x, c0, decay_syn)
    c, out = c0, []
    for t in range(x.shape[0]):
        out.append(c)
        c = c * decay_syn + x[t]
    return torch.stack(out), c


# ----------------------------------------------------------------------------- projection
class _EventLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x2, weight, bias, K, indptr, indices, values):
        R = x2.shape[0]
        M = weight.shape[0]
        wt = weight.detach().t().contiguous()
        out = torch.empty(R, M, dtype=x2.dtype)
        b = bias.detach() if bias is not None else torch.zeros(M, dtype=x2.dtype)
        K.spmm_forward(
            indptr, indices, values, wt.numpy(), b.contiguous().numpy(), bias is not None,
            out.numpy(), _n_chunks(),
        )
        ctx.save_for_backward(weight)
        ctx.csr = (K, indptr, indices, values, x2.shape[1])
        ctx.has_bias = bias is not None
        return out

    @staticmethod
    def backward(ctx, g):
        (weight,) = ctx.saved_tensors
        K, indptr, indices, values, n_in = ctx.csr
        g = g.contiguous()
        gx = g @ weight if ctx.needs_input_grad[0] else None
        gw = None
        if ctx.needs_input_grad[1]:
            gwt = K.spmm_grad_weight(indptr, indices, values, g.numpy(), n_in, _n_chunks())
            gw = torch.from_numpy(gwt).t().contiguous()
        gb = g.sum(0) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return gx, gw, gb, None, None, None, None


def _autocast(device_type: str) -> bool:
    try:
        return torch.is_autocast_enabled(device_type)
    except (RuntimeError, ValueError, TypeError):  # a device type without autocast
        return False


def event_linear(
    x: Tensor, weight: Tensor, bias: Tensor | None = None, *, max_density: float = 0.1
) -> Tensor:
    """``x @ weight.T + bias`` over any leading shape, event-driven when ``x`` is sparse.

    With at most ``max_density`` non-zero entries (spikes), the forward product and the weight
    gradient touch only the weight rows of active inputs (``O(nnz * n_out)`` instead of
    ``O(rows * n_in * n_out)``); otherwise (or off CPU) it is :func:`torch.nn.functional.linear`.
    Values agree with the dense product up to summation order.
    """
    if not isinstance(weight, Tensor) or weight.dim() != 2:
        raise ValueError(f"event_linear: weight must be a 2-D tensor (n_out, n_in), got "
                         f"{tuple(weight.shape) if isinstance(weight, Tensor) else weight!r}")
    n_out, n_in = weight.shape
    if not isinstance(x, Tensor) or x.dim() < 1 or x.shape[-1] != n_in:
        raise ValueError(f"event_linear: x must have n_in={n_in} features last, got "
                         f"{tuple(x.shape) if isinstance(x, Tensor) else x!r}")
    if bias is not None and (not isinstance(bias, Tensor) or tuple(bias.shape) != (n_out,)):
        raise ValueError(f"event_linear: bias must have shape (n_out,) = ({n_out},), got "
                         f"{tuple(bias.shape) if isinstance(bias, Tensor) else bias!r}")
    ts = {"x": x, "weight": weight} if bias is None else {"x": x, "weight": weight, "bias": bias}
    if not any(_autocast(t.device.type) for t in ts.values()):
        for name, t in ts.items():  # as nn.Linear: no implicit casts, one device
            if t.dtype != x.dtype or t.device != x.device:
                raise ValueError(
                    f"event_linear: {name} has dtype {t.dtype} on {t.device} but x has "
                    f"{x.dtype} on {x.device}; cast one of them (nn.Linear refuses too)"
                )
    K = _engine_for(*ts.values()) if max_density > 0 else None
    if K is None:
        return F.linear(x, weight, bias)
    lead = x.shape[:-1]
    x2 = x.reshape(-1, n_in)
    xd = x2.detach().contiguous()
    limit = int(max_density * xd.numel())
    indptr, indices, values, nnz = K.csr_from_dense(xd.numpy(), limit, _n_chunks())
    if nnz < 0:
        return F.linear(x, weight, bias)
    out = _EventLinear.apply(x2, weight, bias, K, indptr, indices, values)
    return out.reshape(*lead, weight.shape[0])
