"""A2: Sanger's Hebbian PCA versus scikit-learn's PCA and IncrementalPCA on digits.

Workload: scikit-learn digits (1797 x 64, raw pixels), 8 components. Every method must reach the
same subspace accuracy against ``sklearn.decomposition.PCA(8)`` (exact SVD): each component with
|cosine| >= 0.99 and orthonormality error max|W Wᵀ − I| <= 1e-2. We time ``fit`` (median of the
repetitions, wall clock, single thread by default):

* ours: ``SangerPCA(8).fit`` with default settings (20 epochs, batches of 10), plus, for
  information, the fewest epochs that still reach the target (``--quick`` skips that sweep);
* peers: ``PCA(8, svd_solver="full")``; ``IncrementalPCA`` (default batches of 5·64), which with
  8 components does *not* reach the target (its rank-8 truncation per batch mixes components
  7-8 with the next ones), so it is timed with the fewest components (8, 12, 16, ...) whose
  leading 8 reach it; ``IncrementalPCA(8)`` fed batches of 10 through ``partial_fit`` (the
  granularity of our stream) is reported in the details but misses the target (it cannot keep
  more components than the batch size). Peers that miss the target are left out of "peers".
  No SNN peer library ships an online PCA rule, so none is timed.

Informational: an exact SVD of a 1797 x 64 matrix is hard to beat by stochastic learning; the
point of the Hebbian learner is locality and streaming, and this benchmark says what it costs.

Run: ``python benchmarks/a2_sanger.py [--quick] [--threads N]``; the last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time


def _pin_threads(n: int) -> None:
    for var in (
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "NUMBA_NUM_THREADS",
        "VECLIB_MAXIMUM_THREADS",
    ):
        os.environ[var] = str(n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 repetitions, no epoch sweep")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=None)
    args = ap.parse_args()
    _pin_threads(args.threads)

    import numpy as np  # noqa: E402  (after pinning threads)
    import torch
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA, IncrementalPCA

    torch.set_num_threads(args.threads)
    from neuroplastic.plasticity.pca import SangerPCA

    reps = args.reps or (3 if args.quick else 5)
    k = 8
    x = load_digits().data
    ref = PCA(k, svd_solver="full").fit(x).components_

    def accuracy(w: np.ndarray) -> tuple[float, float]:
        wn = w / np.linalg.norm(w, axis=1, keepdims=True)
        cos = np.abs((wn * ref).sum(1))
        return float(cos.min()), float(np.abs(w @ w.T - np.eye(k)).max())

    def ok(w: np.ndarray) -> bool:
        c, o = accuracy(w)
        return c >= 0.99 and o <= 1e-2

    def timed(make_fit) -> tuple[float, np.ndarray]:
        times, comp = [], None
        for r in range(reps):
            t0 = time.perf_counter()
            comp = make_fit(r)
            times.append(time.perf_counter() - t0)
        return statistics.median(times), comp

    def ipca_stream(_r: int) -> np.ndarray:
        est = IncrementalPCA(k)
        for s in range(0, len(x), 10):
            est.partial_fit(x[s : s + 10])
        return est.components_

    m_ipca = next(
        m for m in (8, 12, 16, 24, 32, 48, 64) if ok(IncrementalPCA(m).fit(x).components_[:k])
    )
    results: dict[str, float] = {}
    details: dict[str, dict] = {}
    runs = {
        "ours": lambda r: SangerPCA(k, random_state=r).fit(x).components_,
        "sklearn.PCA(full SVD)": lambda r: PCA(k, svd_solver="full").fit(x).components_,
        "sklearn.IncrementalPCA(8, batch=320)": lambda r: IncrementalPCA(k).fit(x).components_,
        f"sklearn.IncrementalPCA({m_ipca}, batch=320)[:8]": (
            lambda r: IncrementalPCA(m_ipca).fit(x).components_[:k]
        ),
        "sklearn.IncrementalPCA(8, partial_fit batch=10)": ipca_stream,
    }
    for name, fn in runs.items():
        t, comp = timed(fn)
        c, o = accuracy(comp)
        details[name] = {"fit_s": t, "min_abs_cosine": c, "orthonormality_error": o}
        print(f"{name:48s} fit {t * 1e3:9.1f} ms   min|cos| {c:.5f}   orth {o:.2e}", flush=True)
        if ok(comp):
            results[name] = t
        else:
            print(f"  ! {name} missed the accuracy target (left out of peers)", flush=True)

    if not args.quick:  # fewest epochs that reach the target for every seed tried
        for n_epochs in range(2, 21):
            if all(
                ok(SangerPCA(k, n_epochs=n_epochs, random_state=r).fit(x).components_)
                for r in range(reps)
            ):
                t, _ = timed(lambda r, n=n_epochs: SangerPCA(k, n_epochs=n, random_state=r).fit(x))
                print(f"ours with the fewest epochs ({n_epochs}): fit {t * 1e3:.1f} ms", flush=True)
                details["ours_min_epochs"] = {"n_epochs": n_epochs, "fit_s": t}
                break

    ours = results.pop("ours")
    best = min(results.values())
    print("details: " + json.dumps(details), flush=True)
    print(
        json.dumps(
            {
                "workload": "digits 1797x64, 8 components, fit to min|cos|>=0.99 vs PCA and "
                "max|WW^T-I|<=1e-2 (SangerPCA defaults: 20 epochs, batch 10)",
                "unit": "s",
                "ours": ours,
                "peers": results,
                "ratio_vs_best_peer": ours / best,
                "better": "lower",
                "machine": f"{platform.machine()} {platform.processor() or ''} "
                f"{os.cpu_count()} cpus, python {sys.version.split()[0]}, numpy {np.__version__}",
                "threads": args.threads,
            }
        )
    )


if __name__ == "__main__":
    main()
