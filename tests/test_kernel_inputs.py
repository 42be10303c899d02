"""Compiled kernels never trust their inputs (issue 12, defect 10).

A float32 layer given float64 input used to corrupt the heap (the C kernels read every array
with the first one's element type); wrong dtypes or state shapes gave silently wrong spikes.
Every entry into a C or numba kernel now checks dtype, shape, memory layout and device of every
argument (``neuroplastic.kernels._checks``): exact conversions are made (layout, widening
casts), anything else raises ``ValueError`` naming the argument. Checked here:

* the surrogate layers over dtypes x shapes x strides x kernel backends (hypothesis), against
  the torch loop reference (accepted inputs) or a ``ValueError`` naming the argument;
* every surrogate kernel entry point of both engines (C, numba), argument by argument;
* the simulator and plasticity kernels (network loop, STDP, Diehl & Cook, Izhikevich, EVT 3.0)
  with arguments recorded from real calls, then corrupted one at a time;
* the one definition of the LIF step (``lif_integrate`` / ``lif_reset``) against ``lif_step``.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
from unittest import mock

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from neuroplastic.kernels._checks import CheckedKernel
from neuroplastic.neurons.lif import (
    Analog,
    LIFParams,
    LIFState,
    lif_integrate,
    lif_reset,
    lif_step,
    realize_lif,
)
from neuroplastic.surrogate import (
    LIF,
    CubaLIF,
    CubaState,
    LIFCell,
    LIFLayerState,
    Surrogate,
    discrete_lif_params,
)
from neuroplastic.surrogate import _kernels as numba_kernels
from neuroplastic.surrogate import functional as fn
from neuroplastic.surrogate.functional import LIFCoef, event_linear, lif_fused, lif_loop

HAVE_CC = bool(shutil.which("cc") or shutil.which("gcc") or shutil.which("clang"))
BACKENDS = ["c", "numba", "torch"] if HAVE_CC else ["numba", "torch"]
F32, F64, F16, I64 = torch.float32, torch.float64, torch.float16, torch.int64
T, B, N = 6, 3, 5


def _names(err: pytest.ExceptionInfo, name: str) -> bool:
    """Whether the error message names the argument ``name`` (as a word)."""
    return re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", str(err.value)) is not None


def _layout(t: torch.Tensor, how: str) -> torch.Tensor:
    """The values of ``t`` in another memory layout (not contiguous for 2-D and up)."""
    if how == "contiguous":
        return t.contiguous()
    if how == "transposed":
        p = list(range(t.dim()))[::-1]  # reversing the axes is its own inverse
        return t.permute(*p).contiguous().permute(*p)
    big = torch.zeros(*t.shape[:-1], 2 * t.shape[-1], dtype=t.dtype)
    big[..., ::2] = t
    return big[..., ::2]  # sliced: every other element of a wider tensor


def _values(shape, dtype, gen, scale=0.7, shift=0.35):
    if dtype.is_floating_point:
        return (torch.randn(shape, generator=gen, dtype=F64) * scale + shift).to(dtype)
    return torch.randint(0, 2, shape, generator=gen, dtype=dtype)


# ----------------------------------------------------------------------------- layers
SHAPES_X = {"right": (T, B, N), "same_numel": (T * B, N), "wrong": (T, B, N + 1)}
SHAPES_V = {"right": (B, N), "same_numel": (N, B), "wrong": (1, N)}  # (1, N) broadcasts
SHAPES_I = {"right": (B, N, 1), "same_numel": (N, B, 1), "wrong": (1, N, 1)}
DTYPES = [F32, F64, F16, I64]
LAYOUTS = ["contiguous", "transposed", "sliced"]


def _mostly(good: list, bad: list):
    """Draws from ``good`` twice as often as from ``bad`` (enough accepted cases to compare)."""
    return st.one_of(st.sampled_from(good), st.sampled_from(good), st.sampled_from(bad))


def _reference(layer, x, st_):
    """The torch loop (independent of the fused code and its checks) on the input and state
    cast to the layer's dtype: spikes, v, i_syn."""
    d = layer.v_rest.dtype
    x = x.to(d)
    st_ = None if st_ is None else type(st_)(*(t.to(d) for t in st_))
    coef = layer.coef()
    kw = dict(subtract=layer.subtract, surrogate=layer.surrogate)
    if isinstance(layer, CubaLIF):
        c = torch.zeros(B, N, 1, dtype=layer.v_rest.dtype) if st_ is None else st_.i_syn
        v0 = layer.rest(B) if st_ is None else st_.v
        cur = []
        for t in range(x.shape[0]):
            cur.append(c)
            c = c * layer.decay_syn + x[t][..., None]
        s, v = lif_loop(torch.stack(cur), v0, coef, **kw)
        return s, v, c
    v0 = layer.rest(B) if st_ is None else st_.v
    s, v = lif_loop(x, v0, coef, **kw)
    return s, v, None


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cuba=st.booleans(), layer_dtype=st.sampled_from([F32, F64]),
    x_dtype=_mostly([F32, F64, F16], [I64]), x_shape=_mostly(["right"], ["same_numel", "wrong"]),
    x_layout=st.sampled_from(LAYOUTS), state=_mostly(["none", "right"], ["same_numel", "wrong"]),
    v_dtype=_mostly([F32, F64, F16], [I64]), i_shape=_mostly(["right"], ["same_numel", "wrong"]),
    i_dtype=_mostly([F32, F64, F16], [I64]), state_layout=st.sampled_from(LAYOUTS),
    seed=st.integers(0, 2**16),
)
def test_layers_accept_exact_conversions_and_name_refused_arguments(
    backend, cuba, layer_dtype, x_dtype, x_shape, x_layout, state, v_dtype, i_shape, i_dtype,
    state_layout, seed,
):
    g = torch.Generator().manual_seed(seed)
    layer = (CubaLIF if cuba else LIF)(N, discrete_lif_params(0.9, 1.0), dtype=layer_dtype)
    x = _layout(_values(SHAPES_X[x_shape], x_dtype, g), x_layout)
    st_ = None
    if state != "none":
        v = _layout(_values(SHAPES_V[state], v_dtype, g, 0.3, 0.2), state_layout)
        if cuba:
            i = _layout(_values(SHAPES_I[i_shape], i_dtype, g, 0.2, 0.1), state_layout)
            st_ = CubaState(v, i)
        else:
            st_ = LIFLayerState(v)
    # what must be refused, in the order the layer checks: x, then state.v, then state.i_syn
    bad = None
    if x_shape != "right" or not x_dtype.is_floating_point:
        bad = "x"
    elif state != "none" and (state != "right" or not v_dtype.is_floating_point):
        bad = "state.v"
    elif cuba and state != "none" and (i_shape != "right" or not i_dtype.is_floating_point):
        bad = "state.i_syn"
    event("accepted" if bad is None else f"refused: {bad}")
    with mock.patch.dict(os.environ, {"NEUROPLASTIC_KERNELS": backend}):
        engine = fn.kernel_engine()
        assert (engine is None) == (backend == "torch")
        if bad is not None:
            with pytest.raises(ValueError) as err:
                layer(x, st_)
            assert _names(err, bad), str(err.value)
            return
        s, out = layer(x, st_)
    s_ref, v_ref, i_ref = _reference(layer, x, st_)
    assert s.dtype == out.v.dtype == layer_dtype
    assert torch.equal(s, s_ref)  # bit for bit
    assert torch.equal(out.v, v_ref)
    if cuba:
        assert torch.equal(out.i_syn, i_ref)


