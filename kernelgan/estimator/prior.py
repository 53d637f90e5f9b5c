"""The learned kernel prior: a small network that reads the image's mean local spectrum (``spectrum``) and
predicts its x2 kernel. Trained by ``kernelgan train-prior`` on synthetic pairs from BSD100/Set14 over every
kernel family (``families``); its weights ship in ``kernelgan/estimator/weights/prior.pt``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from importlib.resources import files
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError
from ..families import truth_grid
from ..kernel_shape import kernel_shape
from ..kernels import bicubic_kernel, centre_kernel, normalise
from ..network_files import NetworkWeights
from .spectrum import BINS

FORMAT = "kernelgan-prior-1"
KERNEL_SIZE = 13  # the predicted kernel's grid (G's kernel size); a wide prior's is larger (``PriorWeights.widened``)
RIM_LOGIT_DROP = 3.0  # a widened network's new rim starts at e^-3 of its nearest old edge tap


@dataclass(frozen=True)
class PriorShape:
    channels: int = 32
    hidden: int = 256
    kernel_size: int = KERNEL_SIZE
    software_head: bool = False  # one more output: was the photo downscaled in software (MATLAB's bicubic)?


def spectrum_features(channels: int) -> nn.Sequential:
    """The convolutional trunk over a log spectrum: B x 1 x BINS x BINS -> B x 2c x BINS/8 x BINS/8 (c =
    ``channels``); ``feature_count(c)`` values once flattened."""
    c = channels
    return nn.Sequential(
        nn.Conv2d(1, c, 5, padding=2), nn.ReLU(), nn.Conv2d(c, c, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(c, 2 * c, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(2 * c, 2 * c, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
    )


def feature_count(channels: int) -> int:
    return 2 * channels * (BINS // 8) ** 2


class SpectrumNet(nn.Module):
    """(log spectra B x 1 x BINS x BINS) -> kernels B x K x K, non-negative, each summing to 1 (a softmax); with
    ``software_head`` also the logit (B) of "downscaled in software with MATLAB's bicubic kernel", a kernel with
    negative lobes that the softmax cannot return."""

    def __init__(self, shape: PriorShape):
        super().__init__()
        self.shape = shape
        self.features = spectrum_features(shape.channels)
        flat = feature_count(shape.channels)
        outputs = shape.kernel_size ** 2 + int(shape.software_head)
        self.head = nn.Sequential(nn.Linear(flat, shape.hidden), nn.ReLU(), nn.Linear(shape.hidden, outputs))

    def predict(self, spectra: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(kernels B x K x K, software logits B or None without the head)."""
        logits = self.head(self.features(spectra).flatten(1))
        k = self.shape.kernel_size
        kernels = F.softmax(logits[:, : k * k], dim=1).reshape(-1, k, k)
        return kernels, (logits[:, -1] if self.shape.software_head else None)

    def forward(self, spectra: torch.Tensor) -> torch.Tensor:
        return self.predict(spectra)[0]


class PriorWeights(NetworkWeights[PriorShape, SpectrumNet]):
    """A trained prior: the network's shape, its state and the settings that made it."""

    FORMAT = FORMAT
    WHAT = "kernel-prior weights"
    SHAPE = PriorShape
    NET = SpectrumNet

    def widened(self, size: int) -> PriorWeights:
        """The same network predicting a ``size x size`` kernel (odd, at least the present size), to fine-tune
        from: each new rim tap's output copies the nearest old edge tap's, its bias lowered by ``RIM_LOGIT_DROP``,
        so the widened network starts with (almost) the same kernels, a little mass on the rim."""
        k = self.shape.kernel_size
        if size < k or (size - k) % 2:
            raise InputError(f"a {k}x{k} prior can be widened to a larger odd grid, not {size}x{size}")
        pad = (size - k) // 2
        near = np.clip(np.arange(size) - pad, 0, k - 1)
        source = torch.as_tensor((near[:, None] * k + near[None, :]).ravel())  # old output of each new tap
        rim = torch.ones(size, size, dtype=torch.bool)
        rim[pad:pad + k, pad:pad + k] = False
        weight, bias = self.state["head.2.weight"], self.state["head.2.bias"]
        new_weight, new_bias = weight[source], bias[source] - RIM_LOGIT_DROP * rim.ravel().to(bias.dtype)
        if self.shape.software_head:
            new_weight, new_bias = torch.cat([new_weight, weight[-1:]]), torch.cat([new_bias, bias[-1:]])
        state = {**self.state, "head.2.weight": new_weight.clone(), "head.2.bias": new_bias.clone()}
        return PriorWeights(replace(self.shape, kernel_size=size), state, {**self.settings, "widened_from": k})


