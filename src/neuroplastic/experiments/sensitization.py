"""Sensitization of an Aplysia-like reflex through serotonin-like presynaptic facilitation.

Three groups — no shock, one tail shock, ``many_shocks`` shocks — of the spiking withdrawal
circuit (:mod:`neuroplastic.behavior.sensitization`); siphon (S1) and mantle (S2) withdrawals
are tested before and at 1 min ... 24 h after the (last) shock.

Metrics (response / the group's baseline): ``facilitation_5min_one_shock``,
``facilitation_2h_one_shock``, ``facilitation_24h_one_shock``,
``facilitation_24h_many_shocks``, ``generalization_5min_one_shock`` (S2: sensitization is not
stimulus specific), ``control_5min`` and ``control_24h``. Figure ``sensitization``: withdrawal
vs time after the shock for the three groups (Pinsker et al. 1973; Frost et al. 1985).
"""

from __future__ import annotations

import time

import numpy as np

from .base import Result, register
from .configs.sensitization import SensitizationConfig

__all__ = ["SensitizationConfig", "run"]


def _figure(out, times):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for ax, stim, title in ((axes[0], "S1", "siphon (tested)"),
                            (axes[1], "S2", "mantle (never paired)")):
        for n, o in out.items():
            label = "control" if n == 0 else f"{n} shock{'s' if n > 1 else ''}"
            ax.semilogx(times, o[stim], "o-", ms=4, label=label)
        ax.axhline(1.0, color="k", lw=0.6, ls=":")
        ax.set(xlabel="time after the shock (min)", title=title)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("withdrawal / baseline")
    fig.tight_layout()
    return fig


@register("sensitization", SensitizationConfig,
          "Aplysia-like sensitization: serotonin-like presynaptic facilitation, short and long")
def run(config: SensitizationConfig, *, progress: bool = True) -> Result:
    from ..behavior.circuit import CircuitParams
    from ..behavior.sensitization import TEST_TIMES_MIN, run_sensitization

    t0 = time.perf_counter()
    c = config
    p = CircuitParams(w0=c.w0, facil_gain=c.facil_gain, mod_tau_s=c.mod_tau_s,
                      ltf_threshold=c.ltf_threshold, ltf_rate=c.ltf_rate, ltf_tau_s=c.ltf_tau_s)
    out = run_sensitization((0, 1, c.many_shocks), c.animals, p, c.seed)
    t = list(TEST_TIMES_MIN)

    def at(n, stim, minutes):
        return float(out[n][stim][t.index(minutes)])

    metrics = {
        "facilitation_5min_one_shock": at(1, "S1", 5.0),
        "facilitation_2h_one_shock": at(1, "S1", 120.0),
        "facilitation_24h_one_shock": at(1, "S1", 1440.0),
        "facilitation_24h_many_shocks": at(c.many_shocks, "S1", 1440.0),
        "generalization_5min_one_shock": at(1, "S2", 5.0),
        "control_5min": at(0, "S1", 5.0),
        "control_24h": at(0, "S1", 1440.0),
    }
    curves = {f"{s}_{n}_shocks": [float(v) for v in o[s]] for n, o in out.items()
              for s in ("S1", "S2")}
    return Result(metrics=metrics, figures={"sensitization": _figure(out, np.array(t))},
                  curves=curves, timings={"wall_s": time.perf_counter() - t0})
