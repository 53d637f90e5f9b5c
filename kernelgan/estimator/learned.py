"""The learned kernel prior as an estimator (the default): the photo's spectra in, its kernel out, no training.

``learned_kernel`` is also the early prior that ``prior+kernelgan`` pulls KernelGAN's G towards (``train``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError, KernelganError
from ..kernel_shape import kernel_shape
from ..kernels import bicubic_kernel, fit_size, normalise
from ..resamplers import resampler_kernel
from ..rng import torch_threads
from .base import EstimateResult, ProgressFn, as_rgb, finish_kernel
from .confidence import Confidence, confidence_file_for, confidence_network_for, predict_confidence
from .config import EstimatorConfig
from .direction import DirectionWeights, with_odd_part
from .plain_sampling import RESAMPLER, PlainSamplingWeights, plain_sampling_probability
from .prior import PriorPrediction, load_network, predict_spectra, shipped_weights_path, view_size_spread
from .spectrum import view_spectra

SOFTWARE_MATLAB = "matlab-bicubic"  # the software resamplers the detectors name (``software_resampler``)
SOFTWARE_PLAIN = "plain-sampling"
LOW_CONFIDENCE_SIZE_ERROR = 0.4  # predicted RMS log size error (about 50% in size) above which an estimate is flagged
OUTSIDE_MASS = 0.005  # a wide network's kernel keeps its larger grid only when more than this share lies outside G's


def outside_mass(kernel: np.ndarray, size: int) -> float:
    """The share (0..1) of ``kernel``'s absolute mass (KxK, K odd, centred) outside the central ``size x size``
    (0 when K <= ``size``)."""
    total = float(np.abs(kernel).sum())
    if kernel.shape[0] <= size or total == 0:
        return 0.0
    return (total - float(np.abs(fit_size(kernel, size)).sum())) / total


def on_smallest_grid(kernel: np.ndarray, size: int) -> np.ndarray:
    """``kernel`` (KxK, K >= ``size``, both odd, centred) cropped to ``size x size`` and renormalised when no more
    than ``OUTSIDE_MASS`` of its absolute mass lies outside that grid (most photos: a wide network's kernel is
    saved on the usual grid); otherwise ``kernel`` as it is."""
    if kernel.shape[0] > size and outside_mass(kernel, size) <= OUTSIDE_MASS:
        return normalise(fit_size(kernel, size))
    return kernel


def _weights_path(setting: str, shipped: str) -> Path | None:
    """One weights setting: "" none, "shipped" the shipped file ``shipped``, "shipped:NAME" the shipped file NAME,
    anything else a path."""
    if not setting:
        return None
    if setting == "shipped" or setting.startswith("shipped:"):
        return shipped_weights_path(setting.partition(":")[2] or shipped)
    return Path(setting)


def prior_weight_paths(config: EstimatorConfig) -> tuple[list[Path], Path | None]:
    """The files the learned prior reads for ``config``: its kernel networks (``prior_weights``, comma-separated:
    a panel; "" -> the shipped default) and its software detector (None: none)."""
    settings = [s.strip() for s in config.prior_weights.split(",")] if config.prior_weights else [""]
    networks = [_weights_path(s, "prior") or shipped_weights_path("prior") for s in settings]
    return networks, _weights_path(config.software_detector, "software")


def panel_choice(errors: list[float], margin: float, outside: list[float] | None = None) -> int:
    """The panel member for a photo. With ``outside`` (each member's share of kernel mass outside G's grid, 0..1):
    the first member whose kernel does not fit that grid (share > ``OUTSIDE_MASS``), as the members on G's grid
    cannot give such a kernel. Otherwise the member whose predicted size error (``errors``) is smallest once every
    member after the first is handicapped by ``margin`` (ties: the earlier member)."""
    for i, share in enumerate(outside or []):
        if share > OUTSIDE_MASS:
            return i
    return int(np.argmin([e + (margin if i else 0.0) for i, e in enumerate(errors)]))


@dataclass
class _Judged:
    """One network's kernel for a photo and, where that network has a confidence network, its predicted error."""

    kernel: np.ndarray  # K x K, non-negative, sums to 1
    confidence: Confidence | None


