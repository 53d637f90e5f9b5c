"""The sensor-noise level of one photo, from the statistics of its small patches.

Patch-PCA estimator (after Chen, Zhu & Heng, ICCV 2015): the covariance of all d-pixel patches of a channel has
eigenvalues that are image structure plus noise in a few directions and noise alone in the rest; the smallest
eigenvalues are found as the longest tail whose mean does not exceed its median (pure noise is symmetric about
its mean; a structure eigenvalue in the tail pulls the mean above the median), and the noise variance is that
tail's mean. Only the weakest-textured patches are read (the ``WEAK_SHARE`` with the least variance after a
Gaussian smoothing, which measures structure rather than noise: textured photos otherwise read too high), and
patches with a clipped pixel (0 or 255: no noise survives there) are left out. Per colour channel; the median of
the three is the photo's level. Levels are standard deviations on
the 8-bit scale (0-255), the unit of SRMD's noise map and of ``kernelgan degrade --noise``.

Signal-dependent noise (shot noise, as in the realistic presets) is reported as one level: the patch statistics
are dominated by the mid-tones, so the figure is the noise of a typical mid-grey patch.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

PATCH = 7  # pixels a side of the patches whose covariance is read
MAX_PATCHES = 60000  # more patches than this are subsampled on a regular grid (a large photo reads the same)
WEAK_SHARE = 0.3  # the share of patches read: the weakest-textured (tuning photos: mean error 0.07-0.60 for sigma
# 0-25, worst 2.4 at sigma 0 on a grainy photo; reading all patches: worst 3.8)
MIN_PATCHES = 1000  # fewer patches than this left after the selections: the selections are not applied


def _patches(channel: np.ndarray, size: int, max_patches: int) -> np.ndarray:
    """All ``size`` x ``size`` patches of ``channel`` (HxW) on a grid stride chosen to stay under ``max_patches``;
    N x size² float64."""
    h, w = channel.shape
    count = (h - size + 1) * (w - size + 1)
    stride = max(1, int(np.ceil(np.sqrt(count / max_patches))))
    view = np.lib.stride_tricks.sliding_window_view(channel, (size, size))[::stride, ::stride]
    return view.reshape(-1, size * size).astype(np.float64)


def _tail_variance(eigenvalues: np.ndarray) -> float:
    """The mean of the longest tail of ascending-sorted ``eigenvalues`` whose mean is at most its median."""
    values = np.sort(np.clip(eigenvalues, 0, None))[::-1]  # descending
    for start in range(len(values)):
        tail = values[start:]
        if tail.mean() <= np.median(tail):
            return float(tail.mean())
    return float(values[-1])


def channel_noise_sigma(channel: np.ndarray, patch: int = PATCH, max_patches: int = MAX_PATCHES) -> float:
    """Noise standard deviation of one channel (HxW, values in [0, 1]) on the 8-bit scale."""
    if min(channel.shape) < patch + 2:
        raise ValueError(f"a {channel.shape[1]}x{channel.shape[0]} image is too small to estimate its noise")
    x = _patches(channel * 255.0, patch, max_patches)
    texture = _patches(ndimage.gaussian_filter(channel * 255.0, 1.5), patch, max_patches).var(axis=1)
    unclipped = (x.min(axis=1) > 0.5) & (x.max(axis=1) < 254.5)
    if unclipped.sum() >= MIN_PATCHES:
        x, texture = x[unclipped], texture[unclipped]
    weak = texture <= np.quantile(texture, WEAK_SHARE)
    if weak.sum() >= MIN_PATCHES:
        x = x[weak]
    x = x - x.mean(axis=0)
    cov = x.T @ x / max(len(x) - 1, 1)
    return float(np.sqrt(_tail_variance(np.linalg.eigvalsh(cov))))


def estimate_noise_sigma(img: np.ndarray, patch: int = PATCH, max_patches: int = MAX_PATCHES) -> float:
    """Noise level of ``img`` (HxWx3 or HxW, float in [0, 1]): the median over channels of
    ``channel_noise_sigma``, 8-bit scale. An 8-bit file's rounding alone reads about 0.3."""
    img = np.asarray(img, dtype=np.float64)
    channels = [img] if img.ndim == 2 else [img[..., c] for c in range(img.shape[2])]
    return float(np.median([channel_noise_sigma(c, patch, max_patches) for c in channels]))
