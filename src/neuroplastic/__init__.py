"""neuroplastic: brain-inspired learning — spiking neurons on analog and digital substrates,
event-driven simulation, local plasticity, surrogate gradients and energy accounting."""

__version__ = "0.1.0"
