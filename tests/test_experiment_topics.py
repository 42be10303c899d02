"""``neuroplastic list`` groups the experiments by the ``TOPIC`` their config module declares."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

from neuroplastic.cli import main
from neuroplastic.experiments import configs, registry
from neuroplastic.experiments.configs import OTHER, TOPICS, catalog, topics

MOD = ["--module", "neuroplastic.lab.selftest"]
# config modules that do not declare a TOPIC yet (their owners add it); the lead empties this
TOPIC_PENDING: frozenset[str] = frozenset()


def _config_modules():
    for info in pkgutil.iter_modules(configs.__path__):
        if not info.name.startswith("_"):
            yield info.name, importlib.import_module(f"{configs.__name__}.{info.name}")


def _parse_list(text: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """``[(heading, [(name, description), ...]), ...]`` in printed order."""
    groups: list[tuple[str, list[tuple[str, str]]]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line.startswith(" "):
            assert line.endswith(":"), line
            groups.append((line[:-1], []))
        else:
            name, _, desc = line.strip().partition(" ")
            groups[-1][1].append((name, desc.strip()))
    return groups


def test_every_config_module_declares_a_topic_from_the_allowed_set():
    seen = set()
    for short, mod in _config_modules():
        if not getattr(mod, "EXPERIMENTS", None):
            continue
        seen.add(short)
        if short in TOPIC_PENDING and not hasattr(mod, "TOPIC"):
            continue
        assert hasattr(mod, "TOPIC"), f"configs/{short}.py declares no TOPIC"
        assert mod.TOPIC in TOPICS, f"configs/{short}.py: TOPIC {mod.TOPIC!r} not in {TOPICS}"
    assert seen >= {"energy_report", "distal_reward", "surrogate_digits"}


def test_list_groups_every_experiment_under_its_topic(capsys):
    assert main(["list", *MOD]) == 0
    groups = _parse_list(capsys.readouterr().out)
    headings = [h for h, _ in groups]
    order = [*TOPICS, OTHER]
    assert all(h in order for h in headings) and len(set(headings)) == len(headings)
    assert headings == sorted(headings, key=order.index), "headings not in TOPICS order"
    expected = {n: topics().get(n, OTHER) for n in registry()}
    printed = {name: heading for heading, rows in groups for name, _ in rows}
    assert printed == expected  # every experiment exactly once, under its own topic
    assert sum(len(rows) for _, rows in groups) == len(expected)
    assert printed["lab-selftest"] == OTHER  # not in the catalog: no topic
    assert printed["energy-report"] == "energy"
    assert printed["surrogate-randman"] == "surrogate"
    for _, rows in groups:
        names = [n for n, _ in rows]
        assert names == sorted(names)
        for name, desc in rows:
            assert desc == registry()[name].description.strip().splitlines()[0]


def test_topics_cover_the_catalog_and_default_to_other(monkeypatch):
    assert set(topics()) == set(catalog())
    mod = importlib.import_module(f"{configs.__name__}.sanger_pca")
    monkeypatch.delattr(mod, "TOPIC")
    assert topics()["sanger-pca"] == OTHER


def test_an_unknown_topic_is_refused_naming_the_module(monkeypatch, capsys):
    mod = importlib.import_module(f"{configs.__name__}.energy_report")
    monkeypatch.setattr(mod, "TOPIC", "enrgy")
    with pytest.raises(ValueError, match=r"configs\.energy_report.*'enrgy'"):
        topics()
    assert main(["list"]) == 2
    err = capsys.readouterr().err
    assert "energy_report" in err and "enrgy" in err and len(err.strip().splitlines()) == 1
