r"""Replay without stored raw samples: a class-conditional generative model and distillation.

Generative replay (Shin et al. 2017; van de Ven, Siegelmann & Tolias 2020, "Brain-inspired
replay") rehearses old classes with samples *generated* from what was learned, never with
stored inputs. Here the generator is a class-conditional Gaussian with a low-rank covariance
per class — probabilistic PCA (Tipping & Bishop 1999):

.. math:: x \mid c \sim \mathcal N(\mu_c,\ U_c\,\mathrm{diag}(\lambda_c - \sigma_c^2)\,U_c^\top
          + \sigma_c^2 I),

the maximum-likelihood fit from each class's running sufficient statistics
(:math:`n_c`, :math:`\sum x`, :math:`\sum xx^\top`, accumulated batch by batch while the task is
learned and discarded when the class is consolidated into :math:`\mu_c, U_c, \lambda_c,
\sigma_c^2`). Sampling is *conditional* (van de Ven 2020's "conditional replay": the class is
chosen, then the input); replayed inputs are labelled by the previous network's soft outputs
(distillation, Hinton et al. 2015) over the classes seen so far, as in generative replay with
distillation. :attr:`ClassConditionalGenerator.stored_raw_samples` is 0 by construction; the
numbers it does keep are counted by :meth:`~ClassConditionalGenerator.stored_floats`.

The generator can model any representation: the inputs, or the network's own hidden activity
(internal replay) — it only sees the vectors it is given.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from .._validation import check_int
from .distill import distillation_loss

__all__ = ["ClassConditionalGenerator", "distillation_loss"]


class ClassConditionalGenerator:
    """Per-class PPCA generator with ``components`` principal directions.

    Parameters
    ----------
    dim
        Length of the modelled vectors.
    components
        Principal directions kept per class (``<= dim``).
    clamp
        ``(low, high)`` range samples are clipped to (``None``: unclipped).
    """

    stored_raw_samples = 0

    def __init__(self, dim: int, components: int = 10,
                 clamp: tuple[float, float] | None = (0.0, 1.0)) -> None:
        self.dim = check_int("dim", dim, 1)
        self.components = check_int("components", components, 1, dim)
        self.clamp = clamp
        self._stats: dict[int, tuple[Tensor, Tensor, Tensor]] = {}  # n, sum x, sum xx^T
        self.classes: dict[int, dict[str, Tensor]] = {}  # consolidated models

    # ------------------------------------------------------------------ learning
    def observe(self, x: Tensor, y: Tensor) -> None:
        """Add a batch to the running statistics of its classes (the batch is not kept)."""
        if x.dim() != 2 or x.shape[1] != self.dim or y.shape != (x.shape[0],):
            raise ValueError(f"x must be (n, {self.dim}) and y (n,), got {tuple(x.shape)} and "
                             f"{tuple(y.shape)}")
        x = x.detach().to(torch.float64)
        for c in torch.unique(y).tolist():
            xc = x[y == c]
            f64 = torch.float64
            n, s, ss = self._stats.get(
                c, (torch.zeros((), dtype=f64), torch.zeros(self.dim, dtype=f64),
                    torch.zeros(self.dim, self.dim, dtype=f64)))
            self._stats[c] = (n + xc.shape[0], s + xc.sum(0), ss + xc.T @ xc)

    def consolidate(self) -> list[int]:
        """Fit the PPCA model of every class observed since the last call; drop the statistics.

        Returns the classes consolidated.
        """
        done = []
        for c, (n, s, ss) in sorted(self._stats.items()):
            mu = s / n
            cov = ss / n - torch.outer(mu, mu)
            cov = 0.5 * (cov + cov.T)
            evals, evecs = torch.linalg.eigh(cov)  # ascending
            evals = evals.flip(0).clamp(min=0)
            evecs = evecs.flip(1)
            k = self.components
            noise = evals[k:].mean() if k < self.dim else torch.zeros((), dtype=torch.float64)
            scale = torch.sqrt((evals[:k] - noise).clamp(min=0))
            self.classes[c] = {"mean": mu, "basis": evecs[:, :k] * scale[None, :],
                               "noise_sd": torch.sqrt(noise.clamp(min=0))}
            done.append(c)
        self._stats.clear()
        return done

    # ------------------------------------------------------------------ sampling
    def sample(self, n: int, *, generator: torch.Generator | None = None,
               classes: list[int] | None = None) -> tuple[Tensor, Tensor]:
        """``n`` samples ``(n, dim)`` float32 and their classes ``(n,)``, classes drawn uniformly
        from ``classes`` (default: every consolidated class)."""
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
        e = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        means = torch.stack([self.classes[c]["mean"] for c in pool])[pick]
        bases = torch.stack([self.classes[c]["basis"] for c in pool])[pick]  # (n, dim, k)
        sds = torch.stack([self.classes[c]["noise_sd"] for c in pool])[pick]
        x = means + (bases @ z[:, :, None])[:, :, 0] + sds[:, None] * e
        if self.clamp is not None:
            x = x.clamp(*self.clamp)
        return x.to(torch.float32), y

    # ------------------------------------------------------------------ bookkeeping
    def stored_floats(self) -> int:
        """Numbers kept by the consolidated models (mean, scaled basis, noise per class)."""
        return sum(self.dim + self.dim * self.components + 1 for _ in self.classes)

    def state_tensors(self) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {}
        for c, m in self.classes.items():
            for k, v in m.items():
                out[f"class.{c}.{k}"] = v
        for c, (n, s, ss) in self._stats.items():
            out[f"stats.{c}.n"], out[f"stats.{c}.s"], out[f"stats.{c}.ss"] = n, s, ss
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
                ci = int(c)
                self._stats[ci] = (tensors[f"stats.{c}.n"].clone(), tensors[f"stats.{c}.s"].clone(),
                                   tensors[f"stats.{c}.ss"].clone())
