"""``neuroplastic sweep``: a grid of configs x seeds, run locally or on Ray, resumable.

Layout of a sweep folder::

    sweep.json                 name, grid, seeds, fixed overrides, modules
    points/<k=v_..._seed=s>/   one ordinary result folder per point (DONE when finished)
    summary.csv (.parquet)     one row per finished point: grid values, seed, metrics
    summary_mean_ci.csv        per grid point: mean, std, n and 95 % CI half-width over seeds
    plots/<metric>.png         mean ± 95 % CI (Student t) against the first grid key

Restarting the same command skips finished points (``metrics.json`` + ``DONE``) and resumes
interrupted ones from their checkpoints; a point whose worker died is re-run ``retries`` times.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .runner import is_done

__all__ = [
    "Point",
    "SweepPlan",
    "check_sweep_folder",
    "plan_sweep", "run_sweep", "summarize", "sweep_summary_text"]


@dataclass(frozen=True)
class Point:
    """One run of a sweep: its folder name, ``--set`` overrides and grid values."""

    key: str
    overrides: tuple[str, ...]
    params: tuple[tuple[str, str], ...]  # grid values as given on the command line
    seed: int


@dataclass(frozen=True)
class SweepPlan:
    name: str
    grid: dict[str, list[str]]
    seeds: int
    base_overrides: tuple[str, ...] = ()
    modules: tuple[str, ...] = ()
    points: tuple[Point, ...] = field(default_factory=tuple)


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.=+-]", "-", text)


def parse_grid(specs: Sequence[str]) -> dict[str, list[str]]:
    """``["lr=0.1,0.2", "batch=8,16"]`` -> ``{"lr": ["0.1", "0.2"], "batch": ["8", "16"]}``."""
    grid: dict[str, list[str]] = {}
    for spec in specs:
        if "=" not in spec:
            raise ValueError(f"--grid expects key=v1,v2,..., got {spec!r}")
        key, values = spec.split("=", 1)
        key = key.strip()
        vals = [v.strip() for v in values.split(",") if v.strip()]
        if not vals:
            raise ValueError(f"--grid {key}: no values")
        if key in grid:
            raise ValueError(f"--grid {key}: given twice")
        if key == "seed":
            raise ValueError("--grid seed: use --seeds N instead")
        grid[key] = vals
    return grid


def plan_sweep(
    name: str,
    grid_specs: Sequence[str],
    seeds: int,
    *,
    base_overrides: Sequence[str] = (),
    modules: Sequence[str] = (),
) -> SweepPlan:
    """Validate every point's config (raises ``ValueError`` naming the key) and list them."""
    from ..experiments.config import apply_overrides
    from .runner import find_experiment, load_modules

    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"--seeds {seeds!r}: expected an integer >= 1")
    load_modules(modules)
    exp = find_experiment(name)
    grid = parse_grid(grid_specs)
    for item in base_overrides:
        if item.split("=", 1)[0].strip() in grid or item.split("=", 1)[0].strip() == "seed":
            raise ValueError(f"--set {item}: key also swept by --grid/--seeds")
    points = []
    keys = list(grid)
    for combo in itertools.product(*(grid[k] for k in keys)):
        for seed in range(seeds):
            sets = (*base_overrides, *(f"{k}={v}" for k, v in zip(keys, combo)), f"seed={seed}")
            apply_overrides(exp.config_cls, list(sets))  # fail fast, before any work
            label = "_".join(f"{k}={_safe(v)}" for k, v in zip(keys, combo))
            key = f"{label}_seed={seed}" if label else f"seed={seed}"
            points.append(Point(key, tuple(sets), tuple(zip(keys, combo)), seed))
    return SweepPlan(name, grid, seeds, tuple(base_overrides), tuple(modules), tuple(points))


def _point_worker(name: str, overrides: Sequence[str], out: str,
                  modules: Sequence[str], checkpoint_every_s: float = 30.0) -> dict[str, Any]:
    """Run one point in a worker process (spawned or Ray); resumes its own checkpoint."""
    from ..experiments.config import apply_overrides
    from .runner import find_experiment, load_modules, run_point

    load_modules(modules)
    exp = find_experiment(name)
    config = apply_overrides(exp.config_cls, list(overrides))
    return run_point(exp, config, out, progress=False, resume=True, modules=modules,
                     checkpoint_every_s=checkpoint_every_s,
                     argv=["neuroplastic", "run", name,
                           *itertools.chain.from_iterable(("--set", s) for s in overrides)])


def _log(progress: bool, msg: str) -> None:
    if progress:
        print(f"[sweep] {msg}", flush=True)


