"""Triton kernels behind the fused layers on CUDA devices.

On the CPU the fused LIF recurrence and the synaptic scan run in the C or numba kernels
(:mod:`._cengine`, :mod:`._kernels`); on a GPU a Python loop over time would launch a handful
of tiny kernels per step (about 3000 launches for one W3 training step). These kernels run the
whole time loop in one launch instead: each program owns a block of the ``batch * neurons``
flattened neurons, keeps their membrane in registers and walks ``T`` steps, reading the input
and writing the spikes and pre-reset membrane of each step (memory-bound: ``O(T N)`` bytes,
one pass forward, one backward).

The arithmetic is that of the numba kernels operation by operation, and the kernels are
compiled with ``enable_fp_fusion=False`` (no multiply-add contraction), so the spikes equal the
CPU reference bit for bit; the sigmoid surrogate's ``exp`` is the GPU's (computed in float64),
so its gradients agree to rounding, the others' bit for bit. The same Python functions run
under Triton's interpreter on CPU tensors (:func:`engine` with ``interpret=True``): that is
how the test suite checks them on a machine without a GPU.

Triton is an optional dependency (it ships with the CUDA builds of PyTorch); without it, or
with ``NEUROPLASTIC_KERNELS=torch``, the fused layers fall back to a torch loop on the device.
"""

from __future__ import annotations

import functools
import math

import torch
from torch import Tensor

__all__ = ["TritonEngine", "available", "engine"]

BLOCK = 128  # neurons per program: W3's 64 x 256 layer -> 128 programs on 132 SMs


