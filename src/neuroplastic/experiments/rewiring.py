r"""Structural plasticity grows a receptive field out of random sparse wiring.

A few output neurons each start with sparse random synapses from a ``grid × grid`` input sheet
(:mod:`neuroplastic.plasticity.structural` slot tables, ``capacity`` slots per output). Every
input fires with the same probability ``rate`` per tick, but the inputs inside a disc (the
*blob*) are correlated: each copies a shared event with probability ``correlation``. Outputs
are linear, :math:`y_i = \sum_j w_{ij} x_j`. Weights follow a covariance Hebbian rule with
subtractive normalisation per output (Miller & MacKay 1994),

.. math::

    \Delta w_{ij} = \eta\big[(x_j - r)(y_i - \bar y_i) - \langle (x_k - r)(y_i - \bar y_i)
    \rangle_{k \to i}\big], \qquad \bar y_i = r \sum_j w_{ij},

clipped to ``[0, w_max]``: a synapse whose input covaries with the output more than the
average synapse of that output grows, the others shrink. Every ``update_every`` ticks a
structural update prunes synapses weaker than ``w_prune`` (and a fraction ``p_prune`` at
random) and fills free slots with probability ``p_grow``, choosing the partner with probability
proportional to the pre·post co-activity :math:`\sum_t x_j(t)\,y_i(t)` accumulated since the
last update (plus a small baseline). Weight dynamics and growth both favour the blob, whose
inputs covary with the output as soon as a few blob synapses exist, so the synapses cluster
on it. Chance level for the fraction inside the blob is its area over the grid's.

Resumable after every structural update (slot table, random generator, histories and the
middle snapshot are checkpointed).
"""

from __future__ import annotations

import time

import numpy as np
import torch
from tqdm.auto import tqdm

from ..lab.checkpointer import Checkpointer
from ..plasticity.structural import (
    StructuralParams,
    in_degree,
    random_slot_table,
    structural_step,
)
from .base import Result, register
from .configs.rewiring import RewiringConfig

__all__ = ["RewiringConfig", "blob_mask", "run"]


def blob_mask(grid: int, center: tuple[float, float], radius: float) -> np.ndarray:
    """``(grid*grid,)`` bool: inputs within ``radius`` of ``center`` (row, column)."""
    r, c = np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij")
    return ((r - center[0]) ** 2 + (c - center[1]) ** 2 <= radius**2).reshape(-1)


def _weight_maps(table, n_pre: int, grid: int) -> np.ndarray:
    """``(n_out, grid, grid)`` weight of each output's synapse from each input; NaN where
    there is no synapse (at most one per pair)."""
    pre, w = table.pre.numpy(), table.weight.numpy()
    out = np.full((pre.shape[0], n_pre), np.nan)
    for i in range(pre.shape[0]):
        ok = pre[i] >= 0
        out[i, pre[i, ok]] = w[i, ok]
    return out.reshape(-1, grid, grid)


def _frac_in_blob(table, blob: torch.Tensor) -> tuple[float, float]:
    occ = table.pre >= 0
    inside = blob[table.pre.clamp(min=0)] & occ
    n = int(occ.sum())
    w = table.weight * occ
    return (int(inside.sum()) / max(n, 1),
            float((w * inside).sum() / w.sum().clamp(min=1e-12)))


@register("rewiring", RewiringConfig,
          "Structural plasticity: activity-guided growth + pruning clusters synapses on a "
          "correlated input blob")