@pytest.mark.parametrize("backend", BACKENDS)
def test_issue_cases_float64_input_to_float32_layer_and_mixed_state(backend, monkeypatch):
    """The reported cases: torch.from_numpy input (float64) into float32 layers; a float64
    state; a float64 layer given float32 input: computed in the layer's dtype, equal to the
    loop, gradients included (back to the input's dtype)."""
    monkeypatch.setenv("NEUROPLASTIC_KERNELS", backend)
    g = torch.Generator().manual_seed(0)
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((40, 2, 4)) * 0.8 + 0.4)
    for cls in (LIF, CubaLIF):
        s, st_ = cls(4)(x)  # crashed the process with heap corruption (C engine)
        s_ref, st_ref = cls(4, backend="loop")(x.float())
        assert s.dtype == F32 and torch.equal(s, s_ref) and s.sum() > 0
        assert torch.equal(st_.v, st_ref.v)
    x32 = (torch.randn(40, 2, 4, generator=g) * 0.8 + 0.4).requires_grad_()
    v64 = torch.rand(2, 4, generator=g, dtype=F64).requires_grad_()
    for layer_dtype, v in ((F64, None), (F32, v64)):
        grads, outs = [], []
        for mode in ("fused", "loop"):
            layer = LIF(4, dtype=layer_dtype, backend=mode, learn_threshold=True)
            s, st_ = layer(x32, None if v is None else LIFLayerState(v))
            outs.append((s, st_.v))
            inputs = [x32, layer.threshold] + ([] if v is None else [v])
            grads.append(torch.autograd.grad((s * torch.arange(4.0)).sum() + st_.v.sum(),
                                             inputs))
        assert torch.equal(outs[0][0], outs[1][0]) and torch.equal(outs[0][1], outs[1][1])
        for a, b, inp in zip(*grads, inputs):
            assert a.dtype == b.dtype == inp.dtype
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_single_step_cells_and_devices_are_checked():
    cell = LIFCell(N)
    x = torch.rand(B, N)
    with pytest.raises(ValueError, match=r"state\.v must have shape \(3, 5\)"):
        cell(x, LIFLayerState(torch.zeros(1, N)))  # broadcast silently before
    with pytest.raises(ValueError, match=r"state\.v is on device meta"):
        LIF(N)(torch.rand(T, B, N), LIFLayerState(torch.zeros(B, N, device="meta")))
    with pytest.raises(ValueError, match=r"x must be a floating-point tensor"):
        LIF(N)(torch.ones(T, B, N, dtype=torch.bool))


