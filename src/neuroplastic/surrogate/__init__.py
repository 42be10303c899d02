"""Surrogate-gradient training: spike functions, multi-step LIF layers, losses, a trainer.

Layers share the simulator's neuron model (:mod:`neuroplastic.neurons.lif`); see
:mod:`.layers` for the return convention and :mod:`.functional` for the fused recurrence.

On CPU the fused recurrence and the event-driven projection run compiled kernels: C compiled
once with the system compiler (:mod:`._cengine`), else numba (:mod:`._kernels`), else torch
loops; ``$NEUROPLASTIC_KERNELS`` (``auto``/``c``/``numba``/``torch``) picks one explicitly and
``$NEUROPLASTIC_KERNEL_THREADS`` (default: PyTorch's thread count) sets their threads.
"""

from .functional import (
    LIFCoef,
    event_linear,
    kernel_engine,
    lif_cell_step,
    lif_fused,
    lif_loop,
    lif_sequence,
)
from .layers import (
    LI,
    LIF,
    CubaLIF,
    CubaLIFCell,
    CubaState,
    EventLinear,
    LIFCell,
    LIFLayerState,
    LIState,
    RecurrentLIF,
    RecurrentState,
    SequenceWrapper,
    Sequential,
    SpikingModule,
    TimeDistributed,
    discrete_lif_params,
)
from .losses import (
    RateRegularizer,
    first_spike_cross_entropy,
    first_spike_time,
    max_membrane_cross_entropy,
    spike_count_cross_entropy,
    spike_count_predict,
)
from .spike import SURROGATE_KINDS, SpikeFunction, Surrogate, spike_fn, surrogate_grad
from .trainer import Trainer, record_spikes

__all__ = [
    "LI",
    "LIF",
    "SURROGATE_KINDS",
    "CubaLIF",
    "CubaLIFCell",
    "CubaState",
    "EventLinear",
    "LIFCell",
    "LIFCoef",
    "LIFLayerState",
    "LIState",
    "RateRegularizer",
    "RecurrentLIF",
    "RecurrentState",
    "SequenceWrapper",
    "Sequential",
    "SpikeFunction",
    "SpikingModule",
    "Surrogate",
    "TimeDistributed",
    "Trainer",
    "discrete_lif_params",
    "event_linear",
    "kernel_engine",
    "first_spike_cross_entropy",
    "first_spike_time",
    "lif_cell_step",
    "lif_fused",
    "lif_loop",
    "lif_sequence",
    "max_membrane_cross_entropy",
    "record_spikes",
    "spike_count_cross_entropy",
    "spike_count_predict",
    "spike_fn",
    "surrogate_grad",
]
