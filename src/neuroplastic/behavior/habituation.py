"""Habituation (Rankin et al. 2009) as a protocol, run on the spiking circuit and on Staddon–Higa.

The protocol (:func:`habituation_protocol`), for one stimulation rate: a first series of
``n`` stimuli S1 every ``isi_s``; a rest of ``rest_s``; a second series; then a probe of a novel
stimulus S2 (stimulus specificity), one more S1 (the habituated level), a noxious event
(``modulator`` release, no stimulus) and a last S1 (dishabituation). Running it at a high and at
a low rate gives every curve :func:`signatures` needs; each of Rankin et al.'s properties is
decided from those curves by the rule written in :data:`SIGNATURE_RULES`.
"""

from __future__ import annotations

import numpy as np

from .protocol import Phase, Protocol, Trial

__all__ = ["SIGNATURES", "SIGNATURE_RULES", "habituation_protocol", "run_spiking",
           "run_staddon_higa", "signatures", "split_curves"]

SIGNATURES = ("decrement", "spontaneous_recovery", "faster_rehabituation", "rate_sensitivity",
              "stimulus_specificity", "dishabituation")
SIGNATURE_RULES = {
    "decrement": "high rate: mean of the last 3 responses of series 1 < 50 % of the first",
    "spontaneous_recovery": "first response of series 2 regains >= 20 % of series 1's decrement",
    "faster_rehabituation": "series 2 reaches 50 % of the initial response in fewer stimuli "
                            "than series 1 (high rate)",
    "rate_sensitivity": "relative decrement larger at the high rate AND the relative "
                        "spontaneous recovery larger after the high rate",
    "stimulus_specificity": "novel S2 regains >= 50 % of the decrement of S1",
    "dishabituation": "S1 after the noxious event regains >= 20 % of the decrement",
}


def habituation_protocol(isi_s: float, n: int, rest_s: float, shock: float = 1.0) -> Protocol:
    """Series 1, rest, series 2, novel S2, S1, noxious event, S1 (see module docstring)."""
    s1 = Trial(("S1",), duration_s=0.04, iti_s=isi_s - 0.04)
    return Protocol(stimuli=("S1", "S2"), phases=(
        Phase("series1", (s1,), repeats=n),
        Phase("series2", (s1,), repeats=n, gap_s=rest_s - isi_s),
        Phase("novel", (Trial(("S2",), duration_s=0.04, iti_s=isi_s - 0.04),)),
        Phase("pre_shock", (s1,)),
        Phase("shock", (Trial((), duration_s=0.04, iti_s=isi_s - 0.04, modulator=shock),)),
        Phase("post_shock", (s1,)),
    ))


def split_curves(resp: np.ndarray, n: int) -> dict[str, np.ndarray | float]:
    """Cut one response sequence of :func:`habituation_protocol` into its parts."""
    r = np.asarray(resp, dtype=np.float64)
    return {"series1": r[:n], "series2": r[n:2 * n], "novel": float(r[2 * n]),
            "pre_shock": float(r[2 * n + 1]), "post_shock": float(r[2 * n + 3])}


def _trials_to(curve: np.ndarray, level: float) -> int:
    below = np.nonzero(curve <= level)[0]
    return int(below[0]) + 1 if below.size else len(curve) + 1


def signatures(high: dict, low: dict) -> dict[str, bool]:
    """Rankin et al.'s properties shown by the curves of a high-rate and a low-rate run
    (:func:`split_curves` dicts); the rules are :data:`SIGNATURE_RULES`."""
    s1, s2 = high["series1"], high["series2"]
    first, last = float(s1[0]), float(np.mean(s1[-3:]))
    dec = first - last
    out = {"decrement": last < 0.5 * first}
    out["spontaneous_recovery"] = bool(dec > 0 and s2[0] - s1[-1] >= 0.2 * dec)
    out["faster_rehabituation"] = _trials_to(s2, 0.5 * first) < _trials_to(s1, 0.5 * first)

    def rel(c):
        a, b = float(c["series1"][0]), float(np.mean(c["series1"][-3:]))
        d = a - b
        recov = (float(c["series2"][0]) - float(c["series1"][-1])) / d if d > 0 else 0.0
        return (d / a if a > 0 else 0.0), recov

    (dh, rh), (dl, rl) = rel(high), rel(low)
    out["rate_sensitivity"] = bool(dh > dl and rh > rl)
    hab = float(high["pre_shock"])
    d2 = first - hab
    out["stimulus_specificity"] = bool(d2 > 0 and high["novel"] - hab >= 0.5 * d2)
    out["dishabituation"] = bool(d2 > 0 and high["post_shock"] - hab >= 0.2 * d2)
    return {k: bool(out[k]) for k in SIGNATURES}


def run_spiking(isis: tuple[float, ...], n: int, rest_s: float, animals: int, params,
                shock: float = 1.0, seed: int = 0) -> dict[float, np.ndarray]:
    """Mean response per trial of ``animals`` spiking circuits at each inter-stimulus interval
    (all rates in one batch)."""
    from .circuit import Circuit, run_schedule

    designs = []
    for isi in isis:
        d = habituation_protocol(isi, n, rest_s, shock).design()
        designs += [d] * animals
    c = Circuit(params, 2, batch=len(designs), seed=seed)
    resp = run_schedule(c, designs)["response"].numpy()
    return {isi: resp[k * animals:(k + 1) * animals].mean(0) for k, isi in enumerate(isis)}


def run_staddon_higa(isi_s: float, n: int, rest_s: float, params=None) -> np.ndarray:
    """Response per trial of :func:`~neuroplastic.behavior.baselines.staddon_higa` (one cascade
    per stimulus; the model has no route for a noxious event, so it cannot dishabituate)."""
    from .baselines import StaddonHigaParams, staddon_higa

    p = StaddonHigaParams() if params is None else params
    sched = habituation_protocol(isi_s, n, rest_s).schedule()
    steps = [round(st.onset_s / p.dt_s) for st in sched]
    T = steps[-1] + 1
    out = np.zeros(len(sched))
    for name in ("S1", "S2"):
        s = np.zeros(T)
        idx = [k for k, st in enumerate(sched) if name in st.trial.stimuli]
        s[[steps[k] for k in idx]] = 1.0
        r = staddon_higa(s, p)
        out[idx] = r[[steps[k] for k in idx]]
    return out
