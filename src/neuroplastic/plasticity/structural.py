r"""Structural plasticity: synapses are created and pruned on a slow clock of their own.

Storage: a slot table
---------------------
Every postsynaptic neuron owns ``capacity`` (:math:`K`) slots, so its in-degree can never
exceed :math:`K`. A :class:`SlotTable` holds, per slot, the presynaptic index (``-1`` = free),
the weight and an idle counter, each ``(n_post, K)``. A structural update touches only the
table: synapses that survive keep their slot, weight and counter bit for bit, new synapses are
written into free slots. The table is converted to the projection layout on demand
(:func:`slot_table_to_csr`: ``indptr (n_pre+1,)``, ``indices (nnz,)`` post neuron,
``values (nnz,)`` weights, rows = presynaptic neurons, indices sorted within rows) together with
the flat slot of every CSR entry, so weights learnt in CSR order are written back with
``table.weight.view(-1)[slot] = values`` (:func:`write_back_weights`).

Complexity per update (``nnz`` synapses, ``m`` creation attempts): :math:`O(n_\mathrm{post} K)`
element-wise work for pruning and the free-slot draw, :math:`O(mK)` for the duplicate check,
plus :math:`O(n_\mathrm{pre} + m)` for activity-guided sampling; memory
:math:`O(n_\mathrm{post} K)`. Nothing is rebuilt from scratch: the CSR export
(:math:`O(\mathrm{nnz}\log \mathrm{nnz})`, one stable sort) is only needed when the weights are
to be propagated, typically once per structural update.

One update (:func:`structural_step`)
------------------------------------
Decisions are taken on the table as it is at the start of the update.

1. *Idle counters*: if ``pre_used`` (``(n_pre,)`` bool, "the presynaptic neuron spiked since the
   last update") is given, an occupied slot's counter resets to 0 when its neuron was used and
   increases by 1 otherwise.
2. *Pruning* of occupied slots: weight below ``w_prune``, or idle for ``max_idle`` updates
   (when ``max_idle > 0``), or at random with probability ``p_prune``.
3. *Creation*: each slot that was free at the start fills with probability
   :math:`g_i = p_\mathrm{grow}\,a^\mathrm{post}_i` (``post_activity`` in [0, 1], default 1).
   Its presynaptic partner is drawn uniformly (``growth="random"``) or with probability
   :math:`\propto x_j + \text{baseline}` (``growth="activity"``, ``pre_activity`` :math:`x`), so
   that a synapse :math:`j\to i` forms at a rate :math:`\propto a^\mathrm{post}_i x_j` —
   growth guided by pre·post co-activity; or, given a matrix :math:`x_{ij}` of pairwise
   co-activities (e.g. :math:`\sum_t x_j(t) y_i(t)` over the interval), with probability
   :math:`\propto x_{ij} + \text{baseline}`. A draw that would duplicate an existing connection (or
   another draw of the same update) is rejected and the slot stays free. New synapses get
   weight ``w_init`` and an idle counter of 0.

Steady state. With only random pruning, every slot is a two-state Markov chain
(occupied → free with probability :math:`p`, free → occupied with :math:`g`, neglecting
duplicate rejections, whose probability is at most :math:`K/n_\mathrm{pre}`). Its occupancy is
:math:`\pi = g/(g+p)`, so the synapse count relaxes as

.. math::

    \langle M_t\rangle = M_\star + (M_0 - M_\star)(1-g-p)^t, \qquad
    M_\star = n_\mathrm{post} K \frac{g}{g+p}.

(Butz, Wörgötter & van Ooyen 2009, Brain Res. Rev. 60:287, review such growth/retraction
rules; Deger, Helias, Rotter & Diesmann 2012, PLoS Comput. Biol. 8:e1002689, model synapse
creation and deletion as such stochastic transitions.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
from torch import Tensor

from .._validation import check_choice, check_finite, check_int, check_nonnegative, check_range

__all__ = [
    "GROWTH_MODES",
    "SlotTable",
    "StructuralEvents",
    "StructuralParams",
    "empty_slot_table",
    "in_degree",
    "per_update_probability",
    "random_slot_table",
    "slot_table_from_csr",
    "slot_table_to_csr",
    "structural_step",
    "write_back_weights",
]

GROWTH_MODES = ("random", "activity")


@dataclass(frozen=True)
class StructuralParams:
    """Creation and pruning rule; probabilities are per structural update."""

    capacity: int = 32  # K: slots per postsynaptic neuron = maximal in-degree
    p_grow: float = 0.1  # probability that a free slot forms a synapse in one update
    p_prune: float = 0.0  # probability that a synapse is removed at random in one update
    w_prune: float = -math.inf  # synapses with weight strictly below this are removed
    max_idle: int = 0  # remove synapses unused for this many updates (0: never)
    w_init: float = 0.1  # weight of a newly formed synapse
    growth: Literal["random", "activity"] = "random"  # how the presynaptic partner is drawn
    baseline: float = 0.0  # activity growth: added to pre activity (exploration floor)

    def __post_init__(self) -> None:
        check_int("capacity", self.capacity, 1)
        check_range("p_grow", self.p_grow, 0.0, 1.0)
        check_range("p_prune", self.p_prune, 0.0, 1.0)
        if not isinstance(self.w_prune, (int, float)) or isinstance(self.w_prune, bool) or (
            math.isnan(self.w_prune) or self.w_prune == math.inf
        ):
            raise ValueError(f"w_prune must be a real number or -inf, got {self.w_prune!r}")
        check_int("max_idle", self.max_idle, 0)
        check_finite("w_init", self.w_init)
        check_choice("growth", self.growth, GROWTH_MODES)
        check_nonnegative("baseline", self.baseline)


class SlotTable(NamedTuple):
    """Fixed-capacity per-postsynaptic-neuron synapse slots, each ``(n_post, K)``."""

    pre: Tensor  # int64 presynaptic index, -1 for a free slot
    weight: Tensor  # float64 weight (meaningless in free slots, kept at 0)
    idle: Tensor  # int64 updates since the presynaptic neuron was last used


class StructuralEvents(NamedTuple):
    """What one update did."""

    pruned: Tensor  # (n_post, K) bool: slots emptied
    created: Tensor  # (n_post, K) bool: slots filled


def per_update_probability(rate_hz: float, interval_ms: float) -> float:
    r"""Probability per structural update of an event occurring at ``rate_hz`` (Poisson).

    :math:`p = 1 - e^{-\lambda T}`, for expressing ``p_grow`` / ``p_prune`` as rates per second
    with updates every ``interval_ms``.
    """
    lam = check_nonnegative("rate_hz", rate_hz)
    t = check_finite("interval_ms", interval_ms)
    if t <= 0:
        raise ValueError(f"interval_ms must be > 0, got {interval_ms!r}")
    return -math.expm1(-lam * t * 1e-3)


def empty_slot_table(n_post: int, capacity: int) -> SlotTable:
    """A table with no synapses."""
    check_int("n_post", n_post, 1)
    check_int("capacity", capacity, 1)
    shape = (n_post, capacity)
    return SlotTable(
        torch.full(shape, -1, dtype=torch.int64),
        torch.zeros(shape, dtype=torch.float64),
        torch.zeros(shape, dtype=torch.int64),
    )


def in_degree(table: SlotTable) -> Tensor:
    """Synapses per postsynaptic neuron, ``(n_post,)``."""
    return (table.pre >= 0).sum(1)


def random_slot_table(
    n_pre: int,
    n_post: int,
    capacity: int,
    fill: float,
    *,
    weight: float | tuple[float, float] = 0.1,
    generator: torch.Generator | None = None,
) -> SlotTable:
    """Each postsynaptic neuron gets ``round(fill * capacity)`` distinct random partners.

    ``weight`` is a constant or a ``(low, high)`` range for uniform random weights.
    """
    check_int("n_pre", n_pre, 1)
    check_range("fill", fill, 0.0, 1.0)
    table = empty_slot_table(n_post, capacity)
    k = min(int(round(fill * capacity)), n_pre)
    if k == 0:
        return table
    keys = torch.rand(n_post, n_pre, generator=generator, dtype=torch.float64)
    table.pre[:, :k] = keys.argsort(dim=1)[:, :k]
    if isinstance(weight, tuple):
        lo, hi = (check_finite("weight", w) for w in weight)
        u = torch.rand(n_post, k, generator=generator, dtype=torch.float64)
        table.weight[:, :k] = lo + (hi - lo) * u
    else:
        table.weight[:, :k] = check_finite("weight", weight)
    return table


def slot_table_from_csr(
    indptr: Tensor, indices: Tensor, values: Tensor, n_post: int, capacity: int
) -> SlotTable:
    """Fill a table from CSR arrays (rows = presynaptic); raises if an in-degree exceeds K."""
    indptr = torch.as_tensor(indptr, dtype=torch.int64)
    indices = torch.as_tensor(indices, dtype=torch.int64)
    values = torch.as_tensor(values, dtype=torch.float64)
    table = empty_slot_table(n_post, capacity)
    if indices.numel() == 0:
        return table
    deg = torch.bincount(indices, minlength=n_post)
    if int(deg.max()) > capacity:
        raise ValueError(f"capacity must be >= the largest in-degree {int(deg.max())}, "
                         f"got {capacity}")
    rows = torch.repeat_interleave(torch.arange(indptr.numel() - 1), indptr[1:] - indptr[:-1])
    order = torch.argsort(indices, stable=True)
    post = indices[order]
    start = torch.cumsum(deg, 0) - deg
    slot = torch.arange(post.numel()) - start[post]
    table.pre[post, slot] = rows[order]
    table.weight[post, slot] = values[order]
    return table


def slot_table_to_csr(table: SlotTable, n_pre: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Projection layout of the table.

    Returns
    -------
    indptr : Tensor
        ``(n_pre + 1,)`` int64.
    indices : Tensor
        ``(nnz,)`` int64 postsynaptic neuron, ascending within each row.
    values : Tensor
        ``(nnz,)`` float64 weights.
    slot : Tensor
        ``(nnz,)`` int64 flat slot index (``post * K + k``) of each CSR entry.
    """
    flat_pre = table.pre.reshape(-1)
    slot = torch.nonzero(flat_pre >= 0).flatten()  # ascending flat slot = ascending post
    rows = flat_pre[slot]
    order = torch.argsort(rows, stable=True)  # stable: post stays ascending within rows
    slot = slot[order]
    rows = rows[order]
    indptr = torch.zeros(n_pre + 1, dtype=torch.int64)
    indptr[1:] = torch.cumsum(torch.bincount(rows, minlength=n_pre), 0)
    indices = slot // table.pre.shape[1]
    return indptr, indices, table.weight.reshape(-1)[slot].clone(), slot


