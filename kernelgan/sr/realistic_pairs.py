"""SRMD training pairs conditioned as the pipeline would: photos degraded by a realistic preset (or classically)
and conditioned on what ``kernelgan estimate ... --sr srmd`` reads from them.

A *scene* is an HR crop of a training photo degraded by the BSRGAN or Real-ESRGAN preset (or, in ``mix``, one
scene in three classically: a family kernel, subsampling, Gaussian noise 0-15 on half of them) into an LR crop of
``scene_lr`` pixels a side. Its condition is what the pipeline will give the network on a real photo: the
default estimator's x2 kernel and the noise level (``srmd.resolve_noise("auto")``), both read from the whole LR
scene. Classical scenes conditioned the same way teach the network to tell a clean photo from a realistic one by
its pixels, not by how its condition was made (weights trained on realistic scenes beside classical pairs with
*true* kernels lost 1.8 dB on clean photos with estimated kernels). Scenes are made once per run (the presets
and the estimator cost tens of milliseconds a scene, too slow for every step on a CPU); each training sample is
a random window of a random scene.
Deterministic for the run's seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..estimator import estimate_kernel
from ..estimator.registry import DEFAULT, get_estimator
from ..presets import apply_preset
from ..synth import degrade
from .kernel_pca import KernelPCA, family_kernels
from .srmd import condition_vector, resolve_noise

REALISTIC_PRESETS = ("bsrgan", "realesrgan")
MIX = ("bsrgan", "realesrgan", "classical")  # the scenes of ``mix``, in turn
MAX_CLASSICAL_NOISE = 15.0  # 8-bit sigma of a noisy classical scene (as the classical SRMD pairs)


def preset_for(preset: str, index: int) -> str:
    """The preset of scene ``index`` for a training ``preset`` (``mix`` cycles through ``MIX``, ``realistic``
    through ``REALISTIC_PRESETS``)."""
    cycle = {"mix": MIX, "realistic": REALISTIC_PRESETS}.get(preset, (preset,))
    return cycle[index % len(cycle)]


def degrade_scene(hr: np.ndarray, preset: str, scale: int, rng: np.random.Generator) -> np.ndarray:
    """LR of ``hr`` by ``preset``; ``classical``: a kernel of SRMD's family (x4: its analytic x4), subsampling,
    Gaussian noise U(0, 15) on half the scenes."""
    if preset != "classical":
        return apply_preset(preset, hr, scale, rng).lr
    lr, _ = degrade(hr, scale, k2=family_kernels(rng, 1)[0])
    if rng.random() < 0.5:
        lr = lr + rng.standard_normal(lr.shape) * rng.uniform(0, MAX_CLASSICAL_NOISE) / 255
    return np.clip(lr, 0, 1)


def pipeline_condition(pca: KernelPCA, lr: np.ndarray) -> np.ndarray:
    """The condition vector the pipeline gives SRMD for ``lr`` (HxWx3 in [0, 1]): the default estimator's x2
    kernel and the estimated noise level (8-bit scale, capped at SRMD's maximum)."""
    kernel = estimate_kernel(lr, 2, get_estimator(DEFAULT).config, device="cpu").kernel_x2
    return condition_vector(pca, kernel, resolve_noise("auto", lr))


@dataclass
class ScenePool:
    """``lrs`` N x S x S x 3 float32, ``hrs`` N x sS x sS x 3 uint8 (HR photos are 8-bit), ``conds`` N x (t+1)."""

    lrs: np.ndarray
    hrs: np.ndarray
    conds: np.ndarray
    scale: int

    @classmethod
    def build(cls, photos: list[np.ndarray], pca: KernelPCA, preset: str, count: int, scene_lr: int, scale: int,
              rng: np.random.Generator, central: bool = False) -> ScenePool:
        """``count`` scenes from random photos and places (``central``: photo i mod len, its central crop)."""
        span = scene_lr * scale
        usable = [p for p in photos if min(p.shape[:2]) >= span]
        if not usable:
            raise ValueError(f"no photo has {span}+ pixels a side for {scene_lr}-pixel LR scenes at x{scale}")
        lrs, hrs, conds = [], [], []
        for i in range(count):
            img = usable[i % len(usable)] if central else usable[int(rng.integers(len(usable)))]
            h, w = img.shape[:2]
            if central:
                top, left = (h - span) // 2, (w - span) // 2
            else:
                top, left = int(rng.integers(0, h - span + 1)), int(rng.integers(0, w - span + 1))
            hr = np.ascontiguousarray(img[top:top + span, left:left + span])
            lr = np.round(degrade_scene(hr, preset_for(preset, i), scale, rng) * 255) / 255  # an 8-bit file
            lrs.append(lr.astype(np.float32))
            hrs.append(np.round(hr * 255).astype(np.uint8))
            conds.append(pipeline_condition(pca, lr))
        return cls(np.stack(lrs), np.stack(hrs), np.stack(conds).astype(np.float32), scale)

    def sample(self, index: int, size: int, rng: np.random.Generator | None) -> tuple[np.ndarray, np.ndarray]:
        """(LR size², HR (scale·size)² float32) window of scene ``index``: random with ``rng``, else central."""
        s = self.lrs.shape[1]
        if rng is None:
            top = left = (s - size) // 2
        else:
            top, left = int(rng.integers(0, s - size + 1)), int(rng.integers(0, s - size + 1))
        lr = self.lrs[index, top:top + size, left:left + size]
        k = self.scale
        hr = self.hrs[index, top * k:(top + size) * k, left * k:(left + size) * k].astype(np.float32) / 255
        return np.ascontiguousarray(lr), hr