def _coef(n=N, dtype=F32):
    c = realize_lif(discrete_lif_params(0.9, 1.0), Analog(), n, 1.0,
                    generator=torch.Generator().manual_seed(0))
    return LIFCoef(c.v_rest.to(dtype), c.decay_v.to(dtype), c.drive_ext.to(dtype),
                   c.v_thresh.to(dtype), c.v_reset.to(dtype))


@pytest.mark.parametrize("field", LIFCoef._fields)
@pytest.mark.parametrize("how", ["short", "int", "meta"])
def test_lif_fused_names_each_bad_coefficient(field, how):
    coef = _coef()
    t = getattr(coef, field)
    bad = {"short": t[:-1], "int": t.to(I64), "meta": t.to("meta")}[how]
    with pytest.raises(ValueError) as err:
        lif_fused(torch.rand(T, B, N), torch.zeros(B, N), coef._replace(**{field: bad}),
                  subtract=True, surrogate=Surrogate())
    assert _names(err, f"coef.{field}"), str(err.value)


def test_synaptic_scan_and_event_linear_name_bad_arguments():
    x, c0, dec = torch.rand(T, B, N, 2), torch.zeros(B, N, 2), torch.rand(N, 2)
    for kw, name in (({"c0": c0[:, :-1]}, "c0"), ({"decay_syn": dec.T}, "decay_syn"),
                     ({"x": x.to(I64)}, "x"), ({"c0": c0.to("meta")}, "c0")):
        args = {"x": x, "c0": c0, "decay_syn": dec, **kw}
        with pytest.raises(ValueError) as err:
            fn.synaptic_scan(args["x"], args["c0"], args["decay_syn"])
        assert _names(err, name), str(err.value)
    c0 = torch.rand(B, N, 2, dtype=F64)
    a, b = fn.synaptic_scan(x.double(), c0, dec.T.contiguous().T)  # decay's dtype, any layout
    c, ref = c0.float(), []
    for t in range(T):
        ref.append(c)
        c = c * dec + x[t]
    assert a.dtype == F32 and torch.equal(a, torch.stack(ref)) and torch.equal(b, c)
    w, bias = torch.randn(7, N), torch.randn(7)
    xs = (torch.rand(4, N) < 0.1).float()
    for args, name in (((xs, w, bias[:-1]), "bias"), ((xs[:, :-1], w, bias), "x"),
                       ((xs.double(), w, bias), "weight"), ((xs, w[None], bias), "weight")):
        with pytest.raises(ValueError) as err:
            event_linear(*args)
        assert _names(err, name), str(err.value)
    wt = torch.randn(N, 7).T  # non-contiguous weight: same values as the dense product
    torch.testing.assert_close(event_linear(xs, wt, bias), torch.nn.functional.linear(xs, wt,
                               bias), rtol=1e-6, atol=1e-6)


