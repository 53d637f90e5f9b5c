"""Training-crop augmentation shared by the SR backends."""

from __future__ import annotations

import numpy as np


def dihedral(img: np.ndarray, k: int) -> np.ndarray:
    """One of the 8 rotations/flips of ``img`` (HxW[xC]), ``k`` in 0..7; a view, not a copy."""
    out = np.rot90(img, k % 4)
    return out[:, ::-1] if k >= 4 else out