def _kernels(jit):
    """The four kernels, decorated by ``jit`` (``triton.jit`` or the interpreter's). ``N``
    and ``T`` are never specialized (Triton would make a value of 1 a compile-time constant,
    and one kernel serves every size)."""
    import triton.language as tl

    def kernel(fn):
        return jit(fn, do_not_specialize=["N", "T"])

    @kernel
    def lif_forward(cur, v0, vr, dc, dr, th, vs, spk, mem, v_out, N, T,
                    SUBTRACT: tl.constexpr, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        m = offs < N
        v_rest = tl.load(vr + offs, mask=m)
        decay = tl.load(dc + offs, mask=m)
        drive = tl.load(dr + offs, mask=m)
        thr = tl.load(th + offs, mask=m)
        v_reset = tl.load(vs + offs, mask=m)
        rs = thr - v_reset
        v = tl.load(v0 + offs, mask=m)
        one = tl.full([BLOCK], 1.0, v_rest.dtype)
        zero = tl.full([BLOCK], 0.0, v_rest.dtype)
        p_cur = cur + offs
        p_spk = spk + offs
        p_mem = mem + offs
        for _t in range(T):
            c = tl.load(p_cur, mask=m)
            acc = v_rest + (v - v_rest) * decay
            acc = acc + drive * c
            tl.store(p_mem, acc, mask=m)
            s = tl.where(acc - thr > zero, one, zero)
            tl.store(p_spk, s, mask=m)
            if SUBTRACT:
                v = acc - s * rs
            else:
                v = acc * (one - s) + v_reset * s
            p_cur += N
            p_spk += N
            p_mem += N
        tl.store(v_out + offs, v, mask=m)

    @kernel
    def lif_backward(g_spk, g_vT, mem, v0, vr, dc, dr, th, vs, consts, g_cur, g_v0, g_dec,
                     g_thr, N, T, SUBTRACT: tl.constexpr, DETACH: tl.constexpr,
                     KIND: tl.constexpr, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        m = offs < N
        v_rest = tl.load(vr + offs, mask=m)
        decay = tl.load(dc + offs, mask=m)
        drive = tl.load(dr + offs, mask=m)
        thr = tl.load(th + offs, mask=m)
        v_reset = tl.load(vs + offs, mask=m)
        rs = thr - v_reset
        one = tl.load(consts)
        k = tl.load(consts + 1)
        ka = tl.load(consts + 2)
        kh = tl.load(consts + 3)
        zero = one - one
        gv = tl.load(g_vT + offs, mask=m)
        v0r = tl.load(v0 + offs, mask=m) - v_rest
        gd = tl.full([BLOCK], 0.0, v_rest.dtype)
        gt = tl.full([BLOCK], 0.0, v_rest.dtype)
        base = (T - 1).to(tl.int64) * N
        p_mem = mem + base + offs
        p_gs = g_spk + base + offs
        p_gc = g_cur + base + offs
        mt = tl.load(p_mem, mask=m)
        for i in range(T):
            x = mt - thr
            if KIND == 0:
                d = k * tl.abs(x) + one
                sg = one / (d * d)
            elif KIND == 1:
                a = ka * x
                sg = kh / (one + a * a)
            elif KIND == 2:
                # exp in float64 (libdevice's, ~correctly rounded once cast): a float32
                # tl.exp is the GPU's approximate ex2, whose error 1 - z magnifies
                z = one / (one + tl.exp((-(k * x)).to(tl.float64)).to(x.dtype))
                sg = k * z * (one - z)
            else:
                sg = k * tl.maximum(one - k * tl.abs(x), zero)
            # post-reset membrane of the previous step, minus v_rest (v0 at the first step)
            back = tl.minimum(T - 1 - i, 1)
            mp = tl.load(p_mem - back * N, mask=m)
            sp = tl.where(mp - thr > zero, one, zero)
            if SUBTRACT:
                vp = (mp - sp * rs) - v_rest
            else:
                vp = (mp * (one - sp) + v_reset * sp) - v_rest
            vp = tl.where(back > 0, vp, v0r)
            gs = tl.load(p_gs, mask=m)
            s = tl.where(x > zero, one, zero)
            if SUBTRACT:
                if not DETACH:
                    gs = gs - gv * rs
                gx = gs * sg
                gu = gv + gx
                gt = (gt - gv * s) - gx
            else:
                if not DETACH:
                    gs = gs + gv * (v_reset - mt)
                gx = gs * sg
                gu = gv * (one - s) + gx
                gt = gt - gx
            tl.store(p_gc, drive * gu, mask=m)
            gd = gd + gu * vp
            gv = gu * decay
            mt = mp
            p_mem -= N
            p_gs -= N
            p_gc -= N
        tl.store(g_v0 + offs, gv, mask=m)
        tl.store(g_dec + offs, gd, mask=m)
        tl.store(g_thr + offs, gt, mask=m)

    @kernel
    def linear_scan(x, c0, dec, out, c_last, N, T, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        m = offs < N
        d = tl.load(dec + offs, mask=m)
        c = tl.load(c0 + offs, mask=m)
        p_x = x + offs
        p_o = out + offs
        for _t in range(T):
            tl.store(p_o, c, mask=m)
            c = c * d + tl.load(p_x, mask=m)
            p_x += N
            p_o += N
        tl.store(c_last + offs, c, mask=m)

    @kernel
    def linear_scan_backward(g_out, g_last, dec, g_x, g_c0, N, T, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        m = offs < N
        d = tl.load(dec + offs, mask=m)
        g = tl.load(g_last + offs, mask=m)
        base = (T - 1).to(tl.int64) * N
        p_go = g_out + base + offs
        p_gx = g_x + base + offs
        for _t in range(T):
            tl.store(p_gx, g, mask=m)
            g = g * d + tl.load(p_go, mask=m)
            p_go -= N
            p_gx -= N
        tl.store(g_c0 + offs, g, mask=m)

    return lif_forward, lif_backward, linear_scan, linear_scan_backward


def _consts(slope: float, like: Tensor) -> Tensor:
    """(1, k, pi k / 2, k / 2) as a tensor in ``like``'s dtype and device (scalars passed to a
    Triton kernel would be float32; a float64 layer needs them in float64)."""
    return _consts_on(float(slope), like.dtype, like.device)


@functools.lru_cache(maxsize=64)
def _consts_on(k: float, dtype: torch.dtype, device: torch.device) -> Tensor:
    # cached: a fresh host-to-device copy per backward call would wait for the device
    return torch.tensor([1.0, k, (0.5 * math.pi) * k, 0.5 * k], dtype=dtype, device=device)


class TritonEngine:
    """The kernels of :mod:`.functional`'s fused functions, on torch tensors of one device.

    Every tensor is contiguous, of one floating dtype; ``(T, N)`` sequences and ``(N,)``
    coefficients as in the numba kernels (coefficients tiled over the batch).
    """

    def __init__(self, interpret: bool = False) -> None:
        import triton

        if interpret:
            from triton.runtime.interpreter import InterpretedFunction

            jit, opts = InterpretedFunction, {}
        else:
            jit, opts = triton.jit, {"enable_fp_fusion": False}
        self.interpret = interpret
        self._opts = opts
        self._fwd, self._bwd, self._scan, self._scan_bwd = _kernels(jit)

    @staticmethod
    def _grid(N: int) -> tuple[int]:
        return (max(1, -(-N // BLOCK)),)

    def _launch(self, kernel, like: Tensor, *args, **meta) -> None:
        """``kernel`` over ``N`` neurons (``args[-2]``), on ``like``'s device."""
        grid = self._grid(args[-2])
        if like.is_cuda:
            with torch.cuda.device(like.device):
                kernel[grid](*args, **meta, **self._opts)
        else:
            kernel[grid](*args, **meta, **self._opts)

    def lif_forward(self, cur, v0, v_rest, decay, drive, thr, v_reset, subtract, spk, mem,
                    v_out) -> None:
        T, N = cur.shape
        self._launch(self._fwd, cur, cur, v0, v_rest, decay, drive, thr, v_reset, spk, mem,
                     v_out, N, T, SUBTRACT=bool(subtract), BLOCK=BLOCK)

    def lif_backward(self, g_spk, g_vT, mem, v0, v_rest, decay, drive, thr, v_reset, subtract,
                     detach_reset, kind, slope, g_cur, g_v0, g_decay, g_thr) -> None:
        T, N = mem.shape
        if T == 0:  # the kernel reads step T - 1 first
            g_v0.copy_(g_vT)
            g_decay.zero_()
            g_thr.zero_()
            return
        self._launch(
            self._bwd, mem, g_spk, g_vT, mem, v0, v_rest, decay, drive, thr, v_reset,
            _consts(slope, mem), g_cur, g_v0, g_decay, g_thr, N, T, SUBTRACT=bool(subtract),
            DETACH=bool(detach_reset), KIND=int(kind), BLOCK=BLOCK,
        )

    def linear_scan(self, x, c0, decay, out, c_last) -> None:
        T, N = x.shape
        self._launch(self._scan, x, x, c0, decay, out, c_last, N, T, BLOCK=BLOCK)

    def linear_scan_backward(self, g_out, g_last, decay, g_x, g_c0) -> None:
        T, N = g_out.shape
        self._launch(self._scan_bwd, g_out, g_out, g_last, decay, g_x, g_c0, N, T, BLOCK=BLOCK)


@functools.cache
def available() -> bool:
    """Whether Triton can be imported (the kernels compile on first use)."""
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


@functools.cache
def engine(interpret: bool = False) -> TritonEngine:
    """The (cached) engine; ``interpret=True`` runs the kernels in Triton's CPU interpreter."""
    return TritonEngine(interpret)