def _run_local(plan: SweepPlan, todo: list[Point], root: Path, workers: int,
               progress: bool, checkpoint_every_s: float) -> dict[str, str]:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    failed: dict[str, str] = {}
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        futs = {pool.submit(_point_worker, plan.name, p.overrides, str(root / p.key),
                            plan.modules, checkpoint_every_s): p for p in todo}
        for fut in as_completed(futs):
            p = futs[fut]
            try:
                fut.result()
                _log(progress, f"done {p.key}")
            except Exception as e:  # noqa: BLE001 - a failed point must not stop the others
                failed[p.key] = f"{type(e).__name__}: {e}"
                _log(progress, f"FAILED {p.key}: {failed[p.key]}")
    return failed


@contextmanager
def ray_session(workers: int, address: str | None = None) -> Iterator[Any]:
    """The ``ray`` module, connected to the cluster at ``address`` or to a local one of
    ``workers`` CPUs; a session started here is shut down on exit, one already running is
    left alone. Raises ``ImportError`` when ray is not installed."""
    import ray

    started = not ray.is_initialized()
    if started:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


def _run_ray(plan: SweepPlan, todo: list[Point], root: Path, workers: int, retries: int,
             address: str | None, progress: bool, checkpoint_every_s: float) -> dict[str, str]:
    try:
        import ray  # noqa: F401 - only to say what is missing
    except ImportError:
        raise RuntimeError("--backend ray needs the 'ray' package (pip install 'ray>=2')") from None
    failed: dict[str, str] = {}
    with ray_session(workers, address) as ray:
        remote = ray.remote(num_cpus=1, max_retries=retries)(_point_worker)
        refs = {remote.remote(plan.name, p.overrides, str(root.resolve() / p.key),
                              plan.modules, checkpoint_every_s): p for p in todo}
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            p = refs[ready[0]]
            try:
                ray.get(ready[0])
                _log(progress, f"done {p.key}")
            except Exception as e:  # noqa: BLE001
                failed[p.key] = f"{type(e).__name__}: {e}"
                _log(progress, f"FAILED {p.key}: {failed[p.key]}")
    return failed


def check_sweep_folder(plan: SweepPlan, out: str | Path) -> dict[str, Any]:
    """The ``sweep.json`` of ``plan``; raises if ``out`` already holds a different sweep."""
    spec = {"experiment": plan.name, "grid": plan.grid, "seeds": plan.seeds,
            "set": list(plan.base_overrides), "modules": list(plan.modules)}
    from .run_folder import _file_ancestor, read_json

    blocker = _file_ancestor(Path(out))
    if blocker is not None:
        raise ValueError(f"--out {out}: {blocker} is a file, not a folder; choose another --out")
    old = Path(out) / "sweep.json"
    if old.is_file() and read_json(old, "sweep file") != spec:
        raise ValueError(f"{out} holds a different sweep ({old}); use another --out")
    return spec


def run_sweep(
    plan: SweepPlan,
    out: str | Path,
    *,
    backend: str = "local",
    workers: int = 1,
    retries: int = 1,
    address: str | None = None,
    progress: bool = True,
    checkpoint_every_s: float = 30.0,
) -> dict[str, str]:
    """Run the unfinished points of ``plan`` into ``out/points``; summarise; return failures.

    ``backend="local"``: a spawn-context process pool of ``workers`` processes (a pool whose
    worker died is rebuilt and its unfinished points re-run, up to ``retries`` times).
    ``backend="ray"``: Ray tasks (``num_cpus=1`` each, ``max_retries=retries``) on the cluster
    at ``address`` or on a local one started with ``num_cpus=workers``. Each point
    checkpoints every ``checkpoint_every_s`` seconds, so a sweep killed at any moment and
    restarted redoes no finished point and continues unfinished ones from their checkpoints.
    """
    if backend not in ("local", "ray"):
        raise ValueError(f"backend must be 'local' or 'ray', got {backend!r}")
    out = Path(out)
    spec = check_sweep_folder(plan, out)
    root = out / "points"
    root.mkdir(parents=True, exist_ok=True)
    (out / "sweep.json").write_text(json.dumps(spec, indent=2) + "\n")
    t0 = time.perf_counter()
    failed: dict[str, str] = {}
    for attempt in range(retries + 1 if backend == "local" else 1):
        todo = [p for p in plan.points if not is_done(root / p.key)]
        skipped = len(plan.points) - len(todo)
        _log(progress, f"{len(todo)} points to run, {skipped} already finished"
             + (f" (retry {attempt})" if attempt else ""))
        if not todo:
            failed = {}
            break
        if backend == "local":
            failed = _run_local(plan, todo, root, workers, progress, checkpoint_every_s)
        else:
            failed = _run_ray(plan, todo, root, workers, retries, address, progress,
                              checkpoint_every_s)
        if not failed:
            break
    summarize(out, plan)
    _log(progress, f"{len(plan.points) - len(failed)}/{len(plan.points)} points finished in "
         f"{time.perf_counter() - t0:.1f} s; summary in {out}/summary.csv")
    return failed


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def summarize(out: str | Path, plan: SweepPlan) -> list[dict[str, Any]]:
    """Write summary.csv (+ .parquet if pyarrow), summary_mean_ci.csv and plots/; rows."""
    out = Path(out)
    rows: list[dict[str, Any]] = []
    for p in plan.points:
        folder = out / "points" / p.key
        if not is_done(folder):
            continue
        metrics = json.loads((folder / "metrics.json").read_text())
        rows.append({"point": p.key, **dict(p.params), "seed": p.seed, **metrics})
    cols: list[str] = []
    for r in rows:
        cols += [c for c in r if c not in cols]
    with open(out / "summary.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        w.writerows({k: json.dumps(v) if isinstance(v, list) else v for k, v in r.items()}
                    for r in rows)  # a list metric as its JSON text
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), out / "summary.parquet")
    except ImportError:
        pass
    agg = aggregate(rows, list(plan.grid))
    with open(out / "summary_mean_ci.csv", "w", newline="") as f:
        acols: list[str] = []
        for r in agg:
            acols += [c for c in r if c not in acols]
        w = csv.DictWriter(f, fieldnames=acols)
        w.writeheader()
        w.writerows(agg)
    if agg:
        plot_mean_ci(agg, list(plan.grid), out / "plots")
    return rows


