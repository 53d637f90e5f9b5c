"""A PCA basis of blur kernels: SRMD's compact description of "which kernel" (pure numpy).

Kernels are x2 kernels of the estimator's family (DIV2KRK protocol, broadened variances), centred for x2
(docs/ARCHITECTURE.md, Conventions) on a ``size x size`` grid. A kernel of any size is centred, cropped or
zero-padded to that grid
and renormalised before it is projected, so an 11x11 true kernel and a 13x13 estimate are comparable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..kernels import centre_kernel, fit_size, normalise, random_kernel

GRID = 15  # basis grid: wide enough for variance-8 Gaussians (sigma 2.8) with little truncation
FAMILY_VARIANCES = (0.2, 8.0)  # DIV2KRK draws (0.6, 5); broadened to cover estimates that are a little off


def family_kernels(rng: np.random.Generator, count: int, size: int = GRID,
                   var_range: tuple[float, float] = FAMILY_VARIANCES) -> np.ndarray:
    """``count`` random x2 kernels of the family (anisotropic Gaussians, rotation, x(1±0.25) noise,
    centred), shape (count, size, size), each summing to 1."""
    return np.stack([random_kernel(rng, 2, size, var_range) for _ in range(count)])


def to_grid(kernel: np.ndarray, size: int = GRID) -> np.ndarray:
    """Centre ``kernel`` for x2 and crop/zero-pad it to ``size x size``; sums to 1."""
    return normalise(fit_size(centre_kernel(kernel, 2), size))


@dataclass(frozen=True)
class KernelPCA:
    """``mean`` (d,), ``basis`` (t, d) orthonormal rows, ``scale`` (t,) the coefficients' standard deviations on
    the fitting set; d = size². ``project`` returns standardised coefficients (about unit variance)."""

    mean: np.ndarray
    basis: np.ndarray
    scale: np.ndarray

    @property
    def size(self) -> int:
        return int(round(np.sqrt(self.mean.size)))

    @property
    def dims(self) -> int:
        return self.basis.shape[0]

    def project(self, kernel: np.ndarray) -> np.ndarray:
        """Standardised PCA coefficients (t,) of one kernel of any size (centred and fitted to the grid first)."""
        flat = to_grid(kernel, self.size).ravel()
        return ((self.basis @ (flat - self.mean)) / self.scale).astype(np.float32)

    def reconstruct(self, coefficients: np.ndarray) -> np.ndarray:
        """The grid kernel (size, size) that ``coefficients`` stand for."""
        flat = self.mean + (np.asarray(coefficients, np.float64) * self.scale) @ self.basis
        return flat.reshape(self.size, self.size)

    def to_dict(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean, "basis": self.basis, "scale": self.scale}

    @classmethod
    def from_dict(cls, d: dict) -> KernelPCA:
        return cls(np.asarray(d["mean"], np.float64), np.asarray(d["basis"], np.float64),
                   np.asarray(d["scale"], np.float64))


def fit_pca(kernels: np.ndarray, dims: int = 15) -> KernelPCA:
    """Principal components of ``kernels`` (n, size, size): the ``dims`` leading directions after the mean."""
    flat = kernels.reshape(len(kernels), -1).astype(np.float64)
    mean = flat.mean(axis=0)
    _, singular, vt = np.linalg.svd(flat - mean, full_matrices=False)
    basis = vt[:dims]
    # a component's sign is arbitrary: fix it so the largest entry is positive (reproducible across LAPACKs)
    basis = basis * np.sign(basis[np.arange(dims), np.abs(basis).argmax(axis=1)])[:, None]
    scale = singular[:dims] / np.sqrt(len(flat))
    return KernelPCA(mean, basis, scale)
