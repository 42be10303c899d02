"""LwF / distillation against a hand computation; LwF and experience replay in the learner."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from neuroplastic.continual.distill import (
    LearningWithoutForgetting,
    distillation_from_targets,
    distillation_loss,
    soft_targets,
)
from neuroplastic.continual.learner import ContinualLearner, LearnerParams
from neuroplastic.continual.streams import split_digits


def _hand_kl(zs: list[list[float]], zt: list[list[float]], idx: list[int], T: float) -> float:
    total = 0.0
    for s, t in zip(zs, zt):
        es = [math.exp(s[i] / T) for i in idx]
        et = [math.exp(t[i] / T) for i in idx]
        p = [e / sum(es) for e in es]
        q = [e / sum(et) for e in et]
        total += sum(qi * (math.log(qi) - math.log(pi)) for qi, pi in zip(q, p))
    return T * T * total / len(zs)


def test_distillation_loss_equals_hand_computation():
    zs = [[0.5, -1.0, 2.0, 0.3], [1.5, 0.2, -0.7, 0.0]]
    zt = [[1.0, 0.0, -1.0, 3.0], [0.1, 2.2, 0.4, -0.5]]
    for idx, T in (([0, 2], 2.0), ([0, 1, 3], 1.0), ([1, 2, 3], 5.0)):
        want = _hand_kl(zs, zt, idx, T)
        got = distillation_loss(torch.tensor(zs, dtype=torch.float64),
                                torch.tensor(zt, dtype=torch.float64), idx, T)
        assert float(got) == pytest.approx(want, rel=1e-12)
        q, log_q = soft_targets(torch.tensor(zt, dtype=torch.float64), idx, T)
        torch.testing.assert_close(q.sum(1), torch.ones(2, dtype=torch.float64))
        again = distillation_from_targets(torch.tensor(zs, dtype=torch.float64), q, log_q,
                                          idx, T)
        assert float(again) == pytest.approx(want, rel=1e-12)
    # gradient w.r.t. the student: T * (p - q) / n on the distilled classes, 0 elsewhere
    s = torch.tensor(zs, dtype=torch.float64, requires_grad=True)
    distillation_loss(s, torch.tensor(zt, dtype=torch.float64), [0, 2], 2.0).backward()
    p = torch.softmax(s.detach()[:, [0, 2]] / 2, 1)
    q = torch.softmax(torch.tensor(zt, dtype=torch.float64)[:, [0, 2]] / 2, 1)
    torch.testing.assert_close(s.grad[:, [0, 2]], 2 * (p - q) / 2)
    assert torch.all(s.grad[:, [1, 3]] == 0)


def test_lwf_teacher_is_frozen_and_validation():
    torch.manual_seed(0)
    net = nn.Linear(3, 4)
    lwf = LearningWithoutForgetting(temperature=2.0, weight=0.5)
    x = torch.randn(5, 3)
    assert lwf.loss(x, net(x)) is None  # nothing to distil before the first consolidation
    lwf.consolidate(net, [2, 0])
    assert lwf.classes == [0, 2]
    assert float(lwf.loss(x, net(x)).detach()) == pytest.approx(0.0, abs=1e-6)  # = teacher
    with torch.no_grad():
        net.weight[0].add_(1.0)  # moves class 0 against class 2
    got = lwf.loss(x, net(x))
    want = 0.5 * distillation_loss(net(x), lwf.teacher(x), [0, 2], 2.0)
    got, want = float(got.detach()), float(want.detach())
    assert got == pytest.approx(want) and got > 1e-3
    assert not any(q.requires_grad for q in lwf.teacher.parameters())
    for bad in (dict(temperature=0.0), dict(weight=-1.0)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            LearningWithoutForgetting(**bad)
    with pytest.raises(ValueError, match="classes"):
        lwf.consolidate(net, [])
    with pytest.raises(ValueError, match="student_logits"):
        distillation_loss(torch.zeros(2, 3), torch.zeros(2, 4), [0])


def _train(method: str, tasks, epochs: int = 2, **kw) -> ContinualLearner:
    p = LearnerParams(method=method, hidden=64, epochs=epochs, controller=False, **kw)
    learner = ContinualLearner(p, 64, 10)
    for t in tasks:
        learner.begin_task(t)
        for _ in range(p.epochs):
            learner.train_epoch(t)
        learner.end_task(t)
    return learner


def test_experience_replay_buffer_is_balanced_and_counted():
    tasks = split_digits()[:3]
    er = _train("er", tasks, epochs=1, buffer_size=10)
    assert [int(y.numel()) for _, y in er.memory] == [4, 3, 3]
    assert er.stored_raw_samples == 10
    for (_, y), t in zip(er.memory, tasks):
        assert set(y.tolist()) <= set(t.classes)
    big = _train("er", tasks, epochs=3, buffer_size=200)
    naive = _train("naive", tasks, epochs=3)
    cls_er = sum(big.evaluate(tasks)[0]) / 3
    cls_naive = sum(naive.evaluate(tasks)[0]) / 3
    assert cls_naive < 0.4 and cls_er > 0.6  # stored samples keep the old classes alive


def test_lwf_and_si_in_the_learner():
    tasks = split_digits()[:2]
    lwf = _train("lwf", tasks)
    assert lwf.teacher is not None and lwf.teacher_classes == [0, 1, 2, 3]
    assert lwf.stored_raw_samples == 0
    # SI with Adam (in-place updates): the importance must not stay 0 (Avalanche 0.6's bug)
    si = _train("si", tasks[:1])
    for name, imp in si.importance.items():
        assert float(imp.values.sum()) > 0, name
