"""Surrogate-gradient spiking layers over the simulator's LIF dynamics.

Every neuron layer realizes its per-neuron coefficients with
:func:`neuroplastic.neurons.lif.realize_lif` (same ``LIFParams``, same exact integration,
optional device mismatch) and steps them with the arithmetic of
:func:`~neuroplastic.neurons.lif.lif_step`; in float64 the spikes are identical.

Return convention (never changed by a flag): a neuron layer's ``forward(x, state=None)``
returns ``(output, state)``; ``state=None`` starts from rest, so state never leaks between
batches unless passed on explicitly. Stateless modules (:class:`TimeDistributed`,
:class:`EventLinear`) return a tensor. :class:`Sequential` chains both and returns
``(output, states)``.

Shapes: single-step cells take ``(B, n)``; multi-step layers take time-major ``(T, B, n)``.
Inputs and states are checked before any kernel runs: any memory layout is accepted, other
floating dtypes are cast to the layer's dtype, and a non-float tensor, a wrong shape (also one
with the right number of elements) or another device raises ``ValueError`` naming it
(``x``, ``state.v``, ``state.i_syn``, ``state.spikes``).
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn

from .._validation import check_choice, check_finite, check_int, check_positive, check_range
from ..neurons.lif import Analog, LIFParams, realize_lif
from .functional import (
    LIFCoef,
    event_linear,
    li_loop,
    lif_cell_step,
    lif_sequence,
    synaptic_scan,
)
from .spike import Surrogate

__all__ = [
    "LI",
    "LIF",
    "CubaLIF",
    "CubaLIFCell",
    "CubaState",
    "EventLinear",
    "LIFCell",
    "LIState",
    "LIFLayerState",
    "RecurrentLIF",
    "RecurrentState",
    "Sequential",
    "SequenceWrapper",
    "SpikingModule",
    "TimeDistributed",
    "discrete_lif_params",
]

BACKENDS = ("fused", "loop")
DEFAULT_SUBSTRATE = Analog()  # noise-free, no mismatch
DEFAULT_SURROGATE = Surrogate()  # fast sigmoid, slope 25


class LIFLayerState(NamedTuple):
    v: Tensor  # (B, n) membrane after the last step


class CubaState(NamedTuple):
    v: Tensor  # (B, n) membrane
    i_syn: Tensor  # (B, n, C) synaptic currents (arrivals of the last step included)


class RecurrentState(NamedTuple):
    v: Tensor  # (B, n) membrane
    spikes: Tensor  # (B, n) spikes of the last step (fed back through the recurrent weights)


class LIState(NamedTuple):
    v: Tensor  # (B, n) membrane of the leaky integrator


def discrete_lif_params(
    beta: float = 0.9,
    threshold: float = 1.0,
    *,
    reset_mode: Literal["hard", "subtract"] = "subtract",
    syn_beta: float = 0.8,
    dt_ms: float = 1.0,
) -> LIFParams:
    """``LIFParams`` for the dimensionless snnTorch/SpikingJelly convention.

    Membrane decay ``beta`` per step of ``dt_ms``, input current weight 1 per step
    (``v <- beta v + I``), rest and reset 0, threshold ``threshold``, no refractoriness;
    synaptic current decay ``syn_beta`` per step (used by :class:`CubaLIF`).
    """
    check_range("beta", beta, 0.0, 1.0)
    check_range("syn_beta", syn_beta, 0.0, 1.0)
    if beta in (0.0, 1.0) or syn_beta in (0.0, 1.0):
        raise ValueError(f"beta and syn_beta must be in (0, 1), got {beta!r}, {syn_beta!r}")
    check_positive("threshold", threshold)
    dt = check_positive("dt_ms", dt_ms)
    return LIFParams(
        tau_mem_ms=-dt / math.log(beta),
        v_rest_mv=0.0,
        v_reset_mv=0.0,
        v_thresh_mv=float(threshold),
        t_ref_ms=0.0,
        r_mohm=1.0 / (1.0 - beta),
        tau_syn_ms=(-dt / math.log(syn_beta),),
        reset_mode=reset_mode,
    )


class SpikingModule(nn.Module):
    """Abstract: a module with state, ``forward(x, state=None) -> (output, state)``."""


class _LIFNeurons(SpikingModule):
    """Shared construction: realized coefficients as buffers (or parameters when learned)."""

    def __init__(
        self,
        n: int,
        params: LIFParams,
        *,
        dt_ms: float,
        substrate: Analog,
        surrogate: Surrogate,
        detach_reset: bool,
        learn_decay: bool,
        learn_threshold: bool,
        generator: torch.Generator | None,
        dtype: torch.dtype | None,
        channel: Literal["ext", "syn"],
    ) -> None:
        super().__init__()
        check_int("n", n, 1)
        if not isinstance(params, LIFParams):
            raise ValueError(f"params must be LIFParams(...), got {params!r}")
        if not isinstance(substrate, Analog):
            raise ValueError(
                f"substrate must be Analog(...) for gradient training, got {substrate!r}"
            )
        if substrate.noise_sigma_mv != 0.0:
            raise ValueError(
                f"noise_sigma_mv must be 0 in surrogate layers, got {substrate.noise_sigma_mv!r}"
            )
        if not isinstance(surrogate, Surrogate):
            raise ValueError(f"surrogate must be a Surrogate(...), got {surrogate!r}")
        dt = check_positive("dt_ms", dt_ms)
        if round(params.t_ref_ms / dt) != 0:
            raise ValueError(
                f"t_ref_ms must round to 0 steps in surrogate layers (no refractoriness), got "
                f"t_ref_ms={params.t_ref_ms!r} with dt_ms={dt!r}"
            )
        if params.theta_plus_mv != 0.0:
            raise ValueError(
                f"theta_plus_mv must be 0 in surrogate layers, got {params.theta_plus_mv!r}"
            )
        gen = generator if generator is not None else torch.Generator().manual_seed(0)
        coef = realize_lif(params, substrate, n, dt, generator=gen)
        dtype = torch.get_default_dtype() if dtype is None else dtype
        self.n, self.params, self.dt_ms = n, params, dt
        self.surrogate, self.detach_reset = surrogate, bool(detach_reset)
        self.subtract = params.reset_mode == "subtract"
        drive = coef.drive_ext if channel == "ext" else coef.drive_syn
        self.register_buffer("v_rest", coef.v_rest.to(dtype))
        self.register_buffer("drive", drive.to(dtype))
        self.register_buffer("v_reset", coef.v_reset.to(dtype))
        self.register_buffer("decay_syn", coef.decay_syn.to(dtype))
        if learn_decay:
            self.decay = nn.Parameter(coef.decay_v.to(dtype))
        else:
            self.register_buffer("decay", coef.decay_v.to(dtype))
        if learn_threshold:
            self.threshold = nn.Parameter(coef.v_thresh.to(dtype))
        else:
            self.register_buffer("threshold", coef.v_thresh.to(dtype))

    def coef(self, drive: Tensor | None = None) -> LIFCoef:
        """The layer's coefficients as a :class:`~.functional.LIFCoef`."""
        return LIFCoef(
            self.v_rest, self.decay, self.drive if drive is None else drive, self.threshold,
            self.v_reset,
        )

    def rest(self, batch: int) -> Tensor:
        """Membrane at rest, ``(batch, n)``."""
        return self.v_rest.expand(batch, self.n).clone()

    def _check_input(self, x: Tensor, dims: tuple[int, ...]) -> Tensor:
        return _check_input(self, x, dims, self.n)

    def _check_state(self, state, field: str, x: Tensor, shape: tuple[int, ...]) -> Tensor:
        return _check_state(self, state, field, x, shape)

    def extra_repr(self) -> str:
        return (
            f"n={self.n}, reset={'subtract' if self.subtract else 'hard'}, "
            f"surrogate={self.surrogate.kind}(slope={self.surrogate.slope:g})"
        )


