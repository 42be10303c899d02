"""Config of ``cartpole`` (torch-free: checked before the heavy imports)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..params import Cost, check_fields, param

__all__ = ["EXPERIMENTS", "REDUCED", "TOPIC", "CartpoleConfig"]

TOPIC = "agents"


@dataclass(frozen=True)
class CartpoleConfig:
    episodes: int = param(600, "training episodes per seed", low=1, high=100_000)
    seeds: int = param(5, "independent agents (seeds seed, seed+1, ...)", low=1, high=100)
    bins: int = param(4, "place fields per dimension in each tiling", low=1, high=20)
    n_tilings: int = param(16, "offset populations of place cells (active cells per state)",
                           low=1, high=64)
    gamma: float = param(0.99, "discount per step", low=0, high=1, high_open=True)
    eta_critic: float = param(0.00625, "critic learning rate per step", low=0, high=10)
    eta_actor: float = param(0.00125, "actor learning rate per step", low=0, high=10)
    tau_e_critic_s: float = param(0.2, "critic eligibility time constant (0: none, TD(0))",
                                  unit="s", low=0, high=1e4)
    tau_e_actor_s: float = param(0.5, "actor eligibility time constant (0: none)", unit="s",
                                 low=0, high=1e4)
    value_init: float = param(100.0, "initial value of every state (optimistic: 1/(1-gamma) "
                              "= 100 is the value of never falling; 0: pessimistic)",
                              low=-1e4, high=1e4)
    beta: float = param(1.0, "inverse temperature of the winner-take-all", low=0, high=1e3,
                        low_open=True)
    dopamine: Literal["intact", "zero", "shuffled"] = param(
        "intact", "the broadcast TD error: intact, zeroed or shuffled (ablations)")
    random_episodes: int = param(100, "episodes of the random-policy baseline per seed",
                                 low=1, high=100_000)
    seed: int = param(0, "first seed (agents, env resets)", low=0, high=2**31 - 1)

    def __post_init__(self) -> None:
        check_fields(self)
        if (self.bins + 1) ** 4 * self.n_tilings > 5_000_000:
            raise ValueError(f"bins ({self.bins}) and n_tilings ({self.n_tilings}) give more "
                             "than 5e6 place cells")

    def cost(self) -> Cost:
        # ~100-150 us per env step (16 active place cells), ~500 steps per episode after the
        # first ~20 (measured on 2 loaded cores); the random baseline ~ 22 steps per episode
        s = 1.5 + self.seeds * (self.episodes * 0.07 + self.random_episodes * 0.0015)
        return Cost(s, f"{self.seeds} seeds x {self.episodes} episodes")


EXPERIMENTS = {"cartpole": CartpoleConfig}
REDUCED = {"cartpole": {"episodes": 30, "seeds": 2, "random_episodes": 5}}
