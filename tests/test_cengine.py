"""The C kernel engine: build errors, engine selection, and agreement with the numba kernels."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroplastic.surrogate import _cengine
from neuroplastic.surrogate import _kernels as numba_kernels
from neuroplastic.surrogate import functional as fn

pytestmark = pytest.mark.skipif(
    not (shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")),
    reason="no C compiler: the C kernels are unavailable",
)


@pytest.fixture(scope="module")
def C():
    """The engine, splitting even tiny calls between threads (the work split is under test)."""
    saved = _cengine._MIN_SPLIT
    _cengine._MIN_SPLIT = 1
    yield _cengine.CEngine(_cengine.build())
    _cengine._MIN_SPLIT = saved


def test_unknown_engine_name_is_rejected(monkeypatch):
    monkeypatch.setenv("NEUROPLASTIC_KERNELS", "fortran")
    with pytest.raises(ValueError, match="NEUROPLASTIC_KERNELS must be one of"):
        fn.kernel_engine()


def test_no_compiler_gives_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing to run there
    with pytest.raises(RuntimeError, match="no C compiler found"):
        _cengine.build()


def test_broken_compiler_reports_its_message(monkeypatch, tmp_path):
    cc = tmp_path / "badcc"
    cc.write_text("#!/bin/sh\necho 'badcc: cannot compile today' >&2\nexit 1\n")
    cc.chmod(0o755)
    monkeypatch.setenv("CC", str(cc))
    monkeypatch.setenv("NEUROPLASTIC_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(RuntimeError, match="cannot compile today"):
        _cengine.build()


def test_build_is_cached_under_the_cache_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("NEUROPLASTIC_CKERNEL_DIR", raising=False)  # set by tests/test_asan.py
    monkeypatch.setenv("NEUROPLASTIC_CACHE_DIR", str(tmp_path))
    p1 = _cengine.build()
    assert p1.parent == tmp_path / "kernels" and p1.exists()
    mtime = p1.stat().st_mtime_ns
    assert _cengine.build() == p1 and p1.stat().st_mtime_ns == mtime  # not rebuilt


def test_build_into_a_given_dir_with_extra_flags(monkeypatch, tmp_path):
    """$NEUROPLASTIC_CKERNEL_DIR / $NEUROPLASTIC_CKERNEL_CFLAGS (what the ASan test uses)."""
    monkeypatch.setenv("NEUROPLASTIC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("NEUROPLASTIC_CKERNEL_DIR", str(tmp_path / "asan"))
    monkeypatch.setenv("NEUROPLASTIC_CKERNEL_CFLAGS", "-DNEUROPLASTIC_TEST_FLAG=1 -g")
    p1 = _cengine.build()
    assert p1.parent == tmp_path / "asan" and p1.exists()
    assert not (tmp_path / "cache").exists()
    p2 = _cengine.build(extra_flags=[])  # other flags: another file in the same directory
    assert p2.parent == p1.parent and p2 != p1
    assert _cengine.CEngine(p1).fn["lif_forward", "f64"] is not None
    monkeypatch.setenv("NEUROPLASTIC_CKERNEL_CFLAGS", "-fno-such-flag-at-all")
    with pytest.raises(RuntimeError, match="no-such-flag"):
        _cengine.build()


@pytest.mark.parametrize("raw", ["0", "-2", "two"])
def test_bad_kernel_thread_count_is_rejected(monkeypatch, raw):
    monkeypatch.setenv("NEUROPLASTIC_KERNEL_THREADS", raw)
    with pytest.raises(ValueError, match="NEUROPLASTIC_KERNEL_THREADS must be a positive"):
        fn._n_chunks()


def test_kernel_threads_default_to_torchs(monkeypatch):
    monkeypatch.delenv("NEUROPLASTIC_KERNEL_THREADS", raising=False)
    assert fn._n_chunks() == torch.get_num_threads()
    monkeypatch.setenv("NEUROPLASTIC_KERNEL_THREADS", "3")
    assert fn._n_chunks() == 3


def test_auto_prefers_c_and_torch_engine_is_none(monkeypatch):
    monkeypatch.setenv("NEUROPLASTIC_KERNELS", "auto")
    assert isinstance(fn.kernel_engine(), _cengine.CEngine)
    monkeypatch.setenv("NEUROPLASTIC_KERNELS", "torch")
    assert fn.kernel_engine() is None


@settings(max_examples=25, deadline=None)
@given(
    rows=st.integers(1, 40), n_in=st.integers(1, 50), n_out=st.integers(1, 70),
    density=st.floats(0.0, 1.0), seed=st.integers(0, 2**31 - 1),
    dtype=st.sampled_from([np.float32, np.float64]), threads=st.integers(1, 3),
)
def test_sparse_kernels_equal_numba_and_dense(C, rows, n_in, n_out, density, seed, dtype,
                                              threads):
    rng = np.random.default_rng(seed)
    x = np.where(rng.random((rows, n_in)) < density, rng.standard_normal((rows, n_in)), 0)
    x = x.astype(dtype)
    wt = rng.standard_normal((n_in, n_out)).astype(dtype)
    bias = rng.standard_normal(n_out).astype(dtype)
    g = rng.standard_normal((rows, n_out)).astype(dtype)
    ip, ix, val, nnz = C.csr_from_dense(x, x.size, threads)
    ipn, ixn, valn, nnzn = numba_kernels.csr_from_dense(x, x.size)
    assert nnz == nnzn == np.count_nonzero(x)
    assert np.array_equal(ip, ipn) and np.array_equal(ix, ixn) and np.array_equal(val, valn)
    if nnz > 0:  # one entry over the limit: the dense path is taken (nnz = -1)
        assert C.csr_from_dense(x, nnz - 1, threads)[3] == -1
    out = np.empty((rows, n_out), dtype)
    C.spmm_forward(ip, ix, val, wt, bias, True, out, threads)
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, x @ wt + bias, rtol=tol, atol=tol)
    gwt = C.spmm_grad_weight(ip, ix, val, g, n_in, threads)
    np.testing.assert_allclose(gwt, x.T @ g, rtol=tol, atol=tol)


@pytest.mark.parametrize("subtract", [True, False])
@pytest.mark.parametrize("kind", [0, 1, 2, 3])
@pytest.mark.parametrize("threads", [1, 3])
def test_lif_kernels_equal_numba(C, subtract, kind, threads):
    rng = np.random.default_rng(kind)
    T, N = 30, 37
    cur = rng.standard_normal((T, N)) * 0.8
    coefs = [rng.standard_normal(N) * 0.1, rng.uniform(0.5, 0.99, N), rng.uniform(0.5, 1.5, N),
             rng.uniform(0.5, 1.2, N), rng.standard_normal(N) * 0.1]
    v0 = rng.standard_normal(N) * 0.3
    res = []
    for K in (C, numba_kernels):
        spk, mem, v = np.empty((T, N)), np.empty((T, N)), np.empty(N)
        K.lif_forward(cur, v0, *coefs, subtract, threads, spk, mem, v)
        gs = rng.standard_normal((T, N)) if not res else res[0][-1]
        outs = [np.empty((T, N))] + [np.empty(N) for _ in range(3)]
        consts = fn._surrogate_consts(2.0, torch.float64)
        K.lif_backward(gs, v0 * 0.5, mem, v0, *coefs, subtract, False, kind, consts, threads,
                       *outs)
        res.append((spk, mem, v, *outs, gs))
    assert 0 < res[0][0].mean() < 1
    for a, b in zip(res[0][:-1], res[1][:-1]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    assert np.array_equal(res[0][0], res[1][0])  # spikes bit for bit
