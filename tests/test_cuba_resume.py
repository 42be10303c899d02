"""The cuba experiment's checkpoints refuse a network they were not saved from.

(Killed-and-resumed == uninterrupted is checked for every resumable experiment, cuba
included, in ``tests/test_lab_registry.py``.) Independent truth here: the fingerprint of the
network (clock, populations, projections, a hash of the connectivity) - a checkpoint saved by
one seed's network must not be restored into another's, whatever the file says.
"""

from __future__ import annotations

import pytest

from neuroplastic.experiments.configs.cuba import CubaConfig
from neuroplastic.experiments.cuba import run
from neuroplastic.lab.checkpointer import Checkpointer

SMALL = dict(n_neurons=200, duration_ms=100.0)


def test_a_checkpoint_of_another_network_is_refused(tmp_path):
    saver = Checkpointer(tmp_path, every_s=0)
    run(CubaConfig(**SMALL, seed=1), progress=False, checkpoint=saver)
    assert saver.saves >= 2  # pieces of at most a tenth of the run, one save after each
    with pytest.raises(ValueError, match="differently built network"):
        run(CubaConfig(**SMALL, seed=2), progress=False, checkpoint=Checkpointer(tmp_path))


def test_resuming_from_the_newest_checkpoint_gives_the_uninterrupted_result(tmp_path):
    ref = run(CubaConfig(**SMALL, seed=1), progress=False)
    run(CubaConfig(**SMALL, seed=1), progress=False, checkpoint=Checkpointer(tmp_path, 0))
    # a second run finds the newest checkpoint (step 900 of 1000) and only finishes the run
    assert Checkpointer(tmp_path).load()[0] == 900
    again = run(CubaConfig(**SMALL, seed=1), progress=False, checkpoint=Checkpointer(tmp_path))
    assert again.metrics == ref.metrics
    for k, a in ref.arrays.items():
        assert (again.arrays[k] == a).all(), k
