"""Noise patches: flat regions of a camera's photos, their mean removed, kept to give synthetic LR photos that
camera's own noise (Ji et al., CVPRW 2020: noise injection).

A region is *flat* when every channel's variance (8-bit scale) is under ``max_variance``: what varies there is
mostly noise. Dark and bright regions are left out (``min_mean`` / ``max_mean`` of the luma), where clipping
hides part of the noise. Patches are taken on a grid of ``size`` steps (no two overlap), each channel minus its
own mean, and saved as float32 ``.npy`` (values on the [0, 1] scale) with an entry per photo in the folder's
``manifest.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError
from .manifest import read_manifest

DEFAULT_SIZE = 128  # patch side (pixels): at least the LR crop the patches will be added to
MAX_VARIANCE = 20.0  # per channel, 8-bit scale (Ji et al.'s threshold)
MIN_MEAN, MAX_MEAN = 0.1, 0.9  # luma range of a usable patch ([0, 1] scale)
LUMA = np.array([0.299, 0.587, 0.114])


@dataclass(frozen=True)
class PatchSettings:
    size: int = DEFAULT_SIZE
    max_variance: float = MAX_VARIANCE
    min_mean: float = MIN_MEAN
    max_mean: float = MAX_MEAN
    max_patches: int = 16  # per photo: the flattest ones


@dataclass(frozen=True)
class FlatPatch:
    top: int
    left: int
    variance: tuple[float, float, float]  # per channel, 8-bit scale
    noise: np.ndarray  # size x size x 3 float32, each channel zero-mean ([0, 1] scale)


def flat_patches(img: np.ndarray, settings: PatchSettings = PatchSettings()) -> list[FlatPatch]:
    """The flat patches of ``img`` (HxWx3 in [0, 1]), flattest first, at most ``settings.max_patches``; [] when
    the photo has none (or is smaller than one patch)."""
    s = settings.size
    h, w = img.shape[:2]
    found = []
    for top in range(0, h - s + 1, s):
        for left in range(0, w - s + 1, s):
            patch = np.asarray(img[top:top + s, left:left + s], dtype=np.float64)
            variance = patch.reshape(-1, 3).var(axis=0) * 255 ** 2
            luma = float(patch.reshape(-1, 3).mean(axis=0) @ LUMA)
            if variance.max() < settings.max_variance and settings.min_mean <= luma <= settings.max_mean:
                noise = (patch - patch.mean(axis=(0, 1))).astype(np.float32)
                found.append(FlatPatch(top, left, tuple(float(v) for v in variance), noise))  # type: ignore[arg-type]
    found.sort(key=lambda p: max(p.variance))
    return found[: settings.max_patches]


def patch_file(folder: Path, stem: str, index: int) -> Path:
    return folder / f"{stem}_noise_{index:02d}.npy"


def load_patch_files(folder: Path) -> list[Path]:
    """The patch files the folder's manifest lists, sorted; InputError when there are none."""
    if not folder.is_dir():
        raise InputError(f"{folder}: no such noise-patch folder")
    manifest = read_manifest(folder / "manifest.json")
    files = sorted({folder / p["file"] for entry in manifest["images"] if isinstance(entry, dict)
                    for p in entry.get("patches", []) if (folder / p["file"]).is_file()})
    if not files:
        raise InputError(f"{folder}: no noise patches (collect them with `kernelgan noise-patches PHOTOS -o {folder}`)")
    return files


def read_patch(path: Path) -> np.ndarray:
    """One saved patch: HxWx3 float32, zero-mean per channel; InputError when the file is not one."""
    try:
        patch = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a noise patch ({type(exc).__name__})") from None
    if patch.ndim != 3 or patch.shape[2] != 3 or not np.all(np.isfinite(patch)):
        raise InputError(f"{path}: not a noise patch (HxWx3 finite values expected, got shape {patch.shape})")
    return patch.astype(np.float32)


def noise_crop(patches: list[Path], shape: tuple[int, int], rng: np.random.Generator, name: str
               ) -> tuple[np.ndarray, dict]:
    """A random ``shape`` (H, W) crop of a random patch, and what was drawn (file, top, left) for the manifest.
    InputError (naming ``name``) when the drawn patch is smaller than ``shape``."""
    path = patches[int(rng.integers(len(patches)))]
    patch = read_patch(path)
    h, w = shape
    ph, pw = patch.shape[:2]
    if ph < h or pw < w:
        raise InputError(f"{name}: the noise patches are {pw}x{ph} px, smaller than its LR ({w}x{h}); collect "
                         f"larger ones (noise-patches --size) or degrade smaller crops")
    top, left = int(rng.integers(0, ph - h + 1)), int(rng.integers(0, pw - w + 1))
    crop = patch[top:top + h, left:left + w]
    return crop - crop.mean(axis=(0, 1)), {"file": path.name, "top": top, "left": left}
