"""The documentation builds: Sphinx, autodoc of every public module, warnings as errors.

The same command as ``docs/conf.py`` documents (and CI runs), into a temporary folder and
without parallel workers (CI has 2 cores and runs two test processes). The tutorials that the
pages include are executed by ``tests/test_tutorials.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def test_docs_build_with_warnings_as_errors(tmp_path):
    pytest.importorskip(
        "sphinx", reason="sphinx is not installed: pip install sphinx furo (pinned in "
        "requirements-ci.txt) to build the documentation"
    )
    out = tmp_path / "html"
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-q",
           "-d", str(tmp_path / "doctrees"), str(DOCS), str(out)]
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (
        f"sphinx-build failed (exit {proc.returncode}); warnings are errors:\n"
        f"{proc.stderr[-8000:]}\n{proc.stdout[-2000:]}"
    )
    # every source page became a page (a page missing from every toctree is a warning, so
    # together with -W this means the site is complete)
    sources = sorted(p.relative_to(DOCS).with_suffix(".html") for p in DOCS.rglob("*.rst")
                     if "_build" not in p.parts)
    assert sources and all((out / p).is_file() for p in sources)
    # the API reference really holds the documented objects, not just module headings
    network = (out / "api" / "network.html").read_text()
    assert 'id="neuroplastic.network.Network.connect"' in network
    # the tutorial scripts are shipped as downloads
    downloads = {p.name for p in (out / "_downloads").rglob("*.py")}
    assert {p.name for p in (DOCS / "tutorials").glob("*.py")} <= downloads
