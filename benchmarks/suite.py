"""The evaluation suite (or the tuning set): synthetic LR images with known kernels of five families, every
estimator scored beside the bicubic kernel (floor), the fixed kernels chosen without looking at any image,
and the true kernel (ceiling).

    python benchmarks/suite.py --set suite --estimators prior,kernelgan --jobs 2
    python benchmarks/suite.py --set tuning --estimators prior,prior+kernelgan --no-sr

Sets (photos, cropped to at most --crop px so a run takes minutes; needs ../shared/data):
- suite:  Set5 and DIV2KRK's 8 HR images; no estimator or backend of this project was trained or tuned on them.
          Only for reporting.
- tuning: the BSD100/Set14 photos held out of the prior's and SRMD's training (every tenth by name). Every
          estimator decision is made here.
- realistic: the suite's photos with the camera families (``families.CAMERA``: lens PSFs, camera shake and their
          combinations; in the prior's training since 2026-12-02, on other photos), the held-out one
          (``families.HELD_OUT``: hand tremor, in no training) and DIV2KRK-family kernels followed by noise (8-bit
          sigma U(1, 5)) and JPEG (quality U(70, 90)) ("div2krk+noise"). Only for reporting; never tune on it.
          Any family + "+cfa" (e.g. "lens+cfa", "div2krk+cfa+noise"): the LR through a Bayer colour filter array
          and bilinear demosaicing (``presets.ops.bayer_demosaic``) after any noise, before its JPEG; not in
          the default list.
Each photo gets one kernel of each family (``kernelgan.families``; seeded by photo and family), is blurred
and subsampled x2 and rounded to 8 bits. Rows: each estimator; "fixed (family)" = the family's best isotropic
Gaussian; "fixed (div2krk)" = DIV2KRK's (variance about 3, one kernel for every photo); bicubic; "true
(symmetrised)" = the mean of the true kernel and its 180-degree turn (``kernels.symmetrised``: the ceiling of an
estimator that reads only power spectra, as the prior networks do); true.
Measures per family: mean kernel PSNR, correlation of log kernel sizes with the truth, mean re-degradation
PSNR, the worst image's re-degradation PSNR relative to the family's fixed kernel, SRMD x2 Y-PSNR (shipped
weights; 2 px shaved), seconds per image; and, for an estimator with a confidence, the rank correlation
(Spearman) of its predicted size error with the actual |size error| and of its predicted re-degradation PSNR
with the actual one.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from kernelgan.estimator import estimate_kernel
from kernelgan.estimator.prior_train import split_photos
from kernelgan.estimator.registry import get_estimator
from kernelgan.evaluate import score_kernel
from kernelgan.families import FAMILIES, fixed_kernel, sample_kernel
from kernelgan.io import read_image
from kernelgan.kernel_shape import pearson
from kernelgan.kernels import bicubic_kernel, symmetrised
from kernelgan.presets import ops
from kernelgan.resize import imresize
from kernelgan.sr import get_backend
from kernelgan.synth import crop_to_multiple, degrade, image_rng

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DIV2KRK_HR = (3, 13, 14, 23, 24, 30, 33, 38)
REFERENCE_ROWS = ("fixed (family)", "fixed (div2krk)", "bicubic", "true (symmetrised)", "true")


REALISTIC_FAMILIES = "lens,shake,combo,tremor,div2krk+noise"
NOISY = "+noise"  # a family name ending so: its LR gets sensor noise and JPEG after blur and subsampling
CFA = "+cfa"  # ... or a Bayer colour filter array and bilinear demosaicing (after the noise, before the JPEG)


def kernel_family(family: str) -> str:
    """The kernel family of a suite family name (``lens+cfa+noise`` -> ``lens``)."""
    return family.split("+")[0]


def photos(which: str, data: Path) -> list[Path]:
    if which in ("suite", "realistic"):
        return sorted((data / "Set5").glob("*.png")) + [data / "DIV2KRK" / "gt" / f"im_{n}.png" for n in DIV2KRK_HR]
    if which == "tuning":
        paths = sorted((data / "BSD100").glob("*.png")) + sorted((data / "Set14").glob("*.png"))
        return split_photos(paths)[1]
    raise SystemExit(f"unknown set {which}")


def central_crop(img: np.ndarray, size: int) -> np.ndarray:
    h, w = img.shape[:2]
    ch, cw = min(h, size), min(w, size)
    top, left = (h - ch) // 2, (w - cw) // 2
    return crop_to_multiple(img[top:top + ch, left:left + cw], 2)


def run_case(args: tuple[str, str, int, int, list[str], bool, float, dict[str, str]]) -> dict:
    """Make one LR image of ``family`` from the photo, run every estimator, score every row."""
    path, family, crop, seed, estimators, with_sr, prescale, options = args
    torch.set_num_threads(1)
    name = f"{Path(path).parent.name}/{Path(path).stem}"
    photo = read_image(path)
    if prescale != 1.0:  # a sharper photo per pixel (antialiased bicubic downscale)
        photo = np.clip(imresize(photo, prescale), 0, 1).astype(np.float32)
    hr = central_crop(photo, crop)
    rng = image_rng(seed, f"{name}:{family}")
    truth = sample_kernel(kernel_family(family), rng)
    lr, _ = degrade(hr, 2, kernel=truth)
    if family.endswith(NOISY):  # sensor noise, then (as a camera does) demosaicing, then JPEG
        lr = ops.gaussian_noise(lr, rng, rng.uniform(1, 5), gray=False)
    if CFA in family:
        lr = ops.bayer_demosaic(lr)
    if family.endswith(NOISY):
        lr = ops.jpeg(np.clip(lr, 0, 1), int(rng.integers(70, 91)))
    lr = (np.round(lr * 255) / 255).astype(np.float32)  # as saved to an 8-bit file
    kernels: dict[str, np.ndarray] = {}
    seconds: dict[str, float] = {}
    quality: dict[str, dict] = {}
    for est in estimators:
        start = time.perf_counter()
        config = get_estimator(est).config.with_options(options)
        result = estimate_kernel(lr, 2, config=config, seed=0, device="cpu")
        kernels[est], quality[est] = result.kernel_x2, result.quality
        seconds[est] = time.perf_counter() - start
    kernels.update({"fixed (family)": fixed_kernel(kernel_family(family)), "fixed (div2krk)": fixed_kernel("div2krk"),
                    "bicubic": bicubic_kernel(2), "true (symmetrised)": symmetrised(truth), "true": truth})
    sr = None
    if with_sr:
        backend = get_backend("srmd")
        sr = lambda image, k: backend.upscale(image, k, 2, seed=0)  # noqa: E731
    rows = {row: asdict(score_kernel(k, truth, 2, hr, lr, sr)) for row, k in kernels.items()}
    return {"photo": name, "family": family, "rows": rows, "seconds": seconds, "quality": quality}


def summarise(cases: list[dict], rows: list[str]) -> dict[str, dict[str, dict]]:
    """family (and "all") -> row -> mean kernel PSNR, size correlation, mean re-degradation PSNR, SR PSNR."""
    out: dict[str, dict[str, dict]] = {}
    for family in (*dict.fromkeys(c["family"] for c in cases), "all"):
        group = [c for c in cases if family in ("all", c["family"])]
        if not group:
            continue
        true_sizes = [np.log(c["rows"]["true"]["size"]) for c in group]
        out[family] = {}
        for row in rows:
            scores = [c["rows"][row] for c in group]
            entry = {"kernel_psnr": statistics.mean(s["kernel_psnr"] for s in scores),
                     "size_corr": pearson([np.log(s["size"]) for s in scores], true_sizes),
                     "abs_size_error": statistics.mean(abs(s["size_error"]) for s in scores),
                     "redeg_psnr": statistics.mean(s["redeg_psnr"] for s in scores),
                     "worst_vs_fixed": min(c["rows"][row]["redeg_psnr"] - c["rows"]["fixed (family)"]["redeg_psnr"]
                                           for c in group)}
            judged = [c for c in group if "predicted_size_error" in c.get("quality", {}).get(row, {})]
            if len(judged) >= 3:
                predicted = [c["quality"][row] for c in judged]
                entry["confidence_size_rank"] = float(spearmanr([q["predicted_size_error"] for q in predicted],
                                                                [abs(c["rows"][row]["size_error"]) for c in judged])[0])
                entry["confidence_redeg_rank"] = float(spearmanr([q["predicted_redeg_psnr"] for q in predicted],
                                                                 [c["rows"][row]["redeg_psnr"] for c in judged])[0])
                entry["low_confidence_share"] = statistics.mean(q["low_confidence"] for q in predicted)
            if scores[0]["sr_psnr"] is not None:
                entry["sr_psnr"] = statistics.mean(s["sr_psnr"] for s in scores)
                entry["sr_ssim"] = statistics.mean(s["sr_ssim"] for s in scores)
            secs = [c["seconds"][row] for c in group if row in c["seconds"]]
            if secs:
                entry["median_seconds"] = statistics.median(secs)
            out[family][row] = entry
        out[family]["_images"] = len(group)
    return out


def print_tables(summary: dict, rows: list[str]) -> None:
    def cell(entry: dict, key: str, digits: int) -> str:
        v = entry.get(key)
        return "-" if v is None else f"{v:.{digits}f}"

    for metric, title, digits in (("kernel_psnr", "mean kernel PSNR (dB)", 2), ("size_corr", "correlation of log sizes", 2),
                                  ("redeg_psnr", "mean re-degradation PSNR (dB)", 2),
                                  ("worst_vs_fixed", "worst image: re-degradation PSNR minus the fixed kernel's (dB)", 2),
                                  ("confidence_size_rank", "confidence: rank corr. of predicted and actual |size error|", 2),
                                  ("confidence_redeg_rank", "confidence: rank corr. of predicted and actual re-deg. PSNR", 2),
                                  ("low_confidence_share", "share flagged low confidence", 2),
                                  ("sr_psnr", "SRMD x2 Y-PSNR (dB)", 2),
                                  ("median_seconds", "median seconds per image", 1)):
        if not any(metric in summary[f].get(r, {}) for f in summary for r in rows):
            continue
        families = list(summary)
        print(f"\n{title}")
        print("| row | " + " | ".join(f"{f} ({summary[f]['_images']})" for f in families) + " |")
        print("|---|" + "---|" * len(families))
        for row in rows:
            if metric == "median_seconds" and row in REFERENCE_ROWS:
                continue
            print(f"| {row} | " + " | ".join(cell(summary[f][row], metric, digits) for f in families) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", choices=("suite", "tuning", "realistic"), default="suite")
    parser.add_argument("--estimators", default="prior", help="comma-separated names (see `kernelgan estimators`)")
    parser.add_argument("--families", default=None,
                        help=f"comma-separated [{','.join(FAMILIES)}; --set realistic: {REALISTIC_FAMILIES}]")
    parser.add_argument("--crop", type=int, default=512, help="HR crop side (central)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kernels drawn")
    parser.add_argument("--limit", type=int, default=None, help="first N photos only")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--no-sr", action="store_true", help="skip the SRMD score")
    parser.add_argument("--prescale", type=float, default=1.0,
                        help="downscale each photo by this factor first (e.g. 0.5: sharper photos)")
    parser.add_argument("--opt", action="append", default=[], metavar="KEY=VALUE",
                        help="an estimator setting for every estimator (e.g. prior_weights=PATH; repeatable)")
    parser.add_argument("--json", type=Path, default=None, help="write every case and the summary here")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    if not (args.data / "Set5").is_dir():
        sys.exit(f"data not found at {args.data}")
    args.families = args.families or (REALISTIC_FAMILIES if args.set == "realistic" else ",".join(FAMILIES))
    estimators = args.estimators.split(",")
    for est in estimators:
        get_estimator(est)
    paths = photos(args.set, args.data)[: args.limit]
    options = dict(o.split("=", 1) for o in args.opt)
    for est in estimators:
        get_estimator(est).config.with_options(options)  # a bad setting fails here, before any work
    jobs = [(str(p), f, args.crop, args.seed, estimators, not args.no_sr, args.prescale, options)
            for p in paths for f in args.families.split(",")]
    cases = []
    with mp.get_context("spawn").Pool(args.jobs) as pool:
        for case in pool.imap(run_case, jobs):
            cases.append(case)
            cells = " ".join(f"{r}={case['rows'][r]['kernel_psnr']:.1f}" for r in (*estimators, "fixed (family)"))
            print(f"{case['photo']:>22} {case['family']:>8} {cells}", flush=True)
    rows = [*estimators, *REFERENCE_ROWS]
    summary = summarise(cases, rows)
    print(f"\n{args.set}: {len(paths)} photos x {len(args.families.split(','))} families, seed {args.seed}, "
          f"crop {args.crop}, prescale {args.prescale}")
    print_tables(summary, rows)
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "cases": cases,
                                         "summary": summary}, indent=1))


if __name__ == "__main__":
    main()
