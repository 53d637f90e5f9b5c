"""Score estimated kernels against true ones: kernel PSNR, re-degradation PSNR, SR PSNR/SSIM, bicubic floor."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .io import IMAGE_SUFFIXES, KERNEL_SUFFIXES, load_kernel, read_image
from .kernels import bicubic_kernel, kernel_psnr
from .metrics import psnr_y, ssim_y
from .resize import blur_downsample
from .synth import crop_to_multiple

_PATTERNS = (
    re.compile(r"^(?P<stem>.+)_gt_kernel_x(?P<scale>\d)$"),
    re.compile(r"^(?P<stem>.+)_kernel_x(?P<scale>\d)$"),
    re.compile(r"^kernel_(?P<n>\d+)$"),  # DIV2KRK: kernel_N.mat belongs to im_N.png
)


def kernel_stem(path: Path, scale: int) -> str | None:
    """The image stem a kernel file belongs to, or None if its name does not follow a known pattern for ``scale``."""
    if path.suffix.lower() not in KERNEL_SUFFIXES:
        return None
    for pattern in _PATTERNS:
        m = pattern.match(path.stem)
        if m:
            if "n" in m.groupdict():
                return f"im_{m['n']}"
            return m["stem"] if int(m["scale"]) == scale else None
    return None


def kernel_files(folder: Path, scale: int) -> dict[str, Path]:
    """Map image stem -> kernel file in ``folder`` (``.npy`` preferred over ``.mat`` for the same stem)."""
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir(), key=lambda p: (p.suffix.lower() != ".npy", p.name)):
        stem = kernel_stem(path, scale)
        if stem is not None and stem not in found:
            found[stem] = path
    return found


def _image_for(folder: Path | None, stem: str, scale: int) -> Path | None:
    if folder is None:
        return None
    candidates = [folder / f"{stem}{suffix}" for suffix in IMAGE_SUFFIXES]
    candidates += sorted(folder.glob(f"{stem}_x{scale}_*"))
    return next((p for p in candidates if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES), None)


@dataclass
class Scores:
    """Scores of one image (or their means); None where the needed input was not given."""

    image: str
    kernel_psnr: float
    floor_kernel_psnr: float
    redeg_psnr: float | None = None
    floor_redeg_psnr: float | None = None
    sr_psnr: float | None = None
    sr_ssim: float | None = None


@dataclass
class Report:
    images: list[Scores] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def mean(self) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for name in ("kernel_psnr", "floor_kernel_psnr", "redeg_psnr", "floor_redeg_psnr", "sr_psnr", "sr_ssim"):
            values = [getattr(s, name) for s in self.images if getattr(s, name) is not None]
            out[name] = float(np.mean(values)) if values else None
        out["under_floor"] = sum(s.kernel_psnr < s.floor_kernel_psnr for s in self.images)
        return out


def redegradation_psnr(hr: np.ndarray, estimate: np.ndarray, truth: np.ndarray, scale: int) -> float:
    """Y-PSNR between the HR blurred+subsampled with ``estimate`` and with ``truth`` (``scale`` px shaved)."""
    lr_est = np.clip(blur_downsample(hr, estimate, scale), 0, 1)
    lr_true = np.clip(blur_downsample(hr, truth, scale), 0, 1)
    return psnr_y(lr_est, lr_true, shave=scale)


def evaluate(est_dir: Path, gt_dir: Path, scale: int, hr_dir: Path | None = None, sr_dir: Path | None = None,
             progress: Callable[[], None] | None = None) -> Report:
    """Score every estimate in ``est_dir`` that has a true kernel in ``gt_dir`` (matched by image stem)."""
    estimates, truths = kernel_files(est_dir, scale), kernel_files(gt_dir, scale)
    report = Report(missing=sorted(set(truths) - set(estimates)))
    floor = bicubic_kernel(scale)
    stems = sorted(set(estimates) & set(truths), key=_natural_key)
    for stem in stems:
        est, truth = load_kernel(estimates[stem]), load_kernel(truths[stem])
        scores = Scores(stem, kernel_psnr(est, truth, scale), kernel_psnr(floor, truth, scale))
        hr_path = _image_for(hr_dir, stem, scale)
        if hr_path is not None:
            hr = crop_to_multiple(read_image(hr_path), scale)
            scores.redeg_psnr = redegradation_psnr(hr, est, truth, scale)
            scores.floor_redeg_psnr = redegradation_psnr(hr, floor, truth, scale)
            sr_path = _image_for(sr_dir, stem, scale)
            if sr_path is not None:
                sr = read_image(sr_path)
                h, w = min(sr.shape[0], hr.shape[0]), min(sr.shape[1], hr.shape[1])
                scores.sr_psnr = psnr_y(sr[:h, :w], hr[:h, :w], shave=scale)
                scores.sr_ssim = ssim_y(sr[:h, :w], hr[:h, :w], shave=scale)
        report.images.append(scores)
        if progress is not None:
            progress()
    return report


def _natural_key(stem: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", stem)]
