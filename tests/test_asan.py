"""The C kernels under AddressSanitizer (issue 12, defect 10).

The kernels are built with ``-fsanitize=address`` into a temporary directory
(``$NEUROPLASTIC_CKERNEL_DIR`` / ``$NEUROPLASTIC_CKERNEL_CFLAGS``, see
``neuroplastic.surrogate._cengine``) and the tests that drive them run in a subprocess with
``libasan`` preloaded: no memory error may be reported. A control run proves the harness can
see one: a kernel called through bare ctypes with a too-short buffer (bypassing the argument
checks) must be reported as a heap-buffer-overflow in that kernel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FLAGS = "-fsanitize=address -fno-omit-frame-pointer -g"
GCC = shutil.which("gcc")


def _libasan() -> str | None:
    if GCC is None:
        return None
    r = subprocess.run([GCC, "-print-file-name=libasan.so"], capture_output=True, text=True)
    path = r.stdout.strip()
    return path if r.returncode == 0 and os.path.isabs(path) and os.path.exists(path) else None


LIBASAN = _libasan()
pytestmark = pytest.mark.skipif(
    LIBASAN is None, reason="AddressSanitizer unavailable: gcc or its libasan.so is missing"
)


@pytest.fixture(scope="module")
def asan_env(tmp_path_factory):
    """Environment of a process whose C kernels are the AddressSanitizer build (made here)."""
    out = tmp_path_factory.mktemp("asan_kernels")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_"))}
    env.update(CC=GCC, NEUROPLASTIC_CKERNEL_DIR=str(out), NEUROPLASTIC_CKERNEL_CFLAGS=FLAGS,
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "src"),
                                                         env.get("PYTHONPATH")])))
    env.pop("NEUROPLASTIC_KERNELS", None)
    build = subprocess.run(  # built once, without the sanitizer preloaded
        [sys.executable, "-c", "from neuroplastic.surrogate._cengine import build; print(build())"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    lib = build.stdout.strip().splitlines()[-1]
    assert Path(lib).parent == out, lib
    env.update(LD_PRELOAD=LIBASAN, ASAN_OPTIONS="detect_leaks=0", EXPECT_LIB=lib)
    return env


def _run(code: str, env: dict, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


OVERFLOW = """
import numpy as np
from neuroplastic.surrogate._cengine import CEngine, build
eng = CEngine(build())
assert str(eng.path) == __import__("os").environ["EXPECT_LIB"], eng.path
T, N = 10, 1000
cur, v0 = np.zeros((T, N)), np.zeros(N // 2)  # v0 half as long as the kernel reads
coefs = [np.zeros(N) for _ in range(5)]
spk, mem, v_out = np.empty((T, N)), np.empty((T, N)), np.empty(N)
eng.fn["lif_forward", "f64"](  # bare ctypes: no argument checks
    T, N, 1, cur.ctypes.data, v0.ctypes.data, *(c.ctypes.data for c in coefs), 1,
    spk.ctypes.data, mem.ctypes.data, v_out.ctypes.data)
print("no report")
"""

SUITE = """
import os, sys
import pytest
from neuroplastic.surrogate.functional import _load_engine
lib = _load_engine("c").path
assert str(lib) == os.environ["EXPECT_LIB"], f"not the ASan build: {lib}"
sys.exit(pytest.main(sys.argv[1:]))
"""


def test_harness_reports_an_out_of_bounds_read(asan_env):
    r = _run(OVERFLOW, asan_env)
    assert r.returncode != 0, r.stdout + r.stderr[-3000:]
    assert "no report" not in r.stdout
    assert "ERROR: AddressSanitizer: heap-buffer-overflow" in r.stderr, r.stderr[-3000:]
    assert "lif_forward_range_f64" in r.stderr  # in the kernel, not elsewhere


def test_surrogate_tests_are_clean_under_asan(asan_env):
    # every test that drives the C kernels (the simulator's numba kernels are not built with
    # the sanitizer: their tests are left out)
    r = _run(SUITE, asan_env, "-q", "-p", "no:cacheprovider", "-k", "not simulator",
             "tests/test_surrogate.py", "tests/test_kernel_inputs.py", "tests/test_cengine.py",
             timeout=600)
    report = r.stdout[-3000:] + r.stderr[-6000:]
    assert "AddressSanitizer" not in r.stderr, report
    assert r.returncode == 0, report
    assert " passed" in r.stdout, report
