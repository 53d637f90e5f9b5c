"""The end-to-end pipeline on realistic degradations: photos degraded by the BSRGAN and Real-ESRGAN presets,
upscaled by bicubic interpolation and by SRMD with the pipeline's estimates (reporting only on ``--set suite``;
decisions on ``--set tuning``).

    python benchmarks/realistic.py --set suite --scales 2,4 --seeds 0,1 --crop 384
    python benchmarks/realistic.py --set tuning --scales 4 --seeds 0

Each photo's central ``--crop`` (HR pixels, made a multiple of the scale) is degraded by each preset with each
seed (``image_rng(seed, name:preset)``) and rounded to 8 bits, as ``kernelgan degrade --preset`` writes it.
Rows (Y-PSNR / SSIM, ``scale`` pixels shaved; seconds per photo):
- bicubic: MATLAB-style interpolation (the floor);
- pipeline: what ``kernelgan estimate --sr srmd`` does by default (the default estimator's kernel, noise level
  and weights ``auto``);
- srmd-classical-0: the classical weights at noise 0 with the estimated kernel (the pipeline before the noise
  estimate and the realistic weights);
- srmd-real: the realistic weights with the estimated kernel and noise, whatever the photo looks like;
- srmd-classical-auto: the classical weights with the estimated kernel and noise;
- srmd-real-first-kernel: the realistic weights with the preset's own blur kernel (``presets.first_order_kernel``:
  BSRGAN's two Gaussians in HR pixels, Real-ESRGAN's first-stage kernel; at x4 the x2 kernel whose analytic x4
  matches it) and the estimated noise: what a perfect kernel estimate would give. The presets' noise is not one
  level at the LR (two stages, resizes, Poisson and sensor noise, JPEG), so no row has a true noise level.
Also: the estimated noise level and the share of photos the pipeline sent to the realistic weights.
- zssr-real (with ``--zssr``): ZSSR's real-photo mode (noisy sons, no back-projection) in its default
  configuration with the estimated kernel.
The presets' blur is a chain of kernels and resizes: the first-order kernel is the nearest thing to a true one.

    python benchmarks/realistic.py --set suite --scales 2,4 --seeds 0 --zssr

``--real-weights FILE`` (``{scale}`` in the name is replaced by the scale) puts other realistic weights (from
``kernelgan train-srmd``) in place of the shipped ones, in the srmd-real row and wherever the pipeline sends a photo
to the realistic weights.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from suite import DATA, central_crop, photos  # noqa: E402

from kernelgan.degradation import measure  # noqa: E402
from kernelgan.estimator import estimate_kernel  # noqa: E402
from kernelgan.estimator.registry import DEFAULT, get_estimator  # noqa: E402
from kernelgan.io import read_image  # noqa: E402
from kernelgan.kernels import x2_kernel_for_x4  # noqa: E402
from kernelgan.metrics import psnr_y, ssim_y  # noqa: E402
from kernelgan.presets import apply_preset, first_order_kernel  # noqa: E402
from kernelgan.sr import get_backend  # noqa: E402
from kernelgan.synth import crop_to_multiple, image_rng  # noqa: E402

ROWS = ("bicubic", "pipeline", "srmd-classical-0", "srmd-real", "srmd-classical-auto", "srmd-real-first-kernel")
SRMD_ROWS = {"pipeline": {}, "srmd-classical-0": {"weights": "classical", "noise": "0"},
             "srmd-real": {"weights": "real"}, "srmd-classical-auto": {"weights": "classical"},
             "srmd-real-first-kernel": {"weights": "real"}}


MIN_LR = 64  # the estimator's smallest photo side: smaller LRs (Set5 at x4) are left out and counted


def run_case(args: tuple[str, str, int, int, int, tuple[str, ...], str]) -> dict | None:
    path, preset, scale, seed, crop, rows, real_weights = args
    torch.set_num_threads(1)
    name = f"{Path(path).parent.name}/{Path(path).stem}"
    hr = crop_to_multiple(central_crop(read_image(path), crop), scale)
    if min(hr.shape[:2]) // scale < MIN_LR:
        return None
    degraded = apply_preset(preset, hr, scale, image_rng(seed, f"{name}:{preset}"))
    lr = (np.round(degraded.lr * 255) / 255).astype(np.float32)  # as saved to an 8-bit file
    first = first_order_kernel(preset, degraded.choices, hr.shape[0])
    assert first is not None
    first_x2 = first if scale == 2 else x2_kernel_for_x4(first)
    start = time.perf_counter()
    kernel = estimate_kernel(lr, 2, get_estimator(DEFAULT).config, device="cpu").kernel_x2
    found = measure(lr)
    estimate_seconds = time.perf_counter() - start
    cells: dict[str, dict] = {}
    for row in rows:
        start = time.perf_counter()
        if row == "bicubic":
            sr = get_backend("bicubic").upscale(lr, kernel, scale)
        elif row == "zssr-real":
            sr = get_backend("zssr").upscale(lr, kernel, scale, real=True)
        else:
            options = dict(SRMD_ROWS[row])
            if real_weights and (options.get("weights") == "real" or (row == "pipeline" and found.realistic)):
                options["weights"] = real_weights.format(scale=scale)
            sr = get_backend("srmd").upscale(lr, first_x2 if row == "srmd-real-first-kernel" else kernel, scale,
                                             **options)
        seconds = time.perf_counter() - start + (estimate_seconds if row == "pipeline" else 0.0)
        cells[row] = {"psnr": psnr_y(sr, hr, scale), "ssim": ssim_y(sr, hr, scale), "seconds": seconds}
    return {"photo": name, "preset": preset, "scale": scale, "seed": seed, "cells": cells,
            "noise": found.noise_sigma, "realistic": found.realistic}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", choices=("suite", "tuning"), default="suite")
    parser.add_argument("--presets", default="bsrgan,realesrgan")
    parser.add_argument("--scales", default="2,4")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--crop", type=int, default=384, help="HR crop side (central)")
    parser.add_argument("--limit", type=int, default=None, help="first N photos only")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--zssr", action="store_true", help="also the zssr-real row (ZSSR's real-photo mode)")
    parser.add_argument("--real-weights", default="", help="realistic SRMD weights in place of the shipped ones "
                        "({scale} in the name is replaced by the scale)")
    args = parser.parse_args()
    rows = (*ROWS, "zssr-real") if args.zssr else ROWS
    if not (args.data / "Set5").is_dir():
        sys.exit(f"data not found at {args.data}")
    paths = photos(args.set, args.data)[: args.limit]
    jobs = [(str(p), preset, int(s), int(seed), args.crop, rows, args.real_weights) for s in args.scales.split(",")
            for preset in args.presets.split(",") for seed in args.seeds.split(",") for p in paths]
    cases, too_small = [], 0
    with mp.get_context("spawn").Pool(args.jobs) as pool:
        for case in pool.imap(run_case, jobs):
            if case is None:
                too_small += 1
                continue
            cases.append(case)
            c = case["cells"]
            print(f"{case['photo']:>20} {case['preset']:>10} x{case['scale']} seed {case['seed']} "
                  f"noise {case['noise']:5.2f} {'real' if case['realistic'] else 'clean'}: "
                  + " ".join(f"{r}={c[r]['psnr']:.2f}" for r in rows), flush=True)
    print(f"\n{args.set}: {len(paths)} photos, presets {args.presets}, scales {args.scales}, seeds {args.seeds}, "
          f"crop {args.crop}; torch threads 1 per process, {args.jobs} processes; {too_small} cases left out "
          f"(LR under {MIN_LR} px, the estimator's minimum); realistic weights: {args.real_weights or 'shipped'}")
    groups = sorted({(c["preset"], c["scale"]) for c in cases})
    print("\nY-PSNR / SSIM (mean), and the pipeline's gain over bicubic interpolation")
    print("| row | " + " | ".join(f"{p} x{s} ({sum(1 for c in cases if (c['preset'], c['scale']) == (p, s))})"
                                  for p, s in groups) + " |")
    print("|---|" + "---|" * len(groups))
    for row in rows:
        cells = []
        for group in groups:
            part = [c["cells"][row] for c in cases if (c["preset"], c["scale"]) == group]
            cells.append(f"{statistics.mean(x['psnr'] for x in part):.2f} / {statistics.mean(x['ssim'] for x in part):.4f}")
        print(f"| {row} | " + " | ".join(cells) + " |")
    gains, secs, real_secs, real, noise = [], [], [], [], []
    for group in groups:
        part = [c for c in cases if (c["preset"], c["scale"]) == group]
        gains.append(f"{statistics.mean(c['cells']['pipeline']['psnr'] - c['cells']['bicubic']['psnr'] for c in part):+.2f}")
        secs.append(f"{statistics.median(c['cells']['pipeline']['seconds'] for c in part):.2f}")
        real_secs.append(f"{statistics.median(c['cells']['srmd-real']['seconds'] for c in part):.2f}")
        real.append(f"{sum(c['realistic'] for c in part)}/{len(part)}")
        noise.append(f"{statistics.median(c['noise'] for c in part):.2f}")
    print("| pipeline - bicubic (dB) | " + " | ".join(gains) + " |")
    if args.zssr:
        zssr_gains, zssr_secs = [], []
        for group in groups:
            part = [c["cells"] for c in cases if (c["preset"], c["scale"]) == group]
            zssr_gains.append(f"{statistics.mean(x['zssr-real']['psnr'] - x['bicubic']['psnr'] for x in part):+.2f}")
            zssr_secs.append(f"{statistics.median(x['zssr-real']['seconds'] for x in part):.1f}")
        print("| zssr-real - bicubic (dB) | " + " | ".join(zssr_gains) + " |")
        print("| zssr-real median seconds (1 thread) | " + " | ".join(zssr_secs) + " |")
    print("| pipeline median seconds | " + " | ".join(secs) + " |")
    print("| srmd-real median seconds (SR alone) | " + " | ".join(real_secs) + " |")
    print("| sent to realistic weights | " + " | ".join(real) + " |")
    print("| median estimated noise (8-bit) | " + " | ".join(noise) + " |")


if __name__ == "__main__":
    main()
