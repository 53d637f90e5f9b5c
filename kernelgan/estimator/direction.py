"""The kernel's direction: what a power spectrum cannot tell.

A kernel and its 180-degree turn (``kernels.turned``) have the same power spectrum, so the prior networks, which
read the photo's mean power spectrum, return point-symmetric kernels: a comet-shaped camera shake comes back as
its average with the turned comet. The photo itself shows which way its edges trail: the fourth-order statistic
``asymmetry_map`` of its gradients is odd under that turn (and about zero for point-symmetric blur). A small
network (``DirectionNet``) reads it with the symmetric kernel and returns the kernel's odd part; ``with_odd_part``
adds it where it is large enough to be trusted (``GATE``, chosen on the tuning photos). docs/estimators.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import fft
from torch import nn

from ..network_files import NetworkWeights
from .spectrum import gray

FORMAT = "kernelgan-direction-1"
RADIUS = 7  # the map holds offsets up to RADIUS LR pixels each way
MAP_GAIN = 10.0  # the map's values (about +-0.05) scaled to the network's input range
KERNEL_GAIN = 100.0  # the kernel's taps (about 0.01) likewise; the odd part comes out divided by it
TILE = 256  # the map sums over tiles of this many LR px (FFTs of a bounded size) ...
MAX_TILES = 8  # ... at most this many, spread over a large photo
GATE = 0.25  # the odd part is added only where its absolute sum exceeds this (chosen on the tuning photos)


def _tiles(h: int, w: int) -> list[tuple[int, int, int, int]]:
    """(top, left, height, width) of at most ``MAX_TILES`` tiles of up to ``TILE`` px, spread evenly over h x w."""
    rows, cols = -(-h // TILE), -(-w // TILE)
    cells = [(r, c) for r in range(rows) for c in range(cols)]
    if len(cells) > MAX_TILES:
        cells = [cells[i] for i in np.linspace(0, len(cells) - 1, MAX_TILES).round().astype(int)]
    return [(r * TILE, c * TILE, min(TILE, h - r * TILE), min(TILE, w - c * TILE)) for r, c in cells]


def asymmetry_map(image: np.ndarray, radius: int = RADIUS) -> np.ndarray:
    """(2r+1) x (2r+1) float32: A(d) = sum_p g(p)^3 g(p+d) - g(p) g(p+d)^3 over the luma's column differences, plus
    the same over its row differences, each divided by its sum of g^4, for offsets d = (dy, dx) in [-r, r]² (d = 0
    at the centre), times ``MAP_GAIN``. Odd: A(-d) = -A(d). A step edge blurred by a kernel with a tail on one side
    gives a map of one sign on that side; blur symmetric about its centre gives about zero whatever the edges.
    Sums run over tiles of up to ``TILE`` px (at most ``MAX_TILES`` of them, spread over a large photo).

    ``image``: HxW or HxWx3 in [0, 1], more than 2r + 2 pixels a side."""
    y = gray(image).astype(np.float32)  # float32 FFTs: the map is a ratio of sums, good to ~1e-5
    if min(y.shape) <= 2 * radius + 2:
        raise ValueError(f"image is {y.shape[1]}x{y.shape[0]}; the direction map needs more than {2 * radius + 2} px a side")
    out = np.zeros((2 * radius + 1, 2 * radius + 1))
    ys = np.arange(-radius, radius + 1)
    for g_all in (np.diff(y, axis=1)[:-1], np.diff(y, axis=0)[:, :-1]):  # column and row differences, same shape
        total, energy = np.zeros_like(out), 0.0
        for top, left, h, w in _tiles(*g_all.shape):
            g = g_all[top:top + h, left:left + w]
            if min(h, w) <= radius:
                continue
            shape = (fft.next_fast_len(h + radius), fft.next_fast_len(w + radius))  # no wrap-around up to r
            corr = fft.irfft2(np.conj(fft.rfft2(g ** 3, shape)) * fft.rfft2(g, shape), shape)  # C(d)
            total += corr[np.ix_(ys % shape[0], ys % shape[1])]
            energy += float((g.astype(np.float64) ** 4).sum())
        if energy > 0:
            out += (total - total[::-1, ::-1]) / energy  # C(d) - C(-d)
    return (MAP_GAIN * out).astype(np.float32)


def turn_odd_grid(k: torch.Tensor) -> torch.Tensor:
    """... x K x K (K odd): each grid turned by 180 degrees about the x2 centre (flipped, moved one pixel down and
    right, the far rim dropped): ``kernels.turned`` without renormalising, for odd parts."""
    out = torch.zeros_like(k)
    out[..., 1:, 1:] = torch.flip(k, (-2, -1))[..., :-1, :-1]
    return out


def odd(k: torch.Tensor) -> torch.Tensor:
    """The odd parts (k - turned k) / 2 of grids ... x K x K on the x2 grid (``turn_odd_grid``)."""
    return 0.5 * (k - turn_odd_grid(k))


@dataclass(frozen=True)
class DirectionShape:
    radius: int = RADIUS
    kernel_size: int = 13
    hidden: int = 512


class DirectionNet(nn.Module):
    """(maps B x (2r+1) x (2r+1) from ``asymmetry_map``, point-symmetric kernels B x K x K summing to 1) -> odd
    parts B x K x K (o = -turned o; about +-0.01 a tap)."""

    def __init__(self, shape: DirectionShape):
        super().__init__()
        self.shape = shape
        inputs = (2 * shape.radius + 1) ** 2 + shape.kernel_size ** 2
        self.mlp = nn.Sequential(nn.Linear(inputs, shape.hidden), nn.ReLU(), nn.Linear(shape.hidden, shape.hidden),
                                 nn.ReLU(), nn.Linear(shape.hidden, shape.kernel_size ** 2))

    def forward(self, maps: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
        k = self.shape.kernel_size
        x = torch.cat([maps.flatten(1), KERNEL_GAIN * kernels.flatten(1)], dim=1)
        return odd(self.mlp(x).reshape(-1, k, k) / KERNEL_GAIN)


class DirectionWeights(NetworkWeights[DirectionShape, DirectionNet]):
    """A trained ``DirectionNet``: its shape, state and the settings that made it (``train-direction``)."""

    FORMAT = FORMAT
    WHAT = "direction-network"
    SHAPE = DirectionShape
    NET = DirectionNet


def odd_part(net: DirectionNet, image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """K x K float64: the odd part ``net`` reads for ``kernel`` (K x K, the network's grid, point-symmetric, sums to
    1) from ``image`` (HxWx3 in [0, 1])."""
    amap = torch.from_numpy(asymmetry_map(image, net.shape.radius))[None]
    with torch.no_grad():
        o = net(amap, torch.from_numpy(kernel.astype(np.float32))[None])[0]
    return o.double().numpy()


def with_odd_part(kernel: np.ndarray, image: np.ndarray, net: DirectionNet, gate: float = GATE
                  ) -> tuple[np.ndarray, float]:
    """(``kernel`` with its odd part added where that part's absolute sum exceeds ``gate``, else ``kernel``
    unchanged; the absolute sum). ``kernel`` is on the network's grid, non-negative, summing to 1; so is the
    result (negative taps of kernel + odd part are clipped, the rest renormalised)."""
    o = odd_part(net, image, kernel)
    strength = float(np.abs(o).sum())
    if strength <= gate:
        return kernel, strength
    out = np.clip(kernel + o, 0, None)
    return out / out.sum(), strength
