"""Config of ``spine-specificity`` (torch-free: checked before the heavy imports)."""

from __future__ import annotations

from dataclasses import dataclass

from ..params import Cost, check_fields, param

__all__ = ["EXPERIMENTS", "REDUCED", "SpineSpecificityConfig"]


@dataclass(frozen=True)
class SpineSpecificityConfig:
    """NMDA coincidence detection: of three neighbouring spines only the paired one changes."""

    n_pairings: int = param(30, "repetitions of the pairing protocol", low=1, high=100_000)
    pairing_interval_ms: float = param(200.0, "one pairing every this long (5 Hz)", unit="ms",
                                       low=0, high=1e6, low_open=True)
    pre_to_bap_ms: float = param(10.0, "pre spike leads the first bAP by this (causal)",
                                 unit="ms", low=0, high=1e6)
    n_baps: int = param(4, "bAPs per burst (with 3 the net LTP per pairing is smaller)", low=0,
                        high=1000)
    bap_interval_ms: float = param(10.0, "interval of the bAPs in a burst (100 Hz)", unit="ms",
                                   low=0, high=1e6, low_open=True)
    bap_amp_mv: float = param(65.0, "dendritic bAP peak depolarisation", unit="mV", low=-200,
                              high=200)
    bap_tau_ms: float = param(5.0, "decay of the dendritic bAP", unit="ms", low=0, high=1e6,
                              low_open=True)
    v_rest_mv: float = param(-65.0, "dendritic resting potential", unit="mV", low=-200,
                             high=200)
    pre_only_offset_ms: float = param(60.0, "pre-only spine: its spike this long after the "
                                      "burst", unit="ms", low=0, high=1e6)
    jitter_ms: float = param(0.0, "s.d. of Gaussian jitter of presynaptic spike times",
                             unit="ms", low=0, high=1e6)
    rho_init: float = param(0.5, "initial efficacy of every spine", low=0, high=1)
    kappa: float = param(0.5, "NMDA calcium influx (CalciumParams.kappa)", low=0, high=1e3)
    mg_mm: float = param(1.0, "extracellular magnesium", unit="mM", low=0, high=100)
    dt_ms: float = param(0.1, "clock step", unit="ms", low=0, high=10, low_open=True)
    seed: int = param(0, "seeds the jitter", low=0, high=2**32 - 1)

    def __post_init__(self) -> None:
        check_fields(self)
        steps = self.n_pairings * self.pairing_interval_ms / self.dt_ms
        if steps > 1e8:
            raise ValueError(f"n_pairings * pairing_interval_ms / dt_ms = {steps:.3g} steps is "
                             "above 1e8; fewer pairings or a larger dt_ms")

    def cost(self) -> Cost:
        steps = self.n_pairings * self.pairing_interval_ms / self.dt_ms
        return Cost(1.5 + 8e-5 * steps, f"{steps:.0f} steps of three calcium spines")


EXPERIMENTS = {"spine-specificity": SpineSpecificityConfig}
REDUCED = {"spine-specificity": {"n_pairings": 3}}
