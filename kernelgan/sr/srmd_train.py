"""Training SRMD on synthetic pairs made on the fly from HR photos (``kernelgan train-srmd``).

Each step draws, per sample: a photo, an HR crop, a random dihedral flip, a family kernel k2 (``kernel_pca``),
blur + subsample in our degradation model (x2: k2; x4: its analytic x4, the same as applying k2 twice),
Gaussian noise (half the samples clean, the rest U(0, max_noise) on the 8-bit scale) and 8-bit rounding.
Randomness comes from ``default_rng([seed, stream, step])``, so a resumed run continues exactly as an unbroken one.
Every ``tenth`` photo (sorted by path) is held out for validation: one central crop each, fixed kernels, no noise.

With another ``preset`` (bsrgan, realesrgan, realistic: both, or mix: both and classical scenes), a ``1 - classical_fraction``
share of the samples are windows of scenes instead (``realistic_pairs``: the preset's degradations, conditioned
on the kernel and noise level the pipeline estimates), and validation uses scenes of the held-out photos;
``init`` starts from trained weights (their kernel basis included) instead of from scratch; ``kernels`` (a kernel
pool, ``kernelgan.pools``: e.g. the kernels estimated from one camera's photos) replaces the family kernels of
the classical samples and of validation by the pool's x2 kernels, so the weights specialise to that camera.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError
from ..io import atomic_path, read_image
from ..kernels import analytic_x4
from ..metrics import psnr_y
from ..pools import load_pool
from ..resize import blur_downsample
from ..rng import seeded
from .augment import dihedral
from .kernel_pca import KernelPCA, family_kernels, fit_pca, to_grid
from .realistic_pairs import REALISTIC_PRESETS, ScenePool
from .srmd import SRMDNet, SRMDShape, SRMDWeights, condition_vector, pca_tensors

STEP_STREAM, VALIDATION_STREAM, PCA_STREAM, SCENE_STREAM = 0, 1, 2, 3  # independent random streams per purpose
PRESETS = ("classical", *REALISTIC_PRESETS, "realistic", "mix")


@dataclass(frozen=True)
class TrainSettings:
    scale: int = 2
    channels: int = 64
    layers: int = 12
    steps: int = 4000
    batch: int = 16
    patch: int = 32  # LR pixels per side of a training crop
    lr: float = 1e-3  # Adam; cosine decay to lr/100 over ``steps``
    max_noise: float = 15.0
    clean_fraction: float = 0.5
    pca_kernels: int = 10000
    pca_dims: int = 15
    val_every: int = 250  # also the checkpoint period
    val_crop: int = 96  # LR pixels
    seed: int = 0
    preset: str = "classical"  # or pipeline-conditioned scenes: bsrgan, realesrgan, realistic (both), mix (+ classical)
    classical_fraction: float = 0.3  # with a realistic preset: the share of classical samples
    scenes: int = 2000  # realistic scenes made once per run (``realistic_pairs``)
    scene_lr: int = 80  # LR pixels a side of a scene (x4: 320 HR pixels, BSD100's short side is 321)
    init: str = ""  # weights to start from (fine-tuning); "" starts from scratch
    kernels: str = ""  # a kernel pool folder whose x2 kernels replace the family's; "" the family

    @property
    def realistic(self) -> bool:
        return self.preset != "classical"

    @property
    def shape(self) -> SRMDShape:
        return SRMDShape(self.scale, self.channels, self.layers, self.pca_dims)


@dataclass
class Photos:
    train: list[np.ndarray]
    val: list[np.ndarray]
    names: dict[str, list[str]] = field(default_factory=dict)


def load_photos(paths: list[Path], min_side: int) -> Photos:
    """Read HR photos (HxWx3 in [0,1]); every tenth (sorted) goes to validation. Too-small photos are skipped."""
    train: list[np.ndarray] = []
    val: list[np.ndarray] = []
    names: dict[str, list[str]] = {"train": [], "val": []}
    for i, path in enumerate(sorted(paths)):
        img = read_image(path)
        if min(img.shape[:2]) < min_side:
            continue
        part = "val" if i % 10 == 9 else "train"
        (val if part == "val" else train).append(img)
        names[part].append(path.name)
    if not train or not val:
        raise InputError(f"need at least 10 photos of {min_side}+ pixels a side to train and validate, got {len(paths)}")
    return Photos(train, val, names)


def degrade_crop(hr: np.ndarray, k2: np.ndarray, scale: int, noise: float, rng: np.random.Generator
                 ) -> np.ndarray:
    """LR of an HR crop whose sides are multiples of ``scale``: blur by k2 (x4: its analytic x4), keep every
    ``scale``-th pixel, add N(0, noise/255), round to 8 bits. Borders are reflected: callers crop a margin."""
    kernel = k2 if scale == 2 else analytic_x4(k2)
    lr = blur_downsample(hr, kernel, scale)
    if noise > 0:
        lr = lr + rng.standard_normal(lr.shape) * (noise / 255)
    return (np.round(np.clip(lr, 0, 1) * 255) / 255).astype(np.float32)


def kernel_margin(settings: TrainSettings, grid: int) -> int:
    """LR pixels to discard on each side so no output pixel sees the reflected border of the HR crop."""
    radius = (grid if settings.scale == 2 else 3 * grid - 2) // 2 + 1
    return math.ceil(radius / settings.scale)


def crop_span(settings: TrainSettings, grid: int) -> int:
    """HR pixels a side of one training crop, margins included (photos need at least this)."""
    return (settings.patch + 2 * kernel_margin(settings, grid)) * settings.scale


def make_sample(img: np.ndarray, k2: np.ndarray, noise: float, lr_size: int, margin: int, scale: int,
                rng: np.random.Generator, top_left: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(LR lr_size², HR (scale·lr_size)²) from ``img``: a random (or given) crop with ``margin`` LR pixels around."""
    span = (lr_size + 2 * margin) * scale
    h, w = img.shape[:2]
    if top_left is None:
        top, left = int(rng.integers(0, h - span + 1)), int(rng.integers(0, w - span + 1))
        crop = dihedral(img[top:top + span, left:left + span], int(rng.integers(8)))
    else:
        top, left = top_left
        crop = img[top:top + span, left:left + span]
    lr = degrade_crop(np.ascontiguousarray(crop), k2, scale, noise, rng)[margin:margin + lr_size, margin:margin + lr_size]
    m = margin * scale
    return lr, np.ascontiguousarray(crop[m:m + lr_size * scale, m:m + lr_size * scale], dtype=np.float32)


