r"""Cerebellum: the Marr–Albus–Ito microcircuit, a forward model and an adaptive controller.

Firing-rate microcircuit, one pathway per output channel:

* **Mossy fibres** carry the context (non-negative rates, e.g. a population code of the state
  and the efference copy of the command, or a temporal code of a conditioned stimulus).
* **Granule cells** expand it (Marr 1969, Albus 1971): each of ``n_granule`` cells sums
  ``fan_in`` randomly chosen mossy fibres (mean of their rates) and fires above a threshold,
  :math:`g_k = [\,\bar m_k - \theta\,]_+`; optional Golgi-cell divisive normalisation keeps the
  population activity at unit norm (:math:`x = g/\lVert g\rVert`), otherwise :math:`x=g`.
* **Purkinje cells** (one per output) sum the parallel fibres, :math:`p = W x` (rates relative
  to the naive cell), and inhibit the **deep nuclei**, whose output is :math:`y = -p` (times
  ``dn_gain``): depressing a Purkinje cell's synapses disinhibits its nucleus.
* **Climbing fibres** carry an error :math:`e` per Purkinje cell (relative to their baseline
  rate): a sensory prediction error for a forward model, the feedback controller's command for
  an adaptive controller (feedback-error learning, Kawato 1987), the unconditioned stimulus in
  eyeblink conditioning. Parallel-fibre synapses follow the Ito (1982) rule — LTD where PF
  activity coincides with CF activity above baseline, LTP where it coincides with CF activity
  below it, plus an optional CF-independent LTP of active PFs (``ltp``, Lev-Ram et al. 2003):

  .. math:: W \leftarrow \mathrm{clip}_{[w_\min, w_\max]}\Big(W - \eta\,
            \frac{e\otimes x}{x\cdot x} + \lambda\,x\Big).

  Normalised by :math:`x\cdot x` (the number of active parallel fibres), a step corrects the
  fraction :math:`\eta` of the error in the current context (the LMS rule of Albus 1971; with
  ``dn_gain`` 1 the deep-nuclear output moves by :math:`+\eta e`). It is the three-factor rule
  of :mod:`neuroplastic.plasticity.three_factor` with a Hebbian coincidence of PF activity and
  an always-on postsynaptic term, no eligibility memory and the CF error as the (negated,
  per-cell) modulator (:meth:`CerebellumParams.three_factor_params`; a test checks the two
  agree). No gradient flows through the granule layer: its wiring is fixed.

**Two rates** (Smith, Ghazizadeh & Shadmehr 2006): the PF weights are the sum of a fast and a
slow process, :math:`W = W_f + W_s`, learning with rates :math:`\eta_f > \eta_s` and, once per
trial (:meth:`Cerebellum.end_trial`), retaining :math:`A_f < A_s` of their value. In a fixed
context (constant :math:`x`) the output :math:`y = y_f + y_s` follows exactly the two-state
model :math:`y_{\cdot}^{n+1} = A_{\cdot} y_{\cdot}^{n} + B_{\cdot} e^n` with
:math:`B = A\eta` (retention follows the trial's learning), whose closed form
:func:`two_state_closed_form` gives savings and spontaneous recovery. ``eta_slow = 0`` is the
single-rate cerebellum.

Uses: :class:`ForwardModel` (predicts a sensory consequence of a command, learns from the
sensory prediction error) and :class:`AdaptiveController` (adds a learned correction to a
command, learns from the feedback command). Everything is seeded (the granule wiring) and
checkpointable (:meth:`Cerebellum.state_dict`, numpy arrays, safetensors-ready).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import check_finite, check_int, check_nonnegative, check_positive, check_range

__all__ = ["AdaptiveController", "Cerebellum", "CerebellumParams", "ForwardModel",
           "GranuleLayer", "pf_step", "two_state_closed_form"]


@dataclass(frozen=True)
class CerebellumParams:
    """Parameters of :class:`Cerebellum` (learning rates per step, retention per trial)."""

    n_mossy: int  # mossy-fibre inputs
    n_out: int = 1  # Purkinje cells = deep-nuclear outputs
    n_granule: int = 1000  # granule cells (parallel fibres)
    fan_in: int = 4  # mossy fibres per granule cell (~4 in mammals)
    threshold: float = 0.0  # granule threshold on the mean mossy rate of its inputs
    golgi: bool = True  # Golgi divisive normalisation of the granule layer (unit norm)
    eta_fast: float = 0.1  # learning rate of the fast process, in [0, 2) (LMS stability)
    eta_slow: float = 0.0  # learning rate of the slow process (0: single rate), <= eta_fast
    retain_fast: float = 1.0  # per-trial retention of the fast process, in (0, 1]
    retain_slow: float = 1.0  # per-trial retention of the slow process, >= retain_fast
    ltp: float = 0.0  # CF-independent LTP per step and unit of PF rate (>= 0)
    w_min: float = -math.inf  # lower bound of the PF weights (relative to the naive synapse)
    w_max: float = math.inf  # upper bound
    dn_gain: float = 1.0  # deep-nuclear output per unit of Purkinje disinhibition
    seed: int = 0  # granule wiring

    def __post_init__(self) -> None:
        check_int("n_mossy", self.n_mossy, 1, 1_000_000)
        check_int("n_out", self.n_out, 1, 100_000)
        check_int("n_granule", self.n_granule, 1, 10_000_000)
        check_int("fan_in", self.fan_in, 1, self.n_mossy)
        check_finite("threshold", self.threshold)
        if not isinstance(self.golgi, bool):
            raise ValueError(f"golgi must be a bool, got {self.golgi!r}")
        for name in ("eta_fast", "eta_slow"):
            v = check_nonnegative(name, getattr(self, name))
            if v >= 2.0:
                raise ValueError(f"{name} must be in [0, 2) (normalised LMS diverges at >= 2), "
                                 f"got {v!r}")
        if self.eta_slow > self.eta_fast:
            raise ValueError(f"eta_slow ({self.eta_slow}) must not exceed eta_fast "
                             f"({self.eta_fast}): the slow process learns slowly")
        for name in ("retain_fast", "retain_slow"):
            v = check_range(name, getattr(self, name), 0.0, 1.0)
            if v == 0.0:
                raise ValueError(f"{name} must be in (0, 1], got 0")
        if self.retain_slow < self.retain_fast:
            raise ValueError(f"retain_slow ({self.retain_slow}) must be >= retain_fast "
                             f"({self.retain_fast}): the slow process retains better")
        check_nonnegative("ltp", self.ltp)
        for name in ("w_min", "w_max"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or math.isnan(v):
                raise ValueError(f"{name} must be a real number or +-inf, got {v!r}")
        if not self.w_min <= 0.0 <= self.w_max or self.w_min == self.w_max:
            raise ValueError(f"need w_min <= 0 <= w_max with w_min < w_max (weights are "
                             f"relative to the naive synapse), got {self.w_min}, {self.w_max}")
        check_finite("dn_gain", self.dn_gain)
        if self.dn_gain == 0:
            raise ValueError("dn_gain must be non-zero")
        check_int("seed", self.seed, 0)

    def three_factor_params(self, dt_ms: float = 1.0):
        """The :class:`~neuroplastic.plasticity.three_factor.ThreeFactorParams` whose
        :func:`three_factor_step` (pre = normalised PF activity :math:`x/(x\\cdot x)`,
        post = 1, modulator = :math:`-e`) equals this cerebellum's CF-driven fast update."""
        from ..plasticity.three_factor import ThreeFactorParams

        dt = check_positive("dt_ms", dt_ms)
        return ThreeFactorParams(eta=self.eta_fast / dt, tau_e_ms=1e-3 * dt,
                                 coincidence="hebb", w_min=self.w_min, w_max=self.w_max)