# ----------------------------------------------------------------------------- engines
def _engines():
    out = [("numba", numba_kernels)]
    if HAVE_CC:
        from neuroplastic.surrogate._cengine import CEngine, build

        out.insert(0, ("c", CEngine(build())))
    return out


ENGINES = _engines()


def _entry(engine, kernel: str) -> tuple:
    """``(callable, its CheckedKernel)``: a bound method of the C engine, or a numba entry."""
    f = getattr(engine, kernel)
    checked_ = getattr(type(engine), kernel) if hasattr(type(engine), kernel) else f
    assert isinstance(checked_, CheckedKernel), f"{kernel} is not called through its checks"
    return f, checked_


def _lif_args(rng, dt):
    Tn, Nn = 8, 6
    a = dict(
        cur=(rng.standard_normal((Tn, Nn)) * 0.8 + 0.4).astype(dt),
        v0=(rng.standard_normal(Nn) * 0.2).astype(dt),
        v_rest=np.zeros(Nn, dt), decay=np.full(Nn, 0.9, dt), drive=np.ones(Nn, dt),
        thr=np.ones(Nn, dt), v_reset=np.zeros(Nn, dt),
    )
    return a, Tn, Nn


def _kernel_cases(engine_name, rng, dt):
    """Valid arguments of every surrogate kernel (the names of the written ones)."""
    a, Tn, Nn = _lif_args(rng, dt)
    fwd = dict(**a, subtract=True, n_chunks=2, spk=np.empty((Tn, Nn), dt),
               mem=np.empty((Tn, Nn), dt), v_out=np.empty(Nn, dt))
    mem = (rng.standard_normal((Tn, Nn)) + 0.5).astype(dt)
    bwd = dict(g_spk=rng.standard_normal((Tn, Nn)).astype(dt), g_vT=np.ones(Nn, dt), mem=mem,
               **{k: a[k] for k in ("v0", "v_rest", "decay", "drive", "thr", "v_reset")},
               subtract=False, detach_reset=False, kind=1,
               consts=fn._surrogate_consts(2.0, torch.float32 if dt == np.float32 else F64),
               n_chunks=1, g_cur=np.empty((Tn, Nn), dt), g_v0=np.empty(Nn, dt),
               g_decay=np.empty(Nn, dt), g_thr=np.empty(Nn, dt))
    scan = dict(x=a["cur"], c0=a["v0"], decay=a["decay"], n_chunks=1,
                out=np.empty((Tn, Nn), dt), c_last=np.empty(Nn, dt))
    scan_b = dict(g_out=a["cur"], g_last=a["v0"], decay=a["decay"], n_chunks=2,
                  g_x=np.empty((Tn, Nn), dt), g_c0=np.empty(Nn, dt))
    R, n_in, M = 5, 5, 4
    x = np.where(rng.random((R, n_in)) < 0.4, rng.standard_normal((R, n_in)), 0).astype(dt)
    x[0, 0] = 1.0
    K = dict(ENGINES)[engine_name]
    indptr, indices, values, _ = K.csr_from_dense(x, x.size, 1)
    spf = dict(indptr=indptr, indices=indices, values=values,
               wt=rng.standard_normal((n_in, M)).astype(dt), bias=rng.standard_normal(M).astype(dt),
               has_bias=True, out=np.empty((R, M), dt), n_chunks=1)
    spg = dict(indptr=indptr, indices=indices, values=values,
               g=rng.standard_normal((R, M)).astype(dt), n_in=n_in)
    spg["n_chunks" if engine_name == "c" else "n_blocks"] = 2
    csr = dict(x=x, max_nnz=x.size, n_chunks=1)
    return {"lif_forward": (fwd, x), "lif_backward": (bwd, x), "linear_scan": (scan, x),
            "linear_scan_backward": (scan_b, x), "spmm_forward": (spf, x),
            "spmm_grad_weight": (spg, x), "csr_from_dense": (csr, x)}


