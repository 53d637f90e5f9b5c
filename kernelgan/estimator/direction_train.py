"""Training of the direction network (``direction``) on synthetic pairs: an LR crop made as the prior's are
(``prior_train.make_lr``, the camera recipe: every training family, noise, sharpening, JPEG), the default
estimator's kernel for it (point-symmetric), the crop's ``asymmetry_map``, and the true kernel's odd part as the
target. Crops where the default names software downscaling or returns a wide kernel are not used: the odd part
is not added there. Photos are split as for the prior (every tenth held out, to validate).
"""

from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..families import sample_kernel, truth_grid
from ..rng import seeded
from ..training import train_minibatches
from .config import EstimatorConfig
from .direction import DirectionNet, DirectionShape, DirectionWeights, asymmetry_map, odd
from .learned import learned_kernel, software_detected
from .prior_train import RECIPES, load_photos, make_lr, split_photos

Pairs = tuple[np.ndarray, np.ndarray, np.ndarray]  # maps, the default's kernels, true kernels


@dataclass(frozen=True)
class DirectionTrainSettings:
    samples: int = 24_000  # pairs from the training photos
    val_samples: int = 2_000  # pairs from the held-out photos
    epochs: int = 20
    batch: int = 256
    lr: float = 1e-3
    lr_end: float = 1e-5
    recipe: str = "camera"  # how the LR crops are made (``prior_train.RECIPES``)
    seed: int = 0
    shape: DirectionShape = DirectionShape()


def _estimator_config() -> EstimatorConfig:
    """The default estimator without its direction network (the network's input is the point-symmetric kernel) and
    without the plain-sampling detector (which joined after the shipped direction weights were made)."""
    from .registry import DEFAULT, get_estimator  # the registry imports the estimators, this module among them

    return get_estimator(DEFAULT).config.with_overrides(direction_weights="", plain_sampling_detector="")


def _make_pairs(args: tuple[list[Path], int, int, str, int]) -> Pairs:
    paths, n, seed, recipe, size = args
    torch.set_num_threads(1)
    settings = RECIPES[recipe]
    photos = load_photos(paths, settings.pre_scales)
    config = _estimator_config()
    rng = np.random.default_rng(seed)
    maps: list[np.ndarray] = []
    kernels: list[np.ndarray] = []
    truths: list[np.ndarray] = []
    while len(maps) < n:
        family = settings.families[rng.integers(len(settings.families))]
        k = sample_kernel(family, rng)
        _, lr = make_lr(photos[rng.integers(len(photos))], k, rng, settings)
        rgb = np.repeat(lr[:, :, None], 3, axis=2).astype(np.float32)
        estimate, quality = learned_kernel(rgb, config)
        if software_detected(quality, config) or estimate.shape[0] != size:
            continue
        maps.append(asymmetry_map(rgb))
        kernels.append(estimate)
        truths.append(truth_grid(k, size))
    return np.stack(maps), np.stack(kernels).astype(np.float32), np.stack(truths).astype(np.float32)


def make_dataset(paths: list[Path], n: int, settings: DirectionTrainSettings, seed: int, jobs: int = 1) -> Pairs:
    """``n`` pairs from ``paths`` (maps n x (2r+1) x (2r+1), the default's kernels and the true kernels n x K x K,
    float32), made in ``jobs`` processes (each its own share and seed: the pairs depend on ``jobs``)."""
    shares = [n // jobs + (i < n % jobs) for i in range(jobs)]
    tasks = [(paths, share, seed * 1000 + i, settings.recipe, settings.shape.kernel_size) for i, share in enumerate(shares)]
    if jobs == 1:
        parts = [_make_pairs(tasks[0])]
    else:
        with mp.get_context("spawn").Pool(jobs) as pool:
            parts = pool.map(_make_pairs, tasks)
    return tuple(np.concatenate(arrays) for arrays in zip(*parts, strict=True))  # type: ignore[return-value]


def kernel_psnr_mean(estimates: torch.Tensor, truths: torch.Tensor) -> float:
    mse = ((estimates - truths) ** 2).mean(dim=(1, 2))
    return float((10 * torch.log10(1 / mse)).mean())


def train_direction(train: Pairs, val: Pairs, settings: DirectionTrainSettings,
                    log: Callable[[str], None] = print) -> tuple[DirectionWeights, list[dict]]:
    """Adam with cosine decay on the odd parts' MSE; the validation history: kernel PSNR of the default's kernels
    and of them with the odd part added (clipped at zero, renormalised), every epoch."""
    with seeded(settings.seed, None):
        net = DirectionNet(settings.shape)
        maps, kernels, truths = (torch.from_numpy(a) for a in train)
        vmaps, vkernels, vtruths = (torch.from_numpy(a) for a in val)
        target = odd(truths)
        history: list[dict] = []
        start = time.perf_counter()

        def loss_of(idx: torch.Tensor) -> torch.Tensor:
            return 1e6 * ((net(maps[idx], kernels[idx]) - target[idx]) ** 2).mean()

        def validate(epoch: int) -> None:
            with torch.no_grad():
                added = (vkernels + net(vmaps, vkernels)).clamp(min=0)
            added = added / added.sum(dim=(1, 2), keepdim=True)
            before, after = kernel_psnr_mean(vkernels, vtruths), kernel_psnr_mean(added, vtruths)
            history.append({"epoch": epoch, "val_kernel_psnr_before": round(before, 3),
                            "val_kernel_psnr_after": round(after, 3), "seconds": round(time.perf_counter() - start, 1)})
            log(f"epoch {epoch}/{settings.epochs}: val kernel PSNR {before:.2f} -> {after:.2f} dB with the odd part, "
                f"{time.perf_counter() - start:.0f} s")

        train_minibatches(net, loss_of, len(maps), settings.epochs, settings.batch, settings.lr, settings.lr_end,
                          settings.seed, validate)
    weights = DirectionWeights.of(net, {**{k: v for k, v in asdict(settings).items() if k != "shape"}, "history": history})
    return weights, history


def train_direction_on_photos(paths: list[Path], settings: DirectionTrainSettings, jobs: int = 1,
                              log: Callable[[str], None] = print) -> DirectionWeights:
    """Split ``paths`` (training / held out), make the pairs in ``jobs`` processes and train; the photo names and
    the validation history are stored in the weights' settings."""
    train_paths, held_out = split_photos(paths)
    log(f"{len(train_paths)} training photos, {len(held_out)} held out; making {settings.samples} pairs")
    train = make_dataset(train_paths, settings.samples, settings, settings.seed, jobs)
    val = make_dataset(held_out, settings.val_samples, settings, settings.seed + 1, jobs)
    weights, _ = train_direction(train, val, settings, log)
    weights.settings.update(train_photos=[p.name for p in train_paths], held_out_photos=[p.name for p in held_out],
                            jobs=jobs)
    return weights

