"""The KernelGAN training loop: one image in, its x2 downscaling kernel out.

Read top to bottom: sample crops, G step (adversarial + kernel losses, G collapsed to its explicit kernel),
D step (real crops vs G's outputs), schedule update. Retried with another seed if the run diverges.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..device import resolve_device
from ..errors import EstimationError, InputError, KernelganError
from ..kernels import analytic_x4, centre_kernel, clean_kernel, fit_size, normalise, trim_rim
from ..rng import seeded, torch_threads
from . import losses
from .batched import train_kernels
from .config import EstimatorConfig
from .crops import CropSampler, NoiseStream
from .networks import Discriminator, Generator
from .prior import predict_views, shipped_weights_path, view_size_spread
from .registry import DEFAULT, get_estimator
from .schedule import Schedule

ProgressFn = Callable[[int, int], None]


@dataclass
class EstimateResult:
    """The estimate of one image. Kernels are float64, non-negative, sum to 1, centred (docs/ARCHITECTURE.md, Conventions)."""

    kernel_x2: np.ndarray
    kernel_x4: np.ndarray | None
    raw_kernel: np.ndarray  # G's kernel at the last step, before post-processing
    seed: int  # the seed of the run that produced the kernel
    attempts: list[dict] = field(default_factory=list)  # one entry per run: seed and why it was rejected
    seconds: float = 0.0
    losses: dict[str, float] = field(default_factory=dict)  # means over the last 10% of steps
    quality: dict[str, float] = field(default_factory=dict)


def _weights_path(setting: str, shipped: str) -> Path | None:
    """A weights setting of ``EstimatorConfig``: "" none, "shipped" the shipped file ``shipped``, "shipped:NAME" the
    shipped file NAME, anything else a path."""
    if not setting:
        return None
    if setting == "shipped" or setting.startswith("shipped:"):
        return shipped_weights_path(setting.partition(":")[2] or shipped)
    return Path(setting)


def prior_weight_paths(config: EstimatorConfig) -> tuple[Path, Path | None]:
    """The files the learned prior reads for ``config``: its kernel network ("" -> the shipped default) and its
    software detector (None: none)."""
    return (_weights_path(config.prior_weights, "prior") or shipped_weights_path("prior"),
            _weights_path(config.software_detector, "software"))


def weight_files(config: EstimatorConfig) -> list[Path]:
    """The weights files an estimate with ``config`` reads; their content is part of what a saved result depends on."""
    if config.early_prior != "learned":
        return []
    return [p for p in prior_weight_paths(config) if p is not None]


def early_prior_kernel(image: np.ndarray, config: EstimatorConfig,
                       device: torch.device | str = "cpu") -> tuple[np.ndarray, dict[str, float]]:
    """The KxK kernel G is pulled towards early in training: MATLAB's bicubic kernel (the paper) or the
    learned prior's prediction for this image (``config.early_prior == "learned"``), with what is known of its
    quality (the learned prior: how much its views disagree)."""
    if config.early_prior == "bicubic":
        return losses.bicubic_target_kernel(config.kernel_size), {}
    if config.early_prior == "learned":
        network, detector = prior_weight_paths(config)
        prediction = predict_views(image, network, config.prior_views, device, detector)
        quality = {"view_size_spread": view_size_spread(prediction.kernels)}
        if prediction.software_probability is not None:
            quality["software_downscaling_probability"] = prediction.software_probability
        return normalise(fit_size(prediction.kernel(config.software_threshold), config.kernel_size)), quality
    raise InputError(f"unknown early prior {config.early_prior!r} (use bicubic or learned)")


def train_kernel(image: np.ndarray, config: EstimatorConfig, seed: int, device: torch.device,
                 progress: ProgressFn | None = None, snapshots: dict[int, np.ndarray] | None = None,
                 target: np.ndarray | None = None) -> tuple[np.ndarray, dict[str, float]]:
    """Train G and D on ``image`` (HxWx3 float32 in [0, 1]) and return G's raw kernel (KxK) and the mean
    losses of the last 10% of steps. ``target`` is the early prior's kernel (default: ``early_prior_kernel``).
    If ``snapshots`` is given, G's raw kernel after each step number among its keys is stored there (the
    schedule is in absolute steps, so a snapshot at step n is what an n-step run would return)."""
    with seeded(seed, device):  # torch's global RNG is restored afterwards
        return _train_kernel(image, config, seed, device, progress, snapshots, target)


def _train_kernel(image: np.ndarray, config: EstimatorConfig, seed: int, device: torch.device,
                  progress: ProgressFn | None, snapshots: dict[int, np.ndarray] | None, target: np.ndarray | None
                  ) -> tuple[np.ndarray, dict[str, float]]:
    rng = np.random.default_rng(seed)
    sampler = CropSampler(image, config.g_crop, config.d_crop)
    G, D = Generator(config).to(device), Discriminator(config).to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=config.lr, betas=config.betas, fused=True)
    opt_d = torch.optim.Adam(D.parameters(), lr=config.lr, betas=config.betas, fused=True)
    schedule = Schedule(config)
    mask = torch.as_tensor(losses.boundary_mask(config.kernel_size, config.boundary_penalty), dtype=torch.float32,
                           device=device)
    target = early_prior_kernel(image, config, device)[0] if target is None else target
    k_prior = torch.as_tensor(target, dtype=torch.float32, device=device)
    n, d = config.crops_per_step, config.d_crop
    g_corners, d_corners = sampler.plan(rng, n, config.iters)
    noise = NoiseStream(seed, (2, n, 3, d, d), device)
    tail_start = int(config.iters * 0.9)
    tail: dict[str, list[float]] = {"g_adversarial": [], "d": [], "d_real": [], "d_fake": [], "sum_to_one": []}

    for step in range(config.iters):
        for opt in (opt_g, opt_d):
            for group in opt.param_groups:
                group["lr"] = config.lr * schedule.lr_factor(step)
        g_np, d_np = sampler.crops(g_corners[step], d_corners[step])  # in [0, 1]; the networks see [-1, 1] as in the paper's code
        g_np, d_np = g_np * 2 - 1, d_np * 2 - 1
        g_in = torch.from_numpy(g_np).to(device).reshape(3 * n, 1, config.g_crop, config.g_crop)
        d_real_in = torch.from_numpy(d_np).to(device)
        prior_out = G(g_in, k_prior)  # the early prior's x2 downscale (paper: bicubic), aligned with G's output

        # G step: fool D, keep the kernel a plausible downscaling kernel
        d_weights = D.normalised_weights()  # one spectral-norm power iteration per step, shared by all D calls
        D.requires_grad_(False)
        k = G.kernel()
        fake = G(g_in, k)
        loss_adv = losses.adversarial(D(fake.reshape(n, 3, d, d), [w.detach() for w in d_weights]), real=True)
        loss_bicubic = losses.bicubic_prior(fake, prior_out)
        loss_sum = losses.sum_to_one(k)
        loss_g = (loss_adv + schedule.lambda_bicubic * loss_bicubic
                  + config.lambda_sum_to_one * loss_sum
                  + config.lambda_boundaries * losses.boundaries(k, mask)
                  + schedule.lambda_sparse * losses.sparsity(k, config.sparse_power)
                  + schedule.lambda_centre * losses.centre(k, scale=2))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        D.requires_grad_(True)

        # D step: tell image crops from G's (updated) outputs, both with a little noise
        with torch.no_grad():
            fake = G(g_in).reshape(n, 3, d, d)
        noise_real, noise_fake = config.d_input_noise * noise.next()
        d_real = D(d_real_in + noise_real, d_weights)
        d_fake = D(fake + noise_fake, d_weights)
        loss_d = 0.5 * (losses.adversarial(d_real, real=True) + losses.adversarial(d_fake, real=False))
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()

        schedule.update(step + 1, loss_bicubic.item())
        if step >= tail_start:
            tail["g_adversarial"].append(loss_adv.item())
            tail["d"].append(loss_d.item())
            tail["d_real"].append(d_real.mean().item())
            tail["d_fake"].append(d_fake.mean().item())
            tail["sum_to_one"].append(loss_sum.item())
        if snapshots is not None and step + 1 in snapshots:
            with torch.no_grad():
                snapshots[step + 1] = G.kernel().double().cpu().numpy()
        if progress is not None:
            progress(step + 1, config.iters)

    with torch.no_grad():
        kernel = G.kernel().double().cpu().numpy()
    return kernel, {name: float(np.mean(v)) for name, v in tail.items()}


def rejection_reason(raw: np.ndarray) -> str | None:
    """Why a raw kernel must not be used (NaN, no mass, collapsed to a point or to the rim), or None."""
    if not np.all(np.isfinite(raw)):
        return "kernel has NaN/inf values"
    positive = np.clip(raw, 0, None)
    if positive.sum() <= 1e-6 or abs(1.0 - raw.sum()) > 0.5:
        return f"kernel sum {raw.sum():.3g} is far from 1"
    if positive.max() / positive.sum() > 0.8:
        return "kernel collapsed to a single tap"
    inner = positive[2:-2, 2:-2].sum() / positive.sum()
    if inner < 0.5:
        return "kernel mass drifted to the boundary"
    return None


def finish_kernel(raw: np.ndarray, config: EstimatorConfig, scale: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Post-processing (paper): zero negligible values, clip, renormalise, centre (negative lobes clipped unless
    ``config.keep_negative``); x4 derived analytically."""
    k2 = centre_kernel(clean_kernel(raw, config.keep_largest) if config.clean else raw, 2, config.keep_negative)
    return k2, (trim_rim(analytic_x4(k2)) if scale == 4 else None)