def _call(f, args):
    """Call ``f`` on copies of ``args``; its return value and the arguments after the call.

    Only writeable contiguous arrays are copied (the others are what is under test), and an
    array passed twice stays one array."""
    memo = {}

    def cp(v):
        if isinstance(v, np.ndarray) and v.flags.c_contiguous and v.flags.writeable:
            return memo.setdefault(id(v), v.copy())
        return v

    args = {k: cp(v) for k, v in args.items()}
    ret = f(**args)
    return ret, args


def _same(a, b) -> bool:
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return all(_same(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and np.array_equal(a, b)
    return a == b


def _other_dtype(dt: np.dtype) -> np.dtype:
    return np.dtype({"f4": "f8", "f8": "f4", "i4": "i8", "i8": "i4", "u1": "b1", "b1": "u1",
                     "u8": "i8", "u2": "i2", "i2": "i8"}[dt.str[1:]])


def _strided(a: np.ndarray) -> np.ndarray:
    """The values of ``a`` as a non-contiguous view of a wider array."""
    big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],) if a.ndim else (2,), a.dtype)
    big[..., ::2] = a
    return big[..., ::2]


def _mutations(name, v, spec_arg, args):
    """(label, new value, expected: 'refused' or 'same') for one array argument."""
    out = spec_arg.out
    if spec_arg.dtype == "real":  # the other float: refused unless nothing else fixes it
        yield "dtype", v.astype(_other_dtype(v.dtype)), "refused or runs"
        yield "int_dtype", np.zeros(v.shape, f"i{v.dtype.itemsize}"), "refused"  # same bytes
    else:
        yield "dtype", v.astype(_other_dtype(v.dtype)), "refused"
    yield "same_numel", v.reshape(-1) if v.ndim > 1 else v.reshape(1, -1), "refused"
    yield "list", v.tolist(), "refused"
    if v.ndim:  # refused, unless nothing else depends on that size: then it must run
        yield "one_more_row", np.concatenate([v, np.zeros_like(v, shape=(1,) + v.shape[1:])]), \
            "refused or runs"
    if v.size > 1 and v.ndim:
        yield "strided", _strided(v), "refused" if out else "same"
    if out:
        ro = v.copy()
        ro.flags.writeable = False
        yield "read_only", ro, "refused"
        for other, w in args.items():  # another array of the call, same shape and dtype
            if other != name and isinstance(w, np.ndarray) and w.shape == v.shape \
                    and w.dtype == v.dtype:
                yield f"alias_of_{other}", w, "refused"
                break


def _spec_args(f: CheckedKernel, args):
    from neuroplastic.kernels._checks import _parse

    for name, a in zip(f.spec.names, f.spec.args):
        if callable(a):
            text = a(args)
            if text is None:
                continue
            a = _parse(name, text)
        yield name, a


