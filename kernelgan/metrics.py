"""Image quality on the Y channel as the SR literature computes it (MATLAB rgb2ycbcr, border shaved)."""

from __future__ import annotations

import numpy as np
from scipy import signal


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """Luma of MATLAB's ``rgb2ycbcr`` (BT.601, studio swing) for HxWx3 in [0, 1]; returns HxW in [16, 235]."""
    img = np.asarray(img, dtype=np.float64)
    if img.ndim == 2:
        return img * 219.0 + 16.0
    return 16.0 + img[..., 0] * 65.481 + img[..., 1] * 128.553 + img[..., 2] * 24.966


MAX_PSNR = 100.0  # identical inputs score this instead of infinity (keeps means and JSON finite)


def psnr_from_mse(mse: float, peak: float) -> float:
    """10·log10(peak²/mse), capped at MAX_PSNR."""
    if mse <= 0:
        return MAX_PSNR
    return float(min(MAX_PSNR, 10 * np.log10(peak ** 2 / mse)))


def _shave(y: np.ndarray, border: int) -> np.ndarray:
    return y[border:y.shape[0] - border, border:y.shape[1] - border] if border > 0 else y


def _paired_y(a: np.ndarray, b: np.ndarray, shave: int) -> tuple[np.ndarray, np.ndarray]:
    if a.shape[:2] != b.shape[:2]:
        raise ValueError(f"image sizes differ: {a.shape[:2]} vs {b.shape[:2]}")
    return _shave(rgb_to_y(a), shave), _shave(rgb_to_y(b), shave)


def psnr_y(a: np.ndarray, b: np.ndarray, shave: int = 0) -> float:
    """PSNR (dB, peak 255, capped at MAX_PSNR) between the Y channels of ``a`` and ``b`` (HxWx3 in [0, 1]),
    ``shave`` px border cut."""
    ya, yb = _paired_y(a, b, shave)
    return psnr_from_mse(float(np.mean((ya - yb) ** 2)), 255.0)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(size) - (size - 1) / 2
    g = np.exp(-x ** 2 / (2 * sigma ** 2))
    w = np.outer(g, g)
    return w / w.sum()


def ssim_y(a: np.ndarray, b: np.ndarray, shave: int = 0) -> float:
    """SSIM (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, 'valid' filtering) on Y, ``shave`` px cut."""
    ya, yb = _paired_y(a, b, shave)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    win = _gaussian_window()

    def filt(x: np.ndarray) -> np.ndarray:
        return signal.fftconvolve(x, win, mode="valid")

    mu_a, mu_b = filt(ya), filt(yb)
    var_a = filt(ya * ya) - mu_a ** 2
    var_b = filt(yb * yb) - mu_b ** 2
    cov = filt(ya * yb) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return float(ssim_map.mean())
