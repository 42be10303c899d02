"""Generative replay's generator (PPCA mixture) and the task-incremental training scenario."""

from __future__ import annotations

import pytest
import torch

from neuroplastic.continual.learner import ContinualLearner, LearnerParams
from neuroplastic.continual.replay import ClassConditionalGenerator
from neuroplastic.continual.streams import split_digits


def _blobs(g, dim, n, centres, sd):
    k = torch.randint(len(centres), (n,), generator=g)
    return torch.stack(centres)[k] + sd * torch.randn(n, dim, generator=g, dtype=torch.float64)


def test_mixture_recovers_two_separated_clusters_of_a_class():
    g = torch.Generator().manual_seed(0)
    dim = 6
    c0, c1 = torch.zeros(dim, dtype=torch.float64), torch.full((dim,), 5.0, dtype=torch.float64)
    x = torch.cat([_blobs(g, dim, 300, [c0], 0.3), _blobs(g, dim, 100, [c1], 0.3)])
    gen = ClassConditionalGenerator(dim, 2, clamp=None, clusters=2)
    gen.observe(x, torch.zeros(400, dtype=torch.int64))
    assert gen.consolidate() == [0]
    m = gen.classes[0]
    order = m["mean"][:, 0].argsort()
    assert torch.allclose(m["weight"][order], torch.tensor([0.75, 0.25], dtype=torch.float64))
    assert torch.allclose(m["mean"][order], torch.stack([c0, c1]), atol=0.1)
    # isotropic clusters: every retained variance and the noise are ~ sd^2 = 0.09
    assert torch.allclose(m["noise_sd"], torch.tensor(0.3, dtype=torch.float64), atol=0.03)
    xs, ys = gen.sample(4000, generator=torch.Generator().manual_seed(1))
    assert (ys == 0).all()
    near1 = (xs - c1.float()).norm(dim=1) < (xs - c0.float()).norm(dim=1)
    assert abs(float(near1.float().mean()) - 0.25) < 0.03  # drawn in proportion to the counts
    assert gen.stored_floats() == 2 * (dim + dim * 2 + 2) and gen.stored_raw_samples == 0


def test_high_dimensional_fit_finds_the_planted_subspace_and_noise():
    # dim > 256: randomised subspace iteration; truth = a planted rank-3 covariance + noise
    g = torch.Generator().manual_seed(0)
    dim, n, sd = 300, 2000, 0.05
    basis = torch.linalg.qr(torch.randn(dim, 3, generator=g, dtype=torch.float64))[0]
    scales = torch.tensor([3.0, 2.0, 1.0], dtype=torch.float64)
    x = (torch.randn(n, 3, generator=g, dtype=torch.float64) * scales) @ basis.T
    x = x + sd * torch.randn(n, dim, generator=g, dtype=torch.float64)
    gen = ClassConditionalGenerator(dim, 3, clamp=None)
    gen.observe(x, torch.full((n,), 4))
    gen.consolidate()
    m = gen.classes[4]
    B = m["basis"][0]
    # the scaled basis spans the planted subspace with the planted variances
    assert torch.allclose(B.norm(dim=0), scales, rtol=0.08)
    proj = basis.T @ (B / B.norm(dim=0))
    assert torch.allclose(proj.norm(dim=0), torch.ones(3, dtype=torch.float64), atol=1e-3)
    assert float(m["noise_sd"][0]) == pytest.approx(sd, rel=0.03)
    # without the isotropic noise a sample lies on mean + span(basis)
    xs, _ = gen.sample(50, generator=g, noise=False)
    r = xs.double() - m["mean"][0]
    Q = torch.linalg.qr(B)[0]
    resid = r - r @ Q @ Q.T
    assert float(resid.abs().max()) < 1e-4


def test_one_cluster_low_dimensional_fit_is_the_exact_ppca():
    g = torch.Generator().manual_seed(2)
    x = torch.rand(200, 8, generator=g, dtype=torch.float64)
    gen = ClassConditionalGenerator(8, 3, clamp=None)
    gen.observe(x, torch.zeros(200, dtype=torch.int64))
    gen.consolidate()
    m = gen.classes[0]
    cov = torch.cov(x.T, correction=0)
    ev = torch.linalg.eigvalsh(cov).flip(0)
    noise = ev[3:].mean()
    assert float(m["noise_sd"][0]) ** 2 == pytest.approx(float(noise), rel=1e-9)
    assert torch.allclose(m["basis"][0].norm(dim=0) ** 2, ev[:3] - noise, rtol=1e-9)
    assert torch.allclose(m["mean"][0], x.mean(0))


def test_task_scenario_is_one_head_per_task():
    # task-incremental training: a sample's loss compares only its task's classes, so training
    # task 1 never touches the output units of task 0 (as with separate heads); class-IL does
    tasks = split_digits()[:2]
    moved = {}
    for scenario in ("task", "class"):
        L = ContinualLearner(LearnerParams(method="naive", hidden=16, epochs=1, seed=0,
                                           scenario=scenario, controller=False), 64, 10)
        L.begin_task(tasks[0])
        L.train_epoch(tasks[0])
        L.end_task(tasks[0])
        out = L.model[-1]
        # a fresh Adam: its momentum from task 0 would move the units whatever the gradient
        L.opt = torch.optim.Adam(L.model.parameters(), lr=1e-3)
        before = out.weight[:2].detach().clone(), out.bias[:2].detach().clone()
        L.begin_task(tasks[1])
        L.train_epoch(tasks[1])
        with torch.no_grad():
            moved[scenario] = float((out.weight[:2] - before[0]).abs().max()
                                    + (out.bias[:2] - before[1]).abs().max())
    assert moved["task"] == 0.0 and moved["class"] > 1e-3


@pytest.mark.parametrize(("key", "value"), [("scenario", "domain"), ("replay_clusters", 0),
                                            ("replay_every", 0)])
def test_bad_learner_parameters_are_refused_by_name(key, value):
    with pytest.raises(ValueError, match=key):
        LearnerParams(**{key: value})
    with pytest.raises(ValueError, match="clusters"):
        ClassConditionalGenerator(4, 2, clusters=0)


@pytest.mark.parametrize("scenario", ["class", "task"])
def test_gathered_replay_epoch_equals_the_step_by_step_path(scenario):
    tasks = split_digits()[:2]
    out = []
    for fast in (True, False):
        L = ContinualLearner(LearnerParams(method="replay", hidden=16, epochs=2, seed=1,
                                           replay_batch=8, scenario=scenario,
                                           controller=False), 64, 10)
        L.fast_replay = fast
        losses = []
        for t in tasks:
            L.begin_task(t)
            for _ in range(2):
                losses.append(L.train_epoch(t)["loss"])
            L.end_task(t)
        out.append((losses, [v.clone() for v in L.model.state_dict().values()],
                    L.controller.alpha_history))
    assert out[0][0] == pytest.approx(out[1][0], rel=1e-6)
    for a, b in zip(out[0][1], out[1][1]):
        assert torch.allclose(a, b, atol=1e-5)
    assert len(out[0][2]) == len(out[1][2])
