"""Backend ``zssr``: Zero-Shot Super-Resolution (Shocher, Cohen & Irani, CVPR 2018) in PyTorch.

A small residual CNN is trained on the input photo alone: crops of it ("HR fathers", augmented as published,
``fathers.py``) are blurred with the given kernel and subsampled to "LR sons"; the network learns to restore
fathers from bicubic upscales of their sons, then is applied to the bicubic upscale of the whole photo (a
self-ensemble over the photo's allowed rotations/flips, median, back-projection). x4 is the published gradual
scheme: the x2 stage, then the same network trained on for x4 with the x4 kernel against the photo, drawing fathers
from the photo and the x2 output. Everything per step runs in torch on the model's device (``resample.py``).

The default configuration (``fast``, ``CONFIGS``) starts from a learned start (``zssr_start``) and runs 300
steps of a 32-channel network; ``full`` (the earlier default) and ``published`` stay selectable.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, fields, replace
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError
from ..kernels import analytic_x4, centre_kernel
from ..network_files import load_network_file
from ..rng import seeded
from .base import check_request, register
from .fathers import Augmentation, FatherSampler, dihedral, kernel_symmetries, undo_dihedral
from .resample import bicubic_upscale, blur_downsample
from .tiling import tiled, to_image, to_tensor

ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class ZSSRConfig:
    """ZSSR hyper-parameters. Defaults (configuration ``full``) are the published ones except where marked;
    ``PUBLISHED`` restores the published configuration for a given kernel; the backend's default is
    ``CONFIGS[DEFAULT_CONFIG]`` (docs/zssr.md)."""

    channels: int = 64
    layers: int = 8
    crop: int = 128  # HR father size
    batch: int = 1  # fathers per step
    max_iters: int = 2000  # published: 3000
    min_iters: int = 256  # steps between learning-rate changes, at least
    lr: float = 1e-3
    lr_check_every: int = 60
    slope_range: int = 256  # steps of reconstruction history fitted by a line
    slope_ratio: float = 1.5
    min_lr: float = 9e-6
    test_every: int = 50
    test_crop: int = 128  # ours: reconstruction error on test_grid² tiles of this size spread over the photo
    test_grid: int = 3  # (test_crop 0: on the whole photo, as published)
    back_projection: int = 2  # rounds after each ensemble member and after the median (published, given kernel: 2)
    real_noise: float = 0.0125
    augment: bool = True  # the published scale/shear augmentation of fathers
    symmetries: str = "none"  # rotations/flips for fathers and self-ensemble: none (published for a given kernel) |
    # kernel (those the kernel is symmetric under) | all (published for the bicubic kernel)
    ensemble: bool = True  # self-ensemble over the allowed rotations/flips, median
    precision: str = "auto"  # ours: fp32 | bf16 | auto (bf16 on a CPU that computes it natively, else fp32)
    min_gain: float = 0.02  # ours: a bf16 network that restores the test tiles by less than this fraction of
    # interpolation's error (it learned nothing) is trained again in float32
    input_offset: float = 0.5  # ours: the network reads its input minus this (published: 0); with bf16 an
    # uncentred input left 2 of DIV2KRK's 8 HR images stuck at "add nothing to the interpolation"
    tile: int = 256  # ours: inference in tiles, for bounded memory
    channels_last: bool = True  # ours: the network's weights and activations in channels-last memory order (the
    # same function; training 1.25x faster on CPU, docs/zssr.md)
    start: str = ""  # ours: the network's first weights: "" random (published), "shipped" the learned start shipped
    # for this shape (``zssr_start``; trained on BSD100/Set14 by ``kernelgan train-zssr-start``) or such a file
    gradual: bool = True  # x4 as published: an x2 stage, then x4 against the photo with the x4 kernel, the network
    # trained on from x2, fathers also from the x2 output (False: two x2 passes, the second on the x2 output)
    x4_max_iters: int = 0  # ours: the gradual x4 stage's max_iters and min_iters (0: the same as the x2 stage's); the
    x4_min_iters: int = 0  # x4 stage makes the x4 output, so the last tenths at x4 are bought there (docs/zssr.md)
    x4_members: int = 1  # ours: the gradual x4 stage trained this many times from the x2 stage's weights (other
    # seeds), their outputs averaged and back-projected (2: +0.05 dB for twice the x4 stage's time, docs/zssr.md)


# the public configuration for a given kernel: 128-px fathers, 3000 steps, no rotations/flips of fathers and no
# self-ensemble ("kernel may be non-symmetric"), the reconstruction error on the whole photo, float32
PUBLISHED = ZSSRConfig(max_iters=3000, test_crop=0, ensemble=False, precision="fp32", input_offset=0.0)

# named configurations (``--opt config=NAME``; further options change single fields of the chosen one):
# fast (the default since 2026-12-02): a 32-channel network from the shipped learned start, 300 steps (too few
# for the plateau rule to act: a photo's own training only fits the start to it); full: the defaults before it (64
# channels from random weights, up to 2000 steps); published: ``PUBLISHED``; quality: fast, with the x4 stage given
# up to 3000 steps and trained twice (x4 at `full`'s PSNR in under 3 minutes in float32; x2 as fast). Measured in
# docs/zssr.md.
FAST = ZSSRConfig(channels=32, max_iters=300, start="shipped")
CONFIGS = {
    "fast": FAST,
    "quality": replace(FAST, x4_max_iters=3000, x4_min_iters=768, x4_members=2),
    "full": ZSSRConfig(),
    "published": PUBLISHED,
}
DEFAULT_CONFIG = "fast"


def configuration(options: dict[str, Any]) -> ZSSRConfig:
    """The configuration ``options`` ask for: ``options["config"]`` (a name in CONFIGS or a ``ZSSRConfig``;
    default DEFAULT_CONFIG) with the fields ``options`` name replaced; other keys are ignored. An unknown name is
    an InputError."""
    chosen = options.get("config", DEFAULT_CONFIG)
    if not isinstance(chosen, ZSSRConfig):
        if chosen not in CONFIGS:
            raise InputError(f"backend zssr: option config must be one of {', '.join(CONFIGS)}, not {chosen!r}")
        chosen = CONFIGS[chosen]
    known = ZSSRConfig.__dataclass_fields__
    return replace(chosen, **{k: v for k, v in options.items() if k in known})


class ResidualNet(nn.Module):
    """``layers`` 3x3 convolutions with ReLU between them, reading ``x − offset``; output added to the input ``x``
    (a bicubic upscale, Nx3xHxW in [0, 1]). ``channels_last``: weights and activations in that memory order (the
    same function; faster convolutions on CPUs, docs/zssr.md)."""

    def __init__(self, channels: int = 64, layers: int = 8, offset: float = 0.0, channels_last: bool = False):
        super().__init__()
        widths = [3] + [channels] * (layers - 1) + [3]
        self.convs = nn.ModuleList(nn.Conv2d(widths[i], widths[i + 1], 3, padding=1) for i in range(layers))
        self.offset = offset
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        for weight in self.parameters():
            if weight.dim() == 4:  # the convolutions' kernels
                weight.data = weight.data.contiguous(memory_format=self.memory_format)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous(memory_format=self.memory_format)
        y = x - self.offset if self.offset else x
        for i, conv in enumerate(self.convs):
            y = conv(y)
            if i < len(self.convs) - 1:
                y = torch.relu_(y)
        return x + y.float()


START_FORMAT = "kernelgan-zssr-start-1"


def start_file(config: ZSSRConfig) -> Path | None:
    """The file of ``config.start`` (None: a random start): ``shipped`` is the shipped learned start for the
    config's shape (``sr/weights/zssr_start_<channels>x<layers>.pt``; an InputError where none ships for that
    shape), anything else a path."""
    if not config.start:
        return None
    if config.start != "shipped":
        return Path(config.start)
    path = Path(str(files("kernelgan.sr") / "weights" / f"zssr_start_{config.channels}x{config.layers}.pt"))
    if not path.is_file():
        raise InputError(f"backend zssr: no learned start ships for {config.channels} channels x {config.layers} "
                         "layers (use --opt start= for random weights, or train one: kernelgan train-zssr-start)")
    return path


def start_shape(channels: int, layers: int, input_offset: float) -> dict[str, Any]:
    """What a start file records of the network it fits (``new_network`` refuses a start of another shape)."""
    return {"channels": channels, "layers": layers, "input_offset": input_offset}


def new_network(config: ZSSRConfig) -> ResidualNet:
    """A ``ResidualNet`` of ``config``'s shape: random (seeded by the caller) or from ``start_file(config)``; a
    start file of another shape or kind is refused (InputError naming the file)."""
    net = ResidualNet(config.channels, config.layers, config.input_offset, config.channels_last)
    path = start_file(config)
    if path is None:
        return net
    if not path.is_file():
        raise InputError(f"{path}: ZSSR start weights not found")
    data = load_network_file(path, START_FORMAT, "ZSSR start")
    shape = start_shape(config.channels, config.layers, config.input_offset)
    if data["shape"] != shape:
        raise InputError(f"{path}: a start for {data['shape']}, not for this configuration's {shape}")
    net.load_state_dict(data["state"])  # copies into the weights, keeping their memory order
    return net


PRECISIONS = ("auto", "fp32", "bf16")
SYMMETRIES = ("kernel", "all", "none")


def resolved_precision(precision: str, device: torch.device) -> str:
    """``fp32`` or ``bf16`` for ``precision`` (one of ``PRECISIONS``) on ``device``, decided once per run."""
    if precision != "auto":
        return precision
    # on CUDA bf16 was not faster and cost 0.1 dB (docs/zssr.md); a CPU with native bf16 runs 2.3x faster
    native = device.type == "cpu" and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return "bf16" if native else "fp32"


def autocast(precision: str, device: torch.device) -> AbstractContextManager:
    """The mixed-precision context for a resolved ``precision`` (fp32 or bf16) on ``device``."""
    return torch.autocast(device.type, dtype=torch.bfloat16) if precision == "bf16" else nullcontext()


def allowed_transforms(kernel: np.ndarray, symmetries: str, scale: int = 2) -> tuple[int, ...]:
    """Rotations/flips (0..7, see ``fathers.dihedral``) used for fathers and the self-ensemble; ``kernel`` is
    centred for ``scale``."""
    if symmetries == "kernel":
        return kernel_symmetries(kernel, scale)
    return tuple(range(8)) if symmetries == "all" else (0,)


def sons_upscaled(fathers: torch.Tensor, kernel: np.ndarray | torch.Tensor, noise: float,
                  scale: int = 2) -> torch.Tensor:
    """Fathers (Nx3xHxW, H and W multiples of ``scale``) -> their sons (blur with ``kernel``, every ``scale``-th
    pixel, plus Gaussian noise of std ``noise``) upscaled back to HxW with bicubic interpolation: the network's
    input."""
    sons = blur_downsample(fathers, kernel, scale)
    if noise:
        sons = (sons + torch.randn_like(sons) * noise).clamp(0, 1)
    return bicubic_upscale(sons, scale)


def reconstruction_test(image: torch.Tensor, kernel: np.ndarray | torch.Tensor, size: int, grid: int,
                        scale: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """The pairs on which training is watched: the photo (1x3xHxW) downscaled by ``scale`` with the kernel and
    upscaled back (network input) beside the photo itself (target), as ``grid x grid`` tiles of ``size`` pixels
    spaced evenly over the photo (N x 3 x size x size each), or the whole photo when ``size`` is 0."""
    h, w = image.shape[-2:]
    restored = sons_upscaled(image, kernel, 0.0, scale)[..., :h, :w]
    if not size or (size >= h and size >= w):
        return restored, image
    th, tw = min(size, h), min(size, w)
    tops = np.linspace(0, h - th, grid).round().astype(int)
    lefts = np.linspace(0, w - tw, grid).round().astype(int)
    tiles = [(t, left) for t in tops for left in lefts]
    return (torch.cat([restored[..., t:t + th, left:left + tw] for t, left in tiles]),
            torch.cat([image[..., t:t + th, left:left + tw] for t, left in tiles]))


def plateaued(history: list[tuple[int, float]], step: int, config: ZSSRConfig) -> bool:
    """Whether the reconstruction error stopped improving at ``step``: a line fitted to the (step, error) pairs of
    ``history`` from the last ``config.slope_range`` steps falls by less than ``config.slope_ratio`` times its
    slope's standard error (False with fewer than 3 pairs there)."""
    recent = [(s, e) for s, e in history if s > step - config.slope_range]
    if len(recent) < 3:
        return False
    xs, ys = np.array(recent).T
    (slope, _), cov = np.polyfit(xs, ys, 1, cov=True)
    return bool(-config.slope_ratio * slope < math.sqrt(cov[0, 0]))


