"""A leakage cap on released explanations: clipped attributions through a Gaussian mechanism.

* :func:`gaussian_sigma` — the noise scale of the **analytic Gaussian mechanism** (Balle & Wang
  2018, Theorem 8): the smallest ``σ`` with
  ``Φ(Δ/2σ − εσ/Δ) − e^ε Φ(−Δ/2σ − εσ/Δ) ≤ δ`` (exact, valid for every ``ε > 0``, tighter than
  the classic ``σ = Δ √(2 ln(1.25/δ)) / ε`` bound, which holds only for ``ε < 1``).
* :class:`GaussianRelease` — clip each explanation to L2 norm ``clip`` and add
  ``N(0, σ² I)``; the L2 sensitivity of the clipped map to any change of the training set (or of
  the explained input) is ``Δ = 2 · clip``.
* :class:`PrivacyAccountant` — (ε, δ) across queries: Opacus's RDP accountant (Rényi DP of the
  Gaussian mechanism, conversion of Balle et al. 2020) and the exact composition of Gaussian
  mechanisms (Gaussian DP, Dong, Roth & Su 2022: ``μ = √(Σ (Δ/σ_i)²)``).
* :func:`mia_audit` — a membership-inference attack (Shokri, Strobel & Zick 2021) thresholding a
  statistic of the released explanations; checks ``TPR ≤ e^ε·FPR + δ`` at every threshold with
  Clopper–Pearson intervals, so a release that leaks more than its budget fails the audit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy import optimize, stats
from torch import Tensor

from .._validation import check_int, check_positive

__all__ = [
    "AuditResult",
    "GaussianRelease",
    "PrivacyAccountant",
    "advantage_bound",
    "check_budget",
    "clip_l2",
    "gaussian_delta",
    "gaussian_epsilon",
    "gaussian_sigma",
    "mia_audit",
]


def check_budget(epsilon: float, delta: float) -> tuple[float, float]:
    """``(ε, δ)`` validated: ``ε > 0`` finite, ``0 < δ < 1`` (``ValueError`` naming the one)."""
    eps = check_positive("epsilon", epsilon)
    if not math.isfinite(eps):
        raise ValueError(f"epsilon must be finite, got {epsilon!r}")
    if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not 0 < delta < 1:
        raise ValueError(f"delta must be in (0, 1), got {delta!r}")
    return eps, float(delta)


def gaussian_delta(epsilon: float, sigma_over_sensitivity: float) -> float:
    """Exact δ(ε) of the Gaussian mechanism with noise ``σ = r·Δ`` (Balle & Wang 2018, Thm 8)."""
    r = float(sigma_over_sensitivity)
    a, b = 1.0 / (2.0 * r), epsilon * r
    return float(stats.norm.cdf(a - b) - math.exp(epsilon) * stats.norm.cdf(-a - b))


def gaussian_sigma(epsilon: float, delta: float, sensitivity: float) -> float:
    """Noise σ of the analytic Gaussian mechanism: the smallest σ that is (ε, δ)-DP for L2
    sensitivity ``sensitivity`` (``δ(ε)`` is decreasing in σ; solved to 1e-12 relative)."""
    eps, dlt = check_budget(epsilon, delta)
    sens = check_positive("sensitivity", sensitivity)
    lo, hi = 1e-6, 1.0
    while gaussian_delta(eps, hi) > dlt:
        hi *= 2.0
    r = optimize.brentq(lambda s: gaussian_delta(eps, s) - dlt, lo, hi, xtol=1e-14, rtol=1e-13)
    return float(r * sens)


def gaussian_epsilon(delta: float, mu: float) -> float:
    """Smallest ε such that a Gaussian mechanism with ``Δ/σ = mu`` is (ε, δ)-DP."""
    if mu <= 0:
        return 0.0
    r = 1.0 / mu
    if gaussian_delta(0.0, r) <= delta:
        return 0.0
    hi = 1.0
    while gaussian_delta(hi, r) > delta:
        hi *= 2.0
    return float(optimize.brentq(lambda e: gaussian_delta(e, r) - delta, 0.0, hi, xtol=1e-12))


def clip_l2(x: Tensor, clip: float) -> Tensor:
    """Scale each row (first dim = batch) of ``x`` to L2 norm at most ``clip``."""
    flat = x.reshape(x.shape[0], -1)
    norm = flat.norm(dim=1, keepdim=True).clamp_min(1e-30)
    return (flat * (clip / norm).clamp(max=1.0)).reshape(x.shape)


def advantage_bound(epsilon: float, delta: float) -> float:
    """Largest TPR − FPR of any test against an (ε, δ)-DP mechanism:
    ``(e^ε − 1 + 2δ) / (e^ε + 1)`` (Kairouz, Oh & Viswanath 2015)."""
    e = math.exp(epsilon)
    return (e - 1.0 + 2.0 * delta) / (e + 1.0)


@dataclass
class PrivacyAccountant:
    """(ε, δ) of all releases so far. Each release is a Gaussian mechanism with noise
    multiplier ``σ/Δ``, no subsampling.

    ``epsilon()`` is Opacus's RDP accountant; ``epsilon_exact()`` the exact composition
    (Gaussian DP), which the RDP bound must never undercut.
    """

    delta: float
    multipliers: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        check_budget(1.0, self.delta)

    def spend(self, noise_multiplier: float, count: int = 1) -> None:
        """Record ``count`` releases at noise multiplier ``σ/Δ``."""
        check_positive("noise_multiplier", noise_multiplier)
        self.multipliers.extend([float(noise_multiplier)] * check_int("count", count, 1))

    @property
    def queries(self) -> int:
        return len(self.multipliers)

    def epsilon(self) -> float:
        """ε at ``delta`` from Opacus's RDP accountant (0 before any release)."""
        import warnings

        from opacus.accountants import RDPAccountant

        if not self.multipliers:
            return 0.0
        acc = RDPAccountant()
        # identical mechanisms are merged by Opacus into one history entry with a step count
        for z in self.multipliers:
            acc.step(noise_multiplier=z, sample_rate=1.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "optimal order is the smallest/largest alpha"
            return float(acc.get_epsilon(self.delta))

    def epsilon_exact(self) -> float:
        """Exact ε of the composition: a Gaussian mechanism with ``μ = √(Σ z_i⁻²)``."""
        mu = math.sqrt(sum(1.0 / z**2 for z in self.multipliers))
        return gaussian_epsilon(self.delta, mu)


@dataclass(frozen=True)
class GaussianRelease:
    """Release explanations through the analytic Gaussian mechanism on clipped maps.

    Parameters
    ----------
    epsilon, delta
        Per-release budget (``ε > 0``, ``0 < δ < 1``).
    clip
        L2 norm every explanation is clipped to; the sensitivity is ``2·clip`` (replacing the
        training set or the input can move a clipped map anywhere in the ball).
    """

    epsilon: float
    delta: float
    clip: float

    def __post_init__(self) -> None:
        check_budget(self.epsilon, self.delta)
        check_positive("clip", self.clip)

    @property
    def sensitivity(self) -> float:
        return 2.0 * self.clip

    @property
    def sigma(self) -> float:
        return gaussian_sigma(self.epsilon, self.delta, self.sensitivity)

    def release(self, maps: Tensor, generator: torch.Generator,
                accountant: PrivacyAccountant | None = None) -> Tensor:
        """Clipped ``maps`` (batch first) plus Gaussian noise; one query per row."""
        sigma = self.sigma
        noise = torch.randn(maps.shape, generator=generator, dtype=torch.float64)
        out = clip_l2(maps.to(torch.float64), self.clip) + sigma * noise
        if accountant is not None:
            accountant.spend(sigma / self.sensitivity, count=maps.shape[0])
        return out


@dataclass(frozen=True)
class AuditResult:
    """Outcome of :func:`mia_audit` (attack: "member" when the statistic is on one side)."""

    thresholds: np.ndarray
    tpr: np.ndarray
    fpr: np.ndarray
    advantage: float  # max |TPR − FPR| over thresholds and both sides
    auc: float
    bound: float  # advantage_bound(ε, δ)
    violated: bool  # some threshold has TPR > e^ε FPR + δ beyond sampling error
    max_excess: float  # max of lower-CI TPR − (e^ε upper-CI FPR + δ) (> 0: violated)


def _cp(k: np.ndarray, n: int, alpha: float, upper: bool) -> np.ndarray:
    """One-sided Clopper–Pearson bound of a binomial proportion."""
    if upper:
        return np.where(k >= n, 1.0, stats.beta.ppf(1 - alpha, k + 1, np.maximum(n - k, 1)))
    return np.where(k <= 0, 0.0, stats.beta.ppf(alpha, np.maximum(k, 1), n - k + 1))


def mia_audit(stat_members: np.ndarray, stat_nonmembers: np.ndarray, epsilon: float,
              delta: float, *, alpha: float = 0.01, grid: int | None = 32) -> AuditResult:
    """Threshold attack on a per-query statistic, audited against (ε, δ).

    For each threshold ``τ`` and each side (member iff ``stat ≤ τ``, or ``≥ τ``) the attack's
    TPR/FPR are counted; the DP inequality ``TPR ≤ e^ε FPR + δ`` (and its mirror for the
    complement) is *violated* when the lower Clopper–Pearson bound of the TPR exceeds
    ``e^ε`` × the upper bound of the FPR plus δ, at family-wise level ``alpha`` (Bonferroni).
    The inequality is checked at ``grid`` thresholds fixed in advance (quantiles of the pooled
    statistic; ``None``: at every observed value, a larger Bonferroni correction); the ROC and
    the advantage use every observed value.
    """
    eps, dlt = check_budget(epsilon, delta)
    m = np.asarray(stat_members, dtype=np.float64)
    o = np.asarray(stat_nonmembers, dtype=np.float64)
    if m.ndim != 1 or o.ndim != 1 or m.size < 2 or o.size < 2:
        raise ValueError("stat_members and stat_nonmembers must be 1-D with >= 2 entries")
    pooled = np.concatenate([m, o])
    th = np.unique(pooled)
    km = np.searchsorted(np.sort(m), th, side="right")  # members with stat <= tau
    ko = np.searchsorted(np.sort(o), th, side="right")
    tpr, fpr = km / m.size, ko / o.size
    if grid is not None:
        check_int("grid", grid, 1)
        th = np.unique(np.quantile(pooled, np.linspace(0, 1, grid + 2)[1:-1]))
        km = np.searchsorted(np.sort(m), th, side="right")
        ko = np.searchsorted(np.sort(o), th, side="right")
    nm, no = m.size, o.size
    a = alpha / (4 * th.size)
    excess = -np.inf
    e = math.exp(eps)
    for k1, k0 in ((km, ko), (nm - km, no - ko)):  # the tests "<= tau" and "> tau"
        # P_in(S) <= e^eps P_out(S) + delta and the same with in/out swapped
        for (ka, na), (kb, nb) in (((k1, nm), (k0, no)), ((k0, no), (k1, nm))):
            lo = _cp(ka, na, a, upper=False)
            hi = _cp(kb, nb, a, upper=True)
            excess = max(excess, float(np.max(lo - (e * hi + dlt))))
    auc = float(stats.mannwhitneyu(m, o).statistic / (nm * no))
    return AuditResult(np.unique(pooled), tpr, fpr, float(np.max(np.abs(tpr - fpr))),
                       max(auc, 1 - auc), advantage_bound(eps, dlt), excess > 0, excess)
