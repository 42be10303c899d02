"""What the evolutionary experiments share: DEAP, a private random state, a parallel map.

* :func:`require_deap` — DEAP (``deap``) is an optional dependency; without it the
  experiments fail with one line naming the package.
* :class:`Genome` / :class:`FitnessMax` — a DEAP individual (a list of genes with a DEAP
  ``Fitness``) defined here, not through ``deap.creator`` (which writes classes into a shared
  module at run time).
* :class:`PyRandom` — DEAP's operators draw from Python's module-level ``random``; a
  :class:`PyRandom` holds a run's own state, swapped in for the duration of a ``with`` block
  and out after it, so a run neither sees nor disturbs anyone else's draws, and its state can
  be written into a checkpoint (:meth:`PyRandom.to_array` / :meth:`PyRandom.from_array`).
* :func:`parallel_map` — the ``map`` registered in a DEAP toolbox: the builtin map (1 worker),
  a spawn-context :mod:`multiprocessing` pool, or a Ray pool (``backend="ray"``, like
  ``neuroplastic sweep``). Work is always cut into the same chunks whatever the worker count,
  and every chunk seeds its own generator from ``(seed, ...)`` (:func:`chunk_rng`), so the
  results do not depend on the number of workers.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..._validation import check_choice, check_int

__all__ = ["BACKENDS", "FitnessMax", "Genome", "MissingPackageError", "PyRandom", "chunk_rng",
           "chunks", "derived_seed", "parallel_map", "require_deap"]

BACKENDS = ("local", "ray")


class MissingPackageError(ImportError, ValueError):
    """An optional package is not installed (a ``ValueError`` too: the command line reports it
    in one line as a user's error, not as a bug)."""


def require_deap() -> Any:
    """Import DEAP or fail with one line naming the package."""
    try:
        import deap  # noqa: F401
        from deap import base, tools
    except ImportError:
        raise MissingPackageError("the evolution experiments need the 'deap' package "
                                  "(pip install deap==1.4.4)") from None
    return base, tools


def _fitness_cls() -> type:
    base, _ = require_deap()

    class FitnessMax(base.Fitness):
        """A single fitness value, maximised."""

        weights = (1.0,)

    FitnessMax.__module__ = __name__
    FitnessMax.__qualname__ = "FitnessMax"
    return FitnessMax


try:  # DEAP missing: the module still imports; require_deap() says what to install
    FitnessMax = _fitness_cls()
except ImportError:  # pragma: no cover - exercised only without deap
    FitnessMax = None  # type: ignore[assignment,misc]


class Genome(list):
    """A DEAP individual: the genes as a list, with a :class:`FitnessMax` attribute."""

    def __init__(self, genes=()) -> None:
        super().__init__(genes)
        if FitnessMax is None:  # pragma: no cover - only without deap
            require_deap()
        self.fitness = FitnessMax()


class PyRandom:
    """A private state of Python's ``random`` for DEAP's operators (see the module docstring).

    ``with rs: ...`` runs the block on this state and keeps the advanced state afterwards; the
    caller's global state is restored on exit.
    """

    def __init__(self, seed: int) -> None:
        self.state = random.Random(check_int("seed", seed, low=0)).getstate()
        self._saved: Any = None

    def __enter__(self) -> PyRandom:
        self._saved = random.getstate()
        random.setstate(self.state)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.state = random.getstate()
        random.setstate(self._saved)
        self._saved = None

    def to_array(self) -> tuple[np.ndarray, float | None]:
        """``(625 int64 words, gauss_next)``: the whole state, for a checkpoint."""
        version, words, gauss_next = self.state
        if version != 3:  # pragma: no cover - CPython's Mersenne Twister state
            raise ValueError(f"unexpected random state version {version}")
        return np.asarray(words, dtype=np.int64), gauss_next

    @classmethod
    def from_array(cls, words: Any, gauss_next: float | None) -> PyRandom:
        """The inverse of :meth:`to_array`."""
        out = cls(0)
        w = tuple(int(x) for x in np.asarray(words).ravel())
        if len(w) != 625:
            raise ValueError(f"random state must have 625 words, got {len(w)}")
        out.state = (3, w, None if gauss_next is None else float(gauss_next))
        return out


def chunk_rng(seed: int, *keys: int) -> np.random.Generator:
    """The numpy generator of one piece of work: seeded from ``(seed, *keys)`` only."""
    return np.random.default_rng([int(seed), *map(int, keys)])


def derived_seed(seed: int, *keys: int) -> int:
    """A 32-bit integer seed derived from ``(seed, *keys)`` (e.g. for :class:`PyRandom`)."""
    return int(np.random.SeedSequence([int(seed), *map(int, keys)]).generate_state(1)[0])


def chunks(n: int, size: int) -> list[slice]:
    """``[0, n)`` cut into consecutive slices of ``size`` (the last may be shorter)."""
    check_int("size", size, low=1)
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


@contextlib.contextmanager
def parallel_map(workers: int = 1, backend: str = "local",
                 address: str | None = None) -> Iterator[Callable]:
    """A ``map`` for ``toolbox.register("map", ...)``: order-preserving, results as a list.

    ``workers == 1`` with the local backend is the builtin map (no process is started). The
    mapped function must be importable (a module-level function) and its arguments picklable.
    """
    check_int("workers", workers, low=1)
    check_choice("backend", backend, BACKENDS)
    if backend == "local" and workers == 1:
        yield lambda fn, items: list(map(fn, items))
        return
    if backend == "local":
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(workers) as pool:
            yield lambda fn, items: pool.map(fn, list(items), chunksize=1)
        return
    try:
        from ray.util.multiprocessing import Pool as RayPool
    except ImportError:
        raise MissingPackageError("backend 'ray' needs the 'ray' package "
                                  "(pip install 'ray>=2')") from None
    from ...lab.sweep import ray_session

    with ray_session(workers, address):
        pool = RayPool(processes=workers)
        try:
            yield lambda fn, items: pool.map(fn, list(items), chunksize=1)
        finally:
            pool.terminate()
