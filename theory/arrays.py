"""Numbers in, float64 arrays out: the conversion of array-likes that the hull geometry and the
NTK Gram matrix share (theory.geometry, theory.ntk).

Numpy arrays, nested sequences and CPU torch tensors (converted without importing torch) are
accepted; a non-numeric input or a NaN or infinite entry is a ValueError naming the parameter.
"""

from __future__ import annotations

import numpy as np

__all__ = ["as_float_array"]


def as_float_array(x, name: str) -> np.ndarray:
    """``x`` as a float64 numpy array (any shape), every entry finite; ``name`` is the
    parameter named in the ValueError for a non-numeric input or a NaN or infinite entry."""
    if hasattr(x, "detach"):  # a torch tensor; converted without importing torch
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array, got {type(x).__name__}") from exc
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr
