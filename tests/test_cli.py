"""The command line: run / show / report / compare, config validation before any work."""

from __future__ import annotations

import json
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neuroplastic.cli import main
from neuroplastic.experiments.config import apply_overrides, config_from_dict
from neuroplastic.lab.selftest import SelfTestConfig

MOD = ["--module", "neuroplastic.lab.selftest"]
FIELDS = {"steps", "n_samples", "n_features", "batch", "lr", "noise", "checkpoint_every",
          "step_delay_s", "seed"}
INT_FIELDS = ["steps", "n_samples", "n_features", "batch", "checkpoint_every", "seed"]
FLOAT_FIELDS = ["lr", "noise", "step_delay_s"]
_settings = settings(max_examples=25, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])


def _run(args, tmp_path, capsys):
    rc = main(args)
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_run_writes_result_folder_and_show_report(tmp_path, capsys):
    out = tmp_path / "r"
    rc, stdout, _ = _run(["run", "lab-selftest", *MOD, "--set", "steps=12", "--set", "lr=0.1",
                          "--out", str(out), "--no-progress"], tmp_path, capsys)
    assert rc == 0
    for f in ("config.json", "metrics.json", "run.json", "curves.json", "report.html", "DONE",
              "loss.png", "weights.png", "arrays.safetensors"):
        assert (out / f).is_file(), f
    assert not (out / "checkpoint").exists()  # removed once finished
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["config"]["steps"] == 12 and cfg["config"]["lr"] == 0.1
    curves = json.loads((out / "curves.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(curves["loss"]) == 12 and curves["loss"][-1] == metrics["final_loss"]
    run = json.loads((out / "run.json").read_text())
    assert "--set steps=12 --set lr=0.1" in run["reproduce"]
    assert run["versions"]["torch"].startswith("2.")
    # show prints config and metrics; report rebuilds the page
    (out / "report.html").unlink()
    assert main(["report", str(out)]) == 0 and (out / "report.html").is_file()
    rc, stdout, _ = _run(["show", str(out)], tmp_path, capsys)
    assert rc == 0 and "final_loss" in stdout and "lr" in stdout and "reproduce:" in stdout


def test_reproduce_command_reproduces(tmp_path, capsys):
    """Running run.json's reproduce command gives identical metrics (minus wall time)."""
    import shlex

    a = tmp_path / "a"
    assert main(["run", "lab-selftest", *MOD, "--set", "steps=8", "--set", "seed=3",
                 "--out", str(a), "--no-progress"]) == 0
    cmd = shlex.split(json.loads((a / "run.json").read_text())["reproduce"])
    assert cmd[:2] == ["neuroplastic", "run"]
    b = tmp_path / "b"
    cmd[cmd.index("--out") + 1] = str(b)
    assert main([*cmd[1:], "--no-progress"]) == 0
    ma, mb = (json.loads((d / "metrics.json").read_text()) for d in (a, b))
    ma.pop("wall_s"), mb.pop("wall_s")
    assert ma == mb


def test_compare_tables_and_curves(tmp_path, capsys):
    for name, lr in (("slow", "0.01"), ("fast", "0.1")):
        assert main(["run", "lab-selftest", *MOD, "--set", "steps=10", "--set", f"lr={lr}",
                     "--out", str(tmp_path / name), "--no-progress"]) == 0
    capsys.readouterr()
    rc, stdout, _ = _run(["compare", str(tmp_path / "slow"), str(tmp_path / "fast"),
                          "--out", str(tmp_path / "cmp")], tmp_path, capsys)
    assert rc == 0
    lines = stdout.splitlines()
    lr_line = next(ln for ln in lines if ln.strip().startswith("lr "))
    assert "0.01" in lr_line and "0.1" in lr_line
    assert not any(ln.strip().startswith("batch ") for ln in lines)  # equal fields hidden
    loss_slow = json.loads((tmp_path / "slow" / "metrics.json").read_text())["final_loss"]
    assert f"{loss_slow:.6g}" in next(ln for ln in lines if ln.strip().startswith("final_loss"))
    for f in ("compare.png", "compare.html", "compare.csv"):
        assert (tmp_path / "cmp" / f).is_file()
    html = (tmp_path / "cmp" / "compare.html").read_text()
    assert "data:image/png;base64," in html and "fast" in html


def test_config_file_and_resume_of_finished_run(tmp_path, capsys):
    a = tmp_path / "a"
    assert main(["run", "lab-selftest", *MOD, "--set", "steps=5", "--out", str(a),
                 "--no-progress"]) == 0
    before = (a / "metrics.json").stat().st_mtime_ns
    capsys.readouterr()
    rc, stdout, _ = _run(["run", "lab-selftest", *MOD, "--out", str(a), "--resume"],
                         tmp_path, capsys)
    assert rc == 0 and "already finished" in stdout
    assert (a / "metrics.json").stat().st_mtime_ns == before
    # --resume with a different config is refused
    rc, _, err = _run(["run", "lab-selftest", *MOD, "--out", str(a), "--resume", "--set",
                       "steps=6"], tmp_path, capsys)
    assert rc == 2 and "config differs" in err
    # a config.json is a valid --config
    b = tmp_path / "b"
    assert main(["run", "lab-selftest", *MOD, "--config", str(a / "config.json"),
                 "--out", str(b), "--no-progress"]) == 0
    assert json.loads((b / "config.json").read_text()) == json.loads(
        (a / "config.json").read_text())


def test_tensorboard_flag(tmp_path, capsys):
    from neuroplastic.lab.tensorboard import tensorboard_available

    out = tmp_path / "tb"
    rc, _, err = _run(["run", "lab-selftest", *MOD, "--set", "steps=4", "--out", str(out),
                       "--no-progress", "--tensorboard"], tmp_path, capsys)
    assert rc == 0
    if tensorboard_available():
        assert list((out / "tensorboard").glob("events.out.tfevents.*"))
    else:
        assert "'tensorboard' package is not installed" in err
        assert not (out / "tensorboard").exists()


# ---------------------------------------------------------------- validation (hypothesis)
def _refused(args, capsys, tmp_path):
    out = tmp_path / "never"
    rc = main(["run", "lab-selftest", *MOD, *args, "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2
    assert not out.exists()  # refused before any work
    return err


@_settings
@given(key=st.text(string.ascii_letters + "_", min_size=1, max_size=12).filter(
    lambda k: k not in FIELDS), value=st.text(string.printable.strip(), max_size=6))
def test_unknown_key_refused(key, value, capsys, tmp_path):
    err = _refused(["--set", f"{key}={value}"], capsys, tmp_path)
    assert key in err and "unknown key" in err


@_settings
@given(key=st.sampled_from(INT_FIELDS),
       value=st.one_of(st.floats(allow_nan=False).map(lambda f: f"{f}.5" if "." not in
                                                      str(f) else str(f)),
                       st.text(string.ascii_letters, min_size=1, max_size=6)))
def test_wrong_type_int_refused(key, value, capsys, tmp_path):
    err = _refused(["--set", f"{key}={value}"], capsys, tmp_path)
    assert key in err and repr(value) in err and "expected an integer" in err


@_settings
@given(key=st.sampled_from(FLOAT_FIELDS),
       value=st.text(string.ascii_letters, min_size=1, max_size=6).filter(
           lambda s: s.lower() not in ("nan", "inf", "infinity")))
def test_wrong_type_float_refused(key, value, capsys, tmp_path):
    err = _refused(["--set", f"{key}={value}"], capsys, tmp_path)
    assert key in err and repr(value) in err and "expected a number" in err


@_settings
@given(data=st.data())
def test_out_of_range_refused(data, capsys, tmp_path):
    key, value = data.draw(st.one_of(
        st.tuples(st.just("steps"), st.integers(max_value=0)),
        st.tuples(st.just("n_features"), st.integers(max_value=0)),
        st.tuples(st.just("lr"), st.floats(max_value=0.0, allow_nan=False)),
        st.tuples(st.just("noise"), st.floats(max_value=-1e-9, allow_nan=False)),
        st.tuples(st.just("seed"), st.integers(max_value=-1)),
    ))
    err = _refused(["--set", f"{key}={value}"], capsys, tmp_path)
    assert key in err and "invalid SelfTestConfig" in err


def test_bad_config_file_refused(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"config": {"steps": "ten"}}))
    err = _refused(["--config", str(bad)], capsys, tmp_path)
    assert "steps" in err and "'ten'" in err and "expected an integer" in err
    bad.write_text("{not json")
    err = _refused(["--config", str(bad)], capsys, tmp_path)
    assert str(bad) in err
    bad.write_text(json.dumps({"stepz": 3}))
    assert "stepz" in _refused(["--config", str(bad)], capsys, tmp_path)


@_settings
@given(steps=st.integers(1, 1000), lr=st.floats(1e-6, 10.0), seed=st.integers(0, 2**31))
def test_set_roundtrip_matches_dataclass(steps, lr, seed):
    """What --set parses equals the dataclass built directly, and survives config.json."""
    cfg = apply_overrides(SelfTestConfig, [f"steps={steps}", f"lr={lr!r}", f"seed={seed}"])
    assert cfg == SelfTestConfig(steps=steps, lr=lr, seed=seed)
    assert config_from_dict(SelfTestConfig, json.loads(json.dumps(cfg.__dict__))) == cfg


def test_bad_sweep_grid_refused(tmp_path, capsys):
    out = tmp_path / "sw"
    rc = main(["sweep", "lab-selftest", *MOD, "--grid", "lr=0.1,abc", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "lr" in err and "'abc'" in err and not out.exists()


def test_list_includes_module_experiment(capsys):
    assert main(["list", *MOD]) == 0
    assert "lab-selftest" in capsys.readouterr().out


@pytest.mark.slow
def test_devices_two_processes_match_one(tmp_path):
    """--devices 2 relaunches under torch.distributed.run (gloo); the sharded SGD agrees."""
    import subprocess
    import sys

    outs = {}
    for n in (1, 2):
        out = tmp_path / f"d{n}"
        args = ["run", "lab-selftest", *MOD, "--set", "steps=6", "--devices", str(n),
                "--out", str(out), "--no-progress"]
        if n == 1:
            assert main(args) == 0
        else:  # a real relaunch: torch.distributed.run starts two gloo processes
            subprocess.run([sys.executable, "-m", "neuroplastic.cli", *args], check=True,
                           timeout=240, capture_output=True)
        outs[n] = json.loads((out / "metrics.json").read_text())
        assert json.loads((out / "run.json").read_text())["world_size"] == n
    assert outs[2]["final_loss"] == pytest.approx(outs[1]["final_loss"], rel=1e-12)
    assert outs[2]["w_error"] == pytest.approx(outs[1]["w_error"], rel=1e-12)


def test_sweep_refuses_folder_of_another_sweep(tmp_path, capsys):
    out = tmp_path / "sw"
    out.mkdir()
    (out / "sweep.json").write_text(json.dumps({"experiment": "lab-selftest", "grid": {},
                                                "seeds": 1, "set": [], "modules": []}))
    rc = main(["sweep", "lab-selftest", *MOD, "--grid", "lr=0.1", "--out", str(out)])
    assert rc == 2 and "different sweep" in capsys.readouterr().err
    assert not (out / "points").exists()


def test_resume_with_nothing_to_resume_runs_from_the_start(tmp_path, capsys):
    """``--resume`` into an empty folder: cuba runs from step 0 (no checkpoint to restore, the
    torch loop in one piece); its SynOps land in the report."""
    out = tmp_path / "cuba"
    assert main(["run", "cuba", "--set", "n_neurons=200", "--set", "duration_ms=150",
                 "--set", "backend=torch", "--out", str(out), "--no-progress", "--resume"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    run = json.loads((out / "run.json").read_text())
    assert run["resumed_from_step"] is None and (out / "DONE").is_file()
    html = (out / "report.html").read_text(encoding="utf-8")
    energy = html[html.index("Energy / SynOps"):html.index("Configuration")]
    assert f"<td>synops_total</td><td>{metrics['synops_total']}</td>" in energy
    assert len(run["figures"]) == 5
    assert html.count("<img ") == 5 + 1  # the figures and the curves panel


def test_a_missing_optional_package_is_one_line_not_an_internal_error(monkeypatch, capsys):
    import neuroplastic.cli as cli

    def boom(args):
        raise ModuleNotFoundError("No module named 'nest'", name="nest")

    monkeypatch.setattr(cli, "_cmd_list", boom)
    assert cli.main(["list"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'nest'" in err and "internal error" not in err

    def bug(args):
        raise ModuleNotFoundError("No module named 'neuroplastic.nothing'",
                                  name="neuroplastic.nothing")

    monkeypatch.setattr(cli, "_cmd_list", bug)
    assert cli.main(["list"]) == 1
    assert "internal error" in capsys.readouterr().err


def test_a_feature_a_backend_cannot_express_is_a_user_error(monkeypatch, capsys):
    """NEST / PyNN refusals (NotImplementedError naming the feature) exit 2 with one line."""
    import neuroplastic.cli as cli

    def refuse(args):
        raise NotImplementedError("per-trial source spikes (batch > 1) on NEST")

    monkeypatch.setattr(cli, "_cmd_list", refuse)
    assert cli.main(["list"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "batch > 1" in err and "internal error" not in err


def test_explain_help_names_every_supported_run_type():
    """The help of `explain` lists exactly the run types explain/runs.py can rebuild."""
    import argparse

    import neuroplastic.cli as cli
    from neuroplastic.explain.runs import SUPPORTED

    sub = next(a for a in cli._parser()._actions if isinstance(a, argparse._SubParsersAction))
    text = next(a.help for a in sub._choices_actions if a.dest == "explain")
    missing = [name for name in SUPPORTED if name not in text]
    assert not missing, f"the help of `neuroplastic explain` does not name {missing}"
