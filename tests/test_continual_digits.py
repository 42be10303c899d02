"""continual-digits: replay without stored samples beats naive class-IL; kill-and-resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from neuroplastic.experiments.configs.continual_digits import REDUCED, ContinualDigitsConfig
from neuroplastic.experiments.continual_digits import run

SMALL = dict(epochs=3, hidden=64, importance_samples=20)


def test_replay_learns_class_incremental_without_stored_samples():
    rep = run(ContinualDigitsConfig(**SMALL), progress=False)
    naive = run(ContinualDigitsConfig(method="naive", **SMALL), progress=False)
    m, n = rep.metrics, naive.metrics
    assert m["stored_raw_samples"] == 0 and m["stored_generator_floats"] > 0
    assert n["class_il_acc"] < 0.35  # catastrophic forgetting: only the last task survives
    assert m["class_il_acc"] > n["class_il_acc"] + 0.4
    assert m["task_il_acc"] > 0.9
    Rc = rep.arrays["accuracy_matrix_class_il"]
    assert Rc.shape == (5, 5) and float(Rc[0, 0]) > 0.9
    assert set(rep.figures) == {"accuracy_matrix", "forgetting_curves", "alpha_beta"}
    assert len(rep.curves["alpha"]) == len(rep.curves["beta"]) > 0
    assert "train_s" in rep.timings and "train_s" not in m
    # the controller found the task switches in the data
    assert m["switches_at_task_boundaries"] >= 3


def test_config_validation():
    with pytest.raises(ValueError, match="n_tasks"):
        ContinualDigitsConfig(n_tasks=3)
    with pytest.raises(ValueError, match="method"):
        ContinualDigitsConfig(method="bogus")
    with pytest.raises(ValueError, match="strength"):
        ContinualDigitsConfig(strength=-1.0)
    assert ContinualDigitsConfig().cost().seconds > 0


def _cli(out, *extra, env=None):
    sets = [f"{k}={v}" for k, v in REDUCED["continual-digits"].items()]
    args = [sys.executable, "-m", "neuroplastic.cli", "run", "continual-digits", "--out",
            str(out), "--no-progress", "--checkpoint-every", "0"]
    for s in sets + ["method=si"]:
        args += ["--set", s]
    return subprocess.run(args + list(extra), env=env, capture_output=True, text=True,
                          timeout=300)


def test_kill_and_resume_is_bit_identical(tmp_path):
    from safetensors.torch import load_file

    a, b = tmp_path / "a", tmp_path / "b"
    assert _cli(a).returncode == 0
    env = dict(os.environ, NEUROPLASTIC_KILL_AFTER_SAVES="3")
    killed = _cli(b, env=env)
    assert killed.returncode == -9, killed.stderr[-2000:]
    resumed = _cli(b, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    ma = json.loads((a / "metrics.json").read_text())
    mb = json.loads((b / "metrics.json").read_text())
    for k in ("train_s", "wall_s"):
        ma.pop(k), mb.pop(k)
    assert ma == mb
    assert (a / "curves.json").read_text() == (b / "curves.json").read_text()
    ta, tb = load_file(str(a / "arrays.safetensors")), load_file(str(b / "arrays.safetensors"))
    assert ta.keys() == tb.keys()
    for k in ta:
        assert torch.equal(ta[k], tb[k]), k
