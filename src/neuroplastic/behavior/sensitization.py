"""Sensitization of an Aplysia-like withdrawal reflex by a serotonin-like modulator.

Siphon (S1) and mantle (S2) sensory pools drive the motor neurons of the spiking circuit
(:mod:`neuroplastic.behavior.circuit`). A tail shock releases the broadcast modulator, which
facilitates every sensory→motor synapse presynaptically (Kandel 2001): the withdrawal to
*both* stimuli grows for as long as the modulator lasts (short-term sensitization, Pinsker et
al. 1973); repeated shocks drive the modulator over the threshold that builds a long-lasting
facilitation (long-term sensitization after spaced trains, Frost et al. 1985).
"""

from __future__ import annotations

import numpy as np

from .protocol import Phase, Protocol, Trial

__all__ = ["TEST_TIMES_MIN", "run_sensitization", "sensitization_protocol"]

TEST_TIMES_MIN = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 1440.0)  # after the (last) shock


def sensitization_protocol(n_shocks: int, shock_iti_s: float = 30.0,
                           test_times_min: tuple[float, ...] = TEST_TIMES_MIN) -> Protocol:
    """Baseline tests of S1 and S2, ``n_shocks`` tail shocks (0: control), then S1 and S2
    tests at ``test_times_min`` after the last shock."""
    def test(stim, iti):
        return Trial((stim,), duration_s=0.04, iti_s=iti, test=True)

    phases = [Phase("baseline", (test("S1", 5.0), test("S2", 600.0)), 2)]
    shock = Trial((), duration_s=0.04, iti_s=shock_iti_s, modulator=1.0 if n_shocks else 0.0)
    phases.append(Phase("shock", (shock,), max(1, n_shocks)))
    t_prev = 0.0
    for k, t in enumerate(test_times_min):
        # the S1 probe comes (t - t_prev) min after the previous probe pair
        gap = t * 60.0 - t_prev - (shock_iti_s if k == 0 else 5.0)
        phases.append(Phase(f"t{t:g}", (test("S1", 5.0), test("S2", 0.0)),
                            gap_s=max(0.0, gap)))
        t_prev = t * 60.0
    return Protocol(("S1", "S2"), tuple(phases))


def run_sensitization(shocks: tuple[int, ...], animals: int, params, seed: int = 0
                      ) -> dict[int, dict[str, np.ndarray]]:
    """Mean S1 and S2 responses of each group at baseline (first two) and at every test time,
    normalised by the group's baseline response."""
    from .circuit import Circuit, run_schedule

    designs = []
    for n in shocks:
        designs += [sensitization_protocol(n).design()] * animals
    c = Circuit(params, 2, batch=len(designs), seed=seed)
    resp = run_schedule(c, designs)["response"].numpy()
    out = {}
    for k, n in enumerate(shocks):
        d = designs[k * animals]
        r = resp[k * animals:(k + 1) * animals, :len(d["outcome"])].mean(0)
        ph = np.array(d["phase"])
        s1 = d["cues"][:, 0] > 0
        s2 = d["cues"][:, 1] > 0
        base = ph == "baseline"
        b1, b2 = r[base & s1].mean(), r[base & s2].mean()
        post = (ph != "baseline") & (ph != "shock")
        out[n] = {"S1": r[post & s1] / max(b1, 1e-9), "S2": r[post & s2] / max(b2, 1e-9),
                  "baseline_S1": float(b1)}
    return out
