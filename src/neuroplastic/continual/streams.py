"""Task streams for continual learning: class splits, permutations, recurring tasks.

A stream is a list of :class:`Task` (train and test tensors of one task, its classes). Streams:

* :func:`split_digits` — the bundled 8×8 digits in ``n_tasks`` disjoint class groups
  (5 × 2 classes by default: {0,1}, {2,3}, ...; van de Ven & Tolias 2019's split protocol);
* :func:`split_mnist` — the same on MNIST (optional data, :func:`neuroplastic.data.load_mnist`);
* :func:`permuted_stream` / :func:`permuted_mnist` — every task the same ten classes with its
  own fixed pixel permutation (task 0 unpermuted);
* :func:`recurring_stream` — tasks of a base stream in a given order with repeats
  (e.g. 0, 1, 2, 0, 1, 2): the stream on which a stability–plasticity controller should
  recognise a returning task.

Class splits are validated: overlapping or empty groups, or classes absent from the data, are
refused with ``ValueError`` naming ``splits``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from .._validation import check_int

__all__ = [
    "Task",
    "check_splits",
    "class_split_stream",
    "permuted_mnist",
    "permuted_stream",
    "recurring_stream",
    "split_digits",
    "split_mnist",
]


@dataclass(frozen=True)
class Task:
    """One task of a stream: its data (inputs ``(n, d)`` in [0, 1], int64 labels) and classes."""

    index: int  # position in the stream
    classes: tuple[int, ...]  # labels the task contains
    x_train: Tensor = field(repr=False)
    y_train: Tensor = field(repr=False)
    x_test: Tensor = field(repr=False)
    y_test: Tensor = field(repr=False)
    name: str = ""
    source: int = -1  # index of the base task it repeats (recurring streams), else = index

    def __post_init__(self) -> None:
        check_int("index", self.index, 0)
        for split in ("train", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if x.dim() != 2 or y.shape != (x.shape[0],):
                raise ValueError(f"x_{split} must be (n, d) and y_{split} (n,), got "
                                 f"{tuple(x.shape)} and {tuple(y.shape)}")
        if self.x_train.shape[1] != self.x_test.shape[1]:
            raise ValueError("x_train and x_test must have the same number of features")
        if not self.classes:
            raise ValueError("classes must not be empty")
        present = set(torch.unique(self.y_train).tolist())
        if not present <= set(self.classes):
            raise ValueError(f"y_train holds classes {sorted(present - set(self.classes))} "
                             f"outside the task's classes {self.classes}")
        if self.source < 0:
            object.__setattr__(self, "source", self.index)


def check_splits(splits: Sequence[Sequence[int]], n_classes: int | None = None) -> tuple:
    """Validate class groups: non-empty, integer, disjoint (and below ``n_classes``)."""
    if isinstance(splits, (str, bytes)) or not isinstance(splits, Sequence) or not splits:
        raise ValueError(f"splits must be a non-empty sequence of class groups, got {splits!r}")
    seen: dict[int, int] = {}
    out = []
    for k, group in enumerate(splits):
        if isinstance(group, (str, bytes)) or not isinstance(group, Sequence) or not group:
            raise ValueError(f"splits[{k}] must be a non-empty group of classes, got {group!r}")
        g = tuple(check_int(f"splits[{k}]", c, 0) for c in group)
        if len(set(g)) != len(g):
            raise ValueError(f"splits[{k}] repeats a class: {g}")
        for c in g:
            if n_classes is not None and c >= n_classes:
                raise ValueError(f"splits[{k}] has class {c}, the data have {n_classes}")
            if c in seen:
                raise ValueError(f"splits overlap: class {c} is in splits[{seen[c]}] and "
                                 f"splits[{k}]")
            seen[c] = k
        out.append(g)
    return tuple(out)


def class_split_stream(
    x_train: Tensor, y_train: Tensor, x_test: Tensor, y_test: Tensor,
    splits: Sequence[Sequence[int]], *, name: str = "split",
) -> list[Task]:
    """One task per class group of ``splits`` (disjoint; see :func:`check_splits`)."""
    n_classes = int(max(int(y_train.max()), int(y_test.max()))) + 1
    groups = check_splits(splits, n_classes)
    tasks = []
    for k, g in enumerate(groups):
        cls = torch.tensor(g)
        tr = torch.isin(y_train, cls)
        te = torch.isin(y_test, cls)
        if not tr.any() or not te.any():
            raise ValueError(f"splits[{k}] = {g} selects no training or no test sample")
        tasks.append(Task(k, g, x_train[tr], y_train[tr], x_test[te], y_test[te],
                          f"{name}-{k}:{''.join(map(str, g)) if max(g) < 10 else g}"))
    return tasks


def _pairs(n_tasks: int, n_classes: int) -> tuple[tuple[int, ...], ...]:
    check_int("n_tasks", n_tasks, 1, n_classes)
    if n_classes % n_tasks:
        raise ValueError(f"n_tasks must divide the {n_classes} classes, got {n_tasks}")
    k = n_classes // n_tasks
    return tuple(tuple(range(i * k, (i + 1) * k)) for i in range(n_tasks))


def split_digits(
    n_tasks: int = 5,
    *,
    splits: Sequence[Sequence[int]] | None = None,
    test_size: float = 0.25,
    seed: int = 0,
) -> list[Task]:
    """Split-digits: the bundled digits (1347 train / 450 test) in disjoint class groups."""
    from ..data import load_digits

    d = load_digits(test_size=test_size, seed=seed)
    groups = _pairs(n_tasks, 10) if splits is None else splits
    return class_split_stream(d.x_train, d.y_train, d.x_test, d.y_test, groups,
                              name="digits")


def split_mnist(
    n_tasks: int = 5,
    *,
    splits: Sequence[Sequence[int]] | None = None,
    path: str | None = None,
) -> list[Task]:
    """Split-MNIST (50k train / 10k test, the validation part unused)."""
    from ..data import load_mnist

    m = load_mnist(path)
    groups = _pairs(n_tasks, 10) if splits is None else splits
    return class_split_stream(m.x_train, m.y_train, m.x_test, m.y_test, groups, name="mnist")


def permuted_stream(
    x_train: Tensor, y_train: Tensor, x_test: Tensor, y_test: Tensor,
    n_tasks: int, *, seed: int = 0, name: str = "permuted",
) -> list[Task]:
    """``n_tasks`` tasks on all classes, task ``k > 0`` with a fixed random pixel permutation."""
    check_int("n_tasks", n_tasks, 1, 1000)
    check_int("seed", seed, 0)
    g = torch.Generator().manual_seed(seed)
    d = x_train.shape[1]
    classes = tuple(sorted(set(torch.unique(y_train).tolist())))
    tasks = []
    for k in range(n_tasks):
        perm = torch.arange(d) if k == 0 else torch.randperm(d, generator=g)
        tasks.append(Task(k, classes, x_train[:, perm], y_train, x_test[:, perm], y_test,
                          f"{name}-{k}"))
    return tasks


def permuted_mnist(n_tasks: int = 10, *, seed: int = 0, path: str | None = None) -> list[Task]:
    """Permuted-MNIST (Goodfellow et al. 2013; Kirkpatrick et al. 2017)."""
    from ..data import load_mnist

    m = load_mnist(path)
    return permuted_stream(m.x_train, m.y_train, m.x_test, m.y_test, n_tasks, seed=seed,
                           name="pmnist")


def recurring_stream(tasks: Sequence[Task], order: Sequence[int]) -> list[Task]:
    """The tasks of ``tasks`` in ``order`` (repeats allowed): task ``k`` of the result is
    ``tasks[order[k]]`` with ``index = k`` and ``source = order[k]``."""
    if not tasks:
        raise ValueError("tasks must not be empty")
    if isinstance(order, (str, bytes)) or not isinstance(order, Sequence) or not order:
        raise ValueError(f"order must be a non-empty sequence of task indices, got {order!r}")
    out = []
    for k, i in enumerate(order):
        check_int(f"order[{k}]", i, 0, len(tasks) - 1)
        t = tasks[i]
        out.append(Task(k, t.classes, t.x_train, t.y_train, t.x_test, t.y_test,
                        f"{t.name}#{k}", source=i))
    return out
