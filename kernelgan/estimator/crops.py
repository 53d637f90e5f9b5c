"""Crop sampling: crops are drawn where the image has gradients (flat areas carry no kernel information).

The probability map is built on a grid of cells (at most ``max_cells`` of them), from gradient magnitudes
computed strip by strip, so an 8000x6000 photo costs a few MB beyond the image itself.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import ndimage

STRIP_ROWS = 512


def gradient_cells(img: np.ndarray, cell: int) -> np.ndarray:
    """Sum of gradient magnitudes (luma, forward differences) over each ``cell x cell`` block: Hc x Wc float64."""
    h, w = img.shape[:2]
    hc, wc = math.ceil(h / cell), math.ceil(w / cell)
    out = np.zeros((hc, wc))
    step = max(cell, STRIP_ROWS // cell * cell)
    for top in range(0, h, step):
        strip = img[top:min(h, top + step + 1)].mean(axis=2, dtype=np.float32)
        gy = np.abs(np.diff(strip, axis=0, append=strip[-1:]))[: min(step, h - top)]
        gx = np.abs(np.diff(strip[: gy.shape[0]], axis=1, append=strip[: gy.shape[0], -1:]))
        mag = np.sqrt(gx * gx + gy * gy)
        rows = math.ceil(mag.shape[0] / cell)
        padded = np.zeros((rows * cell, wc * cell), dtype=np.float32)
        padded[: mag.shape[0], :w] = mag
        out[top // cell: top // cell + rows] = padded.reshape(rows, cell, wc, cell).sum(axis=(1, 3))
    return out


class CropSampler:
    """Draws aligned crop positions for G (``g_size``) and D (``d_size``) with probability proportional to the
    gradient energy inside the crop. ``image`` is HxWx3 float32 in [0, 1], at least ``g_size`` a side."""

    def __init__(self, image: np.ndarray, g_size: int, d_size: int, max_cells: int = 1_000_000):
        self.image = image
        h, w = image.shape[:2]
        self.cell = max(1, math.ceil(math.sqrt(h * w / max_cells)))
        grad = ndimage.gaussian_filter(gradient_cells(image, self.cell), sigma=max(1.0, 4.0 / self.cell))
        self.g_size, self.d_size = g_size, d_size
        self._g_cdf = self._crop_probabilities(grad, g_size)
        self._d_cdf = self._crop_probabilities(grad, d_size)

    def _crop_probabilities(self, grad: np.ndarray, size: int) -> np.ndarray:
        """Cumulative probabilities over the flattened cells, a cell standing for the crops whose top-left
        corner lies in it."""
        h, w = self.image.shape[:2]
        win = max(1, round(size / self.cell))
        energy = ndimage.uniform_filter(grad, size=win, mode="constant", origin=-(win // 2) if win > 1 else 0)
        valid = np.zeros_like(energy, dtype=bool)
        valid[: (h - size) // self.cell + 1, : (w - size) // self.cell + 1] = True
        energy = np.where(valid, energy + 1e-8, 0.0)
        cdf = np.cumsum(energy.ravel())
        return cdf / cdf[-1]

    def _positions(self, rng: np.random.Generator, cdf: np.ndarray, size: int, n: int) -> np.ndarray:
        h, w = self.image.shape[:2]
        wc = math.ceil(w / self.cell)
        idx = np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), cdf.size - 1)
        offsets = rng.integers(0, self.cell, size=(n, 2))
        tops = np.minimum(idx // wc * self.cell + offsets[:, 0], h - size)
        lefts = np.minimum(idx % wc * self.cell + offsets[:, 1], w - size)
        return np.stack([tops, lefts], axis=1)

    def plan(self, rng: np.random.Generator, n: int, steps: int) -> tuple[np.ndarray, np.ndarray]:
        """Crop corners for ``steps`` steps of ``n`` G crops and ``n`` D crops, drawn in the order ``sample``
        draws them: two steps x n x 2 int64 arrays of (top, left)."""
        g = np.empty((steps, n, 2), dtype=np.int64)
        d = np.empty((steps, n, 2), dtype=np.int64)
        for step in range(steps):
            g[step] = self._positions(rng, self._g_cdf, self.g_size, n)
            d[step] = self._positions(rng, self._d_cdf, self.d_size, n)
        return g, d

    def crops(self, g_corners: np.ndarray, d_corners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The crops at ``g_corners`` and ``d_corners`` (n x 2 each): n x 3 x g x g and n x 3 x d x d float32."""
        g = [self._crop(top, left, self.g_size) for top, left in g_corners]
        d = [self._crop(top, left, self.d_size) for top, left in d_corners]
        return np.stack(g), np.stack(d)

    def sample(self, rng: np.random.Generator, n: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """``n`` G crops (n x 3 x g x g) and ``n`` D crops (n x 3 x d x d), float32, channels first."""
        g, d = self.plan(rng, n, 1)
        return self.crops(g[0], d[0])

    def _crop(self, top: int, left: int, size: int) -> np.ndarray:
        return self.image[top:top + size, left:left + size].transpose(2, 0, 1)


class NoiseStream:
    """D's input noise for one run: standard normal tensors of ``shape`` per step from the run's own generator,
    drawn ``chunk`` steps at a time (so the single-run and the batched trainer see the same values)."""

    def __init__(self, seed: int, shape: tuple[int, ...], device: torch.device, chunk: int = 64):
        self.generator = torch.Generator(device=device).manual_seed(seed)
        self.shape, self.device, self.chunk = shape, device, chunk
        self._buffer = torch.empty(0)
        self._next = 0

    def next(self) -> torch.Tensor:
        if self._next == len(self._buffer):
            self._buffer = torch.randn((self.chunk, *self.shape), generator=self.generator, device=self.device)
            self._next = 0
        self._next += 1
        return self._buffer[self._next - 1]