def _check_entry_point(f, spec: CheckedKernel, args: dict) -> int:
    """Corrupt every argument of a valid call of ``f`` in turn: refused ones must raise
    ValueError naming the argument; accepted ones (a strided copy of an input) give the same
    results. Returns how many calls were checked."""
    base = _call(f, args)
    n = 0
    for name, a in _spec_args(spec, args):
        v = args[name]
        if a.kind != "array":
            cases = [("str", "1", "refused")]
            if a.kind == "int":
                cases.append(("float", float(v) + 0.5, "refused"))
            for op, text, _ in a.bounds:  # a literal bound: the first value beyond it
                if text.strip().lstrip("-").isdigit():
                    lim = int(text)
                    bad = {">=": lim - 1, ">": lim, "<=": lim + 1, "<": lim}[op]
                    cases.append((f"bound {op}{text}", bad, "refused"))
        elif v is None:
            continue
        else:
            with np.errstate(all="ignore"):  # casts of uninitialised output buffers
                cases = list(_mutations(name, v, a, args))
            for op, text, _ in a.bounds:  # an index out of range
                if v.size:
                    w = v.copy()
                    w.flat[0] = -1 if op in (">=", ">") else np.iinfo(v.dtype).max // 2
                    cases.append((f"value {op}{text}", w, "refused"))
        for label, new, expect in cases:
            call = {**args, name: new}
            n += 1
            what = f"{spec.spec.kernel}: {name} {label}"
            if expect == "refused or runs":
                try:
                    _call(f, call)
                except ValueError as e:
                    assert re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", str(e)), what
            elif expect == "refused":
                with pytest.raises(ValueError) as err:
                    _call(f, call)
                assert _names(err, name), f"{what}: {err.value}"
            else:
                assert _same(_call(f, call), base), what
    return n


@pytest.mark.parametrize("engine", [e for e, _ in ENGINES])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_every_surrogate_kernel_refuses_corrupt_arguments(engine, dt):
    K = dict(ENGINES)[engine]
    n = 0
    for kernel, (args, _) in _kernel_cases(engine, np.random.default_rng(1), dt).items():
        n += _check_entry_point(*_entry(K, kernel), args)
    assert n > 300


@pytest.mark.parametrize("engine", [e for e, _ in ENGINES])
def test_surrogate_kernels_equal_the_torch_loop(engine):
    """The valid calls used above compute what the torch reference computes."""
    K = dict(ENGINES)[engine]
    for dt in (np.float32, np.float64):
        cases = _kernel_cases(engine, np.random.default_rng(2), dt)
        args, _ = cases["lif_forward"]
        _, out = _call(_entry(K, "lif_forward")[0], args)
        t = {k: torch.from_numpy(v) for k, v in args.items() if isinstance(v, np.ndarray)}
        coef = LIFCoef(t["v_rest"], t["decay"], t["drive"], t["thr"], t["v_reset"])
        s, v = lif_loop(t["cur"][:, None], t["v0"][None], coef, subtract=True,
                        surrogate=Surrogate())
        assert torch.equal(torch.from_numpy(out["spk"]), s[:, 0]) and s.sum() > 0
        assert torch.equal(torch.from_numpy(out["v_out"]), v[0])
        args, _ = cases["linear_scan"]
        _, out = _call(_entry(K, "linear_scan")[0], args)
        c, ref = args["c0"], []
        for k in range(args["x"].shape[0]):
            ref.append(c)
            c = c * args["decay"] + args["x"][k]
        assert np.array_equal(out["out"], np.stack(ref)) and np.array_equal(out["c_last"], c)
        args, x = cases["spmm_forward"]
        _, out = _call(_entry(K, "spmm_forward")[0], args)
        tol = 1e-5 if dt == np.float32 else 1e-12
        np.testing.assert_allclose(out["out"], x @ args["wt"] + args["bias"], rtol=tol,
                                   atol=tol)


def test_direct_call_with_a_too_short_buffer_is_refused_not_run():
    """The exact call the ASan harness (tests/test_asan.py) makes through bare ctypes, here
    through the checked entry point: refused before any C code runs."""
    if not HAVE_CC:
        pytest.skip("no C compiler")
    K = dict(ENGINES)["c"]
    cur = np.zeros((10, 1000))
    spk, mem = np.empty((10, 1000)), np.empty((10, 1000))
    with pytest.raises(ValueError, match=r"v0 must have shape \(N,\), i\.e\. 1000 on axis 0"):
        K.lif_forward(cur, np.zeros(500), *[np.zeros(1000)] * 5, True, 1, spk, mem,
                      np.empty(1000))