class GranuleLayer:
    """Random sparse expansion of the mossy-fibre rates (fixed wiring from ``seed``)."""

    def __init__(self, n_mossy: int, n_granule: int, fan_in: int, threshold: float,
                 golgi: bool, seed: int) -> None:
        rng = np.random.Generator(np.random.PCG64(seed))
        # fan_in distinct mossy fibres per granule cell
        self.wiring = np.ascontiguousarray(
            np.argsort(rng.random((n_granule, n_mossy)), axis=1)[:, :fan_in])
        self._wiring_t = np.ascontiguousarray(self.wiring.T)  # (fan_in, n_granule): fast sum
        self.n_mossy, self.size = n_mossy, n_granule
        self.threshold, self.golgi = threshold, golgi

    def __call__(self, mossy) -> np.ndarray:
        m = np.asarray(mossy, dtype=np.float64).reshape(-1)
        if m.size != self.n_mossy:
            raise ValueError(f"mossy must have n_mossy = {self.n_mossy} rates, got {m.size}")
        if not math.isfinite(float(m.sum())):
            raise ValueError("mossy rates must be finite")
        g = m[self._wiring_t].sum(0)
        g *= 1.0 / self._wiring_t.shape[0]
        g -= self.threshold
        np.maximum(g, 0.0, out=g)
        if self.golgi:
            n = math.sqrt(float(g @ g))
            return g / n if n > 0 else g
        return g


