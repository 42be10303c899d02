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

The protocol is built and simulated one pairing interval at a time (a bAP's exponential is
added only while it is above a quarter of the float64 spacing of the resting potential: later it
would not change the sum), and the run is resumable after every pairing interval: the spines'
state, the running peaks and times above θ_p, and the traces recorded at 1 ms are
checkpointed.
"""

from __future__ import annotations

import math
import time
from typing import NamedTuple

import numpy as np
import torch
from tqdm.auto import tqdm

from ..lab.checkpointer import Checkpointer
from ..plasticity.calcium import CalciumParams, CalciumState, calcium_step, init_calcium_state
from .base import Result, register
from .configs.spine_specificity import SpineSpecificityConfig

__all__ = ["SPINES", "SpineSpecificityConfig", "protocol", "run"]

SPINES = ("paired", "unpaired", "pre_only")


class _Events(NamedTuple):
    """The protocol as events: bAP onsets (steps, in protocol order) and presynaptic spikes."""

    n: int  # steps
    bap: np.ndarray  # (n_baps_total,) onset step of every bAP, in the order they are added
    bap_sorted: np.ndarray  # the same, sorted (to find a block's bAPs)
    bap_order: np.ndarray  # argsort of ``bap`` (stable)
    pre_idx: np.ndarray  # (k,) step of each presynaptic spike
    pre_spine: np.ndarray  # (k,) its spine
    tail: int  # steps after which a bAP no longer changes the voltage


def _events(cfg: SpineSpecificityConfig) -> _Events:
    dt = cfg.dt_ms
    n = int(round(cfg.n_pairings * cfg.pairing_interval_ms / dt))
    rng = np.random.default_rng(cfg.seed)
    bap, pre_idx, pre_spine = [], [], []
    for k in range(cfg.n_pairings):
        t_pre = k * cfg.pairing_interval_ms + 5.0
        t_bap = t_pre + cfg.pre_to_bap_ms
        for b in range(cfg.n_baps):
            bap.append(int(round((t_bap + b * cfg.bap_interval_ms) / dt)))  # onset on the grid
        t_last = t_bap + (cfg.n_baps - 1) * cfg.bap_interval_ms
        for spine, ts in ((0, t_pre), (2, t_last + cfg.pre_only_offset_ms)):
            ts = ts + cfg.jitter_ms * rng.standard_normal()
            i = int(round(ts / dt))
            if 0 <= i < n:
                pre_idx.append(i)
                pre_spine.append(spine)
    bap_a = np.asarray(bap, dtype=np.int64)
    # amp e^{-k dt / tau} below a quarter of the spacing of v_rest: adding it to v_rest (all
    # older bAPs are further in the past, so the partial sum is v_rest) leaves it unchanged
    tiny = float(np.spacing(max(abs(cfg.v_rest_mv), 1.0))) / 4
    amp = abs(cfg.bap_amp_mv)
    tail = 1 if amp <= tiny else int(math.ceil(cfg.bap_tau_ms / dt * math.log(amp / tiny))) + 1
    order = np.argsort(bap_a, kind="stable")
    return _Events(n, bap_a, bap_a[order], order, np.asarray(pre_idx, dtype=np.int64),
                   np.asarray(pre_spine, dtype=np.int64), min(tail, max(n, 1)))


def _block(cfg: SpineSpecificityConfig, ev: _Events, b: int, e: int
           ) -> tuple[np.ndarray, np.ndarray]:
    """Dendritic voltage ``(e - b,)`` and presynaptic spikes ``(e - b, 3)`` of steps b..e-1."""
    dt = cfg.dt_ms
    v = np.full(e - b, cfg.v_rest_mv)
    lo_k = np.searchsorted(ev.bap_sorted, b - ev.tail, side="right")
    hi_k = np.searchsorted(ev.bap_sorted, e, side="left")
    for k in np.sort(ev.bap_order[lo_k:hi_k]):  # in protocol order (the order of the sums)
        ib = int(ev.bap[k])
        lo, hi = max(ib, b), min(e, ib + ev.tail)
        if lo < hi:
            t = np.arange(lo, hi) * dt
            v[lo - b : hi - b] += cfg.bap_amp_mv * np.exp(-(t - ib * dt) / cfg.bap_tau_ms)
    pre = np.zeros((e - b, 3))
    sel = (ev.pre_idx >= b) & (ev.pre_idx < e)
    np.add.at(pre, (ev.pre_idx[sel] - b, ev.pre_spine[sel]), 1.0)
    return v, pre


def protocol(cfg: SpineSpecificityConfig) -> tuple[np.ndarray, np.ndarray]:
    """Dendritic voltage ``(T,)`` in mV and presynaptic spikes ``(T, 3)`` of the three spines."""
    ev = _events(cfg)
    return _block(cfg, ev, 0, ev.n)


def _figures(cfg, params, t_first, v_first, ca_first, t_dec, ca_dec, rho_dec):
    import matplotlib.pyplot as plt

    colors = {"paired": "tab:red", "unpaired": "tab:blue", "pre_only": "tab:green"}
    fig, axes = plt.subplots(3, 1, figsize=(8, 7), sharex=False,
                             gridspec_kw={"height_ratios": [1, 2, 2]})
    axes[0].plot(t_first, v_first, color="k")
    axes[0].set(ylabel="dendrite V (mV)", title="First pairing")
    for j, name in enumerate(SPINES):
        axes[1].plot(t_first, ca_first[:, j], color=colors[name], label=name)
        axes[2].plot(t_dec / 1000, ca_dec[:, j], color=colors[name], lw=0.6, label=name)
    for ax in axes[1:]:
        ax.axhline(params.theta_d, color="tab:orange", ls="--", label="θ_d (LTD)")
        ax.axhline(params.theta_p, color="tab:purple", ls="--", label="θ_p (LTP)")
        ax.set(ylabel="spine calcium")
    axes[1].set(xlabel="time (ms)")
    axes[1].legend(fontsize=7, loc="upper right")
    axes[2].set(xlabel="time (s)", title="All pairings (sampled every ms)")
    fig.tight_layout()
    figures = {"calcium": fig}

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for j, name in enumerate(SPINES):
        ax.plot(t_dec / 1000, rho_dec[:, j], color=colors[name], label=name)
    ax.set(xlabel="time (s)", ylabel="efficacy ρ", title="Synaptic weights")
    ax.legend()
    fig.tight_layout()
    figures["weights"] = fig
    return figures


@register("spine-specificity", SpineSpecificityConfig,
          "NMDA coincidence detection: only the paired spine of three neighbours changes")
def run(config: SpineSpecificityConfig, *, progress: bool = True,
        checkpoint: Checkpointer | None = None) -> Result:
    cfg = config
    dt = cfg.dt_ms
    params = CalciumParams(kappa=cfg.kappa, mg_mm=cfg.mg_mm)
    ev = _events(cfg)
    n = ev.n
    block = max(1, int(round(cfg.pairing_interval_ms / dt)))  # one pairing interval
    stride = max(1, int(round(1.0 / dt)))  # traces kept at 1 ms resolution
    # the first pairing is drawn at full resolution
    first_n = int(np.count_nonzero(np.arange(1, min(n, block + 1) + 1) * dt
                                   <= min(cfg.pairing_interval_ms, n * dt)))
    f64 = torch.float64
    state = init_calcium_state(1, 3, rho=cfg.rho_init)
    peak = torch.full((3,), -math.inf, dtype=f64)
    above = torch.zeros(3, dtype=torch.int64)
    ca_dec, rho_dec, v_dec = [], [], []  # every stride-th step
    v_first = torch.zeros(first_n, dtype=f64)
    ca_first = torch.zeros(first_n, 3, dtype=f64)
    pos, loop_s = 0, 0.0
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is not None:
        pos, t, meta = saved
        state = CalciumState(t["g"].clone(), t["ca"].clone(), t["rho"].clone())
        peak, above = t["peak"].clone(), t["above"].clone()
        ca_dec, rho_dec, v_dec = [t["ca_dec"].clone()], [t["rho_dec"].clone()], \
            [t["v_dec"].clone()]
        v_first, ca_first = t["v_first"].clone(), t["ca_first"].clone()
        loop_s = float(meta["loop_s"])
    bar = tqdm(total=n, initial=pos, disable=not progress, desc="spine-specificity",
               mininterval=0.5)
    while pos < n:
        t0 = time.perf_counter()
        b, e = pos, min(n, pos + block)
        v_np, pre_np = _block(cfg, ev, b, e)
        v_t = torch.as_tensor(v_np, dtype=f64)
        pre_t = torch.as_tensor(pre_np, dtype=f64)
        ca = torch.empty(e - b, 3, dtype=f64)
        rho = torch.empty(e - b, 3, dtype=f64)
        for i in range(e - b):
            state, _ = calcium_step(state, pre_t[i : i + 1], v_t[i].reshape(1, 1), params, dt)
            ca[i] = state.ca[0]
            rho[i] = state.rho[0]
        peak = torch.maximum(peak, ca.max(0).values)
        above += (ca > params.theta_p).sum(0)
        keep = torch.arange(b, e) % stride == 0
        ca_dec.append(ca[keep])
        rho_dec.append(rho[keep])
        v_dec.append(v_t[keep])
        if b < first_n:
            m = min(e, first_n)
            v_first[b:m] = v_t[: m - b]
            ca_first[b:m] = ca[: m - b]
        pos = e
        loop_s += time.perf_counter() - t0
        bar.update(e - b)
        if checkpoint is not None and pos < n and checkpoint.due():
            checkpoint.save(pos, {
                "g": state.g_nmda, "ca": state.ca, "rho": state.rho, "peak": peak,
                "above": above, "ca_dec": torch.cat(ca_dec), "rho_dec": torch.cat(rho_dec),
                "v_dec": torch.cat(v_dec), "v_first": v_first, "ca_first": ca_first,
            }, {"loop_s": loop_s})
    bar.close()
    ca_d, rho_d, v_d = torch.cat(ca_dec), torch.cat(rho_dec), torch.cat(v_dec)
    dw = (state.rho[0] - cfg.rho_init).tolist()
    metrics: dict = {}
    for j, name in enumerate(SPINES):
        metrics[f"{name}_dw"] = float(dw[j])
        metrics[f"{name}_peak_ca"] = float(peak[j])
        metrics[f"{name}_time_above_theta_p_ms"] = float(int(above[j]) * dt)
    metrics["theta_d"] = params.theta_d
    metrics["theta_p"] = params.theta_p
    metrics["specific"] = bool(dw[0] != 0 and dw[1] == 0 and dw[2] == 0)
    t_first = np.arange(1, first_n + 1) * dt
    t_dec = (np.arange(0, n, stride) + 1) * dt
    figures = _figures(cfg, params, t_first, v_first.numpy(), ca_first.numpy(), t_dec,
                       ca_d.numpy(), rho_d.numpy())
    return Result(
        metrics=metrics,
        figures=figures,
        arrays={"calcium": ca_d, "rho": rho_d, "v_dendrite_mv": v_d},
        curves={f"rho_{name}": rho_d[::10, j].tolist() for j, name in enumerate(SPINES)},
        timings={"loop_s": loop_s, "us_per_step": 1e6 * loop_s / max(n, 1)},
    )
