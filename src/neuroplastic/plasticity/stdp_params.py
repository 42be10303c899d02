r"""Parameters of the STDP rules: pair-based :class:`STDPParams` and triplet
:class:`TripletParams` (frozen, validated at construction)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from .._validation import check_choice, check_finite, check_positive
from .stdp_windows import ExponentialWindow, FunctionWindow, SymmetricWindow, _check_window

__all__ = [
    "BATCH_REDUCE",
    "PAIRINGS",
    "UPDATES",
    "STDPParams",
    "TripletParams",
]

PAIRINGS = ("all", "nearest")
UPDATES = ("additive", "multiplicative")
BATCH_REDUCE = ("sum", "mean")


def _check_bounds(w_min: Any, w_max: Any) -> None:
    for name, v in (("w_min", w_min), ("w_max", w_max)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v):
            raise ValueError(f"{name} must be a real number (+-inf allowed), got {v!r}")
    if not w_min < w_max:
        raise ValueError(f"w_min ({w_min!r}) must be below w_max ({w_max!r})")


def _check_update(update: str, w_min: float, w_max: float) -> None:
    check_choice("update", update, UPDATES)
    if update == "multiplicative" and not (math.isfinite(w_min) and math.isfinite(w_max)):
        raise ValueError(
            f"update='multiplicative' needs finite w_min and w_max (soft bounds), got "
            f"w_min={w_min!r}, w_max={w_max!r}"
        )


def _check_step_size(
    learning_rate: float, amplitudes: dict[str, float], span: float | None = None
) -> None:
    """The change of one pair, learning rate x amplitude (x ``w_max - w_min`` for soft bounds),
    must be a finite float: refuse parameters whose product overflows (NaN weights later)."""
    name, amp = max(amplitudes.items(), key=lambda kv: abs(kv[1]))
    if not math.isfinite(learning_rate * abs(amp) * (1.0 if span is None else span)):
        soft = "" if span is None else " * (w_max - w_min)"
        raise ValueError(
            f"learning_rate * |{name}|{soft} (the weight change of one pair) must be at most "
            f"1.79769e+308, got learning_rate={learning_rate!r}, {name}={amp!r}"
            + ("" if span is None else f", w_max - w_min={span!r}")
        )


@dataclass(frozen=True)
class STDPParams:
    r"""Pair-based STDP: window, spike pairing, weight dependence, bounds.

    The weight change of one pair is :math:`\eta\,W(\Delta t)` (``update='additive'``) or, with
    soft bounds (``'multiplicative'``), :math:`\eta\,W(\Delta t)\,(w_\max - w)` when
    :math:`W > 0` and :math:`\eta\,W(\Delta t)\,(w - w_\min)` when :math:`W < 0`. Weights are then
    clipped to ``[w_min, w_max]`` (hard bounds; ``-inf``/``inf`` = unbounded). With
    ``norm_target`` set, every step ends by scaling each postsynaptic neuron's incoming weights
    so that they sum to ``norm_target``, after the clipping (so it may leave the bounds); this
    touches every synapse, O(synapses) per step — Diehl & Cook (2015) normalise once per sample
    instead: call :func:`normalize_incoming` yourself for that.
    """

    window: ExponentialWindow | SymmetricWindow | FunctionWindow = ExponentialWindow()
    pairing: Literal["all", "nearest"] = "all"  # all pairs, or nearest-spike (trace reset to 1)
    update: Literal["additive", "multiplicative"] = "additive"  # hard or soft weight dependence
    learning_rate: float = 1.0  # eta, multiplies every window value
    w_min: float = 0.0  # lower hard bound (-inf = none)
    w_max: float = 1.0  # upper hard bound (inf = none)
    norm_target: float | None = None  # sum of incoming weights per post neuron, or None
    batch_reduce: Literal["sum", "mean"] = "sum"  # combine trials that share one weight tensor

    def __post_init__(self) -> None:
        _check_window("window", self.window)
        check_choice("pairing", self.pairing, PAIRINGS)
        check_positive("learning_rate", self.learning_rate)
        _check_bounds(self.w_min, self.w_max)
        _check_update(self.update, self.w_min, self.w_max)
        if self.norm_target is not None:
            check_positive("norm_target", self.norm_target)
        check_choice("batch_reduce", self.batch_reduce, BATCH_REDUCE)
        win = self.window
        if isinstance(win, ExponentialWindow):
            amps = {"window.a_plus": win.a_plus, "window.a_minus": win.a_minus}
        elif isinstance(win, SymmetricWindow):
            amps = {"window.a": win.a}
        else:  # a FunctionWindow's amplitude is not known without evaluating it
            amps = {"window": 1.0}
        span = self.w_max - self.w_min if self.update == "multiplicative" else None
        _check_step_size(self.learning_rate, amps, span)


# Pfister & Gerstner (2006), Table 4, visual cortex (fits of Sjostrom et al. 2001); tau_+ and
# tau_- are 16.8 and 33.7 ms in every set.
_PFISTER_GERSTNER = {
    ("all", False): dict(
        a2_plus=5e-10, a3_plus=6.2e-3, a2_minus=7e-3, a3_minus=2.3e-4, tau_x_ms=101.0,
        tau_y_ms=125.0,
    ),
    ("all", True): dict(
        a2_plus=0.0, a3_plus=6.5e-3, a2_minus=7.1e-3, a3_minus=0.0, tau_x_ms=101.0,
        tau_y_ms=125.0,
    ),
    ("nearest", False): dict(
        a2_plus=8.8e-11, a3_plus=5.3e-2, a2_minus=6.6e-3, a3_minus=3.1e-3, tau_x_ms=714.0,
        tau_y_ms=40.0,
    ),
}


@dataclass(frozen=True)
class TripletParams:
    r"""Triplet STDP (Pfister & Gerstner 2006, J. Neurosci. 26:9673).

    Two presynaptic traces :math:`r_1` (:math:`\tau_+`), :math:`r_2` (:math:`\tau_x`) and two
    postsynaptic traces :math:`o_1` (:math:`\tau_-`), :math:`o_2` (:math:`\tau_y`). At a post
    spike :math:`w \mathrel{+}= \eta\,r_1\,[A_2^+ + A_3^+ o_2(t-\epsilon)]`; at a pre spike
    :math:`w \mathrel{-}= \eta\,o_1\,[A_2^- + A_3^- r_2(t-\epsilon)]` (:math:`t-\epsilon`: before
    the trace's own increment). All traces jump by 1 (``'all'``) or are reset to 1
    (``'nearest'``). Amplitudes are magnitudes (>= 0). Use :meth:`visual_cortex` for the
    published parameter sets. Additive with hard bounds, as in the paper.
    """

    a2_plus: float = 5e-10  # pair potentiation amplitude A2+
    a3_plus: float = 6.2e-3  # triplet potentiation amplitude A3+
    a2_minus: float = 7e-3  # pair depression amplitude A2-
    a3_minus: float = 2.3e-4  # triplet depression amplitude A3-
    tau_plus_ms: float = 16.8  # pre trace r1
    tau_minus_ms: float = 33.7  # post trace o1
    tau_x_ms: float = 101.0  # slow pre trace r2
    tau_y_ms: float = 125.0  # slow post trace o2
    pairing: Literal["all", "nearest"] = "all"  # trace increment (all) or reset to 1 (nearest)
    learning_rate: float = 1.0  # eta
    w_min: float = -math.inf  # lower hard bound
    w_max: float = math.inf  # upper hard bound
    batch_reduce: Literal["sum", "mean"] = "sum"  # combine trials sharing one weight tensor

    def __post_init__(self) -> None:
        for name in ("a2_plus", "a3_plus", "a2_minus", "a3_minus"):
            v = check_finite(name, getattr(self, name))
            if v < 0:
                raise ValueError(f"{name} must be >= 0 (a magnitude), got {v!r}")
        for name in ("tau_plus_ms", "tau_minus_ms", "tau_x_ms", "tau_y_ms"):
            check_positive(name, getattr(self, name))
        check_choice("pairing", self.pairing, PAIRINGS)
        check_positive("learning_rate", self.learning_rate)
        _check_bounds(self.w_min, self.w_max)
        check_choice("batch_reduce", self.batch_reduce, BATCH_REDUCE)
        amps = ("a2_plus", "a3_plus", "a2_minus", "a3_minus")
        _check_step_size(self.learning_rate, {n: getattr(self, n) for n in amps})

    @classmethod
    def visual_cortex(
        cls, pairing: Literal["all", "nearest"] = "all", minimal: bool = False, **overrides: Any
    ) -> TripletParams:
        """Pfister & Gerstner (2006) Table 4, visual cortex (Sjöström et al. 2001 data).

        ``pairing='all'``: full set (A2+ 5e-10, A3+ 6.2e-3, A2- 7e-3, A3- 2.3e-4, ``tau_x`` 101
        ms, ``tau_y`` 125 ms) or ``minimal=True`` (A2+ = A3- = 0, A3+ 6.5e-3, A2- 7.1e-3,
        ``tau_y`` 125 ms). ``pairing='nearest'``: full set (A2+ 8.8e-11, A3+ 5.3e-2, A2- 6.6e-3,
        A3- 3.1e-3, ``tau_x`` 714 ms, ``tau_y`` 40 ms). ``tau_plus_ms`` = 16.8 ms,
        ``tau_minus_ms`` = 33.7 ms in every set.
        """
        check_choice("pairing", pairing, PAIRINGS)
        key = (pairing, bool(minimal))
        if key not in _PFISTER_GERSTNER:
            raise ValueError(f"no published minimal set for pairing={pairing!r} in this module")
        kw: dict[str, Any] = dict(_PFISTER_GERSTNER[key], pairing=pairing)
        kw.update(overrides)
        return cls(**kw)
