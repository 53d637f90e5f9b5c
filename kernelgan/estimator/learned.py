"""The learned kernel prior as an estimator (the default): the photo's spectra in, its kernel out, no training.

``learned_kernel`` is also the early prior that ``prior+kernelgan`` pulls KernelGAN's G towards (``train``).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError, KernelganError
from ..kernel_shape import kernel_shape
from ..kernels import fit_size, normalise
from ..rng import torch_threads
from .base import EstimateResult, ProgressFn, as_rgb, finish_kernel
from .confidence import confidence_file_for, confidence_network_for, predict_confidence
from .config import EstimatorConfig
from .prior import predict_spectra, shipped_weights_path, view_size_spread
from .spectrum import view_spectra

LOW_CONFIDENCE_SIZE_ERROR = 0.4  # predicted RMS log size error (about 50% in size) above which an estimate is flagged


def _weights_path(setting: str, shipped: str) -> Path | None:
    """A weights setting of ``EstimatorConfig``: "" none, "shipped" the shipped file ``shipped``, "shipped:NAME" the
    shipped file NAME, anything else a path."""
    if not setting:
        return None
    if setting == "shipped" or setting.startswith("shipped:"):
        return shipped_weights_path(setting.partition(":")[2] or shipped)
    return Path(setting)


def prior_weight_paths(config: EstimatorConfig) -> tuple[Path, Path | None]:
    """The files the learned prior reads for ``config``: its kernel network ("" -> the shipped default) and its
    software detector (None: none)."""
    return (_weights_path(config.prior_weights, "prior") or shipped_weights_path("prior"),
            _weights_path(config.software_detector, "software"))


def learned_kernel(image: np.ndarray, config: EstimatorConfig,
                   device: torch.device | str = "cpu") -> tuple[np.ndarray, dict[str, float]]:
    """The prior's KxK kernel for ``image`` (HxWx3 in [0, 1]; MATLAB's bicubic kernel when the software detector
    is sure enough) and what is known of its quality: how much the views disagree, the detector's probability and,
    where a confidence network was trained for these prior weights (``confidence``), the predicted size error
    (RMS of log size; its bias), a 90% interval of the true size (px²), the predicted re-degradation PSNR and
    ``low_confidence`` (1.0 when the predicted size error exceeds ``LOW_CONFIDENCE_SIZE_ERROR``)."""
    if config.prior_views not in (1, 8):
        raise InputError(f"prior_views must be 1 or 8, got {config.prior_views}")
    network, detector = prior_weight_paths(config)
    prediction = predict_spectra(view_spectra(image, config.prior_views, device), network, device, detector)
    quality: dict[str, float] = {"view_size_spread": view_size_spread(prediction.kernels)}
    software = False
    if prediction.software_probability is not None:
        quality["software_downscaling_probability"] = prediction.software_probability
        software = prediction.software_probability > config.software_threshold
    kernel = normalise(fit_size(prediction.kernel(config.software_threshold), config.kernel_size))
    judge = None if software else confidence_network_for(network, device)
    if judge is not None:  # the confidence judges the prior's own kernel, not MATLAB's
        confidence = predict_confidence(judge, prediction.spectra, prediction.view_kernels)
        low, high = confidence.size_interval(kernel_shape(kernel).size)
        quality.update(predicted_size_error=confidence.size_error, size_error_bias=confidence.size_error_mean,
                       true_size_low=low, true_size_high=high, predicted_redeg_psnr=confidence.redeg_psnr,
                       low_confidence=float(confidence.size_error > LOW_CONFIDENCE_SIZE_ERROR))
    return kernel, quality


class LearnedPrior:
    """The estimator of the ``prior*`` configurations (``early_prior="learned"``, no GAN steps)."""

    def __init__(self, config: EstimatorConfig):
        self.config = config

    def weight_files(self) -> list[Path]:
        network, detector = prior_weight_paths(self.config)
        confidence = confidence_file_for(network) if network.is_file() else None
        return [p for p in (network, detector, confidence) if p is not None]

    def estimate(self, images: list[np.ndarray], scale: int, seed: int, device: torch.device,
                 progress: ProgressFn | None) -> list[EstimateResult | KernelganError]:
        """Each image on its own (deterministic: ``seed`` is only recorded); ``seconds`` is each image's share."""
        start = time.perf_counter()
        results: list[EstimateResult | KernelganError] = []
        with torch_threads(1):
            for image in images:
                try:
                    target, quality = learned_kernel(as_rgb(image, self.config), self.config, device)
                    k2, k4 = finish_kernel(target, self.config, scale)
                    results.append(EstimateResult(k2, k4, target, seed, [{"seed": seed, "rejected": None}],
                                                  quality=quality))
                except KernelganError as exc:
                    results.append(exc)
        share = (time.perf_counter() - start) / max(len(images), 1)
        for result in results:
            if isinstance(result, EstimateResult):
                result.seconds = share
        return results
