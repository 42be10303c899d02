"""Sanger's generalized Hebbian algorithm learns the principal components of digits.

Trains :class:`~neuroplastic.plasticity.pca.SangerPCA` on scikit-learn's digits (1797 images of
8×8 pixels), compares every component with :class:`sklearn.decomposition.PCA` fitted on the same
preprocessed data (|cosine| per component, orthonormality, explained variance, reconstruction
error), and follows the same learning as a stream of ``partial_fit`` batches to draw the
learning curve. Figures: the components as 8×8 images (Hebbian row above PCA row), and the
learning curve.
"""

from __future__ import annotations

import time

import numpy as np
from tqdm.auto import tqdm

from .base import Result, register
from .configs.sanger_pca import SangerPCAConfig

__all__ = ["SangerPCAConfig", "run"]


def _abs_cosines(w: np.ndarray, ref: np.ndarray) -> np.ndarray:
    w = w / np.linalg.norm(w, axis=1, keepdims=True)
    return np.abs((w * ref).sum(1))


def _orthonormality_error(w: np.ndarray) -> float:
    return float(np.abs(w @ w.T - np.eye(w.shape[0])).max())


def _figures(comp: np.ndarray, ref: np.ndarray, cos: np.ndarray, curve: np.ndarray):
    import matplotlib.pyplot as plt

    k = comp.shape[0]
    fig, axes = plt.subplots(2, k, figsize=(1.3 * k, 3.2), squeeze=False)
    for i in range(k):
        lim = float(max(np.abs(comp[i]).max(), np.abs(ref[i]).max()))
        for row, (w, label) in enumerate(((comp, "Sanger"), (ref, "PCA"))):
            ax = axes[row, i]
            ax.imshow(w[i].reshape(8, 8), cmap="RdBu_r", vmin=-lim, vmax=lim)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_ylabel(label)
        axes[0, i].set_title(f"#{i + 1}\n|cos|={cos[i]:.4f}", fontsize=8)
    fig.suptitle("Principal components of digits: Hebbian (GHA) vs sklearn PCA")
    fig.tight_layout()

    fig2, ax = plt.subplots(figsize=(5, 3.2))
    ep = np.arange(1, len(curve) + 1)
    ax.semilogy(ep, 1.0 - curve[:, 0], label="1 - min |cos|")
    ax.semilogy(ep, curve[:, 1], label="‖W Wᵀ − I‖_max")
    ax.axhline(0.01, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("epoch (partial_fit stream)")
    ax.set_ylabel("error")
    ax.legend()
    fig2.tight_layout()
    return {"components": fig, "learning_curve": fig2}


@register("sanger-pca", SangerPCAConfig, "Sanger's Hebbian PCA on digits vs sklearn PCA")
def run(config: SangerPCAConfig, *, progress: bool = True) -> Result:
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA

    from ..plasticity.pca import SangerPCA

    x = load_digits().data * config.scale
    k = config.n_components
    hyper = dict(
        learning_rate=config.learning_rate,
        decay_samples=config.decay_samples,
        n_epochs=config.n_epochs,
        batch_size=config.batch_size,
        average=config.average,
        random_state=config.seed,
    )

    t0 = time.perf_counter()
    ref = PCA(k).fit(x)
    pca_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    est = SangerPCA(k, **hyper).fit(x)
    fit_s = time.perf_counter() - t0

    # the same learning as a stream of partial_fit batches, evaluated after every epoch
    stream = SangerPCA(k, **hyper)
    order = np.random.default_rng(config.seed + 1)
    curve = np.zeros((config.n_epochs, 2))
    for e in tqdm(range(config.n_epochs), desc="sanger-pca", disable=not progress):
        perm = order.permutation(len(x))
        for s in range(0, len(x), config.batch_size):
            stream.partial_fit(x[perm[s : s + config.batch_size]])
        curve[e] = (
            _abs_cosines(stream.components_, ref.components_).min(),
            _orthonormality_error(stream.components_),
        )
    good = np.nonzero((curve[:, 0] >= 0.99) & (curve[:, 1] <= 0.01))[0]

    comp = est.components_
    cos = _abs_cosines(comp, ref.components_)
    # align signs with PCA's for the picture (both use svd_flip's convention already)
    signs = np.sign((comp * ref.components_).sum(1))
    recon = np.mean((est.inverse_transform(est.transform(x)) - x) ** 2)
    recon_ref = np.mean((ref.inverse_transform(ref.transform(x)) - x) ** 2)
    metrics = {
        "min_abs_cosine": float(cos.min()),
        "mean_abs_cosine": float(cos.mean()),
        "orthonormality_error": _orthonormality_error(comp),
        "explained_variance_max_rel_error": float(
            np.max(np.abs(est.explained_variance_ / ref.explained_variance_ - 1.0))
        ),
        "explained_variance_ratio_sum": float(est.explained_variance_ratio_.sum()),
        "pca_explained_variance_ratio_sum": float(ref.explained_variance_ratio_.sum()),
        "reconstruction_mse_ratio": float(recon / recon_ref),
        "n_components": k,
        "n_samples": int(x.shape[0]),
        "n_samples_seen": int(est.n_samples_seen_),
        "stream_min_abs_cosine": float(curve[-1, 0]),
        "stream_orthonormality_error": float(curve[-1, 1]),
        "stream_epochs_to_target": int(good[0] + 1) if len(good) else -1,
    }
    metrics.update({f"abs_cosine_{i}": float(c) for i, c in enumerate(cos)})
    return Result(
        metrics=metrics,
        timings={"fit_s": fit_s, "pca_fit_s": pca_s},
        curves={"stream_min_abs_cosine": curve[:, 0].tolist(),
                "stream_orthonormality_error": curve[:, 1].tolist()},
        figures=_figures(comp * signs[:, None], ref.components_, cos, curve),
        arrays={
            "components": comp,
            "pca_components": ref.components_,
            "abs_cosines": cos,
            "explained_variance": est.explained_variance_,
            "pca_explained_variance": ref.explained_variance_,
            "learning_curve": curve,
        },
    )
