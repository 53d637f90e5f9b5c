"""ZSSR's training crops ("HR fathers") drawn from the input photo, with the published augmentation, in torch.

Each father is, by the published probabilities: the plain crop (``leave_as_is``); a crop turned by one of the
allowed rotations/flips (``no_interpolate``); or an affine crop (the rest): the photo shrunk by a random factor in
[``min_scale``, 1], the two axes' factors apart by N(0, ``scale_diff_sigma``), sheared by N(0, ``shear_sigma``) and
turned by an allowed rotation/flip (by any angle, as published, when all eight are allowed), resampled with
bicubic interpolation (no antialiasing, as the published warp).

In the published gradual SR (x4 as x2 then x4), later stages also draw fathers from the earlier stages' outputs:
the random scale then lies in [``min_scale``, the largest source's scale], and the father comes from the smallest
source at least that large, shrunk by the scale over that source's own (``FatherSampler.sources``).

Which rotations/flips are allowed is the caller's choice: the published ZSSR uses all eight with the bicubic
kernel and none with a given kernel ("kernel may be non-symmetric"); ``kernel_symmetries`` gives those that leave
the given kernel unchanged (a Gaussian is always symmetric under the half turn).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


def dihedral(x: torch.Tensor, t: int) -> torch.Tensor:
    """One of the 8 rotations/flips of ``x`` (...xHxW), ``t`` in 0..7: ``t % 4`` quarter turns counter-clockwise,
    then a left-right flip when ``t >= 4`` (as ``kernelgan.sr.augment.dihedral`` on arrays)."""
    out = torch.rot90(x, t % 4, dims=(-2, -1))
    return out.flip(-1) if t >= 4 else out


def undo_dihedral(x: torch.Tensor, t: int) -> torch.Tensor:
    """The inverse of ``dihedral(., t)``."""
    x = x.flip(-1) if t >= 4 else x
    return torch.rot90(x, -(t % 4), dims=(-2, -1))


def kernel_symmetries(kernel: np.ndarray, scale: int = 2, tol: float = 0.2) -> tuple[int, ...]:
    """The rotations/flips ``t`` (0..7) under which the centred kernel (odd size, centre of mass at
    ``size//2 + (scale-1)/2``) is unchanged to ``tol`` (relative L2). Turning a photo by such a ``t`` keeps the
    photo's degradation the same kernel, so training crops and the self-ensemble may use it."""
    k = np.pad(np.asarray(kernel, dtype=np.float64), ((0, scale - 1), (0, scale - 1)))  # centre = array centre
    kt = torch.from_numpy(k)
    norm = float(np.linalg.norm(k))
    return tuple(t for t in range(8) if float(torch.linalg.norm(dihedral(kt, t) - kt)) <= tol * norm)


@dataclass(frozen=True)
class Augmentation:
    """The published augmentation's probabilities and spreads (Shocher et al. 2018, public configuration)."""

    leave_as_is: float = 0.05
    no_interpolate: float = 0.45
    min_scale: float = 0.5
    scale_diff_sigma: float = 0.25
    shear_sigma: float = 0.1


class FatherSampler:
    """Draws ``crop x crop`` fathers from ``sources``: pairs (image 1x3xHxW on the training device, values in
    [0, 1]; its scale relative to the photo), the photo itself first (scale 1), then the larger outputs of earlier
    gradual-SR stages in increasing scale. With one source (x2, and every stage without augmentation) only the
    photo is read."""

    def __init__(self, sources: Sequence[tuple[torch.Tensor, float]], crop: int, augmentation: Augmentation | None,
                 transforms: tuple[int, ...], rng: np.random.Generator):
        self.images = [image for image, _ in sources]
        self.scales = [scale for _, scale in sources]
        self.crop, self.aug, self.transforms, self.rng = crop, augmentation, transforms, rng
        self._grid_offsets: tuple[torch.Tensor, torch.Tensor] | None = None

    def draw(self, n: int) -> torch.Tensor:
        """``n`` fathers, n x 3 x crop x crop, values in [0, 1]."""
        return torch.cat([self._one() for _ in range(n)])

    def _one(self) -> torch.Tensor:
        aug, rng = self.aug, self.rng
        t = int(self.transforms[rng.integers(len(self.transforms))])
        if aug is None:  # a plain crop of the photo, turned by an allowed rotation/flip
            return dihedral(self._crop(0), t)
        u = rng.random()
        if u < aug.leave_as_is:
            return self._crop(0)
        if u < aug.leave_as_is + aug.no_interpolate:  # the source by a random scale (as published), not resized
            return dihedral(self._crop(self._source()[0] if len(self.images) > 1 else 0), t)
        return self._affine(*self._source(), t)

    def _source(self) -> tuple[int, float]:
        """A random scale in [``min_scale``, the largest source's scale]: the smallest source at least that large
        and the factor (<= 1) that shrinks it to that scale."""
        assert self.aug is not None
        scale = self.aug.min_scale + self.rng.random() * (self.scales[-1] - self.aug.min_scale)
        i = next(i for i, s in enumerate(self.scales) if s > scale - 1e-6)
        return i, scale / self.scales[i]

    def _crop(self, source: int) -> torch.Tensor:
        image, c = self.images[source], self.crop
        h, w = image.shape[-2:]
        top, left = int(self.rng.integers(0, h - c + 1)), int(self.rng.integers(0, w - c + 1))
        return image[..., top:top + c, left:left + c]

    def _offsets(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """(x, y) offsets of a father's pixel centres from its centre, each crop x crop float64, made once on
        ``device`` (the sampling grid is then built there, with no host-to-device copy per father)."""
        if self._grid_offsets is None or self._grid_offsets[0].device != device:
            q = torch.arange(self.crop, dtype=torch.float64, device=device) + 0.5 - self.crop / 2
            qy, qx = torch.meshgrid(q, q, indexing="ij")
            self._grid_offsets = (qx, qy)
        return self._grid_offsets

    def _affine(self, source: int, scale: float, t: int) -> torch.Tensor:
        aug, rng, c, image = self.aug, self.rng, self.crop, self.images[source]
        assert aug is not None
        h, w = image.shape[-2:]
        diff = rng.standard_normal() * aug.scale_diff_sigma
        shear = rng.standard_normal(2) * aug.shear_sigma
        if len(self.transforms) == 8:  # all turns allowed: any angle and a random mirror, as published
            theta, mirror, t = rng.random() * 2 * math.pi, float(np.sign(rng.standard_normal())), 0
        else:
            theta, mirror = 0.0, 1.0
        # output (x, y) offsets from the crop centre = A @ input offsets; A = shear . rotation . scale
        size = np.diag([mirror * (scale + diff / 2), scale - diff / 2])
        rot = np.array([[math.cos(theta), math.sin(theta)], [-math.sin(theta), math.cos(theta)]])
        a_inv = np.linalg.inv(np.array([[1, shear[0]], [shear[1], 1]]) @ rot @ size)
        corners = np.array([[-1, -1], [-1, 1], [1, -1], [1, 1]]) * c / 2 @ a_inv.T
        half = np.abs(corners).max(axis=0)  # (x, y) half extents of the crop in the source
        cx = rng.random() * max(w - 2 * half[0], 0) + min(half[0], w / 2)
        cy = rng.random() * max(h - 2 * half[1], 0) + min(half[1], h / 2)
        qx, qy = self._offsets(image.device)
        px = cx + float(a_inv[0, 0]) * qx + float(a_inv[0, 1]) * qy  # pixel-edge coordinates in the source
        py = cy + float(a_inv[1, 0]) * qx + float(a_inv[1, 1]) * qy
        grid = torch.stack([2 * px / w - 1, 2 * py / h - 1], dim=-1)[None].to(image.dtype)
        out = F.grid_sample(image, grid, mode="bicubic", padding_mode="reflection", align_corners=False)
        return dihedral(out.clamp(0, 1), t)
