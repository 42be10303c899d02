"""The network simulator: populations, projections, monitors, run, checkpoints.

Names are imported lazily, so that a submodule (e.g. :mod:`.checkpoint`, which reads and
verifies checkpoint files) can be used without importing the simulator.
"""

from __future__ import annotations

_EXPORTS = {
    "Network": ".network",
    "Population": ".population",
    "RateMonitor": ".monitors",
    "SpikeMonitor": ".monitors",
    "SpikeSummary": ".spike_summary",
    "StateMonitor": ".monitors",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = ["Network", "Population", "RateMonitor", "SpikeMonitor", "SpikeSummary",
           "StateMonitor"]
