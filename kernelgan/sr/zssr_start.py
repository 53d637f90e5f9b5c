"""ZSSR's learned start: the network's first weights, trained once on external photos so that a photo's own ZSSR
training needs a few hundred steps instead of thousands (``ZSSRConfig.start``; ``kernelgan train-zssr-start``).

The start is trained exactly as ZSSR trains on one photo, but over many: each step draws fathers from random
photos (the published augmentation, ``fathers``), blurs and subsamples them with a random kernel of the chosen
families and learns to restore them from their bicubic upscales (L1, Adam, cosine-decayed learning rate). It is
not told the kernel, so it learns an average restoration; the photo's own steps then fit it to that photo and to
the kernel given (the kernel still matters: docs/zssr.md shows the true- and fixed-kernel rows apart). This is
plain pre-training, not the meta-learning of MZSR (Soh et al., CVPR 2020).

Photos: every tenth (by name) is held out of training, as for the other trained parts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError
from ..estimator.prior_train import split_photos
from ..families import check_family, sample_kernel
from ..io import read_image
from ..kernels import centre_kernel
from ..network_files import save_network_file
from ..rng import seeded
from .fathers import Augmentation, FatherSampler
from .tiling import to_tensor
from .zssr import (
    START_FORMAT,
    ResidualNet,
    ZSSRConfig,
    autocast,
    resolved_precision,
    sons_upscaled,
    start_shape,
)


@dataclass(frozen=True)
class StartSettings:
    steps: int = 6000
    batch: int = 2  # fathers per step, each from a random photo
    lr: float = 1e-3
    lr_end: float = 1e-5  # cosine decay to this
    crop: int = 128  # father size (ZSSR's)
    families: tuple[str, ...] = ("div2krk",)  # kernel families drawn uniformly, one kernel per step
    channels: int = 32
    layers: int = 8
    input_offset: float = ZSSRConfig.input_offset
    precision: str = "auto"  # as ZSSR's: bf16 on a CPU that computes it natively
    seed: int = 0


def train_start(photos: list[Path], settings: StartSettings, log: Callable[[str], None] | None = None,
                device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """The start's weights (state dict on the CPU), trained on ``photos`` (HR files; every tenth held out)."""
    for family in settings.families:
        check_family(family)
    device = torch.device(device)
    precision = resolved_precision(settings.precision, device)
    rng = np.random.default_rng(settings.seed)
    training, _ = split_photos(photos)
    samplers = []
    for path in training:
        image = to_tensor(read_image(path), device)
        if min(image.shape[-2:]) < settings.crop:
            raise InputError(f"{path}: {image.shape[-1]}x{image.shape[-2]}, smaller than the {settings.crop}-px fathers")
        samplers.append(FatherSampler([(image, 1.0)], settings.crop, Augmentation(), (0,), rng))
    with seeded(settings.seed, device):
        net = ResidualNet(settings.channels, settings.layers, settings.input_offset, channels_last=True).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=settings.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, settings.steps, settings.lr_end)
    start, running = time.perf_counter(), 0.0
    for step in range(1, settings.steps + 1):
        family = settings.families[rng.integers(len(settings.families))]
        kernel = centre_kernel(sample_kernel(family, rng), 2, keep_negative=True)
        fathers = torch.cat([samplers[rng.integers(len(samplers))].draw(1) for _ in range(settings.batch)])
        with autocast(precision, device):
            out = net(sons_upscaled(fathers, kernel, 0.0, 2))
        loss = F.l1_loss(out, fathers)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        schedule.step()
        running = 0.99 * running + 0.01 * float(loss.detach())
        if log is not None and (step % 500 == 0 or step == settings.steps):
            log(f"step {step}/{settings.steps}: L1 {running / (1 - 0.99 ** step):.4f}, "
                f"{time.perf_counter() - start:.0f} s")
    return {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}


def save_start(path: Path, state: dict[str, torch.Tensor], settings: StartSettings) -> None:
    """Write a start file that ``zssr.new_network`` reads for ZSSR configurations of the same shape."""
    shape = start_shape(settings.channels, settings.layers, settings.input_offset)
    save_network_file(path, START_FORMAT, shape, state, asdict(settings))
