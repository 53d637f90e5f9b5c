"""The image's mean local power spectrum: what a blur kernel leaves in a photo, whatever the photo shows.

Blurring multiplies every local spectrum by |K(ω)|² (then subsampling folds the spectrum once); the photo's
content changes the spectrum from tile to tile, the kernel does not. Averaging the power spectra of many
windowed tiles (Welch's method) keeps the kernel's imprint and the photo's overall 1/f-like falloff, which
the learned prior (``prior``) tells apart.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

TILE = 64  # tile side (LR pixels)
BINS = 32  # the spectrum is pooled to BINS x BINS
MAX_TILES = 4096  # above this the tile stride grows, so huge photos cost about the same as a 2 MP one
LUMA = (0.299, 0.587, 0.114)  # Python floats: the luma keeps the image's precision


def gray(image: np.ndarray) -> np.ndarray:
    """Luma of HxWx3 (HxW passes through), HxW in the input's float precision (no full-size float64 copy)."""
    image = np.asarray(image)
    if not np.issubdtype(image.dtype, np.floating):
        image = image.astype(np.float32)
    if image.ndim == 2:
        return image
    return LUMA[0] * image[..., 0] + LUMA[1] * image[..., 1] + LUMA[2] * image[..., 2]


def _window() -> np.ndarray:
    w = np.hanning(TILE + 2)[1:-1]
    return np.outer(w, w)


def log_spectrum(image: np.ndarray, stride: int = TILE // 2) -> np.ndarray:
    """BINS x BINS float32 feature map: log of the mean power spectrum of Hann-windowed TILE x TILE tiles of
    the luma (tile mean removed), DC at the centre, pooled 2x2, minus its mean (so it ignores contrast).

    ``image`` is HxW or HxWx3 in [0, 1], at least TILE pixels a side.
    """
    y = gray(image)
    h, w = y.shape
    if min(h, w) < TILE:
        raise ValueError(f"image is {w}x{h}; the spectrum needs at least {TILE} pixels a side")
    while ((h - TILE) // stride + 1) * ((w - TILE) // stride + 1) > MAX_TILES:
        stride *= 2
    tiles = sliding_window_view(y, (TILE, TILE))[::stride, ::stride].reshape(-1, TILE, TILE)
    window = _window()
    power = np.zeros((TILE, TILE))
    for start in range(0, len(tiles), 256):  # chunks keep memory small
        chunk = tiles[start:start + 256].astype(np.float64)
        chunk = (chunk - chunk.mean(axis=(1, 2), keepdims=True)) * window
        power += (np.abs(np.fft.fft2(chunk)) ** 2).sum(axis=0)
    power = np.fft.fftshift(power / len(tiles))
    pooled = power.reshape(BINS, TILE // BINS, BINS, TILE // BINS).mean(axis=(1, 3))
    logp = np.log(pooled + 1e-12)
    return (logp - logp.mean()).astype(np.float32)