_DOC_ARGS = """
    Parameters
    ----------
    n
        Number of neurons.
    params
        Neuron parameters shared with the simulator (``t_ref_ms`` must round to 0 steps,
        ``theta_plus_mv`` must be 0). :func:`discrete_lif_params` gives the ``beta``/threshold
        convention of snnTorch and SpikingJelly.
    dt_ms
        Clock step, ms.
    substrate
        ``Analog`` with ``noise_sigma_mv = 0``; mismatch CVs draw per-neuron coefficients.
    surrogate
        Surrogate derivative of the spike function.
    detach_reset
        Stop the gradient through the spike in the reset term (snnTorch's default behaviour).
    learn_decay, learn_threshold
        Make the per-neuron membrane decay ``exp(-dt/tau_m)`` / the threshold trainable.
    generator
        Source of the mismatch draw (default: seed 0).
    dtype
        Dtype of the coefficients and of the computation (default: torch's default dtype):
        input and state of another floating dtype are cast to it (a float32 layer given
        float64 input, as ``torch.from_numpy`` makes, computes in float32). The coefficients
        are realized in float64 and rounded once; build with ``dtype=torch.float64`` (rather
        than calling ``.double()`` later) to match the simulator bit for bit.
"""


class LIFCell(_LIFNeurons):
    __doc__ = (
        """Single-step LIF: current ``(B, n)`` -> ``(spikes (B, n), LIFLayerState)``.\n"""
        + _DOC_ARGS
    )

    def __init__(
        self,
        n: int,
        params: LIFParams | None = None,
        *,
        dt_ms: float = 1.0,
        substrate: Analog = DEFAULT_SUBSTRATE,
        surrogate: Surrogate = DEFAULT_SURROGATE,
        detach_reset: bool = False,
        learn_decay: bool = False,
        learn_threshold: bool = False,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(
            n, discrete_lif_params() if params is None else params, dt_ms=dt_ms,
            substrate=substrate, surrogate=surrogate, detach_reset=detach_reset,
            learn_decay=learn_decay, learn_threshold=learn_threshold, generator=generator,
            dtype=dtype, channel="ext",
        )

    def forward(
        self, x: Tensor, state: LIFLayerState | None = None
    ) -> tuple[Tensor, LIFLayerState]:
        x = self._check_input(x, (2,))
        b = x.shape[0]
        v = (self.rest(b) if state is None
             else self._check_state(state, "v", x, (b, self.n)))
        s, v = lif_cell_step(
            v, x, self.coef(), subtract=self.subtract, surrogate=self.surrogate,
            detach_reset=self.detach_reset,
        )
        return s, LIFLayerState(v)


class LIF(_LIFNeurons):
    __doc__ = (
        """Multi-step LIF: current ``(T, B, n)`` -> ``(spikes (T, B, n), LIFLayerState)``.

    ``backend="fused"`` runs the whole recurrence in one autograd node (compiled loop on CPU);
    ``"loop"`` is the reference Python loop over :class:`LIFCell` steps. Both give the same
    spikes; gradients agree to rounding.
"""
        + _DOC_ARGS
    )

    def __init__(
        self,
        n: int,
        params: LIFParams | None = None,
        *,
        dt_ms: float = 1.0,
        substrate: Analog = DEFAULT_SUBSTRATE,
        surrogate: Surrogate = DEFAULT_SURROGATE,
        detach_reset: bool = False,
        learn_decay: bool = False,
        learn_threshold: bool = False,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        backend: Literal["fused", "loop"] = "fused",
    ) -> None:
        super().__init__(
            n, discrete_lif_params() if params is None else params, dt_ms=dt_ms,
            substrate=substrate, surrogate=surrogate, detach_reset=detach_reset,
            learn_decay=learn_decay, learn_threshold=learn_threshold, generator=generator,
            dtype=dtype, channel="ext",
        )
        self.backend = check_choice("backend", backend, BACKENDS)

    def forward(
        self, x: Tensor, state: LIFLayerState | None = None
    ) -> tuple[Tensor, LIFLayerState]:
        x = self._check_input(x, (3,))
        b = x.shape[1]
        v0 = (self.rest(b) if state is None
              else self._check_state(state, "v", x, (b, self.n)))
        s, v = lif_sequence(
            x, v0, self.coef(), subtract=self.subtract, surrogate=self.surrogate,
            detach_reset=self.detach_reset, backend=self.backend,
        )
        return s, LIFLayerState(v)


def _check_input(layer: nn.Module, x: Tensor, dims: tuple[int, ...], n: int) -> Tensor:
    """Input of a neuron layer: a floating-point tensor with ``dims`` dimensions, ``n`` last,
    returned in the layer's dtype (a float32 layer computes in float32 whatever the input)."""
    where = type(layer).__name__
    if not isinstance(x, Tensor):
        raise ValueError(f"{where}: x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() not in dims or x.shape[-1] != n:
        raise ValueError(
            f"{where} expects input x with {' or '.join(map(str, dims))} "
            f"dimensions and n={n} neurons last, got shape {tuple(x.shape)}"
        )
    if not x.is_floating_point():
        raise ValueError(f"{where}: x must be a floating-point tensor, got {x.dtype}")
    return x.to(layer.v_rest.dtype)


def _check_state(layer: nn.Module, state, field: str, x: Tensor, shape: tuple) -> Tensor:
    """A state tensor passed in by the caller: floating point, ``shape``, on ``x``'s device.

    Any floating dtype (cast to the layer's) and memory layout is accepted; anything else
    raises ``ValueError`` naming the field (``state.v``, ``state.i_syn``, ...).
    """
    where, name = type(layer).__name__, f"state.{field}"
    if not hasattr(state, field):
        raise ValueError(
            f"{where}: state must be the state tuple the layer returns (with a field "
            f"{field!r}), got {type(state).__name__}"
        )
    t = getattr(state, field)
    if not isinstance(t, Tensor):
        raise ValueError(f"{where}: {name} must be a torch.Tensor, got {type(t).__name__}")
    if tuple(t.shape) != tuple(shape):
        raise ValueError(
            f"{where}: {name} must have shape {tuple(shape)} (batch, neurons"
            f"{', channels' if len(shape) == 3 else ''}), got {tuple(t.shape)}"
        )
    if not t.is_floating_point():
        raise ValueError(f"{where}: {name} must be a floating-point tensor, got {t.dtype}")
    if t.device != x.device:
        raise ValueError(f"{where}: {name} is on device {t.device} but x on {x.device}")
    return t.to(layer.v_rest.dtype)


def _as_channels(layer: _LIFNeurons, x: Tensor, c: int, dims: int) -> Tensor:
    """``(..., n)`` -> ``(..., n, 1)`` when the neurons have one synaptic channel."""
    n = layer.n
    if isinstance(x, Tensor) and x.dim() == dims and c == 1 and x.shape[-1] == n:
        x = x.unsqueeze(-1)
    if not (isinstance(x, Tensor) and x.dim() == dims + 1 and x.shape[-2:] == (n, c)):
        raise ValueError(
            f"{type(layer).__name__}: synaptic input x must have shape (..., n) (one channel) "
            f"or (..., n, {c}) with n={n} and {dims} batch/time dimensions before, got "
            f"{tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__}"
        )
    if not x.is_floating_point():
        raise ValueError(
            f"{type(layer).__name__}: x must be a floating-point tensor, got {x.dtype}"
        )
    return x.to(layer.v_rest.dtype)


class CubaLIFCell(_LIFNeurons):
    __doc__ = (
        """Single-step current-based LIF: input ``(B, n[, C])`` enters the synaptic currents.

    As in the simulator, arrivals of step ``t`` are added to ``i_syn`` after the membrane
    update of step ``t`` and act on the membrane from step ``t + 1`` (one-step latency).
    Returns ``(spikes (B, n), CubaState)``.
"""
        + _DOC_ARGS
    )

    def __init__(
        self,
        n: int,
        params: LIFParams | None = None,
        *,
        dt_ms: float = 1.0,
        substrate: Analog = DEFAULT_SUBSTRATE,
        surrogate: Surrogate = DEFAULT_SURROGATE,
        detach_reset: bool = False,
        learn_decay: bool = False,
        learn_threshold: bool = False,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(
            n, discrete_lif_params() if params is None else params, dt_ms=dt_ms,
            substrate=substrate, surrogate=surrogate, detach_reset=detach_reset,
            learn_decay=learn_decay, learn_threshold=learn_threshold, generator=generator,
            dtype=dtype, channel="syn",
        )

    def initial_state(self, batch: int) -> CubaState:
        c = self.decay_syn.shape[1]
        return CubaState(self.rest(batch), self.v_rest.new_zeros(batch, self.n, c))

    def _cuba_state(self, x: Tensor, state: CubaState | None, b: int) -> CubaState:
        if state is None:
            return self.initial_state(b)
        c = self.decay_syn.shape[1]
        return CubaState(
            self._check_state(state, "v", x, (b, self.n)),
            self._check_state(state, "i_syn", x, (b, self.n, c)),
        )

    def forward(self, x: Tensor, state: CubaState | None = None) -> tuple[Tensor, CubaState]:
        x = _as_channels(self, x, self.decay_syn.shape[1], 2)
        st = self._cuba_state(x, state, x.shape[0])
        s, v = lif_cell_step(
            st.v, st.i_syn, self.coef(), subtract=self.subtract, surrogate=self.surrogate,
            detach_reset=self.detach_reset,
        )
        i_syn = st.i_syn * self.decay_syn + x
        return s, CubaState(v, i_syn)


class CubaLIF(CubaLIFCell):
    __doc__ = (
        """Multi-step current-based LIF: input ``(T, B, n[, C])`` -> ``(spikes, CubaState)``.

    The synaptic filter is a linear scan (fused); one channel takes the fused membrane
    recurrence, several channels the reference loop.
"""
        + _DOC_ARGS
    )

    def __init__(
        self,
        n: int,
        params: LIFParams | None = None,
        *,
        dt_ms: float = 1.0,
        substrate: Analog = DEFAULT_SUBSTRATE,
        surrogate: Surrogate = DEFAULT_SURROGATE,
        detach_reset: bool = False,
        learn_decay: bool = False,
        learn_threshold: bool = False,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        backend: Literal["fused", "loop"] = "fused",
    ) -> None:
        super().__init__(
            n, params, dt_ms=dt_ms, substrate=substrate, surrogate=surrogate,
            detach_reset=detach_reset,
            learn_decay=learn_decay, learn_threshold=learn_threshold, generator=generator,
            dtype=dtype,
        )
        self.backend = check_choice("backend", backend, BACKENDS)

    def forward(self, x: Tensor, state: CubaState | None = None) -> tuple[Tensor, CubaState]:
        x = _as_channels(self, x, self.decay_syn.shape[1], 3)
        st = self._cuba_state(x, state, x.shape[1])
        cur, i_last = synaptic_scan(x, st.i_syn, self.decay_syn, backend=self.backend)
        s, v = lif_sequence(
            cur, st.v, self.coef(), subtract=self.subtract, surrogate=self.surrogate,
            detach_reset=self.detach_reset, backend=self.backend,
        )
        return s, CubaState(v, i_last)


class RecurrentLIF(LIFCell):
    __doc__ = (
        """Multi-step LIF with recurrent weights: current ``(T, B, n)`` plus
    ``recurrent(s_{t-1})`` -> ``(spikes (T, B, n), RecurrentState)``.

    ``recurrent`` is an ``nn.Linear(n, n, bias=False)`` initialised with normal draws of
    standard deviation ``recurrent_gain / sqrt(n)`` from ``generator``. Runs as a loop of
    steps under autograd (the recurrent product cannot be batched over time).
"""
        + _DOC_ARGS
    )

    def __init__(
        self,
        n: int,
        params: LIFParams | None = None,
        *,
        dt_ms: float = 1.0,
        substrate: Analog = DEFAULT_SUBSTRATE,
        surrogate: Surrogate = DEFAULT_SURROGATE,
        detach_reset: bool = False,
        learn_decay: bool = False,
        learn_threshold: bool = False,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        recurrent_gain: float = 1.0,
    ) -> None:
        super().__init__(
            n, params, dt_ms=dt_ms, substrate=substrate, surrogate=surrogate,
            detach_reset=detach_reset,
            learn_decay=learn_decay, learn_threshold=learn_threshold, generator=generator,
            dtype=dtype,
        )
        gain = check_finite("recurrent_gain", recurrent_gain)
        self.recurrent = nn.Linear(n, n, bias=False, dtype=self.v_rest.dtype)
        gen = generator if generator is not None else torch.Generator().manual_seed(0)
        with torch.no_grad():
            w = torch.randn(n, n, generator=gen, dtype=torch.float64) * (gain / n**0.5)
            self.recurrent.weight.copy_(w)

    def forward(
        self, x: Tensor, state: RecurrentState | None = None
    ) -> tuple[Tensor, RecurrentState]:
        x = self._check_input(x, (3,))
        b = x.shape[1]
        if state is None:
            v, s = self.rest(b), x.new_zeros(b, self.n)
        else:
            v = self._check_state(state, "v", x, (b, self.n))
            s = self._check_state(state, "spikes", x, (b, self.n))
        coef, out = self.coef(), []
        for t in range(x.shape[0]):
            s, v = lif_cell_step(
                v, x[t] + self.recurrent(s), coef, subtract=self.subtract,
                surrogate=self.surrogate, detach_reset=self.detach_reset,
            )
            out.append(s)
        return torch.stack(out), RecurrentState(v, s)


class LI(SpikingModule):
    """Leaky-integrator readout (LIF without threshold): ``(T, B, n)`` -> membrane ``(T, B, n)``.

    Use with :func:`~neuroplastic.surrogate.losses.max_membrane_cross_entropy`.
    ``v <- v_rest + (v - v_rest) decay + drive I`` with coefficients from ``realize_lif``.
    """

    def __init__(
        self, n: int, params: LIFParams | None = None, *, dt_ms: float = 1.0,
        learn_decay: bool = False, dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        check_int("n", n, 1)
        p = discrete_lif_params() if params is None else params
        coef = realize_lif(p, Analog(), n, check_positive("dt_ms", dt_ms),
                           generator=torch.Generator().manual_seed(0))
        dtype = torch.get_default_dtype() if dtype is None else dtype
        self.n = n
        self.register_buffer("v_rest", coef.v_rest.to(dtype))
        self.register_buffer("drive", coef.drive_ext.to(dtype))
        if learn_decay:
            self.decay = nn.Parameter(coef.decay_v.to(dtype))
        else:
            self.register_buffer("decay", coef.decay_v.to(dtype))

    def forward(self, x: Tensor, state: LIState | None = None) -> tuple[Tensor, LIState]:
        x = _check_input(self, x, (3,), self.n)
        b = x.shape[1]
        v0 = (self.v_rest.expand(b, self.n).clone() if state is None
              else _check_state(self, state, "v", x, (b, self.n)))
        mem, v = li_loop(x, v0, self.v_rest, self.decay, self.drive)
        return mem, LIState(v)


class TimeDistributed(nn.Module):
    """Give any module a time axis: ``(T, B, ...)`` -> fold ``T`` into the batch -> unfold.

    One call of the wrapped module over all ``T * B`` samples (one big matmul for
    ``nn.Linear``, one convolution for ``nn.Conv2d``). Returns a tensor.
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        if not isinstance(module, nn.Module):
            raise ValueError(f"module must be an nn.Module, got {module!r}")
        self.module = module

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() < 2:
            raise ValueError(f"TimeDistributed expects (T, B, ...) input, got {tuple(x.shape)}")
        t, b = x.shape[:2]
        y = self.module(x.reshape(t * b, *x.shape[2:]))
        return y.reshape(t, b, *y.shape[1:])


SequenceWrapper = TimeDistributed


class EventLinear(nn.Linear):
    """``nn.Linear`` that can exploit sparse (spike) input over any leading shape.

    Same parameters, initialisation and state dict as ``nn.Linear``. When at most
    ``max_density`` of the input entries are non-zero (CPU), the product and the weight
    gradient touch only the weight rows of active inputs; otherwise it is the dense product.
    The density is measured on every call, so a layer whose input fills up during training
    falls back to the dense product by itself. Default ``max_density=0.1``: on the 2-core
    benchmark machine (W3's layer 1, forward + weight gradient) the event path took 11.8 ms
    against 29.5 ms for the dense product at 5% density, 18.3 against 30.0 ms at 10%, and
    broke even near 20% (``benchmarks/w3_event_crossover.py``); ``max_density=0`` turns it off.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 max_density: float = 0.1, **kwargs) -> None:
        check_int("in_features", in_features, 1)
        check_int("out_features", out_features, 1)
        super().__init__(in_features, out_features, bias, **kwargs)
        self.max_density = check_range("max_density", max_density, 0.0, 1.0)

    def forward(self, x: Tensor) -> Tensor:
        return event_linear(x, self.weight, self.bias, max_density=self.max_density)


class Sequential(SpikingModule):
    """Chain of modules threading per-layer state: ``forward(x, states=None) -> (y, states)``.

    Neuron layers (:class:`SpikingModule`) receive and return their state; other modules are
    called as ``m(x)`` and hold ``None`` in ``states``.
    """

    def __init__(self, *modules: nn.Module) -> None:
        super().__init__()
        if not modules:
            raise ValueError("Sequential needs at least one module")
        self.layers = nn.ModuleList(modules)

    def forward(self, x: Tensor, states: tuple | None = None) -> tuple[Tensor, tuple]:
        if states is not None and len(states) != len(self.layers):
            raise ValueError(
                f"states must have one entry per layer ({len(self.layers)}), got {len(states)}"
            )
        new = []
        for k, m in enumerate(self.layers):
            if isinstance(m, SpikingModule):
                x, st = m(x, None if states is None else states[k])
            else:
                x, st = m(x), None
            new.append(st)
        return x, tuple(new)
