"""Score estimated kernels against true ones, beside the reference kernels scored the same way.

Per image: kernel PSNR, shape agreement (size error, anisotropy, orientation error), re-degradation PSNR (with
the HR) and SR PSNR/SSIM with a fixed non-blind backend (with the LR and HR). The same scores are computed
for three reference kernels: the bicubic kernel (the floor), the family's best *fixed kernel* chosen without
looking at any image (``families``), and the true kernel (the ceiling; kernel PSNR 100 dB by definition).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .errors import KernelganError
from .io import IMAGE_SUFFIXES, load_kernel, read_image
from .kernel_shape import MIN_SIZE, kernel_shape, orientation_error, pearson, size_error
from .kernels import bicubic_kernel, kernel_psnr
from .manifest import manifest_entry
from .metrics import psnr_y, ssim_y
from .outputs import MANIFEST, kernel_stem, natural_key, read_record, sr_candidates
from .resize import blur_downsample
from .synth import crop_to_multiple

ESTIMATE = "estimate"
REFERENCES = ("bicubic", "fixed", "true")  # floor, image-blind bar, ceiling
ROW_TITLES = {ESTIMATE: "estimate", "bicubic": "bicubic kernel (floor)", "fixed": "fixed kernel (no image)",
              "true": "true kernel (ceiling)"}


def kernel_files(folder: Path, scale: int) -> dict[str, Path]:
    """Map image stem -> kernel file in ``folder`` (``.npy`` preferred over ``.mat`` for the same stem)."""
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir(), key=lambda p: (p.suffix.lower() != ".npy", p.name)):
        stem = kernel_stem(path, scale)
        if stem is not None and stem not in found:
            found[stem] = path
    return found


def image_for(folder: Path | None, stem: str, scale: int) -> Path | None:
    """The image of ``stem`` in ``folder`` (``<stem>.png`` and the like, or an upscale of it), or None."""
    if folder is None:
        return None
    candidates = [folder / f"{stem}{suffix}" for suffix in IMAGE_SUFFIXES]
    candidates += sr_candidates(folder, stem, scale)
    return next((p for p in candidates if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES), None)


@dataclass
class KernelScores:
    """Scores of one kernel on one image; None where the needed input was not given."""

    kernel_psnr: float
    size: float  # trace of the covariance (px²)
    size_error: float  # log(size / true size)
    anisotropy: float
    orientation_error: float | None  # degrees; None when the truth is not clearly anisotropic
    redeg_psnr: float | None = None
    sr_psnr: float | None = None
    sr_ssim: float | None = None


@dataclass
class ImageScores:
    """One image: its estimate's scores and the reference kernels', keyed by row name (see ROW_TITLES)."""

    image: str
    true_size: float
    true_anisotropy: float
    rows: dict[str, KernelScores]
    sr_file_psnr: float | None = None  # an SR result given as a file (``--sr``), scored against the HR
    sr_file_ssim: float | None = None


def image_scores_from_dict(data: dict) -> ImageScores:
    """Inverse of ``dataclasses.asdict`` for ImageScores (results passed between processes or read from JSON)."""
    rows = {row: KernelScores(**scores) for row, scores in data["rows"].items()}
    return ImageScores(**{**data, "rows": rows})


def redegradation_psnr(hr: np.ndarray, estimate: np.ndarray, truth: np.ndarray, scale: int) -> float:
    """Y-PSNR between the HR blurred+subsampled with ``estimate`` and with ``truth`` (``scale`` px shaved)."""
    lr_est = np.clip(blur_downsample(hr, estimate, scale), 0, 1)
    lr_true = np.clip(blur_downsample(hr, truth, scale), 0, 1)
    return psnr_y(lr_est, lr_true, shave=scale)


SRFn = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (LR, kernel) -> SR


def score_kernel(k: np.ndarray, truth: np.ndarray, scale: int, hr: np.ndarray | None = None,
                 lr: np.ndarray | None = None, sr: SRFn | None = None) -> KernelScores:
    """Every score of kernel ``k`` against ``truth``; re-degradation needs ``hr``, SR needs ``lr``, ``hr``, ``sr``."""
    shape = kernel_shape(k)
    scores = KernelScores(kernel_psnr(k, truth, scale), shape.size, size_error(k, truth), shape.anisotropy,
                          orientation_error(k, truth))
    if hr is not None:
        scores.redeg_psnr = redegradation_psnr(hr, k, truth, scale)
        if lr is not None and sr is not None:
            out = sr(lr, k)
            if out.shape[:2] != hr.shape[:2]:
                raise KernelganError(f"SR output is {out.shape[1]}x{out.shape[0]}, HR is {hr.shape[1]}x{hr.shape[0]}")
            scores.sr_psnr, scores.sr_ssim = psnr_y(out, hr, shave=scale), ssim_y(out, hr, shave=scale)
    return scores


def score_image(name: str, estimate: np.ndarray, truth: np.ndarray, fixed: np.ndarray, scale: int,
                hr: np.ndarray | None = None, lr: np.ndarray | None = None, sr: SRFn | None = None) -> ImageScores:
    """The estimate and the three reference kernels (bicubic, ``fixed``, ``truth``) scored the same way."""
    kernels = {ESTIMATE: estimate, "bicubic": bicubic_kernel(scale), "fixed": fixed, "true": truth}
    t = kernel_shape(truth)
    return ImageScores(name, t.size, t.anisotropy,
                       {row: score_kernel(k, truth, scale, hr, lr, sr) for row, k in kernels.items()})


METRICS = ("kernel_psnr", "size_error", "redeg_psnr", "sr_psnr", "sr_ssim")


@dataclass
class Report:
    images: list[ImageScores] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # true kernels without an estimate
    failed: dict[str, str] = field(default_factory=dict)  # image -> why it could not be scored

    def summary(self) -> dict[str, dict[str, float | int | None]]:
        """Per row (estimate and references): mean of each metric, mean |size error|, correlation of log sizes
        with the truth, median orientation error, and how many images score under the floor / fixed kernel."""
        out: dict[str, dict[str, float | int | None]] = {}
        rows = [ESTIMATE, *REFERENCES]
        true_log_size = [np.log(max(s.true_size, MIN_SIZE)) for s in self.images]
        for row in rows:
            scores = [s.rows[row] for s in self.images]
            entry: dict[str, float | int | None] = {}
            for metric in METRICS:
                values = [getattr(x, metric) for x in scores if getattr(x, metric) is not None]
                entry[metric] = float(np.mean(values)) if values else None
            entry["abs_size_error"] = float(np.mean([abs(x.size_error) for x in scores])) if scores else None
            entry["size_corr"] = pearson([np.log(max(x.size, MIN_SIZE)) for x in scores], true_log_size)
            angles = [x.orientation_error for x in scores if x.orientation_error is not None]
            entry["median_orientation_error"] = float(np.median(angles)) if angles else None
            entry["anisotropy_corr"] = pearson([np.log(x.anisotropy) for x in scores],
                                               [np.log(s.true_anisotropy) for s in self.images])
            if row != "bicubic":
                entry["under_floor"] = sum(s.rows[row].kernel_psnr < s.rows["bicubic"].kernel_psnr for s in self.images)
            if row == ESTIMATE:
                entry["under_fixed"] = sum(s.rows[row].kernel_psnr < s.rows["fixed"].kernel_psnr for s in self.images)
            out[row] = entry
        return out

    def to_dict(self) -> dict:
        return {"images": [asdict(s) for s in self.images], "summary": self.summary(), "missing": self.missing,
                "failed": self.failed}


def evaluate(est_dir: Path, gt_dir: Path, scale: int, fixed: np.ndarray, hr_dir: Path | None = None,
             sr_dir: Path | None = None, lr_dir: Path | None = None, sr: SRFn | None = None,
             progress: Callable[[], None] | None = None) -> Report:
    """Score every estimate in ``est_dir`` that has a true kernel in ``gt_dir`` (matched by image stem).

    ``fixed`` is the image-blind kernel row. With ``hr_dir``: re-degradation PSNR; with ``sr_dir`` too, the SR
    files found there are scored against the HR; with ``lr_dir`` and ``sr`` too, every kernel row is also
    scored by SR (``sr(lr, kernel)``). An image whose files cannot be read becomes a failed entry; the others go on.
    """
    estimates, truths = kernel_files(est_dir, scale), kernel_files(gt_dir, scale)
    report = Report(missing=sorted(set(truths) - set(estimates), key=natural_key))
    for stem in sorted(set(estimates) & set(truths), key=natural_key):
        try:
            report.images.append(_evaluate_one(stem, estimates[stem], truths[stem], scale, fixed, hr_dir, sr_dir,
                                               lr_dir, sr))
        except (KernelganError, OSError) as exc:
            report.failed[stem] = str(exc)
        if progress is not None:
            progress()
    return report


def lr_size(est_dir: Path, gt_dir: Path, stem: str) -> tuple[int, int] | None:
    """(width, height) of the LR image ``stem`` was estimated from: from ``estimate``'s record, else from the
    ``degrade`` manifest beside the true kernels; None when neither says."""
    record = read_record(est_dir, stem)
    size = record.get("size") if isinstance(record, dict) else None
    if size is None:
        try:
            entry = manifest_entry(gt_dir / MANIFEST, stem)
        except KernelganError:
            entry = None
        size = entry.get("lr_size") if entry is not None else None
    if isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) for v in size):
        return size[0], size[1]
    return None


def _evaluate_one(stem: str, est_path: Path, truth_path: Path, scale: int, fixed: np.ndarray, hr_dir: Path | None,
                  sr_dir: Path | None, lr_dir: Path | None, sr: SRFn | None) -> ImageScores:
    est, truth = load_kernel(est_path), load_kernel(truth_path)
    hr_path = image_for(hr_dir, stem, scale)
    hr = crop_to_multiple(read_image(hr_path), scale) if hr_path is not None else None
    known = lr_size(est_path.parent, truth_path.parent, stem)
    if hr is not None and known is not None:
        w, h = known  # a few pixels of border crop are tolerated; an LR in place of the HR is not
        if abs(h * scale - hr.shape[0]) > 4 * scale or abs(w * scale - hr.shape[1]) > 4 * scale:
            raise KernelganError(f"{hr_path}: HR is {hr.shape[1]}x{hr.shape[0]}, but the estimate was made on a "
                                 f"{w}x{h} image ({w * scale}x{h * scale} expected at x{scale}); is it the LR?")
    lr_path = image_for(lr_dir, stem, scale)
    lr = read_image(lr_path) if lr_path is not None else None
    if lr is not None and hr is not None and (lr.shape[0] * scale, lr.shape[1] * scale) != hr.shape[:2]:
        raise KernelganError(f"{lr_path}: LR is {lr.shape[1]}x{lr.shape[0]}, HR {hr_path} is {hr.shape[1]}x{hr.shape[0]} "
                             f"(x{scale} expected)")
    scores = score_image(stem, est, truth, fixed, scale, hr, lr, sr)
    sr_path = image_for(sr_dir, stem, scale)
    if sr_path is not None and hr is not None:
        out = read_image(sr_path)
        if out.shape[:2] != hr.shape[:2]:
            raise KernelganError(f"{sr_path}: SR image is {out.shape[1]}x{out.shape[0]}, HR is {hr.shape[1]}x{hr.shape[0]}")
        scores.sr_file_psnr, scores.sr_file_ssim = psnr_y(out, hr, shave=scale), ssim_y(out, hr, shave=scale)
    return scores
