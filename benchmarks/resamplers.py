"""Photos shrunk by software resamplers (reporting only): how the default estimate fares, and what the software
detector calls them.

    python benchmarks/resamplers.py --set suite --scales 2,4 --jobs 2

Each photo's central ``--crop`` (HR px) is shrunk by every resampler of ``kernelgan.resamplers`` (8 filters
antialiased, as Pillow / OpenCV's INTER_AREA / MATLAB shrink; the 5 interpolating ones also by plain sampling, as
OpenCV's INTER_LINEAR / INTER_CUBIC or torch's ``interpolate`` do by default) at each scale: its exact kernel,
correlate and subsample (what ``kernelgan degrade --resampler NAME [--no-antialias]`` writes), 8-bit rounding;
and again with a JPEG after it (quality U(75, 95), seeded by photo and case, as web images are saved). Rows
(re-degradation Y-PSNR of the HR shrunk with each kernel against the HR shrunk with the true one, dB):
- estimate: the default estimator's kernel at that scale (x4: its analytic x4 kernel, or imresize's x4 kernel
  where the detector names MATLAB's bicubic);
- no detector: the same without the software and plain-sampling detectors (``--opt software_detector=
  --opt plain_sampling_detector=``);
- fixed: the software family's best image-blind kernel at that scale (the isotropic Gaussian with the highest mean
  kernel PSNR over the 13 resamplers' kernels, chosen without any image);
- matlab-bicubic: MATLAB's antialiased bicubic kernel (``kernels.bicubic_kernel``) for every photo;
- plain-sampling kernel: the kernel the plain-sampling detector returns (bicubic sampled at the LR grid) for every
  photo;
- true: the resampler's own kernel (100 dB).
Also, per resampler, what the detectors named (plain sampling: the plain-sampling kernel returned; MATLAB's
bicubic kernel returned; or "camera / optical blur"), how often they fire on camera-like blur (the camera
families, the held-out tremor and DIV2KRK's Gaussians, each photo blurred once by one kernel of each; x2, and x4
as the x2 kernel applied twice), and the detectors' thresholds replayed (``--thresholds``,
``--plain-thresholds``; decide on ``--set tuning``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import sys
from dataclasses import replace
from functools import cache
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from suite import DATA, central_crop, photos  # noqa: E402

from kernelgan.estimator import estimate_kernel  # noqa: E402
from kernelgan.estimator.config import EstimatorConfig  # noqa: E402
from kernelgan.estimator.learned import SOFTWARE_MATLAB, SOFTWARE_PLAIN, software_kernel, software_resampler  # noqa: E402
from kernelgan.estimator.registry import DEFAULT, get_estimator  # noqa: E402
from kernelgan.evaluate import redegradation_psnr  # noqa: E402
from kernelgan.families import VARIANCE_GRID, isotropic_gaussian, sample_kernel  # noqa: E402
from kernelgan.io import read_image  # noqa: E402
from kernelgan.kernels import anisotropic_gaussian, bicubic_kernel, fit_size, kernel_psnr, wanted_centre  # noqa: E402
from kernelgan.presets import ops  # noqa: E402
from kernelgan.resamplers import PLAIN_SAMPLING, RESAMPLERS, resampler_kernel  # noqa: E402
from kernelgan.synth import crop_to_multiple, degrade, image_rng  # noqa: E402

CASES = [(name, True) for name in RESAMPLERS] + [(name, False) for name in PLAIN_SAMPLING]
CAMERA_FAMILIES = ("lens", "shake", "combo", "tremor", "div2krk")
MIN_LR = 64  # px: the smallest LR side the estimator reads
ROWS = ("estimate", "no detector", "fixed", "matlab-bicubic", "plain-sampling kernel", "true")
CAMERA_NAME = "camera / optical blur"


def case_name(name: str, antialias: bool) -> str:
    return name if antialias else f"{name} (plain sampling)"


@cache
def fixed_kernel(scale: int) -> np.ndarray:
    """The isotropic Gaussian (centred for ``scale``) with the highest mean kernel PSNR over the resamplers'
    kernels at ``scale`` (``CASES``), on a grid that holds them all; no image is looked at."""
    truths = [resampler_kernel(n, scale, a) for n, a in CASES]
    size = max(k.shape[0] for k in truths)
    truths = [fit_size(k, size) for k in truths]
    best, best_psnr = None, -np.inf
    c = wanted_centre(size, scale)
    for v in VARIANCE_GRID:
        g = isotropic_gaussian(v, size) if scale == 2 else anisotropic_gaussian(size, v, v, 0.0, (c, c))
        psnr = statistics.fmean(kernel_psnr(g, t, scale) for t in truths)
        if psnr > best_psnr:
            best, best_psnr = g, psnr
    assert best is not None
    return best


def named(case: dict, config: EstimatorConfig) -> str:
    """What the estimator said the photo of ``case`` (``run_case``'s) is: ``SOFTWARE_PLAIN`` or ``SOFTWARE_MATLAB``
    (a detector fired: that resampler's kernel returned) or camera."""
    quality = {"software_downscaling_probability": case["software_probability"] or 0.0,
               "plain_sampling_probability": case["plain_probability"] or 0.0}
    return software_resampler(quality, config) or CAMERA_NAME


def run_case(args: tuple[str, str, bool, int, bool, int, int]) -> dict | None:
    """One LR photo shrunk x``scale`` by resampler ``name`` (antialiased or not; JPEG after it or not), or blurred
    by a kernel of camera family ``name`` (``CAMERA_FAMILIES``): the default estimate, what it was named, and (for
    a resampler) the rows' re-degradation PSNR. None when the LR would be under the estimator's 64 px."""
    path, name, antialias, scale, with_jpeg, crop, seed = args
    torch.set_num_threads(1)
    stem = f"{Path(path).parent.name}/{Path(path).stem}"
    hr = crop_to_multiple(central_crop(read_image(path), crop), scale).astype(np.float64)
    if min(hr.shape[:2]) // scale < MIN_LR:
        return None
    rng = image_rng(seed, f"{stem}:{name}:{antialias}:{scale}:{with_jpeg}")
    camera = name in CAMERA_FAMILIES
    if camera:
        lr, truth = degrade(hr, scale, k2=sample_kernel(name, rng))
    else:
        truth = resampler_kernel(name, scale, antialias)
        lr, _ = degrade(hr, scale, kernel=truth)
    lr = np.round(np.clip(lr, 0, 1) * 255) / 255
    quality = None
    if with_jpeg:
        quality = int(rng.integers(75, 96))
        lr = np.round(np.clip(ops.jpeg(lr, quality), 0, 1) * 255) / 255
    lr = lr.astype(np.float32)
    config = get_estimator(DEFAULT).config
    result = estimate_kernel(lr, scale, config=config, seed=0, device="cpu")
    blind = estimate_kernel(lr, scale, config=replace(config, software_detector="", plain_sampling_detector=""),
                            seed=0, device="cpu")
    kernels = {"estimate": result.kernel_x4 if scale == 4 else result.kernel_x2,
               "no detector": blind.kernel_x4 if scale == 4 else blind.kernel_x2,
               "fixed": fixed_kernel(scale), "matlab-bicubic": bicubic_kernel(scale),
               "plain-sampling kernel": software_kernel(SOFTWARE_PLAIN, scale), "true": truth}
    return {"photo": stem, "case": name if camera else case_name(name, antialias), "camera": camera, "scale": scale,
            "jpeg": quality,
            "software_probability": result.quality.get("software_downscaling_probability"),
            "plain_probability": result.quality.get("plain_sampling_probability"),
            **{row: redegradation_psnr(hr, k, truth, scale) for row, k in kernels.items()}}


def replayed(case: dict, threshold: float, plain_threshold: float) -> float:
    """The case's re-degradation PSNR had the detectors' thresholds been ``threshold`` (software) and
    ``plain_threshold`` (plain sampling): the plain-sampling kernel above the latter, else MATLAB's kernel above
    the former, else the estimate without the detectors (what the estimator returns in each case)."""
    if (case["plain_probability"] or 0.0) > plain_threshold:
        return case["plain-sampling kernel"]
    return case["matlab-bicubic"] if (case["software_probability"] or 0.0) > threshold else case["no detector"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", choices=("suite", "tuning"), default="suite")
    parser.add_argument("--scales", default="2,4")
    parser.add_argument("--crop", type=int, default=512, help="HR crop side (central)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=0, help="first N photos only")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None, help="write every case here")
    parser.add_argument("--thresholds", default="0.5,0.8,0.9,0.95,0.99",
                        help="software detector thresholds to replay (the default's: 0.8)")
    parser.add_argument("--plain-thresholds", default="0.3,0.5,0.7,0.9,0.95,0.99",
                        help="plain-sampling detector thresholds to replay (each with the default's software threshold)")
    parser.add_argument("--tables-from", type=Path, default=None,
                        help="print the tables of the cases in this --json file instead of running")
    args = parser.parse_args()
    scales = [int(s) for s in args.scales.split(",")]
    if args.tables_from:
        cases = [c for c in json.loads(args.tables_from.read_text()) if c["scale"] in scales]
        n_photos = len({c["photo"] for c in cases})
    else:
        paths = photos(args.set, DATA)[: args.limit or None]
        n_photos = len(paths)
        work = [(str(p), n, a, s, j, args.crop, args.seed) for s in scales for j in (False, True) for p in paths
                for n, a in CASES]
        work += [(str(p), f, False, s, False, args.crop, args.seed) for s in scales for p in paths
                 for f in CAMERA_FAMILIES]
        print(f"# {len(paths)} photos ({args.set}), crop {args.crop}, scales {scales}, seed {args.seed}, "
              f"estimator {DEFAULT}; {len(work)} LR photos", flush=True)
        with mp.get_context("spawn").Pool(args.jobs) as pool:
            cases = [c for c in pool.map(run_case, work, chunksize=1) if c is not None]
        print(f"# {len(work) - len(cases)} left out (LR under {MIN_LR} px)")
        if args.json:
            args.json.write_text(json.dumps(cases, indent=1))
    print_tables(cases, scales, n_photos, [float(t) for t in args.thresholds.split(",")],
                 [float(t) for t in args.plain_thresholds.split(",")])


def print_tables(cases: list[dict], scales: list[int], n_photos: int, thresholds: list[float],
                 plain_thresholds: list[float]) -> None:
    """The tables of ``cases`` (``run_case``'s); what was named from the detectors' probabilities and the
    default's thresholds."""
    config = get_estimator(DEFAULT).config
    for c in cases:
        c["named"] = named(c, config)
    soft = [c for c in cases if not c["camera"]]
    for scale in scales:
        for jpeg in (False, True):
            group = [c for c in soft if c["scale"] == scale and (c["jpeg"] is not None) == jpeg]
            print(f"\n## x{scale}, {'JPEG 75-95' if jpeg else 'no JPEG'}: re-degradation PSNR (dB), mean over "
                  f"{n_photos} photos; named = what the detector called them")
            print("| resampler | " + " | ".join(ROWS) + " | estimate - fixed | named MATLAB bicubic | named plain sampling |")
            print("|---" * (len(ROWS) + 4) + "|")
            for name in [case_name(n, a) for n, a in CASES]:
                rows = [c for c in group if c["case"] == name]
                means = [statistics.fmean(c[r] for c in rows) for r in ROWS]
                matlab, plain = (sum(c["named"] == n for c in rows) for n in (SOFTWARE_MATLAB, SOFTWARE_PLAIN))
                print(f"| {name} | " + " | ".join(f"{m:.2f}" for m in means) +
                      f" | {means[0] - means[ROWS.index('fixed')]:+.2f} | {matlab}/{len(rows)} | {plain}/{len(rows)} |")
            means = [statistics.fmean(c[r] for c in group) for r in ROWS]
            matlab, plain = (sum(c["named"] == n for c in group) for n in (SOFTWARE_MATLAB, SOFTWARE_PLAIN))
            print("| **all** | " + " | ".join(f"{m:.2f}" for m in means) + f" | {means[0] - means[ROWS.index('fixed')]:+.2f} | "
                  f"{matlab}/{len(group)} | {plain}/{len(group)} |")
    print("\n## Named right (the resampler's exact kernel returned: MATLAB's bicubic for `bicubic`; the plain-sampling "
          "kernel for bicubic and Lanczos 2 by plain sampling, which share it at x2 and x4)")
    exact = {("bicubic", SOFTWARE_MATLAB), (case_name("bicubic", False), SOFTWARE_PLAIN),
             (case_name("lanczos2", False), SOFTWARE_PLAIN)}
    for jpeg in (False, True):
        group = [c for c in soft if (c["jpeg"] is not None) == jpeg]
        right = [c for c in group if (c["case"], c["named"]) in exact]
        plain = [c for c in group if c["case"].endswith("(plain sampling)")]
        found = sum(c["named"] == SOFTWARE_PLAIN for c in plain)
        false_plain = sum(c["named"] == SOFTWARE_PLAIN for c in group if c not in plain)
        print(f"- {'JPEG' if jpeg else 'clean'}: {len(right)}/{len(group)} ({100 * len(right) / len(group):.0f}%); "
              f"plain sampling found on {found}/{len(plain)}, called plain on {false_plain}/{len(group) - len(plain)} "
              "antialiased")
    print("\n## Camera-like blur: called software (either detector fired); re-degradation PSNR with / without the "
          "detectors")
    for scale in scales:
        for family in [*CAMERA_FAMILIES, "all"]:
            group = [c for c in cases if c["camera"] and c["scale"] == scale and family in (c["case"], "all")]
            print(f"- x{scale} {family}: {sum(c['named'] != CAMERA_NAME for c in group)}/{len(group)}, "
                  f"{statistics.fmean(c['estimate'] for c in group):.2f} / "
                  f"{statistics.fmean(c['no detector'] for c in group):.2f} dB")
    for detector, key, values in (("software", "software_probability", thresholds),
                                  ("plain-sampling", "plain_probability", plain_thresholds)):
        print(f"\n## The {detector} detector's threshold replayed (the other at the default's): mean re-degradation "
              "PSNR (dB) of software photos (clean / JPEG) and of camera-like photos; camera photos it calls software")
        print("| threshold | " + " | ".join(f"x{s} software | x{s} software JPEG | x{s} camera | x{s} camera called software"
                                          for s in scales) + " |")
        print("|---" * (1 + 4 * len(scales)) + "|")
        for threshold in values:
            software, plain = ((threshold, config.plain_sampling_threshold) if detector == "software"
                               else (config.software_threshold, threshold))
            cells = []
            for scale in scales:
                clean = [c for c in soft if c["scale"] == scale and c["jpeg"] is None]
                compressed = [c for c in soft if c["scale"] == scale and c["jpeg"] is not None]
                camera = [c for c in cases if c["camera"] and c["scale"] == scale]
                fired = sum((c[key] or 0.0) > threshold for c in camera)
                cells += [f"{statistics.fmean(replayed(c, software, plain) for c in group):.2f}"
                          for group in (clean, compressed, camera)]
                cells.append(f"{fired}/{len(camera)}")
            print(f"| {threshold} | " + " | ".join(cells) + " |")

if __name__ == "__main__":
    main()