def aggregate(rows: list[dict[str, Any]], keys: list[str]) -> list[dict[str, Any]]:
    """Mean, sample std, n and 95 % CI half-width (Student t) of each numeric metric."""
    from scipy import stats

    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in keys), []).append(r)
    metric_names = [c for c in (rows[0] if rows else {}) if c not in ("point", "seed", *keys)]
    out = []
    for combo, rs in groups.items():
        rec: dict[str, Any] = dict(zip(keys, combo))
        rec["n"] = len(rs)
        for m in metric_names:
            vals = [r[m] for r in rs if _is_num(r.get(m))]
            if len(vals) != len(rs):
                continue
            n = len(vals)
            mean = math.fsum(vals) / n
            std = math.sqrt(math.fsum((v - mean) ** 2 for v in vals) / (n - 1)) if n > 1 else 0.0
            ci = float(stats.t.ppf(0.975, n - 1)) * std / math.sqrt(n) if n > 1 else float("nan")
            rec[f"{m}_mean"], rec[f"{m}_std"], rec[f"{m}_ci95"] = mean, std, ci
        out.append(rec)
    return out


def plot_mean_ci(agg: list[dict[str, Any]], keys: list[str], folder: Path,
                 max_plots: int = 12) -> list[Path]:
    """One PNG per metric: mean ± CI against the first grid key, a line per other combo."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    metrics = [c[:-5] for c in agg[0] if c.endswith("_mean")][:max_plots]
    xkey = keys[0] if keys else None
    xs_raw = list(dict.fromkeys(r[xkey] for r in agg)) if xkey else ["all"]
    try:
        xpos = {x: float(x) for x in xs_raw}
        numeric = True
    except ValueError:
        xpos = {x: float(i) for i, x in enumerate(xs_raw)}
        numeric = False
    lines: dict[tuple, list[dict[str, Any]]] = {}
    for r in agg:
        lines.setdefault(tuple((k, r[k]) for k in keys[1:]), []).append(r)
    paths = []
    for m in metrics:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for label, rs in lines.items():
            xs = [xpos[r[xkey]] if xkey else 0.0 for r in rs]
            mean = [r[f"{m}_mean"] for r in rs]
            ci = [0.0 if math.isnan(r[f"{m}_ci95"]) else r[f"{m}_ci95"] for r in rs]
            text = ", ".join(f"{k}={v}" for k, v in label) or None
            ax.errorbar(xs, mean, yerr=ci, marker="o", capsize=3, label=text)
        if not numeric:
            ax.set_xticks(list(xpos.values()), list(xpos))
        ax.set(xlabel=xkey or "", ylabel=m, title=f"{m} (mean ± 95% CI, n={agg[0]['n']})")
        if len(lines) > 1:
            ax.legend(fontsize=7)
        fig.tight_layout()
        path = folder / f"{_safe(m)}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths


def sweep_summary_text(out: str | Path) -> str:
    """Terminal summary of a sweep folder (``neuroplastic show``)."""
    out = Path(out)
    spec = json.loads((out / "sweep.json").read_text())
    n_done = sum(is_done(p) for p in (out / "points").iterdir()) if (out / "points").is_dir() \
        else 0
    lines = [f"sweep of {spec['experiment']} ({out}): grid {spec['grid']}, "
             f"{spec['seeds']} seeds, {n_done} points finished"]
    path = out / "summary_mean_ci.csv"
    if path.is_file():
        with open(path) as f:
            rows = list(csv.DictReader(f))
        if rows:
            cols = [c for c in rows[0] if not c.endswith("_std")]
            lines.append("  ".join(cols))
            for r in rows:
                lines.append("  ".join(_short(r[c]) for c in cols))
    return "\n".join(lines)


def _short(v: str) -> str:
    try:
        return f"{float(v):.4g}"
    except ValueError:
        return v
