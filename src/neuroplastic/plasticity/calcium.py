r"""Calcium-based plasticity with NMDA-receptor coincidence detection, one compartment per spine.

Each spine :math:`i` is its own calcium compartment. Calcium enters only through NMDA receptors,
which need *both* glutamate (a presynaptic spike opens a conductance :math:`g_i`) *and*
postsynaptic depolarisation (which expels the magnesium ion from the pore):

.. math::

    \frac{dg_i}{dt} = -\frac{g_i}{\tau_\mathrm{NMDA}} + \sum_k \delta(t - t^\mathrm{pre}_{i,k}),
    \qquad
    \frac{dc_i}{dt} = -\frac{c_i}{\tau_\mathrm{Ca}} + \kappa\, g_i\, B(V_i),

    B(V) = \frac{1}{1 + \frac{[\mathrm{Mg}^{2+}]}{3.57\,\mathrm{mM}}\,e^{-0.062\,V/\mathrm{mV}}}

(magnesium unblock of Jahr & Stevens 1990, J. Neurosci. 10:3178, in the form of their
Eq. 4 as used by Mel 1992 and most compartmental models). :math:`V_i` is the *local* dendritic
voltage seen by spine :math:`i` (neighbouring spines on one branch share it); :math:`\kappa`
converts open, unblocked conductance into calcium (units of the thresholds per ms).

The synaptic efficacy :math:`\rho_i \in [0, 1]` follows the calcium thresholds of Graupner &
Brunel (2012, PNAS 109:3991, Eq. 1) without the noise term:

.. math::

    \tau_\rho \frac{d\rho}{dt} = -\beta\,\rho(1-\rho)(\rho_\star-\rho)
        + \gamma_p (1-\rho)\,\Theta(c-\theta_p) - \gamma_d\,\rho\,\Theta(c-\theta_d).

Below :math:`\theta_d` nothing happens; between :math:`\theta_d` and :math:`\theta_p` only the
depression term acts (:math:`d\rho/dt<0`); above :math:`\theta_p` both act and the net change is
potentiation while :math:`\rho < \gamma_p/(\gamma_p+\gamma_d)` (0.617 with the defaults). The
bistability term (:math:`\beta`) is off by default (``beta=0``) so that sub-threshold calcium
leaves the weight strictly unchanged; set ``beta=1`` for Graupner & Brunel's bistable synapse.

Parameters (:class:`CalciumParams` defaults): :math:`\theta_d = 1`, :math:`\theta_p = 1.3`,
:math:`\gamma_d = 200`, :math:`\gamma_p = 321.808`, :math:`\tau_\rho = 150` s,
:math:`\rho_\star = 0.5`, :math:`\tau_\mathrm{Ca} = 20` ms — the DP-curve fit of Graupner &
Brunel (2012, Table S1; Brian2 ``examples/frompapers/Graupner_Brunel_2012.py``).
:math:`\tau_\mathrm{NMDA} = 50` ms sits in the 50–100 ms decay range of NMDA-receptor EPSCs
(e.g. Hestrin et al. 1990, J. Physiol. 422:203; Shouval, Bear & Cooper 2002, PNAS 99:10831
use a fast 50 ms component). :math:`\kappa = 0.5` is our calibration: one presynaptic spike
alone at rest (-65 mV, 1 mM Mg) raises calcium to 0.33 (a third of :math:`\theta_d`); the same
spike followed 10 ms later by one back-propagating action potential (dendrite to 0 mV, decaying
with 5 ms) peaks just below :math:`\theta_d`, and by a burst of three at 100 Hz peaks at 1.7,
above :math:`\theta_p` for 22 ms (net potentiation, about +0.003 per pairing at
:math:`\rho = 0.5`; ``dt_ms = 0.1``). Unlike Graupner & Brunel's simplified model, a
postsynaptic spike alone brings in no calcium here (no voltage-gated channels): calcium is a
pure coincidence signal.

Integration per step (:func:`calcium_step`, time in ms): (1) :math:`g` decays exactly and
jumps by the step's presynaptic spikes; (2) :math:`c \leftarrow c\,e^{-\Delta t/\tau_\mathrm{Ca}}
+ \kappa\,g\,B(V)\,\Delta t`; (3) :math:`\rho` advances over :math:`\Delta t` with the
thresholds evaluated on the new calcium (:func:`efficacy_step`): with :math:`\beta = 0` the
equation is linear in :math:`\rho` for fixed calcium and is solved exactly (so
:math:`\rho` stays in :math:`[0, 1]`); with :math:`\beta \ne 0`, explicit Euler then a clip.

Shapes: every state array and ``pre_spikes`` are ``(batch, n_spines)``; ``v_post_mv`` broadcasts
against them (``(batch, n_spines)`` local voltages, or ``(batch, 1)`` one dendrite).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn

from .._validation import check_less, check_nonnegative, check_positive, check_range

__all__ = [
    "CalciumParams",
    "CalciumSpines",
    "CalciumState",
    "calcium_step",
    "efficacy_step",
    "init_calcium_state",
    "mg_unblock",
]


def mg_unblock(v_mv: Tensor | float, mg_mm: float = 1.0) -> Tensor:
    r"""Fraction of NMDA conductance not blocked by magnesium (Jahr & Stevens 1990).

    :math:`B(V) = 1 / (1 + [\mathrm{Mg}]/3.57\,\mathrm{mM}\cdot e^{-0.062 V/\mathrm{mV}})`.

    Parameters
    ----------
    v_mv : Tensor or float
        Membrane voltage in mV, any shape.
    mg_mm : float
        Extracellular magnesium concentration in mM (>= 0; 0 means no block).

    Returns
    -------
    Tensor
        :math:`B(V) \in (0, 1]`, same shape as ``v_mv`` (float64 for Python scalars).
    """
    mg = check_nonnegative("mg_mm", mg_mm)
    v = torch.as_tensor(v_mv, dtype=torch.float64 if not torch.is_tensor(v_mv) else None)
    return 1.0 / (1.0 + (mg / 3.57) * torch.exp(-0.062 * v))


@dataclass(frozen=True)
class CalciumParams:
    """NMDA-calcium and Graupner–Brunel efficacy parameters (times in ms, calcium in θ units)."""

    tau_nmda_ms: float = 50.0  # NMDA conductance decay (50-100 ms range)
    tau_ca_ms: float = 20.0  # spine calcium decay (Graupner & Brunel 2012)
    kappa: float = 0.5  # calcium influx per ms per unit open, unblocked NMDA conductance
    mg_mm: float = 1.0  # extracellular magnesium (mM), Jahr & Stevens block
    theta_d: float = 1.0  # depression threshold (Graupner & Brunel 2012)
    theta_p: float = 1.3  # potentiation threshold (Graupner & Brunel 2012)
    gamma_d: float = 200.0  # depression rate (dimensionless, over tau_rho)
    gamma_p: float = 321.808  # potentiation rate (dimensionless, over tau_rho)
    tau_rho_ms: float = 150_000.0  # efficacy time constant (150 s)
    rho_star: float = 0.5  # unstable fixed point of the bistability term
    beta: float = 0.0  # weight of the bistability term (0: sub-threshold = no change)

    def __post_init__(self) -> None:
        check_positive("tau_nmda_ms", self.tau_nmda_ms)
        check_positive("tau_ca_ms", self.tau_ca_ms)
        check_nonnegative("kappa", self.kappa)
        check_nonnegative("mg_mm", self.mg_mm)
        check_positive("theta_d", self.theta_d)
        check_positive("theta_p", self.theta_p)
        check_less("theta_d", self.theta_d, "theta_p", self.theta_p)
        check_nonnegative("gamma_d", self.gamma_d)
        check_nonnegative("gamma_p", self.gamma_p)
        check_positive("tau_rho_ms", self.tau_rho_ms)
        check_range("rho_star", self.rho_star, 0.0, 1.0)
        check_nonnegative("beta", self.beta)

    @property
    def rho_potentiated_fixed_point(self) -> float:
        """:math:`\\gamma_p/(\\gamma_p+\\gamma_d)`: where ρ settles while calcium > θ_p (β = 0)."""
        return self.gamma_p / (self.gamma_p + self.gamma_d)


class CalciumState(NamedTuple):
    """Per-spine state, each ``(batch, n_spines)``."""

    g_nmda: Tensor  # open NMDA conductance (jumps by 1 per presynaptic spike)
    ca: Tensor  # spine calcium (units of the thresholds)
    rho: Tensor  # synaptic efficacy in [0, 1]


def init_calcium_state(
    batch: int,
    n_spines: int,
    *,
    rho: float = 0.5,
    dtype: torch.dtype = torch.float64,
    device=None,
) -> CalciumState:
    """No conductance, no calcium, every efficacy at ``rho``."""
    check_range("rho", rho, 0.0, 1.0)
    z = dict(dtype=dtype, device=device)
    return CalciumState(
        torch.zeros(batch, n_spines, **z),
        torch.zeros(batch, n_spines, **z),
        torch.full((batch, n_spines), float(rho), **z),
    )


def efficacy_step(rho: Tensor, ca: Tensor, params: CalciumParams, dt_ms: float) -> Tensor:
    r"""Advance the efficacy :math:`\rho` over ``dt_ms`` at (held) calcium ``ca``.

    Thresholds are strict: calcium equal to :math:`\theta_d` does not depress, equal to
    :math:`\theta_p` does not potentiate. With ``beta == 0`` the step is exact:
    :math:`\rho \leftarrow \rho_\infty + (\rho - \rho_\infty) e^{-(a+b)\Delta t/\tau_\rho}` with
    :math:`a = \gamma_p\Theta(c-\theta_p)`, :math:`b = \gamma_d\Theta(c-\theta_d)`,
    :math:`\rho_\infty = a/(a+b)`; where :math:`a+b=0`, :math:`\rho` is returned unchanged.

    Parameters
    ----------
    rho, ca : Tensor
        Efficacy and calcium, broadcastable shapes.
    params : CalciumParams
    dt_ms : float
        Step in ms.

    Returns
    -------
    Tensor
        New efficacy.
    """
    dt = check_positive("dt_ms", dt_ms)
    a = params.gamma_p * (ca > params.theta_p).to(rho.dtype)
    b = params.gamma_d * (ca > params.theta_d).to(rho.dtype)
    if params.beta == 0.0:
        rate = a + b
        active = rate > 0
        rho_inf = torch.where(active, a / torch.where(active, rate, 1.0), rho)
        decay = torch.exp(-rate * dt / params.tau_rho_ms)
        return torch.where(active, rho_inf + (rho - rho_inf) * decay, rho)
    drift = -params.beta * rho * (1 - rho) * (params.rho_star - rho) + a * (1 - rho) - b * rho
    return (rho + drift * dt / params.tau_rho_ms).clamp(0.0, 1.0)


def calcium_step(
    state: CalciumState,
    pre_spikes: Tensor,
    v_post_mv: Tensor | float,
    params: CalciumParams,
    dt_ms: float,
) -> tuple[CalciumState, Tensor]:
    r"""One clock step of NMDA conductance, spine calcium and efficacy.

    Parameters
    ----------
    state : CalciumState
        Per-spine state, ``(batch, n_spines)`` each.
    pre_spikes : Tensor
        ``(batch, n_spines)`` presynaptic spikes of each spine's own input (bool or 0/1; counts
        are allowed: each spike adds 1 to the conductance).
    v_post_mv : Tensor or float
        Local postsynaptic (dendritic) voltage in mV during the step, broadcast against the
        state (e.g. ``(batch, 1)`` for spines sharing one dendrite).
    params : CalciumParams
    dt_ms : float
        Step in ms.

    Returns
    -------
    state : CalciumState
        The advanced state.
    dw : Tensor
        ``(batch, n_spines)`` change of efficacy :math:`\rho` during the step.
    """
    dt = check_positive("dt_ms", dt_ms)
    dtype = state.ca.dtype
    pre = pre_spikes.to(dtype)
    v = torch.as_tensor(v_post_mv, dtype=dtype, device=state.ca.device)
    g = state.g_nmda * math.exp(-dt / params.tau_nmda_ms) + pre
    influx = params.kappa * g * mg_unblock(v, params.mg_mm)
    ca = state.ca * math.exp(-dt / params.tau_ca_ms) + influx * dt
    rho = efficacy_step(state.rho, ca, params, dt)
    return CalciumState(g, ca, rho), rho - state.rho


class CalciumSpines(nn.Module):
    """Thin module over :func:`calcium_step`.

    The state is explicit::

        spines = CalciumSpines(CalciumParams(), dt_ms=0.1)
        state = spines.init_state(batch, n_spines)
        state, dw = spines(state, pre_spikes, v_dendrite_mv)
    """

    def __init__(self, params: CalciumParams, *, dt_ms: float) -> None:
        super().__init__()
        if not isinstance(params, CalciumParams):
            raise ValueError(f"params must be CalciumParams, got {type(params).__name__}")
        self.params = params
        self.dt_ms = check_positive("dt_ms", dt_ms)

    def init_state(
        self, batch: int, n_spines: int, *, rho: float = 0.5, device=None
    ) -> CalciumState:
        return init_calcium_state(batch, n_spines, rho=rho, device=device)

    def forward(
        self, state: CalciumState, pre_spikes: Tensor, v_post_mv: Tensor | float
    ) -> tuple[CalciumState, Tensor]:
        return calcium_step(state, pre_spikes, v_post_mv, self.params, self.dt_ms)