def run(config: RewiringConfig, *, progress: bool = True,
        checkpoint: Checkpointer | None = None) -> Result:
    import matplotlib.pyplot as plt

    cfg = config
    gen = torch.Generator().manual_seed(cfg.seed)
    n_pre = cfg.grid * cfg.grid
    lo, hi = cfg.blob_radius, cfg.grid - 1 - cfg.blob_radius
    center = tuple(float(lo + (hi - lo) * torch.rand(1, generator=gen, dtype=torch.float64))
                   for _ in range(2))
    blob_np = blob_mask(cfg.grid, center, cfg.blob_radius)
    blob = torch.as_tensor(blob_np)
    chance = float(blob_np.mean())
    params = StructuralParams(capacity=cfg.capacity, p_grow=cfg.p_grow, p_prune=cfg.p_prune,
                              w_prune=cfg.w_prune, w_init=cfg.w_init, growth="activity")
    table = random_slot_table(n_pre, cfg.n_out, cfg.capacity, cfg.init_fill,
                              weight=cfg.w_init, generator=gen)
    snapshots = {"start": _weight_maps(table, n_pre, cfg.grid)}
    frac0, wfrac0 = _frac_in_blob(table, blob)
    counts, fracs, wfracs = [int(in_degree(table).sum())], [frac0], [wfrac0]
    r = cfg.rate
    start = 0
    loop_s = 0.0
    state = checkpoint.load() if checkpoint is not None else None
    if state is not None:  # everything the loop carries: wiring, generator, histories
        start, tensors, meta = state
        table = table._replace(pre=tensors["pre"].clone(), weight=tensors["weight"].clone(),
                               idle=tensors["idle"].clone())
        gen.set_state(tensors["gen"])
        if "middle" in tensors:
            snapshots["middle"] = tensors["middle"].numpy().copy()
        counts = tensors["counts"].tolist()
        fracs, wfracs = tensors["fracs"].tolist(), tensors["wfracs"].tolist()
        loop_s = float(meta["loop_s"])
    for u in tqdm(range(start, cfg.n_updates), disable=not progress, desc="rewiring",
                  initial=start, total=cfg.n_updates):
        t0 = time.perf_counter()
        # inputs for the whole interval: shared blob events, copied with prob. `correlation`
        shared = torch.rand(cfg.update_every, 1, generator=gen, dtype=torch.float64) < r
        own = torch.rand(cfg.update_every, n_pre, generator=gen, dtype=torch.float64) < r
        copy = torch.rand(cfg.update_every, n_pre, generator=gen,
                          dtype=torch.float64) < cfg.correlation
        x = torch.where(blob & copy, shared, own).to(torch.float64)  # (T, n_pre)
        coact = torch.zeros(cfg.n_out, n_pre, dtype=torch.float64)
        pre, w = table.pre, table.weight.clone()
        occ = (pre >= 0).to(torch.float64)
        idx = pre.clamp(min=0)
        for t in range(cfg.update_every):
            xs = x[t, idx] * occ  # (n_out, K) input seen by each slot
            y = (w * xs).sum(1)  # (n_out,)
            y_bar = r * (w * occ).sum(1)
            dw = (xs - r * occ) * (y - y_bar)[:, None] * occ
            dw = dw - occ * (dw.sum(1, keepdim=True) / occ.sum(1, keepdim=True).clamp(min=1))
            w = (w + cfg.eta * dw).clamp(0.0, cfg.w_max) * occ
            coact += y[:, None] * x[t][None, :]
        table = table._replace(weight=w)
        mean = coact.mean(1, keepdim=True).clamp(min=1e-12)
        guide = coact / mean + cfg.growth_baseline
        table, _ = structural_step(table, n_pre, params, pre_activity=guide, generator=gen)
        f, wf = _frac_in_blob(table, blob)
        counts.append(int(in_degree(table).sum()))
        fracs.append(f)
        wfracs.append(wf)
        if u + 1 == cfg.n_updates // 2:
            snapshots["middle"] = _weight_maps(table, n_pre, cfg.grid)
        loop_s += time.perf_counter() - t0
        if checkpoint is not None and u + 1 < cfg.n_updates and checkpoint.due():
            tensors = {"pre": table.pre, "weight": table.weight, "idle": table.idle,
                       "gen": gen.get_state(), "counts": torch.tensor(counts),
                       "fracs": torch.tensor(fracs, dtype=torch.float64),
                       "wfracs": torch.tensor(wfracs, dtype=torch.float64)}
            if "middle" in snapshots:
                tensors["middle"] = torch.as_tensor(snapshots["middle"])
            checkpoint.save(u + 1, tensors, {"loop_s": loop_s})
    snapshots["end"] = _weight_maps(table, n_pre, cfg.grid)

    metrics = {
        "frac_in_blob_start": frac0,
        "frac_in_blob_end": fracs[-1],
        "weight_frac_in_blob_start": wfrac0,
        "weight_frac_in_blob_end": wfracs[-1],
        "chance_frac": chance,
        "synapses_start": counts[0],
        "synapses_end": counts[-1],
        "synapses_max_possible": cfg.n_out * cfg.capacity,
        "max_in_degree_end": int(in_degree(table).max()),
        "blob_center_row": center[0],
        "blob_center_col": center[1],
    }

    n_show = min(cfg.n_out, 4)
    fig, axes = plt.subplots(n_show, 3, figsize=(7.5, 2.5 * n_show), squeeze=False)
    theta = np.linspace(0, 2 * np.pi, 100)
    vmax = max(float(np.nanmax(s, initial=0.0)) for s in snapshots.values())
    cmap = plt.get_cmap("viridis").with_extremes(bad="white")  # white: no synapse
    for j, key in enumerate(("start", "middle", "end")):
        for i in range(n_show):
            ax = axes[i, j]
            im = ax.imshow(snapshots[key][i], cmap=cmap, vmin=0, vmax=vmax)
            ax.set_facecolor("white")
            ax.plot(center[1] + cfg.blob_radius * np.cos(theta),
                    center[0] + cfg.blob_radius * np.sin(theta), "r--", lw=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(key)
            if j == 0:
                ax.set_ylabel(f"output {i}")
    fig.colorbar(im, ax=axes, shrink=0.6, label="synaptic weight (white: no synapse)")
    figures = {"weight_maps": fig}

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax1.plot(counts)
    ax1.axhline(cfg.n_out * cfg.capacity, color="gray", ls=":", label="capacity")
    ax1.set(xlabel="structural update", ylabel="synapses", title="Synapse count")
    ax1.legend()
    ax2.plot(fracs, label="synapses")
    ax2.plot(wfracs, label="weight")
    ax2.axhline(chance, color="gray", ls=":", label="chance (area)")
    ax2.set(xlabel="structural update", ylabel="fraction inside blob", ylim=(0, 1.02),
            title="Clustering on the blob")
    ax2.legend()
    fig.tight_layout()
    figures["counts"] = fig

    return Result(
        metrics=metrics,
        figures=figures,
        arrays={f"weight_map_{k}": torch.as_tensor(np.nan_to_num(v, nan=-1.0))
                for k, v in snapshots.items()}
        | {"slot_pre": table.pre, "slot_weight": table.weight},
        curves={"synapse_count": [float(c) for c in counts], "frac_in_blob": fracs,
                "weight_frac_in_blob": wfracs},
        timings={"loop_s": loop_s,  # summed over the resumed parts of a run
                 "ms_per_tick": 1e3 * loop_s / (cfg.n_updates * cfg.update_every)},
    )
