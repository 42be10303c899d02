"""Agents that act in environments and learn with local rules only (no backpropagation).

* :mod:`.encoders` — population / place-cell codes and the microstimulus temporal code;
* :mod:`.basal_ganglia` — actor-critic: TD error broadcast as dopamine, eligibility × δ;
* :mod:`.cerebellum` — Marr–Albus–Ito microcircuit: forward model, adaptive controller,
  two-rate (fast/slow) adaptation;
* :mod:`.envs` — Gymnasium environments (operant chamber, eyeblink, curl-field reaching).
"""

from __future__ import annotations

from . import envs
from .basal_ganglia import ActorCriticParams, BasalGangliaAgent
from .cerebellum import AdaptiveController, Cerebellum, CerebellumParams, ForwardModel
from .encoders import MicrostimulusCode, PlaceCells, PopulationCode

__all__ = ["ActorCriticParams", "AdaptiveController", "BasalGangliaAgent", "Cerebellum",
           "CerebellumParams", "ForwardModel", "MicrostimulusCode", "PlaceCells",
           "PopulationCode", "envs"]
