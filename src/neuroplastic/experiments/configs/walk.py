"""Config of ``walk`` (torch-free: checked before the heavy imports)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..params import Cost, check_fields, param

__all__ = ["EXPERIMENTS", "REDUCED", "TOPIC", "WalkConfig"]

TOPIC = "agents"


@dataclass(frozen=True)
class WalkConfig:
    env: Literal["inverted_pendulum", "hopper"] = param(
        "inverted_pendulum", "MuJoCo task: InvertedPendulum-v5 (1-D push, the default) or "
        "Hopper-v5 (BG choose one of 5 target postures, a spinal PD loop, a 3-joint cerebellum)")
    episodes: int = param(180, "training episodes per seed and condition", low=2, high=100_000)
    seeds: int = param(3, "independent agents per condition (seeds seed, seed+1, ...)", low=1,
                       high=100)
    max_steps: int = param(300, "episode cap (truncation; InvertedPendulum-v5 steps of 40 ms)",
                           low=2, high=1000)
    change_episode: int = param(120, "episode at whose start the body changes (>= episodes: "
                                "never)", low=1, high=100_000)
    gear_scale: float = param(0.25, "actuator gear after the change (x original: a weaker "
                              "actuator)", low=0.05, high=10)
    mass_scale: float = param(4.0, "pole mass and inertia after the change (x original)",
                              low=0.1, high=20)
    criterion: float = param(150.0, "moving-mean return that counts as learned (<= max_steps)",
                             low=1, high=1000)
    window: int = param(10, "episodes of the trailing moving mean", low=1, high=1000)
    n_levels: int = param(3, "coarse commands the basal ganglia choose from", low=2, high=51)
    force: float = param(3.0, "largest coarse command (levels span [-force, force])",
                         low=0, high=3, low_open=True)
    bins: int = param(6, "place fields per dimension in each tiling (BG state code)", low=1,
                      high=12)
    n_tilings: int = param(8, "offset populations of place cells (BG state code)", low=1,
                           high=64)
    gamma: float = param(0.99, "discount per step", low=0, high=1, high_open=True)
    eta_critic: float = param(0.05, "critic learning rate per step", low=0, high=10)
    eta_actor: float = param(0.05, "actor learning rate per step", low=0, high=10)
    tau_e_s: float = param(0.2, "eligibility time constant of critic and actor (0: none)",
                           unit="s", low=0, high=1e4)
    beta: float = param(1.0, "inverse temperature of the winner-take-all", low=0, high=1e3,
                        low_open=True)
    n_granule: int = param(300, "cerebellar granule cells", low=10, high=100_000)
    cb_eta: float = param(0.1, "cerebellar PF learning rate per step (normalised LMS)", low=0,
                          high=2, high_open=True)
    cf_angle: float = param(10.0, "climbing-fibre error per rad of pole tilt", unit="1/rad",
                            low=0, high=1000)
    cf_rate: float = param(1.0, "climbing-fibre error per rad/s of pole tilt rate",
                           unit="s/rad", low=0, high=1000)
    kp: float = param(1.0, "hopper: spinal PD stiffness (action units per rad of joint error)",
                      unit="1/rad", low=0, high=100)
    kd: float = param(0.1, "hopper: spinal PD damping (action units per rad/s)", unit="s/rad",
                      low=0, high=100)
    hold: int = param(5, "hopper: environment steps a chosen posture is held (one BG "
                      "decision per hold)", low=1, high=1000)
    smooth: float = param(0.05, "hopper: fraction per step by which the spinal reference moves "
                          "toward the chosen posture (1: a step to it)", low=0, high=1,
                          low_open=True)
    frames: int = param(8, "frames in the strip of a trained duet episode (0: none; drawn only "
                        "when MUJOCO_GL is egl or osmesa)", low=0, high=64)
    random_episodes: int = param(20, "episodes of the random-policy baseline per seed", low=1,
                                 high=100_000)
    seed: int = param(0, "first seed (agents, granule wiring, env resets)", low=0,
                      high=2**31 - 1)

    def __post_init__(self) -> None:
        check_fields(self)
        if self.criterion > self.max_steps:
            raise ValueError(f"criterion ({self.criterion}) must not exceed max_steps "
                             f"({self.max_steps}): the return is at most one per step")
        if self.window > self.episodes:
            raise ValueError(f"window ({self.window}) must not exceed episodes "
                             f"({self.episodes})")
        if self.env == "hopper" and self.kp == 0:
            raise ValueError("kp must be > 0 with env='hopper' (the spinal loop and the "
                             "climbing-fibre error need a stiffness)")
        if (self.bins + 1) ** 4 * self.n_tilings > 2_000_000:
            raise ValueError(f"bins ({self.bins}) and n_tilings ({self.n_tilings}) give more "
                             "than 2e6 place cells")

    def cost(self) -> Cost:
        # ~250 us per env step with the cerebellum, ~150 without (hopper ~300 / 250); an episode
        # of a learning agent lasts ~ half the cap on average (measured on 2 cores)
        steps = 2 * self.seeds * self.episodes * 0.5 * self.max_steps
        per_step = 350e-6 if self.env == "inverted_pendulum" else 450e-6
        s = 2.0 + steps * per_step + self.seeds * self.random_episodes * 0.002
        return Cost(s, f"2 conditions x {self.seeds} seeds x {self.episodes} episodes "
                       f"(<= {self.max_steps} steps)")


EXPERIMENTS = {"walk": WalkConfig}
REDUCED = {"walk": {"episodes": 10, "seeds": 1, "max_steps": 60, "change_episode": 5,
                    "criterion": 40.0, "window": 3, "bins": 4, "n_tilings": 4,
                    "n_granule": 100, "frames": 0, "random_episodes": 3}}
