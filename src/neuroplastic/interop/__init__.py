"""Interoperability: NIR (Neuromorphic Intermediate Representation) export and import.

``nir`` is optional; it is imported only when a function here is called
(``pip install nir``).
"""

from .nir import from_nir, read_nir, require_nir, to_nir, write_nir

__all__ = ["from_nir", "read_nir", "require_nir", "to_nir", "write_nir"]
