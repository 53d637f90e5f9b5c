"""Backend ``srmd``: one feed-forward network for any kernel (SRMD, Zhang, Zuo & Zhang, CVPR 2018).

The kernel is projected on a PCA basis (``kernel_pca``) and, with a noise level, stretched into constant maps
concatenated with the LR image; 12 conv 3x3 layers with ReLU between them and a pixel-shuffle output. Ours
adds the network's output to a bicubic upscale of the input (a residual; converges much faster, which is what
CPU training needs). Weights trained by ``kernelgan train-srmd`` ship in ``kernelgan/sr/weights``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..degradation import Degradation, degradation_weight_files, measure
from ..errors import InputError
from ..io import atomic_path
from ..kernel_map import grid_for, pixel_weights
from ..noise import estimate_noise_sigma
from .base import check_request, register
from .kernel_pca import KernelPCA
from .tiling import run_tiled

FORMAT = "kernelgan-srmd-1"
NOISE_UNIT = 15.0  # the noise map holds level/15 (levels on the 8-bit scale; training draws 0-15)
MAX_NOISE = 50.0
ROUNDING_VARIANCE = 1 / 12  # 8-bit rounding's noise variance (LSB²): part of every training pair, labelled 0
# the condition maps enter the network x0.25, about the spread of the (centred) image: at x1 the constant maps
# swamped the image and 300 training steps gained nothing over bicubic (+0.77 dB at x0.25)
CONDITION_GAIN = 0.25


@dataclass(frozen=True)
class SRMDShape:
    scale: int = 2
    channels: int = 64  # published: 128 (ours is the smaller variant trained on CPU; docs/srmd.md)
    layers: int = 12
    pca_dims: int = 15


class SRMDNet(nn.Module):
    """(LR Bx3xHxW in [0,1], condition Bx(t+1)) -> SR Bx3x(sH)x(sW), about [0,1] (not clipped)."""

    def __init__(self, shape: SRMDShape):
        super().__init__()
        s, c = shape.scale, shape.channels
        widths = [3 + shape.pca_dims + 1] + [c] * (shape.layers - 1) + [3 * s * s]
        self.shape = shape
        self.convs = nn.ModuleList(nn.Conv2d(widths[i], widths[i + 1], 3, padding=1) for i in range(shape.layers))
        # He initialisation keeps the signal alive through 12 ReLU layers without batch norm (torch's default
        # shrinks it ~6x in variance per layer: the residual starts at ~1e-5 and training stalls); the last
        # layer starts at zero so the untrained network is its bicubic base (a noisy start made Adam switch the
        # last hidden layer off for good)
        convs = [conv for conv in self.convs if isinstance(conv, nn.Conv2d)]
        for conv in convs:
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)
        nn.init.zeros_(convs[-1].weight)

    def forward(self, lr: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """``condition``: B x (t+1) (one kernel and noise level per image) or B x (t+1) x H x W (per pixel)."""
        b, _, h, w = lr.shape
        if condition.ndim == 2:
            condition = condition[:, :, None, None].expand(b, -1, h, w)
        y = torch.cat([lr - 0.5, CONDITION_GAIN * condition], dim=1)
        for i, conv in enumerate(self.convs):
            y = conv(y)
            if i < len(self.convs) - 1:
                y = torch.relu(y)
        base = F.interpolate(lr, scale_factor=self.shape.scale, mode="bicubic", align_corners=False)
        return base + F.pixel_shuffle(y, self.shape.scale)

    @property
    def receptive_radius(self) -> int:
        return len(self.convs) + 2  # 3x3 convs, plus the bicubic base's reach


def condition_vector(pca: KernelPCA, kernel: np.ndarray, noise: float) -> np.ndarray:
    """(t+1,) float32: the kernel's standardised PCA coefficients and the noise level (8-bit scale) / 15."""
    return np.concatenate([pca.project(kernel), [noise / NOISE_UNIT]]).astype(np.float32)


def pca_tensors(pca: KernelPCA) -> dict[str, torch.Tensor]:
    """The basis as tensors, for files that ``torch.load(weights_only=True)`` reads back (``KernelPCA.from_dict``)."""
    return {k: torch.from_numpy(v) for k, v in pca.to_dict().items()}


