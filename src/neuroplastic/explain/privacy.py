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
* :func:`mi_bound_bits` — an **information cap**: the largest mutual information (bits) between
  a binary secret and a Gaussian-mechanism release when the secret moves the clipped map by at
  most ``Δ`` in L2 (exact, numerically integrated); :func:`mi_bound_closed_form_bits` its
  closed-form upper bound ``½ log2(1 + 4π(1−π)·Δ²/(4σ²))``.
* :func:`mi_lower_bound_bits` — an empirical estimate of I(secret; release): the entropy of the
  secret minus the cross-validated cross-entropy of a logistic-regression attacker (a lower
  bound on the true information in expectation), with its standard error.
* :func:`pool_blocks` / :func:`patch_groups` — block sums of a map (time bins × channel
  patches) released instead of every entry: the same clipped-Gaussian release on ``k`` sums
  instead of ``T·n`` entries, so the signal per released number is ~``√(T·n/k)`` times larger
  at the same (ε, δ).

Derivation of the information cap. Let the secret ``S ∈ {0, 1}`` (``P(S=1) = π``) and any other
randomness ``W`` independent of ``S`` (which inputs are explained, the model) determine the
clipped map ``f(S, W)``, with ``‖f(1, w) − f(0, w)‖₂ ≤ Δ`` for every ``w`` (``Δ = 2·clip`` for
any two clipped maps), released as ``R = f(S, W) + N(0, σ²I)``. Since ``S ⊥ W``,
``I(S; R) ≤ I(S; R, W) = I(S; R | W)``. Given ``W = w`` the projection of ``R`` on
``u = (f(1,w) − f(0,w)) / d`` (``d ≤ Δ``) is a sufficient statistic for ``S`` (the orthogonal
part is noise independent of ``S``), so ``I(S; R | W = w) = I(S; S·d + N(0, σ²))``, the
mutual information of a binary-input Gaussian channel, which grows with ``d`` (``S + N/d'`` is
``S + N/d`` plus independent noise for ``d' < d``: data processing). Hence
``I(S; R) ≤ I_BI-AWGN(Δ/σ, π)`` (:func:`mi_bound_bits`), and since a Gaussian has the largest
entropy for its variance (Cover & Thomas 2006, Elements of Information Theory, Thm 8.6.5; the
Gaussian channel capacity, Thm 9.1.1) with ``Var(S·d) = π(1−π)d²``,
``I ≤ ½ log2(1 + π(1−π)Δ²/σ²)`` — ``½ log2(1 + Δ²/(4σ²))`` at ``π = ½``.
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
    "mi_bound_bits",
    "mi_bound_closed_form_bits",
    "mi_lower_bound_bits",
    "mia_audit",
    "patch_groups",
    "pool_blocks",
    "rank_fidelity",
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


# ------------------------------------------------------------------------- information cap
def _check_prior(prior: float) -> float:
    if isinstance(prior, bool) or not isinstance(prior, (int, float)) or not 0 < prior < 1:
        raise ValueError(f"prior must be in (0, 1), got {prior!r}")
    return float(prior)


def mi_bound_closed_form_bits(sensitivity: float, sigma: float, prior: float = 0.5) -> float:
    """``½ log2(1 + π(1−π) Δ² / σ²)``: the Gaussian-channel bound on I(secret; release) for a
    binary secret that moves the clipped map by at most ``Δ`` (module docstring)."""
    d = check_positive("sensitivity", sensitivity)
    s = check_positive("sigma", sigma)
    p = _check_prior(prior)
    return 0.5 * math.log2(1.0 + p * (1.0 - p) * d * d / (s * s))


def mi_bound_bits(sensitivity: float, sigma: float, prior: float = 0.5) -> float:
    """Largest I(S; R) in bits over all maps with ``‖f(1) − f(0)‖₂ ≤ Δ`` released with
    ``N(0, σ²I)``: the mutual information of the binary-input Gaussian channel
    ``Y = S·Δ + N(0, σ²)``, ``P(S=1) = prior``, integrated numerically (module docstring);
    at most :func:`mi_bound_closed_form_bits`."""
    from scipy import integrate

    d = check_positive("sensitivity", sensitivity)
    s = check_positive("sigma", sigma)
    p = _check_prior(prior)
    a = d / s  # in units of sigma: Y ~ N(0, 1) or N(a, 1)
    if a > 60:
        return float(-(p * math.log2(p) + (1 - p) * math.log2(1 - p)))

    def term(y: float, mean: float) -> float:
        # log2 p(y | s) / p(y), with p(y) = (1-p) N(0,1) + p N(a,1)
        l0, l1 = -0.5 * y * y, -0.5 * (y - a) ** 2
        lm = np.logaddexp(math.log1p(-p) + l0, math.log(p) + l1)
        own = l1 if mean else l0
        return float(stats.norm.pdf(y - mean) * (own - lm) / math.log(2))

    lo, hi = -12.0, a + 12.0
    i0 = integrate.quad(term, lo, hi, args=(0.0,), points=[0.0, a], limit=200)[0]
    i1 = integrate.quad(term, lo, hi, args=(a,), points=[0.0, a], limit=200)[0]
    return float(max(0.0, (1 - p) * i0 + p * i1))


def mi_lower_bound_bits(features: np.ndarray, secret: np.ndarray, *,
                        groups: np.ndarray | None = None, folds: int = 5,
                        seed: int = 0) -> tuple[float, float]:
    """Estimate of I(secret; features) in bits with its standard error: ``H(S)`` minus the
    held-out cross-entropy (bits) of a logistic-regression attacker, cross-validated over
    ``folds`` (grouped by ``groups`` when given, e.g. the explained input of a repeated
    release). Any attacker's expected held-out cross-entropy is at least ``H(S | features)``,
    so the estimate is a lower bound on the information in expectation (it can be < 0 by
    sampling error); the error is the standard error of the mean log-loss."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.asarray(features, dtype=np.float64)
    x = x.reshape(x.shape[0], -1)
    y = np.asarray(secret).astype(np.int64).reshape(-1)
    if y.size != x.shape[0] or set(np.unique(y)) != {0, 1}:
        raise ValueError("secret must be one 0/1 label per row of features, both present")
    check_int("folds", folds, 2)
    if groups is not None:
        groups = np.asarray(groups).reshape(-1)
        if groups.size != y.size:
            raise ValueError(f"groups must have {y.size} entries, got {groups.size}")
        k = min(folds, np.unique(groups).size)
        cv = GroupKFold(n_splits=k)
    else:
        k = min(folds, int(np.bincount(y).min()))
        cv = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    if k < 2:
        raise ValueError("mi_lower_bound_bits needs >= 2 rows of each secret (or 2 groups)")
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
    proba = cross_val_predict(clf, x, y, cv=cv, groups=groups, method="predict_proba")[:, 1]
    proba = np.clip(proba, 1e-12, 1 - 1e-12)
    loss = -(y * np.log2(proba) + (1 - y) * np.log2(1 - proba))
    p = y.mean()
    h = float(-(p * math.log2(p) + (1 - p) * math.log2(1 - p)))
    return h - float(loss.mean()), float(loss.std(ddof=1) / math.sqrt(loss.size))


# ------------------------------------------------------------------------------ block sums
def patch_groups(side: int, patch: int) -> Tensor:
    """``(side², )`` group id of every pixel of a ``side × side`` image in ``patch × patch``
    squares (row-major; edge patches are smaller when ``patch`` does not divide ``side``)."""
    check_int("side", side, 1)
    check_int("patch", patch, 1)
    r = torch.arange(side) // patch
    per_row = -(-side // patch)
    return (r[:, None] * per_row + r[None, :]).reshape(-1)


def pool_blocks(maps: Tensor, *, time_bin: int, groups: Tensor) -> Tensor:
    """Block sums of maps ``(B, T, n)``: ``time_bin`` consecutive steps (the last bin may be
    shorter) × the channels of each id in ``groups`` ``(n,)`` -> ``(B, ceil(T/time_bin), G)``.
    A release of these sums clipped to L2 ``clip`` has sensitivity ``2·clip`` like any clipped
    release (pooling comes before the clip, so the (ε, δ) guarantee is unchanged)."""
    if maps.dim() != 3:
        raise ValueError(f"maps must have shape (B, T, n), got {tuple(maps.shape)}")
    b, t, n = maps.shape
    check_int("time_bin", time_bin, 1)
    g = torch.as_tensor(groups, dtype=torch.int64).reshape(-1)
    if g.numel() != n or (g < 0).any():
        raise ValueError(f"groups must hold {n} non-negative ids, got shape {tuple(g.shape)}")
    n_bins, n_groups = -(-t // time_bin), int(g.max()) + 1
    tb = torch.arange(t) // time_bin
    onehot_t = torch.nn.functional.one_hot(tb, n_bins).to(maps.dtype)  # (T, bins)
    onehot_g = torch.nn.functional.one_hot(g, n_groups).to(maps.dtype)  # (n, G)
    return torch.einsum("btn,tk,ng->bkg", maps, onehot_t, onehot_g)


def rank_fidelity(released: Tensor, raw: Tensor) -> Tensor:
    """Fidelity of released explanations: Spearman correlation of each released row
    (batch first, flattened) with the same row of the raw map, ``(B,)`` (ties broken by
    position; 0 for a constant row)."""
    a = released.reshape(released.shape[0], -1)
    b = raw.reshape(raw.shape[0], -1)
    if a.shape != b.shape:
        raise ValueError(f"released and raw must have the same shape, got {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")

    def ranks(x: Tensor) -> Tensor:
        r = torch.empty(x.shape, dtype=torch.float64)
        order = torch.argsort(x, dim=1, stable=True)
        r.scatter_(1, order, torch.arange(x.shape[1], dtype=torch.float64)
                   .expand(x.shape[0], -1).contiguous())
        return r - r.mean(1, keepdim=True)

    ra, rb = ranks(a), ranks(b)
    den = ra.norm(dim=1) * rb.norm(dim=1)
    return torch.where(den > 0, (ra * rb).sum(1) / den.clamp_min(1e-300),
                       torch.zeros((), dtype=torch.float64))
