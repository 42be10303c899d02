"""The lab around the experiment registry: reports, comparisons, sweeps, resumable runs.

* :func:`run_point` — run one experiment into a result folder (checkpoint / resume,
  ``report.html``, optional TensorBoard events, ``DONE`` marker).
* :func:`build_report`, :func:`summary_text` — the HTML report and the terminal summary.
* :func:`compare`, :func:`write_compare` — line several result folders up.
* :func:`plan_sweep`, :func:`run_sweep` — grids x seeds on a process pool or Ray.
* :class:`Checkpointer` — the checkpoint protocol experiments use to be resumable.
"""

from __future__ import annotations

from ..experiments.base import Checkpointer
from .compare import Comparison, compare, write_compare
from .report import build_report, summary_text
from .runner import is_done, load_modules, reproduce_command, run_point
from .sweep import plan_sweep, run_sweep, summarize

__all__ = [
    "Checkpointer",
    "Comparison",
    "build_report",
    "compare",
    "is_done",
    "load_modules",
    "plan_sweep",
    "reproduce_command",
    "run_point",
    "run_sweep",
    "summarize",
    "summary_text",
    "write_compare",
]