def write_back_weights(table: SlotTable, slot: Tensor, values: Tensor) -> SlotTable:
    """Table with the weights of CSR entries ``slot`` replaced by ``values`` (new tensor)."""
    w = table.weight.clone()
    w.view(-1)[slot] = values.to(w.dtype)
    return table._replace(weight=w)


def structural_step(
    table: SlotTable,
    n_pre: int,
    params: StructuralParams,
    *,
    pre_activity: Tensor | None = None,
    post_activity: Tensor | None = None,
    pre_used: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> tuple[SlotTable, StructuralEvents]:
    r"""One structural update: idle counters, pruning, creation (see the module docstring).

    Parameters
    ----------
    table : SlotTable
        Current synapses, ``(n_post, K)`` each; not modified.
    n_pre : int
        Number of presynaptic neurons.
    params : StructuralParams
    pre_activity : Tensor, optional
        Non-negative activity guiding ``growth="activity"`` (required then): ``(n_pre,)``
        presynaptic activity (e.g. spike counts over the interval), or ``(n_post, n_pre)``
        pairwise pre·post co-activity (:math:`O(m\,n_\mathrm{pre})` sampling).
    post_activity : Tensor, optional
        ``(n_post,)`` values in [0, 1] scaling each neuron's growth probability.
    pre_used : Tensor, optional
        ``(n_pre,)`` bool: presynaptic neurons that spiked since the last update.
    generator : torch.Generator, optional
        Source of all random draws.

    Returns
    -------
    table : SlotTable
        The updated table (new tensors).
    events : StructuralEvents
        Masks of pruned and created slots.
    """
    check_int("n_pre", n_pre, 1)
    n_post, cap = table.pre.shape
    if cap != params.capacity:
        raise ValueError(f"capacity must match the table ({cap}), got {params.capacity}")
    pre, weight, idle = table.pre.clone(), table.weight.clone(), table.idle.clone()
    occupied = pre >= 0
    free = ~occupied

    if pre_used is not None:
        used = pre_used.to(torch.bool)[pre.clamp(min=0)]
        idle = torch.where(occupied, torch.where(used, 0, idle + 1), idle)
    prune = occupied & (weight < params.w_prune)
    if params.max_idle > 0:
        prune |= occupied & (idle >= params.max_idle)
    if params.p_prune > 0:
        u = torch.rand(n_post, cap, generator=generator, dtype=torch.float64)
        prune |= occupied & (u < params.p_prune)
    pre[prune] = -1
    weight[prune] = 0.0
    idle[prune] = 0

    g = torch.full((n_post, 1), params.p_grow, dtype=torch.float64)
    if post_activity is not None:
        a = torch.as_tensor(post_activity, dtype=torch.float64).reshape(n_post, 1)
        if bool(((a < 0) | (a > 1)).any()):
            raise ValueError("post_activity must be in [0, 1]")
        g = g * a
    u = torch.rand(n_post, cap, generator=generator, dtype=torch.float64)
    attempt = free & (u < g)
    rows, slots = torch.nonzero(attempt, as_tuple=True)
    m = rows.numel()
    created = torch.zeros_like(attempt)
    if m > 0:
        if params.growth == "activity":
            if pre_activity is None:
                raise ValueError("pre_activity is required for growth='activity'")
            x = torch.as_tensor(pre_activity, dtype=torch.float64)
            if x.shape not in ((n_pre,), (n_post, n_pre)):
                raise ValueError(f"pre_activity must have shape ({n_pre},) or "
                                 f"({n_post}, {n_pre}), got {tuple(x.shape)}")
            if bool((x < 0).any()):
                raise ValueError("pre_activity must be >= 0")
            prob = x + params.baseline
            if prob.dim() == 1:
                if float(prob.sum()) <= 0:
                    prob = torch.ones(n_pre, dtype=torch.float64)
                cand = torch.multinomial(prob, m, replacement=True, generator=generator)
            else:  # per-pair co-activity: each attempt draws from its own neuron's row
                prob = prob[rows]
                prob[prob.sum(1) <= 0] = 1.0
                cand = torch.multinomial(prob, 1, generator=generator)[:, 0]
        else:
            cand = torch.randint(n_pre, (m,), generator=generator)
        clash = (pre[rows] == cand[:, None]).any(1)  # already connected (after pruning)
        key = rows * n_pre + cand
        order = torch.argsort(key, stable=True)
        dup = torch.zeros(m, dtype=torch.bool)
        dup[order[1:]] = key[order[1:]] == key[order[:-1]]  # repeated within this update
        ok = ~(clash | dup)
        rows, slots, cand = rows[ok], slots[ok], cand[ok]
        pre[rows, slots] = cand
        weight[rows, slots] = params.w_init
        idle[rows, slots] = 0
        created[rows, slots] = True
    return SlotTable(pre, weight, idle), StructuralEvents(prune, created)
