r"""Leaky integrate-and-fire neuron with exponential synaptic currents.

Dynamics (per neuron, per synaptic channel :math:`k`)

.. math::

    \tau_m \frac{dv}{dt} = (V_\mathrm{rest} - v)
    + R\,\big(I_\mathrm{ext} + \textstyle\sum_k I_k\big)
    + \sigma\sqrt{2\tau_m}\,\xi(t), \qquad
    \tau_k \frac{dI_k}{dt} = -I_k ,

with a spike when :math:`v > \vartheta + \theta` (``theta`` is the optional adaptive part),
reset to :math:`V_\mathrm{reset}` and the membrane frozen for ``t_ref_ms`` (Brian2's
``(unless refractory)`` semantics). Units: mV, ms, nA, MΩ (1 nA × 1 MΩ = 1 mV).

Two substrates integrate this system over one clock step ``dt``:

* :class:`Analog` — the linear sub-threshold system is solved *exactly* over the step
  (exponential integration, as Brian2's ``method='exact'``), thermal noise is the exact
  Ornstein–Uhlenbeck increment (variance scales as :math:`1-e^{-2dt/\tau_m}\approx 2dt/\tau_m`,
  the correct :math:`\sqrt{dt}` law), and device mismatch draws per-neuron time constants and
  threshold gaps once, with a given coefficient of variation.
* :class:`Digital` — the same update map in fixed point: every state variable lives on a grid
  of :math:`2^{-\text{frac\_bits}}` with :math:`\text{int\_bits}` integer bits, decay is a
  fixed-point multiply by a quantized coefficient, results are rounded (``nearest``, ``floor``
  or ``zero``) and saturate or wrap on overflow — as on clocked digital neuromorphic chips.

Everything here is a pure function of explicit state (:class:`LIFState`) and per-neuron
coefficients (:class:`LIFCoefficients`). The analog membrane update of one step is defined
once, by :func:`lif_integrate` (and :func:`lif_reset` for the differentiable reset of the
surrogate layers): :func:`lif_step`, the surrogate layers and their torch loops call them; the
compiled kernels (the simulator's numba loop, the surrogate layers' C and numba kernels) repeat
the same arithmetic operation by operation and are tested to agree with them bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn

from .._validation import (
    check_choice,
    check_finite,
    check_int,
    check_less,
    check_nonnegative,
    check_positive,
)

__all__ = [
    "Analog",
    "Digital",
    "LIFCoefficients",
    "LIFParams",
    "LIFPopulation",
    "LIFState",
    "Substrate",
    "init_lif_state",
    "lif_integrate",
    "lif_reset",
    "lif_step",
    "quantize",
    "realize_lif",
    "receive_synaptic",
]

ROUNDING_MODES = ("nearest", "floor", "zero")
OVERFLOW_MODES = ("saturate", "wrap")
RESET_MODES = ("hard", "subtract")


@dataclass(frozen=True)
class LIFParams:
    """Parameters of a LIF population (biological units)."""

    tau_mem_ms: float = 20.0  # membrane time constant
    v_rest_mv: float = -65.0  # resting (leak reversal) potential
    v_reset_mv: float = -65.0  # potential after a spike
    v_thresh_mv: float = -50.0  # firing threshold (before adaptation)
    t_ref_ms: float = 2.0  # absolute refractory period: membrane frozen
    r_mohm: float = 1.0  # input resistance: 1 nA x 1 MOhm = 1 mV
    tau_syn_ms: tuple[float, ...] = (5.0,)  # one exponential current per input channel
    theta_plus_mv: float = 0.0  # adaptive threshold increment per spike (0 = no adaptation)
    tau_theta_ms: float = 1e7  # decay of the adaptive threshold
    reset_mode: Literal["hard", "subtract"] = "hard"  # v <- v_reset, or v <- v - (thresh - reset)

    def __post_init__(self) -> None:
        check_positive("tau_mem_ms", self.tau_mem_ms)
        check_finite("v_rest_mv", self.v_rest_mv)
        check_finite("v_reset_mv", self.v_reset_mv)
        check_finite("v_thresh_mv", self.v_thresh_mv)
        check_less("v_reset_mv", self.v_reset_mv, "v_thresh_mv", self.v_thresh_mv)
        check_nonnegative("t_ref_ms", self.t_ref_ms)
        check_positive("r_mohm", self.r_mohm)
        taus = self.tau_syn_ms
        if isinstance(taus, (int, float)):
            object.__setattr__(self, "tau_syn_ms", (float(taus),))
            taus = self.tau_syn_ms
        if not isinstance(taus, (tuple, list)) or len(taus) == 0:
            raise ValueError(
                f"tau_syn_ms must be a non-empty tuple of time constants, got {taus!r}"
            )
        for k, t in enumerate(taus):
            check_positive(f"tau_syn_ms[{k}]", t)
        object.__setattr__(self, "tau_syn_ms", tuple(float(t) for t in taus))
        check_nonnegative("theta_plus_mv", self.theta_plus_mv)
        check_positive("tau_theta_ms", self.tau_theta_ms)
        check_choice("reset_mode", self.reset_mode, RESET_MODES)

    @property
    def n_channels(self) -> int:
        return len(self.tau_syn_ms)


@dataclass(frozen=True)
class Analog:
    """Continuous-valued substrate: exact integration, thermal noise, device mismatch."""

    noise_sigma_mv: float = 0.0  # stationary std of the free membrane (Ornstein-Uhlenbeck)
    tau_mem_cv: float = 0.0  # mismatch: coefficient of variation of tau_mem across neurons
    v_thresh_cv: float = 0.0  # mismatch: CV of the threshold gap (v_thresh - v_reset)

    def __post_init__(self) -> None:
        check_nonnegative("noise_sigma_mv", self.noise_sigma_mv)
        check_nonnegative("tau_mem_cv", self.tau_mem_cv)
        check_nonnegative("v_thresh_cv", self.v_thresh_cv)


@dataclass(frozen=True)
class Digital:
    """Fixed-point, clock-driven substrate (state on a grid of 2**-frac_bits, signed)."""

    int_bits: int = 8  # integer bits: values in [-2**int_bits, 2**int_bits)
    frac_bits: int = 8  # fraction bits of the state (resolution 2**-frac_bits mV or nA)
    coef_frac_bits: int = 16  # fraction bits of the decay / drive coefficients
    rounding: Literal["nearest", "floor", "zero"] = "nearest"
    overflow: Literal["saturate", "wrap"] = "saturate"

    def __post_init__(self) -> None:
        check_int("int_bits", self.int_bits, 1, 30)
        check_int("frac_bits", self.frac_bits, 0, 40)
        check_int("coef_frac_bits", self.coef_frac_bits, 1, 40)
        if self.int_bits + self.frac_bits > 48:
            raise ValueError(
                f"int_bits + frac_bits must be <= 48 (exact in float64 arithmetic), got "
                f"{self.int_bits} + {self.frac_bits}"
            )
        check_choice("rounding", self.rounding, ROUNDING_MODES)
        check_choice("overflow", self.overflow, OVERFLOW_MODES)

    @property
    def step(self) -> float:
        return 2.0 ** (-self.frac_bits)

    @property
    def bounds(self) -> tuple[float, float]:
        return -(2.0**self.int_bits), 2.0**self.int_bits - self.step


Substrate = Analog | Digital


class LIFCoefficients(NamedTuple):
    """Per-neuron update coefficients for one clock step (shapes ``(n,)`` or ``(n, C)``)."""

    decay_v: Tensor  # exp(-dt/tau_m)
    v_rest: Tensor
    v_reset: Tensor
    v_thresh: Tensor
    drive_ext: Tensor  # R (1 - exp(-dt/tau_m)): weight of a constant external current
    decay_syn: Tensor  # (n, C) exp(-dt/tau_k)
    drive_syn: Tensor  # (n, C) R tau_k/(tau_k - tau_m) (exp(-dt/tau_k) - exp(-dt/tau_m))
    noise_scale: Tensor  # sigma sqrt(1 - exp(-2dt/tau_m)), 0 for digital
    decay_theta: Tensor
    theta_plus: Tensor
    ref_steps: Tensor  # int64: refractory length in steps (round(t_ref/dt))
    subtract_reset: Tensor  # int64: 1 = subtract the threshold gap on a spike, 0 = hard reset
    q_step: Tensor  # fixed-point resolution, 0 for analog
    q_lo: Tensor
    q_hi: Tensor
    q_coef: Tensor  # coefficient resolution, 0 for analog
    rounding: Tensor  # int64 code: 0 nearest, 1 floor, 2 zero
    overflow: Tensor  # int64 code: 0 saturate, 1 wrap


class LIFState(NamedTuple):
    """Explicit state of a LIF population; leading dimension is the batch of trials."""

    v: Tensor  # (B, n) membrane potential, mV
    i_syn: Tensor  # (B, n, C) synaptic currents, nA
    theta: Tensor  # (B, n) adaptive threshold, mV
    ref_left: Tensor  # (B, n) int64 refractory steps still to wait


def _lognormal(mean: float, cv: float, n: int, generator: torch.Generator) -> Tensor:
    """Positive samples with the given mean and coefficient of variation."""
    if cv == 0.0:
        return torch.full((n,), mean, dtype=torch.float64)
    s2 = math.log1p(cv * cv)
    z = torch.randn(n, generator=generator, dtype=torch.float64)
    return mean * torch.exp(math.sqrt(s2) * z - 0.5 * s2)


def _drive_syn(tau_k: Tensor, tau_m: Tensor, dt: float, r: float) -> Tensor:
    """Exact contribution of an exponentially decaying current to v over one step."""
    ek = torch.exp(-dt / tau_k)
    em = torch.exp(-dt / tau_m)
    same = torch.isclose(tau_k, tau_m, rtol=1e-9, atol=0.0)
    general = tau_k / (tau_k - torch.where(same, tau_m * 0.5, tau_m)) * (ek - em)
    limit = (dt / tau_m) * em
    return r * torch.where(same, limit, general)


# Above this many neurons a population without mismatch computes its coefficients once
# (realize_lif)
_UNIFORM_PREFIX = 1024


def uniform_lif(params: LIFParams, substrate: Substrate, n: int,
                dt_ms: float) -> LIFCoefficients | None:
    """The coefficients of a large population without mismatch (analog, both coefficients of
    variation 0, more than ``_UNIFORM_PREFIX`` neurons) as read-only views that repeat one
    neuron's values (stride 0), or None for any other population. They are computed for a
    prefix, with the same vectorised arithmetic and hence the same bits as for all ``n``;
    :func:`realize_lif` materializes them, the simulator copies them straight into its own
    store. No random number is drawn."""
    if not (isinstance(substrate, Analog) and n > _UNIFORM_PREFIX
            and substrate.tau_mem_cv == 0 and substrate.v_thresh_cv == 0):
        return None
    part = realize_lif(params, substrate, _UNIFORM_PREFIX, dt_ms,
                       generator=torch.Generator())  # (not drawn from)
    return LIFCoefficients(*[x[:1].expand(n, *x.shape[1:]) for x in part])


def realize_lif(
    params: LIFParams,
    substrate: Substrate,
    n: int,
    dt_ms: float,
    *,
    generator: torch.Generator,
) -> LIFCoefficients:
    """Draw the per-neuron coefficients (mismatch is drawn here, once, from ``generator``)."""
    check_int("n", n, 1)
    dt = check_positive("dt_ms", dt_ms)
    ref = params.t_ref_ms / dt
    if not ref < 2**62:  # also catches inf: the step count must fit the int64 counters
        raise ValueError(f"t_ref_ms / dt_ms = {ref:g} refractory steps does not fit a 64-bit "
                         f"counter (t_ref_ms={params.t_ref_ms!r}, dt_ms={dt_ms!r}); use a "
                         "larger dt_ms or a shorter t_ref_ms")
    if not isinstance(substrate, (Analog, Digital)):
        raise ValueError(f"substrate must be Analog(...) or Digital(...), got {substrate!r}")
    analog = isinstance(substrate, Analog)
    same = uniform_lif(params, substrate, n, dt_ms)
    if same is not None:
        return LIFCoefficients(*[x.contiguous() for x in same])
    f64 = torch.float64
    tau_m = (
        _lognormal(params.tau_mem_ms, substrate.tau_mem_cv, n, generator)
        if analog
        else torch.full((n,), params.tau_mem_ms, dtype=f64)
    )
    gap = params.v_thresh_mv - params.v_reset_mv
    gaps = (
        _lognormal(gap, substrate.v_thresh_cv, n, generator)
        if analog
        else torch.full((n,), gap, dtype=f64)
    )
    decay_v = torch.exp(-dt / tau_m)
    taus = torch.tensor(params.tau_syn_ms, dtype=f64)
    decay_syn = torch.exp(-dt / taus).expand(n, -1).clone()
    drive_syn = _drive_syn(taus[None, :], tau_m[:, None], dt, params.r_mohm)
    drive_ext = params.r_mohm * (1.0 - decay_v)
    sigma = substrate.noise_sigma_mv if analog else 0.0
    noise_scale = sigma * torch.sqrt(1.0 - decay_v * decay_v)
    full = lambda x: torch.full((n,), float(x), dtype=f64)  # noqa: E731
    coef = dict(
        decay_v=decay_v,
        v_rest=full(params.v_rest_mv),
        v_reset=full(params.v_reset_mv),
        v_thresh=params.v_reset_mv + gaps,
        drive_ext=drive_ext,
        decay_syn=decay_syn,
        drive_syn=drive_syn,
        noise_scale=noise_scale,
        decay_theta=full(math.exp(-dt / params.tau_theta_ms)),
        theta_plus=full(params.theta_plus_mv),
        ref_steps=torch.full((n,), int(round(ref)), dtype=torch.int64),
        subtract_reset=torch.full((n,), RESET_MODES.index(params.reset_mode), dtype=torch.int64),
    )
    if analog:
        zeros = full(0.0)
        coef.update(
            q_step=zeros,
            q_lo=zeros,
            q_hi=zeros,
            q_coef=zeros.clone(),
            rounding=torch.zeros(n, dtype=torch.int64),
            overflow=torch.zeros(n, dtype=torch.int64),
        )
        return LIFCoefficients(**coef)
    lo, hi = substrate.bounds
    qc = 2.0 ** (-substrate.coef_frac_bits)
    q = substrate.step
    for name in ("decay_v", "drive_ext", "decay_syn", "drive_syn", "decay_theta"):
        coef[name] = torch.floor(coef[name] / qc + 0.5) * qc
    for name in ("v_rest", "v_reset", "v_thresh", "theta_plus"):
        coef[name] = torch.floor(coef[name] / q + 0.5) * q
    for name in ("v_rest", "v_reset", "v_thresh"):
        bad = (coef[name] < lo) | (coef[name] > hi)
        if bool(bad.any()):
            raise ValueError(
                f"{name.replace('v_', 'v_') + '_mv'} = {float(coef[name][bad][0])} does not fit "
                f"the fixed-point range [{lo}, {hi}] of Digital(int_bits={substrate.int_bits}); "
                "raise int_bits"
            )
    coef.update(
        q_step=full(q),
        q_lo=full(lo),
        q_hi=full(hi),
        q_coef=full(qc),
        rounding=torch.full((n,), ROUNDING_MODES.index(substrate.rounding), dtype=torch.int64),
        overflow=torch.full((n,), OVERFLOW_MODES.index(substrate.overflow), dtype=torch.int64),
    )
    return LIFCoefficients(**coef)


def init_lif_state(coef: LIFCoefficients, batch: int, v0: Tensor | None = None) -> LIFState:
    """Resting state (or ``v0`` broadcast to ``(batch, n)``), no current, not refractory."""
    n = coef.decay_v.shape[0]
    c = coef.decay_syn.shape[1]
    dev = coef.decay_v.device
    v = coef.v_rest.expand(batch, n).clone() if v0 is None else v0.to(dev, torch.float64)
    v = v.expand(batch, n).clone()
    v = _fixed(v, coef)
    return LIFState(
        v=v,
        i_syn=torch.zeros(batch, n, c, dtype=torch.float64, device=dev),
        theta=torch.zeros(batch, n, dtype=torch.float64, device=dev),
        ref_left=torch.zeros(batch, n, dtype=torch.int64, device=dev),
    )


def quantize(x: Tensor, q: Tensor, rounding: Tensor) -> Tensor:
    """Round ``x`` to the grid ``q`` (0 = leave unchanged) with per-neuron rounding codes."""
    y = x / torch.where(q > 0, q, torch.ones_like(q))
    r = torch.where(
        rounding == 0,
        torch.floor(y + 0.5),
        torch.where(rounding == 1, torch.floor(y), torch.trunc(y)),
    )
    return torch.where(q > 0, r * q, x)


def _overflow(x: Tensor, coef: LIFCoefficients) -> Tensor:
    q, lo, hi = coef.q_step, coef.q_lo, coef.q_hi
    sat = torch.clamp(x, lo, hi)
    span = hi - lo + q
    wrap = torch.remainder(x - lo, torch.where(q > 0, span, torch.ones_like(span))) + lo
    return torch.where(q > 0, torch.where(coef.overflow == 0, sat, wrap), x)


def _fixed(x: Tensor, coef: LIFCoefficients) -> Tensor:
    """Quantize then apply the overflow policy; identity on analog neurons."""
    if x.dim() == 3:
        cc = LIFCoefficients(*[t[:, None] if t.dim() == 1 else t for t in coef])
        return _overflow(quantize(x, cc.q_step, cc.rounding), cc)
    return _overflow(quantize(x, coef.q_step, coef.rounding), coef)


def lif_integrate(
    v: Tensor, v_rest: Tensor, decay: Tensor, inputs: Iterable[tuple[Tensor, Tensor]] = ()
) -> Tensor:
    """Sub-threshold membrane of one analog step, before threshold and reset.

    ``v_rest + (v - v_rest) * decay``, then ``+ drive * current`` for each ``(drive, current)``
    of ``inputs`` in that order (external current, then the synaptic channels). This operation
    order is the definition every implementation of the LIF step follows bit for bit.
    """
    acc = v_rest + (v - v_rest) * decay
    for drive, current in inputs:
        acc = acc + drive * current
    return acc


def lif_reset(u: Tensor, s: Tensor, thr: Tensor, v_reset: Tensor, subtract: bool) -> Tensor:
    """Membrane after the spikes ``s`` (0/1 in ``u``'s dtype, differentiable).

    Subtract: ``u - s (thr - v_reset)``; hard: ``u (1 - s) + v_reset s``. For finite ``u`` the
    values are those of :func:`lif_step`'s ``where`` form (tested bit for bit).
    """
    if subtract:
        return u - s * (thr - v_reset)
    return u * (1 - s) + v_reset * s


def lif_step(
    state: LIFState,
    coef: LIFCoefficients,
    i_ext: Tensor | None = None,
    noise: Tensor | None = None,
    *,
    analog: bool | None = None,
) -> tuple[LIFState, Tensor]:
    """Advance one clock step; returns the new state and the boolean spikes ``(B, n)``.

    Order (Brian2's schedule): integrate (membrane frozen while refractory) → threshold →
    reset. Synaptic arrivals of this step are added afterwards with :func:`receive_synaptic`,
    so they act on the membrane from the next step on.
    ``noise`` are standard normal draws ``(B, n)`` (ignored where ``noise_scale`` is 0).
    ``analog``: whether no neuron is digital (``None``: read from ``coef``, which waits for the
    device; a caller stepping on a GPU passes it).
    """
    v, i_syn, theta, ref_left = state
    q, rnd = coef.q_step, coef.rounding
    active = ref_left == 0
    if analog is None:
        analog = not bool((q > 0).any())
    if analog:  # analog fast path: the same operations without rounding
        inputs = [] if i_ext is None else [(coef.drive_ext, i_ext)]
        inputs += [(coef.drive_syn[:, k], i_syn[..., k]) for k in range(i_syn.shape[-1])]
        acc = lif_integrate(v, coef.v_rest, coef.decay_v, inputs)
        if noise is not None:
            acc = acc + coef.noise_scale * noise
        v = torch.where(active, acc, v)
        i_syn = i_syn * coef.decay_syn
        theta = theta * coef.decay_theta
    else:
        acc = coef.v_rest + quantize((v - coef.v_rest) * coef.decay_v, q, rnd)
        if i_ext is not None:
            acc = acc + quantize(coef.drive_ext * i_ext, q, rnd)
        for k in range(i_syn.shape[-1]):
            acc = acc + quantize(coef.drive_syn[:, k] * i_syn[..., k], q, rnd)
        if noise is not None:
            acc = acc + coef.noise_scale * noise
        v = torch.where(active, _overflow(acc, coef), v)
        i_syn = _fixed(i_syn * coef.decay_syn, coef)
        theta = _fixed(theta * coef.decay_theta, coef)
    spikes = (v > coef.v_thresh + theta) & active
    v_after = torch.where(
        coef.subtract_reset == 1, v - (coef.v_thresh - coef.v_reset), coef.v_reset
    )
    v = torch.where(spikes, v_after, v)
    ref_left = torch.where(
        spikes, torch.clamp(coef.ref_steps - 1, min=0), torch.clamp(ref_left - 1, min=0)
    )
    theta = torch.where(spikes, _overflow(theta + coef.theta_plus, coef), theta)
    return LIFState(v, i_syn, theta, ref_left), spikes


def receive_synaptic(i_syn: Tensor, arrivals: Tensor, coef: LIFCoefficients) -> Tensor:
    """Add synaptic arrivals ``(B, n, C)`` to the currents (quantized on digital neurons)."""
    return _fixed(i_syn + arrivals, coef)


class LIFPopulation(nn.Module):
    """Thin module over :func:`lif_step`: holds the realized per-neuron coefficients."""

    def __init__(
        self,
        n: int,
        params: LIFParams = LIFParams(),
        substrate: Substrate = Analog(),
        *,
        dt_ms: float = 0.1,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        gen = generator if generator is not None else torch.Generator().manual_seed(0)
        self.params, self.substrate, self.dt_ms = params, substrate, dt_ms
        coef = realize_lif(params, substrate, n, dt_ms, generator=gen)
        for name, t in coef._asdict().items():
            self.register_buffer(name, t)

    @property
    def coef(self) -> LIFCoefficients:
        return LIFCoefficients(*(getattr(self, f) for f in LIFCoefficients._fields))

    def initial_state(self, batch: int = 1, v0: Tensor | None = None) -> LIFState:
        return init_lif_state(self.coef, batch, v0)

    def forward(
        self, state: LIFState, i_ext: Tensor | None = None, noise: Tensor | None = None
    ) -> tuple[Tensor, LIFState]:
        state, spikes = lif_step(state, self.coef, i_ext, noise)
        return spikes, state
