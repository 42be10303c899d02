"""Streams (class splits validated, permutations, recurrence) and accuracy-matrix metrics."""

from __future__ import annotations

import pytest
import torch

from neuroplastic.continual.metrics import (
    accuracy,
    average_accuracy,
    backward_transfer,
    forgetting,
    forward_transfer,
)
from neuroplastic.continual.streams import (
    check_splits,
    class_split_stream,
    permuted_stream,
    recurring_stream,
    split_digits,
)


def test_split_digits_is_five_disjoint_pairs_covering_the_data():
    tasks = split_digits()
    assert [t.classes for t in tasks] == [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
    assert sum(t.y_train.numel() for t in tasks) == 1347
    assert sum(t.y_test.numel() for t in tasks) == 450
    for t in tasks:
        assert set(t.y_train.tolist()) == set(t.classes) == set(t.y_test.tolist())
        assert t.x_train.shape[1] == 64 and 0 <= float(t.x_train.min()) <= float(t.x_train.max())


def test_overlapping_or_bad_splits_are_refused():
    with pytest.raises(ValueError, match="splits overlap: class 1"):
        split_digits(splits=((0, 1), (1, 2)))
    with pytest.raises(ValueError, match=r"splits\[1\]"):
        check_splits(((0,), ()))
    with pytest.raises(ValueError, match="class 12"):
        split_digits(splits=((0, 12),))
    with pytest.raises(ValueError, match="n_tasks must divide"):
        split_digits(3)
    with pytest.raises(ValueError, match="repeats"):
        check_splits(((0, 0),))


def test_permuted_and_recurring_streams():
    x = torch.rand(20, 6)
    y = torch.arange(20) % 3
    tasks = permuted_stream(x, y, x, y, 3, seed=1)
    assert torch.equal(tasks[0].x_train, x)
    for t in tasks[1:]:  # same pixels, other order
        assert torch.equal(t.x_train.sort(1).values, x.sort(1).values)
        assert t.classes == (0, 1, 2)
    base = class_split_stream(x, y, x, y, ((0,), (1, 2)))
    rec = recurring_stream(base, (0, 1, 0))
    assert [t.source for t in rec] == [0, 1, 0] and [t.index for t in rec] == [0, 1, 2]
    assert torch.equal(rec[2].x_train, base[0].x_train)
    with pytest.raises(ValueError, match=r"order\[1\]"):
        recurring_stream(base, (0, 5))


def test_metrics_against_hand_values():
    R = torch.tensor([[0.9, 0.1, 0.0], [0.6, 0.8, 0.2], [0.5, 0.7, 0.95]])
    assert average_accuracy(R) == pytest.approx((0.5 + 0.7 + 0.95) / 3)
    assert average_accuracy(R, after=1) == pytest.approx(0.7)
    assert backward_transfer(R) == pytest.approx(((0.5 - 0.9) + (0.7 - 0.8)) / 2)
    fwt = ((0.1 - 0.05) + (0.2 - 0.1)) / 2
    assert forward_transfer(R, [0.5, 0.05, 0.1]) == pytest.approx(fwt)
    torch.testing.assert_close(forgetting(R), torch.tensor([0.4, 0.1], dtype=torch.float64))
    with pytest.raises(ValueError, match="R must"):
        average_accuracy(torch.ones(2, 3))
    with pytest.raises(ValueError, match="baseline"):
        forward_transfer(R, [0.1])
    logits = torch.tensor([[3.0, 2.0, 1.0], [0.0, 2.0, 5.0]])
    y = torch.tensor([0, 1])
    assert accuracy(logits, y) == 0.5
    assert accuracy(logits, y, allowed=[0, 1]) == 1.0  # task-IL: only the task's classes compete


def test_split_and_permuted_mnist_or_skip():
    from neuroplastic.continual.streams import permuted_mnist, split_mnist
    from neuroplastic.data.mnist import MNISTNotFoundError

    try:
        tasks = split_mnist()
    except MNISTNotFoundError as e:
        pytest.skip(f"MNIST is optional and absent: {e}")
    assert [t.classes for t in tasks] == [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
    assert sum(t.y_train.numel() for t in tasks) == 50000
    assert sum(t.y_test.numel() for t in tasks) == 10000
    perm = permuted_mnist(3, seed=0)
    assert len(perm) == 3 and perm[1].x_train.shape == (50000, 784)
    assert torch.equal(perm[1].x_train.sort(1).values, perm[0].x_train.sort(1).values)


def test_recurring_streams_return_the_same_task():
    base = split_digits()
    rec = recurring_stream(base[:2], (0, 1, 0, 1))
    assert [t.classes for t in rec] == [(0, 1), (2, 3), (0, 1), (2, 3)]
    assert rec[2].x_test is base[0].x_test
    with pytest.raises(ValueError, match="order"):
        recurring_stream(base, ())
    with pytest.raises(ValueError, match="tasks"):
        recurring_stream([], (0,))
