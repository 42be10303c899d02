"""The README and BENCHMARKS.md cite only what a clone has (issue 12, defect 9)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ["README.md", "BENCHMARKS.md"]
# markdown links [text](target) and `code` spans that look like repository paths
LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")
PATH = re.compile(r"`((?:\.\./|\./)?[\w.-]+(?:/[\w.*-]+)+/?)(?:[ `:])")


@pytest.mark.parametrize("doc", DOCS)
def test_every_cited_path_is_inside_the_repository(doc):
    text = (ROOT / doc).read_text(encoding="utf-8")
    cited = set(LINK.findall(text)) | set(PATH.findall(text))
    cited = {c for c in cited if not re.match(r"[a-z]+://", c)}
    assert cited, "no paths found: the pattern is broken"
    outside, missing = [], []
    for c in sorted(cited):
        target = (ROOT / c).resolve()
        if ROOT not in target.parents and target != ROOT:
            outside.append(c)
        elif ("*" not in c and not target.exists() and not c.startswith(("results/", "VENV/"))
              and not (ROOT / "src" / "neuroplastic" / c).exists()):  # package-relative
            missing.append(c)
    assert not outside, f"{doc} cites files outside the repository: {outside}"
    assert not missing, f"{doc} cites files a clone does not have: {missing}"
