"""Complete published models built from the library's parts."""

from .diehl_cook import (
    DiehlCook,
    DiehlCookCoefficients,
    DiehlCookParams,
    PresentResult,
    assign_labels,
    coefficients,
    draw_input_spikes,
    present_reference,
    vote,
)

__all__ = [
    "DiehlCook",
    "DiehlCookCoefficients",
    "DiehlCookParams",
    "PresentResult",
    "assign_labels",
    "coefficients",
    "draw_input_spikes",
    "present_reference",
    "vote",
]
