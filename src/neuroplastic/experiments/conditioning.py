"""Classical conditioning on a spiking circuit, with Rescorla–Wagner beside it.

Seven groups (:func:`neuroplastic.behavior.conditioning.groups`) — acquisition / extinction /
retention test, blocking and its control, overexpectation, conditioned inhibition (summation
test), latent inhibition and its control — run on the spiking circuit of
:mod:`neuroplastic.behavior.circuit` (LIF response neurons, three-factor learning gated by the
prediction error, context-gated extinction memory, CS salience that depresses with exposure)
and on Rescorla–Wagner with the same designs. Rescorla–Wagner's known failures are reported,
not hidden: it shows no spontaneous recovery and no latent inhibition.

Metrics: ``<phenomenon>_spiking`` and ``<phenomenon>_rw`` (the effect of
:data:`~neuroplastic.behavior.conditioning.EFFECT_RULES`, in units of the asymptote),
``shown_spiking`` / ``shown_rw`` (comma-separated phenomena whose effect exceeds
``threshold``) and their counts. Figure ``conditioning``: acquisition, extinction and the
retention test; the effect of every phenomenon for both models; latent-inhibition curves.
"""

from __future__ import annotations

import time

import numpy as np

from .base import Result, register
from .configs.conditioning import ConditioningConfig

__all__ = ["ConditioningConfig", "run"]


def _figure(spk, rw, designs, eff_s, eff_r):
    import matplotlib.pyplot as plt

    from ..behavior.conditioning import PHENOMENA

    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    ax = axes[0]
    ph = designs["acq_ext"]["phase"]
    x = np.arange(1, len(ph) + 1)
    ax.plot(x[:-1], spk["acq_ext"][:-1], "o-", ms=3, label="spiking")
    ax.plot(x[:-1], rw["acq_ext"][:-1], "--", label="Rescorla–Wagner")
    ax.plot([x[-1] + 1], [spk["acq_ext"][-1]], "o", color="C0", ms=7)
    ax.plot([x[-1] + 1], [rw["acq_ext"][-1]], "s", color="C1", ms=7)
    n_acq = ph.count("acquisition")
    ax.axvline(n_acq + 0.5, color="k", lw=0.6, ls=":")
    ax.set(xlabel="trial (acquisition | extinction | after retention)",
           ylabel="conditioned response (V)", title="acquisition, extinction, recovery")
    ax.legend(fontsize=7)
    ax = axes[1]
    k = np.arange(len(PHENOMENA))
    ax.bar(k - 0.2, [eff_s[p] for p in PHENOMENA], 0.4, label="spiking")
    ax.bar(k + 0.2, [eff_r[p] for p in PHENOMENA], 0.4, label="Rescorla–Wagner")
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xticks(k)
    ax.set_xticklabels([p.replace("_", "\n") for p in PHENOMENA], fontsize=6)
    ax.set(ylabel="effect (units of asymptote)", title="the phenomena (> 0: shown)")
    ax.legend(fontsize=7)
    ax = axes[2]
    for g, ls in (("latent_inhibition_control", "-"), ("latent_inhibition", "--")):
        idx = [i for i, p in enumerate(designs[g]["phase"]) if p == "acquisition"]
        ax.plot(np.arange(1, len(idx) + 1), spk[g][idx], ls, marker="o", ms=3,
                label=("A pre-exposed" if g == "latent_inhibition" else "B pre-exposed"))
    ax.set(xlabel="acquisition trial of A", ylabel="conditioned response",
           title="latent inhibition (spiking)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


@register("conditioning", ConditioningConfig,
          "Acquisition, extinction, recovery, blocking, overexpectation, CI, LI: spiking vs RW")
def run(config: ConditioningConfig, *, progress: bool = True) -> Result:
    from ..behavior.circuit import CircuitParams
    from ..behavior.conditioning import PHENOMENA, effects, groups, run_rw, run_spiking

    t0 = time.perf_counter()
    c = config
    protos = groups(c.n_trials, c.n_preexposure, c.iti_s, c.retention_s)
    p = CircuitParams(eta=c.eta, u_slow=c.u_slow, tau_slow_s=c.tau_slow_s,
                      tau_ext_s=c.tau_ext_s)
    spk, designs = run_spiking(protos, c.animals, p, c.seed)
    rw, rw_designs = run_rw(protos, c.rw_alpha, c.seed)
    eff_s, eff_r = effects(spk, designs), effects(rw, rw_designs)
    metrics: dict = {}
    for ph in PHENOMENA:
        metrics[f"{ph}_spiking"] = eff_s[ph]
        metrics[f"{ph}_rw"] = eff_r[ph]
    for name, eff in (("spiking", eff_s), ("rw", eff_r)):
        shown = [ph for ph in PHENOMENA if eff[ph] > c.threshold]
        metrics[f"shown_{name}"] = ",".join(shown)
        metrics[f"shown_count_{name}"] = len(shown)
    curves = {f"{g}_spiking": [float(v) for v in spk[g]] for g in spk}
    curves.update({f"{g}_rw": [float(v) for v in rw[g]] for g in rw})
    return Result(metrics=metrics, figures={"conditioning": _figure(spk, rw, designs, eff_s,
                                                                      eff_r)},
                  curves=curves, timings={"wall_s": time.perf_counter() - t0})
