"""Shape of a kernel from its second moments, and how well an estimate's shape agrees with the truth.

Mean kernel PSNR rewards an average-looking kernel; these measures ask whether the estimate has *this*
kernel's size, elongation and direction. Negative taps (e.g. bicubic lobes) are clipped first, as
``kernels.kernel_psnr`` does when it centres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ANISOTROPIC = 1.5  # eigenvalue ratio from which a kernel counts as clearly anisotropic (orientation defined)


@dataclass(frozen=True)
class KernelShape:
    """size: trace of the covariance (px², HR grid); anisotropy: major/minor eigenvalue ratio (>= 1);
    orientation: direction of the major axis in degrees [0, 180), measured from the column (x) axis towards
    the row (y) axis."""

    size: float
    anisotropy: float
    orientation: float


def covariance(k: np.ndarray) -> np.ndarray:
    """2x2 covariance (row, col) of the kernel's mass, negatives clipped."""
    k = np.clip(np.asarray(k, dtype=np.float64), 0, None)
    k = k / k.sum()
    ys, xs = np.indices(k.shape)
    my, mx = (k * ys).sum(), (k * xs).sum()
    dy, dx = ys - my, xs - mx
    return np.array([[(k * dy * dy).sum(), (k * dy * dx).sum()], [(k * dy * dx).sum(), (k * dx * dx).sum()]])


def kernel_shape(k: np.ndarray) -> KernelShape:
    cov = covariance(k)
    vals, vecs = np.linalg.eigh(cov)  # ascending
    minor, major = max(vals[0], 1e-12), max(vals[1], 1e-12)
    vy, vx = vecs[:, 1]
    return KernelShape(float(cov[0, 0] + cov[1, 1]), float(major / minor), float(np.degrees(np.arctan2(vy, vx)) % 180.0))


MIN_SIZE = 1e-3  # px²: sizes are floored here before logs (a 1x1 or delta kernel has size 0)


def size_error(estimate: np.ndarray, truth: np.ndarray) -> float:
    """log(size of estimate / size of truth), sizes floored at ``MIN_SIZE`` (finite for a delta kernel): 0 when
    equal, > 0 when the estimate is too wide."""
    return float(np.log(max(kernel_shape(estimate).size, MIN_SIZE) / max(kernel_shape(truth).size, MIN_SIZE)))


def orientation_error(estimate: np.ndarray, truth: np.ndarray) -> float | None:
    """Angle (degrees, 0-90) between the major axes, or None when the truth is not clearly anisotropic."""
    t = kernel_shape(truth)
    if t.anisotropy < ANISOTROPIC:
        return None
    diff = abs(kernel_shape(estimate).orientation - t.orientation) % 180.0
    return float(min(diff, 180.0 - diff))


def pearson(a: list[float] | np.ndarray, b: list[float] | np.ndarray) -> float | None:
    """Pearson correlation of two equally long sequences; None with fewer than 3 pairs or no spread."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.size < 3 or a.std() <= 1e-9 * (1 + abs(a.mean())) or b.std() <= 1e-9 * (1 + abs(b.mean())):
        return None
    return float(np.corrcoef(a, b)[0, 1])
