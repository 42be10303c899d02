"""Checkpoint protocol: safetensors + JSON round trip, and resume after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroplastic.experiments.base import Checkpointer, accepts_checkpoint
from neuroplastic.experiments.cuba import run as cuba_run
from neuroplastic.experiments.sanger_pca import run as sanger_run
from neuroplastic.lab.selftest import run as selftest_run


@settings(max_examples=20, deadline=None)
@given(step=st.integers(0, 10**6), n=st.integers(0, 20), seed=st.integers(0, 1000),
       meta=st.dictionaries(st.text(max_size=5),
                            st.one_of(st.integers(-10**9, 10**9), st.floats(allow_nan=False),
                                      st.text(max_size=5)), max_size=4))
def test_checkpointer_roundtrip(tmp_path_factory, step, n, seed, meta):
    d = tmp_path_factory.mktemp("ck")
    ck = Checkpointer(d)
    assert ck.load() is None
    g = torch.Generator().manual_seed(seed)
    tensors = {"w": torch.randn(n, 3, generator=g, dtype=torch.float64),
               "gen": g.get_state(), "i": np.arange(n, dtype=np.int32)}
    ck.save(0, {"old": torch.ones(1)}, {"x": 1})
    ck.save(step, tensors, meta)
    got_step, got, got_meta = ck.load()
    assert got_step == step and got_meta == meta and set(got) == {"w", "gen", "i"}
    assert torch.equal(got["w"], tensors["w"]) and torch.equal(got["gen"], tensors["gen"])
    assert np.array_equal(got["i"].numpy(), tensors["i"])
    # the restored generator continues the same stream
    g2 = torch.Generator()
    g2.set_state(got["gen"])
    assert torch.equal(torch.rand(4, generator=g), torch.rand(4, generator=g2))
    # the two newest steps are kept (a fallback for a damaged newest one); nothing pickled
    names = sorted(p.name for p in d.iterdir())
    kept = {0, step}
    assert names == sorted(["latest.json"] + [f"step-{s}.{ext}" for s in kept
                                              for ext in ("json", "safetensors")])
    ck.clear()
    assert ck.load() is None


def test_checkpointer_rejects_bad_step(tmp_path):
    for bad in (-1, 1.5, True, "3"):
        with pytest.raises(ValueError, match="step"):
            Checkpointer(tmp_path).save(bad, {}, {})


def test_which_experiments_can_resume():
    assert accepts_checkpoint(selftest_run)
    assert accepts_checkpoint(cuba_run)  # it can run for hours at millions of neurons
    assert not accepts_checkpoint(sanger_run)  # seconds: it reruns from scratch


def _cli(out, *extra):
    return [sys.executable, "-m", "neuroplastic.cli", "run", "lab-selftest", "--module",
            "neuroplastic.lab.selftest", "--set", "steps=40", "--set", "checkpoint_every=5",
            "--out", str(out), "--no-progress", "--checkpoint-every", "0", *extra]


def test_resume_after_sigkill_gives_identical_metrics(tmp_path):
    from neuroplastic.cli import main

    ref = tmp_path / "ref"
    assert main(["run", "lab-selftest", "--module", "neuroplastic.lab.selftest", "--set",
                 "steps=40", "--set", "checkpoint_every=5", "--out", str(ref),
                 "--no-progress"]) == 0
    out = tmp_path / "killed"
    proc = subprocess.Popen(_cli(out, "--set", "step_delay_s=0.1"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while not (out / "checkpoint" / "latest.json").exists():
            assert proc.poll() is None, "run ended before its first checkpoint"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "DONE").exists() and not (out / "metrics.json").exists()
    step = json.loads((out / "checkpoint" / "latest.json").read_text())["step"]
    assert 5 <= step < 40
    # resume (step_delay_s only slows the loop; it is not part of the arithmetic)
    assert main(["run", "lab-selftest", "--module", "neuroplastic.lab.selftest", "--set",
                 "steps=40", "--set", "checkpoint_every=5", "--set", "step_delay_s=0.1",
                 "--out", str(out), "--no-progress", "--resume", "--checkpoint-every", "0"]) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["resumed_from_step"] >= step
    a, b = (json.loads((d / "metrics.json").read_text()) for d in (ref, out))
    a.pop("wall_s"), b.pop("wall_s")
    assert a == b  # bit-identical, floats included
    assert json.loads((ref / "curves.json").read_text()) == json.loads(
        (out / "curves.json").read_text())
