"""Habituation (Rankin et al. 2009) of a spiking reflex, beside Staddon & Higa's cascade.

A withdrawal reflex: a pool of Poisson sensory neurons per stimulus drives LIF motor neurons
through synapses that depress on two time scales (:mod:`neuroplastic.behavior.circuit`); a
noxious event releases a serotonin-like modulator that facilitates every sensory synapse. The
protocol (:func:`neuroplastic.behavior.habituation.habituation_protocol`) is run at a high and
a low stimulation rate; the Rankin et al. properties shown are decided from the curves
(:data:`~neuroplastic.behavior.habituation.SIGNATURE_RULES`).

Metrics: ``signatures_met`` (comma-separated list, spiking model), ``signatures_met_count``,
the same for the Staddon–Higa baseline (``..._staddon_higa``), and one 0/1 metric per property.
Figure ``habituation``: response per stimulus, series 1 and 2 at both rates, and the probes
(novel stimulus, dishabituation) — the textbook plot.
"""

from __future__ import annotations

import time

import numpy as np

from .base import Result, register
from .configs.habituation import HabituationConfig

__all__ = ["HabituationConfig", "run"]


def _figure(config, parts_spk, parts_sh):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    n = config.n_per_series
    for ax, parts, title in ((axes[0], parts_spk, "spiking circuit"),
                             (axes[1], parts_sh, "Staddon–Higa cascade")):
        x1 = np.arange(1, n + 1)
        x2 = x1 + n + 2
        for (label, c), col in zip(parts.items(), ("C3", "C0")):
            ax.plot(x1, c["series1"], "o-", ms=3, color=col, label=label)
            ax.plot(x2, c["series2"], "o-", ms=3, color=col)
            probes = [c["novel"], c["pre_shock"], c["post_shock"]]
            ax.plot(2 * n + 4 + np.arange(3) * 1.5, probes, "s", color=col, ms=6)
        ax.axvline(n + 1.5, color="k", lw=0.6, ls=":")
        ax.set_xticks([1, n, n + 3, 2 * n + 2, 2 * n + 4, 2 * n + 5.5, 2 * n + 7])
        ax.set_xticklabels(["1", str(n), "1", str(n), "S2", "S1", "S1+\nshock"], fontsize=7)
        ax.set(xlabel="stimulus (series 1 | rest | series 2 | probes)", ylabel="response",
               title=title)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


@register("habituation", HabituationConfig,
          "Rankin et al. habituation signatures of a spiking reflex vs Staddon-Higa")
def run(config: HabituationConfig, *, progress: bool = True) -> Result:
    from ..behavior.baselines import StaddonHigaParams
    from ..behavior.circuit import CircuitParams
    from ..behavior.habituation import (
        SIGNATURES,
        run_spiking,
        run_staddon_higa,
        signatures,
        split_curves,
    )

    t0 = time.perf_counter()
    c = config
    p = CircuitParams(w0=c.w0, u_fast=c.u_fast, tau_fast_s=c.tau_fast_s, u_slow=c.u_slow,
                      tau_slow_s=c.tau_slow_s, facil_gain=c.facil_gain)
    isis = (c.isi_high_s, c.isi_low_s)
    spk = run_spiking(isis, c.n_per_series, c.rest_s, c.animals, p, c.shock, c.seed)
    sh_p = StaddonHigaParams()
    sh = {isi: run_staddon_higa(isi, c.n_per_series, c.rest_s, sh_p) for isi in isis}
    parts_spk = {f"ISI {isi:g} s": split_curves(spk[isi], c.n_per_series) for isi in isis}
    parts_sh = {f"ISI {isi:g} s": split_curves(sh[isi], c.n_per_series) for isi in isis}
    sig = signatures(*parts_spk.values())
    sig_sh = signatures(*parts_sh.values())
    metrics: dict = {
        "signatures_met": ",".join(k for k in SIGNATURES if sig[k]),
        "signatures_met_count": sum(sig.values()),
        "signatures_met_staddon_higa": ",".join(k for k in SIGNATURES if sig_sh[k]),
        "signatures_met_count_staddon_higa": sum(sig_sh.values()),
    }
    for k in SIGNATURES:
        metrics[f"{k}"] = int(sig[k])
        metrics[f"{k}_staddon_higa"] = int(sig_sh[k])
    curves = {}
    for isi in isis:
        curves[f"response_isi{isi:g}s"] = [float(v) for v in spk[isi]]
        curves[f"staddon_higa_isi{isi:g}s"] = [float(v) for v in sh[isi]]
    return Result(metrics=metrics, figures={"habituation": _figure(c, parts_spk, parts_sh)},
                  curves=curves, timings={"wall_s": time.perf_counter() - t0})
