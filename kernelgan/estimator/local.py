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
``log_covariance``). A photo with one uniform blur still shows some spread between regions (estimation noise and
the content's bias), and how much depends on the photo and on its kind of blur, so the photo measures its own:
the prior also reads each cell's four quarters, and the quarters' *spread* across the photo (their RMS distance
from their mean) is set against their spread within a cell (the *noise*: quarters of one cell share nearly one
blur). The *variation* is their ratio (about 1: no more than a region's own reading noise). The blur varies
where the variation reaches ``VARIES`` *and* the cells themselves spread by ``CELL_SPREAD`` at least (their RMS
log-covariance distance from their mean): of the tuning photos' 76 with one blur, the ratio alone called 4
"varies", the cells' spread alone 19 (the small photos' few quarters make the ratio noisy), both together none.
Where it does not, the map is the global kernel in every cell: a map read from regions is noisier
than the whole photo's kernel, so it is used only where the blur does vary.
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
QUARTER_VIEWS = 2  # the quarter cells' (for the verdict only; 4 call the same photos "varies" on the tuning photos)
MIN_REACH = 8.0  # px: a cell reads the tiles centred at most this far from its centre even when smaller than a tile
FLAT = 1.5  # a cell whose content is this many decades under the photo's upper quartile is too flat to read
# Calibrated on the tuning photos (Set14's 8 of >= 480 px x 2 seeds, docs/accuracy.md "Kernel maps"): the
# variation of uniform blur is 1.07-1.51 (DIV2KRK-family kernels) and 1.14-1.59 (camera kernels), of varying blur
# 1.19-3.93 (median 2.1); thresholds 1.4 / 1.45 / 1.5 / 1.55 call 4 / 2 / 1 / 0 of 16 uniform photos, 3 / 1 / 1 / 1
# of 16 uniform-camera ones and 76 / 75 / 75 / 73 of 80 varying ones "varies".
VARIES = 1.5  # variation (quarters' spread over their noise) from which the blur "varies" ...
CELL_SPREAD = 0.39  # ... if the cells' own spread reaches this too (the verdict before 2026-12-03 (7) alone)
MIN_NOISE = 0.01  # the noise level a ratio is taken against at least (quarters read alike to 1%)


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
    tiles, here in float32): (T x TILE x TILE float32, DC at the centre; the tiles' centre rows (T,); their
    centre columns (T,)).
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
    window = tile_window(torch.device("cpu")).float()
    power = torch.empty((len(tiles), TILE, TILE), dtype=torch.float32)
    for start in range(0, len(tiles), CHUNK):
        chunk = torch.from_numpy(np.ascontiguousarray(tiles[start:start + CHUNK], dtype=np.float32))
        spectrum = torch.fft.fft2((chunk - chunk.mean(dim=(1, 2), keepdim=True)) * window)
        power[start:start + CHUNK] = torch.fft.fftshift(spectrum.real.square() + spectrum.imag.square(), dim=(1, 2))
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
    spread: float  # RMS log-covariance distance of the readable quarter cells' kernels from their mean
    noise: float  # the same within a cell (RMS over cells with two readable quarters or more)
    seconds: float = 0.0  # what making the map took (``map_for_estimate``)

    @property
    def variation(self) -> float:
        """``spread`` in units of ``noise`` (about 1 for one uniform blur; ``noise`` floored at ``MIN_NOISE``)."""
        return self.spread / max(self.noise, MIN_NOISE)

    @property
    def cell_spread(self) -> float:
        """``rms_spread`` of the readable cells' own kernels (``local``), in log-covariance."""
        return rms_spread(np.array([log_covariance(k) for k in self.local[self.readable]]))

    @property
    def varies(self) -> bool:
        return self.variation >= VARIES and self.cell_spread >= CELL_SPREAD

    def verdict(self) -> str:
        return "varies" if self.varies else "uniform"


def readable_cells(content: np.ndarray) -> np.ndarray:
    """rows x cols bool: cells whose ``content`` (``cell_kernels``) is at most ``FLAT`` decades under the upper
    quartile of the photo's cells."""
    return content >= np.quantile(content, 0.75) - FLAT


def rms_spread(described: np.ndarray) -> float:
    """RMS Euclidean distance of N x 3 ``log_covariance`` rows from their mean (0 for fewer than 2)."""
    if len(described) < 2:
        return 0.0
    return float(np.sqrt(((described - described.mean(axis=0)) ** 2).sum(axis=1).mean()))


def quarter_spreads(quarters: np.ndarray, readable: np.ndarray) -> tuple[float, float]:
    """(spread, noise) of a grid's quarter cells: ``quarters`` 2R x 2C x K x K kernels (cell (i, j)'s quarters at
    rows 2i..2i+1, columns 2j..2j+1), ``readable`` 2R x 2C bool. spread: ``rms_spread`` of all readable quarters;
    noise: the RMS over cells of their readable quarters' distances from the cell's own mean (cells with at least
    2 readable quarters). Both 0 where no cell has 2 readable quarters (nothing to compare: no variation)."""
    described = np.array([[log_covariance(k) for k in row] for row in quarters])  # 2R x 2C x 3
    spread = rms_spread(described[readable])
    squares = []
    for i in range(0, quarters.shape[0], 2):
        for j in range(0, quarters.shape[1], 2):
            own = described[i:i + 2, j:j + 2][readable[i:i + 2, j:j + 2]]
            if len(own) >= 2:
                squares.append(rms_spread(own) ** 2)
    if not squares:
        return 0.0, 0.0
    return spread, float(np.sqrt(np.mean(squares)))


def cell_kernels(tiles: tuple[torch.Tensor, np.ndarray, np.ndarray], grid: Grid, size: int, views: int = MAP_VIEWS,
                 weights: Path | None = None, device: torch.device | str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """(rows x cols x size x size: the prior's kernel of each cell of ``grid`` (``cell_weights``) from the photo's
    ``tiles`` (``tile_powers``); rows x cols: each cell's content, log10 of its spectrum's power below a quarter
    of the sampling rate)."""
    powers, cy, cx = tiles
    logs = torch.log(powers.reshape(len(powers), -1) + 1e-12)
    means = torch.exp(torch.from_numpy(cell_weights(grid, cy, cx)).float() @ logs)  # geometric mean of the tiles
    means = means.double().reshape(-1, TILE, TILE)
    spectra = np.stack([log_pooled(view_power(means, t)) for t in range(views)], axis=1)  # cells x views x BINS x BINS
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
    tiles = tile_powers(image)
    local, content = cell_kernels(tiles, grid, size, views, weights, device)
    readable = readable_cells(content)
    quarters, quarter_content = cell_kernels(tiles, Grid(2 * grid.rows, 2 * grid.cols, grid.height, grid.width),
                                             size, QUARTER_VIEWS, weights, device)
    spread, noise = quarter_spreads(quarters, readable_cells(quarter_content))
    kmap = KernelMap(np.broadcast_to(global_kernel, local.shape).copy(), grid, local, readable, spread, noise)
    if kmap.varies:
        kmap.kernels[readable] = local[readable]
    return kmap


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