def _stack(images: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(images).transpose(0, 3, 1, 2).copy())


def pool_kernels(folder: str, size: int) -> np.ndarray:
    """The x2 kernels of the pool ``folder`` on SRMD's ``size x size`` grid (n x size x size)."""
    return np.stack([to_grid(entry.k2, size) for entry in load_pool(Path(folder))])


def draw_k2(rng: np.random.Generator, size: int, pool: np.ndarray | None) -> np.ndarray:
    """One x2 kernel on the ``size`` grid: a random pool kernel, or without a pool one of the family's."""
    return family_kernels(rng, 1, size)[0] if pool is None else pool[int(rng.integers(len(pool)))]


def training_batch(photos: list[np.ndarray], pca: KernelPCA, settings: TrainSettings, step: int,
                   scenes: ScenePool | None = None, pool: np.ndarray | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(LR Bx3xPxP, condition Bx(t+1), HR Bx3x(sP)x(sP)) for ``step`` (deterministic in seed and step); with
    ``scenes``, a ``1 - classical_fraction`` share of the samples are windows of realistic scenes; the classical
    samples' kernels come from ``pool`` when given (``draw_k2``)."""
    rng = np.random.default_rng([settings.seed, STEP_STREAM, step])
    margin = kernel_margin(settings, pca.size)
    lrs, conds, hrs = [], [], []
    for _ in range(settings.batch):
        if scenes is not None and rng.random() >= settings.classical_fraction:
            index = int(rng.integers(len(scenes.lrs)))
            lr, hr = scenes.sample(index, settings.patch, rng)
            lrs.append(lr)
            hrs.append(hr)
            conds.append(scenes.conds[index])
            continue
        img = photos[int(rng.integers(len(photos)))]
        k2 = draw_k2(rng, pca.size, pool)
        noise = 0.0 if rng.random() < settings.clean_fraction else float(rng.uniform(0, settings.max_noise))
        lr, hr = make_sample(img, k2, noise, settings.patch, margin, settings.scale, rng)
        lrs.append(lr)
        hrs.append(hr)
        conds.append(condition_vector(pca, k2, noise))
    return _stack(lrs), torch.from_numpy(np.stack(conds)), _stack(hrs)


def _bicubic_psnr(lrs: list[np.ndarray], hrs: list[np.ndarray], scale: int) -> float:
    """Mean Y-PSNR (scale pixels shaved) of bicubic interpolation on the pairs."""
    scores = []
    for lr, hr in zip(lrs, hrs, strict=True):
        up = F.interpolate(_stack([lr]), scale_factor=scale, mode="bicubic", align_corners=False)
        scores.append(psnr_y(np.clip(up[0].numpy().transpose(1, 2, 0), 0, 1), hr, scale))
    return float(np.mean(scores))


@dataclass
class Validation:
    """Fixed validation pairs (central crops of held-out photos, one family kernel each, no noise)."""

    lrs: list[np.ndarray]
    conds: list[np.ndarray]
    hrs: list[np.ndarray]
    bicubic_psnr: float

    @classmethod
    def build(cls, photos: list[np.ndarray], pca: KernelPCA, settings: TrainSettings,
              pool: np.ndarray | None = None) -> Validation:
        rng = np.random.default_rng([settings.seed, VALIDATION_STREAM])
        margin = kernel_margin(settings, pca.size)
        lrs, conds, hrs = [], [], []
        for img in photos:
            k2 = draw_k2(rng, pca.size, pool)
            h, w = img.shape[:2]
            size = min(settings.val_crop, (min(h, w) // settings.scale) - 2 * margin)
            span = (size + 2 * margin) * settings.scale
            top, left = (h - span) // 2, (w - span) // 2
            lr, hr = make_sample(img, k2, 0.0, size, margin, settings.scale, rng, (top, left))
            lrs.append(lr)
            hrs.append(hr)
            conds.append(condition_vector(pca, k2, 0.0))
        return cls(lrs, conds, hrs, _bicubic_psnr(lrs, hrs, settings.scale))

    @classmethod
    def from_scenes(cls, scenes: ScenePool, settings: TrainSettings) -> Validation:
        """The central window (``val_crop`` pixels at most) of each realistic scene, with its pipeline condition."""
        size = min(settings.val_crop, scenes.lrs.shape[1])
        pairs = [scenes.sample(i, size, None) for i in range(len(scenes.lrs))]
        lrs, hrs = [p[0] for p in pairs], [p[1] for p in pairs]
        return cls(lrs, list(scenes.conds), hrs, _bicubic_psnr(lrs, hrs, settings.scale))

    def psnr(self, net: SRMDNet, device: torch.device) -> float:
        """Mean Y-PSNR (scale pixels shaved) of ``net`` on the validation pairs."""
        scores = []
        with torch.no_grad():
            for lr, cond, hr in zip(self.lrs, self.conds, self.hrs, strict=True):
                sr = net(_stack([lr]).to(device), torch.from_numpy(cond)[None].to(device))
                scores.append(psnr_y(np.clip(sr[0].cpu().numpy().transpose(1, 2, 0), 0, 1), hr, net.shape.scale))
        return float(np.mean(scores))


def checkpoint_path(weights: Path) -> Path:
    return weights.with_name(weights.name + ".ckpt")


def fit_basis(settings: TrainSettings) -> KernelPCA:
    rng = np.random.default_rng([settings.seed, PCA_STREAM])
    return fit_pca(family_kernels(rng, settings.pca_kernels), settings.pca_dims)


Event = dict
Report = Callable[[Event], None]


def train_srmd(photos: Photos, settings: TrainSettings, weights_path: Path, resume: bool, device: torch.device,
               report: Report) -> SRMDWeights:
    """Train (or resume) and write ``weights_path``; checkpoints to ``<weights>.ckpt`` every ``val_every`` steps.

    A resumed run may have more ``steps`` than the checkpoint's: the cosine schedule then follows the new total.

    ``report`` receives {"event": "start"|"step"|"validation"|"done", ...} as training goes.
    """
    with seeded(settings.seed, device):  # torch's global RNG is restored afterwards
        return _train_srmd(photos, settings, weights_path, resume, device, report)


def _train_srmd(photos: Photos, settings: TrainSettings, weights_path: Path, resume: bool, device: torch.device,
                report: Report) -> SRMDWeights:
    ckpt_path = checkpoint_path(weights_path)
    net = SRMDNet(settings.shape).to(device)
    if settings.init:
        start_from = SRMDWeights.load(settings.init)
        if replace(start_from.net.shape, channels=settings.channels) == settings.shape:  # narrower: widened
            start_from = start_from.widened(settings.channels, settings.seed)
        if start_from.net.shape != settings.shape:
            raise InputError(f"{settings.init}: weights of shape {start_from.net.shape}, not {settings.shape}")
        net.load_state_dict(start_from.net.state_dict())
    opt = torch.optim.Adam(net.parameters(), lr=settings.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(step, settings.steps) / settings.steps)))
    start, history = 0, []
    if resume and ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        defaults = asdict(TrainSettings())  # a checkpoint from before a setting existed had its default
        differs = sorted(k for k, v in asdict(settings).items()
                         if k != "steps" and ckpt["settings"].get(k, defaults[k]) != v)
        if differs:
            raise InputError(f"{ckpt_path}: was started with other {', '.join(differs)}; use the same options "
                             "(only --steps may change) or start afresh with --force")
        net.load_state_dict(ckpt["state_dict"])
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        start, history = int(ckpt["step"]), list(ckpt["history"])
        pca = KernelPCA.from_dict(ckpt["pca"])
    else:
        pca = start_from.pca if settings.init else fit_basis(settings)
    pool = pool_kernels(settings.kernels, pca.size) if settings.kernels else None
    scenes = None
    if settings.realistic:  # made again on resume: the same for the same seed
        report({"event": "scenes", "count": settings.scenes})
        rng = np.random.default_rng([settings.seed, SCENE_STREAM])
        scenes = ScenePool.build(photos.train, pca, settings.preset, settings.scenes, settings.scene_lr,
                                 settings.scale, rng)
        val_scenes = ScenePool.build(photos.val, pca, settings.preset, 2 * len(photos.val), settings.scene_lr,
                                     settings.scale, np.random.default_rng([settings.seed, VALIDATION_STREAM]),
                                     central=True)
        validation = Validation.from_scenes(val_scenes, settings)
    else:
        validation = Validation.build(photos.val, pca, settings, pool)
    report({"event": "start", "step": start, "steps": settings.steps, "train_photos": len(photos.train),
            "val_photos": len(photos.val), "val_bicubic_psnr": validation.bicubic_psnr})

    began = time.perf_counter()
    for step in range(start + 1, settings.steps + 1):
        lr, cond, hr = (t.to(device) for t in training_batch(photos.train, pca, settings, step, scenes, pool))
        loss = F.l1_loss(net(lr, cond), hr)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        report({"event": "step", "step": step, "loss": loss.item()})

        if step % settings.val_every == 0 or step == settings.steps:
            net.eval()
            score = validation.psnr(net, device)
            net.train()
            history.append([step, score])
            report({"event": "validation", "step": step, "val_psnr": score, "val_bicubic_psnr": validation.bicubic_psnr,
                    "seconds": time.perf_counter() - began})
            with atomic_path(ckpt_path) as tmp:
                torch.save({"settings": asdict(settings), "step": step, "history": history,
                            "state_dict": net.state_dict(), "optimizer": opt.state_dict(),
                            "scheduler": sched.state_dict(),
                            "pca": pca_tensors(pca)}, tmp)

    record = {**asdict(settings), "train_photos": photos.names["train"], "val_photos": photos.names["val"],
              "val_history": history, "val_bicubic_psnr": validation.bicubic_psnr}
    weights = SRMDWeights(net.cpu().eval(), pca, record)
    weights.save(weights_path)
    report({"event": "done", "step": settings.steps, "weights": str(weights_path),
            "val_psnr": history[-1][1] if history else None})
    return weights

