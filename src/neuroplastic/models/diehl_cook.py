r"""Diehl & Cook (2015): unsupervised digit recognition with STDP and lateral inhibition.

Network (Diehl & Cook 2015, *Front. Comput. Neurosci.* 9:99; defaults follow BindsNET's
``DiehlAndCook2015``, a current-based replication):

* ``n_input`` Poisson inputs, rate :math:`r_i = x_i\,r_\max` with pixels :math:`x_i \in [0,1]`
  and :math:`r_\max` = 63.75 Hz (MNIST pixel/4, as in the paper); one sample is shown for
  ``presentation_ms`` (350 ms) and followed by ``rest_ms`` (150 ms) of silence.
* ``n_exc`` excitatory LIF neurons (:math:`\tau_m` = 100 ms) with adaptive threshold
  :math:`v \ge \vartheta + \theta_j`, :math:`\theta_j \mathrel{+}= \theta_+` (0.05 mV) per spike,
  :math:`\tau_\theta` = 10^7 ms; ``n_exc`` inhibitory LIF neurons (:math:`\tau_m` = 10 ms);
  excitatory → inhibitory one to one (``w_exc_inh_mv``), inhibitory → excitatory all but one
  (``w_inh_exc_mv``). Synapses are instantaneous voltage jumps (current-based, as BindsNET), with
  one step of delay on the two recurrent pathways; membranes decay exactly,
  :math:`v \leftarrow v_\mathrm{rest} + (v - v_\mathrm{rest})\,e^{-dt/\tau_m}`.
* Pair STDP on input → excitatory (BindsNET's ``PostPre`` rule, the simpler alternative to the
  paper's triplet rule): nearest-spike traces :math:`x = e^{-(t - t_\mathrm{last})/\tau}`
  (:math:`\tau_\mathrm{pre} = \tau_\mathrm{post}` = 20 ms); a presynaptic spike depresses its row
  :math:`w_{ij} \leftarrow \max(w_{ij} - \eta_\mathrm{pre} x^\mathrm{post}_j, 0)`, a postsynaptic
  spike potentiates its column :math:`w_{ij} \leftarrow \min(w_{ij} + \eta_\mathrm{post}
  x^\mathrm{pre}_i, w_\max)`; traces include the spikes of the current step.
* After every presentation each column of :math:`W` is rescaled to sum to
  ``weight_sum_per_input × n_input`` (78.4 for 784 inputs).
* Rest: every state variable except :math:`\theta` returns to rest (as the paper intends and
  BindsNET does by resetting); :math:`\theta` decays exactly by :math:`e^{-t_\mathrm{rest}/
  \tau_\theta}` — the rest is fast-forwarded, not simulated.
* ``one_spike`` (off by default; BindsNET's ``DiehlAndCookNodes`` default): at most one
  excitatory spike per step. Every neuron that crosses its threshold is reset, made refractory
  and raises its threshold (as in BindsNET), but only the one with the largest overshoot
  :math:`v_j - (\vartheta + \theta_j)` (lowest index on ties; BindsNET draws it at random)
  emits a spike, i.e. counts, drives its inhibitory partner and triggers STDP.
* Input boost: a presentation with fewer than ``min_spikes`` excitatory spikes is repeated with
  the maximum rate raised by ``boost_rate_hz`` (the paper's ``input_intensity += 1``, i.e. +pixel/8
  = +31.875 Hz), at most ``max_boosts`` times; learning stays on during repeats.
* Labelling: each excitatory neuron is assigned the class with the highest mean response;
  a sample is classified as the class whose assigned neurons respond most on average
  ("all-neuron voting" of the paper).

Input spikes are drawn by torch from a counter-based stream keyed by ``(seed, stream, sample,
attempt)``, so a run is reproducible, independent of chunking, and resumable from a checkpoint.
The compiled kernel :func:`neuroplastic.kernels.diehl_cook_numba.present` and the torch
reference :func:`present_reference` implement the same arithmetic operation by operation and are
tested to agree bit for bit.
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import torch
from torch import Tensor

from .._validation import (
    check_choice,
    check_finite,
    check_int,
    check_less,
    check_nonnegative,
    check_positive,
    check_range,
)
from ..network._rng import subseed

__all__ = [
    "DiehlCook",
    "DiehlCookCoefficients",
    "DiehlCookParams",
    "PresentResult",
    "assign_labels",
    "class_sums",
    "coefficients",
    "draw_input_spikes",
    "labels_from_class_sums",
    "present_reference",
    "vote",
]

BACKENDS = ("numba", "torch")


@dataclass(frozen=True)
class DiehlCookParams:
    """Parameters of the Diehl & Cook network (mV, ms, Hz)."""

    n_input: int = 784  # input neurons (pixels)
    dt_ms: float = 1.0  # clock step
    presentation_ms: float = 350.0  # time a sample is shown
    rest_ms: float = 150.0  # silence after a sample (fast-forwarded exactly)
    max_rate_hz: float = 63.75  # rate of a pixel of 1 (paper: 255/4 Hz)
    boost_rate_hz: float = 31.875  # added to max_rate_hz when too few exc spikes (paper: +1/8)
    min_spikes: int = 5  # fewer excitatory spikes than this -> present again, boosted
    max_boosts: int = 10  # at most this many repeats of one sample
    v_rest_exc_mv: float = -65.0  # excitatory resting potential
    v_reset_exc_mv: float = -60.0  # excitatory reset
    v_thresh_exc_mv: float = -52.0  # excitatory threshold before adaptation
    tau_exc_ms: float = 100.0  # excitatory membrane time constant
    t_ref_exc_ms: float = 5.0  # excitatory refractory period
    v_rest_inh_mv: float = -60.0  # inhibitory resting potential
    v_reset_inh_mv: float = -45.0  # inhibitory reset
    v_thresh_inh_mv: float = -40.0  # inhibitory threshold
    tau_inh_ms: float = 10.0  # inhibitory membrane time constant
    t_ref_inh_ms: float = 2.0  # inhibitory refractory period
    w_exc_inh_mv: float = 22.5  # jump of the paired inhibitory neuron per excitatory spike
    w_inh_exc_mv: float = 17.5  # drop of every other excitatory neuron per inhibitory spike
    theta_plus_mv: float = 0.05  # adaptive-threshold increment per spike
    tau_theta_ms: float = 1e7  # adaptive-threshold decay
    tau_pre_ms: float = 20.0  # presynaptic trace time constant
    tau_post_ms: float = 20.0  # postsynaptic trace time constant
    eta_pre: float = 1e-4  # depression per presynaptic spike (times the post trace)
    eta_post: float = 1e-2  # potentiation per postsynaptic spike (times the pre trace)
    w_max: float = 1.0  # upper weight bound (lower bound is 0)
    w_init_max: float = 0.3  # initial weights uniform in [0, w_init_max), then normalised
    weight_sum_per_input: float = 0.1  # column sum target / n_input (78.4 for 784 inputs)
    one_spike: bool = False  # at most one exc spike per step (BindsNET's one_spike=True)

    def __post_init__(self) -> None:
        check_int("n_input", self.n_input, 1)
        check_positive("dt_ms", self.dt_ms)
        check_positive("presentation_ms", self.presentation_ms)
        if self.presentation_ms / self.dt_ms < 1.0:
            raise ValueError(
                f"presentation_ms ({self.presentation_ms!r}) must be at least one dt_ms "
                f"({self.dt_ms!r})"
            )
        check_nonnegative("rest_ms", self.rest_ms)
        check_positive("max_rate_hz", self.max_rate_hz)
        check_nonnegative("boost_rate_hz", self.boost_rate_hz)
        check_int("min_spikes", self.min_spikes, 0)
        check_int("max_boosts", self.max_boosts, 0, 1000)
        for pop in ("exc", "inh"):
            rest = check_finite(f"v_rest_{pop}_mv", getattr(self, f"v_rest_{pop}_mv"))
            reset = check_finite(f"v_reset_{pop}_mv", getattr(self, f"v_reset_{pop}_mv"))
            thr = check_finite(f"v_thresh_{pop}_mv", getattr(self, f"v_thresh_{pop}_mv"))
            check_less(f"v_rest_{pop}_mv", rest, f"v_thresh_{pop}_mv", thr)
            check_less(f"v_reset_{pop}_mv", reset, f"v_thresh_{pop}_mv", thr)
            check_positive(f"tau_{pop}_ms", getattr(self, f"tau_{pop}_ms"))
            check_nonnegative(f"t_ref_{pop}_ms", getattr(self, f"t_ref_{pop}_ms"))
        check_nonnegative("w_exc_inh_mv", self.w_exc_inh_mv)
        check_nonnegative("w_inh_exc_mv", self.w_inh_exc_mv)
        check_nonnegative("theta_plus_mv", self.theta_plus_mv)
        check_positive("tau_theta_ms", self.tau_theta_ms)
        check_positive("tau_pre_ms", self.tau_pre_ms)
        check_positive("tau_post_ms", self.tau_post_ms)
        check_nonnegative("eta_pre", self.eta_pre)
        check_nonnegative("eta_post", self.eta_post)
        check_positive("w_max", self.w_max)
        check_range("w_init_max", self.w_init_max, 0.0, self.w_max)
        check_positive("weight_sum_per_input", self.weight_sum_per_input)
        if not isinstance(self.one_spike, bool):
            raise ValueError(f"one_spike must be a bool, got {self.one_spike!r}")
        if self.weight_sum_per_input > self.w_max:
            raise ValueError(
                f"weight_sum_per_input ({self.weight_sum_per_input!r}) must not exceed w_max "
                f"({self.w_max!r}): the column sum could not be reached within the bounds"
            )

    @property
    def n_steps(self) -> int:
        """Clock steps per presentation."""
        return int(round(self.presentation_ms / self.dt_ms))

    @property
    def weight_sum(self) -> float:
        """Target sum of each excitatory neuron's incoming weights."""
        return self.weight_sum_per_input * self.n_input