def _judge(prediction: PriorPrediction, network: Path, size: int, device: torch.device | str) -> _Judged:
    kernel = normalise(fit_size(prediction.kernel(1.0), size))  # the network's own kernel, on the common grid
    judge = confidence_network_for(network, device)
    confidence = None if judge is None else predict_confidence(judge, prediction.spectra, prediction.view_kernels)
    return _Judged(kernel, confidence)


def learned_kernel(image: np.ndarray, config: EstimatorConfig,
                   device: torch.device | str = "cpu") -> tuple[np.ndarray, dict[str, float]]:
    """The prior's KxK kernel for ``image`` (HxWx3 in [0, 1]) and what is known of its quality; K is G's kernel
    size (13), or a wide network's larger grid where the kernel needs it (``on_smallest_grid``).

    The plain-sampling kernel of bicubic when the plain-sampling detector is sure enough (``plain_sampling``),
    MATLAB's bicubic kernel when the software detector is. Otherwise the kernel network's; with a panel of
    networks (``prior_weights`` "A,B,C", each with its confidence network) the kernel of the member whose
    confidence predicts the smallest size error, the others' predictions raised by ``panel_margin`` so that the
    first member keeps the photo unless another is clearly surer, or, with ``panel_wide_gate``, a wide member whose
    kernel does not fit G's grid (``panel_choice``; ``prior_member``: the index in the panel). Quality: how much the
    views disagree, the detector's probability and, where a confidence network judges the kernel, the predicted
    size error (RMS of log size; its bias), a 90% interval of the true size (px²), the predicted re-degradation
    PSNR and ``low_confidence`` (1.0 when the predicted size error exceeds ``LOW_CONFIDENCE_SIZE_ERROR``); with a
    wide network, ``outside_mass``: the share of the chosen kernel outside G's grid. With a direction network
    (``direction_weights``), a kernel on G's grid gets the odd part the photo shows where it is large enough
    (``direction.with_odd_part``); ``odd_part``: that part's absolute sum, ``odd_part_added``: 1.0 if added."""
    if config.prior_views not in (1, 8):
        raise InputError(f"prior_views must be 1 or 8, got {config.prior_views}")
    quality: dict[str, float] = {}
    plain = plain_sampling_weights_path(config)
    probability = None if plain is None else plain_sampling_probability(PlainSamplingWeights.cached_network(plain), image)
    if probability is not None:
        quality["plain_sampling_probability"] = probability
        if software_resampler(quality, config) == SOFTWARE_PLAIN:
            return fit_size(software_kernel(SOFTWARE_PLAIN, 2), config.kernel_size), quality
    networks, detector = prior_weight_paths(config)
    spectra = view_spectra(image, config.prior_views, device)
    first = predict_spectra(spectra, networks[0], device, detector)
    # the common grid: G's, or a wide network's where larger (networks load once per process)
    size = max(config.kernel_size, *(load_network(n, device).shape.kernel_size for n in networks))
    if first.software_probability is not None:
        quality["software_downscaling_probability"] = first.software_probability
        if first.software_probability > config.software_threshold:
            quality["view_size_spread"] = view_size_spread(first.kernels)
            return on_smallest_grid(normalise(fit_size(first.kernel(config.software_threshold), size)),
                                    config.kernel_size), quality
    predictions = [first, *(predict_spectra(spectra, n, device) for n in networks[1:])]
    judged = [_judge(p, n, size, device) for p, n in zip(predictions, networks, strict=True)]
    if len(judged) > 1 and any(j.confidence is None for j in judged):
        lacking = [str(n) for n, j in zip(networks, judged, strict=True) if j.confidence is None]
        raise InputError(f"a panel of prior networks needs a confidence network for each; none for {', '.join(lacking)}")
    errors = [0.0 if j.confidence is None else j.confidence.size_error for j in judged]
    outside = [outside_mass(j.kernel, config.kernel_size) for j in judged]
    member = panel_choice(errors, config.panel_margin, outside if config.panel_wide_gate else None)
    chosen = judged[member]
    quality["view_size_spread"] = view_size_spread(predictions[member].kernels)
    if len(judged) > 1:
        quality["prior_member"] = float(member)
    if size > config.kernel_size:
        quality["outside_mass"] = outside[member]
    if chosen.confidence is not None:
        confidence = chosen.confidence
        low, high = confidence.size_interval(kernel_shape(chosen.kernel).size)
        quality.update(predicted_size_error=confidence.size_error, size_error_bias=confidence.size_error_mean,
                       true_size_low=low, true_size_high=high, predicted_redeg_psnr=confidence.redeg_psnr,
                       low_confidence=float(confidence.size_error > LOW_CONFIDENCE_SIZE_ERROR))
    kernel = on_smallest_grid(chosen.kernel, config.kernel_size)
    direction = direction_weights_path(config)
    if direction is not None:
        net = DirectionWeights.cached_network(direction)
        if kernel.shape[0] == net.shape.kernel_size:  # not a wide kernel (nor MATLAB's, returned above)
            kernel, strength = with_odd_part(kernel, image, net, config.direction_gate)
            quality.update(odd_part=strength, odd_part_added=float(strength > config.direction_gate))
    return kernel, quality


