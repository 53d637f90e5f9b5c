"""Building blocks of the degradation presets: random kernels, resizing, noise, a camera's colour filter array, JPEG.

Images are float HxWx3 in [0, 1] (values may leave the range between steps; presets clip at the end).
Every function taking ``rng`` draws only from it, so a preset is deterministic for a given generator.
"""

from __future__ import annotations

import io

import imageio.v3 as iio
import numpy as np
import torch
import torch.nn.functional as F
from scipy import special
from scipy.ndimage import convolve

from ..kernels import anisotropic_gaussian, mahalanobis_sq, normalise

RESIZE_MODES = ("area", "bilinear", "bicubic")


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    r = np.arange(size) - size // 2
    return np.meshgrid(r, r, indexing="ij")


def gaussian(size: int, sigma_x: float, sigma_y: float, theta: float) -> np.ndarray:
    """Centred anisotropic Gaussian (standard deviations along its axes, rotated by ``theta``)."""
    c = size // 2
    return anisotropic_gaussian(size, sigma_x ** 2, sigma_y ** 2, theta, (c, c))


def generalized_gaussian(size: int, sigma_x: float, sigma_y: float, theta: float, beta: float,
                         plateau: bool = False) -> np.ndarray:
    """Generalized Gaussian ``exp(-0.5 (xᵀΣ⁻¹x)^β)`` or plateau ``1/(1 + (xᵀΣ⁻¹x)^β)`` kernel (Real-ESRGAN),
    centred, on the same axes as ``gaussian`` (β = 1 without plateau gives exactly ``gaussian``)."""
    c = size // 2
    q = mahalanobis_sq(size, sigma_x ** 2, sigma_y ** 2, theta, (c, c))
    k = 1.0 / (1.0 + q ** beta) if plateau else np.exp(-0.5 * q ** beta)
    return normalise(k)


def sinc(size: int, cutoff: float) -> np.ndarray:
    """Circular low-pass (2-D sinc) kernel with angular cut-off frequency ``cutoff`` (radians per pixel)."""
    ys, xs = _grid(size)
    r = np.hypot(xs, ys)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = cutoff * special.j1(cutoff * r) / (2 * np.pi * r)
    k[size // 2, size // 2] = cutoff ** 2 / (4 * np.pi)
    return normalise(k)


def resize(img: np.ndarray, out_hw: tuple[int, int], mode: str) -> np.ndarray:
    """Resize with ``mode`` in nearest / area / bilinear / bicubic (as torch's ``interpolate``)."""
    t = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None].double()
    kwargs = {} if mode in ("nearest", "area") else {"align_corners": False}
    out = F.interpolate(t, size=out_hw, mode=mode, **kwargs)
    return out[0].numpy().transpose(1, 2, 0)


def gaussian_noise(img: np.ndarray, rng: np.random.Generator, sigma: float, gray: bool) -> np.ndarray:
    """Add N(0, sigma/255) noise, the same on all channels when ``gray``."""
    shape = img.shape[:2] + (1,) if gray else img.shape
    return img + rng.standard_normal(shape) * sigma / 255.0


def poisson_noise(img: np.ndarray, rng: np.random.Generator, scale: float, gray: bool) -> np.ndarray:
    """Add signal-dependent (Poisson) noise of strength ``scale``, on luma only when ``gray``."""
    base = np.clip(img, 0, 1)
    if gray:
        base = base.mean(axis=2, keepdims=True)
    levels = 255.0
    noisy = rng.poisson(base * levels) / levels
    return img + (noisy - base) * scale


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """Encode as JPEG at ``quality`` and decode again (8-bit rounding included)."""
    data = np.clip(np.round(img * 255), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    iio.imwrite(buf, data, extension=".jpg", quality=int(quality))
    return iio.imread(buf.getvalue(), extension=".jpg").astype(np.float64) / 255.0


_GREEN_FILL = np.array([[0, 1, 0], [1, 4, 1], [0, 1, 0]]) / 4.0  # bilinear demosaicing: green at red/blue sites
_RED_BLUE_FILL = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 4.0  # red and blue everywhere from a quarter


def bayer_demosaic(img: np.ndarray) -> np.ndarray:
    """What a camera's colour filter array and the simplest demosaicing make of ``img`` (HxWx3): each pixel keeps
    one channel of an RGGB Bayer pattern (red at even rows and columns, blue at odd ones, green elsewhere), and
    the two missing channels are filled by bilinear interpolation of their neighbours (mirrored at the border,
    which keeps the pattern). A pixel's own measured channel is unchanged."""
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 image, got shape {img.shape}")
    h, w = img.shape[:2]
    rows, cols = np.mgrid[:h, :w]
    masks = [(rows % 2 == 0) & (cols % 2 == 0), (rows + cols) % 2 == 1, (rows % 2 == 1) & (cols % 2 == 1)]
    out = np.empty(img.shape, dtype=np.float64)
    for c, (mask, fill) in enumerate(zip(masks, (_RED_BLUE_FILL, _GREEN_FILL, _RED_BLUE_FILL), strict=True)):
        out[..., c] = convolve(np.where(mask, img[..., c], 0.0), fill, mode="mirror")
    return out
