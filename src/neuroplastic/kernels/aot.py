"""The simulator's compiled kernels built ahead of time: a process that runs networks without numba.

:mod:`.network_numba` (the network loop), :mod:`.connectivity_numba` (the samplers of large
networks' connectivity) and :mod:`.spike_summary_numba` (spikes folded into per-neuron
statistics) compile on first use, or load from numba's cache: that imports numba
and initialises its compiler, ~105 MiB of memory and 0.3-0.8 s before the first step, whatever
the network's size. :func:`build` compiles the same functions, for the argument types the
simulator passes (float64 and float32 state; int64 row pointers and int32 indices — int64
indices, beyond 2**31 neurons, use the JIT), into
Python extension modules with numba's ahead-of-time compiler (``numba.pycc``; for this CPU,
like the JIT), once, into a cache folder; later processes import those modules alone
(:func:`load`) — no numba, same machine code, same bits (tested). ``neuroplastic compile``
builds them (~30 s); without them everything runs as before. ``numba.pycc`` is "pending
deprecation" in numba (0.57 on, still there in 0.68): should a numba drop it, the build fails
with a clear error and the JIT runs as ever.

Each group's module names carry a fingerprint of what they were compiled from (its sources,
the numba / llvmlite / Python versions, this CPU's model and flags): an edited kernel or another
machine finds no module and uses the JIT. A call whose argument types were not built uses the
JIT too. ``NEUROPLASTIC_AOT=0`` turns the modules off; ``NEUROPLASTIC_AOT_DIR`` moves the cache
(default ``aot/`` under ``$NEUROPLASTIC_CACHE_DIR``, ``$XDG_CACHE_HOME/neuroplastic`` or
``~/.cache/neuroplastic``).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import importlib.metadata
import importlib.util
import inspect
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ._cache import cache_root, cpu_tag

__all__ = ["GROUPS", "arg_type", "build", "cache_dir", "fingerprint", "load"]

_PKG = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Group:
    """Kernels compiled together: their numba module, functions, and the sources they compile
    (a change in any of them is another fingerprint)."""

    module: str
    functions: tuple[str, ...]
    sources: tuple[str, ...]


GROUPS = {
    "network": Group("neuroplastic.kernels.network_numba", ("_run_steps",),
                     ("kernels/network_numba.py", "plasticity/_stdp_kernels.py")),
    "connectivity": Group("neuroplastic.kernels.connectivity_numba",
                          ("sort_rows_find_repeats", "pad_rows", "unpad_rows",
                           "skip_own_index", "transpose_csr"),
                          ("kernels/connectivity_numba.py",)),
    "summary": Group("neuroplastic.kernels.spike_summary_numba", ("fold_spikes",),
                     ("kernels/spike_summary_numba.py",)),
}


def cache_dir() -> Path:
    """Where compiled modules live: ``NEUROPLASTIC_AOT_DIR``, else ``aot/`` in the package's
    kernel cache (:func:`~neuroplastic.kernels._cache.cache_root`)."""
    if os.environ.get("NEUROPLASTIC_AOT_DIR"):
        return Path(os.environ["NEUROPLASTIC_AOT_DIR"])
    return cache_root() / "aot"


def fingerprint(group: str) -> str:
    """16 hex digits of what the group's compiled code depends on (sources, compiler, CPU)."""
    h = hashlib.sha256(group.encode())
    for rel in GROUPS[group].sources:
        h.update((_PKG / rel).read_bytes())
    for dist in ("numba", "llvmlite"):
        h.update(f"{dist}={importlib.metadata.version(dist)}".encode())
    h.update(sys.version.encode())
    h.update(cpu_tag().encode())
    return h.hexdigest()[:16]


