"""Sweeps: grid planning, resume without repeating finished points, Ray == local."""

from __future__ import annotations

import csv
import json
import math
import textwrap

import pytest
from scipy import stats

from neuroplastic.lab.sweep import (
    aggregate,
    parse_grid,
    plan_sweep,
    run_sweep,
    sweep_summary_text,
)

MOD = ("neuroplastic.lab.selftest",)

# An experiment whose worker SIGKILLs itself the first time it runs the point seed == 1, and
# which logs every start to a file, so the test sees exactly which points ran how often.
CRASH_MODULE = '''
import os, signal
from dataclasses import dataclass
from pathlib import Path
from neuroplastic.experiments.base import Result, register

@dataclass(frozen=True)
class CrashConfig:
    log: str = ""  # file every start is appended to
    x: float = 1.0  # a grid value
    seed: int = 0  # which point

@register("lab-crash-once", CrashConfig, "dies once at seed 1")
def run(config, *, progress=True):
    log = Path(config.log)
    with open(log, "a") as f:
        f.write(f"x={config.x} seed={config.seed}\\n")
    marker = log.with_suffix(".crashed")
    if config.seed == 1 and not marker.exists():
        marker.write_text("1")
        os.kill(os.getpid(), signal.SIGKILL)
    return Result(metrics={"y": config.x * 10 + config.seed}, curves={"c": [config.x, 1.0]})
'''


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_parse_grid_and_plan():
    assert parse_grid(["lr=0.1, 0.2", "batch=8"]) == {"lr": ["0.1", "0.2"], "batch": ["8"]}
    for bad in (["lr"], ["lr="], ["seed=1,2"], ["lr=1", "lr=2"]):
        with pytest.raises(ValueError):
            parse_grid(bad)
    plan = plan_sweep("lab-selftest", ["lr=0.01,0.02", "batch=8,16,32"], 3, modules=MOD)
    assert len(plan.points) == 2 * 3 * 3 and len({p.key for p in plan.points}) == 18
    with pytest.raises(ValueError, match="batch"):
        plan_sweep("lab-selftest", ["batch=8,0"], 1, modules=MOD)  # out of range: refused
    with pytest.raises(ValueError, match="seeds"):
        plan_sweep("lab-selftest", ["lr=0.1"], 0, modules=MOD)


def test_aggregate_matches_student_t_interval():
    rows = [{"point": f"p{i}", "a": "1", "seed": i, "m": v}
            for i, v in enumerate([1.0, 2.0, 4.0, 7.0])]
    rows += [{"point": "q", "a": "2", "seed": 0, "m": 5.0}]
    agg = {r["a"]: r for r in aggregate(rows, ["a"])}
    vals = [1.0, 2.0, 4.0, 7.0]
    lo, hi = stats.t.interval(0.95, len(vals) - 1, loc=sum(vals) / 4, scale=stats.sem(vals))
    assert agg["1"]["n"] == 4 and agg["1"]["m_mean"] == pytest.approx(3.5)
    assert agg["1"]["m_std"] == pytest.approx(stats.tstd(vals))
    assert agg["1"]["m_ci95"] == pytest.approx((hi - lo) / 2)
    assert agg["2"]["n"] == 1 and math.isnan(agg["2"]["m_ci95"])


def test_interrupted_sweep_reruns_only_unfinished_points(tmp_path):
    mod = tmp_path / "crash_exp.py"
    mod.write_text(textwrap.dedent(CRASH_MODULE))
    log = tmp_path / "runs.log"
    plan = plan_sweep("lab-crash-once", ["x=1,2"], 2, base_overrides=[f"log={log}"],
                      modules=[str(mod)])
    keys = [p.key for p in plan.points]  # x=1 s0, x=1 s1 (dies), x=2 s0, x=2 s1
    out = tmp_path / "sweep"
    failed = run_sweep(plan, out, workers=1, retries=0, progress=False)
    assert "x=1_seed=1" in failed  # its worker was killed: the sweep was interrupted
    done_before = {k: (out / "points" / k / "metrics.json").stat().st_mtime_ns
                   for k in keys if (out / "points" / k / "DONE").exists()}
    assert "x=1_seed=0" in done_before and "x=1_seed=1" not in done_before
    # restart: finished points are skipped, the others run
    assert run_sweep(plan, out, workers=1, retries=0, progress=False) == {}
    for k, t in done_before.items():
        assert (out / "points" / k / "metrics.json").stat().st_mtime_ns == t
    starts = log.read_text().splitlines()
    assert starts.count("x=1.0 seed=0") == 1  # never repeated
    assert starts.count("x=1.0 seed=1") == 2  # the killed one, re-run once
    assert starts.count("x=2.0 seed=0") == 1 and starts.count("x=2.0 seed=1") == 1
    rows = _rows(out / "summary.csv")
    assert [r["point"] for r in rows] == keys
    assert [float(r["y"]) for r in rows] == [10.0, 11.0, 20.0, 21.0]
    agg = _rows(out / "summary_mean_ci.csv")
    assert [float(r["y_mean"]) for r in agg] == [10.5, 20.5]
    assert (out / "plots" / "y.png").is_file()
    text = sweep_summary_text(out)
    assert "4 points finished" in text and "10.5" in text and "20.5" in text
    # a third call has nothing to do
    assert run_sweep(plan, out, workers=1, retries=0, progress=False) == {}
    assert len(log.read_text().splitlines()) == len(starts)


def test_dead_worker_point_is_retried_within_one_sweep(tmp_path):
    mod = tmp_path / "crash_exp2.py"
    mod.write_text(textwrap.dedent(CRASH_MODULE).replace("lab-crash-once", "lab-crash-once-2"))
    log = tmp_path / "runs.log"
    plan = plan_sweep("lab-crash-once-2", [], 3, base_overrides=[f"log={log}"],
                      modules=[str(mod)])
    out = tmp_path / "sweep"
    assert run_sweep(plan, out, workers=1, retries=1, progress=False) == {}
    starts = log.read_text().splitlines()
    assert sorted(starts) == sorted(["x=1.0 seed=0", "x=1.0 seed=1", "x=1.0 seed=1",
                                     "x=1.0 seed=2"])


def _drop_wall(rows):
    return [{k: v for k, v in r.items() if "wall" not in k} for r in rows]


@pytest.mark.slow
def test_ray_backend_matches_local(tmp_path):
    ray = pytest.importorskip("ray", reason="ray not installed (optional extra 'ray')")
    plan = plan_sweep("lab-selftest", ["lr=0.02,0.05"], 1, base_overrides=["steps=5"],
                      modules=MOD)
    assert run_sweep(plan, tmp_path / "local", workers=2, progress=False) == {}
    assert not ray.is_initialized()
    assert run_sweep(plan, tmp_path / "ray", backend="ray", workers=2, progress=False) == {}
    assert not ray.is_initialized()  # the local cluster it started is shut down
    local, viaray = (_rows(tmp_path / d / "summary.csv") for d in ("local", "ray"))
    assert len(local) == 2 and _drop_wall(local) == _drop_wall(viaray)
    assert json.loads((tmp_path / "ray" / "sweep.json").read_text())["grid"] == {
        "lr": ["0.02", "0.05"]}
