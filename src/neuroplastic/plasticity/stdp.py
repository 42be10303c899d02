r"""Spike-timing-dependent plasticity: learning windows, event-driven trace rules, triplet rule.

Conventions
-----------
Time is in ms. The lag of a pair is :math:`\Delta t = t_\mathrm{post} - t_\mathrm{pre}`; a
*causal* pair (pre before post) has :math:`\Delta t > 0` and is potentiated by the default
window. Pair-based STDP changes a weight by

.. math::

    \Delta w = \eta \sum_{\text{pairs}} W(t_\mathrm{post} - t_\mathrm{pre}),

over all pairs (``pairing='all'``) or over nearest-spike pairs (``pairing='nearest'``: every post
spike pairs with the latest earlier pre spike, every pre spike with the latest earlier post
spike — Morrison, Diesmann & Gerstner 2008, "symmetric nearest-spike"; coincident spikes
always pair once with weight :math:`W(0)`). :func:`stdp_pair_sum` evaluates this sum directly
and is the reference the event-driven rules are tested against.

Event-driven evaluation
-----------------------
For windows that are one exponential on each side (:class:`ExponentialWindow`, the exponential
:class:`SymmetricWindow`) the sum is carried by two traces, decayed analytically by
:math:`e^{-dt/\tau}` each step and incremented (all-to-all) or reset to 1 (nearest) on a spike.
:func:`stdp_step` touches the weights only on the rows of presynaptic neurons that spiked
(their acausal pairs, read from the post trace) and on the columns of postsynaptic neurons that
spiked (causal pairs, read from the pre trace). Within one step, the order is: decay traces,
update weights from the traces (which hold only *earlier* spikes), add :math:`W(0)` for each
coincident pre/post pair, then increment the traces. :func:`stdp_sequence` runs many such
steps from spike rasters in one call, compiled with numba on the CPU (bit-identical to looping
:func:`stdp_step`). Windows with no trace form
(:class:`FunctionWindow`, the Mexican-hat :class:`SymmetricWindow`) use
:func:`stdp_history_step`, which keeps the recent spike times of every neuron instead.
:func:`triplet_step` is the triplet rule of Pfister & Gerstner (2006).

Weights and batches
-------------------
Weights are dense ``(n_pre, n_post)`` or sparse CSR values ``(nnz,)`` in the projection layout
(``indptr (n_pre+1,)``, ``indices (nnz,)`` = post neuron of each synapse, rows = presynaptic
neurons; pass ``csr=csr_layout(indptr, indices, n_post)``). Spikes per step are boolean
``(batch, n)``. With ``batch > 1`` the weights are either *shared* (shapes above; the changes of
all trials, each computed from the weights at the start of the step, are summed — or averaged
with ``batch_reduce='mean'``) or *per-trial* (dense ``(batch, n_pre, n_post)``, CSR values
``(batch, nnz)``: every trial learns on its own copy).

Modules
-------
This module re-exports the rules, one concept per module:

* :mod:`.stdp_windows` — learning windows and their trace form;
* :mod:`.stdp_params` — :class:`STDPParams`, :class:`TripletParams`;
* :mod:`.stdp_pair` — the dense reference :func:`stdp_pair_sum` and the trace rule
  :func:`stdp_step`;
* :mod:`.stdp_sequence` — :func:`stdp_sequence`, many steps in one compiled call;
* :mod:`.stdp_history` — :func:`stdp_history_step` for any window;
* :mod:`.stdp_triplet` — the triplet rule;
* :mod:`.stdp_layout` — sparse CSR layout and :func:`normalize_incoming`;
* :mod:`.stdp_module` — the :class:`STDP` ``nn.Module``;
* ``_stdp_events`` — the event-driven update every rule shares.
"""

from __future__ import annotations

from ._stdp_events import _batch_scale
from .stdp_history import SpikeHistoryState, init_history_state, stdp_history_step
from .stdp_layout import CSRLayout, csr_layout, csr_to_csc, normalize_incoming
from .stdp_module import STDP
from .stdp_pair import STDPState, init_stdp_state, stdp_pair_sum, stdp_step
from .stdp_params import BATCH_REDUCE, PAIRINGS, UPDATES, STDPParams, TripletParams
from .stdp_sequence import SEQUENCE_BACKENDS, _kernel_coefficients, _kernel_flags, stdp_sequence
from .stdp_triplet import TripletState, init_triplet_state, triplet_pair_sum, triplet_step
from .stdp_windows import (
    SYMMETRIC_SHAPES,
    ZERO_LAG,
    ExponentialWindow,
    FunctionWindow,
    SymmetricWindow,
    TraceForm,
    Window,
)

__all__ = [
    "CSRLayout",
    "ExponentialWindow",
    "FunctionWindow",
    "STDP",
    "STDPParams",
    "STDPState",
    "SpikeHistoryState",
    "SymmetricWindow",
    "TraceForm",
    "TripletParams",
    "TripletState",
    "csr_layout",
    "csr_to_csc",
    "init_history_state",
    "init_stdp_state",
    "init_triplet_state",
    "normalize_incoming",
    "stdp_history_step",
    "stdp_pair_sum",
    "stdp_sequence",
    "stdp_step",
    "triplet_pair_sum",
    "triplet_step",
]

# Importable from here as before the split, though not in __all__: the option tuples, the Window
# type and the helpers the network simulator reads its kernel coefficients with.
_COMPAT = (
    BATCH_REDUCE, PAIRINGS, SEQUENCE_BACKENDS, SYMMETRIC_SHAPES, UPDATES, ZERO_LAG, Window,
    _batch_scale, _kernel_coefficients, _kernel_flags,
)
