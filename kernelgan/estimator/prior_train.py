"""Training of the learned kernel prior (``prior``) on synthetic pairs: HR photo crop, kernel of a random
family (``families.TRAINING``: the five classical ones and the camera ones), blur + x2 subsample, then what a
camera and its software add on some of them (signal-dependent sensor noise, demosaicing, in-camera sharpening,
8-bit rounding, JPEG) -> (log spectrum, true kernel). These are nuisances: the target stays the optical kernel.

Photos are split as for SRMD: every tenth (sorted by name) is held out and never trained on; those make the
tuning set. Sharpness varies between photos, so each is also used resized (``PriorTrainSettings.pre_scales``):
downscaled copies are sharper per pixel, upscaled ones softer; the prior must not learn one camera's blur as
"the image".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import gaussian_filter

from ..errors import InputError
from ..families import FAMILIES, TRAINING, WIDE_SIZE, sample_kernel, truth_grid
from ..io import read_image
from ..metrics import MAX_PSNR
from ..presets.ops import bayer_demosaic, jpeg
from ..resize import blur, imresize
from ..rng import seeded
from ..training import train_minibatches
from .prior import PriorShape, PriorWeights, SpectrumNet
from .spectrum import TILE, gray, log_spectrum

Pairs = tuple[np.ndarray, np.ndarray, np.ndarray]  # spectra, kernels, software labels (``make_dataset``)


@dataclass(frozen=True)
class PriorTrainSettings:
    samples: int = 80_000  # synthetic (spectrum, kernel) pairs generated once
    val_samples: int = 3_000  # pairs from the held-out photos
    epochs: int = 20
    batch: int = 128
    lr: float = 2e-3
    lr_end: float = 2e-5
    max_crop: int = 256  # HR crop side (LR tiles are TILE=64; a 256 crop gives 9 of them)
    families: tuple[str, ...] = TRAINING  # kernel families drawn uniformly
    noise_p: float = 0.4  # share of samples with sensor noise before rounding: 8-bit sigma U(0, noise_max) ...
    noise_max: float = 5.0
    shot_max: float = 6.0  # ... plus, on half of them, shot noise of 8-bit sigma up to shot_max at white
    sharpen_p: float = 0.15  # share of samples sharpened in camera: unsharp mask, amount U(0.2, 1), sigma U(0.6, 1.5)
    jpeg_p: float = 0.25  # share of samples saved as JPEG, quality U(jpeg_min, 95)
    jpeg_min: int = 60
    demosaic_p: float = 0.0  # share of samples demosaiced (RGGB, bilinear): blurred in colour, noise on the mosaic
    moment_weight: float = 0.1  # weight of the log-size term beside the kernel MSE
    pre_scales: tuple[float, ...] = (2.0, 1.5, 1.0, 0.7, 0.5)  # each photo is also used resized by these factors
    seed: int = 0
    shape: PriorShape = PriorShape()


RECIPES = {
    "camera": PriorTrainSettings(),  # the default since 2026-12-02
    # the recipe of the weights shipped before (prior.pt of 2026-11-26, prior_sharp.pt, software.pt): the five
    # classical families, Gaussian noise on 30%, JPEG 70-95 on 15%, no sharpening
    "classical": PriorTrainSettings(families=FAMILIES, noise_p=0.3, shot_max=0.0, sharpen_p=0.0, jpeg_p=0.15,
                                    jpeg_min=70),
    # the camera recipe with a colour filter array: a fifth of the pairs demosaiced (``presets.ops.bayer_demosaic``)
    "camera-cfa": PriorTrainSettings(demosaic_p=0.2),
    # the camera recipe with wide shake too (6-15 px), on a WIDE_SIZE grid
    "camera-wide": PriorTrainSettings(families=(*TRAINING, "shake-wide"), shape=PriorShape(kernel_size=WIDE_SIZE)),
}


def split_photos(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """(training, held-out): every tenth photo of the sorted list (by name) is held out."""
    ordered = sorted(paths, key=lambda p: p.name)
    return [p for i, p in enumerate(ordered) if i % 10 != 9], [p for i, p in enumerate(ordered) if i % 10 == 9]


def make_pair(photo: np.ndarray, kernel: np.ndarray, rng: np.random.Generator, settings: PriorTrainSettings
              ) -> np.ndarray:
    """Log spectrum of one synthetic LR crop of ``photo`` (``load_photos``) blurred with ``kernel``."""
    return log_spectrum(make_lr(photo, kernel, rng, settings)[1])


def make_lr(photo: np.ndarray, kernel: np.ndarray, rng: np.random.Generator, settings: PriorTrainSettings
            ) -> tuple[np.ndarray, np.ndarray]:
    """(HR crop, its synthetic LR), both luma HxW in [0, 1]: a random crop of ``photo`` (HxW luma, or HxWx3 when
    the recipe demosaics), turned and flipped at random, blurred with ``kernel``, subsampled x2, then demosaiced /
    sharpened / noisy / rounded / JPEG as ``settings`` draw. A demosaiced sample is blurred in colour and its
    sensor noise falls on the mosaic, before demosaicing (as ``kernelgan degrade --demosaic`` does)."""
    h, w = photo.shape[:2]
    ch, cw = min(h, settings.max_crop), min(w, settings.max_crop)
    top, left = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
    crop = photo[top:top + ch, left:left + cw]
    crop = np.rot90(crop, int(rng.integers(4)))
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    demosaic = crop.ndim == 3 and rng.random() < settings.demosaic_p
    lr = blur(crop if demosaic else gray(crop), kernel)[::2, ::2]
    crop = gray(crop)
    if demosaic:
        lr = gray(bayer_demosaic(_sensor_noise(lr, rng, settings)))
    if settings.sharpen_p and rng.random() < settings.sharpen_p:
        lr = lr + rng.uniform(0.2, 1.0) * (lr - gaussian_filter(lr, rng.uniform(0.6, 1.5), mode="reflect"))
    if not demosaic:
        lr = _sensor_noise(lr, rng, settings)
    lr = np.round(np.clip(lr, 0, 1) * 255) / 255
    if rng.random() < settings.jpeg_p:
        lr = jpeg(lr, int(rng.integers(settings.jpeg_min, 96)))
    return np.asarray(crop, dtype=np.float64), lr


def _sensor_noise(lr: np.ndarray, rng: np.random.Generator, settings: PriorTrainSettings) -> np.ndarray:
    """``lr`` (HxW or HxWx3 in [0, 1]) with sensor noise on a ``noise_p`` share of draws: 8-bit sigma U(0,
    ``noise_max``), plus on half of those shot noise (variance proportional to the signal) up to ``shot_max``."""
    if rng.random() >= settings.noise_p:
        return lr
    sd: float | np.ndarray = rng.uniform(0, settings.noise_max) / 255
    if settings.shot_max and rng.random() < 0.5:
        sd = np.sqrt(sd ** 2 + (rng.uniform(0, settings.shot_max) / 255) ** 2 * np.clip(lr, 0, 1))
    return lr + rng.normal(0, 1, lr.shape) * sd


def load_photos(paths: list[Path], pre_scales: tuple[float, ...], colour: bool = False) -> list[np.ndarray]:
    """Each photo (luma HxW, or HxWx3 float32 with ``colour``, for recipes that demosaic) resized by every factor
    of ``pre_scales`` (bicubic, antialiased when shrinking) where its LR is still at least one tile a side."""
    out = []
    for path in paths:
        photo = read_image(path) if colour else gray(read_image(path))
        for f in pre_scales:
            img = photo if f == 1.0 else imresize(photo, f)
            if min(img.shape[:2]) >= 2 * TILE + 16:
                out.append(np.clip(img, 0, 1).astype(np.float32) if colour else np.clip(img, 0, 1))
    return out


def make_dataset(photos: list[np.ndarray], n: int, settings: PriorTrainSettings, seed: int,
                 progress: Callable[[int], None] | None = None) -> Pairs:
    """``n`` pairs: spectra n x 1 x BINS x BINS (float32), true kernels n x K x K (float32, centred, negative
    lobes clipped) and software labels n (float32, 1 for the ``bicubic`` family)."""
    rng = np.random.default_rng(seed)
    spectra, kernels, software = [], [], []
    k_size = settings.shape.kernel_size
    for i in range(n):
        family = settings.families[rng.integers(len(settings.families))]
        k = sample_kernel(family, rng)
        photo = photos[rng.integers(len(photos))]
        spectra.append(make_pair(photo, k, rng, settings))
        kernels.append(truth_grid(k, k_size))
        software.append(float(family == "bicubic"))
        if progress is not None and (i + 1) % 1000 == 0:
            progress(i + 1)
    return np.stack(spectra)[:, None], np.stack(kernels).astype(np.float32), np.array(software, dtype=np.float32)


def log_size(k: torch.Tensor) -> torch.Tensor:
    """log of the trace of each kernel's covariance (B x K x K -> B)."""
    size = k.shape[-1]
    idx = torch.arange(size, dtype=k.dtype, device=k.device)
    py, px = k.sum(dim=2), k.sum(dim=1)
    my, mx = (py * idx).sum(1), (px * idx).sum(1)
    var = (py * (idx - my[:, None]) ** 2).sum(1) + (px * (idx - mx[:, None]) ** 2).sum(1)
    return torch.log(var + 1e-4)


