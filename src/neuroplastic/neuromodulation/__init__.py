"""Neuromodulator signals: global (broadcast) and spatial (volume-transmitted) modulators."""

from .signals import (
    SPATIAL_KERNELS,
    DopamineParams,
    SpatialParams,
    diffusion_green,
    dopamine_at,
    dopamine_decay,
    dopamine_step,
    pulse_integral,
    reward_prediction_error,
    spatial_kernel,
    td_error,
    update_expectation,
    volume_transmission,
)

__all__ = [
    "SPATIAL_KERNELS",
    "DopamineParams",
    "SpatialParams",
    "diffusion_green",
    "dopamine_at",
    "dopamine_decay",
    "dopamine_step",
    "pulse_integral",
    "reward_prediction_error",
    "spatial_kernel",
    "td_error",
    "update_expectation",
    "volume_transmission",
]
