"""Optional TensorBoard event files for an experiment's curves (``--tensorboard``).

``neuroplastic run NAME --tensorboard`` calls :func:`write_events` after the result folder
is written: every curve of ``curves.json`` becomes the scalar series ``curves/<name>``
(step = index into the series, as in ``report.html``) and every numeric metric becomes
``metrics/<name>`` at the last step. The files go to ``OUT/tensorboard`` and are written
with :class:`torch.utils.tensorboard.SummaryWriter`; view them with
``tensorboard --logdir OUT``. Scalars are stored as TensorBoard's classic float32 values.

TensorBoard is optional: without the ``tensorboard`` package nothing is written and the
CLI prints :data:`MISSING_MESSAGE`.
"""

from __future__ import annotations

import importlib.util
import numbers
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["EVENT_GLOB", "MISSING_MESSAGE", "tensorboard_available", "write_events"]

MISSING_MESSAGE = (
    "--tensorboard: the 'tensorboard' package is not installed, so no event files will be "
    "written (pip install tensorboard); curves are still saved to curves.json"
)

EVENT_GLOB = "events.out.tfevents.*"  # file names written by SummaryWriter


def tensorboard_available() -> bool:
    """Whether ``torch.utils.tensorboard`` can be used.

    Returns
    -------
    bool
        ``True`` when the ``tensorboard`` package is installed and
        ``torch.utils.tensorboard.SummaryWriter`` imports.
    """
    if importlib.util.find_spec("tensorboard") is None:
        return False
    try:
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError:  # e.g. an incompatible tensorboard/protobuf pair
        return False
    return True


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def write_events(
    logdir: str | Path, curves: Mapping[str, Sequence[float]], metrics: Mapping[str, Any]
) -> bool:
    """Write curves as scalar series and numeric metrics at the last step.

    Any event files already in ``logdir`` (an earlier run into the same folder) are removed
    first, so that TensorBoard shows exactly one series per tag.

    Parameters
    ----------
    logdir : str or Path
        Folder for the event files (created if needed), usually ``OUT/tensorboard``.
    curves : mapping of str to sequence of float
        ``{name: series}``; written as tag ``curves/<name>``, value ``series[i]`` at step ``i``.
    metrics : mapping of str to Any
        Run metrics; each int or float (not bool) is written as tag ``metrics/<name>`` at step
        ``max(len(series)) - 1`` (0 without curves). Other values are skipped.

    Returns
    -------
    bool
        ``False`` (and nothing written) when TensorBoard is not installed, else ``True``.
    """
    if not tensorboard_available():
        return False
    from torch.utils.tensorboard import SummaryWriter

    logdir = Path(logdir)
    if logdir.is_dir():
        for old in logdir.glob(EVENT_GLOB):
            if old.is_file():
                old.unlink()
    writer = SummaryWriter(log_dir=str(logdir))
    try:
        last = 0
        for name, series in curves.items():
            values = [float(v) for v in series]
            for i, v in enumerate(values):
                writer.add_scalar(f"curves/{name}", v, i)
            last = max(last, len(values) - 1)
        for k, v in metrics.items():
            if _is_number(v):
                writer.add_scalar(f"metrics/{k}", float(v), last)
    finally:
        writer.close()
    return True
