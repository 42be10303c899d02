"""Config of ``explain-digits`` (torch-free: checked before the heavy imports)."""

from __future__ import annotations

from dataclasses import dataclass

from ..params import Cost, check_fields, param

__all__ = ["EXPERIMENTS", "REDUCED", "TOPIC", "ExplainDigitsConfig"]

TOPIC = "explain"


@dataclass(frozen=True)
class ExplainDigitsConfig:
    """Faithful, robust, privacy-capped explanations of surrogate-gradient digits networks."""

    num_steps: int = param(16, "time steps per digit (1 ms each, Poisson at 1000 Hz)",
                           low=2, high=200)
    hidden: int = param(64, "hidden LIF neurons of the explained digits network", low=2,
                        high=4096)
    epochs: int = param(4, "training passes of the digits network (and of its twin trained "
                        "on permuted labels)", low=1, high=1000)
    n_train: int = param(1347, "training digits used (first of the stratified split)", low=20,
                         high=1347)
    n_explain: int = param(100, "test digits explained (deletion/insertion, randomisation)",
                           low=6, high=450)
    ig_steps: int = param(32, "Riemann steps of Integrated Gradients", low=2, high=1024)
    curve_steps: int = param(10, "points of the deletion/insertion curves", low=2, high=200)
    planted_train: int = param(256, "training inputs of the planted-ground-truth task", low=8,
                               high=100_000)
    planted_test: int = param(100, "planted inputs whose explanation is scored", low=4,
                              high=10_000)
    planted_epochs: int = param(10, "training passes on the planted task", low=1, high=1000)
    planted_hidden: int = param(32, "hidden LIF neurons of the planted-task network", low=2,
                                high=4096)
    robust_inputs: int = param(20, "inputs of the robustness estimates", low=2, high=450)
    jitter_p: float = param(0.05, "probability that a spike moves by one step (imperceptible "
                            "jitter)", low=0, high=1, low_open=True)
    mia_members: int = param(64, "training digits of the overfit model attacked (members; as "
                             "many non-members)", low=4, high=225)
    mia_hidden: int = param(256, "hidden LIF neurons of the overfit model", low=2, high=4096)
    mia_epochs: int = param(100, "training passes of the overfit model", low=1, high=10_000)
    mia_queries: int = param(1000, "released DP explanations audited (members + non-members, "
                             "fresh noise each)", low=8, high=1_000_000)
    epsilon: float = param(1.0, "per-release privacy budget ε", low=0, high=100, low_open=True)
    delta: float = param(1e-5, "per-release δ", low=0, high=1, low_open=True, high_open=True)
    tradeoff_eps: tuple[float, ...] = param((0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 64.0),
                                            "ε values of the privacy–fidelity curve", low=0,
                                            high=1e4, low_open=True)
    pool_time_bin: int = param(16, "time steps summed into one block of the pooled release "
                               "(>= num_steps: the whole window)", low=1, high=200)
    pool_patch: int = param(2, "side of the square pixel patches summed into one block of the "
                            "pooled release", low=1, high=8)
    seed: int = param(0, "split, spikes, initial weights, baselines, DP noise", low=0,
                      high=2**31 - 1)

    def __post_init__(self) -> None:
        check_fields(self)
        if not self.tradeoff_eps:
            raise ValueError("tradeoff_eps must list at least one ε")
        if self.mia_members > self.n_train:
            raise ValueError(f"mia_members ({self.mia_members}) must be <= n_train "
                             f"({self.n_train})")

    def cost(self) -> Cost:
        # model-training dominates: sample-steps x hidden, on the 2-core VM
        train = (2 * self.epochs * self.n_train * self.num_steps * max(1.0, self.hidden / 64)
                 + self.planted_epochs * self.planted_train * 20 * self.planted_hidden / 64
                 + self.mia_epochs * self.mia_members * self.num_steps * self.mia_hidden / 64)
        explain = (self.n_explain * (self.ig_steps + 4 * self.num_steps * 64 / 16 + 40)
                   + self.planted_test * (self.ig_steps + 20 * 16 / 4))
        return Cost(2.0 + 3e-5 * train + 2e-3 * explain,
                    f"{self.epochs} epochs x {self.n_train} digits, {self.n_explain} explained, "
                    f"{self.mia_queries} DP queries")


EXPERIMENTS = {"explain-digits": ExplainDigitsConfig}
REDUCED = {"explain-digits": {
    "num_steps": 6, "hidden": 16, "epochs": 1, "n_train": 120, "n_explain": 6, "ig_steps": 4,
    "curve_steps": 4, "planted_train": 32, "planted_test": 8, "planted_epochs": 2,
    "planted_hidden": 8, "robust_inputs": 2, "mia_members": 8, "mia_hidden": 16,
    "mia_epochs": 2, "mia_queries": 32, "tradeoff_eps": (1.0, 8.0)}}