def estimate_kernel(image: np.ndarray, scale: int = 2, config: EstimatorConfig | None = None, seed: int = 0,
                    device: str = "auto", progress: ProgressFn | None = None) -> EstimateResult:
    """Estimate the downscaling kernel of ``image`` (HxWx3 float32 in [0, 1]; grayscale HxW is expanded) with
    ``config`` (default: the default estimator's, see ``registry``).

    The x2 kernel is learned; at ``scale`` 4 the analytic x4 kernel is derived from it. A run that diverges
    (NaN, collapse) is retried with another seed, up to ``config.max_retries`` times; if all fail, the error
    is raised rather than a broken kernel returned.
    """
    result = estimate_kernels([image], scale, config, seed, device, progress)[0]
    if isinstance(result, KernelganError):
        raise result
    return result


def _as_rgb(image: np.ndarray, config: EstimatorConfig) -> np.ndarray:
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    h, w = image.shape[:2]
    if min(h, w) < config.g_crop:
        raise InputError(f"image is {w}x{h}; the estimator needs at least {config.g_crop} pixels a side")
    return image


def estimate_kernels(images: list[np.ndarray], scale: int = 2, config: EstimatorConfig | None = None, seed: int = 0,
                     device: str = "auto", progress: ProgressFn | None = None) -> list[EstimateResult | KernelganError]:
    """``estimate_kernel`` for several images at once: their GAN runs (and retries) are trained together by the
    batched trainer (``batched.train_kernels``; one image uses the single-run trainer). An image that cannot be
    estimated gets its error in its place; the others go on. ``seconds`` is each image's share of the time."""
    if scale not in (2, 4):
        raise InputError(f"scale must be 2 or 4, got {scale}")
    config = config or get_estimator(DEFAULT).config
    dev = resolve_device(device)
    start = time.perf_counter()
    results: list[EstimateResult | KernelganError | None] = [None] * len(images)
    prepared: dict[int, tuple[np.ndarray, np.ndarray, dict[str, float]]] = {}  # index -> image, target, quality
    batched = config.iters > 0 and len(images) > 1 and dev.type == "cpu"  # the batched trainer's ops are large
    with torch_threads(torch.get_num_threads() if batched else 1):
        for i, image in enumerate(images):
            try:
                rgb = _as_rgb(image, config)
                prepared[i] = (rgb, *early_prior_kernel(rgb, config, dev))
            except KernelganError as exc:
                results[i] = exc
        raws: dict[int, np.ndarray] = {}
        tails: dict[int, dict[str, float]] = {}
        attempts: dict[int, list[dict]] = {i: [] for i in prepared}
        pending = list(prepared) if config.iters > 0 else []
        for attempt in range(config.max_retries + 1):
            if not pending:
                break
            seeds = [seed + attempt] * len(pending)
            if len(pending) == 1:
                i = pending[0]
                raw, tail = train_kernel(prepared[i][0], config, seeds[0], dev, progress, target=prepared[i][1])
                trained = [raw], [tail]
            else:
                trained = train_kernels([prepared[i][0] for i in pending], seeds, config, dev,
                                        [prepared[i][1] for i in pending], progress)
            still = []
            for i, raw, tail in zip(pending, *trained, strict=True):
                reason = rejection_reason(raw)
                attempts[i].append({"seed": seed + attempt, "rejected": reason})
                raws[i], tails[i] = raw, tail
                if reason is not None:
                    still.append(i)
            pending = still
    share = (time.perf_counter() - start) / max(len(images), 1)
    for i, (_, target, prior_quality) in prepared.items():
        if config.iters == 0:  # no GAN: the early prior's kernel is the estimate
            k2, k4 = finish_kernel(target, config, scale)
            results[i] = EstimateResult(k2, k4, target, seed, [{"seed": seed, "rejected": None}], share,
                                        quality=prior_quality)
        elif i in pending:
            reason = attempts[i][-1]["rejected"]
            results[i] = EstimationError(f"estimation failed after {len(attempts[i])} runs: {reason}")
        else:
            tail = tails[i]
            k2, k4 = finish_kernel(raws[i], config, scale)
            quality = {"d_fooled": tail["d_fake"], "d_real": tail["d_real"], "sum_error": tail["sum_to_one"],
                       **prior_quality}
            results[i] = EstimateResult(k2, k4, raws[i], attempts[i][-1]["seed"], attempts[i], share, tail, quality)
    return [r for r in results if r is not None]
