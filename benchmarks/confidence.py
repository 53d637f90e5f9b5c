"""Does the default estimator's confidence mean something? Its predicted size error against the actual one.

    python benchmarks/confidence.py --set tuning     # the threshold of the low-confidence flag is chosen here
    python benchmarks/confidence.py --set div2krk    # reporting only
    python benchmarks/confidence.py --set tuning --estimator prior-camera

tuning: the 11 tuning photos (central 512-px crops), each blurred by one kernel of every training family
(``families.TRAINING``) and of the held-out one, x2, half of them with Gaussian noise (8-bit sigma U(1, 8)) and
JPEG (quality U(60, 95)); ``--seeds`` kernel draws. div2krk: DIV2KRK's 100 x2 LR photos and their true kernels.
Per set: Spearman rank correlation of the predicted RMS size error with the actual |log size error| (and of the
predicted with the actual re-degradation PSNR where the HR is known), the share of estimates flagged
low-confidence, the mean actual |size error| of flagged and unflagged estimates, and how often the true size
falls in the 90% interval; and the same for a range of thresholds.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from suite import DATA, central_crop, photos  # noqa: E402

from kernelgan.estimator import estimate_kernel  # noqa: E402
from kernelgan.estimator.registry import DEFAULT, get_estimator  # noqa: E402
from kernelgan.evaluate import redegradation_psnr  # noqa: E402
from kernelgan.families import HELD_OUT, TRAINING, sample_kernel  # noqa: E402
from kernelgan.io import load_kernel, read_image  # noqa: E402
from kernelgan.kernel_shape import kernel_shape, size_error  # noqa: E402
from kernelgan.presets import ops  # noqa: E402
from kernelgan.synth import degrade, image_rng  # noqa: E402

THRESHOLDS = (0.25, 0.3, 0.35, 0.4, 0.5, 0.6)


def cases_tuning(seeds: list[int]):
    for path in photos("tuning", DATA):
        hr = central_crop(read_image(path), 512)
        for seed in seeds:
            for family in (*TRAINING, *HELD_OUT):
                rng = image_rng(seed, f"{path.stem}:{family}:confidence")
                truth = sample_kernel(family, rng)
                lr, _ = degrade(hr, 2, kernel=truth)
                if rng.random() < 0.5:
                    lr = ops.jpeg(np.clip(ops.gaussian_noise(lr, rng, rng.uniform(1, 8), gray=False), 0, 1),
                                  int(rng.integers(60, 96)))
                yield f"{path.stem}:{family}", (np.round(lr * 255) / 255).astype(np.float32), truth, hr


def cases_div2krk(data: Path):
    root = data / "DIV2KRK"
    ids = sorted(int(re.match(r"im_(\d+)", p.stem)[1]) for p in (root / "lr_x2").glob("im_*.png"))
    for n in ids:
        yield f"im_{n}", read_image(root / "lr_x2" / f"im_{n}.png"), load_kernel(root / "gt_k_x2" / f"kernel_{n}.mat"), None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", choices=("tuning", "div2krk"), default="tuning")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--estimator", default=DEFAULT, help="a prior estimator with a confidence (prior, prior-camera)")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    cases = cases_tuning([int(s) for s in args.seeds.split(",")]) if args.set == "tuning" else cases_div2krk(args.data)
    rows = []
    for name, lr, truth, hr in cases:
        result = estimate_kernel(lr, 2, config=get_estimator(args.estimator).config, seed=0, device="cpu")
        q = result.quality
        if "predicted_size_error" not in q:  # software downscaling detected: no confidence
            continue
        size = kernel_shape(truth).size
        rows.append({"name": name, "predicted": q["predicted_size_error"], "actual": abs(size_error(result.kernel_x2, truth)),
                     "inside": q["true_size_low"] <= size <= q["true_size_high"],
                     "redeg_predicted": q["predicted_redeg_psnr"],
                     "redeg": None if hr is None else redegradation_psnr(hr, result.kernel_x2, truth, 2)})
    predicted = np.array([r["predicted"] for r in rows])
    actual = np.array([r["actual"] for r in rows])
    print(f"{args.set}: {len(rows)} estimates with a confidence")
    print(f"rank correlation, predicted vs actual |size error|: {spearmanr(predicted, actual)[0]:.3f}")
    if all(r["redeg"] is not None for r in rows):
        print(f"rank correlation, predicted vs actual re-degradation PSNR: "
              f"{spearmanr([r['redeg_predicted'] for r in rows], [r['redeg'] for r in rows])[0]:.3f}")
    print(f"true size inside the 90% interval: {np.mean([r['inside'] for r in rows]):.3f}")
    print(f"mean actual |size error|: {actual.mean():.3f}")
    print("| threshold | flagged | mean |size error| flagged | unflagged | actual > 0.35 among flagged | among unflagged |")
    print("|---|---|---|---|---|---|")
    for t in THRESHOLDS:
        flag = predicted > t
        def share(mask):
            return f"{(actual[mask] > 0.35).mean():.2f}" if mask.any() else "-"
        print(f"| {t} | {flag.mean():.2f} | {actual[flag].mean() if flag.any() else float('nan'):.3f} | "
              f"{actual[~flag].mean() if (~flag).any() else float('nan'):.3f} | {share(flag)} | {share(~flag)} |")


if __name__ == "__main__":
    main()
