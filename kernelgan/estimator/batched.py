"""KernelGAN for many runs at once: R independent runs (an image and a seed each) advanced in lockstep as batched
tensor ops, so the tiny per-step ops of one run become R-times-larger ops (what a GPU, and per-op overhead on a
CPU, need).

Each run keeps its own G, D, Adam moments, schedule and random streams, initialised exactly as the single-run
trainer (``train.train_kernel``) initialises them for the same seed; every run's parameters are a slice of one
stacked tensor and Adam is element-wise, so one optimiser over the stacks is R independent ones. Crop corners
are drawn up front and crops gathered on the device; the schedule's loss-dependent switches are device tensors,
so the step loop never waits for the device. A run gives the single-run trainer's kernel to float tolerance.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..rng import seeded
from . import losses
from .config import EstimatorConfig
from .crops import CropSampler, NoiseStream
from .networks import Discriminator, Generator
from .schedule import BatchedSchedule, lr_factor

ProgressFn = Callable[[int, int], None]
BN_EPS = 1e-5  # F.batch_norm's default, as the single-run D uses


def _stack(tensors: list[torch.Tensor]) -> torch.nn.Parameter:
    return torch.nn.Parameter(torch.stack([t.detach() for t in tensors]))


class BatchedGenerator(torch.nn.Module):
    """R collapsed deep-linear generators: layer i's weights are one R x C_out x C_in x b x b tensor."""

    def __init__(self, generators: list[Generator]):
        super().__init__()
        self.weights = torch.nn.ParameterList(_stack(list(ws)) for ws in zip(*(g.weights() for g in generators), strict=True))

    def kernel(self) -> torch.Tensor:
        """R x K x K: each run's explicit kernel, composed from the output side as ``Generator.kernel`` does."""
        weights = list(self.weights)
        r = weights[0].shape[0]
        k = weights[-1].flatten(2)  # R x 1 x C
        for w in reversed(weights[:-1]):  # R x C x C' x b x b
            c, c_out, b = int(w.shape[1]), int(w.shape[2]), int(w.shape[-1])
            a = round((k[0].numel() // c) ** 0.5)
            blocks = k.reshape(r, c, a * a).transpose(1, 2) @ w.reshape(r, c, c_out * b * b)  # R x a² x C'b²
            k = F.fold(blocks.transpose(1, 2), output_size=(a + b - 1, a + b - 1), kernel_size=b)  # R x C' x s x s
        return k[:, 0]

    @staticmethod
    def downscale(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """Each run's kernel on its own maps: x R x M x 1 x g x g, k R x K x K -> R x M x 1 x d x d (stride 2)."""
        r, m, _, g, _ = x.shape
        weight = k.repeat_interleave(m, dim=0)[:, None]  # (R·M) x 1 x K x K
        out = F.conv2d(x.reshape(1, r * m, g, g), weight, stride=2, groups=r * m)
        return out.reshape(r, m, 1, out.shape[-2], out.shape[-1])


class BatchedDiscriminator(torch.nn.Module):
    """R patch discriminators (``networks.Discriminator``) with stacked weights; BatchNorm statistics per run."""

    def __init__(self, discriminators: list[Discriminator]):
        super().__init__()
        first = discriminators[0]
        self.kernel_size = first.kernel_size
        def stacked(name: str) -> torch.nn.ParameterList:
            return torch.nn.ParameterList(_stack(list(ps)) for ps in zip(*(getattr(d, name) for d in discriminators),
                                                                         strict=True))

        self.weights, self.biases = stacked("weights"), stacked("biases")
        self.bn_weights, self.bn_biases = stacked("bn_weights"), stacked("bn_biases")
        for i in range(len(first.weights)):
            self.register_buffer(f"u{i}", torch.stack([getattr(d, f"u{i}") for d in discriminators]))

    def normalised_weights(self) -> list[torch.Tensor]:
        """Each run's spectrally normalised weights for this step (one power iteration, as the single run)."""
        out = []
        for i, w in enumerate(self.weights):
            u = getattr(self, f"u{i}")  # R x out
            with torch.no_grad():
                v = F.normalize((w.transpose(1, 2) @ u[..., None])[..., 0], dim=1, eps=1e-12)
                u.copy_(F.normalize((w @ v[..., None])[..., 0], dim=1, eps=1e-12))
            sigma = (u[:, None, :] @ w @ v[..., None])[:, 0, 0]
            out.append(w / sigma[:, None, None])
        return out

    def forward(self, x: torch.Tensor, weights: list[torch.Tensor]) -> torch.Tensor:
        """x R x n x 3 x h x w -> scores R x n x 1 x (h-6) x (w-6) in (0, 1)."""
        r, n, _, h, w = x.shape
        ks = self.kernel_size
        oh, ow = h - ks + 1, w - ks + 1
        cols = F.unfold(x.reshape(r * n, 3, h, w), ks).transpose(1, 2).reshape(r, n * oh * ow, -1)
        feat = torch.baddbmm(self.biases[0][:, None], cols, weights[0].transpose(1, 2))
        for i in range(len(self.bn_weights)):
            feat = torch.baddbmm(self.biases[i + 1][:, None], feat, weights[i + 1].transpose(1, 2))
            mean = feat.mean(dim=1, keepdim=True)
            var = feat.var(dim=1, unbiased=False, keepdim=True)
            feat = (feat - mean) * torch.rsqrt(var + BN_EPS) * self.bn_weights[i][:, None] + self.bn_biases[i][:, None]
            feat = torch.relu(feat)
        score = torch.sigmoid(torch.baddbmm(self.biases[-1][:, None], feat, weights[-1].transpose(1, 2)))
        return score.reshape(r, n, oh, ow, 1).permute(0, 1, 4, 2, 3)


def _gather_crops(images: torch.Tensor, widths: torch.Tensor, corners: torch.Tensor, size: int) -> torch.Tensor:
    """Crops of ``size`` at ``corners`` (R x n x 2, top/left) from ``images`` (R x 3 x H·W, each run's image
    stored row-major with its own width ``widths`` R): R x n x 3 x size x size."""
    r, n = corners.shape[:2]
    offsets = torch.arange(size, device=images.device)
    rows = corners[..., 0, None, None] + offsets[:, None]  # R x n x size x 1
    cols = corners[..., 1, None, None] + offsets[None, :]  # R x n x 1 x size
    index = (rows * widths[:, None, None, None] + cols).reshape(r, 1, -1).expand(r, 3, -1)
    crops = torch.gather(images, 2, index).reshape(r, 3, n, size, size)
    return crops.transpose(1, 2)


def train_kernels(images: list[np.ndarray], seeds: list[int], config: EstimatorConfig, device: torch.device,
                  targets: list[np.ndarray], progress: ProgressFn | None = None
                  ) -> tuple[list[np.ndarray], list[dict[str, float]]]:
    """Train R = len(images) KernelGAN runs together: run r on ``images[r]`` (HxWx3 float32 in [0, 1]) with seed
    ``seeds[r]`` and early-prior kernel ``targets[r]`` (KxK). Returns each run's raw kernel (KxK float64) and its
    mean losses over the last 10% of steps, as ``train.train_kernel`` does for one run."""
    runs = len(images)
    n, g, d, ksize = config.crops_per_step, config.g_crop, config.d_crop, config.kernel_size
    gens, discs, noises, g_plans, d_plans = [], [], [], [], []
    for image, seed in zip(images, seeds, strict=True):
        with seeded(seed, device):  # the single-run trainer's initialisation, run by run
            gens.append(Generator(config))
            discs.append(Discriminator(config))
        sampler = CropSampler(image, g, d)
        g_plan, d_plan = sampler.plan(np.random.default_rng(seed), n, config.iters)
        g_plans.append(g_plan)
        d_plans.append(d_plan)
        noises.append(NoiseStream(seed, (2, n, 3, d, d), device))
    G, D = BatchedGenerator(gens).to(device), BatchedDiscriminator(discs).to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=config.lr, betas=config.betas, fused=True)
    opt_d = torch.optim.Adam(D.parameters(), lr=config.lr, betas=config.betas, fused=True)
    schedule = BatchedSchedule(config, runs, device)

    # every run's image on the device, flattened, padded to the largest (values in [-1, 1] as the networks see them)
    size = max(im.shape[0] * im.shape[1] for im in images)
    flat = torch.zeros(runs, 3, size, device=device)
    for r, im in enumerate(images):
        flat[r, :, : im.shape[0] * im.shape[1]] = torch.from_numpy(im.reshape(-1, 3).T.copy()).to(device) * 2 - 1
    widths = torch.tensor([im.shape[1] for im in images], device=device)
    g_corners = torch.from_numpy(np.stack(g_plans, axis=1)).to(device)  # steps x R x n x 2
    d_corners = torch.from_numpy(np.stack(d_plans, axis=1)).to(device)
    mask = torch.as_tensor(losses.boundary_mask(ksize, config.boundary_penalty), dtype=torch.float32, device=device)
    k_prior = torch.as_tensor(np.stack(targets), dtype=torch.float32, device=device)
    tail_start = int(config.iters * 0.9)
    tail = {name: torch.zeros(runs, dtype=torch.float64, device=device)
            for name in ("g_adversarial", "d", "d_real", "d_fake", "sum_to_one")}

    for step in range(config.iters):
        for opt in (opt_g, opt_d):
            for group in opt.param_groups:
                group["lr"] = config.lr * lr_factor(config, step)
        g_in = _gather_crops(flat, widths, g_corners[step], g).reshape(runs, 3 * n, 1, g, g)
        d_real_in = _gather_crops(flat, widths, d_corners[step], d)
        prior_out = G.downscale(g_in, k_prior)

        # G step: fool D, keep the kernel a plausible downscaling kernel (the runs' losses are summed: their
        # parameters are disjoint, so each run's gradient is its own)
        d_weights = D.normalised_weights()
        D.requires_grad_(False)
        k = G.kernel()
        fake = G.downscale(g_in, k)
        loss_adv = losses.adversarial(D(fake.reshape(runs, n, 3, d, d), [w.detach() for w in d_weights]), real=True)
        loss_bicubic = losses.bicubic_prior(fake, prior_out)
        loss_sum = losses.sum_to_one(k)
        loss_g = (loss_adv + schedule.lambda_bicubic.float() * loss_bicubic
                  + config.lambda_sum_to_one * loss_sum
                  + config.lambda_boundaries * losses.boundaries(k, mask)
                  + schedule.lambda_sparse.float() * losses.sparsity(k, config.sparse_power)
                  + schedule.lambda_centre.float() * losses.centre(k, scale=2))
        opt_g.zero_grad(set_to_none=True)
        loss_g.sum().backward()
        opt_g.step()
        D.requires_grad_(True)

        # D step: tell image crops from G's (updated) outputs, both with a little noise
        with torch.no_grad():
            fake = G.downscale(g_in, G.kernel()).reshape(runs, n, 3, d, d)
        noise = config.d_input_noise * torch.stack([s.next() for s in noises])  # R x 2 x n x 3 x d x d
        d_real = D(d_real_in + noise[:, 0], d_weights)
        d_fake = D(fake + noise[:, 1], d_weights)
        loss_d = 0.5 * (losses.adversarial(d_real, real=True) + losses.adversarial(d_fake, real=False))
        opt_d.zero_grad(set_to_none=True)
        loss_d.sum().backward()
        opt_d.step()

        schedule.update(step + 1, loss_bicubic.detach())
        if step >= tail_start:
            with torch.no_grad():
                tail["g_adversarial"] += loss_adv
                tail["d"] += loss_d
                tail["d_real"] += d_real.flatten(1).mean(dim=1)
                tail["d_fake"] += d_fake.flatten(1).mean(dim=1)
                tail["sum_to_one"] += loss_sum
        if progress is not None:
            progress(step + 1, config.iters)

    with torch.no_grad():
        kernels = G.kernel().double().cpu().numpy()
    count = max(config.iters - tail_start, 1)
    means = {name: (total / count).cpu().numpy() for name, total in tail.items()}
    return list(kernels), [{name: float(v[r]) for name, v in means.items()} for r in range(runs)]
