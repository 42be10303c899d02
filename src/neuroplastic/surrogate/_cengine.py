"""C kernels behind the fused layers, compiled once with the system C compiler, loaded by ctypes.

Why not numba here: the surrogate layers are trained inside processes that already hold
PyTorch; importing numba and starting its LLVM JIT adds about 125 MiB of resident memory
(measured: 66 MiB at import, 59 MiB at the first call of a cached kernel), more than the whole
activation memory of the W3 network. A small C library costs nothing at import and runs the
same loops (vectorised by the compiler; ``-ffp-contract=off`` keeps the arithmetic identical
to the torch reference). Where no compiler is found, :mod:`.functional` falls back to the
numba kernels of :mod:`._kernels`.

The library is built from ``csrc/kernels.c`` into a per-user cache directory
(``$NEUROPLASTIC_CACHE_DIR`` or ``$XDG_CACHE_HOME/neuroplastic``) under a name that hashes
the source, the compiler flags and the CPU, written atomically (parallel test workers may
build at once). Every kernel splits its independent items (neurons, rows or columns) between
OpenMP threads when built with ``-fopenmp``; the library then uses the ``libgomp`` that
PyTorch has already loaded (same soname), i.e. the same thread pool as PyTorch's own ops.

The Python methods keep the signatures of the numba kernels, so :mod:`.functional` calls
either engine the same way. Both engines check every argument (dtype, shape, memory layout)
against the specs below before any compiled code runs (:mod:`neuroplastic.kernels._checks`):
the C code trusts its pointers, so a float64 array where a float32 one is expected would be
read and written out of bounds.

Two environment variables build the library elsewhere or differently (e.g. with
AddressSanitizer, as ``tests/test_asan.py`` does):

* ``NEUROPLASTIC_CKERNEL_DIR`` — build into / load from this directory instead of the cache;
* ``NEUROPLASTIC_CKERNEL_CFLAGS`` — extra compiler flags (split like a shell command line),
  added to every attempt and to the hash of the file name, e.g.
  ``"-fsanitize=address -fno-omit-frame-pointer -g"``.

Both are read when the library is built or loaded (first use in a process).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from neuroplastic.kernels._cache import cache_root, cpu_tag
from neuroplastic.kernels._checks import checked

_SRC = Path(__file__).with_name("csrc")
_FLAGS = ["-O3", "-ffp-contract=off", "-fno-math-errno", "-fPIC", "-shared"]
_MIN_SPLIT = 1 << 15  # items * steps below which one thread does the whole call


def cache_dir() -> Path:
    """Where compiled kernels are kept."""
    return cache_root() / "kernels"


def _compiler() -> str | None:
    for cc in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if cc and shutil.which(cc):
            return cc
    return None


def build(
    force: bool = False, *, out_dir: str | os.PathLike | None = None,
    extra_flags: list[str] | None = None,
) -> Path:
    """Compile the kernels (if not cached) and return the shared library's path.

    ``out_dir`` (default ``$NEUROPLASTIC_CKERNEL_DIR``, else :func:`cache_dir`) is where the
    library is built and looked up; ``extra_flags`` (default: ``$NEUROPLASTIC_CKERNEL_CFLAGS``
    split like a shell line) are added to the compiler flags of every attempt.
    Raises ``RuntimeError`` with the compiler's message when no compiler works.
    """
    cc = _compiler()
    if cc is None:
        raise RuntimeError("no C compiler found (set CC, or install gcc or clang)")
    if out_dir is None:
        out_dir = os.environ.get("NEUROPLASTIC_CKERNEL_DIR") or cache_dir()
    if extra_flags is None:
        extra_flags = shlex.split(os.environ.get("NEUROPLASTIC_CKERNEL_CFLAGS", ""))
    src = (_SRC / "kernels.c").read_bytes() + (_SRC / "kernels_body.h").read_bytes()
    suffix = ".dll" if sys.platform == "win32" else ".so"
    last_err = ""
    for extra in (["-march=native", "-fopenmp"], ["-fopenmp"], ["-march=native"], []):
        flags = _FLAGS + extra + list(extra_flags)
        key = hashlib.sha256(src + " ".join([cc, *flags, cpu_tag()]).encode()).hexdigest()
        out = Path(out_dir) / f"neuroplastic_kernels_{key[:16]}{suffix}"
        if out.exists() and not force:
            return out
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=suffix, dir=out.parent)
        os.close(fd)
        cmd = [cc, *flags, "-o", tmp, str(_SRC / "kernels.c"), "-lm"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode == 0:
            os.replace(tmp, out)
            return out
        os.unlink(tmp)
        last_err = r.stderr.strip()[-2000:]
    raise RuntimeError(f"compiling the C kernels with {cc} failed:\n{last_err}")


# ---------------------------------------------------------------------- argument specs
# One spec per kernel, shared by the C and the numba engine (see kernels/_checks.py for the
# notation): every array of a call has the dtype of the first ("real"), the shapes agree, and
# the outputs are contiguous, writeable and distinct from the inputs.
_COEFS = {k: "real[N]" for k in ("v_rest", "decay", "drive", "thr", "v_reset")}
LIF_FORWARD = {
    "cur": "real[T,N]", "v0": "real[N]", **_COEFS, "subtract": "bool", "n_chunks": "int >=1",
    "spk": "real[T,N] out", "mem": "real[T,N] out", "v_out": "real[N] out",
}
LIF_BACKWARD = {
    "g_spk": "real[T,N]", "g_vT": "real[N]", "mem": "real[T,N]", "v0": "real[N]", **_COEFS,
    "subtract": "bool", "detach_reset": "bool", "kind": "int >=0 <=3", "consts": "real[4]",
    "n_chunks": "int >=1", "g_cur": "real[T,N] out", "g_v0": "real[N] out",
    "g_decay": "real[N] out", "g_thr": "real[N] out",
}
LINEAR_SCAN = {
    "x": "real[T,N]", "c0": "real[N]", "decay": "real[N]", "n_chunks": "int >=1",
    "out": "real[T,N] out", "c_last": "real[N] out",
}
LINEAR_SCAN_BACKWARD = {
    "g_out": "real[T,N]", "g_last": "real[N]", "decay": "real[N]", "n_chunks": "int >=1",
    "g_x": "real[T,N] out", "g_c0": "real[N] out",
}
CSR_FROM_DENSE = {"x": "real[R,N]", "max_nnz": "int", "n_chunks": "int >=1"}


def spmm_forward_spec(index: str) -> dict:
    """``spmm_forward`` with column indices of dtype ``index`` (C: int32, numba: int64)."""
    return {
        "wt": "real[n_in,M]", "out": "real[R,M] out", "values": "real[nnz]",
        "indices": f"{index}[nnz] >=0 <n_in", "indptr": "i8[R+1] >=0 <=nnz",
        "has_bias": "bool", "bias": lambda a: "real[M]" if a["has_bias"] else None,
        "n_chunks": "int >=1",
    }


def spmm_grad_weight_spec(index: str, threads: str = "n_chunks") -> dict:
    """``spmm_grad_weight`` with column indices of dtype ``index``."""
    return {
        "g": "real[R,M]", "values": "real[nnz]", "n_in": "int >=0",
        "indices": f"{index}[nnz] >=0 <n_in", "indptr": "i8[R+1] >=0 <=nnz",
        threads: "int >=1",
    }


_F = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}


def _p(a: np.ndarray | None):
    return None if a is None else a.ctypes.data


class CEngine:
    """The compiled kernels with the numba kernels' call signatures (numpy arrays in/out).

    ``n_chunks`` (threads) is passed on to the library, which splits the work between OpenMP
    threads of the runtime PyTorch already loaded (or runs it whole when built without OpenMP);
    calls with less than ``_MIN_SPLIT`` items x steps run on one thread.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.lib = ctypes.CDLL(str(path))
        i64, i32, vp = ctypes.c_int64, ctypes.c_int, ctypes.c_void_p
        sig = {
            "lif_forward": [i64, i64, i32] + [vp] * 7 + [i32] + [vp] * 3,
            "lif_backward": [i64, i64, i32] + [vp] * 9 + [i32] * 3 + [vp] * 5,
            "linear_scan": [i64, i64, i32] + [vp] * 5,
            "linear_scan_backward": [i64, i64, i32] + [vp] * 5,
            "csr_count": [i64, i64, i32] + [vp] * 2,
            "csr_fill": [i64, i64, i32] + [vp] * 4,
            "spmm_forward": [i64, i64, i32] + [vp] * 6,
            "spmm_grad_weight": [i64, i64, i64, i32] + [vp] * 5,
        }
        self.fn = {}
        for name, argtypes in sig.items():
            for sfx in ("f32", "f64"):
                f = getattr(self.lib, f"{name}_{sfx}")
                f.argtypes = argtypes
                f.restype = None
                self.fn[name, sfx] = f

    def __repr__(self) -> str:
        return f"CEngine({str(self.path)!r})"

    @staticmethod
    def _threads(n_chunks: int, work: int) -> int:
        return max(1, min(int(n_chunks), work // _MIN_SPLIT))

    # ------------------------------------------------------------------ LIF
    @checked(LIF_FORWARD, "lif_forward (C)")
    def lif_forward(self, cur, v0, v_rest, decay, drive, thr, v_reset, subtract, n_chunks,
                    spk, mem, v_out):
        T, N = cur.shape
        self.fn["lif_forward", _F[cur.dtype]](
            T, N, self._threads(n_chunks, T * N),
            *map(_p, (cur, v0, v_rest, decay, drive, thr, v_reset)), int(subtract),
            _p(spk), _p(mem), _p(v_out),
        )

    @checked(LIF_BACKWARD, "lif_backward (C)")
    def lif_backward(self, g_spk, g_vT, mem, v0, v_rest, decay, drive, thr, v_reset,
                     subtract, detach_reset, kind, consts, n_chunks, g_cur, g_v0, g_decay,
                     g_thr):
        T, N = mem.shape
        self.fn["lif_backward", _F[mem.dtype]](
            T, N, self._threads(n_chunks, T * N),
            *map(_p, (g_spk, g_vT, mem, v0, v_rest, decay, drive, thr, v_reset)),
            int(subtract), int(detach_reset), int(kind),
            *map(_p, (consts, g_cur, g_v0, g_decay, g_thr)),
        )

    # ------------------------------------------------------------------ synaptic scan
    @checked(LINEAR_SCAN, "linear_scan (C)")
    def linear_scan(self, x, c0, decay, n_chunks, out, c_last):
        T, N = x.shape
        self.fn["linear_scan", _F[x.dtype]](
            T, N, self._threads(n_chunks, T * N), *map(_p, (x, c0, decay, out, c_last))
        )

    @checked(LINEAR_SCAN_BACKWARD, "linear_scan_backward (C)")
    def linear_scan_backward(self, g_out, g_last, decay, n_chunks, g_x, g_c0):
        T, N = g_out.shape
        self.fn["linear_scan_backward", _F[g_out.dtype]](
            T, N, self._threads(n_chunks, T * N), *map(_p, (g_out, g_last, decay, g_x, g_c0))
        )

    # ------------------------------------------------------------------ event projection
    @checked(CSR_FROM_DENSE, "csr_from_dense (C)")
    def csr_from_dense(self, x, max_nnz, n_chunks=1):
        """Row-compressed copy of ``x`` (R, N): (indptr, indices int32, values, nnz or -1)."""
        R, N = x.shape
        sfx = _F[x.dtype]
        nth = self._threads(n_chunks, R * N)
        counts = np.zeros(R + 1, dtype=np.int64)
        self.fn["csr_count", sfx](R, N, nth, _p(x), _p(counts))
        indptr = np.cumsum(counts)
        nnz = int(indptr[R])
        if nnz > max_nnz:
            return indptr, np.zeros(0, np.int32), np.zeros(0, x.dtype), -1
        indices = np.empty(nnz, dtype=np.int32)
        values = np.empty(nnz, dtype=x.dtype)
        self.fn["csr_fill", sfx](R, N, nth, _p(x), _p(indptr), _p(indices), _p(values))
        return indptr, indices, values, nnz

    @checked(spmm_forward_spec("i4"), "spmm_forward (C)")
    def spmm_forward(self, indptr, indices, values, wt, bias, has_bias, out, n_chunks=1):
        R, M = out.shape
        self.fn["spmm_forward", _F[out.dtype]](
            R, M, self._threads(n_chunks, len(indices) * M), _p(indptr), _p(indices),
            _p(values), _p(wt), _p(bias) if has_bias else None, _p(out),
        )

    @checked(spmm_grad_weight_spec("i4"), "spmm_grad_weight (C)")
    def spmm_grad_weight(self, indptr, indices, values, g, n_in, n_chunks=1):
        R, M = g.shape
        gwt = np.empty((n_in, M), dtype=g.dtype)
        self.fn["spmm_grad_weight", _F[g.dtype]](
            R, M, n_in, self._threads(n_chunks, len(indices) * M), _p(indptr), _p(indices),
            _p(values), _p(g), _p(gwt),
        )
        return gwt