@dataclass
class SRMDWeights:
    """A trained network, its kernel basis, and how it was trained (``settings``, free-form)."""

    net: SRMDNet
    pca: KernelPCA
    settings: dict[str, Any]

    def save(self, path: str | os.PathLike) -> None:
        payload = {
            "format": FORMAT,
            "shape": asdict(self.net.shape),
            "state_dict": {k: v.detach().cpu() for k, v in self.net.state_dict().items()},
            "pca": pca_tensors(self.pca),
            "settings": self.settings,
        }
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)

    def widened(self, channels: int, seed: int = 0) -> SRMDWeights:
        """The same function with ``channels`` feature channels (at least the present number), to fine-tune from
        (Net2Net's widening): each new channel of a hidden layer copies an old one (j copies j mod c), and the next
        layer's weights from the copies of one channel add up to its old weights, in random shares (about 1/n each
        for n copies, jittered by up to 20%, from ``seed``) so that the copies get different gradients and grow apart."""
        old = self.net.shape.channels
        if channels < old:
            raise InputError(f"a {old}-channel SRMD network can be widened, not narrowed to {channels}")
        gen = torch.Generator().manual_seed(seed)
        source = torch.arange(channels) % old  # the old channel each new one copies
        net = SRMDNet(replace(self.net.shape, channels=channels))
        olds: list[nn.Conv2d] = list(self.net.convs)  # type: ignore[arg-type]
        news: list[nn.Conv2d] = list(net.convs)  # type: ignore[arg-type]
        for i, (conv, before) in enumerate(zip(news, olds, strict=True)):
            assert before.bias is not None and conv.bias is not None  # every layer has one
            w, b = before.weight.detach(), before.bias.detach()
            if i > 0:  # inputs: the copies of one old channel share its weights
                share = 1 + 0.2 * (2 * torch.rand(w.shape[0], channels, generator=gen) - 1)
                totals = torch.zeros(w.shape[0], old).index_add_(1, source, share)
                w = w[:, source] * (share / totals[:, source])[:, :, None, None]
            if i < len(news) - 1:  # outputs: copies of the old channels
                w, b = w[source], b[source]
            conv.weight.data.copy_(w)
            conv.bias.data.copy_(b)
        settings = {**self.settings, "widened_from": old}
        return SRMDWeights(net.eval(), self.pca, settings)

    @classmethod
    def load(cls, path: str | os.PathLike) -> SRMDWeights:
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
            if payload.get("format") != FORMAT:
                raise ValueError(f"not {FORMAT} weights")
            net = SRMDNet(SRMDShape(**payload["shape"]))
            net.load_state_dict(payload["state_dict"])
        except FileNotFoundError:
            raise InputError(f"{path}: SRMD weights not found") from None
        except Exception as exc:  # truncated file, wrong pickle, wrong shapes
            raise InputError(f"{path}: not usable SRMD weights ({str(exc).splitlines()[0]})") from None
        return cls(net.eval(), KernelPCA.from_dict(payload["pca"]), dict(payload["settings"]))


SHIPPED = {"classical": "srmd_x{scale}.pt", "real": "srmd_real_x{scale}.pt"}


def shipped_weights(scale: int, kind: str = "classical") -> Path:
    """The weights file for ``scale`` inside the installed package: ``classical`` (trained on the Gaussian
    family with Gaussian noise 0-15) or ``real`` (fine-tuned on realistic scenes: ``realistic_pairs``)."""
    return Path(str(files("kernelgan.sr") / "weights" / SHIPPED[kind].format(scale=scale)))


def parse_noise(noise: float | str) -> float | None:
    """A noise setting checked: a level within 0-50 (8-bit scale), or None for ``auto``."""
    if isinstance(noise, str):
        if noise.strip().lower() == "auto":
            return None
        try:
            noise = float(noise)
        except ValueError:
            raise InputError(f"--noise must be 'auto' or a level within 0-{MAX_NOISE:g}, got {noise!r}") from None
    if not 0 <= noise <= MAX_NOISE:
        raise InputError(f"--noise must be within 0-{MAX_NOISE:g} (8-bit scale), got {noise:g}")
    return float(noise)


def resolve_noise(noise: float | str, lr: np.ndarray, found: Degradation | None = None) -> float:
    """The noise level for the map: a number as given, or ``auto``: the level estimated from ``lr`` (or taken
    from ``found``, its measurement) less 8-bit rounding, which training pairs labelled 0 had too."""
    level = parse_noise(noise)
    if level is not None:
        return level
    sigma = found.noise_sigma if found is not None else estimate_noise_sigma(lr)
    return min(float(np.sqrt(max(sigma ** 2 - ROUNDING_VARIANCE, 0.0))), MAX_NOISE)


