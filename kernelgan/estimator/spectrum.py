"""The image's mean local power spectrum: what a blur kernel leaves in a photo, whatever the photo shows.

Blurring multiplies every local spectrum by |K(ω)|² (then subsampling folds the spectrum once); the photo's
content changes the spectrum from tile to tile, the kernel does not. Averaging the power spectra of many
windowed tiles (Welch's method) keeps the kernel's imprint and the photo's overall 1/f-like falloff, which
the learned prior (``prior``) tells apart.

The spectrum of a rotated or flipped photo is the same rotation/flip of its spectrum (with k -> -k for a
flip, the Hann window being symmetric), so the 8 views the prior averages over cost one FFT pass per tile grid
(each view's grid starts at one of the photo's four corners).
"""

from __future__ import annotations

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view

TILE = 64  # tile side (LR pixels)
BINS = 32  # the spectrum is pooled to BINS x BINS
MAX_TILES = 4096  # above this the tile stride grows, so huge photos cost about the same as a 2 MP one
CHUNK = 512  # tiles per FFT call (keeps memory small)
LUMA = (0.299, 0.587, 0.114)  # Python floats: the luma keeps the image's precision


def gray(image: np.ndarray) -> np.ndarray:
    """Luma of HxWx3 (HxW passes through), HxW in the input's float precision (no full-size float64 copy)."""
    image = np.asarray(image)
    if not np.issubdtype(image.dtype, np.floating):
        image = image.astype(np.float32)
    if image.ndim == 2:
        return image
    return LUMA[0] * image[..., 0] + LUMA[1] * image[..., 1] + LUMA[2] * image[..., 2]


def tile_window(device: torch.device) -> torch.Tensor:
    """TILE x TILE float64 on ``device``: the 2-D Hann window every tile is multiplied by."""
    w = torch.from_numpy(np.hanning(TILE + 2)[1:-1]).to(device)
    return torch.outer(w, w)


def tile_stride(h: int, w: int, stride: int = TILE // 2) -> int:
    """The tile step for an h x w picture: ``stride``, doubled until at most MAX_TILES tiles fit."""
    if min(h, w) < TILE:
        raise ValueError(f"image is {w}x{h}; the spectrum needs at least {TILE} pixels a side")
    while ((h - TILE) // stride + 1) * ((w - TILE) // stride + 1) > MAX_TILES:
        stride *= 2
    return stride


def mean_power(image: np.ndarray, stride: int = TILE // 2, device: torch.device | str = "cpu",
               from_bottom: bool = False, from_right: bool = False) -> torch.Tensor:
    """TILE x TILE float64 tensor on ``device``: mean power spectrum of the Hann-windowed TILE x TILE tiles of the
    luma (each tile's mean removed), DC at the centre. Tiles every ``tile_stride`` pixels, the grid starting at
    the top-left corner (or flush with the bottom / right edge).

    ``image`` is HxW or HxWx3 in [0, 1], at least TILE pixels a side.
    """
    y = gray(image)
    h, w = y.shape
    stride = tile_stride(h, w, stride)
    top = (h - TILE) % stride if from_bottom else 0
    left = (w - TILE) % stride if from_right else 0
    tiles = sliding_window_view(y[top:, left:], (TILE, TILE))[::stride, ::stride].reshape(-1, TILE, TILE)
    window = tile_window(torch.device(device))
    half = torch.zeros(TILE, TILE // 2 + 1, dtype=torch.float64, device=device)
    for start in range(0, len(tiles), CHUNK):
        chunk = torch.from_numpy(np.require(tiles[start:start + CHUNK], requirements=["C", "W"])).to(device, torch.float64)
        chunk = (chunk - chunk.mean(dim=(1, 2), keepdim=True)) * window
        half += torch.fft.rfft2(chunk).abs().square().sum(dim=0)
    # a real signal's power is symmetric, P(-k) = P(k): the columns rfft2 leaves out are mirrored ones
    cols = torch.arange(TILE, device=device)
    full = half[(-cols[:, None]) % TILE, (-cols[None, TILE // 2 + 1:]) % TILE]
    power = torch.cat([half, full], dim=1) / len(tiles)
    return torch.fft.fftshift(power)


def _reflect(p: torch.Tensor, dim: int) -> torch.Tensor:
    """k -> -k along ``dim`` (-2: rows, -1: columns) of centred spectra (the spectra of the images flipped along
    that axis)."""
    return torch.roll(torch.flip(p, (dim,)), 1, dims=dim)


def view_power(power: torch.Tensor, t: int) -> torch.Tensor:
    """The centred spectra of the images' t-th rotation/flip (t in 0..7: ``np.rot90`` t%4 times, then a
    left-right flip if t >= 4), from the images' own spectra ``power`` (... x TILE x TILE)."""
    for _ in range(t % 4):  # np.rot90(a) == a.T flipped up-down
        power = _reflect(power.transpose(-2, -1), -2)
    return _reflect(power, -1) if t >= 4 else power


def log_pooled(power: torch.Tensor) -> np.ndarray:
    """... x BINS x BINS float32: log of ``power`` (... x TILE x TILE) pooled 2x2, minus its mean over each
    spectrum (so it ignores contrast)."""
    lead = power.shape[:-2]
    pooled = power.reshape(*lead, BINS, TILE // BINS, BINS, TILE // BINS).mean(dim=(-3, -1))
    logp = torch.log(pooled + 1e-12)
    return (logp - logp.mean(dim=(-2, -1), keepdim=True)).float().cpu().numpy()


def log_spectrum(image: np.ndarray, stride: int = TILE // 2) -> np.ndarray:
    """The prior's input feature: BINS x BINS float32 log mean power spectrum of ``image`` (see ``mean_power``)."""
    return log_pooled(mean_power(image, stride))


def _grid_corner(t: int) -> tuple[bool, bool]:
    """Which corner of the image the t-th rotation/flip's top-left corner is: (bottom?, right?)."""
    corners = np.rot90(np.array([[0, 1], [2, 3]]), t % 4)
    corner = int((corners[:, ::-1] if t >= 4 else corners)[0, 0])
    return corner >= 2, corner % 2 == 1


def view_spectra(image: np.ndarray, views: int, device: torch.device | str = "cpu") -> np.ndarray:
    """``log_spectrum`` of each of the first ``views`` rotations/flips of ``image``: views x BINS x BINS float32.

    A view's tile grid starts at its own top-left corner, i.e. at one of the image's four corners; the (at most
    four) grids' spectra are computed once each and rotated/flipped in the frequency domain."""
    powers: dict[tuple[bool, bool], torch.Tensor] = {}
    spectra = []
    for t in range(views):
        corner = _grid_corner(t)
        if corner not in powers:
            powers[corner] = mean_power(image, device=device, from_bottom=corner[0], from_right=corner[1])
        spectra.append(log_pooled(view_power(powers[corner], t)))
    return np.stack(spectra)
