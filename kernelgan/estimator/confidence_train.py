"""Training of the prior's confidence network (``confidence``): fresh synthetic pairs made exactly as the prior's
(``prior_train.make_lr``: same families, nuisances and photo split), the prior's kernel on each, and its actual
errors as targets (log size error, re-degradation PSNR)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from ..families import sample_kernel
from ..kernel_shape import size_error
from ..kernels import centre_kernel
from ..metrics import psnr_from_mse
from ..outputs import file_sha256
from ..resize import blur
from ..rng import seeded
from ..training import train_minibatches
from .confidence import ConfidenceNet, ConfidenceShape, ConfidenceWeights
from .prior import PriorWeights, SpectrumNet
from .prior_train import PriorTrainSettings, load_photos, make_lr, split_photos
from .spectrum import log_spectrum

Triples = tuple[np.ndarray, np.ndarray, np.ndarray]  # spectra n x 1 x B x B, prior kernels n x K x K, targets n x 2
Y_RANGE = 219.0  # luma of a gray image on the Y scale (metrics.rgb_to_y): PSNR as ``evaluate.redegradation_psnr``


def redegradation(hr_gray: np.ndarray, estimate: np.ndarray, truth: np.ndarray) -> float:
    """Y-PSNR (dB) between ``hr_gray`` (HxW in [0, 1]) blurred and subsampled x2 with ``estimate`` and with ``truth``."""
    a, b = blur(hr_gray, estimate)[::2, ::2], blur(hr_gray, truth)[::2, ::2]
    return psnr_from_mse(float(((a - b) ** 2).mean()) * Y_RANGE ** 2, 255.0)


def make_confidence_dataset(photos: list[np.ndarray], n: int, settings: PriorTrainSettings, seed: int,
                            prior: SpectrumNet, chunk: int = 500) -> Triples:
    """``n`` triples: the LR crop's log spectrum, the prior's kernel for it (as the network returns it, before
    centring) and the targets (log size error of the centred kernel, re-degradation PSNR in dB)."""
    rng = np.random.default_rng(seed)
    spectra, kernels, targets = [], [], []
    for start in range(0, n, chunk):
        cases = []
        for _ in range(min(chunk, n - start)):
            family = settings.families[rng.integers(len(settings.families))]
            truth = sample_kernel(family, rng)
            crop, lr = make_lr(photos[rng.integers(len(photos))], truth, rng, settings)
            cases.append((crop, truth, log_spectrum(lr)))
        batch = np.stack([c[2] for c in cases])[:, None]
        with torch.no_grad():
            predicted = prior(torch.from_numpy(batch)).double().numpy()
        for (crop, truth, _), raw in zip(cases, predicted, strict=True):
            estimate = centre_kernel(raw, 2)
            targets.append((size_error(estimate, truth), redegradation(crop, estimate, truth)))
        spectra.append(batch)
        kernels.append(predicted.astype(np.float32))
    return np.concatenate(spectra), np.concatenate(kernels), np.array(targets, dtype=np.float32)


def rank_scores(net: ConfidenceNet, data: Triples) -> dict[str, float]:
    """Spearman rank correlations on ``data``: predicted RMS size error vs actual |size error|, predicted vs actual
    re-degradation PSNR; and the share of actual size errors inside the 90% interval."""
    x, k, t = (torch.from_numpy(a) for a in data)
    with torch.no_grad():
        out = net(x, k).double().numpy()
    mu, sigma = out[:, 0], np.exp(out[:, 1])
    actual = t.double().numpy()
    inside = np.abs(actual[:, 0] - mu) <= 1.645 * sigma
    return {"size_rank": float(spearmanr(np.hypot(mu, sigma), np.abs(actual[:, 0]))[0]),
            "redeg_rank": float(spearmanr(out[:, 2], actual[:, 1])[0]), "coverage90": float(inside.mean())}


def train_confidence(train: Triples, val: Triples, epochs: int, seed: int, log: Callable[[str], None] = print,
                     batch: int = 128, lr: float = 1e-3) -> tuple[ConfidenceNet, list[dict]]:
    """Adam with cosine decay on the Gaussian negative log-likelihood of the size error plus the L1 error of the
    re-degradation PSNR (in dB / 10); the last epoch's network (reading kernels of the prior's grid, as in
    ``train``) and the validation history."""
    with seeded(seed, None):
        net = ConfidenceNet(ConfidenceShape(kernel_size=train[1].shape[-1]))
        x, k, t = (torch.from_numpy(a) for a in train)
        history: list[dict] = []
        start = time.perf_counter()

        def loss_of(idx: torch.Tensor) -> torch.Tensor:
            out = net(x[idx], k[idx])
            mu, log_sigma = out[:, 0], out[:, 1].clamp(-5, 3)
            nll = (0.5 * ((t[idx, 0] - mu) / log_sigma.exp()) ** 2 + log_sigma).mean()
            return nll + (out[:, 2] - t[idx, 1] / 10).abs().mean()

        def validate(epoch: int) -> None:
            scores = rank_scores(net, val)
            history.append({"epoch": epoch, **{key: round(v, 4) for key, v in scores.items()},
                            "seconds": round(time.perf_counter() - start, 1)})
            log(f"epoch {epoch}/{epochs}: size-error rank corr {scores['size_rank']:.3f}, re-degradation rank "
                f"corr {scores['redeg_rank']:.3f}, 90% interval coverage {scores['coverage90']:.3f}, "
                f"{time.perf_counter() - start:.0f} s")

        train_minibatches(net, loss_of, len(x), epochs, batch, lr, lr / 100, seed, validate)
    return net, history


def train_confidence_on_photos(paths: list[Path], prior_path: Path, samples: int, epochs: int,
                               settings: PriorTrainSettings, log: Callable[[str], None] = print) -> ConfidenceWeights:
    """The confidence network for the prior ``prior_path``, trained on ``samples`` fresh pairs from the training
    photos of ``paths`` (split as for the prior; a seed the prior's pairs never used) and validated on the
    held-out ones."""
    prior = PriorWeights.load(prior_path).network()
    train_paths, held_out = split_photos(paths)
    log(f"{len(train_paths)} training photos, {len(held_out)} held out; making {samples} triples")
    colour = settings.demosaic_p > 0
    train = make_confidence_dataset(load_photos(train_paths, settings.pre_scales, colour), samples, settings,
                                    settings.seed + 1000, prior)
    val = make_confidence_dataset(load_photos(held_out, settings.pre_scales, colour), max(samples // 20, 500),
                                  settings, settings.seed + 1001, prior)
    net, history = train_confidence(train, val, epochs, settings.seed, log)
    return ConfidenceWeights.of(net, {"prior_sha256": file_sha256(prior_path), "samples": samples, "epochs": epochs,
                                      "families": list(settings.families), "history": history,
                                      "train_photos": [p.name for p in train_paths],
                                      "held_out_photos": [p.name for p in held_out]})
