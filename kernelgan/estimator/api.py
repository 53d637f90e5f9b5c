"""The entry points of kernel estimation: ``estimate_kernel`` / ``estimate_kernels`` with a configuration (default:
the default estimator's), dispatched to the estimator that configuration describes (``estimator_for``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..device import resolve_device
from ..errors import InputError, KernelganError
from .base import EstimateResult, Estimator, ProgressFn
from .config import EstimatorConfig
from .gan import KernelGAN
from .learned import LearnedPrior
from .registry import DEFAULT, get_estimator


def estimator_for(config: EstimatorConfig) -> Estimator:
    """The learned prior for a configuration without GAN steps whose early prior is learned; KernelGAN otherwise."""
    if config.iters == 0 and config.early_prior == "learned":
        return LearnedPrior(config)
    return KernelGAN(config)


def weight_files(config: EstimatorConfig) -> list[Path]:
    """The weights files an estimate with ``config`` reads; their content is part of what a saved result depends on."""
    return estimator_for(config).weight_files()


def estimate_kernel(image: np.ndarray, scale: int = 2, config: EstimatorConfig | None = None, seed: int = 0,
                    device: str = "auto", progress: ProgressFn | None = None) -> EstimateResult:
    """Estimate the downscaling kernel of ``image`` (HxWx3 float32 in [0, 1]; grayscale HxW is expanded) with
    ``config`` (default: the default estimator's, see ``registry``).

    The x2 kernel is estimated; at ``scale`` 4 the analytic x4 kernel is derived from it. A GAN run that diverges
    (NaN, collapse) is retried with another seed, up to ``config.max_retries`` times; if all fail, the error
    is raised rather than a broken kernel returned.
    """
    result = estimate_kernels([image], scale, config, seed, device, progress)[0]
    if isinstance(result, KernelganError):
        raise result
    return result


def estimate_kernels(images: list[np.ndarray], scale: int = 2, config: EstimatorConfig | None = None, seed: int = 0,
                     device: str = "auto", progress: ProgressFn | None = None) -> list[EstimateResult | KernelganError]:
    """``estimate_kernel`` for several images at once (KernelGAN trains their runs together); an image that
    cannot be estimated gets its error in its place, the others go on."""
    if scale not in (2, 4):
        raise InputError(f"scale must be 2 or 4, got {scale}")
    config = config or get_estimator(DEFAULT).config
    return estimator_for(config).estimate(images, scale, seed, resolve_device(device), progress)
