"""Kernel maths: pure functions on 2-D float arrays (rows = y, columns = x).

Conventions (docs/ARCHITECTURE.md, Conventions): blur is a *correlation* with ``k`` followed by keeping every ``s``-th pixel from
index 0. Kernels have odd sizes; a kernel is *centred* for scale ``s`` when its centre of mass sits at
``size//2 + (s - 1)/2`` in each axis, so that a plain bicubic upscale of the LR image is aligned with the HR.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, optimize, signal

from .kernel_shape import covariance
from .metrics import psnr_from_mse


def centre_of_mass(k: np.ndarray) -> np.ndarray:
    """Centre of mass (row, col) of a non-negative kernel, in pixel indices."""
    k = np.asarray(k, dtype=np.float64)
    ys, xs = np.indices(k.shape)
    total = k.sum()
    return np.array([(k * ys).sum() / total, (k * xs).sum() / total])


def wanted_centre(size: int, scale: int) -> float:
    """Where the centre of mass of a centred odd-sized kernel sits for ``scale`` (docs/ARCHITECTURE.md, Conventions)."""
    return size // 2 + 0.5 * (scale - size % 2)


def normalise(k: np.ndarray) -> np.ndarray:
    """Scale ``k`` to sum to 1."""
    return k / k.sum()


def make_odd(k: np.ndarray) -> np.ndarray:
    """Zero-pad an even-sized axis by one row/column at its end, so both sizes are odd."""
    pad = [(0, 1 - n % 2) for n in k.shape]
    return np.pad(k, pad) if any(p[1] for p in pad) else k


def fit_size(k: np.ndarray, size: int) -> np.ndarray:
    """Crop or zero-pad an odd-sized kernel to ``size x size`` around its central pixel (``size`` odd)."""
    out = np.zeros((size, size), dtype=np.float64)
    h, w = k.shape
    c_out, ch, cw = size // 2, h // 2, w // 2
    r = min(c_out, ch), min(c_out, h - 1 - ch)
    c = min(c_out, cw), min(c_out, w - 1 - cw)
    out[c_out - r[0]:c_out + r[1] + 1, c_out - c[0]:c_out + c[1] + 1] = k[ch - r[0]:ch + r[1] + 1, cw - c[0]:cw + c[1] + 1]
    return out


def centre_kernel(k: np.ndarray, scale: int, keep_negative: bool = False) -> np.ndarray:
    """Shift ``k`` (sub-pixel, cubic spline) so its centre of mass is at the convention for ``scale``.

    The kernel keeps its (odd) size; mass pushed past the rim is dropped, negatives clipped (unless
    ``keep_negative``: a kernel with negative lobes, such as the bicubic one, keeps them), the result
    renormalised. A global shift cannot be identified from one image, so every estimate is centred this way.
    """
    k = np.asarray(k, dtype=np.float64)
    k = make_odd(k if keep_negative else np.clip(k, 0, None))
    size = k.shape[0]
    if k.shape[0] != k.shape[1]:
        k = fit_size(k, max(k.shape))
        size = k.shape[0]
    shift = wanted_centre(size, scale) - centre_of_mass(k)
    pad = int(np.ceil(np.abs(shift).max())) + 1
    big = fit_size(ndimage.shift(np.pad(k, pad), shift, order=3, mode="constant"), size)
    return normalise(big if keep_negative else np.clip(big, 0, None))


def turned(k: np.ndarray, scale: int = 2) -> np.ndarray:
    """``k`` (odd-sized) turned by 180 degrees about the centre the convention wants for ``scale``: flipped both
    ways, then moved ``scale - 1`` whole pixels down and right (the flip takes that centre to ``scale - 1`` pixels
    above and left of it), the rim moved out dropped and the rest renormalised. Its power spectrum is ``k``'s: an
    estimator that reads only power spectra cannot tell the two apart."""
    k = np.asarray(k, dtype=np.float64)
    if k.shape[0] % 2 == 0 or k.shape[0] != k.shape[1]:
        raise ValueError(f"turned() needs a square odd-sized kernel, got {k.shape}")
    step = scale - 1
    out = np.zeros_like(k)
    out[step:, step:] = k[::-1, ::-1][: k.shape[0] - step, : k.shape[1] - step]
    return normalise(out)


def symmetrised(k: np.ndarray, scale: int = 2) -> np.ndarray:
    """The mean of ``k`` (summing to 1) and its 180-degree turn (``turned``): point-symmetric about the
    convention's centre. What an estimator blind to the turn can at best return for ``k`` (as far from both)."""
    return 0.5 * (np.asarray(k, dtype=np.float64) + turned(k, scale))


