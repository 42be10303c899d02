"""One block of memory for the post indices of all of a network's projections.

The simulation reads every projection's post indices from one contiguous array
(:class:`~neuroplastic.network.simulation.Simulation`). Before this arena each projection's
indices lived in an array of their own and the simulation copied them into a new store: at
400k neurons (32 M synapses) 128 MiB written a second time, into memory the process had not
touched yet - on a VM the slowest part of the build. Here :meth:`IndexArena.take` hands out
the projections' index arrays one after another from one reserved block of address space (the
sampler draws straight into them), so the simulation finds them already in place and copies
nothing (:meth:`IndexArena.span`).

The block is anonymous ``mmap`` memory reserved with ``MAP_NORESERVE`` (Linux on x86-64 or
arm64): address space only; the kernel backs a page when it is first written, so an unused
reservation costs nothing. Lifetime is Python's: every array handed out is a view that keeps
the ``mmap`` alive (its buffer is exported), and the block is unmapped when the last view is
gone - nothing is ever moved or freed under a view. Where no such reservation can be made
(another OS or architecture, an address-space limit) :meth:`~IndexArena.take` returns plain
numpy arrays and the simulation copies them as before: same results, one copy more.
"""

from __future__ import annotations

import mmap
import os
import platform
import sys

import numpy as np

# MAP_NORESERVE is 0x4000 on Linux x86-64 and arm64 (other architectures differ: not used)
_NORESERVE = 0x4000
_ITEM = np.dtype(np.int32).itemsize
_HUGE_FROM = 4 << 20  # bytes of the first request from which the block asks for huge pages


def _reservable() -> bool:
    return sys.platform.startswith("linux") and platform.machine() in ("x86_64", "aarch64")


def _physical_bytes() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 1 << 34


class IndexArena:
    """int32 arrays handed out back to back from one reserved block (see the module)."""

    def __init__(self) -> None:
        self._block: np.ndarray | None = None  # int32 view of the whole reservation
        self._used = 0  # elements handed out

    def take(self, n: int) -> np.ndarray:
        """A new, uninitialised int32 array of ``n`` elements, placed right after the previous
        one when the reservation holds it (else a plain array)."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        if self._block is None and n > 0:
            self._block = self._reserve(n)
        if self._block is not None and self._used + n <= self._block.size:
            out = self._block[self._used : self._used + n]
            self._used += n
            return out
        return np.empty(n, dtype=np.int32)

    def span(self, arrays: list[np.ndarray]) -> np.ndarray | None:
        """One view of the block covering ``arrays`` if they lie in it back to back in this
        order (each one a contiguous int32 array), else None."""
        if self._block is None or not arrays:
            return None
        base = self._block.ctypes.data
        start = arrays[0].ctypes.data
        pos = start
        for a in arrays:
            if (a.dtype != np.int32 or not a.flags.c_contiguous or a.ndim != 1
                    or (a.size and a.ctypes.data != pos)):
                return None
            pos += a.size * _ITEM
        lo, hi = (start - base) // _ITEM, (pos - base) // _ITEM
        if start < base or (start - base) % _ITEM or hi > self._used:
            return None
        return self._block[lo:hi]

    @staticmethod
    def _reserve(n: int) -> np.ndarray | None:
        if not _reservable():
            return None
        # the reservation is address space only: as much as the machine has memory (no
        # network's indices could be larger), at least twice the first request
        size = max(_physical_bytes(), 2 * n * _ITEM)
        size -= size % mmap.PAGESIZE
        try:
            m = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | _NORESERVE,
                          prot=mmap.PROT_READ | mmap.PROT_WRITE)
        except (OSError, ValueError, OverflowError):
            return None
        # large networks: transparent huge pages, as numpy asks for its large arrays (512x
        # fewer page faults while the sampler fills the block); small ones keep 4 KiB pages (a
        # huge page would hold a few KiB of indices in 2 MiB)
        if n * _ITEM >= _HUGE_FROM and hasattr(mmap, "MADV_HUGEPAGE"):
            try:
                m.madvise(mmap.MADV_HUGEPAGE)
            except OSError:
                pass
        return np.frombuffer(m, dtype=np.int32)
