"""Kernel maps: blur that changes across a photo, as a grid of kernels and one rule to read it.

A *kernel map* of an LR photo of ``height x width`` pixels is an array ``rows x cols x K x K`` (float64): one
kernel per cell of a regular grid, each a valid kernel of the project's convention (sums to 1, centred,
non-negative unless software downscaling). Cell (i, j) covers an equal share of the photo and its kernel belongs
to the cell's centre, at LR pixel coordinates

    y_i = (i + 0.5) * height / rows - 0.5,    x_j = (j + 0.5) * width / cols - 0.5

(``Grid.centres``). The kernel at any LR pixel is the bilinear interpolation of the four nearest cells' kernels,
clamped at the border (a pixel beyond the outermost centres takes the outermost kernels): ``kernel_at``. Since
blurring is linear in the kernel, blurring with the interpolated kernels equals interpolating the blurs of the
cells' kernels (``degrade_with_map``), which is how maps are applied everywhere in the project.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InputError
from .kernels import analytic_x4, trim_rim
from .resize import blur_downsample


@dataclass(frozen=True)
class Grid:
    """A ``rows x cols`` grid over an LR photo of ``height x width`` pixels."""

    rows: int
    cols: int
    height: int
    width: int

    def __post_init__(self) -> None:
        if self.rows < 1 or self.cols < 1:
            raise InputError(f"a kernel map needs at least one row and column, got {self.rows}x{self.cols}")

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """(rows,) and (cols,) float64: the LR pixel coordinates (y, x) of the cells' centres."""
        ys = (np.arange(self.rows) + 0.5) * self.height / self.rows - 0.5
        xs = (np.arange(self.cols) + 0.5) * self.width / self.cols - 0.5
        return ys, xs

    def to_dict(self) -> dict[str, list[float]]:
        """The ``kernel_map`` entry of a photo's record: cell centres, rounded to 1/1000 px."""
        ys, xs = self.centres()
        return {"rows": [round(float(y), 3) for y in ys], "cols": [round(float(x), 3) for x in xs]}


def grid_for(kmap: np.ndarray, lr_shape: tuple[int, ...]) -> Grid:
    """The grid of ``kmap`` (rows x cols x K x K) over an LR picture of shape ``lr_shape`` (H, W, ...); InputError
    when ``kmap`` is not a map."""
    if kmap.ndim != 4 or kmap.shape[2] != kmap.shape[3]:
        raise InputError(f"a kernel map is rows x cols x K x K, got shape {kmap.shape}")
    return Grid(kmap.shape[0], kmap.shape[1], int(lr_shape[0]), int(lr_shape[1]))


def axis_weights(positions: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """len(positions) x len(centres) float64: linear-interpolation weights of each position between the two
    nearest centres (increasing), clamped beyond the first and last; each row sums to 1."""
    positions = np.asarray(positions, dtype=np.float64)
    weights = np.zeros((positions.size, centres.size))
    if centres.size == 1:
        weights[:, 0] = 1.0
        return weights
    p = np.clip(positions, centres[0], centres[-1])
    right = np.clip(np.searchsorted(centres, p, side="right"), 1, centres.size - 1)
    left = right - 1
    t = (p - centres[left]) / (centres[right] - centres[left])
    rows = np.arange(positions.size)
    weights[rows, left] = 1.0 - t
    weights[rows, right] += t
    return weights


def pixel_weights(grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """(height x rows, width x cols): the interpolation weights of every LR row and column; the weight of cell
    (i, j) at pixel (y, x) is ``wy[y, i] * wx[x, j]``."""
    ys, xs = grid.centres()
    return axis_weights(np.arange(grid.height), ys), axis_weights(np.arange(grid.width), xs)


def kernel_at(kmap: np.ndarray, grid: Grid, y: float, x: float) -> np.ndarray:
    """K x K: the kernel at LR pixel (y, x), bilinear between the four nearest cells (clamped at the border)."""
    ys, xs = grid.centres()
    wy, wx = axis_weights(np.array([y]), ys)[0], axis_weights(np.array([x]), xs)[0]
    return np.einsum("i,j,ijab->ab", wy, wx, kmap)


def degrade_with_map(hr: np.ndarray, kmap: np.ndarray, scale: int) -> np.ndarray:
    """Blur ``hr`` (HxW or HxWxC, sides multiples of ``scale``) with the map's interpolated kernels and keep
    every ``scale``-th pixel (``resize.blur_downsample``'s convention, kernels at that scale): float64
    (H/scale) x (W/scale) (x C), unclipped. One blur per cell, mixed with the interpolation weights."""
    h, w = hr.shape[0] // scale, hr.shape[1] // scale
    grid = grid_for(kmap, (h, w))
    wy, wx = pixel_weights(grid)
    margin = scale * -(-kmap.shape[2] // scale)  # HR pixels around a cell's support that its blur reads
    out = np.zeros((h, w) + hr.shape[2:])
    for i in range(grid.rows):
        rows = np.nonzero(wy[:, i])[0]
        for j in range(grid.cols):
            cols = np.nonzero(wx[:, j])[0]
            if rows.size == 0 or cols.size == 0:
                continue
            top, left = min(margin, rows[0] * scale), min(margin, cols[0] * scale)
            crop = hr[rows[0] * scale - top:(rows[-1] + 1) * scale + margin,
                      cols[0] * scale - left:(cols[-1] + 1) * scale + margin]
            blurred = blur_downsample(crop, kmap[i, j], scale)[top // scale:top // scale + rows.size,
                                                              left // scale:left // scale + cols.size]
            weight = np.outer(wy[rows, i], wx[cols, j]).reshape((rows.size, cols.size) + (1,) * (hr.ndim - 2))
            out[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1] += weight * blurred
    return out


def uniform_map(kernel: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """rows x cols x K x K: ``kernel`` in every cell."""
    return np.broadcast_to(kernel, (rows, cols) + kernel.shape).copy()


def x4_map(kmap2: np.ndarray) -> np.ndarray:
    """The x4 map of an x2 map: each cell's analytic x4 kernel (``kernels.analytic_x4``, rims trimmed), all
    zero-padded to the largest one's size."""
    cells = [trim_rim(analytic_x4(k)) for k in kmap2.reshape(-1, *kmap2.shape[2:])]
    size = max(k.shape[0] for k in cells)
    return np.stack([np.pad(k, (size - k.shape[0]) // 2) for k in cells]).reshape(kmap2.shape[:2] + (size, size))
