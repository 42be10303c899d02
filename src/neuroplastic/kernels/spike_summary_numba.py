"""Compiled fold of recorded spikes into per-neuron statistics
(:class:`neuroplastic.network.spike_summary.SpikeSummary`).

One pass over the spikes in the order they were recorded: each spike of trial 0 updates its
neuron's row (spike count, and Welford's running count, mean and sum of squared deviations of
the intervals), so the figures do not depend on how the spikes are cut into folds - the same
bits whatever the pieces of a run or where it was resumed.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# columns of the statistics (one row per neuron, float64: counts and steps exact below 2**53)
COUNT, N, MEAN, M2, LAST = range(5)


@njit(cache=True)
def fold_spikes(steps, batch, neurons, stats, totals):
    """Add the spikes ``(steps[e], batch[e], neurons[e])`` in order: every trial's total in
    ``totals``, trial 0's spikes into the rows of ``stats`` (see the module). Indices must be
    in range (checked by the caller). Returns -1, or the index of the first spike earlier than
    its neuron's last one (the spikes before it are folded)."""
    for e in range(steps.shape[0]):
        b = batch[e]
        totals[b] += 1
        if b != 0:
            continue
        i = neurons[e]
        s = np.float64(steps[e])
        last = stats[i, LAST]
        if s < last:
            return e
        stats[i, COUNT] += 1.0
        if last >= 0.0:
            x = s - last
            n = stats[i, N] + 1.0
            d = x - stats[i, MEAN]
            mean = stats[i, MEAN] + d / n
            stats[i, M2] += d * (x - mean)
            stats[i, MEAN] = mean
            stats[i, N] = n
        stats[i, LAST] = s
    return -1


def warm_up() -> None:
    """Compile (or load from numba's cache) the fold for the types the summary passes."""
    one = np.zeros(1, dtype=np.int64)
    stats = np.zeros((1, 5))
    stats[:, LAST] = -1.0
    fold_spikes(one, one, one, stats, np.zeros(1, dtype=np.int64))
