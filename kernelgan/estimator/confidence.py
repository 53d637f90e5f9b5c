"""How sure the learned prior is: a second small network that reads the same spectrum as the prior and the
kernel the prior returned, and predicts how wrong that kernel is.

It predicts two things per view of a photo, averaged over the views:

- the size error, as a distribution: log(estimated size / true size) ~ N(mu, sigma²) (size: the trace of the
  kernel's covariance, ``kernel_shape``), from which come a predicted error (the root mean square,
  sqrt(mu² + sigma²)) and a 90% interval for the true size;
- the re-degradation PSNR (Y, dB): how close the photo's LR made with the estimate would be to the LR made with
  the true kernel.

It is trained (``kernelgan train-prior --confidence-for PRIOR.pt``) on fresh synthetic pairs from the training
photos, with the prior's own errors on them as targets, and belongs to that prior: a shipped file
(``weights/confidence*.pt``) records the SHA-256 of the prior it was trained for and is used only with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..network_files import NetworkWeights
from ..outputs import file_sha256
from .prior import KERNEL_SIZE, feature_count, spectrum_features

FORMAT = "kernelgan-confidence-1"
Z90 = 1.645  # two-sided 90% interval of a normal distribution


@dataclass(frozen=True)
class ConfidenceShape:
    channels: int = 32
    hidden: int = 128
    kernel_size: int = KERNEL_SIZE


class ConfidenceNet(nn.Module):
    """(log spectra B x 1 x BINS x BINS, the prior's kernels B x K x K) -> B x 3: mu and log sigma of the log
    size error (estimate over truth), and the re-degradation PSNR in dB / 10."""

    def __init__(self, shape: ConfidenceShape):
        super().__init__()
        self.shape = shape
        self.features = spectrum_features(shape.channels)
        inputs = feature_count(shape.channels) + shape.kernel_size ** 2
        self.head = nn.Sequential(nn.Linear(inputs, shape.hidden), nn.ReLU(), nn.Linear(shape.hidden, 3))

    def forward(self, spectra: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
        # kernels are scaled to about unit range so that they weigh like the spectral features
        k = kernels.flatten(1) * self.shape.kernel_size ** 2
        return self.head(torch.cat([self.features(spectra).flatten(1), k], dim=1))


class ConfidenceWeights(NetworkWeights[ConfidenceShape, ConfidenceNet]):
    """A trained ``ConfidenceNet``; its settings include "prior_sha256", the prior these weights judge."""

    FORMAT = FORMAT
    WHAT = "confidence weights"
    SHAPE = ConfidenceShape
    NET = ConfidenceNet


def shipped_confidence_paths() -> list[Path]:
    """The shipped confidence files (``weights/confidence*.pt``), one per prior that has one."""
    return sorted(Path(str(files("kernelgan.estimator") / "weights")).glob("confidence*.pt"))


_CACHE: dict[tuple[str, str], ConfidenceNet | None] = {}


def confidence_file_for(prior: Path) -> Path | None:
    """The shipped confidence file trained for the prior weights ``prior``, or None (e.g. ``prior-sharp``, or
    weights a user trained)."""
    digest = file_sha256(prior)
    for path in shipped_confidence_paths():
        if ConfidenceWeights.load(path).settings.get("prior_sha256") == digest:
            return path
    return None


def confidence_network_for(prior: Path, device: torch.device | str = "cpu") -> ConfidenceNet | None:
    """The confidence network of ``confidence_file_for(prior)`` on ``device`` (loaded once per process), or None."""
    key = (str(prior), str(device))
    if key not in _CACHE:
        path = confidence_file_for(prior)
        _CACHE[key] = None if path is None else ConfidenceWeights.load(path).network().to(device)
    return _CACHE[key]


@dataclass(frozen=True)
class Confidence:
    """The predicted error of one estimate (see the module's docstring)."""

    size_error_mean: float  # mu: predicted log(estimated size / true size)
    size_error_sd: float  # sigma
    redeg_psnr: float  # predicted re-degradation PSNR (Y, dB)

    @property
    def size_error(self) -> float:
        """Predicted root-mean-square log size error (0.1 is about 10%)."""
        return float(np.hypot(self.size_error_mean, self.size_error_sd))

    def size_interval(self, size: float) -> tuple[float, float]:
        """90% interval (px²) for the true size, given the estimate's ``size``."""
        lo = size * np.exp(-self.size_error_mean - Z90 * self.size_error_sd)
        hi = size * np.exp(-self.size_error_mean + Z90 * self.size_error_sd)
        return float(lo), float(hi)


def predict_confidence(net: ConfidenceNet, spectra: torch.Tensor, kernels: torch.Tensor) -> Confidence:
    """Average of the per-view predictions: ``spectra`` views x 1 x BINS x BINS and the prior's ``kernels`` views
    x K x K in each view's own frame (as the prior returned them), on the network's device."""
    with torch.no_grad():
        out = net(spectra.float(), kernels.float()).double().cpu().numpy()
    mu, sigma, redeg = out[:, 0], np.exp(out[:, 1]), out[:, 2] * 10
    # a mixture of the views' normals: its variance is the mean variance plus the spread of the means
    spread = float(np.sqrt(np.mean(sigma ** 2) + np.var(mu)))
    return Confidence(float(mu.mean()), spread, float(redeg.mean()))
