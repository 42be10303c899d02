"""The lab around the experiment registry: reports, comparisons, sweeps, resumable runs.

* :func:`run_point` — run one experiment into a result folder (checkpoint / resume,
  ``report.html``, optional TensorBoard events, ``DONE`` marker).
* :func:`build_report`, :func:`summary_text` — the HTML report and the terminal summary.
* :func:`compare`, :func:`write_compare` — line several result folders up.
* :func:`plan_sweep`, :func:`run_sweep` — grids x seeds on a process pool or Ray.
* :class:`Checkpointer` — the checkpoint protocol experiments use to be resumable.
"""

from __future__ import annotations

_EXPORTS = {
    "Checkpointer": ".checkpointer",
    "CheckpointError": ".checkpointer",
    "Comparison": ".compare",
    "compare": ".compare",
    "write_compare": ".compare",
    "build_report": ".report",
    "summary_text": ".report",
    "is_done": ".runner",
    "load_modules": ".runner",
    "reproduce_command": ".runner",
    "run_point": ".runner",
    "plan_sweep": ".sweep",
    "run_sweep": ".sweep",
    "summarize": ".sweep",
}


def __getattr__(name: str):  # lazy: importing one lab module must not import all of them
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CheckpointError",
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
