"""The simulator's kernels compiled ahead of time (kernels.aot, ``neuroplastic compile``).

Independent truths: numba's own JIT build of the same functions (spikes, states, learned weights
and sampled connectivity must be equal bit for bit), numba's ``typeof`` (our numba-free type
names must be its names, or a call would pick the wrong module or none), and the process itself
(after loading the modules, ``numba`` must not be imported — the point of building them).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroplastic.kernels import aot

SRC = str(Path(__file__).resolve().parent.parent / "src")

# one network that exercises every part of the loop: Poisson and spike-time sources, delays,
# a state monitor, pair STDP in the loop (float64), and a projection large enough for the
# compiled connectivity sampler; prints a hash of what it computed
JOB = textwrap.dedent("""
    import hashlib, sys
    import numpy as np
    from neuroplastic.network import Network
    from neuroplastic.plasticity import ExponentialWindow, STDPParams
    from neuroplastic.synapses import FixedProbability

    dtype = sys.argv[1]
    net = Network(0.1, seed=3, dtype=dtype, backend="numba")
    net.add_lif("a", 200, v_init=(-70.0, -50.0))
    net.add_poisson("p", np.full(100, 30.0))
    net.add_spike_times("s", 5, np.linspace(1.0, 90.0, 40), np.arange(40) % 5)
    stdp = STDPParams(ExponentialWindow(0.01, 0.012, 20.0, 20.0), learning_rate=1.0,
                      w_min=0.0, w_max=20.0)  # in float64 only
    net.connect("p", "a", FixedProbability(0.1), weight=12.0, delay_ms=0.1, name="pa",
                plasticity=stdp if dtype == "float64" else None)
    net.connect("s", "a", FixedProbability(0.5), weight=5.0, delay_ms=2.0)
    net.connect("a", "a", FixedProbability(0.05), weight=2.0, sign="inhibitory", delay_ms=1.0)
    # 5000 x 5000 candidate pairs: above 2**24, the compiled connectivity sampler draws them
    net.add_lif("big", 5000)
    net.connect("big", "big", FixedProbability(0.01), weight=0.1, delay_ms=1.0, name="bb")
    net.monitor_spikes("a")
    net.monitor_state("a", [0, 5])
    net.run(100.0, progress=False)
    m, s, bb = net.spike_monitors["a"], net.state_monitors["a"], net.projections["bb"]
    h = hashlib.sha256()
    for x in (m.steps, m.neurons, s.v, net.projections["pa"].weights, net._sim.v, bb.indptr,
              bb.indices):
        h.update(x.numpy().tobytes())
    print(net.kernel_origin, m.count, h.hexdigest(), "numba" in sys.modules)
""")


def _job(dtype: str, env: dict[str, str]) -> tuple[int, str, bool]:
    out = subprocess.run([sys.executable, "-c", JOB, dtype], capture_output=True, text=True,
                         timeout=600, env={**os.environ, "PYTHONPATH": SRC, **env})
    assert out.returncode == 0, out.stderr[-3000:]
    origin, count, digest, numba_loaded = out.stdout.split()[-4:]
    assert origin == ("jit" if env.get("NEUROPLASTIC_AOT") == "0" else "aot")
    return int(count), digest, numba_loaded == "True"


@pytest.fixture(scope="module")
def aot_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("aot")
    aot.build(folder, verbose=False)
    return folder


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_ahead_of_time_kernels_compute_the_jit_kernels_bits_without_numba(aot_dir, dtype):
    count, jit, jit_numba = _job(dtype, {"NEUROPLASTIC_AOT": "0"})
    assert jit_numba and count > 100
    count_aot, built, aot_numba = _job(dtype, {"NEUROPLASTIC_AOT_DIR": str(aot_dir)})
    assert (count_aot, built) == (count, jit)
    assert not aot_numba  # the modules ran the whole network; numba was never imported


def test_types_the_modules_were_not_built_for_fall_back_to_the_jit(aot_dir, tmp_path):
    """Modules with only the loop's float64 signature: a float32 network still runs (numba
    compiles it), with the JIT's numbers; a float64 one needs no numba."""
    for lib in aot_dir.glob("np_connectivity_*"):
        (tmp_path / lib.name).symlink_to(lib)
    name = next(p.stem for p in aot_dir.glob("np_network_*.json"))
    meta = json.loads((aot_dir / f"{name}.json").read_text())
    keep = next(m for m, e in meta["exports"].items() if "float64" in e["types"][4])
    meta["exports"] = {keep: meta["exports"][keep]}
    (tmp_path / f"{name}.json").write_text(json.dumps(meta))
    for lib in aot_dir.glob(f"{keep}.*"):
        (tmp_path / lib.name).symlink_to(lib)
    count, jit, _ = _job("float32", {"NEUROPLASTIC_AOT": "0"})
    count_mixed, mixed, mixed_numba = _job("float32", {"NEUROPLASTIC_AOT_DIR": str(tmp_path)})
    assert (count_mixed, mixed) == (count, jit) and mixed_numba
    _, _, f64_numba = _job("float64", {"NEUROPLASTIC_AOT_DIR": str(tmp_path)})
    assert not f64_numba


