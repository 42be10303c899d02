"""Optional TensorBoard event files for an experiment's curves (``--tensorboard``)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

__all__ = ["MISSING_MESSAGE", "tensorboard_available", "write_events"]

MISSING_MESSAGE = (
    "--tensorboard: the 'tensorboard' package is not installed, so no event files will be "
    "written (pip install tensorboard); curves are still saved to curves.json"
)


def tensorboard_available() -> bool:
    """Whether ``torch.utils.tensorboard`` can be used (the ``tensorboard`` package exists)."""
    return importlib.util.find_spec("tensorboard") is not None


def write_events(
    logdir: str | Path, curves: dict[str, list[float]], metrics: dict[str, Any]
) -> bool:
    """Write each curve as a scalar series (step = index) and numeric metrics at the last step.

    Returns ``False`` (and writes nothing) when TensorBoard is not installed.
    """
    if not tensorboard_available():
        return False
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(logdir))
    try:
        last = 0
        for name, series in curves.items():
            for i, v in enumerate(series):
                writer.add_scalar(f"curves/{name}", float(v), i)
            last = max(last, len(series) - 1)
        for k, v in metrics.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                writer.add_scalar(f"metrics/{k}", float(v), last)
    finally:
        writer.close()
    return True
