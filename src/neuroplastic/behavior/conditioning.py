"""Classical conditioning: the standard designs as protocols, run on the spiking circuit and RW.

Each group of :func:`groups` is a :class:`~neuroplastic.behavior.protocol.Protocol` (stimuli
A, B, X; one context); :func:`effects` turns the responses of its test trials into one number
per phenomenon (positive = the phenomenon is shown), with the rule in :data:`EFFECT_RULES`.
The spiking circuit (:mod:`neuroplastic.behavior.circuit`) and Rescorla–Wagner
(:func:`neuroplastic.behavior.baselines.rescorla_wagner`) read the very same designs. RW's known
failures: it has no clock (a retention interval changes nothing: no spontaneous recovery) and a
non-reinforced pre-exposure leaves :math:`V = 0` unchanged (no latent inhibition).
"""

from __future__ import annotations

import numpy as np

from .protocol import Phase, Protocol, trial

__all__ = ["EFFECT_RULES", "PHENOMENA", "effects", "groups", "run_rw", "run_spiking"]

PHENOMENA = ("acquisition", "extinction", "spontaneous_recovery", "blocking", "overexpectation",
             "conditioned_inhibition", "latent_inhibition")
EFFECT_RULES = {
    "acquisition": "response to A after acquisition minus on the first trial",
    "extinction": "response to A at the end of acquisition minus at the end of extinction",
    "spontaneous_recovery": "response to A after the retention interval minus at the end of "
                            "extinction",
    "blocking": "response to X after B+ then AX+ (control) minus after A+ then AX+",
    "overexpectation": "response to A before minus after AB+ compound training",
    "conditioned_inhibition": "summation test: response to B minus to BX (after A+/AX-/B+)",
    "latent_inhibition": "mean response over the first half of acquisition of A: B pre-exposed "
                         "(control) minus A pre-exposed",
}


def groups(n: int, n_pre: int, iti_s: float = 60.0, retention_s: float = 86_400.0
           ) -> dict[str, Protocol]:
    """The designs: ``n`` trials per training block, ``n_pre`` pre-exposures."""
    kw = dict(iti_s=iti_s, duration_s=0.04)

    def t(spec, **k):
        return trial(spec, **kw, **k)

    S = ("A", "B", "X")
    return {
        "acq_ext": Protocol(S, (Phase("acquisition", (t("A+"),), n),
                                Phase("extinction", (t("A-"),), n),
                                Phase("retention_test", (t("A", test=True),),
                                      gap_s=retention_s))),
        "blocking": Protocol(S, (Phase("pretraining", (t("A+"),), n),
                                 Phase("compound", (t("AX+"),), n),
                                 Phase("test", (t("X", test=True),)))),
        "blocking_control": Protocol(S, (Phase("pretraining", (t("B+"),), n),
                                         Phase("compound", (t("AX+"),), n),
                                         Phase("test", (t("X", test=True),)))),
        "overexpectation": Protocol(S, (Phase("elements", (t("A+"), t("B+")), n, shuffle=True),
                                        Phase("test_before", (t("A", test=True),)),
                                        Phase("compound", (t("AB+"),), n),
                                        Phase("test_after", (t("A", test=True),)))),
        "conditioned_inhibition": Protocol(S, (
            Phase("training", (t("A+"), t("AX-"), t("B+")), n, shuffle=True),
            Phase("test_B", (t("B", test=True),)),
            Phase("test_BX", (t("BX", test=True),)))),
        "latent_inhibition": Protocol(S, (Phase("preexposure", (t("A-"),), n_pre),
                                          Phase("acquisition", (t("A+"),), n))),
        "latent_inhibition_control": Protocol(S, (Phase("preexposure", (t("B-"),), n_pre),
                                                  Phase("acquisition", (t("A+"),), n))),
    }


def _phase_idx(design: dict, name: str) -> np.ndarray:
    return np.array([k for k, ph in enumerate(design["phase"]) if ph == name])


def effects(resp: dict[str, np.ndarray], designs: dict[str, dict]) -> dict[str, float]:
    """One number per phenomenon from mean responses per trial of each group (see
    :data:`EFFECT_RULES`)."""
    out = {}
    r, d = resp["acq_ext"], designs["acq_ext"]
    acq, ext = _phase_idx(d, "acquisition"), _phase_idx(d, "extinction")
    end_acq = float(np.mean(r[acq[-3:]]))
    end_ext = float(np.mean(r[ext[-3:]]))
    out["acquisition"] = end_acq - float(r[acq[0]])
    out["extinction"] = end_acq - end_ext
    out["spontaneous_recovery"] = float(r[_phase_idx(d, "retention_test")[0]]) - end_ext
    x_b = float(resp["blocking"][_phase_idx(designs["blocking"], "test")[0]])
    x_c = float(resp["blocking_control"][_phase_idx(designs["blocking_control"], "test")[0]])
    out["blocking"] = x_c - x_b
    d = designs["overexpectation"]
    r = resp["overexpectation"]
    out["overexpectation"] = (float(r[_phase_idx(d, "test_before")[0]])
                              - float(r[_phase_idx(d, "test_after")[0]]))
    d, r = designs["conditioned_inhibition"], resp["conditioned_inhibition"]
    out["conditioned_inhibition"] = (float(r[_phase_idx(d, "test_B")[0]])
                                     - float(r[_phase_idx(d, "test_BX")[0]]))
    li = [float(np.mean(resp[g][_phase_idx(designs[g], "acquisition")]
                        [: max(1, len(_phase_idx(designs[g], "acquisition")) // 2)]))
          for g in ("latent_inhibition_control", "latent_inhibition")]
    out["latent_inhibition"] = li[0] - li[1]
    return out


def run_spiking(protos: dict[str, Protocol], animals: int, params, seed: int = 0
                ) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
    """Mean response per trial of each group (all groups and animals in one batch); each
    animal draws its own shuffled order."""
    from .circuit import Circuit, run_schedule

    names = list(protos)
    designs_all = []
    for g in names:
        designs_all += [protos[g].design(seed=seed * 100_003 + a) for a in range(animals)]
    c = Circuit(params, len(protos[names[0]].stimuli), batch=len(designs_all), seed=seed)
    resp = run_schedule(c, designs_all)["response"].numpy() / params.ref_count
    out = {}
    for k, g in enumerate(names):
        n = len(designs_all[k * animals]["outcome"])
        out[g] = resp[k * animals:(k + 1) * animals, :n].mean(0)
    # effects() reads phases only, which are the same for every animal of a group
    return out, {g: designs_all[k * animals] for k, g in enumerate(names)}


def run_rw(protos: dict[str, Protocol], alpha: float = 0.2, seed: int = 0
           ) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
    """Rescorla–Wagner prediction ``V`` per trial of each group (its 'response')."""
    from .baselines import rescorla_wagner

    out, designs = {}, {}
    for g, p in protos.items():
        d = p.design(seed=seed * 100_003)
        V, _ = rescorla_wagner(d["cues"], d["outcome"], alpha=alpha, learn=~d["test"])
        out[g], designs[g] = V, d
    return out, designs