class DiehlCookCoefficients(NamedTuple):
    """Per-step constants derived once from :class:`DiehlCookParams` (float64 / int64)."""

    prm: np.ndarray  # (16,) float64, order documented in kernels.diehl_cook_numba
    iprm: np.ndarray  # (3,) int64: refractory steps (exc, inh), one_spike (0/1)
    table_pre: np.ndarray  # (n_steps,) exp(-d dt / tau_pre), d = 0..n_steps-1
    table_post: np.ndarray  # (n_steps,) exp(-d dt / tau_post)


def coefficients(p: DiehlCookParams) -> DiehlCookCoefficients:
    """Exact per-step decay factors and the trace lookup tables."""
    dt = p.dt_ms
    prm = np.array(
        [
            math.exp(-dt / p.tau_exc_ms),
            p.v_rest_exc_mv,
            p.v_reset_exc_mv,
            p.v_thresh_exc_mv,
            math.exp(-dt / p.tau_inh_ms),
            p.v_rest_inh_mv,
            p.v_reset_inh_mv,
            p.v_thresh_inh_mv,
            p.w_exc_inh_mv,
            p.w_inh_exc_mv,
            math.exp(-dt / p.tau_theta_ms),
            math.exp(-p.rest_ms / p.tau_theta_ms),
            p.eta_pre,
            p.eta_post,
            p.w_max,
            p.theta_plus_mv,
        ],
        dtype=np.float64,
    )
    iprm = np.array(
        [int(round(p.t_ref_exc_ms / dt)), int(round(p.t_ref_inh_ms / dt)), int(p.one_spike)],
        dtype=np.int64,
    )
    d = np.arange(p.n_steps, dtype=np.float64)
    table_pre = np.array([math.exp(-k * dt / p.tau_pre_ms) for k in d])
    table_post = np.array([math.exp(-k * dt / p.tau_post_ms) for k in d])
    return DiehlCookCoefficients(prm, iprm, table_pre, table_post)


