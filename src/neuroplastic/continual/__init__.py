"""Lifelong learning: synapse importance, consolidation penalties and gates, Bayesian online
learning, a stability–plasticity controller, generative replay, task streams and metrics.

One concept per module: :mod:`.importance` (EWC / online EWC / SI / MAS / local activity),
:mod:`.penalty` (quadratic penalty), :mod:`.gate` (Δw ← g(I)·Δw for local rules),
:mod:`.laplace` (online Laplace), :mod:`.vcl` (mean-field Gaussian VCL), :mod:`.bayes_local`
(synaptic uncertainty as learning rate), :mod:`.controller` (α/β as neuromodulatory signals),
:mod:`.replay` (class-conditional generative replay, no stored samples), :mod:`.distill`
(distillation, Learning without Forgetting), :mod:`.streams`,
:mod:`.metrics`, and :mod:`.learner` (a network trained task after task with any method).

The gate acts on the weight change of one call of a rule (Python path). Gating inside the
compiled simulator loop (``kernels/network_numba.py``) needs, per plastic projection, a float64
gate array aligned with the CSR weight values, passed to the kernel beside the weights, and
every in-loop weight update ``w[k] = clip(w[k] + dw)`` replaced by
``w_new = clip(w[k] + dw); w[k] = w_new if g[k] == 1 else (w[k] if g[k] == 0 else
w[k] + g[k] * (w_new - w[k]))`` — the same three-way rule as :func:`.gate.gated_update`, so
that I = 0 stays bit-identical and I = ∞ freezes the synapse.
"""

from .controller import ControllerParams, StabilityPlasticityController, controlled_loss
from .distill import LearningWithoutForgetting, distillation_loss
from .gate import GatedRule, GateParams, gate_factor, gate_rule, gated_update
from .importance import (
    ActivityImportance,
    Importance,
    SynapticIntelligence,
    combine,
    combine_maps,
    fisher_diagonal,
    mas_importance,
)
from .penalty import QuadraticPenalty, quadratic_penalty
from .streams import Task, permuted_mnist, recurring_stream, split_digits, split_mnist

__all__ = [
    "ActivityImportance",
    "ControllerParams",
    "GateParams",
    "GatedRule",
    "Importance",
    "LearningWithoutForgetting",
    "QuadraticPenalty",
    "StabilityPlasticityController",
    "SynapticIntelligence",
    "Task",
    "combine",
    "combine_maps",
    "controlled_loss",
    "distillation_loss",
    "fisher_diagonal",
    "gate_factor",
    "gate_rule",
    "gated_update",
    "mas_importance",
    "permuted_mnist",
    "quadratic_penalty",
    "recurring_stream",
    "split_digits",
    "split_mnist",
]
