"""Local plasticity: Hebb, Oja, Sanger's PCA, STDP and its drift theory."""

from .hebbian import HebbParams, hebb_step, oja_step, sanger_step
from .pca import OjaPCA, SangerPCA

__all__ = ["HebbParams", "OjaPCA", "SangerPCA", "hebb_step", "oja_step", "sanger_step"]
