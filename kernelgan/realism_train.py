"""Training of the SRMD weight router (``realism``): LR crops made by the realistic presets or classically from
the training photos, their spectra, and a binary cross-entropy."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from .estimator.prior import PriorShape, PriorWeights, SpectrumNet
from .estimator.prior_train import split_photos
from .estimator.spectrum import TILE, log_spectrum
from .families import TRAINING, sample_kernel
from .io import read_image
from .presets import apply_preset
from .rng import seeded
from .sr.realistic_pairs import MAX_CLASSICAL_NOISE, REALISTIC_PRESETS
from .synth import degrade
from .training import train_binary_detector

LR_SIDE = 128  # LR crop side of a training sample (9 of the spectrum's tiles)


def make_router_dataset(photos: list[np.ndarray], n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` (log spectrum 1 x BINS x BINS, label) pairs from RGB ``photos`` (HxWx3 in [0, 1]): half made by a
    realistic preset (label 1), half classically with one kernel of any training family (``families.TRAINING``:
    Gaussians, motion, defocus, lens, shake, ...; label 0), each at x2 or x4 from an HR crop of at most
    ``LR_SIDE`` x scale pixels a side, rounded to 8 bits."""
    rng = np.random.default_rng(seed)
    spectra, labels = [], []
    for i in range(n):
        photo = photos[int(rng.integers(len(photos)))]
        scale = (2, 4)[int(rng.integers(2))] if min(photo.shape[:2]) >= 4 * TILE else 2
        h, w = (min(side, LR_SIDE * scale) // scale * scale for side in photo.shape[:2])
        top, left = int(rng.integers(0, photo.shape[0] - h + 1)), int(rng.integers(0, photo.shape[1] - w + 1))
        hr = np.ascontiguousarray(photo[top:top + h, left:left + w])
        realistic = i % 2 == 0
        if realistic:
            lr = apply_preset(REALISTIC_PRESETS[int(rng.integers(len(REALISTIC_PRESETS)))], hr, scale, rng).lr
        else:  # one kernel of any training family (x4: applied twice), Gaussian noise U(0, 15) on half
            family = TRAINING[int(rng.integers(len(TRAINING)))]
            lr = degrade(hr, scale, k2=sample_kernel(family, rng))[0]
            if rng.random() < 0.5:
                lr = lr + rng.standard_normal(lr.shape) * rng.uniform(0, MAX_CLASSICAL_NOISE) / 255
        lr = np.round(np.clip(lr, 0, 1) * 255) / 255
        spectra.append(log_spectrum(lr))
        labels.append(float(realistic))
    return np.stack(spectra)[:, None].astype(np.float32), np.array(labels, dtype=np.float32)


def train_router(train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray], epochs: int, seed: int,
                 log: Callable[[str], None] = print, batch: int = 128, lr: float = 1e-3) -> PriorWeights:
    """Adam with cosine decay on the binary cross-entropy of the extra output (the kernel outputs are not
    trained); the last epoch's weights, with the validation accuracy per epoch in their settings."""
    shape = PriorShape(software_head=True)
    with seeded(seed, None):
        net = SpectrumNet(shape)

        def detector_logits(spectra: torch.Tensor) -> torch.Tensor:
            logits = net.predict(spectra)[1]
            assert logits is not None  # the shape has the extra output
            return logits

        history = train_binary_detector(net, detector_logits, train, val, epochs, batch, lr, seed, log)
    return PriorWeights.of(net, {"kind": "router", "seed": seed, "epochs": epochs, "history": history})


def train_router_on_photos(paths: list[Path], samples: int, epochs: int, seed: int,
                           log: Callable[[str], None] = print) -> PriorWeights:
    """Split ``paths`` as the prior's (every tenth held out), make the pairs and train."""
    train_paths, held_out = split_photos(paths)
    log(f"{len(train_paths)} training photos, {len(held_out)} held out; making {samples} samples")
    train = make_router_dataset([read_image(p) for p in train_paths], samples, seed)
    val = make_router_dataset([read_image(p) for p in held_out], max(samples // 10, 200), seed + 1)
    weights = train_router(train, val, epochs, seed, log)
    weights.settings.update(samples=samples, train_photos=[p.name for p in train_paths],
                            held_out_photos=[p.name for p in held_out])
    return weights
