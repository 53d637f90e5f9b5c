"""What every estimator returns, and the one small interface every estimator implements.

An estimator (``learned.LearnedPrior``, ``gan.KernelGAN``) is made from an ``EstimatorConfig`` and estimates
several images at once; ``api.estimator_for`` picks the one a configuration describes and ``registry`` names
the configurations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from ..errors import InputError, KernelganError
from ..kernels import analytic_x4, centre_kernel, clean_kernel, trim_rim
from .config import EstimatorConfig

ProgressFn = Callable[[int, int], None]


@dataclass
class EstimateResult:
    """The estimate of one image. Kernels are float64, non-negative, sum to 1, centred (docs/ARCHITECTURE.md, Conventions)."""

    kernel_x2: np.ndarray
    kernel_x4: np.ndarray | None
    raw_kernel: np.ndarray  # the estimator's kernel before post-processing (G's kernel at the last step)
    seed: int  # the seed of the run that produced the kernel
    attempts: list[dict] = field(default_factory=list)  # one entry per run: seed and why it was rejected
    seconds: float = 0.0
    losses: dict[str, float] = field(default_factory=dict)  # GAN: means over the last 10% of steps
    quality: dict[str, float] = field(default_factory=dict)


class Estimator(Protocol):
    """Images (HxWx3 float32 in [0, 1]) in, one ``EstimateResult`` per image out; an image that cannot be
    estimated gets its error in its place (the others go on). ``weight_files`` names the trained weights an
    estimate depends on (their content goes into a saved result's fingerprint)."""

    config: EstimatorConfig

    def weight_files(self) -> list[Path]: ...

    def estimate(self, images: list[np.ndarray], scale: int, seed: int, device: torch.device,
                 progress: ProgressFn | None) -> list[EstimateResult | KernelganError]: ...


def as_rgb(image: np.ndarray, config: EstimatorConfig) -> np.ndarray:
    """``image`` as float32 HxWx3 (grayscale expanded); InputError when a side is under ``config.g_crop``."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    h, w = image.shape[:2]
    if min(h, w) < config.g_crop:
        raise InputError(f"image is {w}x{h}; the estimator needs at least {config.g_crop} pixels a side")
    return image


def finish_kernel(raw: np.ndarray, config: EstimatorConfig, scale: int, keep_negative: bool | None = None
                  ) -> tuple[np.ndarray, np.ndarray | None]:
    """Post-processing (paper): zero negligible values, clip, renormalise, centre (negative lobes clipped unless
    ``keep_negative``, by default ``config.keep_negative``); x4 derived analytically."""
    keep = config.keep_negative if keep_negative is None else keep_negative
    k2 = centre_kernel(clean_kernel(raw, config.keep_largest) if config.clean else raw, 2, keep)
    return k2, (trim_rim(analytic_x4(k2)) if scale == 4 else None)