def arg_type(x: Any) -> str:
    """numba's name of the type of one argument (``str(numba.typeof(x))``), computed without
    numba, for the types the kernels take: numpy arrays, Python / numpy ints, floats, bools."""
    if isinstance(x, np.ndarray):
        f = x.flags
        return _array_type(x.dtype, x.ndim, f.c_contiguous, f.f_contiguous, f.aligned,
                           f.writeable)
    if isinstance(x, (bool, np.bool_)):
        return "bool"
    if isinstance(x, (int, np.integer)):
        return "int64" if isinstance(x, int) else str(np.asarray(x).dtype)
    if isinstance(x, (float, np.floating)):
        return "float64" if isinstance(x, float) else str(np.asarray(x).dtype)
    return type(x).__name__


@lru_cache(maxsize=256)
def _array_type(dtype: np.dtype, ndim: int, c: bool, f: bool, aligned: bool,
                writeable: bool) -> str:
    # memoised: the samplers call their kernels once per block of rows (~400 calls at 400k)
    if not aligned:
        return "unaligned"  # no module takes it: the JIT handles (or refuses) it
    if ndim > 1 and c:
        layout = "C"
    elif ndim > 1 and f:
        layout = "F"
    else:
        layout = "C" if c else "A"
    kind = "bool" if dtype == np.bool_ else str(dtype)
    text = f"array({kind}, {ndim}d, {layout})"
    return text if writeable else f"readonly {text}"


class AotFunction:
    """One kernel from the ahead-of-time modules: one compiled export per argument-type
    signature, picked per call; types not built go to numba's JIT build of the same function."""

    def __init__(self, group: str, name: str, by_types: dict, params: list[str]) -> None:
        self.group, self.name, self.by_types = group, name, by_types
        self.__signature__ = inspect.Signature(
            [inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in params])

    def find(self, args: tuple) -> Any:
        return self.by_types.get(tuple(arg_type(a) for a in args))

    def __call__(self, *args: Any) -> Any:
        fn = self.find(args)
        if fn is None:  # not built for these types: numba compiles them as ever
            fn = getattr(importlib.import_module(GROUPS[self.group].module), self.name)
        return fn(*args)


class AotGroup:
    """A group's kernels, by name (``network.run_steps``-like attribute access)."""

    def __init__(self, functions: dict[str, AotFunction]) -> None:
        self.__dict__.update(functions)