def pf_step(w: np.ndarray, x: np.ndarray, error: np.ndarray, eta: float, ltp: float = 0.0,
            w_min: float = -math.inf, w_max: float = math.inf) -> np.ndarray:
    """One Ito step of the PF weights ``w`` ``(n_out, n_granule)`` (see the module docstring);
    returns the new weights (``w`` is not modified). Silent PFs (``x = 0``) do not change."""
    xx = float(x @ x)
    if xx == 0.0:
        return w.copy()
    w = w - (eta / xx) * np.outer(error, x)
    if ltp:
        w += ltp * x[None, :]
    if w_min > -math.inf or w_max < math.inf:
        np.clip(w, w_min, w_max, out=w)
    return w


def two_state_closed_form(n: int, perturbation: float, retain_fast: float, b_fast: float,
                          retain_slow: float, b_slow: float,
                          y0: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    r"""Fast and slow states ``(n + 1, 2)`` of the two-state model under a constant
    perturbation ``f`` (error :math:`e = f - y_f - y_s`), in closed form:

    .. math:: s_n = M^n s_0 + (I - M)^{-1}(I - M^n)\,b f,\qquad
              M = \mathrm{diag}(A_f, A_s) - b\,\mathbf 1^\top,\quad b = (B_f, B_s)^\top.
    """
    n = check_int("n", n, 0, 10_000_000)
    M = np.diag([retain_fast, retain_slow]) - np.outer([b_fast, b_slow], [1.0, 1.0])
    b = np.array([b_fast, b_slow]) * float(perturbation)
    s0 = np.asarray(y0, dtype=np.float64)
    eye = np.eye(2)
    out = np.empty((n + 1, 2))
    Mk = eye.copy()
    fixed = np.linalg.solve(eye - M, b)
    for k in range(n + 1):
        out[k] = Mk @ s0 + fixed - Mk @ fixed
        Mk = M @ Mk
    return out


class Cerebellum:
    """Granule expansion → Purkinje cells (fast + slow PF weights) → deep nuclei.

    ``y = cb.predict(mossy)`` computes the output in a context; ``cb.learn(error)`` applies the
    climbing-fibre error of that context; ``cb.end_trial()`` applies the per-trial retention.
    """

    def __init__(self, params: CerebellumParams) -> None:
        if not isinstance(params, CerebellumParams):
            raise ValueError("params must be a CerebellumParams")
        self.params = p = params
        self.granule = GranuleLayer(p.n_mossy, p.n_granule, p.fan_in, p.threshold, p.golgi,
                                    p.seed)
        self.w_fast = np.zeros((p.n_out, p.n_granule))
        self.w_slow = np.zeros((p.n_out, p.n_granule))
        self.x = np.zeros(p.n_granule)  # granule activity of the last context

    @property
    def weights(self) -> np.ndarray:
        return self.w_fast + self.w_slow

    def purkinje(self, x: np.ndarray) -> np.ndarray:
        """Purkinje drive ``W x`` (relative to the naive cell)."""
        return self.w_fast @ x + self.w_slow @ x

    def predict(self, mossy) -> np.ndarray:
        """Deep-nuclear output ``(n_out,)`` in context ``mossy`` (remembered for learn)."""
        return self.predict_granule(self.granule(mossy))

    def predict_granule(self, x: np.ndarray) -> np.ndarray:
        """:meth:`predict` from granule activity ``x`` already computed (e.g. cached for a
        context that repeats every trial)."""
        if np.shape(x) != self.x.shape:
            raise ValueError(f"x must have shape {self.x.shape}, got {np.shape(x)}")
        self.x = x
        return -self.params.dn_gain * self.purkinje(x)

    def learn(self, error, x: np.ndarray | None = None) -> None:
        """Climbing-fibre error ``(n_out,)``: LTD where > 0, LTP where < 0, at the parallel
        fibres active in the last context (or in granule activity ``x``, e.g. the one of a few
        steps earlier: PF activity that precedes the CF is the one credited, Wang et al.
        2000)."""
        p = self.params
        if x is None:
            x = self.x
        elif np.shape(x) != self.x.shape:
            raise ValueError(f"x must have shape {self.x.shape}, got {np.shape(x)}")
        e = np.asarray(error, dtype=np.float64).reshape(-1)
        if e.size != p.n_out or not np.all(np.isfinite(e)):
            raise ValueError(f"error must be {p.n_out} finite values, got {error!r}")
        e = e / p.dn_gain
        lo, hi = p.w_min, p.w_max
        if p.eta_slow > 0:  # the two processes share the bounds of their sum: bound each
            self.w_slow = pf_step(self.w_slow, x, e, p.eta_slow)
        self.w_fast = pf_step(self.w_fast, x, e, p.eta_fast, p.ltp)
        if lo > -math.inf or hi < math.inf:
            self.w_fast = np.clip(self.w_fast + self.w_slow, lo, hi) - self.w_slow

    def end_trial(self) -> None:
        """Per-trial retention (forgetting toward the naive synapse) of both processes."""
        p = self.params
        if p.retain_fast < 1.0:
            self.w_fast *= p.retain_fast
        if p.retain_slow < 1.0:
            self.w_slow *= p.retain_slow

    def split_output(self, mossy) -> tuple[np.ndarray, np.ndarray]:
        """Fast and slow contributions to the output in context ``mossy`` (no side effect)."""
        x = self.granule(mossy)
        g = -self.params.dn_gain
        return g * (self.w_fast @ x), g * (self.w_slow @ x)

    # -- checkpoints -------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Learned state as numpy arrays (the wiring is rebuilt from the seed; kept to check)."""
        return {"w_fast": self.w_fast.copy(), "w_slow": self.w_slow.copy(),
                "x": self.x.copy(), "wiring": self.granule.wiring.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        def arr(k):
            if k not in state:
                raise ValueError(f"state_dict has no {k!r}")
            v = state[k]
            return np.array(v.numpy() if hasattr(v, "numpy") else v)

        if not np.array_equal(arr("wiring"), self.granule.wiring):
            raise ValueError("state 'wiring' differs: the checkpoint is of another seed/size")
        for k in ("w_fast", "w_slow", "x"):
            v = arr(k).astype(np.float64)
            if v.shape != getattr(self, k).shape:
                raise ValueError(f"state {k!r} has shape {v.shape}, expected "
                                 f"{getattr(self, k).shape}")
            setattr(self, k, v)


class ForwardModel:
    """Predicts a sensory consequence from the context (state + efference copy of the command);
    :meth:`update` learns from the sensory prediction error and returns it."""

    def __init__(self, params: CerebellumParams) -> None:
        self.cb = Cerebellum(params)
        self.prediction = np.zeros(params.n_out)

    def predict(self, mossy) -> np.ndarray:
        self.prediction = self.cb.predict(mossy)
        return self.prediction

    def update(self, actual) -> np.ndarray:
        """Sensory prediction error ``actual - prediction`` (the CF signal); learns from it."""
        a = np.asarray(actual, dtype=np.float64).reshape(-1)
        spe = a - self.prediction
        self.cb.learn(spe)
        return spe


class AdaptiveController:
    """Adds a learned correction to a command (feedback-error learning, Kawato 1987): the CF
    error is the command the feedback controller had to add, so learning makes it
    unnecessary."""

    def __init__(self, params: CerebellumParams) -> None:
        self.cb = Cerebellum(params)

    def correction(self, mossy) -> np.ndarray:
        return self.cb.predict(mossy)

    def update(self, feedback_command) -> None:
        self.cb.learn(feedback_command)
