"""The explicit network: populations, input sources, projections, monitors, and ``run``.

A :class:`Network` is built step by step (``add_lif``, ``add_poisson``, ``connect``, ...),
then simulated with :meth:`Network.run`. All neurons are laid out in one global index space
(LIF populations first, then sources) and all projections in one CSR store, so that one
compiled loop (:mod:`neuroplastic.kernels.network_numba`) runs the whole network; the plain
torch loop (:mod:`neuroplastic.kernels.network_torch`) is the reference it is tested against
and the backend on non-CPU devices.

Randomness (mismatch, initial potentials, connectivity, noise, Poisson inputs) derives from
``seed`` only, per named stream, so equal seeds give equal numbers whatever the backend.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from .._validation import check_choice, check_finite, check_int, check_nonnegative, check_positive
from ..neurons.lif import Analog, Digital, LIFCoefficients, LIFParams, Substrate
from ..plasticity.stdp_pair import STDPState
from ..plasticity.stdp_params import STDPParams
from ..synapses import connectivity
from ..synapses.connectivity import Connectivity, FromMatrix, build_connectivity
from ..synapses.projection import Projection
from . import _rng
from ._arena import IndexArena
from ._state import fingerprint, restore_state, state_tensors
from .checkpoint import read_checkpoint, write_checkpoint
from .monitors import RateMonitor, SpikeMonitor, StateMonitor
from .population import Population
from .simulation import MAX_DELAY_STEPS, Simulation

__all__ = ["Network", "Population"]

BACKENDS = ("auto", "numba", "torch")
# precision of the state, coefficients, currents and weights: float64 is the reference (the
# compiled loop equals the torch loop bit for bit in it); float32 halves the memory the
# membrane update streams (faster, and linear in N up to 400k neurons, BENCHMARKS W1-scale)
DTYPES = {"float64": torch.float64, "float32": torch.float32}
MAX_SEED = 2**63 - 1  # seeds are mixed as 64-bit words (see _rng.subseed); int64 everywhere
_DELAY_WHY = "spikes wait in a ring buffer of one slot per step of the longest delay"
_CLOCK_WHY = (
    f"the clock stops at step {_rng.MAX_STEPS} (2**32 random blocks of {_rng.BLOCK} steps, "
    "each with its own stream)"
)


def _steps_of(name: str, value_ms: Any, dt_ms: float, limit: int, why: str) -> int:
    """A non-negative time (ms) as a whole number of clock steps, refusing NaN, inf, negative
    values and times of more than ``limit`` steps (``why`` says where the limit comes from)."""
    v = check_nonnegative(name, value_ms)
    steps = v / dt_ms
    if not steps <= limit:
        raise ValueError(
            f"{name}={value_ms!r} ms is {steps:.6g} steps of dt_ms={dt_ms!r}, above the limit "
            f"of {limit} steps ({limit * dt_ms:.6g} ms): {why}"
        )
    return int(round(steps))


def _as_batch_tensor(name: str, x: Any, batch: int, n: int) -> Tensor:
    t = torch.as_tensor(x, dtype=torch.float64).detach().cpu()
    if t.dim() == 0:
        t = t.expand(batch, n)
    elif t.dim() == 1:
        if t.shape[0] != n:
            raise ValueError(f"{name} has {t.shape[0]} values for a population of {n} neurons")
        t = t.expand(batch, n)
    elif t.dim() != 2 or tuple(t.shape) != (batch, n):
        raise ValueError(
            f"{name} must be a scalar, (n,) = ({n},) or (batch, n) = ({batch}, {n});"
            f" got shape {tuple(t.shape)}"
        )
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} must be finite (found NaN or inf)")
    return t.contiguous().clone()


class Network:
    """An explicit spiking network simulated on a fixed clock.

    Parameters
    ----------
    dt_ms : float
        Clock step (ms).
    batch : int
        Number of independent trials simulated side by side (shared weights).
    seed : int
        Root of every random stream of the network.
    backend : {"auto", "numba", "torch"}
        ``"numba"`` (compiled event-driven CPU loop), ``"torch"`` (reference loop, any device)
        or ``"auto"`` (numba on CPU, torch elsewhere).
    device : str or torch.device
        Torch device of the state (``"cpu"`` for the numba backend). On a GPU the torch loop
        runs every trial of the batch at once (spikes delivered by one matrix product per
        projection and delay); plastic projections are refused there (CPU only).
    dtype : {"float64", "float32"}
        Precision of the membrane state, coefficients, currents and weights. ``"float64"``
        (default) is the reference; ``"float32"`` is faster on large networks (both backends
        compute in float32 and agree bit for bit). Digital (fixed-point) neurons and plastic
        projections need ``"float64"`` (their exactness is defined in it) and are refused
        otherwise.
    """

    def __init__(
        self,
        dt_ms: float = 0.1,
        *,
        batch: int = 1,
        seed: int = 0,
        backend: str = "auto",
        device: str | torch.device = "cpu",
        dtype: str = "float64",
    ) -> None:
        self.dt_ms = check_positive("dt_ms", dt_ms)
        self.batch = check_int("batch", batch, 1)
        self.seed = check_int("seed", seed, 0, MAX_SEED)
        check_choice("backend", backend, BACKENDS)
        self.device = torch.device(device)
        if backend == "auto":
            backend = "numba" if self.device.type == "cpu" else "torch"
        if backend == "numba" and self.device.type != "cpu":
            raise ValueError(f"backend 'numba' runs on the CPU, got device={self.device}")
        self.backend = backend
        check_choice("dtype", dtype, tuple(DTYPES))
        self.dtype = dtype
        self.real = DTYPES[dtype]  # the torch dtype of the state
        self._pops: dict[str, dict[str, Any]] = {}
        self._projections: dict[str, Projection] = {}
        self._index_arena = IndexArena()  # the projections' post indices, back to back
        self._plasticity: dict[str, STDPParams] = {}
        self._gates: dict[str, Tensor] = {}  # importance gates of plastic projections
        self.spike_monitors: dict[str, SpikeMonitor] = {}
        self.state_monitors: dict[str, StateMonitor] = {}
        self.rate_monitors: dict[str, RateMonitor] = {}
        self._currents_t: list[tuple[str, Tensor, int]] = []
        self._sim: Any = None
        self.step = 0
        self.compile_s = 0.0
        # where the compiled loop came from: "aot" (neuroplastic compile), "jit" (numba), or
        # None (not built yet, or the torch loop)
        self.kernel_origin: str | None = None

    # ------------------------------------------------------------------ building
    def _new_name(self, name: str) -> str:
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty string, got {name!r}")
        if name in self._pops or name in self._projections:
            raise ValueError(f"name {name!r} is already used in this network")
        if self._sim is not None:
            raise ValueError("the network structure is fixed once it has run; build a new one")
        return name

    def add_lif(
        self,
        name: str,
        n: int,
        params: LIFParams = LIFParams(),
        substrate: Substrate = Analog(),
        *,
        v_init: float | tuple[float, float] | Tensor | str = "rest",
    ) -> str:
        """Add a LIF population. ``v_init``: ``"rest"``, a value (mV), ``(low, high)`` for a
        uniform draw, or a tensor ``(n,)`` / ``(batch, n)``."""
        self._new_name(name)
        check_int("n", n, 1, 2**31 - 1)  # synapses store post indices as int32
        if not isinstance(params, LIFParams):
            raise ValueError(f"params must be LIFParams, got {type(params).__name__}")
        _steps_of("t_ref_ms", params.t_ref_ms, self.dt_ms, _rng.MAX_STEPS,
                  "a refractory period longer than the whole clock")
        if not isinstance(substrate, (Analog, Digital)):
            raise ValueError(f"substrate must be Analog(...) or Digital(...), got {substrate!r}")
        if isinstance(substrate, Digital) and self.dtype != "float64":
            raise ValueError(
                f"population {name!r}: digital (fixed-point) neurons need Network(dtype="
                f"'float64'), got dtype={self.dtype!r} (their grid is exact in float64 only)")
        if isinstance(v_init, str):
            check_choice("v_init", v_init, ("rest",))
        elif isinstance(v_init, tuple):
            if len(v_init) != 2:
                raise ValueError(f"v_init as a range needs (low, high), got {v_init!r}")
            lo, hi = (check_finite("v_init[0]", v_init[0]), check_finite("v_init[1]", v_init[1]))
            if not lo <= hi:
                raise ValueError(f"v_init range must have low <= high, got {v_init!r}")
        elif isinstance(v_init, (int, float)):
            check_finite("v_init", v_init)
        else:
            v_init = _as_batch_tensor("v_init", v_init, self.batch, n)
        self._pops[name] = dict(kind="lif", n=n, params=params, substrate=substrate, v_init=v_init)
        return name

    def add_poisson(self, name: str, rates_hz: Any) -> str:
        """Poisson spike sources; ``rates_hz`` is ``(n,)`` or ``(batch, n)`` (see set_rates)."""
        self._new_name(name)
        r = torch.as_tensor(rates_hz, dtype=torch.float64)
        if r.dim() not in (1, 2):
            raise ValueError(f"rates_hz must be (n,) or (batch, n), got shape {tuple(r.shape)}")
        n = int(r.shape[-1])
        check_int("n", n, 1)
        self._pops[name] = dict(kind="poisson", n=n)
        self._pops[name]["rates"] = self._check_rates(name, r)
        return name

    def add_spike_times(
        self, name: str, n: int, times_ms: Any, indices: Any, batch: Any = None
    ) -> str:
        """Sources that fire at given times: neuron ``indices[k]`` at ``times_ms[k]``
        (rounded to the clock), in every trial or in trial ``batch[k]``."""
        self._new_name(name)
        check_int("n", n, 1)
        t = torch.as_tensor(times_ms, dtype=torch.float64).flatten()
        i = torch.as_tensor(indices, dtype=torch.int64).flatten()
        if t.shape != i.shape:
            raise ValueError(
                f"times_ms and indices must have equal length, got {t.numel()} and {i.numel()}"
            )
        if t.numel():
            bad = ~torch.isfinite(t) | (t < 0)
            if bad.any():
                raise ValueError(
                    f"times_ms must be finite and >= 0, got {float(t[bad][0])!r} "
                    f"(spike {int(torch.nonzero(bad)[0])})"
                )
            last = float(t.max())
            if not last / self.dt_ms < _rng.MAX_STEPS - 0.5:
                raise ValueError(
                    f"times_ms up to {last!r} ms is step {last / self.dt_ms:.6g} of "
                    f"dt_ms={self.dt_ms!r}, past the last step {_rng.MAX_STEPS - 1} "
                    f"({(_rng.MAX_STEPS - 1) * self.dt_ms:.6g} ms): {_CLOCK_WHY}"
                )
        if i.numel() and ((i < 0).any() or (i >= n).any()):
            raise ValueError(
                f"indices must be in [0, {n}), got range [{int(i.min())}, {int(i.max())}]"
            )
        steps = torch.round(t / self.dt_ms).to(torch.int64)
        if batch is None:
            b = torch.full_like(i, -1)
        else:
            b = torch.as_tensor(batch, dtype=torch.int64).flatten()
            if b.shape != i.shape or (b.numel() and ((b < 0).any() or (b >= self.batch).any())):
                raise ValueError(f"batch must index trials in [0, {self.batch}) per spike")
        order = torch.argsort(steps, stable=True)
        self._pops[name] = dict(
            kind="spike_times", n=n, steps=steps[order], idx=i[order], bidx=b[order]
        )
        return name

    def connect(
        self,
        pre: str,
        post: str,
        rule: Connectivity,
        *,
        weight: float | Tensor = 1.0,
        channel: int = 0,
        delay_ms: float | Tensor = 0.0,
        sign: Literal["excitatory", "inhibitory"] | None = None,
        storage: Literal["sparse", "dense"] = "sparse",
        name: str | None = None,
        plasticity: STDPParams | None = None,
    ) -> Projection:
        """Connect ``pre`` to synaptic ``channel`` of LIF population ``post``.

        ``weight``: nA added to the channel's current per spike — a scalar, one value per
        synapse ``(nnz,)``, or taken from a :class:`FromMatrix` rule. With ``sign`` the weights
        are magnitudes (must be >= 0) and inhibitory ones are stored negative (Dale's law).
        ``storage="dense"`` stores every (pre, post) pair (absent synapses as zero weights);
        ``"sparse"`` stores CSR rows. Delays are rounded to whole steps.

        ``plasticity``: an :class:`~neuroplastic.plasticity.STDPParams` makes the projection
        learn while the network runs (pair-based STDP on traces, exactly
        :func:`~neuroplastic.plasticity.stdp_step` applied each step to the spikes of the pre
        and post populations, with one pre trace and one post trace per trial for this
        projection). The spike *step* of each neuron is what is paired; axonal delays are
        ignored by the rule. In each step STDP runs after this step's spikes have been
        propagated (so they are delivered with the weights of the start of the step). Trials of
        a batch share the weights, combined by ``params.batch_reduce`` as in ``stdp_step``.
        Supported: windows with a trace form (exponential), additive or multiplicative
        updates, both pairings, sparse storage, initial weights within ``[w_min, w_max]``;
        ``norm_target``, windows without a trace form and ``storage="dense"`` (whose absent
        synapses are zero weights that STDP would grow) are refused with a ``ValueError``.
        The learned weights are ``proj.weights`` / :meth:`weights`, the traces
        :meth:`stdp_traces`.
        """
        name = self._new_name(name or f"{pre}->{post}")
        for role, pop in (("pre", pre), ("post", post)):
            if pop not in self._pops:
                raise ValueError(
                    f"{role} population {pop!r} does not exist; known: {', '.join(self._pops)}"
                )
        if self._pops[post]["kind"] != "lif":
            raise ValueError(f"post population {post!r} is an input source; connect to a LIF one")
        check_choice("storage", storage, ("sparse", "dense"))
        if plasticity is not None:
            self._check_plasticity(plasticity, storage)
            if self.dtype != "float64":
                raise ValueError(
                    f"plastic projection {name!r} needs Network(dtype='float64'), got dtype="
                    f"{self.dtype!r} (STDP is defined, and tested bit for bit, in float64)")
        if sign is not None:
            check_choice("sign", sign, ("excitatory", "inhibitory"))
        n_channels = self._pops[post]["params"].n_channels
        check_int("channel", channel, 0, n_channels - 1)
        d = torch.as_tensor(delay_ms, dtype=torch.float64).detach().cpu()
        if d.dim() == 0:
            d_scalar = _steps_of("delay_ms", float(d), self.dt_ms, MAX_DELAY_STEPS, _DELAY_WHY)
        n_pre, n_post = self._pops[pre]["n"], self._pops[post]["n"]
        rng = _rng.numpy_generator(self.seed, "connect", name)
        load_s = connectivity.KERNEL_LOAD_S[0]  # the samplers' one-time load is compile_s
        # int32 post indices (half the memory of int64; add_lif caps populations below 2**31)
        # ... drawn straight into the network's index arena, where the simulation finds every
        # projection's indices back to back and copies none of them (network/_arena.py)
        indptr, indices = build_connectivity(rule, n_pre, n_post, rng, same=(pre == post),
                                             index_dtype=np.int32,
                                             alloc=None if storage == "dense" else
                                             self._index_arena.take)
        self.compile_s += connectivity.KERNEL_LOAD_S[0] - load_s
        nnz = len(indices)
        dense = storage == "dense"
        rows = (np.repeat(np.arange(n_pre), np.diff(indptr))
                if dense or isinstance(rule, FromMatrix) else None)
        scalar_w = None  # a weight shared by every synapse: checked once, then filled
        if isinstance(rule, FromMatrix):
            w = rule.matrix[rows, indices]
        else:
            wt = torch.as_tensor(weight, dtype=torch.float64).detach().cpu()
            if wt.dim() == 0:
                scalar_w = float(wt)
                w = np.full(min(nnz, 1), scalar_w)  # what the checks below see
            elif wt.shape == (nnz,):
                w = wt.numpy().copy()
            else:
                raise ValueError(
                    f"weight must be a scalar or one value per synapse ({nnz},), "
                    f"got shape {tuple(wt.shape)}"
                )
        if not np.all(np.isfinite(w)):
            raise ValueError("weight must be finite (found NaN or inf)")
        if sign is not None:
            if np.any(w < 0):
                raise ValueError(f"with sign={sign!r} weights are magnitudes and must be >= 0")
            if sign == "inhibitory":
                w = -w
                scalar_w = None if scalar_w is None else -scalar_w
        if scalar_w is not None and (dense or plasticity is not None):
            w = np.full(nnz, scalar_w)
            scalar_w = None
        # one delay for every synapse: a stride-0 view (no per-synapse array is stored)
        dsteps: Any = None
        if d.dim() == 0:
            if dense:
                dsteps = np.full(nnz, d_scalar, dtype=np.int64)
            else:
                dsteps = torch.full((1,), d_scalar, dtype=torch.int64).expand(nnz)
        elif d.shape == (nnz,):
            bad = ~torch.isfinite(d) | (d < 0)
            if bad.any():
                raise ValueError(
                    f"delay_ms must be finite and >= 0 for every synapse, got "
                    f"{float(d[bad][0])!r} (synapse {int(torch.nonzero(bad)[0])})"
                )
            if nnz:
                _steps_of("delay_ms", float(d.max()), self.dt_ms, MAX_DELAY_STEPS, _DELAY_WHY)
            dsteps = torch.round(d / self.dt_ms).to(torch.int64).numpy()
        else:
            raise ValueError(
                f"delay_ms must be a scalar or one value per synapse ({nnz},), "
                f"got shape {tuple(d.shape)}"
            )
        if dense:
            full_w = np.zeros((n_pre, n_post))
            full_w[rows, indices] = w
            full_d = np.zeros((n_pre, n_post), dtype=np.int64)
            full_d[rows, indices] = dsteps
            indptr = np.arange(0, n_pre * n_post + 1, n_post, dtype=np.int64)
            indices = self._index_arena.take(n_pre * n_post)
            indices.reshape(n_pre, n_post)[:] = np.arange(n_post, dtype=np.int32)
            w, dsteps = full_w.ravel(), full_d.ravel()
        del rows
        proj = Projection(
            name=name,
            pre=pre,
            post=post,
            n_pre=n_pre,
            n_post=n_post,
            channel=channel,
            storage=storage,
            indptr=torch.from_numpy(np.ascontiguousarray(indptr)),
            indices=torch.from_numpy(np.ascontiguousarray(indices)),
            # one weight for all: no per-synapse array until proj.weights is read
            weights=(scalar_w if scalar_w is not None
                     else torch.from_numpy(np.ascontiguousarray(w, dtype=np.float64))),
            delays=(dsteps if isinstance(dsteps, Tensor)
                    else torch.from_numpy(np.ascontiguousarray(dsteps, dtype=np.int64))),
        )
        if plasticity is not None:
            lo_ok = np.all(w >= plasticity.w_min)
            hi_ok = np.all(w <= plasticity.w_max)
            if not (lo_ok and hi_ok):
                raise ValueError(
                    f"initial weights of plastic projection {name!r} must lie within "
                    f"[w_min, w_max] = [{plasticity.w_min}, {plasticity.w_max}] (stored signed: "
                    f"inhibitory weights are negative), got [{w.min()}, {w.max()}]"
                )
            self._plasticity[name] = plasticity
        self._projections[name] = proj
        return proj

    @staticmethod
    def _check_plasticity(params: Any, storage: str) -> None:
        if not isinstance(params, STDPParams):
            raise ValueError(
                f"plasticity must be STDPParams (pair-based STDP), got {type(params).__name__}"
            )
        if params.window.trace_form() is None:
            raise ValueError(
                f"plasticity window {type(params.window).__name__} has no trace form; the "
                "simulator runs trace STDP only (exponential windows)"
            )
        if params.norm_target is not None:
            raise ValueError(
                "plasticity with norm_target is not supported in the simulator; call "
                "normalize_incoming on the projection's weights between runs instead"
            )
        if storage != "sparse":
            raise ValueError(
                "plasticity needs storage='sparse' (dense storage keeps absent synapses as zero "
                "weights, which STDP would change)"
            )

    # ------------------------------------------------------------------ inputs
    def _check_rates(self, name: str, r: Any) -> Tensor:
        n = self._pops[name]["n"]
        r = _as_batch_tensor(f"rates_hz of {name!r}", r, self.batch, n)
        if (r < 0).any():
            raise ValueError(f"rates_hz of {name!r} must be >= 0")
        p_max = float(r.max()) * self.dt_ms * 1e-3
        if p_max > 1.0:
            raise ValueError(
                f"rates_hz of {name!r} up to {float(r.max())} Hz exceed one spike per"
                f" step of {self.dt_ms} ms (at most 1000 / dt_ms = {1e3 / self.dt_ms:.6g} Hz:"
                f" the spike probability per step, rate * dt, must be <= 1)"
            )
        return r

    def set_rates(self, name: str, rates_hz: Any) -> None:
        """Change the rates of a Poisson source (takes effect from the next step)."""
        if name not in self._pops or self._pops[name]["kind"] != "poisson":
            raise ValueError(f"{name!r} is not a Poisson source")
        self._pops[name]["rates"] = self._check_rates(name, rates_hz)

    def set_current(self, name: str, current_na: Any) -> None:
        """Constant external current (nA) into a LIF population, scalar/(n,)/(batch, n)."""
        pop = self._lif(name)
        cur = _as_batch_tensor(f"current of {name!r}", current_na, self.batch, pop["n"])
        pop["i_ext"] = cur
        if self._sim is not None:
            start = self._sim.starts[name]
            self._sim.i_ext[:, start : start + pop["n"]] = cur.to(self._sim.i_ext.device)

    def add_current(self, name: str, values_na: Any, *, start_ms: float = 0.0) -> None:
        """Time-varying current: ``values_na`` is ``(T, n)`` or ``(T, batch, n)``, one row per
        step from ``start_ms`` on; added to the constant current."""
        pop = self._lif(name)
        v = torch.as_tensor(values_na, dtype=torch.float64).detach().cpu()
        if v.dim() == 2:
            v = v[:, None, :].expand(-1, self.batch, -1)
        if v.dim() != 3 or v.shape[1:] != (self.batch, pop["n"]):
            raise ValueError(
                f"values_na must be (T, n) or (T, batch, n) with n = {pop['n']}, "
                f"batch = {self.batch}; got shape {tuple(v.shape)}"
            )
        if not torch.isfinite(v).all():
            raise ValueError("values_na must be finite")
        start = _steps_of("start_ms", start_ms, self.dt_ms, _rng.MAX_STEPS, _CLOCK_WHY)
        self._currents_t.append((name, v.contiguous(), start))
        if self._sim is not None:
            self._sim.add_time_varying_current()

    def _lif(self, name: str) -> dict[str, Any]:
        if name not in self._pops or self._pops[name]["kind"] != "lif":
            raise ValueError(f"{name!r} is not a LIF population of this network")
        return self._pops[name]

    # ------------------------------------------------------------------ monitors
    def monitor_spikes(self, name: str) -> SpikeMonitor:
        self._pop(name)
        mon = SpikeMonitor(name, -1, self._pops[name]["n"], self.dt_ms)
        self.spike_monitors[name] = mon
        self._invalidate_monitors()
        return mon

    def monitor_state(self, name: str, neurons: Any = None, *, stride: int = 1) -> StateMonitor:
        pop = self._lif(name)
        check_int("stride", stride, 1, _rng.MAX_STEPS)
        idx = torch.arange(pop["n"]) if neurons is None else torch.as_tensor(neurons).flatten()
        if idx.numel() == 0 or (idx < 0).any() or (idx >= pop["n"]).any():
            raise ValueError(f"neurons must be indices in [0, {pop['n']}) of {name!r}")
        mon = StateMonitor(name, idx.to(torch.int64), stride, self.dt_ms)
        if any(m.stride != stride for m in self.state_monitors.values()):
            raise ValueError("all state monitors of a network share one stride")
        self.state_monitors[name] = mon
        self._invalidate_monitors()
        return mon

    def monitor_rate(self, name: str) -> RateMonitor:
        self._pop(name)
        mon = RateMonitor(name, list(self._pops).index(name), self._pops[name]["n"], self.dt_ms)
        self.rate_monitors[name] = mon
        self._invalidate_monitors()
        return mon

    def _pop(self, name: str) -> dict[str, Any]:
        if name not in self._pops:
            raise ValueError(f"unknown population {name!r}; known: {', '.join(self._pops)}")
        return self._pops[name]

    def _invalidate_monitors(self) -> None:
        if self._sim is not None:
            self._sim.set_monitors(self)

    # ------------------------------------------------------------------ access
    @property
    def projections(self) -> dict[str, Projection]:
        return dict(self._projections)

    @property
    def plasticity(self) -> dict[str, STDPParams]:
        """The STDP parameters of each plastic projection."""
        return dict(self._plasticity)

    def set_gate(self, projection: str, gate: Any) -> None:
        r"""Gate the STDP of a plastic projection per synapse: every step's change of synapse
        :math:`k` becomes :math:`g_k\,\Delta w_k`, i.e. :math:`w \leftarrow w_\mathrm{old} +
        g_k (w_\mathrm{new} - w_\mathrm{old})` (:func:`~neuroplastic.continual.gate.gated_update`),
        inside the compiled loop and the reference loop alike.

        ``gate``: ``(nnz,)`` factors in [0, 1] in CSR order (as :meth:`weights`); ``g = 1``
        leaves the rule unchanged bit for bit, ``g = 0`` freezes the synapse. ``None`` removes
        the gate. The gate is part of the checkpointed state.
        """
        name = self._check_gated(projection)
        if gate is None:
            self._gates.pop(name, None)
        else:
            nnz = self._projections[name].nnz
            g = torch.as_tensor(gate)
            if not g.is_floating_point():
                raise ValueError(f"gate must be a float tensor, got dtype {g.dtype}")
            g = g.detach().to("cpu", torch.float64)
            if tuple(g.shape) != (nnz,):
                raise ValueError(f"gate has shape {tuple(g.shape)}; projection {name!r} needs one "
                                 f"factor per synapse ({nnz},)")
            if torch.isnan(g).any() or (g < 0).any() or (g > 1).any():
                raise ValueError("gate must lie in [0, 1] (no NaN)")
            self._gates[name] = g.contiguous().clone()
        if self._sim is not None:
            self._sim.set_gate(name, self._gates.get(name))

    def set_importance(self, projection: str, importance: Any, params: Any = None) -> None:
        """Gate a plastic projection by synapse importance: :meth:`set_gate` with
        :func:`~neuroplastic.continual.gate.gate_factor` of ``importance`` (``(nnz,)`` in CSR
        order, or an :class:`~neuroplastic.continual.importance.Importance`) under ``params``
        (a :class:`~neuroplastic.continual.gate.GateParams`; default: the inverse gate)."""
        from ..continual.gate import GateParams, gate_factor
        from ..continual.importance import Importance

        self._check_gated(projection)
        params = GateParams() if params is None else params
        if not isinstance(params, GateParams):
            raise ValueError(f"params must be GateParams, got {type(params).__name__}")
        values = importance.values if isinstance(importance, Importance) else importance
        nnz = self._projections[projection].nnz
        values = torch.as_tensor(values)
        if tuple(values.shape) != (nnz,):
            raise ValueError(f"importance has shape {tuple(values.shape)}; projection "
                             f"{projection!r} needs one value per synapse ({nnz},)")
        self.set_gate(projection, gate_factor(values.to(torch.float64), params))

    def gate(self, projection: str) -> Tensor | None:
        """The gate of a plastic projection (a copy, ``(nnz,)``) or ``None`` when ungated."""
        g = self._gates.get(self._check_gated(projection))
        return None if g is None else g.clone()

    def _check_gated(self, projection: str) -> str:
        if projection not in self._projections:
            raise ValueError(
                f"unknown projection {projection!r}; known: {', '.join(self._projections)}"
            )
        if projection not in self._plasticity:
            raise ValueError(f"projection {projection!r} is not plastic: there is nothing to gate")
        return projection

    def weights(self, projection: str) -> Tensor:
        """The current weights of a projection, ``(nnz,)`` in CSR order: a view of the store
        the simulator propagates from (learned weights of plastic projections included).

        Until weights are first read, a static projection made with one scalar weight keeps
        that one value instead of a per-synapse array (less memory, same results bit for bit);
        the first read stores every weight of the network per synapse, once."""
        if projection not in self._projections:
            raise ValueError(
                f"unknown projection {projection!r}; known: {', '.join(self._projections)}"
            )
        self._ensure_built()
        return self._projections[projection].weights

    def stdp_traces(self, projection: str) -> STDPState:
        """Pre ``(batch, n_pre)`` and post ``(batch, n_post)`` traces of a plastic projection
        (views of the simulation state)."""
        if projection not in self._plasticity:
            raise ValueError(f"{projection!r} is not a plastic projection of this network")
        self._ensure_built()
        return self._sim.stdp_state(projection)

    @property
    def populations(self) -> dict[str, Population]:
        self._ensure_built()
        return dict(self._sim.populations)

    @property
    def t_ms(self) -> float:
        return self.step * self.dt_ms

    def coefficients(self, name: str) -> LIFCoefficients:
        """The realized per-neuron coefficients of a LIF population (mismatch included)."""
        self._ensure_built()
        s, n = self._sim.starts[name], self._lif(name)["n"]
        return LIFCoefficients(*[t[s : s + n] for t in self._sim.coef])

    def state(self, name: str) -> dict[str, Tensor]:
        """Current state of a LIF population: v, i_syn, theta, ref_left (batch-major)."""
        self._ensure_built()
        s, n = self._sim.starts[name], self._lif(name)["n"]
        sim = self._sim
        return dict(
            v=sim.v[:, s : s + n],
            i_syn=sim.isyn[:, :, s : s + n].transpose(1, 2),
            theta=sim.theta[:, s : s + n],
            ref_left=sim.ref_left[:, s : s + n],
        )

    def spike_counts(self, name: str) -> Tensor:
        """Spikes of each neuron since the start, summed over trials, ``(n,)`` int64."""
        self._ensure_built()
        s = self._sim.starts[name]
        return self._sim.spike_count[s : s + self._pops[name]["n"]].clone()

    @property
    def synops(self) -> dict[str, int]:
        """Synaptic events delivered by each projection since the start (summed over trials)."""
        self._ensure_built()
        return {p: int(c) for p, c in zip(self._projections, self._sim.synops.tolist())}

    # ------------------------------------------------------------------ running
    def _ensure_built(self) -> None:
        if self._sim is None:
            self._sim = Simulation(self)

    def run(self, duration_ms: float, *, progress: bool | None = None,
            backend: str | None = None, threads: int = 1) -> Any:
        """Advance the network by ``duration_ms`` (rounded to whole steps).

        ``progress``: show a progress bar (default: when more than 100,000 steps; on NEST see
        :func:`~neuroplastic.interop.nest.run_nest`).
        ``backend="nest"``: build this network in NEST and run it there with ``threads``
        threads (:func:`neuroplastic.interop.nest.run_nest`; zero delays become one step);
        returns its :class:`~neuroplastic.interop.nest.NestRun` — this network's own state and
        monitors do not advance.
        """
        if backend == "nest":
            from ..interop.nest import run_nest

            return run_nest(self, duration_ms, threads=threads, zero_delay="one_step",
                            progress=progress)
        if backend is not None:
            raise ValueError(f"backend must be None (this package's simulator) or 'nest', "
                             f"got {backend!r}")
        left = _rng.MAX_STEPS - self.step
        why = f"the clock is at step {self.step} and {_CLOCK_WHY}"
        n_steps = _steps_of("duration_ms", duration_ms, self.dt_ms, left, why)
        self._ensure_built()
        show = n_steps > 100_000 if progress is None else progress
        with tqdm(
            total=n_steps,
            disable=not show,
            unit="step",
            unit_scale=True,
            desc="simulating",
            leave=False,
        ) as bar:
            self._sim.advance(self, n_steps, bar)

    def reset_state(self) -> None:
        """Back to the initial neuron and synapse state (weights, counters, time are kept)."""
        self._ensure_built()
        self._sim.reset_state(self)

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self, path: str | Path) -> None:
        """Save the whole simulation state (see :mod:`neuroplastic.network.checkpoint`)."""
        self._ensure_built()
        write_checkpoint(path, state_tensors(self), step=self.step, fingerprint=fingerprint(self))

    def load_checkpoint(self, path: str | Path) -> None:
        """Restore a state saved by :meth:`save_checkpoint` into this (identically built)
        network; refuses tampered, pickled or mismatching files with a clear error."""
        self._ensure_built()
        restore_state(self, read_checkpoint(path, fingerprint=fingerprint(self)))

    def __repr__(self) -> str:
        pops = ", ".join(f"{k}[{v['n']}]" for k, v in self._pops.items())
        return (
            f"Network(dt_ms={self.dt_ms}, batch={self.batch}, seed={self.seed}, "
            f"backend={self.backend!r}, dtype={self.dtype!r}, populations=({pops}), "
            f"projections={len(self._projections)}, t_ms={self.t_ms:g})"
        )
