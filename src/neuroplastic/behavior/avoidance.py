r"""The avoidance trap and exposure therapy: two-factor theory on a spiking fear circuit.

Factor 1 (Pavlovian fear): the feared place ("supermarket", a stimulus of the protocol) drives
the spiking circuit of :mod:`neuroplastic.behavior.circuit`; its response, read out as
:math:`V` (1 = the asymptote a shock supports), is the fear. The circuit learns only when the
animal stays in the place until the moment the shock is due: that is when a prediction error
exists. Factor 2 (instrumental escape): a :class:`neuroplastic.agents.BasalGangliaAgent` chooses
on each visit between *staying* and *escaping*. Staying costs the shock while shocks are on;
escaping removes the feared stimulus, and the **fear reduction is the reward** (Mowrer 1947; the
actor–critic account of Maia 2010). Once avoidance is reliable the fear is never tested against
the absence of shocks, so it is not extinguished and keeps reinforcing avoidance — avoidance
persists after the last shock (Solomon, Kamin & Wynne 1953). Exposure with response
prevention forces the animal to stay: the expected shock does not come, the negative prediction
error builds context-gated extinction memory, fear falls, escape no longer relieves anything
and avoidance extinguishes. Extinction memory is context-bound and fades, so fear returns in
another context (renewal) and after a delay (spontaneous recovery).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_int, check_nonnegative

__all__ = ["AvoidanceSchedule", "FearCode", "run_avoidance"]

STAY, ESCAPE = 0, 1


@dataclass(frozen=True)
class AvoidanceSchedule:
    """Trial counts of the phases (visits to the feared place)."""

    shock: int = 30  # visits with a shock if the animal stays
    no_shock: int = 30  # visits after the last shock (avoidance free to persist)
    exposure: int = 20  # exposure with response prevention (no shock)
    test: int = 20  # visits after exposure (free choice, no shock)
    iti_s: float = 120.0  # between visits (s)
    retention_s: float = 7 * 86_400.0  # before the spontaneous-recovery probe (s)

    def __post_init__(self) -> None:
        for name in ("shock", "no_shock", "exposure", "test"):
            check_int(name, getattr(self, name), 1, 1_000_000)
        check_nonnegative("iti_s", self.iti_s)
        check_nonnegative("retention_s", self.retention_s)


class FearCode:
    """Encoder of a visit for the actor: the fear felt on arrival, so the learned escape
    tendency is "escape when afraid" (fear as the drive and cue of avoidance, Mowrer 1947).
    Without fear both actions have equal preference (chance)."""

    size = 1

    def __call__(self, obs) -> np.ndarray:
        return np.array([float(np.asarray(obs).reshape(-1)[0])])


def run_avoidance(circuit_params, agent_params, schedule: AvoidanceSchedule, animals: int,
                  seed: int = 0, exposure: bool = True, escape_cost: float = 0.05
                  ) -> dict[str, np.ndarray | float]:
    """Run ``animals`` animals through the phases; returns per-visit mean fear and escape rate
    (``fear``, ``escape``, ``phase``) and the probes (``fear_renewal``,
    ``fear_spontaneous_recovery``). ``exposure=False`` replaces exposure by more free visits
    without shocks (the untreated trap).

    Rewards of the actor: a successful escape earns the fear it removes minus
    ``escape_cost``; staying earns ``-1`` when a shock comes, else 0. Under response
    prevention the animal still chooses, but an escape attempt is blocked: it stays (and the
    circuit learns), and the attempt earns nothing — no relief."""
    import dataclasses

    import torch
    from gymnasium import spaces

    from ..agents import BasalGangliaAgent
    from .circuit import Circuit, one_thread

    s = schedule
    circ = Circuit(circuit_params, 1, n_contexts=2, batch=animals, seed=seed)
    agents = [BasalGangliaAgent(spaces.Box(0.0, 10.0, (1,)), spaces.Discrete(2), FearCode(),
                                dataclasses.replace(agent_params, seed=seed * 10_007 + a))
              for a in range(animals)]
    present = torch.ones(animals, 1, dtype=torch.float64)
    ctx_a = torch.zeros(animals, dtype=torch.long)
    fear_log, esc_log, phase_log = [], [], []

    def visit(shock_on: bool, forced: bool, phase: str) -> None:
        acts = np.zeros(animals, dtype=np.int64)

        def decide(fear_now):
            for a, ag in enumerate(agents):
                acts[a] = ag.act(np.array([float(fear_now[a])]))
            return torch.as_tensor(~((acts == ESCAPE) & (not forced)))

        outcome = torch.full((animals,), 1.0 if shock_on else 0.0, dtype=torch.float64)
        resp, _ = circ.trial(present, ctx_a, outcome, s.iti_s, learn=decide)
        escaped = (acts == ESCAPE) & (not forced)
        fear = (resp / circuit_params.ref_count).numpy()
        for a, ag in enumerate(agents):
            if escaped[a]:
                r = float(fear[a]) - escape_cost
            else:
                r = -1.0 if shock_on else 0.0
            ag.observe(r, np.array([0.0]), True)
        fear_log.append(float(fear.mean()))
        esc_log.append(float((acts == ESCAPE).mean()))
        phase_log.append(phase)

    def probe(context: int, gap_s: float) -> float:
        ctx = torch.full((animals,), context, dtype=torch.long)
        resp, _ = circ.trial(present, ctx, None, gap_s, learn=False)
        return float((resp / circuit_params.ref_count).mean())

    with one_thread():
        for _ in range(s.shock):
            visit(True, False, "shock")
        for _ in range(s.no_shock):
            visit(False, False, "no_shock")
        for _ in range(s.exposure):
            visit(False, exposure, "exposure" if exposure else "no_shock")
        for _ in range(s.test):
            visit(False, False, "test")
        renewal = probe(1, s.iti_s)
        recovery = probe(0, s.retention_s)
    return {"fear": np.array(fear_log), "escape": np.array(esc_log), "phase": phase_log,
            "fear_renewal": renewal, "fear_spontaneous_recovery": recovery}
