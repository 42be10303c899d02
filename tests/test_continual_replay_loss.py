"""The closed-form replay loss (one autograd node) and its compiled kernel against autograd of
the composed loss; the generator's faster fit against the definitions it shortcuts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from neuroplastic.continual._replay_kernel import replay_grad_kernel
from neuroplastic.continual.distill import replay_logit_grad, replay_objective, replay_terms
from neuroplastic.continual.replay import ClassConditionalGenerator, _nearest


def _case(dtype, classes, n=9, n_rep=4, C=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = (3 * torch.randn(n, C, generator=g, dtype=dtype)).requires_grad_()
    seen = [0, 1, 2, 4, 5, 6]
    y = torch.tensor(seen, dtype=torch.int64)[torch.randint(len(seen), (n,), generator=g)]
    mask = torch.full((n, C), -torch.inf, dtype=dtype)
    mask[:, seen] = 0.0
    mask[: n - n_rep, 6] = -torch.inf  # the incoming rows see one class less
    y[: n - n_rep] = y[: n - n_rep].clamp(max=5)
    w = torch.rand(n, generator=g, dtype=dtype)
    K = len(classes)
    q = torch.softmax(torch.randn(n, K, generator=g, dtype=dtype), 1)
    q[: n - n_rep] = 0.0
    s = torch.zeros(n, dtype=dtype)
    s[n - n_rep :] = 0.7
    return z, y, mask, w, q, s


def _composed(z, y, mask, w, q, s, classes, T):
    hard = F.cross_entropy(z + mask, y, reduction="none")
    soft = F.cross_entropy(z[:, classes] / T, q, reduction="none")
    return torch.dot(hard, w) + torch.dot(soft, s), hard


@pytest.mark.parametrize("classes", [[0, 1, 2], [1, 4, 5, 2]])
@pytest.mark.parametrize("T", [1.0, 2.0, 3.5])
def test_replay_objective_equals_the_autograd_composition(classes, T):
    z, y, mask, w, q, s = _case(torch.float64, classes)
    want, want_ce = _composed(z, y, mask, w, q, s, classes, T)
    (gz_want,) = torch.autograd.grad(want, z)
    got, ce = replay_objective(z, y, mask, w, q, s, classes, T)
    (gz,) = torch.autograd.grad(3.0 * got, z)  # the incoming gradient multiplies
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(ce, want_ce.detach())
    torch.testing.assert_close(gz, 3.0 * gz_want)
    assert not ce.requires_grad
    # without soft targets: the weighted cross-entropy alone
    got, _ = replay_objective(z, y, mask[0], w)
    want = torch.dot(F.cross_entropy(z + mask[0], y, reduction="none"), w)
    torch.testing.assert_close(got, want)


def test_replay_objective_passes_gradcheck():
    classes = [1, 4, 5, 2]
    z, y, mask, w, q, s = _case(torch.float64, classes, seed=3)
    assert torch.autograd.gradcheck(
        lambda zz: replay_objective(zz, y, mask, w, q, s, classes, 2.0)[0], (z,))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("classes", [[0, 1, 2], [1, 4, 5, 2]])
def test_compiled_kernel_equals_the_closed_form(dtype, classes):
    z, y, mask, w, q, s = _case(dtype, classes, seed=5)
    T = 2.0
    g_want, ls = replay_logit_grad(z, replay_terms(y, mask, w, q, s, classes, T))
    g = np.empty((z.shape[0], z.shape[1]), dtype=z.detach().numpy().dtype)
    ce = np.empty(z.shape[0], dtype=g.dtype)
    replay_grad_kernel(z.detach().numpy(), y.numpy(), mask.numpy(), w.numpy(),
                       (s / T).numpy(), q.numpy(), np.asarray(classes, np.int64), 1.0 / T, g, ce)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else {}
    torch.testing.assert_close(torch.from_numpy(g), g_want, **tol)
    torch.testing.assert_close(torch.from_numpy(ce), -ls[:, 0].gather(1, y[:, None])[:, 0],
                               **tol)


def test_nearest_centre_is_the_brute_force_argmin():
    g = torch.Generator().manual_seed(0)
    x, c = torch.randn(500, 30, generator=g), torch.randn(7, 30, generator=g)
    assert torch.equal(_nearest(x, c), torch.cdist(x, c).argmin(1))


def test_randomised_fit_ignores_constant_columns():
    # a planted rank-2 subspace on 250 of 300 columns; the other 50 are blank: the fit is the
    # same as on the 250 columns alone, with zeros on the blank ones
    g = torch.Generator().manual_seed(1)
    n, live, dim = 1500, 250, 300
    basis = torch.linalg.qr(torch.randn(live, 2, generator=g, dtype=torch.float64))[0]
    x = (torch.randn(n, 2, generator=g, dtype=torch.float64) * torch.tensor([3.0, 1.5])) @ basis.T
    x = x + 0.05 * torch.randn(n, live, generator=g, dtype=torch.float64)
    full = torch.cat([x, torch.zeros(n, dim - live, dtype=torch.float64)], 1)
    gen = ClassConditionalGenerator(dim, 2, clamp=None)
    gen.observe(full, torch.zeros(n, dtype=torch.int64))
    gen.consolidate()
    B = gen.classes[0]["basis"][0]
    assert float(B[live:].abs().max()) == 0.0
    assert torch.allclose(B.norm(dim=0), torch.tensor([3.0, 1.5], dtype=torch.float64),
                          rtol=0.08)
    proj = basis.T @ (B[:live] / B[:live].norm(dim=0))
    assert torch.allclose(proj.norm(dim=0), torch.ones(2, dtype=torch.float64), atol=1e-3)
    # the isotropic noise is spread over all the columns (the blank ones included):
    # total variance = |B|^2 + dim * noise^2
    resid = float(((full - full.mean(0)) ** 2).sum() / n) - float((B**2).sum())
    assert float(gen.classes[0]["noise_sd"][0]) ** 2 == pytest.approx(resid / dim, rel=1e-4)


def test_kmeans_sample_is_validated_by_name():
    with pytest.raises(ValueError, match="kmeans_sample"):
        ClassConditionalGenerator(4, 2, kmeans_sample=0)
