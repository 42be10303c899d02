r"""Principal component analysis learned by Hebbian plasticity, as scikit-learn estimators.

:class:`SangerPCA` learns the leading ``n_components`` principal directions with Sanger's
generalized Hebbian algorithm (:func:`~neuroplastic.plasticity.hebbian.sanger_step`);
:class:`OjaPCA` learns the first one with Oja's rule. Both follow scikit-learn's estimator
contract: ``__init__`` stores hyper-parameters, ``fit`` shuffles the data every epoch and loops
over the same update ``partial_fit`` performs on any batch (one sample included), and learned
attributes end in ``_``.

Streaming details (per batch of ``b`` samples, ``t`` samples seen before it)

* **Centring.** ``mean_`` and ``var_`` are the exact running mean and variance of every sample
  seen (as in :class:`sklearn.decomposition.IncrementalPCA`); inputs are centred with the mean
  including the current batch.
* **Learning rate.** Per sample, ``η_t = learning_rate / T · s(t)`` with ``T = Σ var_`` the
  running total variance (so the rule is invariant to rescaling the data; ``E‖x‖² = T``, as
  normalised LMS) and ``s(t) = (1 + t/decay_samples)^(-power_t)`` (``schedule="inverse"``,
  Robbins–Monro for ``1/2 < power_t ≤ 1``: ``Σ η = ∞``, ``Σ η² < ∞``) or ``s = 1``
  (``"constant"``, for tracking non-stationary inputs). The batch step is ``min(b η_t,
  1/‖⟨x xᵀ⟩_batch‖_F)``: ``b`` samples' worth of learning, capped so that the step times the
  largest batch eigenvalue stays below 1 (the Frobenius norm bounds it from above).
* **Averaging.** With ``average=True`` (default) ``components_`` is the Polyak–Ruppert average of
  the Hebbian weights with polynomial-decay weights (``ρ = min(1, 6b/(t+b+5))``, weight ∝ t⁵),
  which removes the fast fluctuations of the weights around the fixed point (orthogonality,
  norm) that a decaying rate alone removes only slowly. ``weights_`` holds the synaptic weights
  themselves.
* **Eigenvalues.** ``explained_variance_[i]`` is the same polynomial-decay average of
  ``⟨y_i²⟩``, the variance of unit ``i``'s output (= λ_i at convergence, Oja's fixed point).

``components_`` rows are sign-normalised like scikit-learn's ``svd_flip``: the entry of largest
magnitude in each row is positive.
"""

from __future__ import annotations

import abc
import math
from numbers import Integral
from typing import Any, Literal

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from .._validation import check_choice, check_int, check_positive, check_range
from .hebbian import _oja_update, _sanger_update

__all__ = ["SCHEDULES", "OjaPCA", "SangerPCA"]

SCHEDULES = ("constant", "inverse")
_AVERAGING_POWER = 5.0  # polynomial-decay averaging: iterate t gets weight ∝ t^5


def _svd_flip_rows(w: np.ndarray) -> np.ndarray:
    """Flip row signs so that the largest-magnitude entry of each row is positive."""
    idx = np.argmax(np.abs(w), axis=1)
    signs = np.sign(w[np.arange(w.shape[0]), idx])
    signs[signs == 0] = 1.0
    return w * signs[:, None]


