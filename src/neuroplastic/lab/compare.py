"""``neuroplastic compare``: configs that differ, metrics side by side, overlaid curves."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from .report import _fmt, _img, _table, curves_png, load_folder, page

__all__ = ["Comparison", "compare", "write_compare"]


@dataclass(frozen=True)
class Comparison:
    """Result of :func:`compare`: one label per run, and the tables as rows of strings."""

    labels: list[str]
    experiments: list[str]
    config_diff: list[tuple[str, ...]]  # (field, value in run 1, value in run 2, ...)
    metrics: list[tuple[str, ...]]  # (metric, run 1, run 2, ...)
    curves: dict[str, dict[str, list[float]]]  # label -> curves

    def text(self) -> str:
        """Both tables as aligned plain text."""
        out = []
        for title, rows in (("config (differing fields)", self.config_diff),
                            ("metrics", self.metrics)):
            out.append(f"{title}:")
            table = [("", *self.labels), *rows]
            if len(table) == 1:
                out.append("  (none)")
                continue
            widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
            out += ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in table]
        return "\n".join(out)


def _labels(folders: list[Path]) -> list[str]:
    names = [f.name or str(f) for f in folders]
    if len(set(names)) == len(names):
        return names
    return [str(f) for f in folders]


def compare(folders: list[str | Path], metrics: list[str] | None = None) -> Comparison:
    """Load the result folders and line them up (raises ``ValueError`` for a non-result).

    ``metrics`` restricts the metrics table to these names (an unknown name is a
    ``ValueError`` listing the known ones and the closest match)."""
    if len(folders) < 1:
        raise ValueError("compare needs at least one result folder")
    runs = [load_folder(f) for f in folders]
    labels = _labels([Path(f) for f in folders])
    keys: list[str] = []
    for r in runs:
        keys += [k for k in r["config"] if k not in keys]
    missing = object()
    diff = []
    for k in keys:
        vals = [r["config"].get(k, missing) for r in runs]
        if any(v != vals[0] for v in vals):
            diff.append((k, *("-" if v is missing else json.dumps(v) for v in vals)))
    exps = [str(r["experiment"]) for r in runs]
    if len(set(exps)) > 1:
        diff.insert(0, ("experiment", *exps))
    mkeys: list[str] = []
    for r in runs:
        mkeys += [k for k in r["metrics"] if k not in mkeys]
    if metrics:
        unknown = [m for m in metrics if m not in mkeys]
        if unknown:
            import difflib

            close = difflib.get_close_matches(unknown[0], mkeys, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ValueError(f"--metric {unknown[0]}: no such metric in these folders; {hint}"
                             f"known: {', '.join(mkeys)}")
        mkeys = list(dict.fromkeys(metrics))
    metrics = [(k, *(_fmt(r["metrics"][k]) if k in r["metrics"] else "-" for r in runs))
               for k in mkeys]
    curves = {lab: r["curves"] for lab, r in zip(labels, runs) if r["curves"]}
    return Comparison(labels, exps, diff, metrics, curves)


def write_compare(cmp: Comparison, out: str | Path) -> list[Path]:
    """Write ``compare.csv`` (metrics), ``compare.png`` (curves, if any), ``compare.html``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    with open(out / "compare.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["metric", *cmp.labels])
        w.writerows(cmp.metrics)
    paths.append(out / "compare.csv")
    body = [f"<h1>Comparison of {len(cmp.labels)} runs</h1>",
            "<h2>Config fields that differ</h2>",
            _table(cmp.config_diff, ("field", *cmp.labels)) if cmp.config_diff
            else "<p>All configs are equal.</p>",
            "<h2>Metrics</h2>", _table(cmp.metrics, ("metric", *cmp.labels))]
    if cmp.curves:
        png = curves_png(cmp.curves)
        (out / "compare.png").write_bytes(png)
        paths.append(out / "compare.png")
        body += ["<h2>Curves</h2>", _img(png, "curves")]
    else:
        body.append("<p>No curves (curves.json) in these runs.</p>")
    (out / "compare.html").write_text(page("neuroplastic compare", "".join(body)),
                                      encoding="utf-8")
    paths.append(out / "compare.html")
    return paths
