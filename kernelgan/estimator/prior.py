"""The learned kernel prior: a small network that reads the image's mean local spectrum (``spectrum``) and
predicts its x2 kernel. Trained by ``kernelgan train-prior`` on synthetic pairs from BSD100/Set14 over every
kernel family (``families``); its weights ship in ``kernelgan/estimator/weights/prior.pt``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError
from ..families import truth_grid
from ..io import atomic_path
from ..kernel_shape import kernel_shape
from ..kernels import bicubic_kernel, centre_kernel
from .spectrum import BINS, view_spectra

FORMAT = "kernelgan-prior-1"
KERNEL_SIZE = 13  # the predicted kernel's grid (G's kernel size)


@dataclass(frozen=True)
class PriorShape:
    channels: int = 32
    hidden: int = 256
    kernel_size: int = KERNEL_SIZE
    bicubic_mix: bool = False  # one more output: a share of MATLAB's bicubic kernel (negative lobes) mixed in


class SpectrumNet(nn.Module):
    """(log spectra B x 1 x BINS x BINS) -> kernels B x K x K, each summing to 1: a softmax (non-negative), or
    with ``bicubic_mix`` (1 − m) x softmax + m x MATLAB's x2 bicubic kernel, m in (0, 1) predicted too, so that
    software downscaling, whose kernel has negative lobes, can be returned as it is."""

    def __init__(self, shape: PriorShape):
        super().__init__()
        c = shape.channels
        self.shape = shape
        if shape.bicubic_mix:
            b = truth_grid(bicubic_kernel(2), shape.kernel_size, keep_negative=True)
            self.register_buffer("bicubic", torch.from_numpy(b).float(), persistent=False)
        self.features = nn.Sequential(
            nn.Conv2d(1, c, 5, padding=2), nn.ReLU(), nn.Conv2d(c, c, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
            nn.Conv2d(c, 2 * c, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
            nn.Conv2d(2 * c, 2 * c, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
        )
        flat = 2 * c * (BINS // 8) ** 2
        outputs = shape.kernel_size ** 2 + int(shape.bicubic_mix)
        self.head = nn.Sequential(nn.Linear(flat, shape.hidden), nn.ReLU(), nn.Linear(shape.hidden, outputs))

    def forward(self, spectra: torch.Tensor) -> torch.Tensor:
        logits = self.head(self.features(spectra).flatten(1))
        k = self.shape.kernel_size
        kernels = F.softmax(logits[:, : k * k], dim=1).reshape(-1, k, k)
        if not self.shape.bicubic_mix:
            return kernels
        share = torch.sigmoid(logits[:, -1])[:, None, None]
        bicubic: torch.Tensor = self.bicubic  # type: ignore[assignment]  # a buffer
        return (1 - share) * kernels + share * bicubic


@dataclass
class PriorWeights:
    """A trained prior: the network's shape, its state and the settings that made it."""

    shape: PriorShape
    state: dict[str, torch.Tensor]
    settings: dict[str, Any]

    def network(self) -> SpectrumNet:
        net = SpectrumNet(self.shape)
        net.load_state_dict(self.state)
        return net.eval()

    def save(self, path: Path) -> None:
        with atomic_path(path) as tmp:
            torch.save({"format": FORMAT, "shape": asdict(self.shape), "state": self.state,
                        "settings": self.settings}, tmp)

    @classmethod
    def load(cls, path: Path) -> PriorWeights:
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user error
            raise InputError(f"{path}: not a kernel-prior weights file ({type(exc).__name__})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise InputError(f"{path}: not a kernel-prior weights file (format {FORMAT} expected)")
        return cls(PriorShape(**data["shape"]), data["state"], data["settings"])


def shipped_weights_path() -> Path:
    return Path(str(files("kernelgan.estimator") / "weights" / "prior.pt"))


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


def predict_views(image: np.ndarray, weights: Path | None = None, views: int = 1,
                  device: torch.device | str = "cpu") -> np.ndarray:
    """The prior's x2 kernel for each of the first ``views`` rotations/flips of ``image`` (HxWx3 in [0, 1]),
    turned back to the image's orientation and centred: views x KERNEL_SIZE x KERNEL_SIZE float64 (negative lobes
    only from a ``bicubic_mix`` network). The FFTs and the network run on ``device``."""
    if views not in (1, 8):
        raise InputError(f"prior_views must be 1 or 8, got {views}")
    net = load_network(weights, device)
    spectra = torch.from_numpy(view_spectra(image, views, device)[:, None]).to(device)
    with torch.no_grad():
        kernels = net(spectra).double().cpu().numpy()
    keep_negative = net.shape.bicubic_mix
    return np.stack([centre_kernel(_undo_dihedral(k, t), 2, keep_negative) for t, k in enumerate(kernels)])


def view_size_spread(kernels: np.ndarray) -> float:
    """Disagreement of the views: the standard deviation of their log sizes (0: all agree; 0.1 is about a 10%
    size spread). Large when the photo gives little to read (flat, noisy) or its content is oriented."""
    return float(np.std([np.log(kernel_shape(k).size) for k in kernels]))