class _HebbianPCA(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator, abc.ABC):
    """Shared streaming machinery; subclasses choose the rule and the number of components."""

    # hyper-parameters, set by the final classes' __init__
    learning_rate: float
    schedule: str
    decay_samples: float
    power_t: float
    average: bool
    n_epochs: int
    batch_size: int
    whiten: bool
    random_state: Any

    # ---- what a subclass provides ---------------------------------------------------------
    @abc.abstractmethod
    def _resolve_n_components(self, n_features: int) -> int: ...

    @abc.abstractmethod
    def _rule(self, w: np.ndarray, x: np.ndarray, y: np.ndarray, lr: float) -> np.ndarray: ...

    def _check_extra_hyperparameters(self) -> None:
        return None

    # ---- validation -----------------------------------------------------------------------
    def _check_hyperparameters(self) -> None:
        check_positive("learning_rate", self.learning_rate)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_positive("decay_samples", self.decay_samples)
        check_range("power_t", self.power_t, 0.0, 1.0)
        if self.schedule == "inverse" and not self.power_t > 0.5:
            raise ValueError(
                f"power_t must be in (0.5, 1] for schedule='inverse' (Robbins-Monro: "
                f"sum of rates infinite, sum of squares finite), got {self.power_t!r}"
            )
        if not isinstance(self.average, (bool, np.bool_)):
            raise ValueError(f"average must be a bool, got {self.average!r}")
        if not isinstance(self.whiten, (bool, np.bool_)):
            raise ValueError(f"whiten must be a bool, got {self.whiten!r}")
        check_int("n_epochs", self.n_epochs, low=1)
        check_int("batch_size", self.batch_size, low=1)
        self._check_extra_hyperparameters()

    # ---- state ----------------------------------------------------------------------------
    def _initialize(self, n_features: int, rng: np.random.RandomState) -> None:
        k = self._resolve_n_components(n_features)
        q, _ = np.linalg.qr(rng.standard_normal((n_features, k)))
        self.n_components_ = k
        self.weights_ = np.ascontiguousarray(q.T)  # (k, n): orthonormal rows
        self._weights_avg = self.weights_.copy()
        self.mean_ = np.zeros(n_features)
        self.var_ = np.zeros(n_features)
        self.explained_variance_ = np.zeros(k)
        self.n_samples_seen_ = 0

    def _learn(self, x: np.ndarray) -> None:
        """One Hebbian step on the batch ``x`` (b, n); updates the state arrays in place."""
        b = x.shape[0]
        t = self.n_samples_seen_
        n_new = t + b
        # exact running mean and variance (Chan et al.), then centre with the new mean
        mean, var = self.mean_, self.var_
        mean_b = x.sum(0) * (1.0 / b)
        delta = mean_b - mean
        dev = x - mean_b
        var *= t
        var += (dev * dev).sum(0)
        var += delta * delta * (t * b / n_new)
        var *= 1.0 / n_new
        mean += delta * (b / n_new)
        self.n_samples_seen_ = n_new
        xc = x - mean
        total_var = float(var.sum())
        gram = (xc @ xc.T if b <= x.shape[1] else xc.T @ xc).ravel()
        fro = math.sqrt(float(gram @ gram)) / b
        if total_var <= 0.0 or fro <= 0.0:
            return
        s = 1.0
        if self.schedule == "inverse":
            s = (1.0 + t / self.decay_samples) ** (-self.power_t)
        rate = min(b * self.learning_rate * s / total_var, 1.0 / fro)
        w = self.weights_
        y = xc @ w.T
        rho = min(1.0, (_AVERAGING_POWER + 1.0) * b / (n_new + _AVERAGING_POWER))
        lam = self.explained_variance_
        lam += ((y * y).sum(0) * (1.0 / b) - lam) * rho
        w[...] = self._rule(w, xc, y, rate)
        if self.average:
            self._weights_avg += (w - self._weights_avg) * rho

    def _publish(self) -> None:
        w = self._weights_avg if self.average else self.weights_
        self.components_ = _svd_flip_rows(w.copy())
        total = float(self.var_.sum())
        ev = self.explained_variance_
        self.explained_variance_ratio_ = ev / total if total > 0 else np.zeros_like(ev)

    # ---- public API -----------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> _HebbianPCA:
        """Learn the components from ``X`` (n_samples, n_features): ``n_epochs`` shuffled passes
        of ``partial_fit`` steps on batches of ``batch_size`` samples, from a fresh state."""
        self._check_hyperparameters()
        X = validate_data(self, X, dtype=np.float64, reset=True)
        rng = check_random_state(self.random_state)
        self._initialize(X.shape[1], rng)
        n, bs = X.shape[0], self.batch_size
        for _ in range(self.n_epochs):
            xp = X[rng.permutation(n)]
            for start in range(0, n, bs):
                self._learn(xp[start : start + bs])
        self.n_iter_ = self.n_epochs
        self._publish()
        return self

    def partial_fit(self, X: Any, y: Any = None) -> _HebbianPCA:
        """One Hebbian step on the batch ``X`` (n_samples, n_features), any n_samples >= 1."""
        first_call = not hasattr(self, "components_")
        self._check_hyperparameters()
        X = validate_data(self, X, dtype=np.float64, reset=first_call)
        if first_call:
            self._initialize(X.shape[1], check_random_state(self.random_state))
            self.n_iter_ = 0
        self._learn(X)
        self._publish()
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Project ``X`` (n_samples, n_features) on the components: (n_samples, n_components)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        z = (X - self.mean_) @ self.components_.T
        if self.whiten:
            z = z / np.sqrt(np.maximum(self.explained_variance_, np.finfo(np.float64).tiny))
        return z

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Map projections (n_samples, n_components) back to input space (n_samples, n_features).

        Uses the pseudo-inverse of the projection, ``z (W Wᵀ)⁻¹ W + mean_``, so that
        ``inverse_transform(transform(x))`` is the orthogonal projection of ``x`` on the learned
        subspace even where ``W`` is not exactly orthonormal.
        """
        check_is_fitted(self)
        z = check_array(X, dtype=[np.float64, np.float32])
        if z.shape[1] != self.n_components_:
            raise ValueError(
                f"X has {z.shape[1]} columns but {type(self).__name__} has "
                f"n_components_={self.n_components_}"
            )
        if self.whiten:
            z = z * np.sqrt(self.explained_variance_)
        w = self.components_
        return z @ np.linalg.solve(w @ w.T, w) + self.mean_

    @property
    def _n_features_out(self) -> int:
        return self.n_components_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64"]
        return tags


class SangerPCA(_HebbianPCA):
    """Leading principal components learned online by Sanger's generalized Hebbian algorithm.

    Parameters
    ----------
    n_components : int or None, default=None
        Number of components (rows of ``components_``); ``None`` keeps all ``n_features``.
    learning_rate : float, default=1.0
        Dimensionless per-sample learning rate ``η₀``; the step is ``η₀ / T`` with ``T`` the
        running total variance of the input (see module docstring).
    schedule : {"inverse", "constant"}, default="inverse"
        ``"inverse"``: ``η₀ / T · (1 + t/decay_samples)^(-power_t)`` (Robbins–Monro);
        ``"constant"``: ``η₀ / T`` (tracks drifting inputs, never converges exactly).
    decay_samples : float, default=500.0
        Samples ``τ`` after which the rate starts decaying. ``learning_rate · decay_samples``
        should exceed ``T / (λ_k − λ_{k+1})`` for the slowest gap to converge quickly.
    power_t : float, default=1.0
        Decay exponent of the inverse schedule, in (0.5, 1].
    average : bool, default=True
        Report the Polyak–Ruppert average of the weights as ``components_``.
    n_epochs : int, default=20
        Passes over the data in ``fit``.
    batch_size : int, default=10
        Samples per Hebbian step in ``fit``. Small batches learn more per sample: the step of a
        batch is capped for stability, so batches much larger than ~30 need more epochs.
    whiten : bool, default=False
        Divide projections by ``sqrt(explained_variance_)``.
    random_state : int, RandomState or None, default=None
        Seeds the initial (random orthonormal) weights and the shuffling in ``fit``.

    Attributes
    ----------
    components_ : ndarray ``(n_components, n_features)``
        Learned principal directions, rows ≈ orthonormal, in order of decreasing variance.
    weights_ : ndarray ``(n_components, n_features)``
        The Hebbian synaptic weights themselves (``components_`` without averaging/sign flip).
    explained_variance_ : ndarray ``(n_components,)``
        Running estimate of the variance along each component.
    explained_variance_ratio_ : ndarray ``(n_components,)``
        ``explained_variance_ / var_.sum()``.
    mean_, var_ : ndarray ``(n_features,)``
        Running per-feature mean and (population) variance of all samples seen.
    n_components_, n_features_in_, n_samples_seen_, n_iter_ : int
        Components, features, samples seen (all epochs), epochs run by ``fit``.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> X = load_digits().data
    >>> pca = SangerPCA(4, random_state=0).fit(X)
    >>> pca.transform(X).shape
    (1797, 4)
    """

    def __init__(
        self,
        n_components: int | None = None,
        *,
        learning_rate: float = 1.0,
        schedule: Literal["inverse", "constant"] = "inverse",
        decay_samples: float = 500.0,
        power_t: float = 1.0,
        average: bool = True,
        n_epochs: int = 20,
        batch_size: int = 10,
        whiten: bool = False,
        random_state: Any = None,
    ) -> None:
        self.n_components = n_components
        self.learning_rate = learning_rate
        self.schedule = schedule
        self.decay_samples = decay_samples
        self.power_t = power_t
        self.average = average
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.whiten = whiten
        self.random_state = random_state

    def _check_extra_hyperparameters(self) -> None:
        if self.n_components is not None:
            check_int("n_components", self.n_components, low=1)

    def _resolve_n_components(self, n_features: int) -> int:
        if self.n_components is None:
            return n_features
        if not isinstance(self.n_components, Integral) or self.n_components > n_features:
            raise ValueError(
                f"n_components must be <= n_features={n_features}, got {self.n_components!r}"
            )
        return int(self.n_components)

    def _rule(self, w: np.ndarray, x: np.ndarray, y: np.ndarray, lr: float) -> np.ndarray:
        return _sanger_update(w, x, y, lr)


class OjaPCA(_HebbianPCA):
    """First principal component learned online by Oja's rule (one linear unit).

    Same hyper-parameters and attributes as :class:`SangerPCA` with ``n_components=1``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(2000, 2)) * [3.0, 1.0]
    >>> bool(abs(OjaPCA(random_state=0).fit(X).components_[0, 0]) > 0.99)
    True
    """

    def __init__(
        self,
        *,
        learning_rate: float = 1.0,
        schedule: Literal["inverse", "constant"] = "inverse",
        decay_samples: float = 500.0,
        power_t: float = 1.0,
        average: bool = True,
        n_epochs: int = 20,
        batch_size: int = 10,
        whiten: bool = False,
        random_state: Any = None,
    ) -> None:
        self.learning_rate = learning_rate
        self.schedule = schedule
        self.decay_samples = decay_samples
        self.power_t = power_t
        self.average = average
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.whiten = whiten
        self.random_state = random_state

    def _resolve_n_components(self, n_features: int) -> int:
        return 1

    def _rule(self, w: np.ndarray, x: np.ndarray, y: np.ndarray, lr: float) -> np.ndarray:
        return _oja_update(w, x, y, lr)
