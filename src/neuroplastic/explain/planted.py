"""Planted ground truth: a synthetic spiking task whose label depends on known input channels
in a known time window, so the right explanation is known.

Every input channel fires Poisson background spikes at ``rate_bg`` per step; an input of class
``c`` additionally fires at ``rate_signal`` in the channels of class ``c``
(``channels_per_class`` channels, disjoint between classes) during the time window of class
``c`` (windows of ``window`` steps, assigned round-robin). The planted blocks of an input are
its class's (window × channel) blocks; :func:`planted_recovery` asks whether the top-k channels
(or blocks) of an attribution (k = number planted) contain all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from .._validation import check_int, check_range

__all__ = ["PlantedTask", "PlantedTaskParams", "block_scores", "planted_recovery", "planted_task"]


@dataclass(frozen=True)
class PlantedTaskParams:
    n_classes: int = 4
    channels_per_class: int = 2
    n_channels: int = 16
    num_steps: int = 20
    window: int = 4
    rate_bg: float = 0.02
    rate_signal: float = 0.8

    def __post_init__(self) -> None:
        check_int("n_classes", self.n_classes, 2)
        check_int("channels_per_class", self.channels_per_class, 1)
        check_int("window", self.window, 1)
        check_int("num_steps", self.num_steps, self.window)
        check_int("n_channels", self.n_channels, self.n_classes * self.channels_per_class)
        check_range("rate_bg", self.rate_bg, 0.0, 1.0)
        check_range("rate_signal", self.rate_signal, 0.0, 1.0)
        if self.num_steps % self.window:
            raise ValueError(f"num_steps ({self.num_steps}) must be a multiple of window "
                             f"({self.window})")
        if self.rate_signal <= self.rate_bg:
            raise ValueError(f"rate_signal ({self.rate_signal}) must exceed rate_bg "
                             f"({self.rate_bg})")

    @property
    def n_windows(self) -> int:
        return self.num_steps // self.window

    def channels(self, c: int) -> list[int]:
        k = self.channels_per_class
        return list(range(c * k, (c + 1) * k))

    def window_of(self, c: int) -> int:
        return c % self.n_windows


class PlantedTask(NamedTuple):
    spikes: Tensor  # (T, N, n) bool, time-major
    y: Tensor  # (N,) int64
    planted: Tensor  # (N, n_windows, n) bool: the planted blocks of each input


def planted_task(p: PlantedTaskParams, n_samples: int, *, seed: int) -> PlantedTask:
    """``n_samples`` inputs of balanced classes (class ``i % n_classes``), seeded."""
    check_int("n_samples", n_samples, 1)
    g = torch.Generator().manual_seed(check_int("seed", seed, 0))
    y = torch.arange(n_samples) % p.n_classes
    rate = torch.full((p.num_steps, n_samples, p.n_channels), p.rate_bg, dtype=torch.float64)
    planted = torch.zeros(n_samples, p.n_windows, p.n_channels, dtype=torch.bool)
    for c in range(p.n_classes):
        w, ch = p.window_of(c), p.channels(c)
        rows = (y == c).nonzero()[:, 0]
        t0 = w * p.window
        rate[t0:t0 + p.window, rows[:, None], ch] = p.rate_signal
        planted[rows[:, None], w, ch] = True
    spikes = torch.bernoulli(rate, generator=g).bool()
    return PlantedTask(spikes, y, planted)


def block_scores(attr: Tensor, window: int) -> Tensor:
    """Sum an attribution ``(B, T, n)`` over time windows -> ``(B, T // window, n)``."""
    b, t, n = attr.shape
    return attr.reshape(b, t // window, window, n).sum(2)


def planted_recovery(attr: Tensor, planted: Tensor, window: int | None = None) -> Tensor:
    """Per input: do the top-k entries of ``attr`` (k = its planted count) hold every planted
    one? ``(B,)`` bool.

    ``window=None`` compares *channels* (attribution summed over time; planted channels = those
    with a planted block); an integer compares (time window × channel) blocks.
    """
    if window is None:
        s = attr.to(torch.float64).sum(1)
        flat = planted.any(1)
    else:
        s = block_scores(attr.to(torch.float64), window).reshape(attr.shape[0], -1)
        flat = planted.reshape(planted.shape[0], -1)
    out = torch.empty(attr.shape[0], dtype=torch.bool)
    for i in range(attr.shape[0]):
        k = int(flat[i].sum())
        top = torch.topk(s[i], k).indices
        out[i] = bool(flat[i][top].all())
    return out
