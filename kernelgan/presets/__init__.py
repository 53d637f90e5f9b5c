"""Degradation presets for ``kernelgan degrade``: classical (one known kernel), varying (a known kernel map:
blur that changes across the picture), BSRGAN, Real-ESRGAN.

Each preset maps (HR with sides multiples of ``scale``, scale, generator) to an LR image of exactly
HR/scale, the true kernel when the blur is a single known kernel (else None), the true kernel map when it is a
known map, and the list of random choices.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..kernels import random_kernel
from ..synth import degrade as classical_degrade
from . import bsrgan, ops, realesrgan, varying

PRESETS = ("classical", "varying", "bsrgan", "realesrgan")


@dataclass
class Degraded:
    lr: np.ndarray  # float32 HxWx3 in [0, 1]
    true_kernel: np.ndarray | None  # only for the classical preset
    choices: list[dict] = field(default_factory=list)
    true_map: np.ndarray | None = None  # only for the varying preset: rows x cols x K x K at the scale


def classical(hr: np.ndarray, scale: int, rng: np.random.Generator, kernel: np.ndarray | None = None,
              noise: float = 0.0, jpeg_quality: int | None = None, noise_patch: np.ndarray | None = None,
              demosaic: bool = False) -> Degraded:
    """Blur with a family kernel (or ``kernel``), subsample, then optional Gaussian noise (8-bit sigma), a
    ``noise_patch`` (LR-sized, zero-mean: a camera's own noise, ``noise_patches``), a Bayer colour filter array
    with bilinear demosaicing (``demosaic``: after the noise, as a camera demosaics its noisy raw values) and
    JPEG."""
    choices: list[dict] = []
    if kernel is None:
        k2 = random_kernel(rng, scale=2)
        choices.append({"op": "blur", "kernel": "div2krk_random", "size": int(k2.shape[0])})
        lr, truth = classical_degrade(hr, scale, k2=k2)
    else:
        choices.append({"op": "blur", "kernel": "given", "size": int(kernel.shape[0])})
        lr, truth = classical_degrade(hr, scale, kernel=kernel)
    lr = lr.astype(np.float64)
    if noise > 0:
        choices.append({"op": "noise", "kind": "gaussian", "sigma": noise})
        lr = ops.gaussian_noise(lr, rng, noise, gray=False)
    if noise_patch is not None:
        choices.append({"op": "noise", "kind": "patch"})
        lr = lr + noise_patch
    if demosaic:
        choices.append({"op": "demosaic", "pattern": "RGGB", "method": "bilinear"})
        lr = ops.bayer_demosaic(lr)
    if jpeg_quality is not None:
        choices.append({"op": "jpeg", "quality": jpeg_quality})
        lr = ops.jpeg(np.clip(lr, 0, 1), jpeg_quality)
    return Degraded(np.clip(lr, 0, 1).astype(np.float32), truth, choices)


def apply_preset(name: str, hr: np.ndarray, scale: int, rng: np.random.Generator, **options) -> Degraded:
    """Degrade ``hr`` with preset ``name``; ``options`` (kernel, noise, jpeg_quality, demosaic) apply to 'classical',
    ``map_mode`` (``varying.MODES`` or ``EXTRA_MODES``, None: drawn) to 'varying'."""
    if name == "classical":
        return classical(hr, scale, rng, **options)
    if name == "varying":
        lr, true_map, choices = varying.degrade(hr, scale, rng, options.get("map_mode"))
        return Degraded(lr, None, choices, true_map)
    modules = {"bsrgan": bsrgan, "realesrgan": realesrgan}
    if name not in modules:
        raise InputError(f"unknown preset {name!r} (use {', '.join(PRESETS)})")
    module = modules[name]
    lr, choices = module.degrade(hr, scale, rng)
    return Degraded(lr, None, choices)


def first_order_kernel(name: str, choices: list[dict], hr_height: int) -> np.ndarray | None:
    """The blur kernel, in HR pixels, that a realistic preset's ``choices`` say it applied (``bsrgan``: both of its
    Gaussian blurs in HR pixels; ``realesrgan``: the first stage's kernel), for an HR photo ``hr_height`` rows
    high; None for other presets. The chains' resizes, second-order blur, noise and JPEG are not in it, so this is
    what a "true kernel" can mean for such a photo, not an exact model of it."""
    if name == "bsrgan":
        return bsrgan.blur_kernel(choices, hr_height)
    if name == "realesrgan":
        return realesrgan.first_kernel(choices)
    return None