@pytest.mark.parametrize("group", sorted(aot.GROUPS))
def test_changed_sources_or_a_switch_find_no_module(aot_dir, tmp_path, monkeypatch, group):
    monkeypatch.setenv("NEUROPLASTIC_AOT_DIR", str(aot_dir))
    assert aot.load(group) is not None
    monkeypatch.setenv("NEUROPLASTIC_AOT", "0")
    assert aot.load(group) is None
    monkeypatch.delenv("NEUROPLASTIC_AOT")
    # a kernel edited after the build: another fingerprint, so the old module is not used
    pkg = tmp_path / "pkg"
    for spec in aot.GROUPS.values():
        for rel in spec.sources:
            (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
            (pkg / rel).write_bytes((aot._PKG / rel).read_bytes())
    monkeypatch.setattr(aot, "_PKG", pkg)
    same = {g: aot.fingerprint(g) for g in aot.GROUPS}
    with open(pkg / aot.GROUPS[group].sources[0], "a") as f:
        f.write("\n# edited\n")
    assert aot.fingerprint(group) != same[group]
    assert aot.load(group) is None
    for other in set(aot.GROUPS) - {group}:  # only the edited group loses its modules
        assert aot.fingerprint(other) == same[other] and aot.load(other) is not None


_DTYPES = ["float64", "float32", "int64", "int32", "int16", "uint8", "bool"]


@settings(max_examples=150, deadline=None)
@given(dtype=st.sampled_from(_DTYPES), shape=st.lists(st.integers(0, 4), min_size=1, max_size=4),
       view=st.sampled_from(["plain", "transpose", "step", "readonly"]))
def test_array_type_names_are_numbas(dtype, shape, view):
    a = np.zeros(shape, dtype=dtype)
    if view == "transpose":
        a = a.T
    elif view == "step":
        a = a[::2]
    elif view == "readonly":
        a.flags.writeable = False
    assert aot.arg_type(a) == str(numba.typeof(a))


@given(x=st.one_of(st.integers(-2**63, 2**63 - 1), st.floats(allow_nan=True), st.booleans(),
                   st.integers(-2**31, 2**31 - 1).map(np.int64),
                   st.floats(width=32).map(np.float32)))
def test_scalar_type_names_are_numbas(x):
    assert aot.arg_type(x) == str(numba.typeof(x))


def test_the_fingerprint_is_stable_short_and_per_group():
    a, b = aot.fingerprint("network"), aot.fingerprint("network")
    assert a == b and len(a) == 16 and int(a, 16) >= 0
    assert aot.fingerprint("connectivity") != a


def test_a_build_broken_off_midway_leaves_nothing_to_load(tmp_path, monkeypatch):
    """The compiler fails on the second module (as a missing compiler or a kill would stop
    it): the error says what is needed, and no group's metadata — what load reads, written
    after all its modules — exists, so nothing half-built is loaded."""
    from numba.pycc import CC

    real, calls = CC.compile, []

    def fails_second(self):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("command 'cc' failed: No such file or directory")
        return real(self)

    monkeypatch.setattr(CC, "compile", fails_second)
    with pytest.raises(OSError, match="needs a C compiler"):
        aot.build(tmp_path, verbose=False)
    assert len(list(tmp_path.glob("np_network_*.so"))) == 1 and not list(tmp_path.glob("*.json"))
    monkeypatch.setenv("NEUROPLASTIC_AOT_DIR", str(tmp_path))
    assert all(aot.load(g) is None for g in aot.GROUPS)


def test_a_numba_without_its_aot_compiler_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "numba.pycc", None)  # import numba.pycc -> ImportError
    with pytest.raises(OSError, match="no ahead-of-time compiler"):
        aot.build(tmp_path, verbose=False)


def test_the_warm_up_runs_the_jit_even_where_modules_are_built(aot_dir):
    """Building again where modules already load (a second `neuroplastic compile --dir`): the
    warm-up networks must still go through numba's JIT, or it records no signature of the
    network loop and the new folder would lack it (a bug this guards)."""
    code = ("from neuroplastic.kernels import aot, network_numba as n\n"
            "assert aot.load('network') is not None\n"
            "aot._warm_up()\n"
            "print(len(n._run_steps.signatures), aot.load('network') is not None)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=600, env={**os.environ, "PYTHONPATH": SRC,
                                           "NEUROPLASTIC_AOT_DIR": str(aot_dir)})
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["2", "True"]  # float64 and float32; the env is restored
