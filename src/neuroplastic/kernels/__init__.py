"""Hot loops: a compiled (numba) event-driven network loop and the plain torch reference.

Both implement the same arithmetic operation by operation and are tested to agree bit for bit.
"""
