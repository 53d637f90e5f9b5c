"""Scoring kernel maps against true maps (``kernelgan eval`` on ``degrade --preset varying`` data).

Rows, scored the same way: ``map`` (``estimate --kernel-map``'s map), ``single`` (the same estimate's one kernel
for the photo), ``fixed`` (the family's image-blind kernel), ``bicubic`` (the floor) and ``true`` (the true map,
the ceiling). Measures: kernel PSNR per cell (each row's kernel at the estimated map's cell centres against the
true map's kernel there, mean over the cells), re-degradation PSNR (the HR blurred and subsampled with each row
against the same with the true map; Y, ``scale`` px shaved) and SR PSNR with a fixed backend.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .errors import KernelganError
from .evaluate import SRFn, image_for, lr_size
from .io import load_kernel, load_kernel_map, read_image
from .kernel_map import Grid, degrade_with_map, grid_for, kernel_at, uniform_map
from .kernels import bicubic_kernel, kernel_psnr
from .metrics import psnr_y, ssim_y
from .outputs import KERNEL_MAP_NAME, kernel_map_path, kernel_paths, natural_key
from .synth import crop_to_multiple

MAP_ROWS = ("map", "single", "fixed", "bicubic", "true")
MAP_TITLES = {"map": "kernel map (estimate)", "single": "one kernel (estimate)", "fixed": "fixed kernel (no image)",
              "bicubic": "bicubic kernel (floor)", "true": "true map (ceiling)"}


def map_files(folder: Path, scale: int, true: bool) -> dict[str, Path]:
    """stem -> the kernel map file of ``folder`` at ``scale`` (``estimate``'s, or ``degrade``'s true ones)."""
    found = {}
    for path in sorted(folder.glob("*.npy")):
        m = KERNEL_MAP_NAME.match(path.stem)
        if m and int(m["scale"]) == scale and bool(m["gt"]) == true:
            found[m["stem"]] = path
    return found


@dataclass
class MapScores:
    image: str
    cells: int  # the estimated map's cells
    cell_psnr: dict[str, float] = field(default_factory=dict)
    redeg_psnr: dict[str, float] = field(default_factory=dict)
    sr_psnr: dict[str, float] = field(default_factory=dict)
    sr_ssim: dict[str, float] = field(default_factory=dict)


def cell_psnr(kmap: np.ndarray, truth: np.ndarray, cells: Grid, scale: int) -> float:
    """Mean kernel PSNR of ``kmap`` (any grid) against ``truth`` (any grid) at the centres of ``cells``."""
    lr_shape = (cells.height, cells.width)
    grid, true_grid = grid_for(kmap, lr_shape), grid_for(truth, lr_shape)
    ys, xs = cells.centres()
    return float(np.mean([kernel_psnr(kernel_at(kmap, grid, y, x), kernel_at(truth, true_grid, y, x), scale)
                          for y in ys for x in xs]))


def score_map(stem: str, estimate: np.ndarray, single: np.ndarray, truth: np.ndarray, fixed: np.ndarray, scale: int,
              lr_shape: tuple[int, int], hr: np.ndarray | None = None, lr: np.ndarray | None = None,
              sr: SRFn | None = None) -> MapScores:
    """Every row of ``MAP_ROWS`` scored against the true map ``truth`` (maps rows x cols x K x K at ``scale``)."""
    maps = {"map": estimate, "single": uniform_map(single, 1, 1), "fixed": uniform_map(fixed, 1, 1),
            "bicubic": uniform_map(bicubic_kernel(scale), 1, 1), "true": truth}
    cells = grid_for(estimate, lr_shape)
    scores = MapScores(stem, cells.rows * cells.cols)
    reference = None if hr is None else np.clip(degrade_with_map(hr, truth, scale), 0, 1)
    for row, kmap in maps.items():
        scores.cell_psnr[row] = cell_psnr(kmap, truth, cells, scale)
        if hr is not None:
            assert reference is not None
            scores.redeg_psnr[row] = psnr_y(np.clip(degrade_with_map(hr, kmap, scale), 0, 1), reference, shave=scale)
            if lr is not None and sr is not None:
                out = sr(lr, kmap if kmap.shape[:2] != (1, 1) else kmap[0, 0])
                scores.sr_psnr[row], scores.sr_ssim[row] = psnr_y(out, hr, shave=scale), ssim_y(out, hr, shave=scale)
    return scores


@dataclass
class MapReport:
    images: list[MapScores] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # true maps without an estimated map
    failed: dict[str, str] = field(default_factory=dict)

    def summary(self) -> dict[str, dict[str, float | None]]:
        """Per row: the mean of each measure over the images (None where no image has it)."""
        out: dict[str, dict[str, float | None]] = {}
        for row in MAP_ROWS:
            entry: dict[str, float | None] = {}
            for measure in ("cell_psnr", "redeg_psnr", "sr_psnr", "sr_ssim"):
                values = [getattr(s, measure)[row] for s in self.images if row in getattr(s, measure)]
                entry[measure] = float(np.mean(values)) if values else None
            out[row] = entry
        return out

    def to_dict(self) -> dict:
        return {"images": [asdict(s) for s in self.images], "summary": self.summary(), "missing": self.missing,
                "failed": self.failed}


def _lr_shape(est_dir: Path, gt_dir: Path, stem: str, scale: int, lr: np.ndarray | None,
              hr: np.ndarray | None) -> tuple[int, int]:
    """(height, width) of the LR photo the map was estimated from: its record or manifest, else the LR image,
    else the HR image / ``scale``; KernelganError when none is given."""
    known = lr_size(est_dir, gt_dir, stem)
    if known is not None:
        return known[1], known[0]
    if lr is not None:
        return lr.shape[0], lr.shape[1]
    if hr is not None:
        return hr.shape[0] // scale, hr.shape[1] // scale
    raise KernelganError(f"{stem}: the LR size is unknown (no record, manifest, --lr or --hr)")


def evaluate_maps(est_dir: Path, gt_dir: Path, scale: int, fixed: np.ndarray, hr_dir: Path | None = None,
                  lr_dir: Path | None = None, sr: SRFn | None = None,
                  progress: Callable[[], None] | None = None) -> MapReport:
    """Score every estimated map in ``est_dir`` that has a true map in ``gt_dir`` (matched by stem); an image whose
    files cannot be read, or whose LR size is unknown, becomes a failed entry; the others go on."""
    estimates, truths = map_files(est_dir, scale, False), map_files(gt_dir, scale, True)
    report = MapReport(missing=sorted(set(truths) - set(estimates), key=natural_key))
    for stem in sorted(set(estimates) & set(truths), key=natural_key):
        try:
            estimate, truth = load_kernel_map(estimates[stem]), load_kernel_map(truths[stem])
            single_path = next((p for p in kernel_paths(est_dir, stem, scale, (".npy", ".mat")) if p.exists()), None)
            if single_path is None:
                raise KernelganError(f"{kernel_map_path(est_dir, stem, scale)}: no {stem}_kernel_x{scale} beside it")
            hr_path, lr_path = image_for(hr_dir, stem, scale), image_for(lr_dir, stem, scale)
            hr = crop_to_multiple(read_image(hr_path), scale) if hr_path is not None else None
            lr = read_image(lr_path) if lr_path is not None else None
            report.images.append(score_map(stem, estimate, load_kernel(single_path), truth, fixed, scale,
                                           _lr_shape(est_dir, gt_dir, stem, scale, lr, hr), hr, lr, sr))
        except (KernelganError, OSError) as exc:
            report.failed[stem] = str(exc)
        if progress is not None:
            progress()
    return report
