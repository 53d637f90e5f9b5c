"""Blur that changes across the picture: a random kernel map (``kernel_map``'s convention) of anisotropic
Gaussians of the DIV2KRK family's range, applied with ``kernel_map.degrade_with_map``.

Modes (MANet's, Liang et al. 2021, plus a two-sided one), one drawn per photo unless given:

- ``sides``: sharp on one side, wide on the other (left/right or top/bottom), changing smoothly between;
- ``rows``: size changing with the rows; ``rowscols``: with rows and columns together;
- ``orientation``: one elongated kernel whose direction turns across the picture;
- ``blocks``: a random DIV2KRK-family Gaussian per block of a 3x3 grid (no smooth change: the map's
  interpolation between the blocks' centres);
- ``camera`` (only when asked for, never drawn): as ``blocks``, with a kernel of a random camera family per block
  (``families.CAMERA``: lens PSFs, camera shake, their combinations), for out-of-family maps.

The true map is x2 kernels on a ``MAP_SIZE`` grid; at x4 each cell's kernel is its analytic x4 kernel (the x2
kernel applied twice), applied in one step.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..families import CAMERA, sample_kernel
from ..kernel_map import degrade_with_map, x4_map
from ..kernels import anisotropic_gaussian, fit_size, wanted_centre

MODES = ("sides", "rows", "rowscols", "orientation", "blocks")  # drawn when no mode is given
EXTRA_MODES = ("camera",)  # only when asked for
MAP_SIZE = 11  # the true x2 kernels' grid (the families' SIZE)
STEPS = 5  # cells per side of the smooth modes' grids
SHARP, WIDE = (0.3, 0.8), (3.0, 5.0)  # variance ranges (px²) of the sharp and the wide end


def _gaussian(var1: float, var2: float, theta: float) -> np.ndarray:
    c = wanted_centre(MAP_SIZE, 2)
    return anisotropic_gaussian(MAP_SIZE, var1, var2, theta, (c, c))


def _ramp(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n,) variances from a random sharp value to a random wide one, geometric (equal steps in log size)."""
    return np.geomspace(rng.uniform(*SHARP), rng.uniform(*WIDE), n)


def camera_kernel(rng: np.random.Generator) -> np.ndarray:
    """A kernel of a random camera family (``families.CAMERA``) on the ``MAP_SIZE`` grid."""
    families = list(CAMERA)
    return fit_size(sample_kernel(families[rng.integers(len(families))], rng), MAP_SIZE)


def random_map(rng: np.random.Generator, mode: str | None = None) -> tuple[np.ndarray, dict]:
    """A random x2 map (rows x cols x MAP_SIZE x MAP_SIZE) of ``mode`` (None: drawn) and its description."""
    mode = mode or MODES[rng.integers(len(MODES))]
    if mode not in MODES + EXTRA_MODES:
        raise InputError(f"unknown varying-blur mode {mode!r} (use {', '.join(MODES + EXTRA_MODES)})")
    n = STEPS
    if mode == "sides":
        ramp = _ramp(rng, n)[:: 1 if rng.random() < 0.5 else -1]
        kmap = np.stack([[_gaussian(v, v, 0.0) for v in ramp]])
        if rng.random() < 0.5:  # top/bottom instead of left/right
            kmap = kmap.transpose(1, 0, 2, 3)
    elif mode == "rows":
        kmap = np.stack([[_gaussian(v, v, 0.0)] for v in _ramp(rng, n)])
    elif mode == "rowscols":
        ramp = _ramp(rng, 2 * n - 1)
        kmap = np.stack([[_gaussian(ramp[i + j], ramp[i + j], 0.0) for j in range(n)] for i in range(n)])
    elif mode == "orientation":
        long, short = rng.uniform(2.5, 5.0), rng.uniform(0.4, 1.0)
        turn = rng.uniform(0, np.pi) + np.linspace(0, np.pi / 2, n)
        kmap = np.stack([[_gaussian(long, short, t) for t in turn]])
        if rng.random() < 0.5:
            kmap = kmap.transpose(1, 0, 2, 3)
    elif mode == "camera":
        kmap = np.stack([camera_kernel(rng) for _ in range(9)]).reshape(3, 3, MAP_SIZE, MAP_SIZE)
    else:
        draws = [(rng.uniform(0.6, 5.0), rng.uniform(0.6, 5.0), rng.uniform(0, np.pi)) for _ in range(9)]
        kmap = np.stack([_gaussian(*d) for d in draws]).reshape(3, 3, MAP_SIZE, MAP_SIZE)
    return kmap, {"op": "blur", "kernel": "varying", "mode": mode, "grid": [int(kmap.shape[0]), int(kmap.shape[1])]}


def degrade(hr: np.ndarray, scale: int, rng: np.random.Generator, mode: str | None = None
            ) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """(LR float32 in [0, 1], the true map at ``scale``, the choices) for ``hr`` (sides multiples of ``scale``)."""
    kmap, choice = random_map(rng, mode)
    if scale == 4:
        kmap = x4_map(kmap)
    lr = np.clip(degrade_with_map(hr, kmap, scale), 0, 1).astype(np.float32)
    return lr, kmap, [choice]
