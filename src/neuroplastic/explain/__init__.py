"""Explanations of spiking networks that are causally valid, robust and capped in what they
leak (issue 16).

* :mod:`.attribution` — Captum attributions over input × time (IG, saliency, GradientSHAP,
  occlusion), interventional spike deletion, spike activation maps, neuron silencing.
* :mod:`.validity` — deletion / insertion curves with paired tests, randomisation checks,
  causal mediation.
* :mod:`.planted` — a synthetic task with planted ground truth.
* :mod:`.robustness` — max-sensitivity, local Lipschitz, agreement under spike jitter.
* :mod:`.privacy` — analytic Gaussian mechanism, accountant, membership-inference audit, the
  mutual-information cap of a release and its empirical estimate, block-sum releases.
* :mod:`.local_models` — interventional explanations of the Diehl & Cook network (pixel
  deletion, neuron lesions) and of the basal-ganglia agents (occlusion, code deletion).
* :mod:`.models` — the surrogate-gradient networks explained (build, train, load a run).
* :mod:`.runs` — rebuild the model of any finished run folder that has one and explain it
  (``neuroplastic explain RUN_DIR``).
"""

from .attribution import (
    GRADIENT_METHODS,
    METHODS,
    CountScore,
    attribute,
    block_mask,
    silenced,
    spike_activation_map,
)
from .local_models import (
    DiehlCookScore,
    agent_attribution,
    agent_code_attribution,
    agent_score,
    diehl_cook_attribution,
    lesioned,
    linear_code_attribution,
    linear_code_score,
    neuron_mediation,
)
from .planted import PlantedTask, PlantedTaskParams, planted_recovery, planted_task
from .privacy import (
    AuditResult,
    GaussianRelease,
    PrivacyAccountant,
    advantage_bound,
    check_budget,
    clip_l2,
    gaussian_delta,
    gaussian_epsilon,
    gaussian_sigma,
    mi_bound_bits,
    mi_bound_closed_form_bits,
    mi_lower_bound_bits,
    mia_audit,
    patch_groups,
    pool_blocks,
    rank_fidelity,
)
from .robustness import jitter, jitter_agreement, local_lipschitz, max_sensitivity
from .validity import (
    auc,
    mediation_curve,
    paired_test,
    perturbation_curves,
    rank_correlation,
    spike_order,
)

__all__ = [
    "GRADIENT_METHODS",
    "METHODS",
    "AuditResult",
    "CountScore",
    "GaussianRelease",
    "PlantedTask",
    "PlantedTaskParams",
    "PrivacyAccountant",
    "advantage_bound",
    "attribute",
    "auc",
    "block_mask",
    "check_budget",
    "clip_l2",
    "gaussian_delta",
    "gaussian_epsilon",
    "gaussian_sigma",
    "jitter",
    "jitter_agreement",
    "local_lipschitz",
    "max_sensitivity",
    "mediation_curve",
    "mi_bound_bits",
    "mi_bound_closed_form_bits",
    "mi_lower_bound_bits",
    "mia_audit",
    "paired_test",
    "patch_groups",
    "pool_blocks",
    "rank_fidelity",
    "perturbation_curves",
    "planted_recovery",
    "planted_task",
    "rank_correlation",
    "silenced",
    "spike_activation_map",
    "spike_order",
    "DiehlCookScore",
    "agent_attribution",
    "agent_code_attribution",
    "agent_score",
    "diehl_cook_attribution",
    "lesioned",
    "linear_code_attribution",
    "linear_code_score",
    "neuron_mediation",
]
