"""TD and dopamine (Schultz, Dayan & Montague 1997): the burst moves from reward to cue.

A value neuron learns a cue→reward interval through three-factor synapses modulated by the TD
error (:mod:`neuroplastic.behavior.td_dopamine`); the error drives LIF dopamine neurons around
their tonic rate. Recorded: the first trial (reward unpredicted), a probe after training
(reward predicted) and a probe with the reward omitted.

Metrics (firing rate minus the tonic rate before the cue, Hz): ``response_at_cue_late``,
``response_at_reward_late``, ``response_at_cue_early``, ``response_at_reward_early``;
``omission_dip`` (tonic rate minus the rate at the expected reward time on the omission probe:
> 0 is a dip); ``td_error_at_cue_late`` / ``td_error_at_reward_late`` (the algebraic errors).
Figure ``dopamine``: the three PSTHs of Schultz et al.'s Fig. 1 and the TD error per trial.
"""

from __future__ import annotations

import time

import numpy as np

from .base import Result, register
from .configs.td_dopamine import TDDopamineConfig

__all__ = ["TDDopamineConfig", "run"]

ROWS = ("early: reward unpredicted", "late: reward predicted", "late: reward omitted")


def _figure(config, rates, deltas):
    import matplotlib.pyplot as plt

    c = config
    fig, axes = plt.subplots(3, 2, figsize=(10, 6), gridspec_kw={"width_ratios": [1.3, 1]})
    t = np.arange(c.n_bins) * c.bin_ms / 1000.0
    rb = c.cue_bin + c.delay_bins
    for i, title in enumerate(ROWS):
        ax = axes[i, 0]
        ax.bar(t, rates[i], width=c.bin_ms / 1000.0, align="edge", color="k")
        ax.axvline(c.cue_bin * c.bin_ms / 1000.0, color="C0", lw=1, label="cue")
        ax.axvline(rb * c.bin_ms / 1000.0, color="C3", lw=1, ls="--", label="reward time")
        ax.set(ylabel="Hz", title=title)
        if i == 0:
            ax.legend(fontsize=7)
    axes[2, 0].set_xlabel("time in trial (s)")
    gs = axes[0, 1].get_gridspec()
    for ax in axes[:, 1]:
        ax.remove()
    ax = fig.add_subplot(gs[:, 1])
    into_bin = np.concatenate([np.zeros((deltas.shape[0], 1)), deltas[:, :-1]], 1)
    im = ax.imshow(into_bin[:c.n_trials], aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1,
                   extent=(0, c.n_bins * c.bin_ms / 1000.0, c.n_trials, 0))
    ax.set(xlabel="time in trial (s)", ylabel="trial", title="TD error (dopamine) per trial")
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    return fig


@register("td-dopamine", TDDopamineConfig,
          "Schultz et al. 1997: dopamine burst moves from reward to cue; omission dip")
def run(config: TDDopamineConfig, *, progress: bool = True) -> Result:
    from ..behavior.td_dopamine import dopamine_rates, features, train_critic

    t0 = time.perf_counter()
    c = config
    x = features(c.state, c.n_bins, c.cue_bin, c.bin_ms)
    rb = c.cue_bin + c.delay_bins  # the bin in which the reward is seen
    R = np.zeros((c.n_trials + 2, c.n_bins))
    R[: c.n_trials + 1, rb - 1] = 1.0  # training trials and a rewarded probe; then omission
    learn = np.ones(c.n_trials + 2, bool)
    learn[c.n_trials:] = False
    _, D = train_critic(x, R, c.gamma, c.alpha, c.lam, c.bin_ms, learn)
    rec = D[[0, c.n_trials, c.n_trials + 1]]
    rates = dopamine_rates(rec, c.bin_ms, n_neurons=c.n_dopamine, seed=c.seed)
    tonic = rates[:, : c.cue_bin].mean(1)
    metrics = {
        "response_at_cue_early": float(rates[0, c.cue_bin] - tonic[0]),
        "response_at_reward_early": float(rates[0, rb] - tonic[0]),
        "response_at_cue_late": float(rates[1, c.cue_bin] - tonic[1]),
        "response_at_reward_late": float(rates[1, rb] - tonic[1]),
        "omission_dip": float(tonic[2] - rates[2, rb]),
        "tonic_rate_hz": float(tonic.mean()),
        "td_error_at_cue_late": float(D[c.n_trials, c.cue_bin - 1]),
        "td_error_at_reward_late": float(D[c.n_trials, rb - 1]),
        "td_error_at_omission": float(D[c.n_trials + 1, rb - 1]),
    }
    curves = {"td_error_at_cue": [float(v) for v in D[: c.n_trials, c.cue_bin - 1]],
              "td_error_at_reward": [float(v) for v in D[: c.n_trials, rb - 1]]}
    for name, r in zip(("early", "late", "omission"), rates):
        curves[f"dopamine_rate_{name}_hz"] = [float(v) for v in r]
    return Result(metrics=metrics, figures={"dopamine": _figure(c, rates, D)}, curves=curves,
                  arrays={"td_errors": D}, timings={"wall_s": time.perf_counter() - t0})