def choose_weights(weights: str | os.PathLike, scale: int, lr: np.ndarray, found: Degradation | None = None) -> Path:
    """The weights file: ``auto`` picks ``real`` for a photo that looks realistic (``degradation.measure`` of
    ``lr``, or ``found``: noisy or JPEG-blocked pixels) and ``classical`` otherwise; ``classical`` / ``real``
    name the shipped files; anything else is a path."""
    if str(weights) == "auto":
        return shipped_weights(scale, "real" if (found or measure(lr)).realistic else "classical")
    if str(weights) in SHIPPED:
        return shipped_weights(scale, str(weights))
    return Path(weights)


def condition_map(pca: KernelPCA, kmap: np.ndarray, noise: float, height: int, width: int) -> np.ndarray:
    """(t+1) x height x width float32: each LR pixel's condition for the kernel map ``kmap`` (rows x cols x K x K,
    ``kernel_map``'s convention): the cells' condition vectors interpolated as the map's kernels are (the
    projection is affine, so this is the condition of each pixel's interpolated kernel)."""
    grid = grid_for(kmap, (height, width))
    cells = np.stack([[condition_vector(pca, k, noise) for k in row] for row in kmap])  # rows x cols x (t+1)
    wy, wx = pixel_weights(grid)
    return np.einsum("yi,xj,ijc->cyx", wy, wx, cells).astype(np.float32)


def super_resolve(weights: SRMDWeights, lr: np.ndarray, kernel: np.ndarray, noise: float, device: torch.device,
                  tile: int = 256) -> np.ndarray:
    """Upscale ``lr`` (HxWx3 in [0,1]) by the network's scale for the x2 ``kernel``, or the x2 kernel map
    (rows x cols x K x K, ``kernel_map``); float32 in [0, 1]."""
    net = weights.net.to(device)
    if kernel.ndim == 4:  # the per-pixel condition travels with the image through the tiles
        cond = condition_map(weights.pca, kernel, noise, *lr.shape[:2]).transpose(1, 2, 0)
        stacked = np.concatenate([lr, cond], axis=2)
        sr = run_tiled(lambda x: net(x[:, :3], x[:, 3:]), stacked, tile, net.receptive_radius, net.shape.scale, device)
    else:
        vector = torch.from_numpy(condition_vector(weights.pca, kernel, noise))[None].to(device)
        sr = run_tiled(lambda x: net(x, vector), lr, tile, net.receptive_radius, net.shape.scale, device)
    return np.clip(sr, 0, 1)


@register
class SRMD:
    name = "srmd"
    scales: tuple[int, ...] = (2, 4)
    description = "SRMD (CVPR 2018): one trained network for any kernel; weights trained by this project"
    kernel_maps = True  # ``upscale`` also takes a kernel map (blur that changes across the photo)
    options: dict[str, type] = {"noise": str, "weights": str}

    def weight_files(self, scale: int, weights: str | os.PathLike = "auto", **options: Any) -> list[Path]:
        """The weights files ``upscale`` may read (``auto``: both shipped files and the realism detector that helps
        choose between them)."""
        if str(weights) == "auto":
            return [shipped_weights(scale, kind) for kind in SHIPPED] + degradation_weight_files()
        return [Path(weights) if str(weights) not in SHIPPED else shipped_weights(scale, str(weights))]

    def upscale(self, lr: np.ndarray, kernel: np.ndarray, scale: int, noise: float | str = "auto",
                weights: str | os.PathLike = "auto", device: str = "cpu",
                progress: Callable[[int, int], None] | None = None, **options: Any) -> np.ndarray:
        """``kernel``: the x2 kernel (at x4 the x4 network was trained on its analytic x4), or an x2 kernel map
        (rows x cols x K x K, ``kernel_map``); ``noise``: the LR's
        noise level on the 8-bit scale (0-50), or ``auto`` (estimated from ``lr``, ``kernelgan.noise``);
        ``weights``: ``auto`` (the realistic weights for a noisy or JPEG-compressed photo, else the classical
        ones), ``classical``, ``real``, or a file from ``kernelgan train-srmd``. Other options are ignored."""
        check_request(self, lr, kernel, scale)
        auto = parse_noise(noise) is None or str(weights) == "auto"
        found = measure(lr) if auto else None  # one measurement for both settings
        level = resolve_noise(noise, lr, found)
        loaded = SRMDWeights.load(choose_weights(weights, scale, lr, found))
        if loaded.net.shape.scale != scale:
            raise InputError(f"{weights}: weights are for x{loaded.net.shape.scale}, not x{scale}")
        sr = super_resolve(loaded, lr, kernel, level, torch.device(device))
        if progress is not None:
            progress(1, 1)
        return sr