# ----------------------------------------------------------------------------- simulator
class _Recorder:
    """Stand-in for a kernel module attribute: records copies of the arguments of the first
    call that satisfies ``keep`` (then runs the real kernel)."""

    def __init__(self, kernel: CheckedKernel, keep=lambda a: True):
        self.kernel, self.keep, self.args = kernel, keep, None

    def __call__(self, *args, **kwargs):
        bound = self.kernel.__signature__.bind(*args, **kwargs)
        bound.apply_defaults()
        if self.args is None and self.keep(bound.arguments):
            self.args = copy.deepcopy(dict(bound.arguments))
        return self.kernel(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.kernel, name)


@pytest.fixture(scope="module")
def recorded():
    """Arguments of real calls of every simulator / plasticity kernel entry point."""
    from neuroplastic.kernels import diehl_cook_numba, evt3_numba, izhikevich_numba, network_numba
    from neuroplastic.plasticity import _stdp_kernels

    rec = {}
    with mock.patch.object(network_numba, "run_steps", _Recorder(
            network_numba.run_steps, lambda a: a["n_steps"] > 0)) as r:
        from neuroplastic.network import Network
        from neuroplastic.synapses import FixedProbability, FromMatrix

        net = Network(dt_ms=0.5, batch=2, seed=1, backend="numba")
        net.add_lif("a", 12, LIFParams(tau_syn_ms=(4.0, 8.0), theta_plus_mv=0.2,
                                       tau_theta_ms=100.0), Analog(noise_sigma_mv=1.0))
        net.add_poisson("poi", torch.full((10,), 80.0))
        net.connect("poi", "a", FixedProbability(0.5), weight=6.0, delay_ms=1.0)
        # per-synapse weights (stored), beside the shared weight of the projection above
        m = np.random.default_rng(5).random((12, 12))
        net.connect("a", "a", FromMatrix(np.where(m < 0.3, 2.0 * m, 0.0)), channel=1)
        net.set_current("a", 5.0)
        net.monitor_state("a", neurons=[0, 3], stride=2)
        net.monitor_spikes("a")
        net.run(20.0)
        rec["run_steps"] = (r.kernel, r.args)
    with mock.patch.object(_stdp_kernels, "stdp_sequence_kernel", _Recorder(
            _stdp_kernels.stdp_sequence_kernel)) as r:
        from neuroplastic.plasticity import STDPParams, csr_layout, stdp_sequence
        from neuroplastic.plasticity.stdp import STDPState

        g = torch.Generator().manual_seed(0)
        indptr = torch.tensor([0, 2, 3, 5, 6])
        indices = torch.tensor([0, 2, 1, 0, 2, 1])
        pre = torch.rand(30, 2, 4, generator=g) < 0.2
        post = torch.rand(30, 2, 3, generator=g) < 0.2
        st0 = STDPState(torch.zeros(2, 4, dtype=F64), torch.zeros(2, 3, dtype=F64))
        stdp_sequence(torch.rand(6, dtype=F64, generator=g), pre, post, st0,
                      STDPParams(update="multiplicative", w_min=0.0, w_max=1.0), dt_ms=1.0,
                      csr=csr_layout(indptr, indices, 3), backend="numba")
        rec["stdp_sequence_kernel"] = (r.kernel, r.args)
    with mock.patch.object(diehl_cook_numba, "present", _Recorder(
            diehl_cook_numba.present)) as r:
        from neuroplastic.models.diehl_cook import (
            DiehlCookParams,
            coefficients,
            present_numba,
            spike_thresholds,
        )

        p = DiehlCookParams(n_input=16, presentation_ms=30.0)
        idx = np.arange(0, 16, 2)
        present_numba(idx, spike_thresholds(np.full(8, 0.8), 200.0, p.dt_ms), 7, p.n_steps,
                      torch.rand(16, 6, dtype=F64, generator=g),
                      torch.zeros(6, dtype=F64), True, True, 4.0, coefficients(p), record=True)
        rec["present"] = (r.kernel, r.args)
    with mock.patch.object(izhikevich_numba, "run_block", _Recorder(
            izhikevich_numba.run_block)) as r:
        from neuroplastic.experiments.distal_reward import (
            DistalRewardConfig,
            build_network,
            simulate,
        )

        simulate(build_network(DistalRewardConfig(max_delay_ms=5, seed=1)), 10)
        rec["run_block"] = (r.kernel, r.args)
    rng = np.random.default_rng(0)
    t = np.sort(rng.integers(0, 10**6, 50))
    ev = dict(x=rng.integers(0, 640, 50), y=rng.integers(0, 480, 50), t=t,
              p=rng.integers(0, 2, 50), max_high_step=2047)
    rec["evt3_encode"] = (evt3_numba.evt3_encode, ev)
    words = evt3_numba.evt3_encode(**ev)
    rec["evt3_decode"] = (evt3_numba.evt3_decode, dict(words=words, width=640))
    return rec


