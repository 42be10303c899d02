"""The closed-form gradient of :func:`~.distill.replay_objective` as one compiled loop (numba).

The learner's replay steps are on networks so small that each tensor operation of the loss
costs several microseconds of dispatch; this kernel does what :func:`~.distill.replay_logit_grad`
does (same formula, float64 sums) in one call on NumPy views of the step's rows, and writes
each row's hard cross-entropy as well. Compiled on first use, cached on disk (``cache=True``).
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["replay_grad_kernel", "warm_up"]


@numba.njit(cache=True, nogil=True)
def replay_grad_kernel(z, y, mask, w, s, q, cols, inv_t, g, ce):  # pragma: no cover - compiled
    """``g[i] = w_i (softmax(z_i + mask_i) - e_{y_i})`` plus, where ``s_i != 0``,
    ``s_i (softmax(z_i[cols] * inv_t) - q_i)`` on the columns ``cols``; ``ce[i]`` =
    ``-log softmax(z_i + mask_i)[y_i]``. ``s_i`` is the soft weight already divided by
    ``T`` (the ``weights[:, 0, 1]`` of :class:`~.distill.ReplayTerms`)."""
    n, C = z.shape
    K = cols.shape[0]
    for i in range(n):
        m = -np.inf
        for j in range(C):
            a = z[i, j] + mask[i, j]
            if a > m:
                m = a
        tot = 0.0
        for j in range(C):
            e = math.exp(z[i, j] + mask[i, j] - m)
            g[i, j] = e
            tot += e
        wi = w[i] / tot
        for j in range(C):
            g[i, j] *= wi
        yi = y[i]
        g[i, yi] -= w[i]
        ce[i] = m + math.log(tot) - (z[i, yi] + mask[i, yi])
        si = s[i]
        if si != 0.0:
            m = -np.inf
            for k in range(K):
                a = z[i, cols[k]] * inv_t
                if a > m:
                    m = a
            tot = 0.0
            for k in range(K):
                tot += math.exp(z[i, cols[k]] * inv_t - m)
            for k in range(K):
                c = cols[k]
                g[i, c] += si * (math.exp(z[i, c] * inv_t - m) / tot - q[i, k])


def warm_up(dtype: type = np.float32) -> None:
    """Compile (or load from the disk cache) the kernel for ``dtype`` rows."""
    z = np.zeros((1, 2), dtype)
    v = np.zeros(1, dtype)
    replay_grad_kernel(z, np.zeros(1, np.int64), z, v, v, np.zeros((1, 1), dtype),
                       np.zeros(1, np.int64), 0.5, np.zeros((1, 2), dtype), np.zeros(1, dtype))
