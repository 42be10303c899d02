"""Where compiled kernels are kept, and the CPU tag their names hash (shared by the C kernels of
the surrogate layers and the ahead-of-time numba modules of the simulator)."""

from __future__ import annotations

import os
import platform
from pathlib import Path

__all__ = ["cache_root", "cpu_tag"]


def cache_root() -> Path:
    """``$NEUROPLASTIC_CACHE_DIR``, else ``$XDG_CACHE_HOME/neuroplastic``, else
    ``~/.cache/neuroplastic``."""
    env = os.environ.get("NEUROPLASTIC_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "neuroplastic"


def cpu_tag() -> str:
    """The machine and, on Linux, the CPU's model and flags (what native code depends on)."""
    tag = platform.machine() + platform.processor()
    try:  # Linux: the flags decide what -march=native / the host target emits
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features", "model name")):
                    tag += line
    except OSError:
        pass
    return tag
