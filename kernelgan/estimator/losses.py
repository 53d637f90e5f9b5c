"""KernelGAN's losses. Kernels are (..., K, K) tensors, D maps and G outputs (..., N, 1, h, w); each loss reduces
the trailing kernel or map dimensions and keeps the leading ones (one value per run of a batched trainer)."""

from __future__ import annotations

import numpy as np
import torch

from ..kernels import bicubic_kernel, fit_size, wanted_centre


def adversarial(d_map: torch.Tensor, real: bool) -> torch.Tensor:
    """Pixel-wise L1 between D's map and an all-ones (``real``) or all-zeros map."""
    return (d_map - (1.0 if real else 0.0)).abs().mean(dim=(-4, -3, -2, -1))


def sum_to_one(k: torch.Tensor) -> torch.Tensor:
    """|1 − Σk|."""
    return (1.0 - k.sum(dim=(-2, -1))).abs()


def boundary_mask(size: int, penalty: float = 30.0) -> np.ndarray:
    """KxK weights that are zero in the central (K−4)x(K−4) square and grow towards the corners on the outer
    two rings: ``penalty · (1 − g/max g)``, g a Gaussian of sigma K."""
    x = np.arange(size) - size // 2
    g = np.exp(-x ** 2 / (2.0 * size ** 2))
    mask = penalty * (1.0 - np.outer(g, g) / np.outer(g, g).max())
    margin = 2
    mask[margin:size - margin, margin:size - margin] = 0.0
    return mask


def boundaries(k: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """mean |k · m|: mass near the rim of the kernel is penalised."""
    return (k * mask).abs().mean(dim=(-2, -1))


def sparsity(k: torch.Tensor, power: float = 0.2) -> torch.Tensor:
    """mean |k|^power: favours few significant taps."""
    return k.abs().pow(power).mean(dim=(-2, -1))


def centre(k: torch.Tensor, scale: int = 2) -> torch.Tensor:
    """MSE between the kernel's centre of mass (row, col) and the wanted centre for ``scale``
    (docs/ARCHITECTURE.md, Conventions)."""
    size = k.shape[-1]
    idx = torch.arange(size, dtype=k.dtype, device=k.device)
    total = k.sum(dim=(-2, -1))
    com = torch.stack([(k.sum(dim=-1) * idx).sum(dim=-1) / total, (k.sum(dim=-2) * idx).sum(dim=-1) / total], dim=-1)
    return ((com - wanted_centre(size, scale)) ** 2).mean(dim=-1)


def bicubic_target_kernel(size: int) -> np.ndarray:
    """MATLAB's x2 bicubic downscaling kernel on G's ``size x size`` grid, centred as G's kernel should be."""
    return fit_size(bicubic_kernel(2), size)


def bicubic_prior(g_output: torch.Tensor, bicubic_output: torch.Tensor) -> torch.Tensor:
    """MSE between G's output and the bicubic downscale of the same crop (the early prior)."""
    return (g_output - bicubic_output).square().mean(dim=(-4, -3, -2, -1))
