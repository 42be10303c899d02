"""The network simulator: populations, projections, monitors, run, checkpoints."""

from .monitors import RateMonitor, SpikeMonitor, StateMonitor
from .network import Network, Population

__all__ = ["Network", "Population", "RateMonitor", "SpikeMonitor", "StateMonitor"]
