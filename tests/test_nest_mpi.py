"""The NEST backend under MPI (``mpirun -np 2``): the ranks' results gathered, and equal to threads.

Independent truth: NEST's own guarantee that a simulation depends only on the number of virtual
processes (ranks x threads), not on how they are split — so 2 MPI ranks x 1 thread must give
exactly the spikes, membrane traces and learned weights of 1 process x 2 threads (Poisson inputs
included: NEST draws them per virtual process). Before :func:`run_nest` gathered across ranks,
rank 0 returned only the neurons and synapses it owns (about half).

Needs an MPI-enabled NEST, which the ``nest-simulator`` wheel is not: build one with
``benchmarks/install-nest-mpi.sh PREFIX`` (~10 min) and set ``NEUROPLASTIC_NEST_MPI=PREFIX``.
Skipped otherwise (CI), saying so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
PREFIX = os.environ.get("NEUROPLASTIC_NEST_MPI", "")
PYTHONPATH_FILE = Path(PREFIX, "pythonpath") if PREFIX else None
MPIRUN = shutil.which("mpirun")

pytestmark = pytest.mark.skipif(
    not (PYTHONPATH_FILE and PYTHONPATH_FILE.exists() and MPIRUN),
    reason="no MPI-enabled NEST (the PyPI wheel has none): benchmarks/install-nest-mpi.sh PREFIX "
           "builds one; then set NEUROPLASTIC_NEST_MPI=PREFIX (mpirun must be on PATH)")


def _env() -> dict[str, str]:
    paths = [PYTHONPATH_FILE.read_text().strip(), str(HERE.parent / "src"),
             os.environ.get("PYTHONPATH", "")]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in paths if p),
                OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
                OMP_NUM_THREADS="1")


def _launch(processes: int, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, *args]
    if processes > 1:
        cmd = [MPIRUN, "-np", str(processes), "--oversubscribe", *cmd]
    run = subprocess.run(cmd, env=_env(), cwd=cwd, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run


def _job(tmp_path: Path, processes: int, threads: int) -> dict[str, np.ndarray]:
    out = tmp_path / f"p{processes}t{threads}.npz"
    _launch(processes, [str(HERE / "_nest_mpi_job.py"), str(out), str(threads)], tmp_path)
    return dict(np.load(out))


def test_two_ranks_give_what_two_threads_give(tmp_path):
    threads = _job(tmp_path, 1, 2)
    ranks = _job(tmp_path, 2, 1)
    assert int(threads["processes"]) == 1 and int(ranks["processes"]) == 2
    assert int(threads["virtual_processes"]) == int(ranks["virtual_processes"]) == 2
    assert threads.keys() == ranks.keys()
    assert not threads["distal_reward_refused"] and ranks["distal_reward_refused"]
    for key in threads:
        if key not in ("processes", "distal_reward_refused"):
            assert np.array_equal(threads[key], ranks[key]), key
    # and the gathered results are whole, not one rank's share
    from test_interop_nest import _deterministic

    ours = _deterministic()
    ours.run(300.0)
    mon = ours.spike_monitors["a"]
    assert len(np.unique(ranks["det_neurons"])) > 25  # both ranks' neurons (round robin)
    assert np.array_equal(ranks["det_steps"], mon.steps.numpy())
    assert np.array_equal(ranks["det_neurons"], mon.neurons.numpy())
    assert ranks["det_v"].shape[2] == 3 and len(ranks["stdp_w"]) == 15
    assert len(ranks["poisson_steps"]) > 100


def test_cuba_from_the_lab_under_mpirun_writes_one_folder_with_the_whole_network(tmp_path):
    args = ["-m", "neuroplastic.cli", "run", "cuba", "--set", "backend=nest", "--set",
            "n_neurons=1000", "--set", "duration_ms=200", "--no-progress"]
    _launch(1, [*args, "--out", "one"], tmp_path)
    run = _launch(2, [*args, "--out", "two"], tmp_path)
    assert run.stdout.count("[neuroplastic] wrote") == 1  # rank 0 alone
    one = json.loads((tmp_path / "one" / "metrics.json").read_text())
    two = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert json.loads((tmp_path / "two" / "run.json").read_text())["world_size"] == 2
    assert one["backend"] == two["backend"] == "nest"
    assert one["spikes_total"] > 1000
    assert (one["nest_processes"], two["nest_processes"]) == (1, 2)
    for key in ("spikes_total", "rate_hz_mean", "isi_cv_mean", "synops_total", "synapses"):
        assert two[key] == one[key], key
