"""Config of ``rewiring`` (torch-free: checked before the heavy imports)."""

from __future__ import annotations

from dataclasses import dataclass

from ..params import Cost, check_fields, param

__all__ = ["EXPERIMENTS", "REDUCED", "TOPIC", "RewiringConfig"]

TOPIC = "plasticity"


@dataclass(frozen=True)
class RewiringConfig:
    """Structural plasticity clusters synapses on a correlated input blob."""

    grid: int = param(16, "the input sheet is grid x grid", low=2, high=256)
    n_out: int = param(4, "output neurons (each grows its own receptive field)", low=1,
                       high=1024)
    capacity: int = param(24, "slots (maximal in-degree) per output", low=1, high=65536)
    init_fill: float = param(0.5, "fraction of slots filled with random synapses at start",
                             low=0, high=1)
    blob_radius: float = param(3.0, "radius of the correlated disc", unit="grid units", low=0,
                               high=128, low_open=True)
    rate: float = param(0.1, "firing probability of every input per tick", low=0, high=1)
    correlation: float = param(0.9, "probability that a blob input copies the shared event",
                               low=0, high=1)
    eta: float = param(0.02, "Hebbian learning rate", low=0, high=1e3, low_open=True)
    w_init: float = param(0.1, "weight of initial and newly grown synapses", low=0, high=1e6)
    w_max: float = param(1.0, "upper weight bound", low=0, high=1e6, low_open=True)
    w_prune: float = param(0.05, "a structural update removes weights below this", low=0,
                           high=1e6)
    p_prune: float = param(0.01, "random pruning probability per synapse per update", low=0,
                           high=1)
    p_grow: float = param(0.2, "free slot -> synapse probability per update", low=0, high=1)
    growth_baseline: float = param(0.05, "exploration floor added to the co-activity "
                                   "(relative to its mean)", low=0, high=1e6)
    update_every: int = param(50, "ticks between structural updates", low=1, high=100_000)
    n_updates: int = param(300, "structural updates simulated", low=2, high=1_000_000)
    seed: int = param(0, "input statistics, blob position, initial wiring, rewiring", low=0,
                      high=2**63 - 1)

    def __post_init__(self) -> None:
        check_fields(self)
        if self.capacity > self.grid * self.grid:
            raise ValueError(f"capacity ({self.capacity}) must be <= grid * grid "
                             f"({self.grid * self.grid}) inputs")
        if self.blob_radius > (self.grid - 1) / 2:
            raise ValueError(f"blob_radius ({self.blob_radius}) must be <= (grid - 1) / 2 = "
                             f"{(self.grid - 1) / 2} so that the blob fits on the sheet")
        if self.w_init > self.w_max:
            raise ValueError(f"w_init ({self.w_init}) must be <= w_max ({self.w_max})")
        n_pre = self.grid * self.grid
        if self.update_every * n_pre > 20_000_000:
            raise ValueError(f"update_every * grid**2 = {self.update_every * n_pre} input "
                             "values per structural update is above 2e7 (memory); a smaller "
                             "update_every or grid")
        if self.n_out * n_pre > 10_000_000:
            raise ValueError(f"n_out * grid**2 = {self.n_out * n_pre} weight-map entries is "
                             "above 1e7 (memory); fewer n_out or a smaller grid")
        if self.n_updates * self.update_every > 100_000_000:
            raise ValueError(f"n_updates * update_every = "
                             f"{self.n_updates * self.update_every} ticks is above 1e8 "
                             "(hours); fewer n_updates or a smaller update_every")

    def cost(self) -> Cost:
        # measured on the 2-core VM: ~0.087 ms per tick at the defaults (4 x 24 slots, 256
        # inputs; 300 x 50 ticks: 1.3 s + 0.3 s set-up and figures), ~1 ms per tick with
        # 32 x 200 slots on 64 x 64 inputs: the co-activity (n_out x inputs) and the slots
        ticks = self.n_updates * self.update_every
        per_tick = 8e-5 + 7e-9 * (self.n_out * self.grid**2 + self.n_out * self.capacity)
        return Cost(0.5 + ticks * per_tick,
                    f"{self.n_updates} updates x {self.update_every} ticks x "
                    f"{self.n_out * self.capacity} slots")


EXPERIMENTS = {"rewiring": RewiringConfig}
REDUCED = {"rewiring": {"n_updates": 12, "update_every": 20}}
