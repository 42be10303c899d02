"""The Triton kernels of the fused layers (surrogate/_triton.py), checked on the CPU.

On a GPU these kernels run the LIF recurrence and the synaptic scan; here the same kernel
functions run in Triton's interpreter on CPU tensors and are compared with the independent
CPU engines (numba kernels, C kernels) and the autograd reference: the spikes, membranes and
scans bit for bit, the surrogate gradients bit for bit except the sigmoid kind (its ``exp`` is
numpy's in the interpreter, libm's in numba: rounding). tests/test_cuda.py runs the compiled
kernels on a GPU against the CPU.
"""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("triton", reason="Triton is not installed (it ships with CUDA torch)")

from neuroplastic.surrogate import (  # noqa: E402
    LIF,
    CubaLIF,
    Surrogate,
    _kernels,
    _triton,
    discrete_lif_params,
)
from neuroplastic.surrogate import functional as F  # noqa: E402
from neuroplastic.surrogate.spike import SURROGATE_KINDS  # noqa: E402


@pytest.fixture(scope="module")
def eng():
    return _triton.engine(interpret=True)


def _case(T, N, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.rand(*s, generator=g, dtype=dtype)  # noqa: E731
    cur = (r(T, N) - 0.5) * 1.6
    coef = (r(N) * 0.2 - 0.1, r(N) * 0.5 + 0.4, r(N) + 0.5, r(N) * 0.5 + 0.5, r(N) * 0.2 - 0.1)
    return cur, (r(N) - 0.5) * 0.6, coef


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("subtract", [True, False])
@pytest.mark.parametrize("T", [1, 9])
def test_lif_forward_equals_numba_kernel_bit_for_bit(eng, dtype, subtract, T):
    N = 300  # not a multiple of the block: the masked tail
    cur, v0, coef = _case(T, N, dtype, 1)
    ours = [torch.empty(T, N, dtype=dtype), torch.empty(T, N, dtype=dtype),
            torch.empty(N, dtype=dtype)]
    eng.lif_forward(cur, v0, *coef, subtract, *ours)
    ref = [torch.empty_like(x) for x in ours]
    _kernels.lif_forward(cur.numpy(), v0.numpy(), *(c.numpy() for c in coef), subtract, 1,
                         *(x.numpy() for x in ref))
    for a, b in zip(ours, ref):
        assert torch.equal(a, b)
    assert 0.02 < float(ours[0].mean()) < 0.6  # spikes and silences both occur


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("subtract", [True, False])
@pytest.mark.parametrize("detach", [True, False])
@pytest.mark.parametrize("kind", SURROGATE_KINDS)
@pytest.mark.parametrize("T", [1, 7])
def test_lif_backward_equals_numba_kernel(eng, dtype, subtract, detach, kind, T):
    N = 200
    cur, v0, coef = _case(T, N, dtype, 2)
    spk, mem, vT = (torch.empty(T, N, dtype=dtype), torch.empty(T, N, dtype=dtype),
                    torch.empty(N, dtype=dtype))
    _kernels.lif_forward(cur.numpy(), v0.numpy(), *(c.numpy() for c in coef), subtract, 1,
                         spk.numpy(), mem.numpy(), vT.numpy())
    g = torch.Generator().manual_seed(3)
    g_spk = torch.randn(T, N, generator=g, dtype=dtype)
    g_vT = torch.randn(N, generator=g, dtype=dtype)
    sur = Surrogate(kind, 7.0)
    ours = [torch.empty(T, N, dtype=dtype)] + [torch.empty(N, dtype=dtype) for _ in range(3)]
    eng.lif_backward(g_spk, g_vT, mem, v0, *coef, subtract, detach, sur.code, sur.slope, *ours)
    ref = [torch.empty_like(x) for x in ours]
    _kernels.lif_backward(g_spk.numpy(), g_vT.numpy(), mem.numpy(), v0.numpy(),
                          *(c.numpy() for c in coef), subtract, detach, sur.code,
                          F._surrogate_consts(sur.slope, dtype), 1, *(x.numpy() for x in ref))
    for a, b in zip(ours, ref):
        if kind == "sigmoid":
            torch.testing.assert_close(a, b)
        else:
            assert torch.equal(a, b)


def test_zero_steps(eng):
    v0 = torch.randn(5, dtype=torch.float64)
    coef = tuple(torch.rand(5, dtype=torch.float64) for _ in range(5))
    empty = torch.empty(0, 5, dtype=torch.float64)
    vT = torch.empty(5, dtype=torch.float64)
    eng.lif_forward(empty, v0, *coef, True, empty.clone(), empty.clone(), vT)
    assert torch.equal(vT, v0)
    g_vT = torch.randn(5, dtype=torch.float64)
    outs = [torch.full((5,), 9.0, dtype=torch.float64) for _ in range(3)]
    eng.lif_backward(empty, g_vT, empty, v0, *coef, True, False, 0, 25.0, empty.clone(), *outs)
    assert torch.equal(outs[0], g_vT) and not outs[1].any() and not outs[2].any()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_linear_scan_and_adjoint_equal_numba(eng, dtype):
    g = torch.Generator().manual_seed(4)
    x = torch.randn(11, 150, generator=g, dtype=dtype)
    c0 = torch.randn(150, generator=g, dtype=dtype)
    d = torch.rand(150, generator=g, dtype=dtype)
    for fn in ("linear_scan", "linear_scan_backward"):
        ours = [torch.empty(11, 150, dtype=dtype), torch.empty(150, dtype=dtype)]
        getattr(eng, fn)(x, c0, d, *ours)
        ref = [torch.empty_like(o) for o in ours]
        getattr(_kernels, fn)(x.numpy(), c0.numpy(), d.numpy(), 1, *(o.numpy() for o in ref))
        assert all(torch.equal(a, b) for a, b in zip(ours, ref)), fn


def _train_grads(layer_cls, monkeypatch, engine):
    """Spikes and gradients of a layer whose fused functions use ``engine`` (the
    interpreter, standing in for the GPU) or the CPU kernels (``None``)."""
    monkeypatch.setattr(F, "_engine_for", lambda *ts: None)
    monkeypatch.setattr(F, "_device_engine", lambda *ts: engine)
    torch.manual_seed(0)
    p = discrete_lif_params(0.9, 1.0, reset_mode="subtract")
    layer = layer_cls(12, p, learn_decay=True, learn_threshold=True, surrogate=Surrogate("arctan"))
    x = torch.rand(15, 3, 12, generator=torch.Generator().manual_seed(5)) * 0.9
    x.requires_grad_(True)
    spikes, _ = layer(x)
    (spikes * torch.linspace(-1, 1, 12)).sum().backward()
    return spikes.detach(), x.grad, [q.grad for q in layer.parameters()]


@pytest.mark.parametrize("layer_cls", [LIF, CubaLIF])
def test_layers_through_the_triton_path_equal_the_torch_path(layer_cls, monkeypatch):
    """The whole autograd function of the fused layers (forward, saved tensors, backward,
    batch reduction of the coefficient gradients) with the Triton kernels equals it with the
    torch loop that runs on a GPU without Triton."""
    s1, gx1, gp1 = _train_grads(layer_cls, monkeypatch, _triton.engine(interpret=True))
    s0, gx0, gp0 = _train_grads(layer_cls, monkeypatch, None)
    assert torch.equal(s1, s0) and s0.sum() > 0
    torch.testing.assert_close(gx1, gx0, rtol=1e-5, atol=1e-6)
    assert len(gp1) == len(gp0) >= 2
    for a, b in zip(gp1, gp0):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
        assert a.abs().sum() > 0
