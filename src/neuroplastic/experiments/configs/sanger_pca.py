"""Config of ``sanger-pca`` (torch-free: checked before the heavy imports)."""

from __future__ import annotations

from dataclasses import dataclass

from ..params import Cost, check_fields, param

__all__ = ["EXPERIMENTS", "REDUCED", "TOPIC", "SangerPCAConfig"]

TOPIC = "plasticity"


@dataclass(frozen=True)
class SangerPCAConfig:
    """Sanger's generalized Hebbian algorithm on the 8x8 digits, beside sklearn's PCA."""

    n_components: int = param(8, "principal components learned and compared with sklearn PCA",
                              low=1, high=64)
    scale: float = param(1.0 / 16.0, "pixels (0..16) times this (the rule is scale-invariant)",
                         low=0, high=1e6, low_open=True)
    learning_rate: float = param(1.0, "per-sample rate in units of 1/total variance",
                                 low=0, high=1e3, low_open=True)
    decay_samples: float = param(500.0, "samples before the 1/t decay of the rate sets in",
                                 low=0, high=1e12, low_open=True)
    n_epochs: int = param(20, "passes over the 1797 images", low=1, high=100_000)
    batch_size: int = param(10, "samples per Hebbian step", low=1, high=1797)
    average: bool = param(True, "report Polyak-Ruppert averaged weights as components")
    seed: int = param(0, "initial weights and shuffling", low=0, high=2**63 - 1)

    def __post_init__(self) -> None:
        check_fields(self)

    def cost(self) -> Cost:
        # two fits (batch + partial_fit stream) of 1797 samples per epoch; ~0.05 s per epoch
        # at the defaults on the 2-core VM, about linear in components
        per_epoch = 0.05 * (self.n_components / 8) * (10 / self.batch_size) ** 0.5
        return Cost(2.0 + 2 * self.n_epochs * per_epoch,
                    f"1797 images x {self.n_epochs} epochs x {self.n_components} components")


EXPERIMENTS = {"sanger-pca": SangerPCAConfig}
REDUCED = {"sanger-pca": {"n_epochs": 3, "n_components": 4}}
