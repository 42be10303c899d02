r"""The duet: the basal ganglia choose a coarse action, the cerebellum refines its execution.

A baby learning to walk uses both loops (issue 14): the **basal ganglia**
(:class:`~neuroplastic.agents.BasalGangliaAgent`) learn *what to do* from reward — here they
choose one of a few coarse motor commands (``levels``, a noisy winner-take-all of action
channels) with dopamine-gated eligibility traces — and the **cerebellum**
(:class:`~neuroplastic.agents.AdaptiveController`) learns *how to do it*: in the context of
the current state (mossy fibres: a population code of the observation) it adds a continuous
correction to the chosen command,

.. math:: u = \mathrm{clip}\big(\ell_{a} + c(s)\big),

and its parallel-fibre synapses learn from a **climbing-fibre error** computed from a sensory
error of the state that followed (a linear read-out of the observation, e.g. the pole's tilt
and tilt rate — the deviation from upright that a reflex would push against):
:math:`e = K\,o_{t+1}`, credited to the parallel fibres active when the command was issued
(Ito LTD/LTP, :meth:`~neuroplastic.agents.Cerebellum.learn`). Learning stops when the sensory
error vanishes, so the cerebellum absorbs a change of the body (added mass, weaker actuator)
without waiting for a reward. No gradient flows between the two: each learns with its own
local rule and its own broadcast signal (dopamine, climbing fibres).

``cerebellum=None`` is the basal ganglia alone, in the same harness.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .basal_ganglia import BasalGangliaAgent
from .cerebellum import AdaptiveController

__all__ = ["DuetAgent", "coarse_levels"]


def coarse_levels(low: float, high: float, n: int) -> np.ndarray:
    """``n`` commands evenly spread over ``[low, high]`` (the basal ganglia's menu)."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 2:
        raise ValueError(f"n_levels must be an integer >= 2, got {n!r}")
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(f"need finite low < high, got {low!r}, {high!r}")
    return np.linspace(float(low), float(high), n)


class DuetAgent:
    """Basal ganglia (coarse choice) + cerebellum (continuous correction) on a 1-D ``Box``
    action.

    Parameters
    ----------
    bg
        A :class:`BasalGangliaAgent` with a ``Discrete(len(levels))`` action space.
    levels
        The command of each BG action (action units).
    low, high
        Bounds of the environment's action (the sum is clipped to them).
    cerebellum
        An :class:`AdaptiveController` with one output, or ``None`` (BG alone).
    mossy
        Callable ``obs -> rates`` (the cerebellum's mossy-fibre context); needed with a
        cerebellum.
    error_gain
        Climbing-fibre read-out :math:`K` (one weight per observation dimension, action
        units per observation unit): the CF error is ``error_gain @ next_obs``.
    """

    def __init__(self, bg: BasalGangliaAgent, levels, low: float, high: float,
                 cerebellum: AdaptiveController | None = None, mossy=None,
                 error_gain=None) -> None:
        if not isinstance(bg, BasalGangliaAgent) or not bg.discrete:
            raise ValueError("bg must be a BasalGangliaAgent with a Discrete action space")
        self.levels = np.asarray(levels, dtype=np.float64).reshape(-1)
        if self.levels.size != bg.n_actions:
            raise ValueError(f"levels has {self.levels.size} commands, the basal ganglia "
                             f"have {bg.n_actions} actions")
        self.low, self.high = float(low), float(high)
        self.bg, self.cb = bg, cerebellum
        if cerebellum is not None:
            if not isinstance(cerebellum, AdaptiveController):
                raise ValueError("cerebellum must be an AdaptiveController or None")
            if cerebellum.cb.params.n_out != 1:
                raise ValueError("the cerebellum must have one output (a 1-D action)")
            if mossy is None or error_gain is None:
                raise ValueError("a cerebellum needs mossy (encoder) and error_gain")
            self.error_gain = np.asarray(error_gain, dtype=np.float64).reshape(-1)
            if not np.all(np.isfinite(self.error_gain)):
                raise ValueError("error_gain must be finite")
        self.mossy = mossy
        self.last_correction = 0.0
        self.last_error = 0.0

    def act(self, obs) -> np.ndarray:
        """The BG choose a level; the cerebellum adds its correction in this context."""
        u = float(self.levels[self.bg.act(obs) - self.bg._start])
        if self.cb is not None:
            self.last_correction = float(self.cb.correction(self.mossy(obs))[0])
            u += self.last_correction
        return np.array([min(max(u, self.low), self.high)], dtype=np.float32)

    def sensory_error(self, obs) -> float:
        """Climbing-fibre error of observation ``obs`` (``error_gain @ obs``)."""
        return float(self.error_gain @ np.asarray(obs, dtype=np.float64).reshape(-1))

    def observe(self, reward: float, next_obs, terminated: bool, truncated: bool = False
                ) -> float:
        """Dopamine for the BG, the climbing-fibre error for the cerebellum; returns δ."""
        if self.cb is not None:
            self.last_error = self.sensory_error(next_obs)
            self.cb.update(np.array([self.last_error]))
        return self.bg.observe(reward, next_obs, terminated, truncated)

    # -- checkpoints -------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        out = {f"bg.{k}": v for k, v in self.bg.state_dict().items()}
        out["duet.scalars"] = np.array([self.last_correction, self.last_error])
        if self.cb is not None:
            out.update({f"cb.{k}": v for k, v in self.cb.cb.state_dict().items()})
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        def sub(prefix):
            return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}

        self.bg.load_state_dict(sub("bg."))
        if self.cb is not None:
            self.cb.cb.load_state_dict(sub("cb."))
        if "duet.scalars" not in state:
            raise ValueError("state_dict has no 'duet.scalars'")
        v = state["duet.scalars"]
        v = np.asarray(v.numpy() if hasattr(v, "numpy") else v, dtype=np.float64)
        self.last_correction, self.last_error = (float(x) for x in v)