class PresentResult(NamedTuple):
    """What one presentation returns besides the in-place weight/threshold updates."""

    counts: Tensor  # (n_exc,) int64 spikes per excitatory neuron
    exc_spikes: int
    inh_spikes: int
    input_spikes: int
    synops: int  # synaptic events: input rows x n_exc + exc->inh + inh->exc (n_exc - 1 each)
    raster: Tensor | None  # (n_steps, n_exc) bool when recorded


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_TWO53 = 9007199254740992.0


def _mix64(z: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on uint64 arrays (wrapping), as the kernel's ``mix64``."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def presentation_key(base: int, sample: int, attempt: int) -> np.uint64:
    """Key of presentation ``attempt`` of sample ``sample`` of the stream ``base``."""
    u = lambda v: np.array([v], dtype=np.uint64)  # noqa: E731  (arrays wrap silently)
    k = _mix64(u(base) ^ _mix64(u(sample) * _GOLDEN + u(1)))
    return _mix64(k + u(attempt) * _GOLDEN)[0]


def stream_base(seed: int, stream: str) -> np.uint64:
    """The 64-bit base of a named input stream (``"train"``, ``"eval"``, ...)."""
    return np.uint64(subseed(seed, "diehl-cook", stream))


def spike_thresholds(xv: np.ndarray, rate_hz: float, dt_ms: float) -> np.ndarray:
    """``floor(min(x rate dt / 1000, 1) 2**53)`` as uint64: the integer spike thresholds."""
    p = np.minimum(np.asarray(xv, dtype=np.float64) * (rate_hz * dt_ms * 1e-3), 1.0)
    return np.floor(p * _TWO53).astype(np.uint64)


def draw_input_spikes(
    x, rate_hz: float, n_steps: int, dt_ms: float, key: np.uint64
) -> tuple[Tensor, Tensor]:
    """Poisson (Bernoulli per step) input spikes of one presentation, exactly as the kernel.

    Input ``i`` fires at step ``t`` with probability ``p_i = min(x_i rate dt, 1)``: the
    integer hash ``mix64(key + (t n_input + i) GOLDEN) >> 11`` (uniform on ``[0, 2**53)``) is
    compared with ``floor(p_i 2**53)``.

    Parameters
    ----------
    x : array, shape ``(n_input,)``
        Intensities in [0, 1].
    rate_hz, n_steps, dt_ms
        Rate of a pixel of 1 (Hz), steps, step (ms).
    key : np.uint64
        Presentation key (:func:`presentation_key`).

    Returns
    -------
    idx : Tensor int64 ``(nnz,)``
        Inputs with nonzero intensity (the only ones that can spike), ascending.
    spikes : Tensor bool ``(n_steps, nnz)``
    """
    xv = np.asarray(torch.as_tensor(x, dtype=torch.float64))
    idx = np.nonzero(xv > 0)[0].astype(np.int64)
    thr = spike_thresholds(xv[idx], rate_hz, dt_ms)
    return torch.from_numpy(idx), torch.from_numpy(_bernoulli(idx, thr, key, n_steps, xv.size))


def _bernoulli(idx, thr, key, n_steps, n_in) -> np.ndarray:
    t = np.arange(n_steps, dtype=np.uint64)[:, None]
    base = np.uint64(key) + t * np.uint64(n_in) * _GOLDEN
    h = _mix64(base + idx.astype(np.uint64)[None, :] * _GOLDEN)
    return (h >> np.uint64(11)) < thr[None, :]


def present_reference(
    idx: Tensor,
    thr: np.ndarray,
    key: np.uint64,
    n_steps: int,
    w: Tensor,
    theta: Tensor,
    learn: bool,
    normalize: bool,
    target_sum: float,
    coef: DiehlCookCoefficients,
    record: bool = False,
    gate: Tensor | None = None,
) -> PresentResult:
    """Plain torch specification of one presentation (same arithmetic as the numba kernel).

    ``w`` ``(n_input, n_exc)`` and ``theta`` ``(n_exc,)`` (float64) are updated in place when
    ``learn``. Sums are taken sequentially (``cumsum``) in ascending input order, as the kernel.
    ``gate`` ``(n_input, n_exc)``: every weight change (depression, potentiation,
    normalisation) goes through :func:`~neuroplastic.continual.gate.gated_update`.
    """
    from ..continual.gate import gated_update

    def put(old: Tensor, new: Tensor, g: Tensor | None) -> Tensor:
        return new if g is None else gated_update(old, new, g)

    prm = [float(v) for v in coef.prm]
    (dec_e, rest_e, reset_e, thr_e, dec_i, rest_i, reset_i, thr_i, w_ei, w_ie, dec_th,
     dec_th_rest, eta_pre, eta_post, w_max, th_plus) = prm  # fmt: skip
    ref_e_steps, ref_i_steps = int(coef.iprm[0]), int(coef.iprm[1])
    one_spike = bool(coef.iprm[2])
    tpre = torch.from_numpy(coef.table_pre)
    tpost = torch.from_numpy(coef.table_post)
    n_in, N = w.shape
    spk = torch.from_numpy(_bernoulli(np.asarray(idx), thr, key, n_steps, n_in))
    f64 = torch.float64
    v_e = torch.full((N,), rest_e, dtype=f64)
    v_i = torch.full((N,), rest_i, dtype=f64)
    ref_e = torch.zeros(N, dtype=torch.int64)
    ref_i = torch.zeros(N, dtype=torch.int64)
    s_e_prev = torch.zeros(N, dtype=torch.bool)
    s_i_prev = torch.zeros(N, dtype=torch.bool)
    last_pre = torch.full((n_in,), -1, dtype=torch.int64)
    last_post = torch.full((N,), -1, dtype=torch.int64)
    counts = torch.zeros(N, dtype=torch.int64)
    raster = torch.zeros((n_steps, N), dtype=torch.bool) if record else None
    n_exc = n_inh = n_inp = synops = 0
    for t in range(n_steps):
        pre = idx[spk[t]]
        n_pre = int(pre.numel())
        if learn:
            last_pre[pre] = t
        inp = torch.cumsum(w[pre], 0)[-1] if n_pre else torch.zeros(N, dtype=f64)
        n_inp += n_pre
        synops += n_pre * N
        if learn and n_pre:  # pre-triggered depression by the post trace of earlier steps
            xpost = torch.where(last_post >= 0, tpost[(t - last_post).clamp(0, n_steps - 1)], 0.0)
            old = w[pre]
            w[pre] = put(old, torch.clamp(old - eta_pre * xpost, min=0.0),
                         None if gate is None else gate[pre])
        # excitatory layer
        v = rest_e + (v_e - rest_e) * dec_e
        if learn:
            theta.mul_(dec_th)
        free = ref_e == 0
        n_inh_prev = int(s_i_prev.sum())
        vin = v + inp
        vin = vin - w_ie * (n_inh_prev - s_i_prev.to(torch.int64)).to(f64)
        v = torch.where(free, vin, v)
        s_e = free & (v >= thr_e + theta)
        over = v - (thr_e + theta)
        v = torch.where(s_e, torch.full_like(v, reset_e), v)
        ref_e = torch.where(s_e, ref_e_steps, torch.clamp(ref_e - 1, min=0))
        if learn:
            theta.copy_(torch.where(s_e, theta + th_plus, theta))
        if one_spike and int(s_e.sum()) > 1:
            # every crosser was reset (and raised its threshold); only the largest overshoot
            # spikes (argmax: first index on ties)
            win = int(torch.argmax(torch.where(s_e, over, -math.inf)))
            s_e = torch.zeros_like(s_e)
            s_e[win] = True
        v_e = v
        counts += s_e.to(torch.int64)
        n_post = int(s_e.sum())
        n_exc += n_post
        # inhibitory layer
        v = rest_i + (v_i - rest_i) * dec_i
        free = ref_i == 0
        vin = torch.where(s_e_prev, v + w_ei, v)
        v = torch.where(free, vin, v)
        s_i = free & (v >= thr_i)
        v = torch.where(s_i, torch.full_like(v, reset_i), v)
        ref_i = torch.where(s_i, ref_i_steps, torch.clamp(ref_i - 1, min=0))
        v_i = v
        n_inh_now = int(s_i.sum())
        synops += n_post + n_inh_now * (N - 1)
        n_inh += n_inh_now
        if record:
            raster[t] = s_e
        # post-triggered potentiation by the pre trace (this step's pre spikes included)
        if learn and n_post:
            rows = torch.nonzero(last_pre >= 0).flatten()
            cols = torch.nonzero(s_e).flatten()
            xpre = tpre[t - last_pre[rows]]
            sub = w[rows[:, None], cols[None, :]]
            new = torch.clamp(sub + eta_post * xpre[:, None], max=w_max)
            g = None if gate is None else gate[rows[:, None], cols[None, :]]
            w[rows[:, None], cols[None, :]] = put(sub, new, g)
        if learn:
            last_post[s_e] = t
        s_e_prev, s_i_prev = s_e, s_i
    if learn:
        theta.mul_(dec_th_rest)
        if normalize:
            colsum = torch.cumsum(w, 0)[-1]
            # (a scalar / tensor in torch is reciprocal-times: divide tensors instead)
            factor = torch.where(colsum > 0, torch.full_like(colsum, target_sum) / colsum, 1.0)
            w.copy_(put(w, w * factor, gate))
    return PresentResult(counts, n_exc, n_inh, n_inp, synops, raster)


def run_samples_reference(
    X: Tensor,
    base: np.uint64,
    first: int,
    p: DiehlCookParams,
    w: Tensor,
    theta: Tensor,
    learn: bool,
    coef: DiehlCookCoefficients,
    gate: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Reference of the kernel's ``run_samples``: rows of ``X`` in order, with the boost rule
    (``gate``: see :func:`present_reference`).

    Returns ``counts (B, n_exc)``, ``exc_spikes (B,)``, ``attempts (B,)`` of the last
    presentation of each sample and ``totals (4,)``: exc, inh, input spikes and synops.
    """
    B = X.shape[0]
    counts = torch.zeros((B, w.shape[1]), dtype=torch.int64)
    exc = torch.zeros(B, dtype=torch.int64)
    att = torch.zeros(B, dtype=torch.int64)
    totals = torch.zeros(4, dtype=torch.int64)
    for b in range(B):
        xv = X[b].numpy()
        idx = np.nonzero(xv > 0)[0].astype(np.int64)
        a = 0
        while True:
            thr = spike_thresholds(xv[idx], p.max_rate_hz + a * p.boost_rate_hz, p.dt_ms)
            key = presentation_key(int(base), first + b, a)
            r = present_reference(
                torch.from_numpy(idx), thr, key, p.n_steps, w, theta, learn, learn,
                p.weight_sum, coef, gate=gate,
            )  # fmt: skip
            totals += torch.tensor([r.exc_spikes, r.inh_spikes, r.input_spikes, r.synops])
            a += 1
            if r.exc_spikes >= p.min_spikes or a > p.max_boosts:
                break
        counts[b], exc[b], att[b] = r.counts, r.exc_spikes, a
    return counts, exc, att, totals


_NO_GATE = np.zeros((0, 0))  # the kernels' gate argument when there is none


def run_samples_numba(X, base, first, p, w, theta, learn, coef, gate=None):
    """The compiled :func:`neuroplastic.kernels.diehl_cook_numba.run_samples` (same contract
    as :func:`run_samples_reference`)."""
    from ..kernels.diehl_cook_numba import run_samples

    B = X.shape[0]
    N = w.shape[1]
    counts = np.zeros((B, N), dtype=np.int64)
    exc = np.zeros(B, dtype=np.int64)
    att = np.zeros(B, dtype=np.int64)
    totals = np.zeros(4, dtype=np.int64)
    run_samples(
        np.ascontiguousarray(X.numpy()), np.uint64(base), int(first), float(p.max_rate_hz),
        float(p.boost_rate_hz), float(p.dt_ms), int(p.min_spikes), int(p.max_boosts),
        int(p.n_steps), w.numpy(), theta.numpy(), bool(learn), float(p.weight_sum), coef.prm,
        coef.iprm, coef.table_pre, coef.table_post, counts, exc, att, totals,
        gate is not None, _NO_GATE if gate is None else gate.numpy(),
    )  # fmt: skip
    return (
        torch.from_numpy(counts),
        torch.from_numpy(exc),
        torch.from_numpy(att),
        torch.from_numpy(totals),
    )


def present_numba(idx, thr, key, n_steps, w, theta, learn, normalize, target_sum, coef,
                  record=False, gate=None) -> PresentResult:  # fmt: skip
    """One presentation through the compiled kernel (same contract as
    :func:`present_reference`)."""
    from ..kernels.diehl_cook_numba import present

    N = w.shape[1]
    counts = np.zeros(N, dtype=np.int64)
    raster = np.zeros((n_steps if record else 1, N if record else 1), dtype=np.uint8)
    ne, ni, nin, syn = present(
        np.asarray(idx, dtype=np.int64), np.asarray(thr, dtype=np.uint64), np.uint64(key),
        int(n_steps), w.numpy(), theta.numpy(), bool(learn), bool(normalize),
        float(target_sum), coef.prm, coef.iprm, coef.table_pre, coef.table_post, counts,
        raster, bool(record), gate is not None, _NO_GATE if gate is None else gate.numpy(),
    )  # fmt: skip
    return PresentResult(
        torch.from_numpy(counts),
        int(ne),
        int(ni),
        int(nin),
        int(syn),
        torch.from_numpy(raster).to(torch.bool) if record else None,
    )


def class_sums(responses: Tensor, y: Tensor, n_classes: int = 10) -> tuple[Tensor, Tensor]:
    """Per class, the summed responses ``(n_classes, n_exc)`` and the sample count
    ``(n_classes,)`` (int64, exact; add them up over chunks of the data)."""
    r = torch.as_tensor(responses)
    r = r.to(torch.float64 if r.is_floating_point() else torch.int64)
    yy = torch.as_tensor(y).to(torch.int64)
    sums = torch.zeros((n_classes, r.shape[1]), dtype=r.dtype).index_add_(0, yy, r)
    return sums, torch.bincount(yy, minlength=n_classes)


def labels_from_class_sums(sums: Tensor, n: Tensor) -> Tensor:
    """Class of each neuron from :func:`class_sums`: the class with the highest mean response;
    classes without samples are never assigned, ties go to the lowest class."""
    s = sums.to(torch.float64)
    nn = n.to(torch.float64)
    mean = torch.where(nn[:, None] > 0, s / nn.clamp(min=1)[:, None], -1.0)
    return torch.argmax(mean, dim=0)


def assign_labels(responses: Tensor, y: Tensor, n_classes: int = 10) -> Tensor:
    """Class of each neuron: the class with the highest mean response ``(n_exc,)`` int64.

    ``responses`` ``(n_samples, n_exc)`` spike counts, ``y`` ``(n_samples,)`` labels. Classes
    absent from ``y`` are never assigned; ties go to the lowest class.
    """
    return labels_from_class_sums(*class_sums(responses, y, n_classes))


def vote(responses: Tensor, labels: Tensor, n_classes: int = 10) -> Tensor:
    """All-neuron voting: the class whose assigned neurons fire most on average ``(n,)``."""
    r = responses.to(torch.float64)
    if r.dim() == 1:
        r = r[None]
    onehot = torch.nn.functional.one_hot(labels, n_classes).to(torch.float64)  # (N, C)
    n_per = onehot.sum(0)
    score = (r @ onehot) / n_per.clamp(min=1)
    score = torch.where(n_per > 0, score, -1.0)
    return torch.argmax(score, dim=1)


class DiehlCook:
    """The Diehl & Cook (2015) network: unsupervised STDP training, labelling, voting.

    Parameters
    ----------
    n_exc : int
        Excitatory (and inhibitory) neurons.
    params : DiehlCookParams
        Network parameters (``params.n_input`` must match the data).
    seed : int
        Seeds the initial weights and every input spike stream.
    backend : {"numba", "torch"}
        Compiled kernel (fast) or the torch reference (slow, for checking).

    Attributes
    ----------
    labels_ : Tensor or None
        ``(n_exc,)`` class of each neuron after :meth:`label` (or after ``fit`` with ``y``).
    samples_seen_ : int
        Training samples presented so far (the position of the training input stream).
    history_ : dict
        Per training sample: ``exc_spikes``, ``attempts``, ``correct`` (running, -1 unknown).
    """

    def __init__(
        self,
        n_exc: int,
        params: DiehlCookParams = DiehlCookParams(),
        *,
        seed: int = 0,
        backend: Literal["numba", "torch"] = "numba",
    ) -> None:
        check_int("n_exc", n_exc, 1)
        check_int("seed", seed, 0)
        check_choice("backend", backend, BACKENDS)
        if not isinstance(params, DiehlCookParams):
            raise ValueError(f"params must be a DiehlCookParams, got {type(params).__name__}")
        self.n_exc, self.params, self.seed, self.backend = n_exc, params, seed, backend
        self.coef = coefficients(params)
        g = torch.Generator().manual_seed(subseed(seed, "init"))
        w = params.w_init_max * torch.rand(
            (params.n_input, n_exc), generator=g, dtype=torch.float64
        )
        colsum = torch.cumsum(w, 0)[-1]
        target = torch.full_like(colsum, params.weight_sum)
        self._w = w * torch.where(colsum > 0, target / colsum, 1.0)
        self._theta = torch.zeros(n_exc, dtype=torch.float64)
        self._gate: Tensor | None = None
        self.labels_: Tensor | None = None
        self.samples_seen_ = 0
        self.synops_ = 0
        self.history_: dict[str, list[int]] = {"exc_spikes": [], "attempts": [], "correct": []}
        self._new_window()

    # ------------------------------------------------------------------ state
    @property
    def weights(self) -> Tensor:
        """Input→excitatory weights ``(n_input, n_exc)`` (a copy)."""
        return self._w.clone()

    @property
    def theta(self) -> Tensor:
        """Adaptive thresholds ``(n_exc,)`` in mV (a copy)."""
        return self._theta.clone()

    @property
    def gate(self) -> Tensor | None:
        """The importance gate of the input→excitatory STDP ``(n_input, n_exc)`` (a copy), or
        ``None``."""
        return None if self._gate is None else self._gate.clone()

    def set_gate(self, gate) -> DiehlCook:
        r"""Gate the input→excitatory plasticity per synapse: every weight change of the
        presentation loop (depression, potentiation, normalisation) keeps the fraction
        :math:`g_{ij}\in[0, 1]` of itself, :math:`w \leftarrow w_\mathrm{old} +
        g_{ij}(w_\mathrm{new} - w_\mathrm{old})`, inside the compiled loop. ``g = 1``: the
        rule unchanged bit for bit; ``g = 0``: the synapse is frozen. ``None`` removes it.
        (Thresholds still adapt.)"""
        if gate is None:
            self._gate = None
            return self
        g = torch.as_tensor(gate)
        if not g.is_floating_point():
            raise ValueError(f"gate must be a float tensor, got dtype {g.dtype}")
        g = g.detach().to("cpu", torch.float64)
        if tuple(g.shape) != tuple(self._w.shape):
            raise ValueError(f"gate has shape {tuple(g.shape)}, the weights "
                             f"{tuple(self._w.shape)} (n_input, n_exc)")
        if torch.isnan(g).any() or (g < 0).any() or (g > 1).any():
            raise ValueError("gate must lie in [0, 1] (no NaN)")
        self._gate = g.contiguous().clone()
        return self

    def set_importance(self, importance, params=None) -> DiehlCook:
        """:meth:`set_gate` with :func:`~neuroplastic.continual.gate.gate_factor` of the
        synapse importance ``(n_input, n_exc)`` (a tensor or an
        :class:`~neuroplastic.continual.importance.Importance`) under ``params``
        (:class:`~neuroplastic.continual.gate.GateParams`; default the inverse gate)."""
        from ..continual.gate import GateParams, gate_factor
        from ..continual.importance import Importance

        params = GateParams() if params is None else params
        if not isinstance(params, GateParams):
            raise ValueError(f"params must be GateParams, got {type(params).__name__}")
        values = importance.values if isinstance(importance, Importance) else importance
        values = torch.as_tensor(values)
        if tuple(values.shape) != tuple(self._w.shape):
            raise ValueError(f"importance has shape {tuple(values.shape)}, the weights "
                             f"{tuple(self._w.shape)} (n_input, n_exc)")
        return self.set_gate(gate_factor(values.to(torch.float64), params))

    # ------------------------------------------------------------- presenting
    def run(self, X, *, learn: bool, stream: str, first: int) -> tuple[Tensor, Tensor, Tensor]:
        """Present the rows of ``X`` in order (input-boost rule on); sample ``b`` draws its
        input from stream ``(seed, stream)`` at position ``first + b``.

        Returns ``counts (B, n_exc)`` and ``exc_spikes (B,)`` of each sample's last
        presentation and ``attempts (B,)``. With ``learn`` the weights and thresholds change
        and ``synops_`` grows.
        """
        X = self._check_x(X)
        fn = run_samples_numba if self.backend == "numba" else run_samples_reference
        base = stream_base(self.seed, stream)
        gate = self._gate if learn else None
        counts, exc, att, totals = fn(
            X, base, first, self.params, self._w, self._theta, learn, self.coef, gate
        )
        if learn:
            self.synops_ += int(totals[3])
        return counts, exc, att

    def _check_x(self, X) -> Tensor:
        X = torch.as_tensor(X, dtype=torch.float64).contiguous()
        if X.dim() != 2 or X.shape[1] != self.params.n_input:
            raise ValueError(
                f"X must have shape (n_samples, {self.params.n_input}), got {tuple(X.shape)}"
            )
        if X.numel() and (not torch.isfinite(X).all() or X.min() < 0 or X.max() > 1):
            raise ValueError("X must hold finite pixel intensities in [0, 1]")
        return X

    def _new_window(self) -> None:
        """Forget the running-accuracy window (responses and labels of the last training
        samples by chunk, and the last right/wrong votes)."""
        self._win_r: deque[Tensor] = deque()
        self._win_y: deque[Tensor] = deque()
        self._win_correct: list[int] = []

    def partial_fit(
        self,
        X,
        y=None,
        *,
        progress: bool = False,
        window: int = 500,
        relabel_every: int = 50,
        desc: str = "diehl-cook",
        keep_window: bool = False,
        callback: Callable[[DiehlCook], None] | None = None,
    ) -> DiehlCook:
        """Train on ``X`` ``(n, n_input)`` once, in the given order (learning on).

        With labels ``y`` the running accuracy is tracked as in the paper: samples are
        classified with the current labels, which are re-assigned every ``relabel_every``
        samples from the responses to the last ``window`` training samples (labels only
        monitor training; they never change the weights). Every call starts a new window
        unless ``keep_window`` (continue the one of the previous call, e.g. after
        :meth:`load_state_dict`). ``callback(self)`` runs after every chunk of
        ``relabel_every`` samples (256 without ``y``), when the model is in a state that
        :meth:`state_dict` captures completely.
        """
        from tqdm.auto import tqdm

        check_int("window", window, 1)
        check_int("relabel_every", relabel_every, 1)
        X = self._check_x(X)
        yy = None if y is None else torch.as_tensor(y, dtype=torch.int64)
        n = X.shape[0]
        chunk = relabel_every if yy is not None else 256
        if not keep_window:
            self._new_window()
        r_hist, y_hist = self._win_r, self._win_y
        correct: deque[int] = deque(self._win_correct, maxlen=window)
        with tqdm(total=n, desc=desc, disable=not progress, mininterval=0.5) as bar:
            for s in range(0, n, chunk):
                xb = X[s : s + chunk]
                counts, exc, att = self.run(
                    xb, learn=True, stream="train", first=self.samples_seen_
                )
                self.samples_seen_ += xb.shape[0]
                self.history_["exc_spikes"] += exc.tolist()
                self.history_["attempts"] += att.tolist()
                ok = [-1] * xb.shape[0]
                if yy is not None:
                    yb = yy[s : s + chunk]
                    if self.labels_ is not None:
                        ok = (vote(counts, self.labels_) == yb).to(torch.int64).tolist()
                        correct.extend(ok)
                    r_hist.append(counts)
                    y_hist.append(yb)
                    while sum(len(v) for v in y_hist) - len(y_hist[0]) >= window:
                        r_hist.popleft()
                        y_hist.popleft()
                    self.labels_ = assign_labels(torch.cat(list(r_hist)), torch.cat(list(y_hist)))
                self.history_["correct"] += ok
                self._win_correct = list(correct)
                bar.update(xb.shape[0])
                if progress:
                    post = {"spk": f"{float(exc.double().mean()):.1f}"}
                    if correct:
                        post["acc"] = f"{sum(correct) / len(correct):.3f}"
                    bar.set_postfix(post)
                if callback is not None:
                    callback(self)
        return self

    def fit(self, X, y=None, *, epochs: int = 1, progress: bool = True, **kw) -> DiehlCook:
        """Train until ``epochs`` passes over ``X`` have been made in the model's life.

        Every pass uses a permutation of ``X`` that depends only on the seed and the pass
        number, so a run stopped anywhere, saved and reloaded, then fitted again with the same
        ``epochs`` ends with bit-identical weights and thresholds; stopped at a chunk boundary
        (in ``callback``), the running-accuracy history is identical too (every pass starts a
        new window; one resumed mid-pass continues the saved one). ``kw`` go to
        :meth:`partial_fit`.
        """
        check_int("epochs", epochs, 1)
        X = self._check_x(X)
        n = X.shape[0]
        if n == 0:
            return self
        while self.samples_seen_ < epochs * n:
            e, start = divmod(self.samples_seen_, n)
            g = torch.Generator().manual_seed(subseed(self.seed, "order", e))
            sel = torch.randperm(n, generator=g)[start:]
            self.partial_fit(
                X[sel], None if y is None else torch.as_tensor(y)[sel], progress=progress,
                desc=f"diehl-cook epoch {e + 1}/{epochs}", keep_window=start > 0, **kw,
            )  # fmt: skip
        return self

    def transform(self, X, *, progress: bool = False, stream: str = "eval") -> Tensor:
        """Spike counts ``(n, n_exc)`` with learning off (thresholds frozen, boost rule on).

        Sample ``k`` of ``X`` uses position ``k`` of the input stream ``(seed, stream)``, so
        the result does not depend on what was evaluated before.
        """
        from tqdm.auto import tqdm

        X = self._check_x(X)
        out = torch.zeros((X.shape[0], self.n_exc), dtype=torch.int64)
        chunk = 256
        with tqdm(total=X.shape[0], desc=stream, disable=not progress, mininterval=0.5) as bar:
            for s in range(0, X.shape[0], chunk):
                counts, _, _ = self.run(X[s : s + chunk], learn=False, stream=stream, first=s)
                out[s : s + chunk] = counts
                bar.update(counts.shape[0])
        return out

    def label(self, X, y, *, progress: bool = False) -> DiehlCook:
        """Assign each excitatory neuron the class it responds to most (learning off)."""
        r = self.transform(X, progress=progress, stream="label")
        self.labels_ = assign_labels(r, torch.as_tensor(y, dtype=torch.int64))
        return self

    def predict(self, X, *, progress: bool = False, responses: Tensor | None = None) -> Tensor:
        """Classes ``(n,)`` by all-neuron voting (needs :meth:`label` first)."""
        if self.labels_ is None:
            raise RuntimeError("call label(X, y) (or fit with y) before predict")
        r = self.transform(X, progress=progress) if responses is None else responses
        return vote(r, self.labels_)

    # ------------------------------------------------------------- checkpoint
    def state_dict(self) -> dict[str, Tensor]:
        """Everything that changes while the model learns, as tensors (copies; see
        :meth:`save`): weights, thresholds, labels, stream position, counters, history and the
        running-accuracy window."""
        i64 = torch.int64
        tensors = {
            "w": self._w.clone(),
            "theta": self._theta.clone(),
            "samples_seen": torch.tensor([self.samples_seen_], dtype=i64),
            "synops": torch.tensor([self.synops_], dtype=i64),
        }
        if self.labels_ is not None:
            tensors["labels"] = self.labels_.clone()
        if self._gate is not None:
            tensors["gate"] = self._gate.clone()
        for k, v in self.history_.items():
            tensors[f"history_{k}"] = torch.tensor(v, dtype=i64)
        r = list(self._win_r)
        tensors["window_responses"] = (torch.cat(r) if r else
                                       torch.zeros((0, self.n_exc), dtype=i64)).contiguous()
        tensors["window_labels"] = (torch.cat(list(self._win_y)) if r else
                                    torch.zeros(0, dtype=i64)).contiguous()
        tensors["window_chunks"] = torch.tensor([len(v) for v in self._win_y], dtype=i64)
        tensors["window_correct"] = torch.tensor(self._win_correct, dtype=i64)
        return tensors

    def load_state_dict(self, t: dict[str, Tensor]) -> None:
        """Restore what :meth:`state_dict` returned; training continues bit-identically."""
        if tuple(t["w"].shape) != tuple(self._w.shape):
            raise ValueError(f"state w has shape {tuple(t['w'].shape)}, the model "
                             f"{tuple(self._w.shape)}")
        self._w = t["w"].clone()
        self._theta = t["theta"].clone()
        self.samples_seen_ = int(t["samples_seen"][0])
        self.synops_ = int(t["synops"][0])
        self.labels_ = t["labels"].clone() if "labels" in t else None
        self.set_gate(t.get("gate"))
        self.history_ = {k: t[f"history_{k}"].tolist() for k in ("exc_spikes", "attempts",
                                                                  "correct")}
        self._new_window()
        if "window_chunks" in t:  # files saved before the window was part of the state lack it
            lens = t["window_chunks"].tolist()
            self._win_r.extend(v.clone() for v in torch.split(t["window_responses"], lens))
            self._win_y.extend(v.clone() for v in torch.split(t["window_labels"], lens))
            self._win_correct = t["window_correct"].tolist()

    def save(self, path: str | Path) -> None:
        """Checkpoint the model (:meth:`state_dict`, parameters, seed; safetensors)."""
        from safetensors.torch import save_file

        meta = {
            "params": json.dumps(asdict(self.params)),
            "n_exc": str(self.n_exc),
            "seed": str(self.seed),
            "backend": self.backend,
        }
        save_file(self.state_dict(), str(path), metadata=meta)

    @classmethod
    def load(cls, path: str | Path, *, backend: Literal["numba", "torch"] | None = None):
        """Restore a model saved by :meth:`save`; training continues bit-identically."""
        from safetensors import safe_open
        from safetensors.torch import load_file

        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata()
        t = load_file(str(path))
        params = DiehlCookParams(**json.loads(meta["params"]))
        m = cls(
            int(meta["n_exc"]), params, seed=int(meta["seed"]),
            backend=backend or meta["backend"],
        )  # fmt: skip
        m.load_state_dict(t)
        return m
