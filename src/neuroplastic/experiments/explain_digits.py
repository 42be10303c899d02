"""Explanations of surrogate-gradient spiking networks: faithful, robust, privacy-capped.

Stages (issue 16), each on its own seeded network:

1. **Planted ground truth** — a network trained on :func:`~neuroplastic.explain.planted_task`
   (the label is carried by known channels in a known window): do the top-k channels of the
   IG and of the interventional (spike-deletion) maps hold the planted ones?
2. **Faithfulness on digits** — the ``surrogate-digits`` network (64-H-10 LIF): IG, saliency,
   GradientSHAP, occlusion and interventional maps over input × time; deletion / insertion
   curves against a random order and another input's map, one-sided Wilcoxon over
   ``n_explain`` digits.
3. **Sanity checks** (Adebayo et al. 2018) — Spearman correlation of each map with the map of a
   freshly initialised network (model randomisation) and of a twin trained on permuted labels
   (data randomisation), over each input's spikes.
4. **Mediation** — silence hidden neurons in the order of their spike activation map (SAM,
   Kim & Panda 2021) or at random; the target score's drop is their causal effect.
5. **Robustness** — max-sensitivity and local Lipschitz estimates under one-step spike jitter,
   and the rank agreement of maps of jittered inputs.
6. **Leakage cap** — a network overfit on ``mia_members`` digits; a threshold
   membership-inference attack on the norm of its saliency maps (Shokri et al. 2021), raw and
   through the analytic Gaussian mechanism at (ε, δ) per release; the audit checks
   TPR ≤ e^ε FPR + δ at every threshold. Information cap: with the secret = membership of the
   explained digit, I(secret; release) ≤ ``mi_bound_bits`` (binary-input Gaussian channel at
   Δ/σ, :func:`~neuroplastic.explain.privacy.mi_bound_bits`), against ``mi_estimate_bits`` (a
   cross-validated logistic attacker on the released maps; ``mi_estimate_raw_bits`` on the raw
   ones). The privacy–fidelity curves over ``tradeoff_eps``: Spearman ρ of the released map
   with the raw one when every entry is released and when block sums (``pool_time_bin`` steps
   × ``pool_patch``² pixels) are.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch

from ..lab.checkpointer import Checkpointer
from .base import Result, register
from .configs.explain_digits import ExplainDigitsConfig

__all__ = ["ExplainDigitsConfig", "run"]


def _planted(c: ExplainDigitsConfig) -> dict[str, Any]:
    from ..explain import CountScore, PlantedTaskParams, attribute, planted_recovery, planted_task
    from ..explain.models import fit, spiking_mlp

    p = PlantedTaskParams()
    train = planted_task(p, c.planted_train, seed=c.seed)
    test = planted_task(p, c.planted_test, seed=c.seed + 1)
    model = spiking_mlp(p.n_channels, c.planted_hidden, p.n_classes, seed=c.seed)
    fit(model, train.spikes, train.y, epochs=c.planted_epochs, lr=1e-2, batch_size=32,
        seed=c.seed)
    score = CountScore(model.eval())
    x = test.spikes.transpose(0, 1).to(torch.float32)
    with torch.no_grad():
        acc = float((score(x).argmax(1) == test.y).float().mean())
    out: dict[str, Any] = {"planted_accuracy": acc}
    maps = {}
    for m in ("ig", "interventional"):
        maps[m] = attribute(m, score, x, test.y, n_steps=c.ig_steps, window=p.window)
        out[f"planted_recovery_{m}"] = float(planted_recovery(maps[m], test.planted).float()
                                             .mean())
        out[f"planted_recovery_blocks_{m}"] = float(
            planted_recovery(maps[m], test.planted, p.window).float().mean())
    out["_maps"], out["_x"], out["_y"] = maps, x, test.y
    return out


def _sanity(c: ExplainDigitsConfig, score: Any, twin: Any, x: torch.Tensor,
            pred: torch.Tensor, maps: dict[str, torch.Tensor]) -> dict[str, Any]:
    from ..explain import CountScore, attribute, rank_correlation
    from ..explain.models import spiking_mlp

    fresh = CountScore(spiking_mlp(64, c.hidden, 10, seed=c.seed + 1).eval(), "softmax")
    out: dict[str, Any] = {}
    for m, a in maps.items():
        for kind, s in (("model", fresh), ("data", twin)):
            b = attribute(m, s, x, pred, seed=c.seed, n_steps=c.ig_steps)
            out[f"rank_corr_{kind}_{m}"] = float(np.mean(rank_correlation(a, b, x)))
    out["randomisation_rank_corr"] = max(v for k, v in out.items() if "_model_" in k)
    out["randomisation_rank_corr_data"] = max(v for k, v in out.items() if "_data_" in k)
    return out


def _mediation(c: ExplainDigitsConfig, model: Any, score: Any, x: torch.Tensor,
               pred: torch.Tensor) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
    from ..explain import auc, mediation_curve, paired_test, spike_activation_map

    hidden = model.layers[1]
    rec: list[torch.Tensor] = []
    h = hidden.register_forward_hook(lambda _m, _i, o: rec.append(o[0].detach()))
    with torch.no_grad():
        score(x)
    h.remove()
    sam = spike_activation_map(rec[0]).sum(1)  # (B, N)
    g = torch.Generator().manual_seed(c.seed)
    orders = {"sam": torch.argsort(sam, dim=1, descending=True, stable=True),
              "random": torch.argsort(torch.rand(sam.shape, generator=g), dim=1)}
    curves = {k: mediation_curve(score, hidden, x, pred, o, steps=c.curve_steps)
              for k, o in orders.items()}
    p = paired_test(auc(curves["sam"]), auc(curves["random"]), "less")
    return {"mediation_auc_sam": float(auc(curves["sam"]).mean()),
            "mediation_auc_random": float(auc(curves["random"]).mean()),
            "mediation_p": p}, curves


def _robustness(c: ExplainDigitsConfig, score: Any, x: torch.Tensor,
                pred: torch.Tensor) -> dict[str, float]:
    from ..explain import attribute, jitter_agreement, local_lipschitz, max_sensitivity

    out = {}
    xs, ys = x[: c.robust_inputs], pred[: c.robust_inputs]
    for m in ("ig", "saliency"):
        def explain(inp: torch.Tensor, tgt: torch.Tensor, m: str = m) -> torch.Tensor:
            return attribute(m, score, inp, tgt, seed=c.seed, n_steps=c.ig_steps)

        kw = {"p": c.jitter_p, "seed": c.seed}
        out[f"max_sensitivity_{m}"] = float(max_sensitivity(explain, xs, ys, draws=3, **kw)
                                            .mean())
        out[f"local_lipschitz_{m}"] = float(local_lipschitz(explain, xs, ys, draws=3, **kw)
                                            .mean())
        out[f"jitter_rank_corr_{m}"] = float(np.mean(jitter_agreement(
            explain, xs, ys, window=4 if c.num_steps % 4 == 0 else 1, **kw)))
    return out


def _privacy(c: ExplainDigitsConfig, data: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    from ..explain import (
        CountScore,
        GaussianRelease,
        PrivacyAccountant,
        attribute,
        mia_audit,
    )
    from ..explain.models import fit, spiking_mlp

    n = c.mia_members
    xm = data.spikes_train[:, :n]
    model = spiking_mlp(64, c.mia_hidden, 10, seed=c.seed)
    fit(model, xm, data.y_train[:n], epochs=c.mia_epochs, lr=5e-3, batch_size=16, seed=c.seed)
    score = CountScore(model.eval(), "softmax")
    # members: the n training digits; non-members: n test digits; clip from n other test digits
    # (public reference inputs, never audited)
    xs = {"in": xm.transpose(0, 1).float(),
          "out": data.spikes_test[:, :n].transpose(0, 1).float(),
          "ref": data.spikes_test[:, n:2 * n].transpose(0, 1).float()}
    ys = {"in": data.y_train[:n], "out": data.y_test[:n], "ref": data.y_test[n:2 * n]}
    maps = {k: attribute("saliency", score, v, ys[k]) for k, v in xs.items()}
    with torch.no_grad():
        overfit = {k: float((score(v).argmax(1) == ys[k]).float().mean()) for k, v in xs.items()}
    clip = float(maps["ref"].reshape(n, -1).norm(dim=1).median().clamp_min(1e-12))

    def stat(a: torch.Tensor) -> np.ndarray:
        return a.reshape(a.shape[0], -1).norm(dim=1).numpy()

    raw = mia_audit(stat(maps["in"]), stat(maps["out"]), c.epsilon, c.delta)
    g = torch.Generator().manual_seed(c.seed)
    rel = GaussianRelease(c.epsilon, c.delta, clip)
    acc = PrivacyAccountant(c.delta)
    reps = math.ceil(c.mia_queries / (2 * n))
    rin = rel.release(maps["in"].repeat(reps, 1, 1), g, acc)
    rout = rel.release(maps["out"].repeat(reps, 1, 1), g, acc)
    dp = mia_audit(stat(rin), stat(rout), c.epsilon, c.delta)
    from ..explain import clip_l2
    from ..explain.privacy import (
        mi_bound_bits,
        mi_bound_closed_form_bits,
        mi_lower_bound_bits,
        patch_groups,
        pool_blocks,
        rank_fidelity,
    )

    # information cap: secret = membership of the explained digit; any two clipped maps are
    # within 2·clip, so I(secret; release) <= the binary-input Gaussian channel at Δ/σ
    def feats(a: torch.Tensor) -> np.ndarray:
        f = a.reshape(a.shape[0], -1).to(torch.float64)
        return torch.stack([f.norm(dim=1), f.mean(1), f.abs().max(1).values], 1).numpy()

    secret = np.r_[np.ones(rin.shape[0]), np.zeros(rout.shape[0])]
    groups = np.r_[np.tile(np.arange(n), reps), n + np.tile(np.arange(n), reps)]
    mi_dp, mi_dp_se = mi_lower_bound_bits(np.r_[feats(rin), feats(rout)], secret,
                                          groups=groups, seed=c.seed)
    mi_raw, mi_raw_se = mi_lower_bound_bits(
        np.r_[feats(maps["in"]), feats(maps["out"])], np.r_[np.ones(n), np.zeros(n)],
        seed=c.seed)
    # privacy–fidelity: every entry released (T·n numbers) vs block sums (time bins × patches)
    side = int(round(maps["out"].shape[2] ** 0.5))
    pool = {"time_bin": min(c.pool_time_bin, maps["out"].shape[1]),
            "groups": patch_groups(side, c.pool_patch)}
    pooled = {k: pool_blocks(v.to(torch.float64), **pool) for k, v in maps.items()}
    clip_pool = float(pooled["ref"].reshape(n, -1).norm(dim=1).median().clamp_min(1e-12))
    clipped = clip_l2(maps["out"].to(torch.float64), clip).reshape(n, -1)
    fidelity, fid_entries, fid_pooled = [], [], []
    draws = 16  # fresh noise draws per map and ε: the curves' mean is over n × draws releases
    raw_flat = maps["out"].reshape(n, -1).repeat(draws, 1)
    pooled_flat = pooled["out"].reshape(n, -1).repeat(draws, 1)
    for e in c.tradeoff_eps:
        r = GaussianRelease(e, c.delta, clip).release(raw_flat, g)
        fidelity.append(float(torch.nn.functional.cosine_similarity(
            r, clipped.repeat(draws, 1), dim=1).mean()))
        fid_entries.append(float(rank_fidelity(r, raw_flat).mean()))
        rp = GaussianRelease(e, c.delta, clip_pool).release(pooled_flat, g)
        fid_pooled.append(float(rank_fidelity(rp, pooled_flat).mean()))
    metrics = {
        "mia_train_accuracy": overfit["in"], "mia_test_accuracy": overfit["out"],
        "mia_advantage_raw": raw.advantage, "mia_auc_raw": raw.auc,
        "mia_violated_raw": raw.violated, "mia_excess_raw": raw.max_excess,
        "mia_advantage_dp": dp.advantage, "mia_auc_dp": dp.auc,
        "mia_violated_dp": dp.violated, "mia_excess_dp": dp.max_excess,
        "mia_bound": raw.bound, "epsilon": c.epsilon, "delta": c.delta,
        "dp_sigma": rel.sigma, "dp_clip": clip, "dp_queries": acc.queries,
        "epsilon_total_rdp": acc.epsilon(), "epsilon_total_exact": acc.epsilon_exact(),
        "mi_bound_bits": mi_bound_bits(rel.sensitivity, rel.sigma),
        "mi_bound_closed_form_bits": mi_bound_closed_form_bits(rel.sensitivity, rel.sigma),
        "mi_estimate_bits": mi_dp, "mi_estimate_se_bits": mi_dp_se,
        "mi_estimate_raw_bits": mi_raw, "mi_estimate_raw_se_bits": mi_raw_se,
        "pool_blocks": int(pooled["out"][0].numel()), "pool_entries": int(maps["out"][0].numel()),
        "dp_clip_pooled": clip_pool,
        "fidelity_rank_entries_eps_max": fid_entries[-1],
        "fidelity_rank_pooled_eps_max": fid_pooled[-1],
        "fidelity_rank_pooled_trend": _trend(c.tradeoff_eps, fid_pooled),
        "fidelity_rank_entries_trend": _trend(c.tradeoff_eps, fid_entries),
    }
    return metrics, {"raw": raw, "dp": dp, "fidelity": fidelity, "fidelity_entries": fid_entries,
                     "fidelity_pooled": fid_pooled}


def _trend(eps: tuple[float, ...], fid: list[float]) -> float:
    """Spearman correlation of fidelity with ε over the trade-off grid (1: monotone rising)."""
    from scipy import stats

    if len(eps) < 2 or np.ptp(fid) == 0:
        return 0.0
    return float(stats.spearmanr(eps, fid).statistic)


def _figures(c: ExplainDigitsConfig, planted: dict[str, Any], faith: Any, x: torch.Tensor,
             pred: torch.Tensor, sanity: dict[str, Any], med: dict[str, torch.Tensor],
             priv: dict[str, Any], metrics: dict[str, Any]) -> dict[str, Any]:
    import matplotlib.pyplot as plt

    from ..explain import auc
    from ..explain.pipeline import curve_figure, map_figure

    figs = {"maps_digits": map_figure(x, faith.maps, pred),
            "maps_planted": map_figure(planted["_x"], planted["_maps"], planted["_y"]),
            "deletion_insertion": curve_figure(faith.curves)}
    fig, ax = plt.subplots(figsize=(6, 3.4))
    methods = list(faith.maps)
    w = 0.38
    for k, kind in enumerate(("model", "data")):
        ax.bar(np.arange(len(methods)) + (k - 0.5) * w,
               [sanity[f"rank_corr_{kind}_{m}"] for m in methods], w,
               label=f"{kind} randomisation")
    ax.axhline(0.2, color="k", ls="--", lw=1)
    ax.set_xticks(np.arange(len(methods)), methods, fontsize=8)
    ax.set(ylabel="Spearman ρ (original vs randomised)", title="sanity checks")
    ax.legend(fontsize=7)
    fig.tight_layout()
    figs["sanity"] = fig
    fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=(12, 3.4))
    a1.plot(c.tradeoff_eps, priv["fidelity_entries"], "o-",
            label=f"every entry ({metrics['pool_entries']} numbers)")
    a1.plot(c.tradeoff_eps, priv["fidelity_pooled"], "s-",
            label=f"block sums ({metrics['pool_blocks']} numbers)")
    a1.axvline(c.epsilon, color="k", ls=":", lw=1)
    a1.set(xscale="log", xlabel="ε per release",
           ylabel="Spearman ρ (released vs raw map)", title="privacy–fidelity trade-off")
    a1.legend(fontsize=7)
    e = math.exp(c.epsilon)
    fpr = np.linspace(0, 1, 101)
    for name in ("raw", "dp"):
        a2.plot(priv[name].fpr, priv[name].tpr, label=f"{name} (adv {priv[name].advantage:.2f})")
    a2.plot(fpr, np.minimum(1, e * fpr + c.delta), "k--", label=f"DP bound ε={c.epsilon:g}")
    a2.set(xlabel="FPR", ylabel="TPR", title="membership attack on explanations")
    a2.legend(fontsize=7)
    for name, cv in med.items():
        a3.plot(np.linspace(0, 1, cv.shape[1]), cv.mean(0).numpy(),
                label=f"{name} (AUC {float(auc(cv).mean()):.3f})")
    a3.set(xlabel="fraction of hidden neurons silenced", ylabel="target score",
           title="causal mediation (SAM order)")
    a3.legend(fontsize=7)
    fig.tight_layout()
    figs["privacy_mediation"] = fig
    return figs


@register(
    "explain-digits", ExplainDigitsConfig,
    "Explanations of spiking networks: planted truth, deletion/insertion, sanity, DP audit",
)
def run(config: ExplainDigitsConfig, *, progress: bool = True,
        checkpoint: Checkpointer | None = None) -> Result:
    from ..data import spike_digits
    from ..explain import CountScore
    from ..explain.models import fit, spiking_mlp
    from ..explain.pipeline import faithfulness

    c = config
    t0 = time.perf_counter()
    # resumable after its two training stages (the planted task; the digits model and its
    # label-permuted twin); what follows is recomputed from the restored weights
    stage, tensors, meta = 0, {}, {}
    state = checkpoint.load() if checkpoint is not None else None
    if state is not None:
        stage, tensors, meta = state
        tensors = dict(tensors)
    if stage >= 1:
        planted = dict(meta["planted"])
        planted["_maps"] = {m: tensors[f"P.map_{m}"] for m in ("ig", "interventional")}
        planted["_x"], planted["_y"] = tensors["P.x"], tensors["P.y"]
    else:
        planted = _planted(c)
        tensors = {f"P.map_{m}": v for m, v in planted["_maps"].items()}
        tensors.update({"P.x": planted["_x"], "P.y": planted["_y"]})
        meta = {"planted": {k: v for k, v in planted.items() if not k.startswith("_")},
                "wall_s": time.perf_counter() - t0}
        if checkpoint is not None and checkpoint.due():
            checkpoint.save(1, tensors, meta)
    data = spike_digits(num_steps=c.num_steps, max_rate_hz=1000.0, seed=c.seed)
    xtr, ytr = data.spikes_train[:, : c.n_train], data.y_train[: c.n_train]
    model = spiking_mlp(64, c.hidden, 10, seed=c.seed)
    twin = spiking_mlp(64, c.hidden, 10, seed=c.seed)
    if stage >= 2:
        model.load_state_dict({k[2:]: v for k, v in tensors.items() if k.startswith("M.")})
        twin.load_state_dict({k[2:]: v for k, v in tensors.items() if k.startswith("T.")})
        hist = meta["hist"]
    else:
        hist = fit(model, xtr, ytr, epochs=c.epochs, lr=5e-3, batch_size=32, seed=c.seed)
        perm = ytr[torch.randperm(ytr.numel(), generator=torch.Generator().manual_seed(c.seed))]
        fit(twin, xtr, perm, epochs=c.epochs, lr=5e-3, batch_size=32, seed=c.seed)
        tensors.update({f"M.{k}": v.detach().clone() for k, v in model.state_dict().items()})
        tensors.update({f"T.{k}": v.detach().clone() for k, v in twin.state_dict().items()})
        meta = {**meta, "hist": hist, "wall_s": meta.get("wall_s", 0.0)
                + time.perf_counter() - t0}
        if checkpoint is not None and checkpoint.due():
            checkpoint.save(2, tensors, meta)
    score = CountScore(model.eval(), "softmax")
    x = data.spikes_test[:, : c.n_explain].transpose(0, 1).to(torch.float32)
    with torch.no_grad():
        pred = score(x).argmax(1)
    t_train = time.perf_counter() - t0
    from tqdm.auto import tqdm

    with tqdm(total=5, desc="explain-digits", disable=not progress) as bar:
        bar.set_postfix_str("attributions, deletion/insertion")
        faith = faithfulness(score, x, pred, seed=c.seed, ig_steps=c.ig_steps,
                             steps=c.curve_steps)
        bar.update(1)
        bar.set_postfix_str("randomisation checks")
        sanity = _sanity(c, score, CountScore(twin.eval(), "softmax"), x, pred, faith.maps)
        bar.update(1)
        bar.set_postfix_str("mediation")
        med_m, med_curves = _mediation(c, model, score, x, pred)
        bar.update(1)
        bar.set_postfix_str("robustness")
        robust = _robustness(c, score, x, pred)
        bar.update(1)
        bar.set_postfix_str("privacy audit")
        priv_m, priv = _privacy(c, data)
        bar.update(1)
    metrics: dict[str, Any] = {k: v for k, v in planted.items() if not k.startswith("_")}
    metrics.update({"train_accuracy": hist[-1]["train_accuracy"],
                    "explained_accuracy": float((pred == data.y_test[: c.n_explain]).float()
                                                .mean())})
    metrics.update(faith.metrics())
    metrics.update(sanity)
    metrics.update(med_m)
    metrics.update(robust)
    metrics.update(priv_m)
    curves = {f"{mode}_{name}": cv.mean(0).tolist() for mode, cs in faith.curves.items()
              for name, cv in cs.items()}
    curves.update({f"mediation_{k}": v.mean(0).tolist() for k, v in med_curves.items()})
    curves["dp_fidelity"] = priv["fidelity"]
    curves["dp_fidelity_rank_entries"] = priv["fidelity_entries"]
    curves["dp_fidelity_rank_pooled"] = priv["fidelity_pooled"]
    arrays = {f"map_{m}": a for m, a in faith.maps.items()}
    arrays["explained_inputs"] = x
    return Result(metrics=metrics,
                  figures=_figures(c, planted, faith, x, pred, sanity, med_curves, priv,
                                   metrics),
                  arrays=arrays, curves=curves,
                  timings={"train_s": t_train, "explain_wall_s": time.perf_counter() - t0})
