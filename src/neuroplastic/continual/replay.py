r"""Replay without stored raw samples: a class-conditional generative model and distillation.

Generative replay (Shin et al. 2017; van de Ven, Siegelmann & Tolias 2020, "Brain-inspired
replay") rehearses old classes with samples *generated* from what was learned, never with
stored inputs. Here the generator is a class-conditional Gaussian with a low-rank covariance
per class — probabilistic PCA (Tipping & Bishop 1999):

.. math:: x \mid c \sim \mathcal N(\mu_c,\ U_c\,\mathrm{diag}(\lambda_c - \sigma_c^2)\,U_c^\top
          + \sigma_c^2 I),

the maximum-likelihood fit to each class's data, made in one pass while the task is learned
(the data are then dropped; only :math:`\mu_c, U_c, \lambda_c, \sigma_c^2` are kept). With
``clusters > 1`` a class is a mixture of such models, one per k-means cluster of its data (a
digit class is not one Gaussian: one PPCA model per MNIST class gives replayed inputs a
classifier can tell from real ones). ``sample(..., noise=False)`` draws on the principal
subspace only, without the isotropic residual. Sampling is *conditional* (van de Ven 2020's
"conditional replay": the class is chosen, then the input); replayed inputs are labelled by
the previous network's soft outputs (distillation, Hinton et al. 2015) over the classes seen
so far, as in generative replay with distillation.
:attr:`ClassConditionalGenerator.stored_raw_samples` is 0 by construction; the numbers it
does keep are counted by :meth:`~ClassConditionalGenerator.stored_floats`.

The generator can model any representation: the inputs, or the network's own hidden activity
(internal replay) — it only sees the vectors it is given.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor

from .._validation import check_int
from .distill import distillation_loss

__all__ = ["ClassConditionalGenerator", "distillation_loss"]


def _nearest(x: Tensor, centres: Tensor) -> Tensor:
    """Index of the nearest centre (Euclidean) of every row of ``x``."""
    # (centres, rows): the product and the reduction run along the long axis (faster)
    d2 = torch.addmm((centres * centres).sum(1, keepdim=True), centres, x.T, alpha=-2.0)
    return d2.argmin(0)


class ClassConditionalGenerator:
    """Per-class PPCA generator with ``components`` principal directions (a mixture of
    ``clusters`` PPCA models per class).

    Parameters
    ----------
    dim
        Length of the modelled vectors.
    components
        Principal directions kept per class (per cluster) (``<= dim``).
    clamp
        ``(low, high)`` range samples are clipped to (``None``: unclipped).
    clusters
        PPCA models per class (a mixture; 1: one Gaussian per class). Each batch of a class
        is split by k-means (``kmeans_iters`` Lloyd iterations from ``clusters`` of its samples
        drawn with ``seed``, on at most ``kmeans_sample`` of its samples drawn with it; then
        every sample goes to its nearest centre); each cluster gets its own PPCA fit and is
        sampled in proportion to its count.
    power_iters
        Power iterations of the randomised subspace fit used when ``dim > 256``.
    kmeans_sample
        Samples of a class (per batch) the k-means iterations run on.
    """

    stored_raw_samples = 0

    def __init__(self, dim: int, components: int = 10,
                 clamp: tuple[float, float] | None = (0.0, 1.0), *, clusters: int = 1,
                 kmeans_iters: int = 5, power_iters: int = 1, kmeans_sample: int = 1024,
                 seed: int = 0) -> None:
        self.dim = check_int("dim", dim, 1)
        self.components = check_int("components", components, 1, dim)
        self.clamp = clamp
        self.clusters = check_int("clusters", clusters, 1)
        self.kmeans_iters = check_int("kmeans_iters", kmeans_iters, 0)
        self.power_iters = check_int("power_iters", power_iters, 0)
        self.kmeans_sample = check_int("kmeans_sample", kmeans_sample, 1)
        self.seed = check_int("seed", seed, 0)
        # per class, fitted and waiting for consolidate(): (n, mean, basis, noise sd) each
        self._stats: dict[int, list[tuple[Tensor, Tensor, Tensor, Tensor]]] = {}
        self.classes: dict[int, dict[str, Tensor]] = {}  # consolidated models

    # ------------------------------------------------------------------ learning
    def _ppca(self, xj: Tensor, g: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        """Maximum-likelihood PPCA of the rows of ``xj``: mean, scaled basis ``(dim, k)``,
        noise sd. Exact (eigen-decomposition of the covariance) for ``dim <= 256``, else the
        top ``k`` directions by randomised subspace iteration on the centred data (float32;
        Halko et al. 2011) — a 784 × 784 eigen-decomposition per cluster would cost more than
        the training it serves."""
        k, d, f64 = self.components, self.dim, torch.float64
        n = xj.shape[0]
        mu = xj.mean(0)
        if d > 256:
            return self._ppca_randomised(xj, mu, g)
        xc = xj - mu
        mu = mu.to(f64)
        cov = xc.T @ xc / n
        cov = 0.5 * (cov + cov.T)
        evals, evecs = torch.linalg.eigh(cov)  # ascending
        evals = evals.flip(0).clamp(min=0)
        evecs = evecs.flip(1)
        noise = evals[k:].mean() if k < d else torch.zeros((), dtype=f64)
        top, dirs = evals[:k], evecs[:, :k]
        scale = torch.sqrt((top - noise).clamp(min=0))
        return mu, dirs * scale[None, :], torch.sqrt(noise.clamp(min=0))

    def _ppca_randomised(self, xj: Tensor, mu: Tensor,
                         g: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        """:meth:`_ppca` for ``dim > 256``, among the columns that vary over the rows: the
        constant ones (MNIST's blank borders) add nothing to the covariance (exact)."""
        k, d, f64 = self.components, self.dim, torch.float64
        n = xj.shape[0]
        live = (xj.amax(0) > xj.amin(0)).nonzero()[:, 0] if n else torch.arange(d)
        if live.numel() == d:
            xl = (xj - mu).to(torch.float32)
        else:
            xl = (xj.index_select(1, live) - mu[live]).to(torch.float32)
        dl = xl.shape[1]
        q = min(k + 8, dl, max(n, 1))
        Q = torch.linalg.qr(xl.T @ (xl @ torch.randn(dl, q, generator=g)))[0]
        for _ in range(self.power_iters):
            Q = torch.linalg.qr(xl.T @ (xl @ Q))[0]
        xq = (xl @ Q).to(f64)
        ev, vs = torch.linalg.eigh(xq.T @ xq / n)
        ev, vs = ev.flip(0).clamp(min=0), vs.flip(1)
        top = torch.zeros(k, dtype=f64)
        dirs = torch.zeros(d, k, dtype=f64)
        m = min(k, q)
        top[:m] = ev[:m]
        dirs[live, :m] = Q.to(f64) @ vs[:, :m]
        flat = xl.reshape(-1)
        total = torch.dot(flat, flat).to(f64) / n
        noise = ((total - top.sum()) / (d - k)).clamp(min=0) if k < d else top.new_zeros(())
        scale = torch.sqrt((top - noise).clamp(min=0))
        return mu.to(f64), dirs * scale[None, :], torch.sqrt(noise)

    def observe(self, x: Tensor, y: Tensor) -> None:
        """Fit the PPCA model(s) of each class present in the batch (the batch is not kept);
        they wait for :meth:`consolidate`. A class observed in several batches gets the
        clusters of every batch (a mixture weighted by the counts)."""
        if x.dim() != 2 or x.shape[1] != self.dim or y.shape != (x.shape[0],):
            raise ValueError(f"x must be (n, {self.dim}) and y (n,), got {tuple(x.shape)} and "
                             f"{tuple(y.shape)}")
        # float64 for the exact low-dimensional fit, float32 for the randomised one
        x = x.detach().to(torch.float64 if self.dim <= 256 else torch.float32)
        for c in torch.unique(y).tolist():
            xc = x[y == c]
            g = torch.Generator().manual_seed(self.seed * 1009 + c)
            if self.clusters > 1:
                x32 = xc.to(torch.float32)
                a = _nearest(x32, self._centres(x32, g))
            else:
                a = torch.zeros(xc.shape[0], dtype=torch.int64)
            parts = self._stats.setdefault(c, [])
            for j in a.unique().tolist():
                xj = xc[a == j]
                parts.append((torch.tensor(float(xj.shape[0]), dtype=torch.float64),
                              *self._ppca(xj, g)))

    def _centres(self, x32: Tensor, g: torch.Generator) -> Tensor:
        """``clusters`` k-means centres of ``x32`` (Lloyd, from samples drawn with ``g``)."""
        K = self.clusters
        perm = torch.randperm(x32.shape[0], generator=g)
        cent = x32[perm[:K]].clone()
        if x32.shape[0] > self.kmeans_sample:  # Lloyd's iterations on a random subset
            x32 = x32[perm[: self.kmeans_sample]]
        for _ in range(self.kmeans_iters):
            onehot = F.one_hot(_nearest(x32, cent), cent.shape[0]).to(x32.dtype)
            cnt = onehot.sum(0)
            moved = cnt > 0
            cent[moved] = (onehot.T @ x32)[moved] / cnt[moved, None]
        return cent

    def consolidate(self) -> list[int]:
        """Move the models of every class observed since the last call into the replayed
        ones. Returns the classes consolidated."""
        done = []
        for c, parts in sorted(self._stats.items()):
            n, mu, basis, sd = (torch.stack(t) for t in zip(*parts))
            self.classes[c] = {"mean": mu, "basis": basis, "noise_sd": sd,
                               "weight": n / n.sum()}
            done.append(c)
        self._stats.clear()
        return done

    # ------------------------------------------------------------------ sampling
    def sample(self, n: int, *, generator: torch.Generator | None = None,
               classes: list[int] | None = None, noise: bool = True) -> tuple[Tensor, Tensor]:
        r"""``n`` samples ``(n, dim)`` float32 and their classes ``(n,)``, classes drawn uniformly
        from ``classes`` (default: every consolidated class), then a class's cluster in
        proportion to its count. ``noise=False`` leaves out the isotropic residual
        :math:`\sigma_c^2 I` (samples on the principal subspace: on MNIST the speckle it adds
        to the blank background is what tells a replayed input from a real one)."""
        check_int("n", n, 1)
        pool = sorted(self.classes) if classes is None else list(classes)
        if not pool:
            raise ValueError("no consolidated class to replay")
        for c in pool:
            if c not in self.classes:
                raise ValueError(f"class {c} has not been consolidated")
        pick = torch.randint(len(pool), (n,), generator=generator)
        y = torch.tensor(pool, dtype=torch.int64)[pick]
        k = self.components
        z = torch.randn(n, k, generator=generator, dtype=torch.float64)
        e = torch.randn(n, self.dim, generator=generator, dtype=torch.float64) if noise else None
        # float64 arithmetic, stored as float32 and clamped there: for bounds exact in float32
        # (the default 0 and 1) the same numbers as clamping in float64, without its copies
        x = torch.empty(n, self.dim, dtype=torch.float32)
        for j, c in enumerate(pool):  # one matrix product per class (cluster)
            rows = (pick == j).nonzero()[:, 0]
            if not rows.numel():
                continue
            m = self.classes[c]
            if m["weight"].numel() == 1:
                cl = torch.zeros(rows.numel(), dtype=torch.int64)
            else:
                cl = torch.multinomial(m["weight"], rows.numel(), replacement=True,
                                       generator=generator)
            for q in cl.unique().tolist():
                r = rows[cl == q]
                xr = m["mean"][q] + z[r] @ m["basis"][q].T
                if noise:
                    xr = xr + m["noise_sd"][q] * e[r]
                x[r] = xr.to(torch.float32)
        if self.clamp is not None:
            x.clamp_(*self.clamp)
        return x, y

    # ------------------------------------------------------------------ bookkeeping
    def stored_floats(self) -> int:
        """Numbers kept by the consolidated models (per cluster: mean, scaled basis, noise,
        weight)."""
        return sum(int(m["weight"].numel()) * (self.dim + self.dim * self.components + 2)
                   for m in self.classes.values())

    def state_tensors(self) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {}
        for c, m in self.classes.items():
            for k, v in m.items():
                out[f"class.{c}.{k}"] = v
        for c, parts in self._stats.items():
            n, mu, basis, sd = (torch.stack(t) for t in zip(*parts))
            out[f"stats.{c}.n"], out[f"stats.{c}.mean"] = n, mu
            out[f"stats.{c}.basis"], out[f"stats.{c}.noise_sd"] = basis, sd
        return out

    def load_state_tensors(self, tensors: Mapping[str, Tensor]) -> None:
        self.classes, self._stats = {}, {}
        for key, v in tensors.items():
            kind, c, part = key.split(".")
            if kind == "class":
                self.classes.setdefault(int(c), {})[part] = v.clone()
        for key in tensors:
            kind, c, part = key.split(".")
            if kind == "stats" and part == "n":
                cols = [tensors[f"stats.{c}.{q}"] for q in ("n", "mean", "basis", "noise_sd")]
                self._stats[int(c)] = [tuple(t[i].clone() for t in cols)
                                       for i in range(cols[0].shape[0])]
