"""report.html: contents, self-containment, and rendering in a real headless Chromium."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess

import matplotlib

matplotlib.use("Agg")
import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from neuroplastic.experiments.base import Result, write_result  # noqa: E402
from neuroplastic.lab.report import build_report, summary_text  # noqa: E402
from neuroplastic.lab.selftest import SelfTestConfig  # noqa: E402

CHROMIUM = next((shutil.which(c) for c in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(c)), None)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed (Debian: apt-get install -y chromium)")


def _folder(tmp_path):
    figs = {}
    for i, name in enumerate(("raster", "weights")):
        fig, ax = plt.subplots(figsize=(4, 3))
        ax.plot(np.arange(10), np.arange(10) ** (i + 1), color="tab:red")
        ax.set_title(name)
        figs[name] = fig
    result = Result(metrics={"accuracy": 0.875, "synops_total": 12345, "energy_nj": 6.5,
                             "backend": "numba"},
                    figures=figs, curves={"loss": [3.0, 2.0, 1.5, 1.2], "acc": [0.1, 0.5]})
    out = tmp_path / "res"
    cfg = SelfTestConfig(steps=7, lr=0.2)
    write_result(out, "lab-selftest", cfg, result, 1.25, ["neuroplastic", "run", "x"],
                 {"reproduce": "neuroplastic run lab-selftest --set steps=7 --set lr=0.2"})
    return out, build_report(out)


def _imgs(html):
    return re.findall(r'<img alt="([^"]*)" src="data:image/png;base64,([^"]+)"', html)


def test_report_contents(tmp_path):
    out, path = _folder(tmp_path)
    html = path.read_text(encoding="utf-8")
    imgs = dict(_imgs(html))
    # every PNG of the folder is embedded byte for byte, plus the curves panel
    assert set(imgs) == {"raster", "weights", "curves"}
    for name in ("raster", "weights"):
        assert base64.b64decode(imgs[name]) == (out / f"{name}.png").read_bytes()
    assert base64.b64decode(imgs["curves"])[:8] == b"\x89PNG\r\n\x1a\n"
    # self-contained: no scripts, no external resources
    assert "<script" not in html and not re.search(r'(src|href)="(https?:)?//', html)
    energy = html[html.index("Energy / SynOps"):html.index("Configuration")]
    assert "synops_total" in energy and "12345" in energy and "energy_nj" in energy
    assert "accuracy" not in energy
    assert "neuroplastic run lab-selftest --set steps=7 --set lr=0.2" in html
    assert "<td>lr</td><td>0.2</td>" in html and "<td>steps</td><td>7</td>" in html
    assert "1.25 s" in html  # wall time
    assert "<td>torch</td>" in html and "<td>numpy</td>" in html
    text = summary_text(out)
    assert "synops_total" in text and "loss (4 points, last 1.2)" in text


def _chromium(url, tmp_path, *args):
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr",
           "--v=0", "--virtual-time-budget=5000", *args, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


PROBE = ("<script>addEventListener('load',()=>{const i=[...document.images];"
         "document.title='imgs:'+i.filter(x=>x.complete&&x.naturalWidth>0).length+'/'+i.length"
         "})</script>")


def _console_errors(stderr):
    return [ln for ln in stderr.splitlines()
            if "Uncaught" in ln or ("CONSOLE" in ln and "ERROR" in ln)]


def _probe(html_path, tmp_path, name):
    probed = tmp_path / f"{name}.html"
    probed.write_text(html_path.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"),
                      encoding="utf-8")
    proc = _chromium(probed.as_uri(), tmp_path, "--dump-dom")
    title = re.search(r"<title>(.*?)</title>", proc.stdout)
    return (title.group(1) if title else None), _console_errors(proc.stderr)


@needs_chromium
def test_report_renders_in_headless_chromium(tmp_path):
    out, path = _folder(tmp_path)
    n = len(_imgs(path.read_text(encoding="utf-8")))
    title, errors = _probe(path, tmp_path, "probed")
    assert title == f"imgs:{n}/{n}" and n == 3
    assert errors == []
    shot = tmp_path / "shot.png"
    proc = _chromium(path.as_uri(), tmp_path, f"--screenshot={shot}", "--window-size=1200,2400")
    assert shot.is_file(), proc.stderr[-2000:]
    assert _console_errors(proc.stderr) == []
    px = mpimg.imread(shot)[..., :3]
    assert px.std() > 0.05  # not blank
    # the plots' red lines are on screen (tab:red = (0.84, 0.15, 0.16))
    red = (px[..., 0] > 0.7) & (px[..., 1] < 0.3) & (px[..., 2] < 0.3)
    assert red.sum() > 50


@needs_chromium
def test_chromium_probe_detects_broken_images_and_errors(tmp_path):
    """Negative control: the same probe reports a broken image and an uncaught error."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><head><title>x</title></head><body>'
                   '<img src="data:image/png;base64,AAAA"><img src="missing.png">'
                   "<script>undefinedFunction()</script></body></html>")
    title, errors = _probe(bad, tmp_path, "bad-probed")
    assert title == "imgs:0/2"
    assert errors and "undefinedFunction" in " ".join(errors)


def test_report_cli_refuses_non_result_folder(tmp_path, capsys):
    from neuroplastic.cli import main

    assert main(["report", str(tmp_path)]) == 2
    assert "not a finished result folder (no metrics.json)" in capsys.readouterr().err
