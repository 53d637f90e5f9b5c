"""A kernel map from the photo's local spectra: the learned prior read region by region (``kernel_map`` holds the
map's convention).

Every 64 px tile's power spectrum is computed once (``tile_powers``, a tile every 16 px). A cell's spectrum is
the geometric mean of the spectra of the tiles that lie inside the cell (at least those nearest its centre).
Both choices keep the evidence local: blur changes across the photo, and a spectrum pooled over a wider window,
or an arithmetic mean of spectra, is dominated by the window's sharpest part (measured on the tuning photos:
tiles reaching 48 px from a small cell's centre instead of 8 lose 1.7 dB of re-degradation PSNR; the arithmetic
mean 0.45 dB; averaging neighbouring cells' kernels, tried too, lost 1 dB). The prior reads each cell's spectrum in its 4
rotations (``MAP_VIEWS``; the whole photo's in 8 rotations/flips), all cells in one pass of the network.

A cell too flat to read (sky, a wall: its content ``FLAT`` decades under the photo's upper quartile) reads as
sharp whatever its blur, since 8-bit rounding whitens its spectrum; such cells take the global kernel and are
left out of the verdict.

Does the blur vary? Kernels are compared by their log-covariance (size, elongation and direction together,
``log_covariance``). The readable cells' *spread* is their RMS distance from their mean; a photo with one
uniform blur shows some spread too (estimation noise and the content's bias, ``NOISE_FLOOR``), and the
*variation* is the spread beyond it. Where it is under ``VARIES`` the map is the global kernel in every cell: a
map read from regions is noisier than the whole photo's kernel, so it is used only where the blur does vary.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import InputError
from ..kernel_map import Grid
from ..kernel_shape import covariance
from ..kernels import fit_size, normalise
from .config import EstimatorConfig
from .learned import prior_weight_paths
from .prior import predict_regions
from .spectrum import CHUNK, MAX_TILES, TILE, gray, log_pooled, tile_window, view_power

CELL = 96  # LR pixels per cell side (at most) of the automatic grid
MAX_CELLS = 10  # at most this many cells per side
MAP_STRIDE = 16  # tile step (LR px) of the map's tile grid
MAP_VIEWS = 4  # the cell spectra's rotations the prior reads (8 with the flips: 0.1 dB better, twice the time)
MIN_REACH = 8.0  # px: a cell reads the tiles centred at most this far from its centre even when smaller than a tile
# Calibrated on the tuning photos (benchmarks/kernel_map.py --set tuning-large, 8 photos x 2 seeds): with the
# variation threshold at 0.15 / 0.25 / 0.35, varying blur's maps score 47.26 / 47.06 / 46.07 dB (79, 76, 67 of
# 80 called "varies"), uniform blur's 51.05 / 51.91 / 51.81 (7, 3, 1 of 16 called "varies"; one kernel: 51.99).
FLAT = 1.5  # a cell whose content is this many decades under the photo's upper quartile is too flat to read
NOISE_FLOOR = 0.3  # the spread a uniform blur shows (estimation noise and the content's bias)
VARIES = 0.25  # variation from which the blur "varies" (a spread of about 0.39)


@dataclass(frozen=True)
class MapSettings:
    """``rows``/``cols``: the grid (0: automatic from the photo size, ``auto_grid``)."""

    rows: int = 0
    cols: int = 0

    def grid(self, height: int, width: int) -> Grid:
        """The grid over an LR photo of ``height x width`` px: the one given, else ``auto_grid``'s."""
        rows, cols = (self.rows, self.cols) if self.rows and self.cols else auto_grid(height, width)
        return Grid(rows, cols, height, width)


def auto_grid(height: int, width: int) -> tuple[int, int]:
    """Cells of at most ``CELL`` px a side (at least 1, at most ``MAX_CELLS`` a side)."""
    return (int(np.clip(np.ceil(height / CELL), 1, MAX_CELLS)), int(np.clip(np.ceil(width / CELL), 1, MAX_CELLS)))


