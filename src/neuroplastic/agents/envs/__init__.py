"""Gymnasium environments of the agents, registered under the ``neuroplastic/`` namespace.

========================================  ==================================================
``neuroplastic/OperantChamber-v0``        lever press, pellet after a delay (:mod:`.operant`)
``neuroplastic/Eyeblink-v0``              CS-US eyeblink conditioning (:mod:`.eyeblink`)
``neuroplastic/CurlFieldReach-v0``        two-joint arm in a curl force field (:mod:`.reaching`)
========================================  ==================================================

``gymnasium.make("neuroplastic/OperantChamber-v0", delay_s=30.0)`` works once this package
is imported (importing :mod:`neuroplastic.agents` does it).
"""

from __future__ import annotations

import gymnasium as gym

from .eyeblink import EyeblinkEnv
from .operant import OperantChamberEnv
from .reaching import CurlFieldReachEnv

__all__ = ["ENV_IDS", "CurlFieldReachEnv", "EyeblinkEnv", "OperantChamberEnv", "register_all"]

ENV_IDS = {
    "neuroplastic/OperantChamber-v0": "neuroplastic.agents.envs.operant:OperantChamberEnv",
    "neuroplastic/Eyeblink-v0": "neuroplastic.agents.envs.eyeblink:EyeblinkEnv",
    "neuroplastic/CurlFieldReach-v0": "neuroplastic.agents.envs.reaching:CurlFieldReachEnv",
}


def register_all() -> None:
    """Register the environments with Gymnasium (idempotent)."""
    for env_id, entry in ENV_IDS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry, disable_env_checker=False)


register_all()
