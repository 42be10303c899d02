"""Eyeblink conditioning: the cerebellar CR peaks at the CS-US interval, for two intervals;
it needs the climbing fibre; bad configs are refused."""

from __future__ import annotations

import numpy as np
import pytest

from neuroplastic.experiments.configs.eyeblink import EyeblinkConfig
from neuroplastic.experiments.eyeblink import condition, run

SMALL = {"trials": 40, "n_granule": 300}


def test_cr_is_timed_to_each_interval_and_grows_with_training():
    """Measured (40 trials, 300 granule cells): peaks at 250 / 490-500 ms, CR at the US
    0.6-0.75 (250 ms) and 0.45-0.65 (500 ms); at defaults (200 trials) 250 / 500 ms exactly."""
    cfg = EyeblinkConfig(**SMALL)
    res = run(cfg, progress=False)
    assert res.metrics["timed_ok"] is True
    for isi in (250, 500):
        assert res.metrics[f"cr_peak_error_frac_{isi}"] <= 0.1
        amp = res.curves[f"cr_amplitude_{isi}"]
        assert amp[0] == 0.0 and amp[-1] > 0.3  # acquired from nothing
        late = np.asarray(res.curves[f"cr_last_{isi}"])
        k = isi // cfg.dt_ms
        # timed, not a tonic closure: low at CS onset and long after the US
        assert late[:2].max() < 0.5 * late[k] and late[-3:].max() < 0.5 * late[k]


def test_peak_follows_the_interval_not_a_fixed_latency():
    cfg = EyeblinkConfig(isis_ms=(300,), **SMALL)
    out = condition(cfg, 300)
    assert abs(int(np.argmax(out["last"])) * cfg.dt_ms - 300) <= 30


def test_without_climbing_fibre_learning_no_cr():
    """With (almost) no CF-driven LTD the PF-alone LTP keeps the synapses naive: no CR."""
    cfg = EyeblinkConfig(isis_ms=(250,), trials=20, n_granule=200, eta=1e-9)
    out = condition(cfg, 250)
    assert max(out["amplitude"]) < 1e-6


@pytest.mark.parametrize("kw, name", [
    ({"isis_ms": (-250,)}, "isis_ms"), ({"isis_ms": (255,)}, "isis_ms"),
    ({"isis_ms": ()}, "isis_ms"), ({"eta": 2.0}, "eta"), ({"eta": 0.0}, "eta"),
    ({"dt_ms": 0}, "dt_ms"), ({"ltp": -0.1}, "ltp"), ({"peak_tolerance": 0.0}, "peak_tol"),
])
def test_bad_config_raises_naming_the_field(kw, name):
    with pytest.raises(ValueError, match=name):
        EyeblinkConfig(**kw)
