"""``--tensorboard``: event files written by the lab read back equal to curves.json/metrics."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neuroplastic.cli import main
from neuroplastic.lab import tensorboard as tb
from neuroplastic.lab.tensorboard import EVENT_GLOB, tensorboard_available, write_events

requires_tb = pytest.mark.skipif(
    not tensorboard_available(),
    reason="the 'tensorboard' package is not installed (pip install tensorboard)",
)
MOD = ["--module", "neuroplastic.lab.selftest"]


def _read(logdir):
    """All scalar series in ``logdir``: ``{tag: (steps, float32 values)}``."""
    from tensorboard.backend.event_processing.event_accumulator import (
        SCALARS,
        EventAccumulator,
    )

    acc = EventAccumulator(str(logdir), size_guidance={SCALARS: 0})  # 0 = keep every event
    acc.Reload()
    out = {}
    for tag in acc.Tags()["scalars"]:
        events = acc.Scalars(tag)
        out[tag] = ([e.step for e in events], np.array([e.value for e in events], np.float32))
    return out


def _f32(values):
    """float32 rounding, as TensorBoard stores scalars (beyond float32 range -> +-inf)."""
    with np.errstate(over="ignore"):
        return np.asarray(values, dtype=np.float64).astype(np.float32)


def _run_cli(out, steps, capsys, seed=0, *extra):
    rc = main(["run", "lab-selftest", *MOD, "--set", f"steps={steps}", "--set", f"seed={seed}",
               "--out", str(out), "--no-progress", "--tensorboard", *extra])
    capsys.readouterr()
    assert rc == 0


@requires_tb
def test_cli_events_equal_curves_json_and_metrics(tmp_path, capsys):
    out = tmp_path / "run"
    _run_cli(out, 25, capsys)
    curves = json.loads((out / "curves.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(curves) == ["loss"] and len(curves["loss"]) == 25
    assert len(list((out / "tensorboard").glob(EVENT_GLOB))) == 1
    got = _read(out / "tensorboard")
    numeric = {k for k, v in metrics.items() if isinstance(v, (int, float))}
    assert set(got) == {"curves/loss"} | {f"metrics/{k}" for k in numeric}
    steps, values = got["curves/loss"]
    assert steps == list(range(25))
    np.testing.assert_array_equal(values, _f32(curves["loss"]))  # float32 is TB's storage
    # SGD on a well-posed regression: the loss really went down, so the series is not constant
    assert values[-1] < 0.5 * values[0]
    for k in numeric:
        steps, values = got[f"metrics/{k}"]
        assert steps == [24]
        np.testing.assert_array_equal(values, _f32([metrics[k]]))
    assert got["metrics/final_loss"][1][0] == _f32([curves["loss"][-1]])[0]


@requires_tb
def test_rerun_into_same_folder_replaces_old_events(tmp_path, capsys):
    out = tmp_path / "run"
    _run_cli(out, 12, capsys, seed=1)
    _run_cli(out, 7, capsys, 2, "--force")  # a non-empty --out is refused without it
    assert len(list((out / "tensorboard").glob(EVENT_GLOB))) == 1
    curves = json.loads((out / "curves.json").read_text())
    steps, values = _read(out / "tensorboard")["curves/loss"]
    assert steps == list(range(7))  # no leftover steps 7..11 from the first run
    np.testing.assert_array_equal(values, _f32(curves["loss"]))


@requires_tb
def test_write_events_tags_steps_and_skipped_metrics(tmp_path):
    curves = {"a": [1.0, 2.5, -3.0], "b": [0.25] * 6, "nonfinite": [math.inf, -math.inf, 1e-3]}
    metrics = {"acc": 0.75, "n": 7, "np_val": np.float64(2.0), "flag": True, "name": "x",
               "none": None, "nested": {"k": 1}}
    assert write_events(tmp_path, curves, metrics) is True
    got = _read(tmp_path)
    assert set(got) == {"curves/a", "curves/b", "curves/nonfinite",
                        "metrics/acc", "metrics/n", "metrics/np_val"}
    for name, series in curves.items():
        steps, values = got[f"curves/{name}"]
        assert steps == list(range(len(series)))
        np.testing.assert_array_equal(values, _f32(series))
    for k in ("acc", "n", "np_val"):  # at the last step of the longest curve (len 6 -> 5)
        assert got[f"metrics/{k}"][0] == [5]
        assert got[f"metrics/{k}"][1][0] == np.float32(float(metrics[k]))


@requires_tb
def test_write_events_without_curves_puts_metrics_at_step_zero(tmp_path):
    assert write_events(tmp_path / "new" / "dir", {}, {"x": -1.5})
    assert _read(tmp_path / "new" / "dir") == {"metrics/x": ([0], _f32([-1.5]))}


@requires_tb
@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(curves=st.dictionaries(
    st.text(alphabet="abcdefgh_", min_size=1, max_size=6),
    st.lists(st.floats(allow_nan=False, width=64), min_size=1, max_size=30),
    min_size=1, max_size=3))
def test_write_events_roundtrip_property(tmp_path_factory, curves):
    d = tmp_path_factory.mktemp("tb")
    assert write_events(d, curves, {})
    got = _read(d)
    assert set(got) == {f"curves/{k}" for k in curves}
    for name, series in curves.items():
        steps, values = got[f"curves/{name}"]
        assert steps == list(range(len(series)))
        np.testing.assert_array_equal(values, _f32(series))


def test_missing_tensorboard_writes_nothing(tmp_path, monkeypatch):
    real = tb.importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name == "tensorboard" else real(name, *args, **kwargs)

    monkeypatch.setattr(tb.importlib.util, "find_spec", find_spec)
    assert tb.tensorboard_available() is False
    assert write_events(tmp_path / "tb", {"a": [1.0]}, {"m": 1.0}) is False
    assert not (tmp_path / "tb").exists()
    assert "not installed" in tb.MISSING_MESSAGE and "curves.json" in tb.MISSING_MESSAGE
