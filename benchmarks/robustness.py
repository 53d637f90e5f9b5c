"""How far to trust the estimator on imperfect photos: kernel PSNR on DIV2KRK x2 LR images after Gaussian
noise (sigma 5 and 10 on the 8-bit scale) and JPEG at quality 75, against the clean images, beside the
bicubic kernel (floor) and the fixed kernel chosen without looking at any image.

    python benchmarks/robustness.py --limit 20 --jobs 2
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from div2krk import DEFAULT_DATA, image_ids  # noqa: E402

from kernelgan.estimator import estimate_kernel  # noqa: E402
from kernelgan.estimator.registry import DEFAULT, get_estimator  # noqa: E402
from kernelgan.families import fixed_kernel  # noqa: E402
from kernelgan.io import load_kernel, read_image  # noqa: E402
from kernelgan.kernels import bicubic_kernel, kernel_psnr  # noqa: E402
from kernelgan.presets import ops  # noqa: E402
from kernelgan.synth import image_rng  # noqa: E402

CONDITIONS = ("clean", "noise5", "noise10", "jpeg75")


def corrupt(image: np.ndarray, condition: str, name: str) -> np.ndarray:
    rng = image_rng(0, name)
    if condition.startswith("noise"):
        return np.clip(ops.gaussian_noise(image.astype(np.float64), rng, float(condition[5:]), gray=False), 0, 1)
    if condition.startswith("jpeg"):
        return ops.jpeg(image.astype(np.float64), int(condition[4:]))
    return image


def run_one(args: tuple[Path, int, str, str, int | None]) -> tuple[int, str, float, float, float]:
    data, n, condition, estimator, iters = args
    torch.set_num_threads(1)
    image = corrupt(read_image(data / "lr_x2" / f"im_{n}.png"), condition, f"im_{n}").astype(np.float32)
    truth = load_kernel(data / "gt_k_x2" / f"kernel_{n}.mat")
    config = get_estimator(estimator).config.with_overrides(iters=iters)
    result = estimate_kernel(image, config=config, seed=0, device="cpu")
    return (n, condition, kernel_psnr(result.kernel_x2, truth), kernel_psnr(bicubic_kernel(2), truth),
            kernel_psnr(fixed_kernel("div2krk"), truth))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--estimator", default=DEFAULT)
    parser.add_argument("--iters", type=int, default=None)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    if not (args.data / "lr_x2").is_dir():
        sys.exit(f"DIV2KRK not found at {args.data}")
    ids = image_ids(args.data)[: args.limit]
    jobs = [(args.data, n, c, args.estimator, args.iters) for n in ids for c in CONDITIONS]
    scores: dict[int, dict[str, float]] = {n: {} for n in ids}
    floors: dict[int, float] = {}
    fixed: dict[int, float] = {}
    with mp.get_context("spawn").Pool(args.jobs) as pool:
        for n, condition, psnr, floor, fixed_psnr in pool.imap(run_one, jobs):
            scores[n][condition] = psnr
            floors[n], fixed[n] = floor, fixed_psnr
    print(f"{'image':>8} {'floor':>7} " + " ".join(f"{c:>8}" for c in CONDITIONS))
    for n in ids:
        print(f"{'im_' + str(n):>8} {floors[n]:7.2f} " + " ".join(f"{scores[n][c]:8.2f}" for c in CONDITIONS))
    means = {c: statistics.mean(scores[n][c] for n in ids) for c in CONDITIONS}
    print(f"{'mean':>8} {statistics.mean(floors.values()):7.2f} " + " ".join(f"{means[c]:8.2f}" for c in CONDITIONS))
    print(f"{'drop':>8} {'':7} " + " ".join(f"{means[c] - means['clean']:+8.2f}" for c in CONDITIONS))
    print(f"{'<floor':>8} {'':7} " + " ".join(f"{sum(scores[n][c] < floors[n] for n in ids):8d}" for c in CONDITIONS))
    print(f"{'<fixed':>8} {'':7} " + " ".join(f"{sum(scores[n][c] < fixed[n] for n in ids):8d}" for c in CONDITIONS))
    print(f"fixed kernel (no image): {statistics.mean(fixed.values()):.2f} dB; estimator {args.estimator}")


if __name__ == "__main__":
    main()