@pytest.mark.parametrize("kernel", ["run_steps", "stdp_sequence_kernel", "present",
                                    "run_block", "evt3_encode", "evt3_decode"])
def test_simulator_and_plasticity_kernels_refuse_corrupt_arguments(recorded, kernel):
    f, args = recorded[kernel]
    assert isinstance(f, CheckedKernel) and args is not None
    n = _check_entry_point(f, f, args)
    assert n >= 3 * sum(isinstance(v, np.ndarray) for v in args.values())


def test_simulator_kernel_refuses_a_mismatched_state_before_running(recorded):
    """The cases the issue names, on the network loop: a float32 membrane beside float64
    currents (either precision is allowed, never a mix), a state of the same number of
    elements but another shape, a non-contiguous in-place array."""
    f, args = recorded["run_steps"]
    v = args["v"]
    for bad, msg in ((v.astype(np.float32),
                      r"isyn must have dtype float32 \(the dtype of v\), got float64"),
                     (v.T.copy(), r"v must have shape \(B, n_lif\)"),
                     (np.asfortranarray(np.zeros((v.shape[0], v.shape[1] + 1))[:, 1:]),
                      r"isyn must have shape|v is written in place and must be C-contiguous")):
        with pytest.raises(ValueError, match=msg):
            f(**{**copy.deepcopy(args), "v": bad})


# ----------------------------------------------------------------------------- one definition
@pytest.mark.parametrize("reset", ["subtract", "hard"])
def test_one_definition_of_the_lif_step(reset):
    """lif_step (simulator), the surrogate cell and the pure pieces agree bit for bit."""
    g = torch.Generator().manual_seed(4)
    p = LIFParams(t_ref_ms=0.0, reset_mode=reset, tau_syn_ms=(3.0, 7.0))
    coef = realize_lif(p, Analog(tau_mem_cv=0.2, v_thresh_cv=0.1), 30, 0.5, generator=g)
    v = -70 + 25 * torch.rand(4, 30, generator=g, dtype=F64)
    i_syn = torch.rand(4, 30, 2, generator=g, dtype=F64) * 3
    i_ext = torch.rand(4, 30, generator=g, dtype=F64) * 40
    zeros = torch.zeros_like(v)
    new, spikes = lif_step(LIFState(v, i_syn, zeros, zeros.long()), coef, i_ext)
    inputs = [(coef.drive_ext, i_ext)] + [(coef.drive_syn[:, k], i_syn[..., k]) for k in (0, 1)]
    u = lif_integrate(v, coef.v_rest, coef.decay_v, inputs)
    s = (u - coef.v_thresh > 0).to(F64)
    assert torch.equal(s.bool(), spikes) and 0 < int(spikes.sum()) < spikes.numel()
    assert torch.equal(lif_reset(u, s, coef.v_thresh, coef.v_reset, reset == "subtract"), new.v)
    # the surrogate cell (multi-channel current) is the same function of the same numbers
    cc = LIFCoef(coef.v_rest, coef.decay_v, torch.cat([coef.drive_ext[:, None],
                                                       coef.drive_syn], 1),
                 coef.v_thresh, coef.v_reset)
    cur = torch.cat([i_ext[..., None], i_syn], -1)
    s2, v2 = fn.lif_cell_step(v, cur, cc, subtract=reset == "subtract", surrogate=Surrogate())
    assert torch.equal(s2, s) and torch.equal(v2, new.v)
