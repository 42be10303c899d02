"""Counter-based random streams: the numbers of step ``t`` depend only on (seed, stream, t).

Random draws are made per fixed block of :data:`BLOCK` steps from a generator seeded by
``(seed, stream, block)``. A run split into any segments, or stopped and resumed from a
checkpoint, therefore sees exactly the same numbers as an uninterrupted run.
"""

from __future__ import annotations

import zlib

import numpy as np
import numpy.random  # noqa: F401 - numpy 2 loads it on first use: here, not inside a build
import torch

BLOCK = 1000  # steps per random block
# Blocks are keyed by their index modulo 2**32 (see ``subseed``), so the streams are distinct for
# the first 2**32 blocks only: the clock of a network may not run past this step.
MAX_STEPS = BLOCK * 2**32


def subseed(seed: int, *keys: str | int) -> int:
    """A 63-bit seed derived from ``seed`` and string/int keys (stable across processes)."""
    words = [int(seed) & 0xFFFFFFFF, (int(seed) >> 32) & 0xFFFFFFFF]
    for k in keys:
        words.append(zlib.crc32(k.encode()) if isinstance(k, str) else int(k) & 0xFFFFFFFF)
    state = np.random.SeedSequence(words).generate_state(2, dtype=np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1])) & ((1 << 63) - 1)


def torch_generator(seed: int, *keys: str | int) -> torch.Generator:
    return torch.Generator().manual_seed(subseed(seed, *keys))


def numpy_generator(seed: int, *keys: str | int) -> np.random.Generator:
    return np.random.default_rng(subseed(seed, *keys))
