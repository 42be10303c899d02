"""The result folder and the lab's checkpoints when things go wrong (issue 12, defects 2, 3, 5).

A damaged checkpoint is refused in one line naming the file and the run falls back to the
previous good one; a NaN metric is an error; a reused ``--out`` never mixes two runs; every
user error is one line on stderr naming the file or parameter, exit status 2.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroplastic.cli import main
from neuroplastic.experiments.base import Result
from neuroplastic.lab.checkpointer import Checkpointer, CheckpointError
from neuroplastic.lab.run_folder import NonFiniteMetricError, RunFolder

SELFTEST = ["--module", "neuroplastic.lab.selftest"]


def _selftest(out: Path, *extra: str) -> list[str]:
    return ["run", "lab-selftest", *SELFTEST, "--set", "steps=40", "--set", "checkpoint_every=5",
            "--out", str(out), "--no-progress", "--checkpoint-every", "0", *extra]


def _one_line_error(capsys, *needles: str) -> str:
    err = capsys.readouterr().err.strip()
    lines = [ln for ln in err.splitlines() if ln.startswith("neuroplastic: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err, err
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


# -- checkpoints: digest, atomicity, fallback -------------------------------------------------
def _three_saves(d: Path) -> Checkpointer:
    ck = Checkpointer(d, every_s=0)
    for step in (1, 2, 3):
        ck.save(step, {"w": torch.full((4,), float(step))}, {"step_seen": step})
    return ck


@settings(max_examples=25, deadline=None)
@given(which=st.sampled_from(["json", "safetensors"]), pos=st.floats(0, 1),
       bit=st.integers(0, 7))
def test_a_flipped_bit_anywhere_is_detected_and_the_previous_checkpoint_used(
        tmp_path_factory, which, pos, bit):
    d = tmp_path_factory.mktemp("ck")
    _three_saves(d)
    f = d / f"step-3.{which}"
    data = bytearray(f.read_bytes())
    i = min(int(pos * len(data)), len(data) - 1)
    data[i] ^= 1 << bit
    f.write_bytes(bytes(data))
    ck = Checkpointer(d)
    step, tensors, meta = ck.load()
    assert step == 2 and meta == {"step_seen": 2}
    assert torch.equal(tensors["w"], torch.full((4,), 2.0))
    assert len(ck.warnings) >= 1 and "step-3" in ck.warnings[-1]


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "wrong-digest"])
def test_a_damaged_pointer_falls_back_to_the_newest_good_step(tmp_path, damage, capsys):
    _three_saves(tmp_path)
    p = tmp_path / "latest.json"
    text = p.read_text()
    p.write_text({"truncate": text[: len(text) // 2], "garbage": "\x00\xffnot json",
                  "empty": "", "wrong-digest": text.replace('"sha256": "', '"sha256": "0')}[damage])
    step, _, _ = Checkpointer(tmp_path).load()
    assert step == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "latest.json" in err and "using the checkpoint of step 3" in err


def test_truncated_tensor_file_is_refused_naming_it(tmp_path):
    _three_saves(tmp_path)
    for s in (2, 3):
        f = tmp_path / f"step-{s}.safetensors"
        f.write_bytes(f.read_bytes()[:-7])
    with pytest.raises(CheckpointError, match=r"step-3\.safetensors: \d+ bytes, expected"):
        Checkpointer(tmp_path).load()


def test_every_checkpoint_damaged_is_an_error_not_a_fresh_start(tmp_path):
    _three_saves(tmp_path)
    for f in tmp_path.glob("step-*.json"):
        f.write_text("{}")
    with pytest.raises(CheckpointError, match="no earlier good checkpoint"):
        Checkpointer(tmp_path).load()


def test_no_pickle_anywhere(tmp_path):
    """A pickle dropped in place of the tensors is refused, never unpickled."""
    _three_saves(tmp_path)
    import pickle

    blob = pickle.dumps({"w": [1, 2, 3]})
    for s in (2, 3):
        (tmp_path / f"step-{s}.safetensors").write_bytes(blob)
    with pytest.raises(CheckpointError):
        Checkpointer(tmp_path).load()


def test_interval_zero_saves_at_every_opportunity_and_positive_waits(tmp_path):
    assert Checkpointer(tmp_path, every_s=0).due()
    assert not Checkpointer(tmp_path, every_s=3600).due()
    for bad in (-1, float("nan"), float("inf"), "3", True):
        with pytest.raises(ValueError, match="checkpoint interval"):
            Checkpointer(tmp_path, every_s=bad)


def test_resume_after_damage_falls_back_and_still_matches_uninterrupted(tmp_path, capsys):
    ref, out = tmp_path / "ref", tmp_path / "killed"
    assert main(_selftest(ref)) == 0
    env = {**os.environ, "NEUROPLASTIC_KILL_AFTER_SAVES": "3"}
    r = subprocess.run([sys.executable, "-m", "neuroplastic.cli", *_selftest(out)], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == -9, r.stderr
    ck = out / "checkpoint"
    assert sorted(p.name for p in ck.glob("step-*.json")) == ["step-10.json", "step-15.json"]
    raw = bytearray((ck / "step-15.safetensors").read_bytes())
    raw[-3] ^= 0x10  # one flipped bit in the newest tensors
    (ck / "step-15.safetensors").write_bytes(bytes(raw))
    capsys.readouterr()
    assert main(_selftest(out, "--resume")) == 0
    err = capsys.readouterr().err
    assert "step-15.safetensors: SHA-256 mismatch" in err and "step 10" in err
    run = json.loads((out / "run.json").read_text())
    assert run["resumed_from_step"] == 10 and run["checkpoint_warnings"]
    a, b = (json.loads((d / "metrics.json").read_text()) for d in (ref, out))
    a.pop("wall_s"), b.pop("wall_s")
    assert a == b


def test_resume_with_every_checkpoint_damaged_is_one_line_exit_2(tmp_path, capsys):
    out = tmp_path / "killed"
    env = {**os.environ, "NEUROPLASTIC_KILL_AFTER_SAVES": "2"}
    r = subprocess.run([sys.executable, "-m", "neuroplastic.cli", *_selftest(out)], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == -9
    for f in (out / "checkpoint").glob("step-*.safetensors"):
        f.write_bytes(b"\x00" * 8)
    capsys.readouterr()
    assert main(_selftest(out, "--resume")) == 2
    _one_line_error(capsys, "step-10.safetensors", "no earlier good checkpoint")
    assert not (out / "DONE").exists()


# -- NaN metrics -------------------------------------------------------------------------------
def test_a_nan_metric_is_an_error_and_the_folder_is_not_done(tmp_path):
    f = RunFolder(tmp_path)
    for res in (Result(metrics={"acc": float("nan")}),
                Result(metrics={"acc": 1.0}, curves={"loss": [1.0, float("inf")]})):
        with pytest.raises(NonFiniteMetricError, match="non-finite values in"):
            f.write_result("x", {"seed": 0}, res, 1.0, None)
        assert not (tmp_path / "metrics.json").exists()


def test_list_metrics_are_json_lists_of_numbers_and_validated(tmp_path):
    """A metric may be a list of numbers (tuple / 1-D array too): written as a JSON list,
    shown in the report; nested, non-numeric or non-finite elements are refused."""
    import numpy as np

    from neuroplastic.lab.report import _fmt

    f = RunFolder(tmp_path / "ok")
    f.write_result("x", {"seed": 0}, Result(metrics={
        "delays": [1.0, 3, 10.5], "t": (2, 4), "a": np.array([0.5, 1.5]), "none": [],
        "n": 3}), 1.0, None)
    m = json.loads((tmp_path / "ok" / "metrics.json").read_text())
    assert m["delays"] == [1.0, 3, 10.5] and m["t"] == [2, 4] and m["a"] == [0.5, 1.5]
    assert m["none"] == [] and m["n"] == 3
    assert _fmt(m["delays"]) == "[1, 3, 10.5]"
    bad = RunFolder(tmp_path / "bad")
    for metrics, err in (({"d": [1.0, [2.0]]}, TypeError), ({"d": ["1", 2]}, TypeError),
                         ({"d": [True]}, TypeError), ({"d": {"a": 1}}, TypeError),
                         ({"d": np.zeros((2, 2))}, TypeError),
                         ({"d": [1.0, float("nan")]}, NonFiniteMetricError)):
        with pytest.raises(err, match="'d'|non-finite values in d"):
            bad.write_result("x", {"seed": 0}, Result(metrics=metrics), 1.0, None)
        assert not (tmp_path / "bad" / "metrics.json").exists()


def test_cli_nan_metric_exits_1_with_one_line(tmp_path, capsys):
    # lr large enough that SGD diverges to inf / nan
    assert main(["run", "lab-selftest", *SELFTEST, "--set", "lr=10", "--set", "steps=200",
                 "--out", str(tmp_path / "r"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "non-finite values in" in err and "Traceback" not in err
    assert not (tmp_path / "r" / "DONE").exists()


# -- a reused --out ----------------------------------------------------------------------------
def test_reused_out_is_refused_then_replaced_with_force(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(_selftest(out)) == 0
    (out / "stale.png").write_bytes((out / "loss.png").read_bytes())  # a file of another run
    (out / "notes.txt").write_text("mine")
    capsys.readouterr()
    assert main(_selftest(out, "--set", "seed=1")) == 2
    _one_line_error(capsys, str(out), "--resume", "--force")
    assert (out / "notes.txt").exists()  # refused: nothing touched
    assert main(_selftest(out, "--set", "seed=1", "--force")) == 0
    assert not (out / "stale.png").exists() and not (out / "notes.txt").exists()
    assert json.loads((out / "config.json").read_text())["config"]["seed"] == 1


def test_report_shows_only_the_files_this_run_wrote(tmp_path):
    out = tmp_path / "r"
    assert main(_selftest(out)) == 0
    (out / "intruder.png").write_bytes((out / "loss.png").read_bytes())
    (out / "curves.json").write_text(json.dumps({"foreign_curve": [1.0, 2.0]}))
    run = json.loads((out / "run.json").read_text())
    run["files"].remove("curves.json")
    (out / "run.json").write_text(json.dumps(run))
    assert main(["report", str(out)]) == 0
    html = (out / "report.html").read_text()
    assert 'alt="loss"' in html and 'alt="intruder"' not in html
    assert 'alt="curves"' not in html


def test_resume_refuses_another_experiment_or_config(tmp_path, capsys):
    out = tmp_path / "r"
    out.mkdir()
    (out / "config.json").write_text(json.dumps({"experiment": "cuba", "config": {}}))
    assert main(_selftest(out, "--resume")) == 2
    _one_line_error(capsys, "config.json is a run of 'cuba'")
    (out / "config.json").write_text(json.dumps(
        {"experiment": "lab-selftest", "config": {"steps": 41}}))
    assert main(_selftest(out, "--resume")) == 2
    _one_line_error(capsys, "the config differs", "steps")


# -- errors that say where ---------------------------------------------------------------------
def test_out_under_a_regular_file(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    assert main(_selftest(tmp_path / "f" / "sub")) == 2
    _one_line_error(capsys, "is a file, not a folder")


@pytest.mark.parametrize("name", ["metrics.json", "config.json", "run.json", "curves.json"])
@pytest.mark.parametrize("command", ["show", "report", "compare"])
def test_damaged_result_files_are_named(tmp_path, capsys, name, command):
    out = tmp_path / "r"
    assert main(_selftest(out)) == 0
    (out / name).write_text('{"acc": 0.9,')  # truncated JSON
    capsys.readouterr()
    extra = ["--out", str(tmp_path / "cmp")] if command == "compare" else []
    assert main([command, str(out), *extra]) == 2
    _one_line_error(capsys, str(out / name), "not valid JSON")


def test_compare_on_a_folder_without_metrics(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["compare", str(tmp_path / "empty"), "--out", str(tmp_path / "c")]) == 2
    _one_line_error(capsys, "no metrics.json")
    assert main(["compare", str(tmp_path / "missing"), "--out", str(tmp_path / "c")]) == 2
    _one_line_error(capsys, "no such result folder")


def test_metrics_that_are_not_an_object(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(_selftest(out)) == 0
    (out / "metrics.json").write_text("[1, 2, 3]")
    assert main(["compare", str(out), "--out", str(tmp_path / "c")]) == 2
    _one_line_error(capsys, "metrics.json: expected a JSON object")


def test_unknown_key_suggests_the_closest_name(capsys):
    assert main(["run", "lab-selftest", *SELFTEST, "--set", "step=3"]) == 2
    _one_line_error(capsys, "did you mean 'steps'?")
    assert main(["run", "lab-selftst", *SELFTEST]) == 2
    _one_line_error(capsys, "did you mean 'lab-selftest'?")


def test_debug_shows_the_traceback(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        main(["--debug", *_selftest(tmp_path / "f" / "sub")])
    with pytest.raises(ValueError, match="is a file, not a folder"):
        main([*_selftest(tmp_path / "f" / "sub"), "--debug"])


def test_experiment_help_lists_every_key_with_type_default_unit_and_meaning(capsys):
    assert main(["run", "lab-selftest", *SELFTEST, "--help"]) == 0
    out = capsys.readouterr().out
    for key, typ, default, meaning in [("steps", "int", "60", "SGD steps"),
                                       ("step_delay_s", "float", "0.0", "sleep per step"),
                                       ("seed", "int", "0", "minibatch order")]:
        line = next(ln for ln in out.splitlines() if ln.strip().startswith(key + " "))
        assert typ in line and default in line and meaning in line, line
    assert "[1, 1e+06]" in out  # the allowed range of steps


def test_cost_guard_asks_for_yes(tmp_path, capsys):
    args = ["run", "lab-selftest", *SELFTEST, "--set", "steps=200", "--set", "step_delay_s=20",
            "--out", str(tmp_path / "r"), "--no-progress"]
    assert main(args) == 2
    line = _one_line_error(capsys, "estimated at about", "--yes")
    assert "about 67 min (200 steps)" in line
    assert not (tmp_path / "r").exists()  # refused before anything was written


# -- sweeps killed mid-way; progress output in logs --------------------------------------------
def test_a_sweep_killed_mid_way_resumes_to_the_uninterrupted_summary(tmp_path):
    import signal
    import time

    base = [sys.executable, "-m", "neuroplastic.cli", "sweep", "lab-selftest", *SELFTEST,
            "--grid", "lr=0.05,0.1", "--seeds", "2", "--set", "steps=30", "--set",
            "checkpoint_every=3", "--no-progress", "--checkpoint-every", "0"]
    ref, out = tmp_path / "ref", tmp_path / "killed"
    subprocess.run([*base, "--out", str(ref)], check=True, capture_output=True, timeout=600)
    slow = [*base, "--set", "step_delay_s=0.05", "--out", str(out)]
    proc = subprocess.Popen(slow, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not list((out / "points").glob("*/checkpoint/latest.json")):
            assert proc.poll() is None, "sweep ended before any checkpoint"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert not (out / "summary.csv").exists()
    subprocess.run(slow, check=True, capture_output=True, timeout=600)
    resumed = [json.loads((p / "run.json").read_text())["resumed_from_step"]
               for p in sorted((out / "points").iterdir())]
    assert any(r is not None for r in resumed)
    for p in sorted((ref / "points").iterdir()):
        a, b = (json.loads((d / p.name / "metrics.json").read_text())
                for d in (ref / "points", out / "points"))
        a.pop("wall_s"), b.pop("wall_s")
        assert a == b, p.name


def test_progress_bars_print_no_escape_codes_into_a_log(tmp_path):
    """Without a terminal (a pipe, a log file) tqdm bars are off: no \\r or ANSI codes."""
    r = subprocess.run([sys.executable, "-m", "neuroplastic.cli", "run", "lab-selftest",
                        *SELFTEST, "--set", "steps=30", "--out", str(tmp_path / "r")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    for stream in (r.stdout, r.stderr):
        assert "\r" not in stream and "\x1b[" not in stream
    assert "estimated about" in r.stderr


def test_compare_selects_metrics_and_names_an_unknown_one(tmp_path, capsys):
    a = tmp_path / "a"
    assert main(_selftest(a)) == 0
    capsys.readouterr()
    assert main(["compare", str(a), "--metric", "final_loss", "--out", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert "final_loss" in out and "w_error" not in out
    assert main(["compare", str(a), "--metric", "final_los", "--out", str(tmp_path / "c")]) == 2
    _one_line_error(capsys, "--metric final_los", "did you mean 'final_loss'?")


def test_run_help_without_a_name_shows_the_options(capsys):
    assert main(["run", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--checkpoint-every" in out and "--resume" in out and "--force" in out


def test_missing_mnist_is_one_line_saying_how_to_get_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NEUROPLASTIC_MNIST", str(tmp_path / "no-such-mnist.pkl.gz"))
    rc = main(["run", "stdp-digits", "--set", "dataset=mnist", "--set", "n_exc=5", "--set",
               "epochs=1", "--set", "n_train=100", "--set", "n_test=100",
               "--out", str(tmp_path / "r"), "--no-progress"])
    assert rc == 2
    _one_line_error(capsys, "MNIST")
