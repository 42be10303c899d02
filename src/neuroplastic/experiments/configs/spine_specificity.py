"""Config of ``spine-specificity`` (torch-free: checked before the heavy imports)."""

from __future__ import annotations

from dataclasses import dataclass

from ..params import Cost, check_fields, param

__all__ = ["EXPERIMENTS", "MAX_STEPS", "REDUCED", "TOPIC", "SpineSpecificityConfig"]

TOPIC = "plasticity"

MAX_STEPS = 20_000_000  # clock steps of a run (~0.14 ms each: ~45 min)


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
    bap_tau_ms: float = param(5.0, "decay of the dendritic bAP", unit="ms", low=0, high=1e3,
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
        if self.pairing_interval_ms < self.dt_ms:
            raise ValueError(f"pairing_interval_ms ({self.pairing_interval_ms}) must be >= "
                             f"dt_ms ({self.dt_ms}): a pairing lasts at least one step")
        steps = self.n_pairings * self.pairing_interval_ms / self.dt_ms
        if steps > MAX_STEPS:
            raise ValueError(f"n_pairings * pairing_interval_ms / dt_ms = {steps:.3g} steps is "
                             f"above {MAX_STEPS:.0e} (~45 min); fewer pairings or a larger "
                             "dt_ms")
        events = self.n_pairings * (self.n_baps + 2)
        if events > 1_000_000:
            raise ValueError(f"n_pairings * (n_baps + 2) = {events} protocol events is above "
                             "1e6; fewer pairings or n_baps")

    def cost(self) -> Cost:
        # measured on the 2-core VM: ~0.13 ms per clock step (a Python loop of small torch
        # operations); the default 60 000 steps: 7.7 s + ~0.5 s protocol and figures
        steps = self.n_pairings * self.pairing_interval_ms / self.dt_ms
        return Cost(0.5 + 1.35e-4 * steps, f"{steps:.0f} steps of three calcium spines")


EXPERIMENTS = {"spine-specificity": SpineSpecificityConfig}
REDUCED = {"spine-specificity": {"n_pairings": 4}}  # 8000 steps, 3 checkpoints