def train(sources: list[tuple[torch.Tensor, float]], kernel: np.ndarray, scale: int, net: ResidualNet,
          config: ZSSRConfig, real: bool, rng: np.random.Generator, transforms: tuple[int, ...],
          progress: ProgressFn | None = None) -> tuple[float, int]:
    """Train ``net`` (in place) to upscale the photo by ``scale`` with ``kernel`` (for that scale) until the
    learning-rate policy stops it or ``max_iters``. ``sources``: the photo (1x3xHxW in [0, 1], on the training
    device) with scale 1, then earlier gradual stages' outputs with their scales (``FatherSampler``). Returns the
    gain (1 − the last reconstruction error / that of interpolation alone; 0 for a network that learned nothing)
    and the number of steps run.

    The stopping rule (published): the learning rate falls tenfold whenever a line fitted to the last
    ``slope_range`` steps of reconstruction error no longer falls by ``slope_ratio`` times its standard error
    (checked every ``lr_check_every`` steps, at least ``min_iters`` apart); training stops when it falls under
    ``min_lr`` (three falls from 1e-3), so a photo whose reconstruction stopped improving stops early."""
    image = sources[0][0]
    device = image.device
    kernel_t = torch.as_tensor(kernel, dtype=image.dtype, device=device)  # once, not per step
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    h, w = image.shape[-2:]
    crop = min(config.crop, h, w)
    crop -= crop % scale  # fathers' sides are multiples of the scale
    sampler = FatherSampler(sources, crop, Augmentation() if config.augment else None, transforms, rng)
    test_in, test_hr = reconstruction_test(image, kernel_t, config.test_crop, config.test_grid, scale)
    noise = config.real_noise if real else 0.0
    baseline = float(F.mse_loss(test_in, test_hr))
    history: list[tuple[int, float]] = [(0, baseline)]
    last_change = 0
    learning_rate = config.lr
    for step in range(1, config.max_iters + 1):
        fathers = sampler.draw(config.batch)
        with autocast(config.precision, device):
            out = net(sons_upscaled(fathers, kernel_t, noise, scale))
        loss = F.l1_loss(out, fathers)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

        if step % config.test_every == 0:
            with torch.no_grad(), autocast(config.precision, device):
                history.append((step, float(F.mse_loss(net(test_in), test_hr))))
        if (step % config.lr_check_every == 0 and step - last_change > config.min_iters
                and plateaued(history, step, config)):
            learning_rate /= 10
            last_change = step
            for group in opt.param_groups:
                group["lr"] = learning_rate
        if progress is not None:
            progress(step, config.max_iters)
        if learning_rate < config.min_lr:
            break
    return 1 - history[-1][1] / max(baseline, 1e-12), step


