"""``report.html``: one self-contained page per result folder, and a terminal summary.

The page holds the resolved config, the metrics, the energy / SynOps numbers (metrics whose
key mentions synops, energy, joules or MACs), the wall time, the command that reproduces the
run, the library and dependency versions, every plot of the folder and the curves of
``curves.json`` — plots embedded as base64 PNG, no scripts, no external resources.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
from pathlib import Path
from typing import Any

__all__ = ["ENERGY_PATTERN", "build_report", "curves_png", "load_folder", "summary_text"]

ENERGY_PATTERN = re.compile(r"synop|energy|joule|_[pnumk]?j$|_[pnum]j_|macs?(_|$)", re.I)


def _read_json(path: Path) -> Any:
    from .run_folder import read_json

    return read_json(path, "result file") if path.is_file() else None


def load_folder(folder: str | Path) -> dict[str, Any]:
    """Everything a report needs from a result folder (missing files give ``None`` / ``{}``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder}: no such result folder")
    if not (folder / "metrics.json").is_file():
        hint = (" (an unfinished run: continue it with neuroplastic run NAME --resume --out "
                f"{folder})") if (folder / "config.json").is_file() else ""
        raise ValueError(f"{folder}: not a finished result folder (no metrics.json){hint}")
    cfg = _read_json(folder / "config.json") or {}
    run = _read_json(folder / "run.json") or {}
    metrics = _read_json(folder / "metrics.json")
    for path, obj in (("config.json", cfg), ("run.json", run), ("metrics.json", metrics)):
        if not isinstance(obj, dict):
            raise ValueError(f"{folder / path}: expected a JSON object, got "
                             f"{type(obj).__name__}; rerun the experiment or restore the file")
    figures = run.get("figures")
    written = run.get("files")  # what this run wrote: files of earlier runs are not shown
    pngs = sorted(p.name[:-4] for p in folder.glob("*.png")
                  if written is None or p.name in written)
    if figures is None:
        figures = pngs
    else:
        figures = [f for f in figures if f in pngs] + [p for p in pngs if p not in figures]
    return {
        "folder": folder,
        "experiment": cfg.get("experiment") or run.get("experiment") or folder.name,
        "config": cfg.get("config", {}),
        "metrics": metrics,
        "run": run,
        "curves": (_read_json(folder / "curves.json") or {})
        if written is None or "curves.json" in written else {},
        "figures": figures,
    }


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, list):  # a list metric (numbers)
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v)


def curves_png(curves_by_run: dict[str, dict[str, list[float]]]) -> bytes:
    """One panel per curve name, one line per run; PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted({n for c in curves_by_run.values() for n in c})
    cols = min(2, len(names))
    rows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5.5 * cols, 3.2 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        for label, curves in curves_by_run.items():
            if name in curves:
                ax.plot(range(len(curves[name])), curves[name], label=label, lw=1.2)
        ax.set(xlabel="step", title=name)
        if len(curves_by_run) > 1:
            ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def _img(png: bytes, alt: str) -> str:
    b64 = base64.b64encode(png).decode("ascii")
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}">' \
           f"<figcaption>{html.escape(alt)}</figcaption></figure>"


def _table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;
text-align:left;font-family:ui-monospace,monospace;font-size:13px}th{background:#f3f3f3}
figure{display:inline-block;margin:.5em;vertical-align:top}img{max-width:100%;border:1px solid
#eee}pre{background:#f6f6f6;padding:.6em;overflow-x:auto}h2{border-bottom:1px solid #ddd}"""


def page(title: str, body: str) -> str:
    """A complete HTML document (UTF-8, inline CSS, no scripts)."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head>"
            f"<body>{body}</body></html>\n")


def build_report(folder: str | Path) -> Path:
    """Write ``folder/report.html`` from the folder's files; returns its path."""
    d = load_folder(folder)
    folder = d["folder"]
    run, metrics = d["run"], d["metrics"]
    parts = [f"<h1>{html.escape(str(d['experiment']))}</h1>",
             f"<p>Result folder <code>{html.escape(str(folder))}</code>; finished "
             f"{html.escape(str(run.get('finished', '?')))}; wall time "
             f"<b>{_fmt(run.get('wall_s', metrics.get('wall_s', '?')))} s</b>"
             + (f"; resumed from step {run['resumed_from_step']}"
                if run.get("resumed_from_step") is not None else "")
             + (f"; {run['world_size']} processes" if run.get("world_size", 1) > 1 else "")
             + "</p>"]
    reproduce = run.get("reproduce") or run.get("command")
    if reproduce:
        parts.append(f"<h2>Reproduce</h2><pre>{html.escape(reproduce)}</pre>")
        if run.get("command") and run.get("command") != reproduce:
            parts.append(f"<p>Original command: <code>{html.escape(run['command'])}</code></p>")
    parts.append("<h2>Metrics</h2>" + _table([(k, _fmt(v)) for k, v in metrics.items()],
                                               ("metric", "value")))
    energy = [(k, _fmt(v)) for k, v in metrics.items() if ENERGY_PATTERN.search(k)]
    parts.append("<h2>Energy / SynOps</h2>" + (_table(energy, ("metric", "value")) if energy
                                                 else "<p>No energy or SynOps metrics.</p>"))
    parts.append("<h2>Configuration</h2>" + _table(
        [(k, json.dumps(v)) for k, v in d["config"].items()], ("field", "value")))
    figs = []
    for name in d["figures"]:
        figs.append(_img((folder / f"{name}.png").read_bytes(), name))
    if d["curves"]:
        figs.append(_img(curves_png({str(d["experiment"]): d["curves"]}), "curves"))
    parts.append("<h2>Plots</h2>" + ("".join(figs) if figs else "<p>No plots.</p>"))
    vers = run.get("versions") or {}
    if vers:
        parts.append("<h2>Versions</h2>" + _table(list(vers.items()), ("package", "version")))
    out = folder / "report.html"
    out.write_text(page(f"{d['experiment']} — neuroplastic report", "".join(parts)),
                   encoding="utf-8")
    return out


def summary_text(folder: str | Path) -> str:
    """The terminal summary printed by ``neuroplastic show``."""
    d = load_folder(folder)
    run, metrics = d["run"], d["metrics"]
    lines = [f"{d['experiment']}  ({d['folder']})"]
    if run.get("finished"):
        lines.append(f"  finished {run['finished']}, wall {_fmt(run.get('wall_s', '?'))} s")
    if run.get("reproduce"):
        lines.append(f"  reproduce: {run['reproduce']}")
    lines.append("config:")
    w = max((len(k) for k in d["config"]), default=0)
    lines += [f"  {k:{w}s}  {json.dumps(v)}" for k, v in d["config"].items()]
    lines.append("metrics:")
    w = max((len(k) for k in metrics), default=0)
    lines += [f"  {k:{w}s}  {_fmt(v)}" for k, v in metrics.items()]
    if d["curves"]:
        lines.append("curves: " + ", ".join(
            f"{k} ({len(v)} points, last {_fmt(v[-1]) if v else '-'})"
            for k, v in d["curves"].items()))
    if d["figures"]:
        lines.append("plots: " + ", ".join(d["figures"]))
    report = Path(d["folder"]) / "report.html"
    lines.append(f"report: {report if report.exists() else '(none; neuroplastic report DIR)'}")
    return "\n".join(lines)
