"""Kernel families with known generators, and the best image-blind kernel for each.

A *family* draws random x2 kernels (float64, non-negative except ``bicubic``, summing to 1, odd-sized,
centred for x2 as in ``kernels``). The families cover what a photo's downscaling kernel may be:

- ``div2krk``: the DIV2KRK protocol (anisotropic Gaussians, variances U(0.6, 5), multiplicative noise);
- ``sharp``: a well-focused camera, anisotropic Gaussians with variances U(0.2, 1);
- ``bicubic``: software downscaling, MATLAB's antialiased bicubic ``imresize`` (one kernel, negative lobes);
- ``motion``: a straight streak 3-9 px long at a random angle, seen through a slightly soft lens;
- ``defocus``: a uniform disk of radius 1-3.5 px, seen through a slightly soft lens.

Camera families (``CAMERA``: in the prior's training since 2026-12-02, which draws from ``TRAINING``; the
suite's ``--set realistic`` reports them on photos the prior never saw):

- ``lens``: a lens PSF from pupil-function optics: a circular pupil with random defocus, astigmatism, coma and
  spherical aberration (Zernike terms, in waves), its diffraction pattern computed 4x finer than the pixels,
  integrated over each pixel and through a 4-spot optical low-pass filter of random strength;
- ``shake``: camera shake, a jerky random walk (momentum, random kicks) of 2-7 px with uneven exposure along
  the path, seen through a slightly soft lens.

Held out of all training, for reporting: ``tremor`` (hand tremor, smooth oscillating paths) and ``software``
(``SOFTWARE``: the exact x2 kernel of a random software resampler, ``resamplers``; negative lobes kept).

Wide families (``WIDE``, on a ``WIDE_SIZE`` grid instead of ``SIZE``): the shake real hands reach, longer than
the 11x11 grid holds: ``shake-wide`` (the shake walk, 6-15 px; in the ``camera-wide`` training recipe) and
``tremor-wide`` (the tremor paths, 6-16 px; held out, for reporting).

The *fixed kernel* of a family is the isotropic Gaussian whose variance maximises the mean kernel PSNR over
kernels drawn from the family's own generator: the best an estimator that never looks at the image can do.
An estimate is worth computing only where it beats that kernel.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
from scipy import signal

from .kernels import (
    analytic_x4,
    anisotropic_gaussian,
    bicubic_kernel,
    centre_kernel,
    fit_size,
    normalise,
    random_kernel,
    trim_rim,
    wanted_centre,
)
from .metrics import psnr_from_mse
from .resamplers import PLAIN_SAMPLING, RESAMPLERS, resampler_kernel

SIZE = 11  # grid of the generated kernels (DIV2KRK's x2 size)
WIDE_SIZE = 19  # grid of the wide families' kernels (shake up to 15-16 px)
SOFT_LENS_VAR = 0.25  # variance of the slight optical blur under motion and defocus kernels


def _soft(k: np.ndarray) -> np.ndarray:
    """Correlate with a small isotropic Gaussian (a lens that is not perfect) and centre."""
    c = 2
    g = anisotropic_gaussian(5, SOFT_LENS_VAR, SOFT_LENS_VAR, 0.0, (c, c))
    return centre_kernel(signal.convolve2d(k, g, mode="same"), 2)


def _div2krk(rng: np.random.Generator) -> np.ndarray:
    return random_kernel(rng, 2, SIZE)


def _sharp(rng: np.random.Generator) -> np.ndarray:
    return random_kernel(rng, 2, SIZE, var_range=(0.2, 1.0), noise=0.0)


def _bicubic(rng: np.random.Generator) -> np.ndarray:
    return fit_size(bicubic_kernel(2), SIZE)


def _splat(ys: np.ndarray, xs: np.ndarray, weights: np.ndarray, size: int = SIZE) -> np.ndarray:
    """``size x size`` kernel of points (ys, xs) with ``weights``, each spread bilinearly over its 4 nearest taps."""
    k = np.zeros((size, size))
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    fy, fx = ys - y0, xs - x0
    for dy, dx, w in ((0, 0, (1 - fy) * (1 - fx)), (1, 0, fy * (1 - fx)), (0, 1, (1 - fy) * fx), (1, 1, fy * fx)):
        np.add.at(k, (np.clip(y0 + dy, 0, size - 1), np.clip(x0 + dx, 0, size - 1)), w * weights)
    return normalise(k)


def _motion(rng: np.random.Generator) -> np.ndarray:
    length, angle = rng.uniform(3.0, 9.0), rng.uniform(0, np.pi)
    c = wanted_centre(SIZE, 2)
    t = np.linspace(-0.5, 0.5, 200) * length
    return _soft(_splat(c + t * np.sin(angle), c + t * np.cos(angle), np.ones(len(t))))


def _defocus(rng: np.random.Generator) -> np.ndarray:
    radius = rng.uniform(1.0, 3.5)
    c = wanted_centre(SIZE, 2)
    sub = (np.arange(SIZE * 8) + 0.5) / 8 - 0.5  # 8x8 supersampling of each tap
    ys, xs = np.meshgrid(sub, sub, indexing="ij")
    inside = ((ys - c) ** 2 + (xs - c) ** 2 <= radius ** 2).astype(np.float64)
    return _soft(normalise(inside.reshape(SIZE, 8, SIZE, 8).mean(axis=(1, 3))))


LENS_OVERSAMPLE = 4  # diffraction computed on a grid 4x finer than the pixels, then integrated over each pixel
LENS_FFT = 128


def _lens(rng: np.random.Generator) -> np.ndarray:
    n, o = LENS_FFT, LENS_OVERSAMPLE
    airy = rng.uniform(0.3, 0.9)  # first-zero radius of the in-focus Airy pattern, in pixels
    radius = 1.22 * n / (2 * o * airy)  # pupil radius in frequency samples that gives it
    f = np.fft.fftfreq(n) * n
    u, v = np.meshgrid(f, f, indexing="ij")
    rho, theta = np.hypot(u, v) / radius, np.arctan2(v, u)
    pupil = rho <= 1.0
    defocus, astig, coma, spherical = (rng.uniform(0, 1.2), rng.uniform(-0.4, 0.4, 2), rng.uniform(-0.3, 0.3, 2),
                                       rng.uniform(-0.25, 0.25))
    waves = (defocus * (2 * rho ** 2 - 1) + astig[0] * rho ** 2 * np.cos(2 * theta)
             + astig[1] * rho ** 2 * np.sin(2 * theta) + (3 * rho ** 3 - 2 * rho) * (coma[0] * np.cos(theta)
             + coma[1] * np.sin(theta)) + spherical * (6 * rho ** 4 - 6 * rho ** 2 + 1))
    psf = np.abs(np.fft.fftshift(np.fft.ifft2(pupil * np.exp(2j * np.pi * waves)))) ** 2
    olpf = int(rng.integers(0, o + 1))  # spot separation of the anti-aliasing filter, in fine samples (0: none)
    psf = np.mean([np.roll(psf, (dy, dx), axis=(0, 1)) for dy in (0, olpf) for dx in (0, olpf)], axis=0)
    side = SIZE * o
    cy, cx = np.unravel_index(np.argmax(psf), psf.shape)
    window = np.roll(psf, (side // 2 - cy, side // 2 - cx), axis=(0, 1))[:side, :side]
    return centre_kernel(normalise(window.reshape(SIZE, o, SIZE, o).sum(axis=(1, 3))), 2)


def _shake_walk(rng: np.random.Generator, extents: tuple[float, float], size: int) -> np.ndarray:
    """Camera shake on a ``size`` grid: a jerky random walk (momentum, random kicks) scaled to an extent drawn
    from ``extents`` px, with uneven exposure along the path, seen through a slightly soft lens."""
    steps = 400
    velocity, position, path = rng.standard_normal(2), np.zeros(2), []
    for _ in range(steps):
        kick = rng.standard_normal(2) * (3.0 if rng.random() < 0.02 else 0.3)  # now and then a jerk
        velocity = 0.95 * velocity + kick
        position = position + velocity * 0.05
        path.append(position.copy())
    track = np.array(path)
    extent = rng.uniform(*extents)
    track = (track - track.mean(axis=0)) * extent / max(np.ptp(track, axis=0).max(), 1e-9)
    exposure = rng.gamma(0.5, size=steps)  # uneven: the camera lingers at some points
    c = wanted_centre(size, 2)
    return _soft(_splat(track[:, 0] + c, track[:, 1] + c, exposure, size))


def _tremor_path(rng: np.random.Generator, extents: tuple[float, float], size: int) -> np.ndarray:
    """Hand tremor on a ``size`` grid: a slow drift plus 2-3 sines per axis, scaled to an extent drawn from
    ``extents`` px, even exposure, through a slightly soft lens."""
    t = np.linspace(0, 1, 400)
    track = np.zeros((len(t), 2))
    for axis in range(2):
        track[:, axis] = rng.normal() * t  # slow drift
        for _ in range(int(rng.integers(2, 4))):
            track[:, axis] += rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * rng.uniform(0.5, 3.0) * t + rng.uniform(0, 2 * np.pi))
    extent = rng.uniform(*extents)
    track = (track - track.mean(axis=0)) * extent / max(np.ptp(track, axis=0).max(), 1e-9)
    c = wanted_centre(size, 2)
    return _soft(_splat(track[:, 0] + c, track[:, 1] + c, np.ones(len(t)), size))


def _shake(rng: np.random.Generator) -> np.ndarray:
    return _shake_walk(rng, (2.0, 7.0), SIZE)


def _tremor(rng: np.random.Generator) -> np.ndarray:
    return _tremor_path(rng, (2.0, 8.0), SIZE)


def _shake_wide(rng: np.random.Generator) -> np.ndarray:
    return _shake_walk(rng, (6.0, 15.0), WIDE_SIZE)


def _tremor_wide(rng: np.random.Generator) -> np.ndarray:
    return _tremor_path(rng, (6.0, 16.0), WIDE_SIZE)


def _combo(rng: np.random.Generator) -> np.ndarray:
    first = (_lens, _shake, _defocus)[int(rng.integers(3))](rng)
    second = (_div2krk_small, _lens, _shake)[int(rng.integers(3))](rng)
    both = signal.convolve2d(first, second, mode="full")  # 21 x 21; centred, cropped to SIZE, centred again
    return centre_kernel(normalise(fit_size(centre_kernel(both, 2), SIZE)), 2)


def _software(rng: np.random.Generator) -> np.ndarray:
    """A software resampler's exact x2 kernel (``resamplers``; its own odd size, up to 13x13 for Lanczos-3): one of
    its filters drawn uniformly, antialiased, or for the interpolating ones plain sampling with probability 1/4;
    negative lobes kept."""
    name = RESAMPLERS[int(rng.integers(len(RESAMPLERS)))]
    antialias = name not in PLAIN_SAMPLING or rng.random() < 0.75
    return resampler_kernel(name, 2, antialias)


def _div2krk_small(rng: np.random.Generator) -> np.ndarray:
    return random_kernel(rng, 2, SIZE, var_range=(0.2, 2.0), noise=0.0)


GENERATORS: dict[str, Callable[[np.random.Generator], np.ndarray]] = {
    "div2krk": _div2krk, "sharp": _sharp, "bicubic": _bicubic, "motion": _motion, "defocus": _defocus,
}
FAMILIES = tuple(GENERATORS)  # the classical five: the suite's default families and the mixture ``all``
CAMERA: dict[str, Callable[[np.random.Generator], np.ndarray]] = {"lens": _lens, "shake": _shake, "combo": _combo}
TRAINING = (*FAMILIES, *CAMERA)  # what the prior is trained on (``train-prior``'s default)
HELD_OUT: dict[str, Callable[[np.random.Generator], np.ndarray]] = {"tremor": _tremor}
SOFTWARE: dict[str, Callable[[np.random.Generator], np.ndarray]] = {"software": _software}  # reporting only
WIDE: dict[str, Callable[[np.random.Generator], np.ndarray]] = {"shake-wide": _shake_wide, "tremor-wide": _tremor_wide}
_ALL_GENERATORS = {**GENERATORS, **CAMERA, **HELD_OUT, **SOFTWARE, **WIDE}
ALL = "all"  # the mixture of every family, equally weighted: the fixed kernel for a user who knows nothing


def check_family(name: str) -> str:
    if name not in _ALL_GENERATORS and name != ALL:
        from .errors import InputError

        known = ", ".join((*_ALL_GENERATORS, ALL))
        raise InputError(f"unknown kernel family {name!r} (use one of {known})")
    return name


def family_size(family: str) -> int:
    """The grid of ``family``'s kernels: ``WIDE_SIZE`` for the wide families, else ``SIZE`` (``software``'s
    kernels have their own sizes, at most SIZE + 2, and are compared on SIZE)."""
    return WIDE_SIZE if family in WIDE else SIZE


def sample_kernel(family: str, rng: np.random.Generator) -> np.ndarray:
    """One random x2 kernel (``family_size`` square; ``software``: the resampler's own size) of ``family`` (``all``: one of
    ``FAMILIES`` drawn uniformly first; the camera, held-out and software families are drawn only by name)."""
    check_family(family)
    if family == ALL:
        family = FAMILIES[rng.integers(len(FAMILIES))]
    return _ALL_GENERATORS[family](rng)


def isotropic_gaussian(var: float, size: int = SIZE) -> np.ndarray:
    """Centred (x2) isotropic Gaussian of variance ``var`` per axis on a ``size x size`` grid."""
    c = wanted_centre(size, 2)
    return anisotropic_gaussian(size, var, var, 0.0, (c, c))


VARIANCE_GRID = tuple(float(v) for v in np.round(0.1 * 10 ** (np.arange(105) / 40), 4))  # 0.1 to 39.8, 81 to 10


@functools.cache
def fixed_kernel_variance(family: str, n: int = 2000, seed: int = 0) -> float:
    """Variance of the isotropic Gaussian with the highest mean kernel PSNR over ``n`` kernels of ``family``
    (the grid ``VARIANCE_GRID``, up to 10 for the families on SIZE grids; kernel PSNR as ``kernels.kernel_psnr``,
    both kernels centred, on the family's grid)."""
    check_family(family)
    rng = np.random.default_rng(seed)
    size = family_size(family)
    grid = VARIANCE_GRID if size > SIZE else VARIANCE_GRID[:81]
    truths = np.stack([centre_kernel(fit_size(sample_kernel(family, rng), size), 2) for _ in range(n)])  # n x S x S
    candidates = np.stack([isotropic_gaussian(v, size) for v in grid])  # m x S x S (already centred)
    mse = ((candidates[:, None] - truths[None]) ** 2).mean(axis=(2, 3))  # m x n
    mean_psnr = np.vectorize(lambda e: psnr_from_mse(float(e), 1.0))(mse).mean(axis=1)
    return grid[int(np.argmax(mean_psnr))]


def fixed_kernel(family: str, scale: int = 2) -> np.ndarray:
    """The best image-blind x2 kernel of ``family`` (see ``fixed_kernel_variance``), on its ``family_size`` grid,
    centred; at ``scale`` 4 its analytic x4 kernel (the family's x4 kernels are their x2 kernels applied twice)."""
    k2 = isotropic_gaussian(fixed_kernel_variance(family), family_size(family))
    return trim_rim(analytic_x4(k2)) if scale == 4 else k2


def truth_grid(k: np.ndarray, size: int, keep_negative: bool = False) -> np.ndarray:
    """``k`` centred and fitted to ``size x size`` (for comparing or training on a common grid); negative lobes
    clipped unless ``keep_negative``."""
    return normalise(fit_size(centre_kernel(k, 2, keep_negative), size))
