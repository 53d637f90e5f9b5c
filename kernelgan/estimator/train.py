"""The KernelGAN training loop: one image in, G's raw x2 kernel out (``gan.KernelGAN`` is the estimator around it).

Read top to bottom: sample crops, G step (adversarial + kernel losses, G collapsed to its explicit kernel),
D step (real crops vs G's outputs), schedule update.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import InputError
from ..rng import seeded
from . import losses
from .base import ProgressFn
from .config import EstimatorConfig
from .crops import CropSampler, NoiseStream
from .learned import learned_kernel
from .networks import Discriminator, Generator
from .schedule import Schedule


def early_prior_kernel(image: np.ndarray, config: EstimatorConfig,
                       device: torch.device | str = "cpu") -> tuple[np.ndarray, dict[str, float]]:
    """The KxK kernel G is pulled towards early in training: MATLAB's bicubic kernel (the paper) or the
    learned prior's prediction for this image (``config.early_prior == "learned"``), with what is known of its
    quality (the learned prior: how much its views disagree)."""
    if config.early_prior == "bicubic":
        return losses.bicubic_target_kernel(config.kernel_size), {}
    if config.early_prior == "learned":
        return learned_kernel(image, config, device)
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
