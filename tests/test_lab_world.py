"""Rank and size of a parallel run (lab.world): torchrun's, or an MPI launcher's environment.

Under ``mpirun -np N neuroplastic run cuba --set backend=nest`` every copy computes (NEST needs
all of them) and rank 0 alone writes the result folder; without that the copies would write
the same folder at once.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from neuroplastic.cli import main
from neuroplastic.lab.world import mpi_launcher_world, world

MOD = ["--module", "neuroplastic.lab.selftest"]
MPI_VARS = ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "PMI_RANK", "PMI_SIZE")


@given(size=st.integers(1, 100_000), data=st.data(),
       names=st.sampled_from([("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"),
                              ("PMI_RANK", "PMI_SIZE")]))
def test_launcher_rank_and_size_are_read_from_its_environment(size, data, names):
    rank = data.draw(st.integers(0, size - 1))
    assert mpi_launcher_world({names[0]: str(rank), names[1]: str(size)}) == (rank, size)


@given(size=st.integers(1, 1000), excess=st.integers(0, 1000))
def test_a_rank_outside_the_size_is_refused_naming_the_variable(size, excess):
    with pytest.raises(ValueError, match=f"PMI_RANK={size + excess} is not a rank of PMI_SIZE"):
        mpi_launcher_world({"PMI_RANK": str(size + excess), "PMI_SIZE": str(size)})


def test_outside_a_launcher_there_is_one_process(monkeypatch):
    for v in MPI_VARS:
        monkeypatch.delenv(v, raising=False)
    assert mpi_launcher_world({"OMPI_COMM_WORLD_RANK": "0"}) is None  # no size: not a launcher
    assert world() == (0, 1)
    # Open MPI's variables come first (its launcher may also set PMI_* for other reasons)
    both = {"OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "4", "PMI_RANK": "0",
            "PMI_SIZE": "1"}
    assert mpi_launcher_world(both) == (1, 4)


def _launch(monkeypatch, rank, size, out):
    monkeypatch.setenv("OMPI_COMM_WORLD_RANK", str(rank))
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", str(size))
    return main(["run", "lab-selftest", *MOD, "--set", "steps=20", "--set", "checkpoint_every=1",
                 "--out", str(out), "--no-progress", "--checkpoint-every", "0"])


def test_under_an_mpi_launcher_only_rank_zero_writes(monkeypatch, tmp_path, capsys):
    out = tmp_path / "run"
    assert _launch(monkeypatch, 1, 2, out) == 0  # computes, writes nothing (no checkpoints)
    assert not out.exists()
    assert "wrote" not in capsys.readouterr().out
    assert _launch(monkeypatch, 0, 2, out) == 0
    assert "wrote" in capsys.readouterr().out
    assert json.loads((out / "run.json").read_text())["world_size"] == 2
    assert (out / "DONE").exists() and (out / "metrics.json").exists()
