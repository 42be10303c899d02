"""Neuron models: frozen parameters, pure step functions, thin modules."""

from .lif import (
    Analog,
    Digital,
    LIFCoefficients,
    LIFParams,
    LIFPopulation,
    LIFState,
    Substrate,
    init_lif_state,
    lif_step,
    quantize,
    realize_lif,
    receive_synaptic,
)

__all__ = [
    "Analog",
    "Digital",
    "LIFCoefficients",
    "LIFParams",
    "LIFPopulation",
    "LIFState",
    "Substrate",
    "init_lif_state",
    "lif_step",
    "quantize",
    "realize_lif",
    "receive_synaptic",
]