def train_prior(train: Pairs, val: Pairs, settings: PriorTrainSettings, log: Callable[[str], None] = print,
                init: PriorWeights | None = None) -> tuple[PriorWeights, list[dict]]:
    """Adam with cosine decay on kernel MSE (x1000) + ``moment_weight`` x |log-size error| (+ the software head's
    binary cross-entropy), from ``init``'s weights when given (fine-tuning; same shape, or a smaller kernel grid,
    which is widened: ``PriorWeights.widened``) or from scratch; returns
    the weights of the last epoch and the validation history (kernel PSNR, size correlation and the software
    head's accuracy per epoch)."""
    widened_from = None
    if init is not None and init.shape.kernel_size < settings.shape.kernel_size:
        widened_from, init = init.shape.kernel_size, init.widened(settings.shape.kernel_size)
    if init is not None and init.shape != settings.shape:
        raise InputError(f"the starting weights have shape {init.shape}, the settings ask for {settings.shape}")
    with seeded(settings.seed, None):  # torch's global RNG is restored afterwards
        weights, history = _train_prior(train, val, settings, log, init)
    if widened_from is not None:
        weights.settings["widened_from"] = widened_from
    return weights, history


def _train_prior(train: Pairs, val: Pairs, settings: PriorTrainSettings, log: Callable[[str], None],
                 init: PriorWeights | None) -> tuple[PriorWeights, list[dict]]:
    net = SpectrumNet(settings.shape)
    if init is not None:
        net.load_state_dict(init.state)
    x, y, sw = (torch.from_numpy(a) for a in train)
    xv, yv, swv = (torch.from_numpy(a) for a in val)
    history: list[dict] = []
    start = time.perf_counter()

    def loss_of(idx: torch.Tensor) -> torch.Tensor:
        pred, software = net.predict(x[idx])
        loss = (1000 * ((pred - y[idx]) ** 2).mean()
                + settings.moment_weight * (log_size(pred) - log_size(y[idx])).abs().mean())
        if software is not None:
            loss = loss + F.binary_cross_entropy_with_logits(software, sw[idx])
        return loss

    def validate(epoch: int) -> None:
        with torch.no_grad():
            pv, software = net.predict(xv)
        accuracy = None if software is None else float(((software > 0) == (swv > 0.5)).float().mean())
        mse = ((pv - yv) ** 2).mean(dim=(1, 2))
        psnr = float((10 * torch.log10(1 / mse)).clamp(max=MAX_PSNR).mean())  # an exact kernel: MAX_PSNR, not inf
        corr = float(np.corrcoef(log_size(pv).numpy(), log_size(yv).numpy())[0, 1])
        history.append({"epoch": epoch, "val_kernel_psnr": round(psnr, 3), "val_size_corr": round(corr, 4),
                        "val_software_accuracy": accuracy, "seconds": round(time.perf_counter() - start, 1)})
        log(f"epoch {epoch}/{settings.epochs}: val kernel PSNR {psnr:.2f} dB, size corr {corr:.3f}, "
            + ("" if accuracy is None else f"software accuracy {accuracy:.3f}, ")
            + f"{time.perf_counter() - start:.0f} s")

    train_minibatches(net, loss_of, len(x), settings.epochs, settings.batch, settings.lr, settings.lr_end,
                      settings.seed, validate)
    weights = PriorWeights.of(net, {**{k: v for k, v in asdict(settings).items() if k != "shape"}, "history": history})
    return weights, history


def train_prior_on_photos(paths: list[Path], settings: PriorTrainSettings, log: Callable[[str], None] = print,
                          init: PriorWeights | None = None) -> PriorWeights:
    """Split ``paths`` (training / held out), make the synthetic pairs and train (from ``init`` when given); the
    photo names and the validation history are stored in the weights' settings."""
    train_paths, held_out = split_photos(paths)
    log(f"{len(train_paths)} training photos, {len(held_out)} held out; making {settings.samples} pairs")
    colour = settings.demosaic_p > 0
    train = make_dataset(load_photos(train_paths, settings.pre_scales, colour), settings.samples, settings,
                         settings.seed)
    val = make_dataset(load_photos(held_out, settings.pre_scales, colour), settings.val_samples, settings,
                       settings.seed + 1)
    weights, _ = train_prior(train, val, settings, log, init)
    weights.settings.update(train_photos=[p.name for p in train_paths], held_out_photos=[p.name for p in held_out])
    return weights