def back_project(sr: torch.Tensor, lr: torch.Tensor, kernel: np.ndarray, scale: int, rounds: int) -> torch.Tensor:
    """``rounds`` iterations of sr = clip(sr + bicubic_up(lr − (sr ⋆ k)↓s), 0, 1) (1x3xsHxsW, 1x3xHxW): the output
    stays consistent with the input."""
    for _ in range(rounds):
        sr = (sr + bicubic_upscale(lr - blur_downsample(sr, kernel, scale), scale)).clamp(0, 1)
    return sr


def median(stack: torch.Tensor) -> torch.Tensor:
    """Median over the first axis, the mean of the two middle values for an even count (as ``numpy.median``)."""
    ordered = stack.sort(dim=0).values
    n = stack.shape[0]
    return (ordered[(n - 1) // 2] + ordered[n // 2]) / 2


def ensemble_output(net: nn.Module, lr: torch.Tensor, kernel: np.ndarray, transforms: tuple[int, ...], rounds: int,
                    config: ZSSRConfig, scale: int = 2) -> torch.Tensor:
    """The published inference: for each rotation/flip ``t``, the network on the bicubic upscale of the turned
    photo, turned back and back-projected ``rounds`` times with ``kernel`` (for ``scale``); the median of those,
    back-projected again. ``lr``: 1x3xHxW in [0, 1]; returns 1x3x(scale·H)x(scale·W) in [0, 1] on ``lr``'s
    device."""
    def forward(x: torch.Tensor) -> torch.Tensor:
        with autocast(config.precision, lr.device):
            return net(bicubic_upscale(x, scale))

    outputs = []
    for t in transforms:
        sr = undo_dihedral(tiled(forward, dihedral(lr, t), config.tile, config.layers, scale), t)
        outputs.append(back_project(sr.clamp(0, 1), lr, kernel, scale, rounds))
    return back_project(median(torch.stack(outputs)), lr, kernel, scale, rounds)


def stage(sources: list[tuple[torch.Tensor, float]], kernel: np.ndarray, scale: int, net: ResidualNet | None,
          config: ZSSRConfig, real: bool, seed: int, progress: ProgressFn | None = None
          ) -> tuple[ResidualNet, torch.Tensor]:
    """One ZSSR stage: ``net`` (a new one when None, else trained on from its weights) trained to upscale the photo
    (``sources[0]``, 1x3xHxW in [0, 1]) by ``scale`` with ``kernel`` (``train``), then ``ensemble_output`` (over the
    allowed rotations/flips when ``config.ensemble``, else the photo as it is). Returns the network and the
    1x3x(scale·H)x(scale·W) output in [0, 1] on the photo's device."""
    lr = sources[0][0]
    transforms = allowed_transforms(kernel, config.symmetries, scale)
    config = replace(config, precision=resolved_precision(config.precision, lr.device))
    with seeded(seed, lr.device):
        start = net if net is not None else new_network(config)
        net = copy.deepcopy(start).to(lr.device)
        gain, _ = train(sources, kernel, scale, net, config, real, np.random.default_rng(seed), transforms, progress)
    if gain < config.min_gain and config.precision == "bf16":
        # bf16 rounding can stall the network at "add nothing to the interpolation" (docs/zssr.md)
        config = replace(config, precision="fp32")
        with seeded(seed, lr.device):
            net = copy.deepcopy(start).to(lr.device)
            train(sources, kernel, scale, net, config, real, np.random.default_rng(seed), transforms, progress)
    net.eval()
    rounds = 0 if real else config.back_projection
    return net, ensemble_output(net, lr, kernel, transforms if config.ensemble else (0,), rounds, config, scale)


def super_resolve(lr: torch.Tensor, kernel: np.ndarray, scale: int, config: ZSSRConfig, real: bool, seed: int,
                  progress: ProgressFn | None = None) -> torch.Tensor:
    """ZSSR of ``lr`` (1x3xHxW in [0, 1]) by ``scale`` (2 or 4) with the centred x2 ``kernel``; returns
    1x3x(scale·H)x(scale·W) in [0, 1] on ``lr``'s device.

    x4 with ``config.gradual`` (published): the x2 stage, then the same network trained on for x4 against the
    photo with the analytic x4 kernel, fathers from the photo and the x2 output (``x4_max_iters`` /
    ``x4_min_iters`` steps when set; ``x4_members`` such stages, seeds ``seed + 1`` on, averaged and
    back-projected). Without: two x2 passes (the second
    on the x2 output, with the same x2 kernel), back-projected against the photo with the x4 kernel."""
    rounds = 0 if real else config.back_projection
    net, sr = stage([(lr, 1.0)], kernel, 2, None, config, real, seed, progress)
    if scale == 4 and config.gradual:
        x4 = replace(config, max_iters=config.x4_max_iters or config.max_iters,
                     min_iters=config.x4_min_iters or config.min_iters)
        k4 = analytic_x4(kernel)
        members = [stage([(lr, 1.0), (sr, 2.0)], k4, 4, net, x4, real, seed + 1 + m, progress)[1]
                   for m in range(config.x4_members)]
        sr = members[0] if len(members) == 1 else back_project(torch.stack(members).mean(dim=0), lr, k4, 4, rounds)
    elif scale == 4:
        _, sr = stage([(sr, 1.0)], kernel, 2, None, config, real, seed + 1, progress)
        sr = back_project(sr, lr, analytic_x4(kernel), 4, rounds)
    return sr


@register
class ZSSR:
    name = "zssr"
    options: dict[str, type] = {"real": bool, "config": str, **{f.name: type(f.default) for f in fields(ZSSRConfig)}}
    scales: tuple[int, ...] = (2, 4)
    description = "Zero-Shot SR (CVPR 2018): a CNN trained on the image itself with the given kernel"

    def weight_files(self, scale: int, **options: Any) -> list[Path]:
        """The learned start the configuration reads, if any (so results made from another start are redone)."""
        path = start_file(configuration(options))
        return [] if path is None else [path]

    def upscale(self, lr: np.ndarray, kernel: np.ndarray, scale: int, real: bool = False, seed: int = 0,
                device: str = "cpu", progress: ProgressFn | None = None, **options: Any) -> np.ndarray:
        """x2 or x4 (``super_resolve``) with the x2 ``kernel`` (centred first; negative lobes kept) in the
        configuration ``options`` choose (``configuration``). ``real``: no back-projection, noisy sons."""
        check_request(self, lr, kernel, scale)
        # the network's base is a bicubic upscale, aligned with the HR only for kernels centred as the
        # convention (docs/ARCHITECTURE.md); a kernel centred elsewhere (DIV2KRK's true kernels sit half a
        # pixel off) would misalign the sons
        kernel = centre_kernel(kernel, 2, keep_negative=True)
        config = configuration(options)
        for name, allowed in (("precision", PRECISIONS), ("symmetries", SYMMETRIES)):
            if getattr(config, name) not in allowed:
                raise InputError(f"backend zssr: option {name} must be one of {', '.join(allowed)}, "
                                 f"not {getattr(config, name)!r}")
        if config.x4_members < 1:
            raise InputError(f"backend zssr: option x4_members must be at least 1, not {config.x4_members}")
        lr_t = to_tensor(lr, torch.device(device))
        return to_image(super_resolve(lr_t, kernel, scale, config, real, seed, progress)).clip(0, 1)
