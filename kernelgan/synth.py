"""Synthetic LR images with known kernels (DIV2KRK protocol): ``y = (x ⋆ k)↓s``."""

from __future__ import annotations

import zlib

import numpy as np

from .errors import InputError
from .kernels import analytic_x4
from .resize import blur_downsample


def check_scale(scale: int) -> int:
    if scale not in (2, 4):
        raise InputError(f"scale must be 2 or 4, got {scale}")
    return scale


def image_rng(seed: int, name: str) -> np.random.Generator:
    """A generator fixed by ``seed`` and the image's name, so each image's draw is independent of the others."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def crop_to_multiple(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop the bottom/right so both sides are multiples of ``scale``."""
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale]


def degrade(hr: np.ndarray, scale: int, k2: np.ndarray | None = None, kernel: np.ndarray | None = None
            ) -> tuple[np.ndarray, np.ndarray]:
    """Blur and subsample ``hr`` (HxWx3 in [0, 1]); returns (LR clipped to [0, 1], the true kernel for ``scale``).

    Give either ``k2`` (an x2 kernel; at x4 it is applied twice, as DIV2KRK does, and the true kernel is its
    analytic x4) or ``kernel`` (used once, directly at ``scale``).
    """
    check_scale(scale)
    hr = crop_to_multiple(hr, scale)
    if kernel is not None:
        lr, truth = blur_downsample(hr, kernel, scale), kernel
    elif k2 is not None:
        lr = blur_downsample(hr, k2, 2)
        truth = k2
        if scale == 4:
            lr = blur_downsample(lr, k2, 2)
            truth = analytic_x4(k2)
    else:
        raise ValueError("give k2 or kernel")
    return np.clip(lr, 0.0, 1.0).astype(np.float32), truth
