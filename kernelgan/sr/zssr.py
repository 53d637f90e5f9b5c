"""Backend ``zssr``: Zero-Shot Super-Resolution (Shocher, Cohen & Irani, CVPR 2018) in PyTorch.

A small residual CNN is trained on the input image alone: crops of the input ("HR fathers") are blurred with
the given kernel and subsampled to "LR sons"; the network learns to restore fathers from bicubic upscales of
their sons, then is applied to the bicubic upscale of the whole input. Published settings in ``ZSSRConfig``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..kernels import analytic_x4, centre_kernel
from ..resize import blur_downsample, imresize
from ..rng import seeded
from .augment import dihedral
from .base import check_request, register
from .tiling import run_tiled, to_tensor

ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class ZSSRConfig:
    """ZSSR hyper-parameters; defaults are the published ones except where marked (``PUBLISHED`` restores
    them): fathers of 64 instead of 128 pixels and at most 1200 steps instead of 3000 keep a DIV2KRK image
    near two minutes on a 2-core CPU (README, SR benchmark)."""

    channels: int = 64
    layers: int = 8
    crop: int = 64  # HR father size (published: 128)
    max_iters: int = 1200  # published: 3000
    min_iters: int = 256  # steps between learning-rate changes, at least
    lr: float = 1e-3
    lr_check_every: int = 60
    slope_range: int = 256  # steps of reconstruction history fitted by a line
    slope_ratio: float = 1.5
    min_lr: float = 9e-6
    test_every: int = 50
    test_crop: int = 192  # ours: the reconstruction error is measured on a central crop, not the whole image
    back_projection: int = 2
    real_noise: float = 0.0125
    tile: int = 256  # ours: inference in tiles, for bounded memory


PUBLISHED = ZSSRConfig(crop=128, max_iters=3000)


class ResidualNet(nn.Module):
    """``layers`` 3x3 convolutions with ReLU between them; output added to the input (a bicubic upscale)."""

    def __init__(self, channels: int = 64, layers: int = 8):
        super().__init__()
        widths = [3] + [channels] * (layers - 1) + [3]
        self.convs = nn.ModuleList(nn.Conv2d(widths[i], widths[i + 1], 3, padding=1) for i in range(layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        for i, conv in enumerate(self.convs):
            y = conv(y)
            if i < len(self.convs) - 1:
                y = torch.relu(y)
        return x + y


def train_x2(lr: np.ndarray, kernel: np.ndarray, config: ZSSRConfig, real: bool, rng: np.random.Generator,
             device: torch.device, progress: ProgressFn | None = None) -> ResidualNet:
    """Train the x2 network on ``lr`` (HxWx3 in [0, 1]) until the lr policy stops it or ``max_iters``."""
    net = ResidualNet(config.channels, config.layers).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    h, w = lr.shape[:2]
    crop = min(config.crop, h - h % 2, w - w % 2)
    # fixed central crop to measure reconstruction: downscale it with the kernel, restore, compare
    th, tw = min(config.test_crop, h) // 2 * 2, min(config.test_crop, w) // 2 * 2
    test_hr = lr[(h - th) // 2:(h - th) // 2 + th, (w - tw) // 2:(w - tw) // 2 + tw]
    test_in = to_tensor(imresize(blur_downsample(test_hr, kernel, 2), output_shape=(th, tw)), device)
    test_hr_t = to_tensor(test_hr, device)
    history: list[tuple[int, float]] = []
    last_change = 0
    learning_rate = config.lr
    for step in range(1, config.max_iters + 1):
        top, left = rng.integers(0, h - crop + 1), rng.integers(0, w - crop + 1)
        father = dihedral(lr[top:top + crop, left:left + crop], int(rng.integers(8)))
        son = blur_downsample(father, kernel, 2)
        if real:
            son = son + rng.standard_normal(son.shape) * config.real_noise
        son_up = to_tensor(imresize(son, output_shape=(crop, crop)), device)
        loss = F.l1_loss(net(son_up), to_tensor(father, device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

        if step % config.test_every == 0:
            with torch.no_grad():
                history.append((step, float(F.mse_loss(net(test_in), test_hr_t))))
        if step % config.lr_check_every == 0 and step - last_change > config.min_iters:
            recent = [(s, e) for s, e in history if s > step - config.slope_range]
            if len(recent) >= 3:
                xs, ys = np.array(recent).T
                (slope, _), cov = np.polyfit(xs, ys, 1, cov=True)
                if -config.slope_ratio * slope < math.sqrt(cov[0, 0]):
                    learning_rate /= 10
                    last_change = step
                    for group in opt.param_groups:
                        group["lr"] = learning_rate
        if progress is not None:
            progress(step, config.max_iters)
        if learning_rate < config.min_lr:
            break
    return net


def back_project(sr: np.ndarray, lr: np.ndarray, kernel: np.ndarray, scale: int, rounds: int) -> np.ndarray:
    """``rounds`` iterations of sr += bicubic_up(lr − (sr ⋆ k)↓s): the output stays consistent with the input."""
    for _ in range(rounds):
        sr = sr + imresize(lr - blur_downsample(sr, kernel, scale), output_shape=sr.shape[:2])
    return sr


def super_resolve_x2(lr: np.ndarray, kernel: np.ndarray, config: ZSSRConfig, real: bool, seed: int,
                     device: torch.device, progress: ProgressFn | None = None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    with seeded(seed, device):
        net = train_x2(lr, kernel, config, real, rng, device, progress)
    up = imresize(lr, 2).astype(np.float32)
    return run_tiled(net, up, config.tile, len(net.convs), 1, device)


@register
class ZSSR:
    name = "zssr"
    options: dict[str, type] = {"real": bool, **{f.name: type(f.default) for f in fields(ZSSRConfig)}}
    scales: tuple[int, ...] = (2, 4)
    description = "Zero-Shot SR (CVPR 2018): a CNN trained on the image itself with the given kernel"

    def upscale(self, lr: np.ndarray, kernel: np.ndarray, scale: int, real: bool = False, seed: int = 0,
                device: str = "cpu", progress: ProgressFn | None = None, config: ZSSRConfig | None = None,
                **options) -> np.ndarray:
        """x2 with ``kernel`` (centred first); x4 as two x2 passes (the second on the x2 result with the same x2 kernel), then
        back-projected against the input with the analytic x4 kernel. ``real``: no back-projection, noisy sons."""
        check_request(self, lr, kernel, scale)
        # the network's base is a bicubic upscale, aligned with the HR only for kernels centred as the
        # convention (docs/ARCHITECTURE.md);
        # a kernel centred elsewhere (DIV2KRK's true kernels sit half a pixel off) would misalign the sons
        kernel = centre_kernel(kernel, 2)
        known = ZSSRConfig.__dataclass_fields__
        config = replace(config or ZSSRConfig(), **{k: v for k, v in options.items() if k in known})
        dev = torch.device(device)
        rounds = 0 if real else config.back_projection
        sr = super_resolve_x2(lr, kernel, config, real, seed, dev, progress)
        sr = back_project(sr, lr, kernel, 2, rounds)
        if scale == 4:
            sr = super_resolve_x2(np.clip(sr, 0, 1).astype(np.float32), kernel, config, real, seed + 1, dev, progress)
            sr = back_project(sr, lr, analytic_x4(kernel), 4, rounds)
        return np.clip(sr, 0, 1).astype(np.float32)
