r"""Spine specificity of NMDA-calcium plasticity: neighbouring spines on one dendrite share its
voltage, but only the spine whose glutamate coincides with back-propagating action potentials
takes up calcium and changes (:mod:`neuroplastic.plasticity.calcium`).

Three spines on one dendritic compartment: *paired* (a presynaptic spike ``pre_to_bap_ms``
before a burst of bAPs, repeated), *unpaired* (no presynaptic input, same dendritic voltage)
and *pre-only* (its presynaptic spike arrives ``pre_only_offset_ms`` after the burst, when the
dendrite is back at rest, so the magnesium block holds).

The paired spine's calcium crosses both thresholds on every pairing: depression acts while it is
above θ_d, potentiation while above θ_p, so each pairing moves ρ towards the balance
:math:`\gamma_p T_p / (\gamma_p T_p + \gamma_d T_d)` (times above each threshold) and the
increments shrink as ρ approaches it (Graupner & Brunel 2012).
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from ..plasticity.calcium import CalciumParams, calcium_step, init_calcium_state
from .base import Result, register
from .configs.spine_specificity import SpineSpecificityConfig

SPINES = ("paired", "unpaired", "pre_only")


def protocol(cfg: SpineSpecificityConfig) -> tuple[np.ndarray, np.ndarray]:
    """Dendritic voltage ``(T,)`` in mV and presynaptic spikes ``(T, 3)`` of the three spines."""
    dt = cfg.dt_ms
    n = int(round(cfg.n_pairings * cfg.pairing_interval_ms / dt))
    t = np.arange(n) * dt
    rng = np.random.default_rng(cfg.seed)
    v = np.full(n, cfg.v_rest_mv)
    pre = np.zeros((n, 3))
    for k in range(cfg.n_pairings):
        t_pre = k * cfg.pairing_interval_ms + 5.0
        t_bap = t_pre + cfg.pre_to_bap_ms
        for b in range(cfg.n_baps):
            ib = int(round((t_bap + b * cfg.bap_interval_ms) / dt))  # onset on the grid
            v[ib:] += cfg.bap_amp_mv * np.exp(-(t[ib:] - t[min(ib, n - 1)]) / cfg.bap_tau_ms)
        t_last = t_bap + (cfg.n_baps - 1) * cfg.bap_interval_ms
        for spine, ts in ((0, t_pre), (2, t_last + cfg.pre_only_offset_ms)):
            ts = ts + cfg.jitter_ms * rng.standard_normal()
            i = int(round(ts / dt))
            if 0 <= i < n:
                pre[i, spine] += 1.0
    return v, pre


@register("spine-specificity", SpineSpecificityConfig,
          "NMDA coincidence detection: only the paired spine of three neighbours changes")
def run(config: SpineSpecificityConfig, *, progress: bool = True) -> Result:
    import matplotlib.pyplot as plt

    params = CalciumParams(kappa=config.kappa, mg_mm=config.mg_mm)
    v, pre = protocol(config)
    n = len(v)
    v_t = torch.as_tensor(v, dtype=torch.float64)
    pre_t = torch.as_tensor(pre, dtype=torch.float64)
    state = init_calcium_state(1, 3, rho=config.rho_init)
    ca = torch.empty(n, 3, dtype=torch.float64)
    rho = torch.empty(n, 3, dtype=torch.float64)
    for i in tqdm(range(n), disable=not progress, desc="spine-specificity", mininterval=0.5):
        state, _ = calcium_step(state, pre_t[i : i + 1], v_t[i].reshape(1, 1), params,
                                config.dt_ms)
        ca[i] = state.ca[0]
        rho[i] = state.rho[0]
    ca_np, rho_np = ca.numpy(), rho.numpy()
    t = np.arange(1, n + 1) * config.dt_ms
    dw = rho_np[-1] - config.rho_init
    metrics: dict = {}
    for j, name in enumerate(SPINES):
        metrics[f"{name}_dw"] = float(dw[j])
        metrics[f"{name}_peak_ca"] = float(ca_np[:, j].max())
        metrics[f"{name}_time_above_theta_p_ms"] = float(
            (ca_np[:, j] > params.theta_p).sum() * config.dt_ms)
    metrics["theta_d"] = params.theta_d
    metrics["theta_p"] = params.theta_p
    metrics["specific"] = bool(dw[0] != 0 and dw[1] == 0 and dw[2] == 0)

    colors = {"paired": "tab:red", "unpaired": "tab:blue", "pre_only": "tab:green"}
    fig, axes = plt.subplots(3, 1, figsize=(8, 7), sharex=False,
                             gridspec_kw={"height_ratios": [1, 2, 2]})
    first = t <= min(config.pairing_interval_ms, t[-1])
    axes[0].plot(t[first], v[first], color="k")
    axes[0].set(ylabel="dendrite V (mV)", title="First pairing")
    for j, name in enumerate(SPINES):
        axes[1].plot(t[first], ca_np[first, j], color=colors[name], label=name)
        axes[2].plot(t / 1000, ca_np[:, j], color=colors[name], lw=0.6, label=name)
    for ax in axes[1:]:
        ax.axhline(params.theta_d, color="tab:orange", ls="--", label="θ_d (LTD)")
        ax.axhline(params.theta_p, color="tab:purple", ls="--", label="θ_p (LTP)")
        ax.set(ylabel="spine calcium")
    axes[1].set(xlabel="time (ms)")
    axes[1].legend(fontsize=7, loc="upper right")
    axes[2].set(xlabel="time (s)", title="All pairings")
    fig.tight_layout()
    figures = {"calcium": fig}

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for j, name in enumerate(SPINES):
        ax.plot(t / 1000, rho_np[:, j], color=colors[name], label=name)
    ax.set(xlabel="time (s)", ylabel="efficacy ρ", title="Synaptic weights")
    ax.legend()
    fig.tight_layout()
    figures["weights"] = fig

    stride = max(1, int(round(1.0 / config.dt_ms)))  # 1 ms resolution for stored traces
    return Result(
        metrics=metrics,
        figures=figures,
        arrays={"calcium": ca[::stride].clone(), "rho": rho[::stride].clone(),
                "v_dendrite_mv": v_t[::stride].clone()},
        curves={f"rho_{name}": rho_np[::stride * 10, j].tolist()
                for j, name in enumerate(SPINES)},
    )