def clean_kernel(k: np.ndarray, n: int = 40) -> np.ndarray:
    """Zero values under 0.75x the (n+1)-th largest, clip negatives, renormalise (KernelGAN post-processing)."""
    k = np.asarray(k, dtype=np.float64)
    flat = np.sort(k.ravel())
    threshold = 0.75 * flat[-min(n + 1, flat.size)]
    out = np.where(k < threshold, 0.0, k)
    return normalise(np.clip(out, 0, None))


def trim_rim(k: np.ndarray, rel_tol: float = 1e-4) -> np.ndarray:
    """Drop symmetric outer rings whose values are all below ``rel_tol`` x max; keeps the size odd."""
    k = np.asarray(k, dtype=np.float64)
    limit = rel_tol * k.max()
    while k.shape[0] > 3 and max(np.abs(k[0]).max(), np.abs(k[-1]).max(), np.abs(k[:, 0]).max(), np.abs(k[:, -1]).max()) < limit:
        k = k[1:-1, 1:-1]
    return normalise(k)


def analytic_x4(k2: np.ndarray) -> np.ndarray:
    """The x4 kernel equivalent to blurring+subsampling twice with the x2 kernel ``k2`` (KxK -> (3K-2)x(3K-2)).

    ``k4 = k2 ⋆ (k2 dilated by 2)``: exact, not trimmed. Covariance of a Gaussian grows from C to 5C.
    """
    return normalise(_compose_twice(np.asarray(k2, dtype=np.float64)))


def _compose_twice(k2: np.ndarray) -> np.ndarray:
    """``k2 ⋆ (k2 dilated by 2)`` without renormalising (sums to ``k2.sum()²``)."""
    size = k2.shape[0]
    big = np.zeros((3 * size - 2, 3 * size - 2))
    for r in range(size):
        for c in range(size):
            big[2 * r:2 * r + size, 2 * c:2 * c + size] += k2[r, c] * k2
    return big


def x2_kernel_for_x4(k4: np.ndarray, size: int = 11) -> np.ndarray:
    """The ``size x size`` x2 kernel whose analytic x4 (``analytic_x4``) best matches the x4 kernel ``k4``.

    Least squares over non-negative kernels (L-BFGS-B, exact gradient of the bilinear map), started from the
    Gaussian with a fifth of ``k4``'s covariance. For backends that take x2 kernels when only an x4 kernel is
    known (DIV2KRK's x4 images were not made with the analytic x4 of their x2 kernels).
    """
    k4 = normalise(fit_size(make_odd(np.asarray(k4, dtype=np.float64)), 3 * size - 2))
    var, vec = np.linalg.eigh(covariance(k4) / 5)
    c = wanted_centre(size, 2)
    start = anisotropic_gaussian(size, max(var[1], 0.1), max(var[0], 0.1), np.arctan2(vec[1, 1], vec[0, 1]), (c, c))

    def loss_and_grad(flat: np.ndarray) -> tuple[float, np.ndarray]:
        k = flat.reshape(size, size)
        residual = _compose_twice(k) - k4
        dilated = np.zeros((2 * size - 1, 2 * size - 1))
        dilated[::2, ::2] = k
        grad = (signal.correlate(residual, k, mode="valid")[::2, ::2]
                + signal.correlate(residual, dilated, mode="valid"))
        return float((residual ** 2).sum()), 2 * grad.ravel()

    fit = optimize.minimize(loss_and_grad, start.ravel(), jac=True, method="L-BFGS-B",
                            bounds=[(0, None)] * size * size, options={"maxiter": 500})
    return normalise(fit.x.reshape(size, size))


