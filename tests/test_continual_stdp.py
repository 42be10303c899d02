"""``continual-stdp``: Diehl & Cook on digit classes in sequence, importance-gated vs plain.

Truths: a gate that consolidates nothing (g = 1 everywhere) leaves the gated run bit-identical
to the ungated one; both conditions are identical until the first gate is set; no raw sample
is stored; the gate keeps more of the old classes than plain STDP; bad configs are refused
naming the parameter.
"""

from __future__ import annotations

import pytest
import torch

from neuroplastic.experiments.configs.continual_stdp import ContinualStdpConfig
from neuroplastic.experiments.continual_stdp import run

SMALL = dict(n_exc=10, epochs=1, test_size=0.9, curve_every=200)


def test_gate_that_consolidates_nothing_is_bit_identical_to_plain_stdp():
    r = run(ContinualStdpConfig(**SMALL, gate_kind="step", gate_scale=1e6), progress=False)
    a = r.arrays
    assert torch.equal(a["gate"], torch.ones_like(a["gate"]))
    for k in ("weights", "theta", "labels", "R", "importance"):
        assert torch.equal(a[f"{k}_gated"], a[f"{k}_ungated"]), k
    assert r.metrics["old_class_drop_gated"] == r.metrics["old_class_drop_ungated"]


def test_gated_stdp_keeps_more_of_the_old_classes_without_stored_samples():
    r = run(ContinualStdpConfig(n_exc=20, epochs=1, test_size=0.7, curve_every=1000, seed=0),
            progress=False)
    m, a = r.metrics, r.arrays
    assert m["stored_raw_samples"] == 0
    # identical until the first gate: the accuracy on the first task right after learning it
    assert torch.equal(a["R_gated"][0], a["R_ungated"][0])
    for c in ("gated", "ungated"):
        R = a[f"R_{c}"]
        assert torch.equal(torch.triu(R, 1), torch.zeros_like(R))  # no peeking at future tasks
        lab = a[f"labels_{c}"]
        assert ((lab >= -1) & (lab <= 9)).all() and (lab >= 0).any()
    assert m["old_class_acc_after_gated"] > m["old_class_acc_after_ungated"]
    assert m["old_class_drop_gated"] < m["old_class_drop_ungated"]
    # the gate froze (g = 0) exactly the synapses whose consolidated importance reached I0
    imp = a["importance_gated"]
    assert torch.equal(a["gate"] == 0, imp >= 1.0)
    assert len(r.curves["old_class_acc_gated"]) == len(r.curves["old_class_acc_ungated"]) > 0


@pytest.mark.parametrize(("key", "value", "why"), [
    ("n_tasks", 3, "n_tasks must divide"),
    ("n_tasks", 1, "n_tasks"),
    ("gate_scale", 0.0, "gate_scale"),
    ("importance", "fisher", "importance"),
    ("curve_every", 0, "curve_every"),
])
def test_bad_config_is_refused_naming_the_parameter(key, value, why):
    with pytest.raises(ValueError, match=why):
        ContinualStdpConfig(**{key: value})
