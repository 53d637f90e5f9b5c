"""Is a folder of estimated kernels a faithful kernel pool? DIV2KRK's LR photos play the camera: their true
kernels (one random anisotropic Gaussian each) are the distribution a pool should reproduce.

    python benchmarks/pool.py --scale 2
    python benchmarks/pool.py --scale 4 --estimator prior-sharp

Rows: the estimates of each photo (the pool ``degrade --kernels OUT`` would draw from), an image-blind pool (the
family's fixed kernel for every photo: what a pool is worth without looking at the photos) and the bicubic
kernel for every photo. Columns: the two-sample Kolmogorov-Smirnov statistic of log kernel sizes against the
true kernels' (0: the same distribution) and its p-value, the median log size ratio (pool over truth), the KS
statistic of the anisotropies, and the correlation of log sizes photo by photo. Reporting only (DIV2KRK is never
trained or tuned on). Needs ../shared/data/DIV2KRK.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np

from kernelgan.estimator import estimate_kernel
from kernelgan.estimator.registry import DEFAULT, get_estimator
from kernelgan.families import fixed_kernel
from kernelgan.io import load_kernel, read_image
from kernelgan.kernel_shape import MIN_SIZE, kernel_shape, pearson
from kernelgan.kernels import bicubic_kernel
from kernelgan.pools import pool_faithfulness

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "DIV2KRK"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, choices=(2, 4), default=2)
    parser.add_argument("--estimator", default=DEFAULT)
    parser.add_argument("--limit", type=int, default=None, help="first N photos only")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    lr_dir = args.data / f"lr_x{args.scale}"
    if not lr_dir.is_dir():
        sys.exit(f"data not found at {lr_dir}")
    ids = sorted(int(re.match(r"im_(\d+)", p.stem)[1]) for p in lr_dir.glob("im_*.png"))[: args.limit]
    config = get_estimator(args.estimator).config
    estimates, truths = [], []
    start = time.perf_counter()
    for n in ids:
        result = estimate_kernel(read_image(lr_dir / f"im_{n}.png"), args.scale, config=config, seed=0, device="cpu")
        estimates.append(result.kernel_x2 if args.scale == 2 else result.kernel_x4)
        truths.append(load_kernel(args.data / f"gt_k_x{args.scale}" / f"kernel_{n}.mat"))
    seconds = time.perf_counter() - start
    rows = {f"estimates ({args.estimator})": estimates,
            "fixed kernel (image-blind)": [fixed_kernel("div2krk", args.scale)] * len(ids),
            "bicubic kernel": [bicubic_kernel(args.scale)] * len(ids)}
    true_logs = [np.log(max(kernel_shape(t).size, MIN_SIZE)) for t in truths]
    print(f"DIV2KRK x{args.scale}: {len(ids)} photos, {seconds / len(ids):.2f} s per estimate")
    print("| pool | KS (log size) | p | median log size ratio | KS (anisotropy) | size corr. per photo |")
    print("|---|---|---|---|---|---|")
    for name, pool in rows.items():
        f = pool_faithfulness(pool, truths)
        corr = pearson([np.log(max(kernel_shape(k).size, MIN_SIZE)) for k in pool], true_logs)
        print(f"| {name} | {f.ks:.3f} | {f.p_value:.2g} | {f.median_log_ratio:+.3f} | {f.anisotropy_ks:.3f} | "
              f"{'-' if corr is None else f'{corr:.2f}'} |")


if __name__ == "__main__":
    main()
