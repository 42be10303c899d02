"""Config of ``force-field`` (torch-free: checked before the heavy imports)."""

from __future__ import annotations

from dataclasses import dataclass

from ..params import Cost, check_fields, param

__all__ = ["EXPERIMENTS", "REDUCED", "TOPIC", "ForceFieldConfig"]

TOPIC = "agents"


@dataclass(frozen=True)
class ForceFieldConfig:
    baseline_trials: int = param(16, "null-field trials before the field", low=1, high=10_000)
    field_trials: int = param(96, "trials of each field exposure", low=2, high=10_000)
    washout_trials: int = param(16, "null-field trials between the exposures (after-effect)",
                                low=1, high=10_000)
    field_strength: float = param(13.0, "curl-field viscosity b (positive: clockwise)",
                                  unit="N s/m", low=-40, high=40)
    movement_s: float = param(0.5, "planned (minimum-jerk) movement time", unit="s",
                              low=0.1, high=2)
    dt_s: float = param(0.02, "control step", unit="s", low=0.005, high=0.05)
    kp: float = param(15.0, "feedback stiffness (joint space)", unit="N m/rad", low=0,
                      high=500, low_open=True)
    kd: float = param(1.5, "feedback damping", unit="N m s/rad", low=0, high=50)
    n_granule: int = param(1000, "granule cells of each cerebellar module", low=10,
                           high=100_000)
    eta_fast: float = param(0.15, "controller: fast-process learning rate per step", low=0,
                            high=2, high_open=True)
    eta_slow: float = param(0.015, "controller: slow-process learning rate per step", low=0,
                            high=2, high_open=True)
    retain_fast: float = param(0.9, "controller: fast-process retention per trial", low=0,
                               high=1, low_open=True)
    retain_slow: float = param(1.0, "controller: slow-process retention per trial", low=0,
                               high=1, low_open=True)
    cf_lag_steps: int = param(3, "steps by which PF activity precedes the CF error it pairs "
                              "with", low=0, high=50)
    eta_forward: float = param(0.3, "forward model: learning rate per step", low=0, high=2,
                               high_open=True)
    criterion_frac: float = param(0.4, "learned: 8-trial mean |lateral error| <= this "
                                  "fraction of the first exposure's initial error", low=0,
                                  high=1, low_open=True, high_open=True)
    seed: int = param(0, "target order, granule wiring", low=0, high=2**31 - 1)

    def __post_init__(self) -> None:
        check_fields(self)
        if self.eta_slow > self.eta_fast:
            raise ValueError(f"eta_slow ({self.eta_slow}) must not exceed eta_fast "
                             f"({self.eta_fast})")
        if self.retain_slow < self.retain_fast:
            raise ValueError(f"retain_slow ({self.retain_slow}) must be >= retain_fast "
                             f"({self.retain_fast})")
        if self.movement_s < 4 * self.dt_s:
            raise ValueError("movement_s must be at least 4 control steps (dt_s)")

    @property
    def trials(self) -> int:
        return self.baseline_trials + 2 * self.field_trials + self.washout_trials

    def cost(self) -> Cost:
        steps = self.trials * (self.movement_s + 0.2) / self.dt_s
        return Cost(1.0 + steps * self.n_granule * 0.4e-6 + steps * 2.5e-4,
                    f"{self.trials} reaches x {(self.movement_s + 0.2) / self.dt_s:.0f} steps")


EXPERIMENTS = {"force-field": ForceFieldConfig}
REDUCED = {"force-field": {"baseline_trials": 2, "field_trials": 12, "washout_trials": 2,
                           "n_granule": 200}}