def shipped_weights_path(name: str = "prior") -> Path:
    """The shipped weights: ``prior`` (the kernel network), ``prior_sharp`` (the kernel network trained without
    softened photos: better on sharp photos, worse on soft ones; docs/estimators.md), ``software`` (the software-downscaling
    detector), or any other file of the folder by name (``direction``: the direction network)."""
    return Path(str(files("kernelgan.estimator") / "weights" / f"{name}.pt"))


_CACHE: dict[tuple[str, str], SpectrumNet] = {}


def load_network(path: Path | None = None, device: torch.device | str = "cpu") -> SpectrumNet:
    """The prior network from ``path`` (default: the shipped weights) on ``device``, loaded once per process."""
    path = path or shipped_weights_path()
    key = (str(path), str(device))
    if key not in _CACHE:
        if not path.is_file():
            raise InputError(f"{path}: kernel-prior weights not found")
        _CACHE[key] = PriorWeights.load(path).network().to(device)
    return _CACHE[key]


def _undo_dihedral(k: np.ndarray, t: int) -> np.ndarray:
    """Undo the t-th rotation/flip (``spectrum.view_power``): a kernel read from view t, in the image's frame."""
    k = k[:, ::-1] if t >= 4 else k
    return np.rot90(k, -(t % 4))


@dataclass
class PriorPrediction:
    """What the prior reads from one image: a kernel per view and, with a software detector, the probability that
    the photo was downscaled in software (MATLAB's bicubic kernel), averaged over the views."""

    kernels: np.ndarray  # views x K x K float64 (K: the network's grid), each centred, non-negative, summing to 1
    software_probability: float | None
    spectra: torch.Tensor  # views x 1 x BINS x BINS: what the network read (on its device)
    view_kernels: torch.Tensor  # views x K x K: what it returned, in each view's own frame, before centring

    def kernel(self, threshold: float) -> np.ndarray:
        """The estimate: MATLAB's bicubic kernel (negative lobes kept) when software downscaling is more likely
        than ``threshold``, else the mean of the views (centred alike, so their mean is too)."""
        size = self.kernels.shape[-1]
        if self.software_probability is not None and self.software_probability > threshold:
            return truth_grid(bicubic_kernel(2), size, keep_negative=True)
        return normalise(self.kernels.mean(axis=0))


def predict_spectra(spectra: np.ndarray, weights: Path | None = None, device: torch.device | str = "cpu",
                    detector: Path | None = None) -> PriorPrediction:
    """The prior's x2 kernel for each view from its log spectrum (``spectra``: views x BINS x BINS, view t the
    t-th rotation/flip of the image, ``spectrum.view_spectra``), turned back to the image's orientation and
    centred, and the software head's probability (of the ``detector`` network when given, else of the kernel
    network if it has that head). The networks run on ``device``."""
    net = load_network(weights, device)
    batch = torch.from_numpy(np.ascontiguousarray(spectra)[:, None]).to(device)
    with torch.no_grad():
        kernels, logits = net.predict(batch)
        if detector is not None:
            logits = load_network(detector, device).predict(batch)[1]
            if logits is None:
                raise InputError(f"{detector}: these prior weights have no software-downscaling head")
    turned = [centre_kernel(_undo_dihedral(k, t), 2) for t, k in enumerate(kernels.double().cpu().numpy())]
    probability = None if logits is None else float(torch.sigmoid(logits.double()).mean())
    return PriorPrediction(np.stack(turned), probability, batch, kernels)


def predict_regions(spectra: np.ndarray, weights: Path | None = None, device: torch.device | str = "cpu"
                    ) -> np.ndarray:
    """The prior's x2 kernel for each of n regions from its views' log spectra (``spectra``: n x views x BINS x
    BINS, view t as in ``predict_spectra``), in one pass of the network: n x K x K float64, each the mean of its
    views' kernels turned back, then centred (once per region: the views' centres differ by a fraction of a
    pixel)."""
    n, views = spectra.shape[:2]
    batch = torch.from_numpy(np.ascontiguousarray(spectra, dtype=np.float32).reshape(n * views, 1, *spectra.shape[2:]))
    with torch.no_grad():
        kernels = load_network(weights, device)(batch.to(device)).double().cpu().numpy()
    turned = np.stack([_undo_dihedral(k, i % views) for i, k in enumerate(kernels)]).reshape(n, views, *kernels.shape[1:])
    return np.stack([centre_kernel(k, 2) for k in turned.mean(axis=1)])


def view_size_spread(kernels: np.ndarray) -> float:
    """Disagreement of the views: the standard deviation of their log sizes (0: all agree; 0.1 is about a 10%
    size spread). Large when the photo gives little to read (flat, noisy) or its content is oriented."""
    return float(np.std([np.log(kernel_shape(k).size) for k in kernels]))
