"""Rate Hebbian rules: update formulas, convergence to analytic eigenvectors, boundedness."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroplastic.plasticity.hebbian import HebbParams, hebb_step, oja_step, sanger_step

# A known covariance: C = R diag(EIG) R^T with a fixed random rotation R.
EIG = np.array([4.0, 2.0, 1.0, 0.5, 0.25])


def _rotation(n: int, seed: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(n, n)))
    return q


def _gaussian(n_samples: int, seed: int) -> tuple[torch.Tensor, np.ndarray]:
    """Samples of N(0, R diag(EIG) R^T) as a float64 tensor, and R (columns = eigenvectors)."""
    r = _rotation(len(EIG), 123)
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n_samples, len(EIG), generator=g, dtype=torch.float64)
    return z * torch.from_numpy(np.sqrt(EIG)) @ torch.from_numpy(r.T), r


def _train(step, w: torch.Tensor, x: torch.Tensor, batch: int, eta0: float, tau: float):
    """Robbins-Monro schedule eta_t = eta0 / (1 + t/tau) over mini-batches."""
    for s in range(0, x.shape[0], batch):
        eta = eta0 / (1.0 + s / tau)
        w = step(w, x[s : s + batch], eta)
    return w


# ---- exact update formulas (explicit loops are the independent truth) ----------------------


def test_sanger_step_matches_elementwise_definition():
    rng = np.random.default_rng(0)
    w, x, eta = rng.normal(size=(3, 5)), rng.normal(size=(7, 5)), 0.05
    y = x @ w.T
    expected = w.copy()
    for i in range(3):
        for j in range(5):
            acc = 0.0
            for b in range(7):
                acc += y[b, i] * (x[b, j] - sum(y[b, k] * w[k, j] for k in range(i + 1)))
            expected[i, j] += eta * acc / 7
    np.testing.assert_allclose(sanger_step(w, x, eta), expected, rtol=1e-12)
    got_t = sanger_step(torch.from_numpy(w), torch.from_numpy(x), eta)
    assert isinstance(got_t, torch.Tensor)
    np.testing.assert_allclose(got_t.numpy(), expected, rtol=1e-12)
    # precomputed outputs give the same step
    np.testing.assert_allclose(sanger_step(w, x, eta, y=y), expected, rtol=1e-12)


def test_oja_step_matches_elementwise_definition_and_sanger_first_row():
    rng = np.random.default_rng(1)
    w, x, eta = rng.normal(size=(2, 4)), rng.normal(size=(6, 4)), 0.1
    y = x @ w.T
    expected = w + eta * np.mean(
        [[y[b, i] * (x[b] - y[b, i] * w[i]) for i in range(2)] for b in range(6)], axis=0
    )
    np.testing.assert_allclose(oja_step(w, x, y, eta), expected, rtol=1e-12)
    # Sanger's first row is Oja's rule
    np.testing.assert_allclose(sanger_step(w, x, eta)[0], expected[0], rtol=1e-12)
    # a single sample (1-d x, y) is a batch of one
    np.testing.assert_allclose(
        oja_step(w, x[0], y[0], eta), oja_step(w, x[:1], y[:1], eta), rtol=1e-15
    )


def test_hebb_step_formulas():
    rng = np.random.default_rng(2)
    w, x, y = rng.normal(size=(3, 4)), rng.normal(size=(5, 4)), rng.normal(size=(5, 3))
    p = HebbParams(learning_rate=0.1, bound="decay", decay=2.0)
    np.testing.assert_allclose(hebb_step(w, x, y, p), 0.8 * w + 0.1 * (y.T @ x) / 5)
    p = HebbParams(learning_rate=0.1, bound="normalize", row_norm=3.0)
    raw = w + 0.1 * (y.T @ x) / 5
    np.testing.assert_allclose(
        hebb_step(w, x, y, p), 3.0 * raw / np.linalg.norm(raw, axis=1, keepdims=True)
    )


# ---- convergence to known answers ------------------------------------------------------------


def test_oja_converges_to_analytic_first_eigenvector():
    x, r = _gaussian(40_000, seed=0)
    e1 = torch.from_numpy(r[:, 0])
    g = torch.Generator().manual_seed(1)
    w0 = torch.randn(3, len(EIG), generator=g, dtype=torch.float64) * 0.3  # 3 independent units

    def step(w, xb, eta):
        return oja_step(w, xb, xb @ w.T, eta)

    w = _train(step, w0, x, batch=10, eta0=0.2, tau=500.0)
    cos = (w @ e1).abs() / w.norm(dim=1)
    assert torch.all(cos > 0.9995), cos
    # Oja's normalisation: unit norm at the fixed point
    np.testing.assert_allclose(w.norm(dim=1).numpy(), 1.0, atol=0.02)


def test_sanger_converges_to_analytic_eigenvectors_in_order():
    x, r = _gaussian(60_000, seed=2)
    g = torch.Generator().manual_seed(3)
    w0 = torch.randn(3, len(EIG), generator=g, dtype=torch.float64) * 0.3
    # NumPy path (the torch path is checked equal below; numpy is faster for 3 x 5 matrices)
    w = _train(sanger_step, w0.numpy(), x.numpy(), batch=10, eta0=0.2, tau=500.0)
    cos = np.abs(w @ r[:, :3]) / np.linalg.norm(w, axis=1, keepdims=True)
    np.testing.assert_array_less(0.9995, np.diagonal(cos))  # row i -> eigenvector i, in order
    np.testing.assert_allclose(w @ w.T, np.eye(3), atol=0.03)


def test_numpy_and_torch_paths_agree():
    x, _ = _gaussian(1_000, seed=4)
    w0 = torch.full((2, len(EIG)), 0.3, dtype=torch.float64)
    wt = _train(sanger_step, w0, x, batch=7, eta0=0.1, tau=500.0)
    wn = _train(sanger_step, w0.numpy(), x.numpy(), batch=7, eta0=0.1, tau=500.0)
    np.testing.assert_allclose(wt.numpy(), wn, rtol=1e-10, atol=1e-12)


# ---- Hebb stays bounded ---------------------------------------------------------------------


def test_plain_hebb_with_decay_is_bounded_and_reaches_fixed_point():
    g = torch.Generator().manual_seed(5)
    p = HebbParams(learning_rate=0.05, bound="decay", decay=2.0)
    w = torch.zeros(4, 6)
    bound = 0.0
    for _ in range(500):  # bounded rates in [0, 1]
        x = torch.rand(8, 6, generator=g)
        y = torch.rand(8, 4, generator=g)
        w = hebb_step(w, x, y, p)
        bound = max(bound, float((y.T @ x / 8).abs().max()) / p.decay)
        assert float(w.abs().max()) <= bound + 1e-6
    # a fixed input pair: w -> <y x^T> / decay (geometric convergence, factor 1 - eta*decay)
    x = torch.rand(5, 6, generator=g)
    y = torch.rand(5, 4, generator=g)
    for _ in range(300):
        w = hebb_step(w, x, y, p)
    torch.testing.assert_close(w, y.T @ x / 5 / p.decay, rtol=1e-5, atol=1e-6)


def test_hebb_normalize_keeps_row_norm_and_finds_first_component():
    x, r = _gaussian(5_000, seed=6)
    p = HebbParams(learning_rate=0.05, bound="normalize", row_norm=2.0)
    w = torch.full((2, len(EIG)), 0.5, dtype=torch.float64)
    for s in range(0, x.shape[0], 10):
        xb = x[s : s + 10]
        w = hebb_step(w, xb, xb @ w.T, p)  # linear unit: unbounded without normalisation
        np.testing.assert_allclose(w.norm(dim=1).numpy(), 2.0, rtol=1e-12)
    cos = (w @ torch.from_numpy(r[:, 0])).abs() / 2.0
    assert torch.all(cos > 0.99), cos


def test_unbounded_hebb_would_diverge():
    """The bound is doing the work: the same linear unit grows without it."""
    x, _ = _gaussian(2_000, seed=7)
    w = torch.full((1, len(EIG)), 0.5, dtype=torch.float64)
    for s in range(0, x.shape[0], 10):
        xb = x[s : s + 10]
        w = w + 0.05 * (xb @ w.T).T @ xb / 10
    assert float(w.norm()) > 1e3


# ---- validation ------------------------------------------------------------------------------

bad_positive = st.one_of(
    st.floats(max_value=0.0), st.just(math.nan), st.just(math.inf), st.text(max_size=3)
)


@settings(max_examples=40, deadline=None)
@given(value=bad_positive, field=st.sampled_from(["learning_rate", "decay", "row_norm"]))
def test_hebb_params_reject_bad_values(value, field):
    with pytest.raises(ValueError, match=field):
        HebbParams(**{field: value})


@settings(max_examples=30, deadline=None)
@given(bound=st.text(max_size=8).filter(lambda s: s not in ("decay", "normalize")))
def test_hebb_params_reject_unknown_bound(bound):
    with pytest.raises(ValueError, match="bound"):
        HebbParams(bound=bound)


def test_hebb_params_reject_sign_flipping_decay():
    with pytest.raises(ValueError, match="learning_rate \\* decay"):
        HebbParams(learning_rate=0.5, bound="decay", decay=3.0)


@settings(max_examples=30, deadline=None)
@given(lr=bad_positive)
def test_steps_reject_bad_learning_rate(lr):
    w, x = np.ones((2, 3)), np.ones((4, 3))
    with pytest.raises(ValueError, match="lr"):
        sanger_step(w, x, lr)
    with pytest.raises(ValueError, match="lr"):
        oja_step(w, x, x @ w.T, lr)


def test_steps_reject_mismatched_shapes():
    w = np.ones((2, 3))
    with pytest.raises(ValueError, match="inputs"):
        sanger_step(w, np.ones((4, 5)), 0.1)
    with pytest.raises(ValueError, match="y must have shape"):
        oja_step(w, np.ones((4, 3)), np.ones((4, 3)), 0.1)
    with pytest.raises(ValueError, match="x must have shape"):
        hebb_step(w, np.ones((2, 4, 3)), np.ones((4, 2)), HebbParams())
    with pytest.raises(ValueError, match="w must have shape"):
        sanger_step(np.ones(3), np.ones((4, 3)), 0.1)