def parse_grid(text: str) -> tuple[int, int]:
    """'ROWSxCOLS' (e.g. '3x4') -> (3, 4); InputError otherwise."""
    rows, sep, cols = text.lower().partition("x")
    if not sep or not rows.isdigit() or not cols.isdigit() or int(rows) < 1 or int(cols) < 1:
        raise InputError(f"map grid must be ROWSxCOLS with positive numbers (e.g. 3x4), got {text!r}")
    return int(rows), int(cols)


def tile_powers(image: np.ndarray, stride: int = MAP_STRIDE) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """Every ``stride`` px, the Hann-windowed power spectrum of the 64 px tile there (``spectrum.mean_power``'s
    tiles): (T x TILE x TILE float32, DC at the centre; the tiles' centre rows (T,); their centre columns (T,)).
    The stride doubles until at most ``MAX_TILES`` tiles fit (float32 powers: 64 MB at most). ``image``: HxW or
    HxWx3 in [0, 1]."""
    y = gray(image)
    h, w = y.shape
    if min(h, w) < TILE:
        raise InputError(f"image is {w}x{h}; a kernel map needs at least {TILE} pixels a side")
    while ((h - TILE) // stride + 1) * ((w - TILE) // stride + 1) > MAX_TILES:
        stride *= 2
    views = sliding_window_view(y, (TILE, TILE))[::stride, ::stride]
    n_rows, n_cols = views.shape[:2]
    tiles = views.reshape(-1, TILE, TILE)
    window = tile_window(torch.device("cpu"))
    power = torch.empty((len(tiles), TILE, TILE), dtype=torch.float32)
    for start in range(0, len(tiles), CHUNK):
        chunk = torch.from_numpy(np.ascontiguousarray(tiles[start:start + CHUNK], dtype=np.float64))
        chunk = (chunk - chunk.mean(dim=(1, 2), keepdim=True)) * window
        power[start:start + CHUNK] = torch.fft.fftshift(torch.fft.fft2(chunk).abs().square(), dim=(1, 2)).float()
    cy = np.repeat(np.arange(n_rows) * stride + (TILE - 1) / 2, n_cols)
    cx = np.tile(np.arange(n_cols) * stride + (TILE - 1) / 2, n_rows)
    return power, cy, cx


def cell_weights(grid: Grid, cy: np.ndarray, cx: np.ndarray) -> np.ndarray:
    """cells x T float64: each cell's tiles (centred at ``cy``, ``cx``): those lying inside the cell, or where
    none does, those nearest its centre; equal weights, each row summing to 1."""
    ys, xs = grid.centres()
    reach_y = max(grid.height / grid.rows / 2 - TILE / 2, MIN_REACH)
    reach_x = max(grid.width / grid.cols / 2 - TILE / 2, MIN_REACH)
    dy, dx = np.abs(cy[None] - ys[:, None]), np.abs(cx[None] - xs[:, None])  # rows x T, cols x T
    in_y = dy <= np.maximum(reach_y, dy.min(axis=1, keepdims=True)) + 1e-9
    in_x = dx <= np.maximum(reach_x, dx.min(axis=1, keepdims=True)) + 1e-9
    weights = (in_y[:, None] & in_x[None]).reshape(grid.rows * grid.cols, -1).astype(np.float64)
    return weights / weights.sum(axis=1, keepdims=True)


def log_covariance(k: np.ndarray) -> np.ndarray:
    """(3,): the kernel's covariance matrix log (``kernel_shape.covariance``, floored at 0.01 px²) as (l_yy, l_xx,
    sqrt(2) l_xy): Euclidean distances between these compare size, elongation and direction at once (0.1 is
    about a 10% difference)."""
    vals, vecs = np.linalg.eigh(covariance(k))
    log = (vecs * np.log(np.maximum(vals, 1e-2))) @ vecs.T
    return np.array([log[0, 0], log[1, 1], np.sqrt(2) * log[0, 1]])


@dataclass
class KernelMap:
    """The map of one photo and what is known of it."""

    kernels: np.ndarray  # rows x cols x K x K float64: the map (the cells' kernels, or the global one if uniform)
    grid: Grid
    local: np.ndarray  # rows x cols x K x K: each cell's own kernel
    readable: np.ndarray  # rows x cols bool: cells with content enough to read (``FLAT``)
    spread: float  # RMS log-covariance distance of the readable cells' kernels from their mean
    variation: float  # the spread beyond what a uniform blur shows (``NOISE_FLOOR``); 0: none
    seconds: float = 0.0  # what making the map took (``map_for_estimate``)

    @property
    def varies(self) -> bool:
        return self.variation >= VARIES

    def verdict(self) -> str:
        return "varies" if self.varies else "uniform"


def cell_kernels(image: np.ndarray, grid: Grid, size: int, views: int = MAP_VIEWS, weights: Path | None = None,
                 device: torch.device | str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """(rows x cols x size x size: the prior's kernel of each cell of ``grid`` over ``image`` (``cell_weights``);
    rows x cols: each cell's content, log10 of its spectrum's power below a quarter of the sampling rate)."""
    powers, cy, cx = tile_powers(image)
    logs = torch.log(powers.reshape(len(powers), -1) + 1e-12)
    means = torch.exp(torch.from_numpy(cell_weights(grid, cy, cx)).float() @ logs)  # geometric mean of the tiles
    means = means.double().reshape(-1, TILE, TILE)
    spectra = np.stack([[log_pooled(view_power(mean, t)) for t in range(views)] for mean in means])
    kernels = predict_regions(spectra, weights, device)
    low = slice(TILE // 4, 3 * TILE // 4)  # the centred spectrum's frequencies under a quarter of the sampling rate
    content = torch.log10(means[:, low, low].sum(dim=(1, 2)) + 1e-12).numpy().reshape(grid.rows, grid.cols)
    return np.stack([normalise(fit_size(k, size)) for k in kernels]).reshape(grid.rows, grid.cols, size, size), content


def estimate_map(image: np.ndarray, global_kernel: np.ndarray, settings: MapSettings = MapSettings(),
                 views: int = MAP_VIEWS, weights: Path | None = None, device: torch.device | str = "cpu") -> KernelMap:
    """The kernel map of ``image`` (HxWx3 in [0, 1], LR) given its ``global_kernel`` (the estimator's K x K x2
    kernel for the whole photo; the map's kernels share its size): where the blur varies, the cells' own kernels
    (the global kernel in cells too flat to read); where it does not, the global kernel in every cell.
    ``weights``: the prior's (None: the shipped ones)."""
    grid = settings.grid(*image.shape[:2])
    size = global_kernel.shape[0]
    local, content = cell_kernels(image, grid, size, views, weights, device)
    readable = content >= np.quantile(content, 0.75) - FLAT
    described = np.stack([log_covariance(k) for k in local[readable]])
    spread = float(np.sqrt(((described - described.mean(axis=0)) ** 2).sum(axis=1).mean())) if len(described) > 1 else 0.0
    variation = float(np.sqrt(max(spread ** 2 - NOISE_FLOOR ** 2, 0.0)))
    kernels = np.broadcast_to(global_kernel, local.shape).copy()
    if variation >= VARIES:
        kernels[readable] = local[readable]
    return KernelMap(kernels, grid, local, readable, spread, variation)


def map_for_estimate(image: np.ndarray, kernel_x2: np.ndarray, config: EstimatorConfig,
                     settings: MapSettings = MapSettings(), device: torch.device | str = "cpu") -> KernelMap:
    """``estimate_map`` around an estimate's x2 kernel, read with the prior weights of ``config`` (a panel's first
    member: the cells were tuned with the default's network), timed. A kernel with negative lobes (software
    downscaling detected) is a resampler's, the same everywhere: its map is uniform."""
    started = time.perf_counter()
    grid = settings.grid(*image.shape[:2])
    if kernel_x2.min() < 0:
        uniform = np.broadcast_to(kernel_x2, (grid.rows, grid.cols) + kernel_x2.shape).copy()
        kmap = KernelMap(uniform, grid, uniform, np.ones((grid.rows, grid.cols), bool), 0.0, 0.0)
    else:
        kmap = estimate_map(image, kernel_x2, settings, weights=prior_weight_paths(config)[0][0],
                            device=device)
    kmap.seconds = time.perf_counter() - started
    return kmap
