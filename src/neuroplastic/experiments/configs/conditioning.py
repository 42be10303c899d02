"""Config of ``conditioning`` (torch-free: checked before the heavy imports)."""

from __future__ import annotations

from dataclasses import dataclass

from ..params import Cost, check_fields, param

__all__ = ["EXPERIMENTS", "REDUCED", "TOPIC", "ConditioningConfig"]

TOPIC = "behaviour"


@dataclass(frozen=True)
class ConditioningConfig:
    n_trials: int = param(15, "trials per training block (per trial type)", low=2, high=10_000)
    n_preexposure: int = param(15, "non-reinforced pre-exposures (latent inhibition)", low=1,
                               high=10_000)
    animals: int = param(6, "animals averaged per group", low=1, high=10_000)
    eta: float = param(0.15, "learning rate of the three-factor rule", low=0, high=10,
                       low_open=True)
    u_slow: float = param(0.003, "slow depression per sensory spike (CS salience)", low=0,
                          high=1, high_open=True)
    tau_slow_s: float = param(3600.0, "recovery of CS salience", unit="s", low=0, high=1e7,
                              low_open=True)
    tau_ext_s: float = param(86_400.0, "decay of the context-gated extinction memory",
                             unit="s", low=0, high=1e8, low_open=True)
    retention_s: float = param(86_400.0, "interval before the spontaneous-recovery test",
                               unit="s", low=0, high=1e8)
    iti_s: float = param(60.0, "inter-trial interval", unit="s", low=0, high=1e5)
    rw_alpha: float = param(0.2, "Rescorla-Wagner salience x learning rate", low=0, high=1,
                            low_open=True)
    threshold: float = param(0.05, "effect (in units of the asymptote) that counts as shown",
                             low=0, high=1)
    seed: int = param(0, "Poisson spikes, membrane noise, trial orders", low=0,
                      high=2**31 - 1)

    def __post_init__(self) -> None:
        check_fields(self)

    def cost(self) -> Cost:
        trials = 3 * self.n_trials + self.n_preexposure + 2
        return Cost(0.8 + trials * 40 * 5e-4 * (1 + self.animals / 20),
                    f"7 groups x {self.animals} animals x <= {trials} trials")


EXPERIMENTS = {"conditioning": ConditioningConfig}
REDUCED = {"conditioning": {"n_trials": 8, "n_preexposure": 8, "animals": 2}}