def _import_extension(name: str, path: Path) -> Any:
    loader = importlib.machinery.ExtensionFileLoader(name, str(path))
    spec = importlib.util.spec_from_file_location(name, str(path), loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@lru_cache(maxsize=8)
def _load(group: str, name: str, directory: str) -> AotGroup | None:
    folder = Path(directory)
    meta_path = folder / f"{name}.json"
    if not meta_path.exists():
        return None
    meta = json.loads(meta_path.read_text())
    by_fn: dict[str, dict] = {f: {} for f in GROUPS[group].functions}
    for mod, entry in meta["exports"].items():
        libs = sorted(folder.glob(f"{mod}.*.so")) + sorted(folder.glob(f"{mod}.*.pyd"))
        if not libs:
            return None
        kernel = _import_extension(mod, libs[0]).kernel
        by_fn[entry["function"]][tuple(entry["types"])] = kernel
    return AotGroup({f: AotFunction(group, f, by_fn[f], meta["params"][f]) for f in by_fn})


def load(group: str) -> AotGroup | None:
    """The ahead-of-time kernels of ``group`` for this machine and these sources, or ``None``
    (not built, or ``NEUROPLASTIC_AOT=0``)."""
    if os.environ.get("NEUROPLASTIC_AOT", "1") == "0":
        return None
    return _load(group, f"np_{group}_{fingerprint(group)}", str(cache_dir()))


def _warm_up() -> None:
    """JIT-compile every kernel for the argument types the simulator passes — tiny networks
    in float64 and float32, the samplers' own warm-up — so that the signatures to build are
    numba's own (the exports then match real calls)."""
    from . import connectivity_numba, spike_summary_numba

    connectivity_numba.warm_up()
    spike_summary_numba.warm_up()
    # the warm-up networks must run numba's JIT even where modules are already built (else
    # they would load those, the JIT would see no call and the new modules would lack the loop)
    saved = os.environ.get("NEUROPLASTIC_AOT")
    os.environ["NEUROPLASTIC_AOT"] = "0"
    try:
        _warm_up_networks()
    finally:
        if saved is None:
            del os.environ["NEUROPLASTIC_AOT"]
        else:
            os.environ["NEUROPLASTIC_AOT"] = saved


def _warm_up_networks() -> None:
    from ..network import Network
    from ..synapses import FixedProbability

    for dtype in ("float64", "float32"):
        net = Network(0.1, seed=0, dtype=dtype, backend="numba")
        net.add_lif("a", 20, v_init=(-70.0, -50.0))
        net.add_poisson("p", np.full(10, 50.0))
        net.connect("p", "a", FixedProbability(0.5), weight=1.0, delay_ms=0.1)
        net.connect("a", "a", FixedProbability(0.2), weight=0.5, delay_ms=1.0)
        net.monitor_spikes("a")
        net.monitor_state("a", [0])
        net.run(2.0, progress=False)


def build(directory: str | Path | None = None, *, verbose: bool = True) -> Path:
    """Compile every group ahead of time into ``directory`` (default :func:`cache_dir`) and
    return that folder. Needs numba and a C compiler (numba.pycc links the modules)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pycc is "pending deprecation" in numba >= 0.57
        try:
            from numba.pycc import CC
        except ImportError as err:
            raise OSError(f"this numba has no ahead-of-time compiler (numba.pycc: {err}); the "
                          "simulator keeps using numba's JIT") from err

    t0 = time.perf_counter()
    folder = Path(directory) if directory is not None else cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    _warm_up()
    from tqdm.auto import tqdm

    total = sum(len(getattr(importlib.import_module(g.module), f).signatures)
                for g in GROUPS.values() for f in g.functions)
    bar = tqdm(total=total, unit="module", desc="neuroplastic compile", leave=False,
               disable=not verbose)
    n_modules = 0
    for group, spec in GROUPS.items():
        numba_mod = importlib.import_module(spec.module)
        name = f"np_{group}_{fingerprint(group)}"
        exports, params = {}, {}
        for fn_name in spec.functions:
            disp = getattr(numba_mod, fn_name)
            params[fn_name] = list(inspect.signature(disp.py_func).parameters)
            if not disp.signatures:  # nothing to build would leave every call to the JIT
                raise RuntimeError(f"the warm-up did not compile {spec.module}.{fn_name}")
            # one module per signature: pycc fails to type two signatures of the network
            # loop (its inlined helpers) in one module
            for sig in disp.signatures:
                mod = f"{name}_{len(exports)}"
                with tempfile.TemporaryDirectory(dir=folder) as tmp:
                    cc = CC(mod)
                    cc.output_dir = tmp
                    cc.target_cpu = "host"  # the JIT's target too: same machine code, same bits
                    cc.verbose = False
                    cc.export("kernel", disp.overloads[sig].signature)(disp.py_func)
                    try:
                        cc.compile()
                    except Exception as err:  # noqa: BLE001 - distutils / linker errors vary
                        raise OSError(
                            f"numba's ahead-of-time compiler failed on {fn_name} ({err}); it "
                            "needs a C compiler (cc) and Python's headers. Without the "
                            "modules the simulator uses numba's JIT, as before") from err
                    built = next(Path(tmp).glob(f"{mod}*"))
                    shutil.move(str(built), folder / built.name)  # libraries first, meta last
                exports[mod] = {"function": fn_name, "types": [str(t) for t in sig]}
                bar.update(1)
        meta = {"exports": exports, "params": params, "fingerprint": fingerprint(group),
                "built": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        tmp_meta = folder / f".{name}.json.tmp"
        tmp_meta.write_text(json.dumps(meta, indent=1))
        os.replace(tmp_meta, folder / f"{name}.json")
        n_modules += len(exports)
    bar.close()
    _load.cache_clear()
    if verbose:
        print(f"[neuroplastic] compiled {n_modules} kernel modules ahead of time "
              f"({time.perf_counter() - t0:.1f} s) into {folder}", file=sys.stderr, flush=True)
    return folder