def mahalanobis_sq(size: int, var1: float, var2: float, theta: float, centre: tuple[float, float]) -> np.ndarray:
    """``size x size`` squared Mahalanobis distances dᵀΣ⁻¹d from ``centre`` (row, col), Σ having principal
    variances ``var1``, ``var2`` with the first axis turned ``theta`` radians from the row axis. The one
    geometry of every Gaussian-like kernel here (DIV2KRK protocol, BSRGAN, Real-ESRGAN)."""
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    inv = np.linalg.inv(rot @ np.diag([var1, var2]) @ rot.T)
    ys, xs = np.indices((size, size), dtype=np.float64)
    d = np.stack([ys - centre[0], xs - centre[1]], axis=-1)
    return np.einsum("...i,ij,...j->...", d, inv, d)


def anisotropic_gaussian(size: int, var1: float, var2: float, theta: float, centre: tuple[float, float]) -> np.ndarray:
    """Normalised Gaussian on a ``size x size`` grid with principal variances ``var1``, ``var2`` rotated by
    ``theta`` radians and mean ``centre`` (row, col)."""
    return normalise(np.exp(-0.5 * mahalanobis_sq(size, var1, var2, theta, centre)))


def random_kernel(rng: np.random.Generator, scale: int = 2, size: int = 11,
                  var_range: tuple[float, float] = (0.6, 5.0), noise: float = 0.25) -> np.ndarray:
    """A random x2 kernel of the DIV2KRK protocol: anisotropic Gaussian, variances U(var_range), random
    rotation, pixel-wise multiplicative noise U(1-noise, 1+noise), centred for ``scale`` and normalised.

    ``var_range=(0.35, 5.0)`` reproduces the published generator's range for x2.
    """
    var1, var2 = rng.uniform(*var_range, size=2)
    theta = rng.uniform(0, np.pi)
    c = wanted_centre(size, scale)
    k = anisotropic_gaussian(size, var1, var2, theta, (c, c))
    k = k * (1 + rng.uniform(-noise, noise, size=k.shape))
    return centre_kernel(normalise(k), scale)


def cubic(x: np.ndarray) -> np.ndarray:
    """MATLAB's bicubic interpolation kernel (a = -0.5)."""
    ax = np.abs(x)
    ax2, ax3 = ax ** 2, ax ** 3
    return ((1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1)
            + (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2)))


def bicubic_kernel(scale: int = 2) -> np.ndarray:
    """The blur kernel of MATLAB's antialiased bicubic downscale by ``scale``, centred, size ``5*scale - 1``.

    Blur-and-subsample with it equals ``imresize(x, 1/scale)`` away from the borders (8x8 taps at x2).
    """
    size = 5 * scale - 1
    offsets = np.arange(4 * scale) + 0.5 - 2 * scale
    taps = cubic(offsets / scale)
    taps = taps / taps.sum()
    start = int(round(size // 2 + (scale - 1) / 2 + offsets[0]))
    line = np.zeros(size)
    line[start:start + taps.size] = taps
    return np.outer(line, line)


def kernel_psnr(estimate: np.ndarray, truth: np.ndarray, scale: int = 2) -> float:
    """Kernel PSNR in dB: 20·log10(1/RMSE) on the true kernel's grid (identical kernels: MAX_PSNR).

    Both kernels are centred to the convention for ``scale``; the estimate is then cropped or zero-padded to
    the true kernel's size around its central pixel and renormalised.
    """
    truth_c = centre_kernel(truth, scale)
    est_c = centre_kernel(estimate, scale)
    est_c = normalise(fit_size(est_c, truth_c.shape[0]))
    return psnr_from_mse(float(np.mean((est_c - truth_c) ** 2)), 1.0)