def direction_weights_path(config: EstimatorConfig) -> Path | None:
    """The direction network ``config`` asks for (``direction_weights``, read as ``_weights_path`` reads a setting)."""
    return _weights_path(config.direction_weights, "direction")


def plain_sampling_weights_path(config: EstimatorConfig) -> Path | None:
    """The plain-sampling detector ``config`` asks for (``plain_sampling_detector``, read as ``_weights_path`` does)."""
    return _weights_path(config.plain_sampling_detector, "plain_sampling")


def software_resampler(quality: dict[str, float], config: EstimatorConfig) -> str | None:
    """The software resampler ``learned_kernel`` named for a photo from its ``quality``: ``SOFTWARE_PLAIN`` (the
    plain-sampling detector was sure), ``SOFTWARE_MATLAB`` (the software detector was: ``imresize``), or None."""
    if quality.get("plain_sampling_probability", 0.0) > config.plain_sampling_threshold:
        return SOFTWARE_PLAIN
    if quality.get("software_downscaling_probability", 0.0) > config.software_threshold:
        return SOFTWARE_MATLAB
    return None


def software_detected(quality: dict[str, float], config: EstimatorConfig) -> bool:
    """Whether ``learned_kernel`` called the photo shrunk in software (``software_resampler`` names which)."""
    return software_resampler(quality, config) is not None


def software_kernel(resampler: str, scale: int) -> np.ndarray:
    """The exact kernel (odd-sized, sum 1, negative lobes kept) of a resampler ``software_resampler`` names, at
    ``scale``: at x4 a resampler's own x4 kernel (its filter stretched by 4, or sampled at the x4 LR grid), not
    the x2 kernel applied twice."""
    if resampler == SOFTWARE_PLAIN:
        return resampler_kernel(RESAMPLER, scale, antialias=False)
    return bicubic_kernel(scale)


class LearnedPrior:
    """The estimator of the ``prior*`` configurations (``early_prior="learned"``, no GAN steps)."""

    def __init__(self, config: EstimatorConfig):
        self.config = config

    def weight_files(self) -> list[Path]:
        networks, detector = prior_weight_paths(self.config)
        confidences = [confidence_file_for(n) if n.is_file() else None for n in networks]
        return [p for p in (*networks, detector, *confidences, direction_weights_path(self.config),
                            plain_sampling_weights_path(self.config)) if p is not None]

    def estimate(self, images: list[np.ndarray], scale: int, seed: int, device: torch.device,
                 progress: ProgressFn | None) -> list[EstimateResult | KernelganError]:
        """Each image on its own (deterministic: ``seed`` is only recorded); ``seconds`` is each image's share."""
        start = time.perf_counter()
        results: list[EstimateResult | KernelganError] = []
        with torch_threads(1):
            for image in images:
                try:
                    target, quality = learned_kernel(as_rgb(image, self.config), self.config, device)
                    # negative lobes only on a software resampler's kernel: centring an optical kernel by a cubic
                    # spline can dip a hair under zero near its rim
                    resampler = software_resampler(quality, self.config)
                    k2, k4 = finish_kernel(target, self.config, scale,
                                           self.config.keep_negative and resampler is not None)
                    if k4 is not None and resampler is not None:
                        k4 = software_kernel(resampler, 4)
                    results.append(EstimateResult(k2, k4, target, seed, [{"seed": seed, "rejected": None}],
                                                  quality=quality))
                except KernelganError as exc:
                    results.append(exc)
        share = (time.perf_counter() - start) / max(len(images), 1)
        for result in results:
            if isinstance(result, EstimateResult):
                result.seconds = share
        return results
