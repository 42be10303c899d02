"""SangerPCA / OjaPCA against scikit-learn's PCA, the estimator contract, and validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.utils.estimator_checks import parametrize_with_checks

from neuroplastic.plasticity.pca import OjaPCA, SangerPCA

K = 8


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return load_digits().data  # raw pixel intensities 0..16, (1797, 64)


@pytest.fixture(scope="module")
def reference(digits) -> PCA:
    return PCA(K).fit(digits)


@pytest.fixture(scope="module")
def fitted(digits) -> SangerPCA:
    return SangerPCA(K, random_state=0).fit(digits)


def _abs_cosines(w: np.ndarray, ref: np.ndarray) -> np.ndarray:
    w = w / np.linalg.norm(w, axis=1, keepdims=True)
    return np.abs((w * ref).sum(1))


def _orthonormality_error(w: np.ndarray) -> float:
    return float(np.abs(w @ w.T - np.eye(w.shape[0])).max())


def _check_against_pca(est: SangerPCA, ref: PCA) -> None:
    cos = _abs_cosines(est.components_, ref.components_)
    assert cos.min() >= 0.99, cos
    assert _orthonormality_error(est.components_) <= 1e-2
    np.testing.assert_allclose(est.explained_variance_, ref.explained_variance_, rtol=0.05)
    np.testing.assert_allclose(
        est.explained_variance_ratio_, ref.explained_variance_ratio_, rtol=0.05
    )
    np.testing.assert_allclose(est.mean_, ref.mean_, atol=1e-10)


# ---- accuracy on digits ----------------------------------------------------------------------


def test_fit_matches_sklearn_pca_on_digits(fitted, reference):
    _check_against_pca(fitted, reference)
    assert fitted.n_components_ == K and fitted.n_features_in_ == 64
    assert fitted.n_samples_seen_ == fitted.n_epochs * 1797
    # sign convention of svd_flip: largest-magnitude entry of every row is positive
    w = fitted.components_
    assert np.all(w[np.arange(K), np.abs(w).argmax(1)] > 0)
    # components come out in order of decreasing variance, like PCA
    assert np.all(np.diff(fitted.explained_variance_) < 0)


def test_partial_fit_stream_of_small_batches_matches_sklearn_pca(digits, reference):
    est = SangerPCA(K, random_state=1)
    order = np.random.default_rng(7)  # the stream's order is independent of the estimator
    for _ in range(20):
        perm = order.permutation(len(digits))
        for start in range(0, len(digits), 10):
            est.partial_fit(digits[perm[start : start + 10]])
    _check_against_pca(est, reference)


def test_fit_is_a_loop_over_partial_fit(digits):
    """fit == partial_fit over the same shuffled batches (fit's rng: init draw, then perms)."""
    est = SangerPCA(4, n_epochs=2, batch_size=16, random_state=3).fit(digits)
    rng = np.random.RandomState(3)
    rng.standard_normal((64, 4))
    stream = SangerPCA(4, random_state=3)
    for _ in range(2):
        perm = rng.permutation(len(digits))
        for start in range(0, len(digits), 16):
            stream.partial_fit(digits[perm[start : start + 16]])
    np.testing.assert_allclose(stream.components_, est.components_, rtol=1e-12, atol=1e-14)


def test_scale_invariance(digits):
    """Rates are in units of the total variance: X/16 (exact in binary) learns the same."""
    raw = SangerPCA(K, random_state=0, n_epochs=3).fit(digits)
    scaled = SangerPCA(K, random_state=0, n_epochs=3).fit(digits / 16.0)
    np.testing.assert_allclose(scaled.components_, raw.components_, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(scaled.explained_variance_ * 256, raw.explained_variance_)


def test_determinism_given_seed(digits, fitted):
    again = SangerPCA(K, random_state=0).fit(digits)
    np.testing.assert_array_equal(again.components_, fitted.components_)
    other = SangerPCA(K, random_state=5, n_epochs=2).fit(digits)
    assert not np.allclose(other.components_, fitted.components_)


def test_partial_fit_accepts_single_samples(digits):
    est = SangerPCA(3, random_state=0)
    for row in digits[:25]:
        est.partial_fit(row[None, :])
    assert est.n_samples_seen_ == 25
    np.testing.assert_allclose(est.mean_, digits[:25].mean(0), atol=1e-12)
    np.testing.assert_allclose(est.var_, digits[:25].var(0), atol=1e-9)
    assert np.all(np.isfinite(est.components_))


# ---- transform / inverse_transform -----------------------------------------------------------


def test_transform_and_round_trip_on_subspace(fitted, digits, reference):
    z = fitted.transform(digits)
    np.testing.assert_allclose(z, (digits - fitted.mean_) @ fitted.components_.T)
    # a point of the learned affine subspace is recovered exactly
    rng = np.random.default_rng(0)
    on_sub = fitted.mean_ + rng.normal(size=(20, K)) @ fitted.components_
    np.testing.assert_allclose(
        fitted.inverse_transform(fitted.transform(on_sub)), on_sub, atol=1e-9
    )
    # reconstruction error of digits as good as the best rank-8 linear one (sklearn PCA)
    ours = np.mean((fitted.inverse_transform(z) - digits) ** 2)
    best = np.mean((reference.inverse_transform(reference.transform(digits)) - digits) ** 2)
    assert best <= ours <= 1.01 * best


def test_whiten_gives_unit_variance_and_round_trips(digits):
    est = SangerPCA(4, whiten=True, random_state=0, n_epochs=10).fit(digits)
    z = est.transform(digits)
    np.testing.assert_allclose(z.var(0), 1.0, rtol=0.05)
    back = est.inverse_transform(z)
    np.testing.assert_allclose(est.transform(back), z, atol=1e-8)


# ---- Oja -------------------------------------------------------------------------------------


def test_oja_pca_finds_analytic_first_component():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    eig = np.array([5.0, 2.0, 1.0, 1.0, 0.5, 0.1])
    x = rng.normal(size=(4000, 6)) * np.sqrt(eig) @ q.T + 3.0  # offset: centring is learned
    est = OjaPCA(random_state=0, n_epochs=10).fit(x)
    assert est.components_.shape == (1, 6)
    assert _abs_cosines(est.components_, q[:, :1].T)[0] > 0.995
    assert abs(np.linalg.norm(est.components_) - 1.0) < 1e-2
    np.testing.assert_allclose(est.explained_variance_[0], 5.0, rtol=0.08)


def test_oja_pca_equals_sanger_with_one_component(digits):
    a = OjaPCA(random_state=2, n_epochs=3).fit(digits)
    b = SangerPCA(1, random_state=2, n_epochs=3).fit(digits)
    np.testing.assert_allclose(a.components_, b.components_, rtol=1e-12)


# ---- validation ------------------------------------------------------------------------------

BAD_VALUES = {
    "n_components": st.one_of(st.integers(max_value=0), st.floats(0.5, 5.5), st.just("3")),
    "learning_rate": st.one_of(st.floats(max_value=0.0), st.just(math.nan), st.just(math.inf)),
    "schedule": st.text(max_size=6).filter(lambda s: s not in ("constant", "inverse")),
    "decay_samples": st.one_of(st.floats(max_value=0.0), st.just(math.inf)),
    "power_t": st.one_of(st.floats(max_value=0.5), st.floats(min_value=1.0001), st.just(math.nan)),
    "n_epochs": st.one_of(st.integers(max_value=0), st.floats(1.5, 3.5)),
    "batch_size": st.one_of(st.integers(max_value=0), st.just(2.0), st.just(True)),
    "average": st.sampled_from([0, 1, "yes", None]),
    "whiten": st.sampled_from([0, 1, "no", None]),
}


@settings(max_examples=60, deadline=None)
@given(data=st.data(), name=st.sampled_from(sorted(BAD_VALUES)))
def test_bad_hyperparameters_raise_at_fit_naming_the_parameter(data, name):
    value = data.draw(BAD_VALUES[name])
    kwargs = {"n_components": 2, name: value}
    est = SangerPCA(**kwargs)  # construction stores, never validates
    x = np.random.default_rng(0).normal(size=(20, 4))
    with pytest.raises(ValueError, match=name):
        est.fit(x)
    with pytest.raises(ValueError, match=name):
        SangerPCA(**kwargs).partial_fit(x)


def test_too_many_components():
    with pytest.raises(ValueError, match="n_components"):
        SangerPCA(5).fit(np.ones((10, 4)))


def test_bad_input_shapes_give_clear_errors(fitted, digits):
    with pytest.raises(ValueError, match="2D array"):
        SangerPCA(2).fit(digits[0])
    with pytest.raises(ValueError, match="64 features"):
        fitted.transform(digits[:, :10])
    with pytest.raises(ValueError, match="n_components_=8"):
        fitted.inverse_transform(np.ones((3, 5)))
    est = SangerPCA(2).partial_fit(digits[:10])
    with pytest.raises(ValueError, match="features"):
        est.partial_fit(digits[:10, :20])
    with pytest.raises(ValueError, match="NaN"):
        SangerPCA(2).fit(np.full((5, 3), np.nan))


# ---- scikit-learn's estimator checks ---------------------------------------------------------


@parametrize_with_checks(
    [
        SangerPCA(random_state=0, n_epochs=5),
        SangerPCA(2, random_state=0, n_epochs=3, whiten=True, average=False, schedule="constant"),
        OjaPCA(random_state=0, n_epochs=5),
    ]
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


# ---- the experiment --------------------------------------------------------------------------


def test_sanger_pca_experiment_reports_consistent_metrics():
    import matplotlib

    matplotlib.use("Agg")
    from neuroplastic.experiments import get

    exp = get("sanger-pca")
    config = exp.config_cls(n_components=4, n_epochs=4, seed=1)
    res = exp.run(config, progress=False)
    m = res.metrics
    assert all(isinstance(v, (int, float, str, bool)) for v in m.values())
    cos = _abs_cosines(res.arrays["components"], res.arrays["pca_components"])
    assert m["min_abs_cosine"] == pytest.approx(cos.min())
    assert m["orthonormality_error"] == pytest.approx(
        _orthonormality_error(res.arrays["components"])
    )
    assert m["n_components"] == 4 and res.arrays["learning_curve"].shape == (4, 2)
    assert m["min_abs_cosine"] > 0.9  # four epochs already find the leading four components
    assert set(res.figures) == {"components", "learning_curve"}
    assert len(res.figures["components"].axes) == 2 * 4
