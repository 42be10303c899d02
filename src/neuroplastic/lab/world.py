"""Which process of a parallel run this is: ``(rank, size)``.

Two launchers start several copies of one command: ``torchrun`` (``neuroplastic run --devices
N``; ``torch.distributed`` is initialised) and an MPI launcher (``mpirun -np N neuroplastic run
cuba --set backend=nest``: NEST on a cluster; the launcher tells each copy its rank in the
environment). Every rank computes; rank 0 alone writes the result folder and checkpoints.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

__all__ = ["MPI_LAUNCHER_ENV", "mpi_launcher_world", "world"]

# (rank, size) variables that MPI launchers set: Open MPI, then MPICH / Intel MPI (Hydra)
MPI_LAUNCHER_ENV = (("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"), ("PMI_RANK", "PMI_SIZE"))


def _torch_world() -> tuple[int, int] | None:
    if "torch" not in sys.modules:  # nothing distributed can be initialised
        return None
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return None


def mpi_launcher_world(env: Mapping[str, str] = os.environ) -> tuple[int, int] | None:
    """``(rank, size)`` from an MPI launcher's environment, or ``None`` outside one."""
    for rank_var, size_var in MPI_LAUNCHER_ENV:
        if rank_var in env and size_var in env:
            rank, size = int(env[rank_var]), int(env[size_var])
            if not 0 <= rank < size:
                raise ValueError(f"{rank_var}={rank} is not a rank of {size_var}={size}")
            return rank, size
    return None


def world() -> tuple[int, int]:
    """``(rank, size)`` under ``torch.distributed``, else under an MPI launcher, else (0, 1)."""
    return _torch_world() or mpi_launcher_world() or (0, 1)
