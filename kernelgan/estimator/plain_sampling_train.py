"""Training of the plain-sampling detector (``plain_sampling``): LR crops of the training photos shrunk by a software
resampler without antialiasing (label 1) or with it, or blurred by a camera-like kernel as the prior's crops are
(label 0), and a binary cross-entropy. Photos are split as for the prior (every tenth held out, to validate)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..families import sample_kernel
from ..presets.ops import jpeg
from ..resamplers import PLAIN_SAMPLING, RESAMPLERS, resampler_kernel
from ..resize import blur_downsample
from ..rng import seeded
from ..training import train_binary_detector
from .plain_sampling import CROP, PlainSamplingNet, PlainSamplingShape, PlainSamplingWeights
from .prior_train import RECIPES, load_photos, make_lr, split_photos

PRE_SCALES = (1.0, 0.7, 0.5)  # each photo also used shrunk (softer HR detail)
JPEG_P = 0.3  # share of software crops saved as JPEG, quality U(75, 95) (web images)
MARGIN = 8  # HR px around a crop, so the resampler's taps never reach the border


def _software_crop(photo: np.ndarray, rng: np.random.Generator, plain: bool) -> np.ndarray:
    """A CROP x CROP LR crop of ``photo`` (HxW luma) shrunk x2 or x4 by a random resampler, plain sampling or
    antialiased, 8-bit, JPEG on ``JPEG_P`` of them."""
    scales = [s for s in (2, 4) if min(photo.shape) >= CROP * s + 2 * MARGIN]
    scale = scales[int(rng.integers(len(scales)))]
    names = PLAIN_SAMPLING if plain else RESAMPLERS
    kernel = resampler_kernel(names[int(rng.integers(len(names)))], scale, antialias=not plain)
    side = CROP * scale + 2 * MARGIN
    top, left = (int(rng.integers(0, n - side + 1)) for n in photo.shape)
    hr = np.rot90(photo[top:top + side, left:left + side], int(rng.integers(4)))
    lr = blur_downsample(np.ascontiguousarray(hr), kernel, scale)
    off = MARGIN // scale
    lr = np.round(np.clip(lr[off:off + CROP, off:off + CROP], 0, 1) * 255) / 255
    return jpeg(lr, int(rng.integers(75, 96))) if rng.random() < JPEG_P else lr


def make_plain_sampling_dataset(photos: list[np.ndarray], n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` (crop 1 x CROP x CROP, label) pairs from luma ``photos`` (HxW in [0, 1]; those under 2 x CROP + 2 x
    MARGIN a side are left out): half plain sampling (label 1), a quarter antialiased resamplers, a quarter
    camera-like LRs made as the prior's camera recipe makes them (every training family, noise, sharpening, JPEG;
    ``prior_train.make_lr``)."""
    rng = np.random.default_rng(seed)
    photos = [p for p in photos if min(p.shape) >= 2 * CROP + 2 * MARGIN]
    camera = RECIPES["camera"]
    crops, labels = [], []
    for i in range(n):
        photo = photos[int(rng.integers(len(photos)))]
        if i % 4 == 3:
            family = camera.families[int(rng.integers(len(camera.families)))]
            lr = make_lr(photo, sample_kernel(family, rng), rng, camera)[1]
            top, left = (int(rng.integers(0, s - CROP + 1)) for s in lr.shape)
            crop = lr[top:top + CROP, left:left + CROP]
        else:
            crop = _software_crop(photo, rng, plain=i % 2 == 0)
        crops.append(crop)
        labels.append(float(i % 2 == 0))
    return np.stack(crops)[:, None].astype(np.float32), np.array(labels, dtype=np.float32)


def train_plain_sampling(train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray], epochs: int,
                         seed: int, log: Callable[[str], None] = print, batch: int = 64,
                         lr: float = 1e-3) -> PlainSamplingWeights:
    """Adam with cosine decay on the binary cross-entropy; the last epoch's weights, with the validation accuracy
    per epoch (crops) in their settings."""
    with seeded(seed, None):
        net = PlainSamplingNet(PlainSamplingShape())
        history = train_binary_detector(net, net, train, val, epochs, batch, lr, seed, log)
    return PlainSamplingWeights.of(net, {"seed": seed, "epochs": epochs, "history": history})


def train_plain_sampling_on_photos(paths: list[Path], samples: int, epochs: int, seed: int,
                                   log: Callable[[str], None] = print) -> PlainSamplingWeights:
    """Split ``paths`` as the prior's (every tenth held out), make the crops and train."""
    train_paths, held_out = split_photos(paths)
    log(f"{len(train_paths)} training photos, {len(held_out)} held out; making {samples} crops")
    train = make_plain_sampling_dataset(load_photos(train_paths, PRE_SCALES), samples, seed)
    val = make_plain_sampling_dataset(load_photos(held_out, PRE_SCALES), max(samples // 10, 200), seed + 1)
    weights = train_plain_sampling(train, val, epochs, seed, log)
    weights.settings.update(samples=samples, train_photos=[p.name for p in train_paths],
                            held_out_photos=[p.name for p in held_out])
    return weights
