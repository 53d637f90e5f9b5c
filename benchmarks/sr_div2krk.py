"""SR quality on the DIV2KRK images that have HR: Y-PSNR/SSIM (scale px shaved) and seconds per image for
bicubic interpolation and each backend-kernel pair: ZSSR and SRMD with the bicubic kernel, the fixed kernel
(DIV2KRK family's best isotropic Gaussian, chosen without looking at any image), our estimated kernel
(estimated once per image; its time is printed at the end, not added to the backends' seconds) or the true
kernel.

    python benchmarks/sr_div2krk.py --limit 8 [--scale 4] [--zssr-published] [--zssr-opt precision=fp32]
        [--methods bicubic,srmd-true]
    python benchmarks/sr_div2krk.py --set tuning --methods bicubic,zssr-true   # held-out check of settings

``--set tuning``: instead of DIV2KRK, the tuning set's photos (BSD100/Set14, held out of every
training; see ``suite.py``) as HR, each blurred with its own DIV2KRK-family kernel (seeded by photo name),
subsampled x2 (x4: twice) and rounded to 8 bits. Settings of the SR backends are decided there, not on DIV2KRK.

Prints the process's peak RSS at the end (run one backend per command to read its peak memory), and on CUDA the
peak of memory allocated on the GPU. Each finished cell is also written to stderr as it comes (a run stopped by a
timeout keeps what it finished); ``--images im_3,im_13`` runs those HR images only (one process per image, say).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from div2krk import DEFAULT_DATA  # noqa: E402
from suite import photos  # noqa: E402

from kernelgan.estimator import estimate_kernel  # noqa: E402
from kernelgan.estimator.registry import DEFAULT, get_estimator  # noqa: E402
from kernelgan.families import fixed_kernel, sample_kernel  # noqa: E402
from kernelgan.io import load_kernel, read_image  # noqa: E402
from kernelgan.kernels import bicubic_kernel, x2_kernel_for_x4  # noqa: E402
from kernelgan.metrics import psnr_y, ssim_y  # noqa: E402
from kernelgan.sr import get_backend  # noqa: E402
from kernelgan.sr.base import check_options  # noqa: E402
from kernelgan.sr.zssr import PUBLISHED  # noqa: E402
from kernelgan.synth import crop_to_multiple, degrade, image_rng  # noqa: E402

HR_IDS = (3, 13, 14, 23, 24, 30, 33, 38)


def div2krk_cases(data: Path, scale: int, limit: int, names: set[str] | None = None
                  ) -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """(name, LR, HR, true x2 kernel) for DIV2KRK's images with HR (``names``: only these, e.g. {"im_3"})."""
    for n in [n for n in HR_IDS if names is None or f"im_{n}" in names][:limit]:
        lr = read_image(data / f"lr_x{scale}" / f"im_{n}.png")
        hr = crop_to_multiple(read_image(data / "gt" / f"im_{n}.png"), scale)
        if scale == 2:
            truth = load_kernel(data / "gt_k_x2" / f"kernel_{n}.mat")
        else:  # DIV2KRK's x4 images use other x2 kernels than gt_k_x2: recover the one behind gt_k_x4
            truth = x2_kernel_for_x4(load_kernel(data / "gt_k_x4" / f"kernel_{n}.mat"))
        yield f"im_{n}", lr, hr, truth


def tuning_cases(data: Path, scale: int, limit: int, seed: int = 0
                 ) -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """(name, LR, HR, true x2 kernel) for the tuning set's photos, each with its own DIV2KRK-family x2 kernel
    (at x4 applied twice, as DIV2KRK does)."""
    for path in photos("tuning", data)[:limit]:
        name = f"{path.parent.name}/{path.stem}"
        hr = crop_to_multiple(read_image(path), scale)
        truth = sample_kernel("div2krk", image_rng(seed, f"{name}:div2krk"))
        lr, _ = degrade(hr, scale, k2=truth)
        yield path.stem, (np.round(lr * 255) / 255).astype(np.float32), hr, truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", default="div2krk", choices=("div2krk", "tuning"), help="images (see above)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="DIV2KRK folder (--set div2krk)")
    parser.add_argument("--limit", type=int, default=100, help="first N images only")
    parser.add_argument("--images", default=None, help="only these DIV2KRK HR images, e.g. im_3,im_13")
    parser.add_argument("--scale", type=int, default=2, choices=(2, 4), help="x4: lr_x4 images, the x2 kernel applied twice")
    parser.add_argument("--zssr-published", action="store_true", help="ZSSR at the published settings (zssr.PUBLISHED)")
    parser.add_argument("--zssr-opt", action="append", default=[], metavar="KEY=VALUE", help="a ZSSR option (repeatable)")
    parser.add_argument("--device", default="cpu", help="device for the SR backends [cpu]")
    parser.add_argument("--seed", type=int, default=0, help="the SR backends' seed (ZSSR's fathers and weights) [0]")
    parser.add_argument("--srmd-weights", default=None, help="SRMD weights: auto, classical, real or a file [auto]")
    parser.add_argument("--srmd-noise", default=None, help="SRMD noise level: auto or 0-50 [auto]")
    parser.add_argument("--methods", default="bicubic,zssr-bicubic,zssr-fixed,zssr-ours,zssr-true,"
                                             "srmd-bicubic,srmd-fixed,srmd-ours,srmd-true")
    parser.add_argument("--estimator", default=DEFAULT, help="estimator behind the -ours rows (see `kernelgan estimators`)")
    args = parser.parse_args()
    names = set(args.images.split(",")) if args.images else None
    if names and not names <= {f"im_{n}" for n in HR_IDS}:
        parser.error(f"--images: DIV2KRK's HR images are {', '.join(f'im_{n}' for n in HR_IDS)}")
    zssr = {"config": PUBLISHED} if args.zssr_published else {}
    zssr.update(check_options(get_backend("zssr"), dict(o.split("=", 1) for o in args.zssr_opt)))
    srmd = {k: v for k, v in (("weights", args.srmd_weights), ("noise", args.srmd_noise)) if v is not None}
    options = {"zssr": zssr, "srmd": srmd}
    methods = args.methods.split(",")
    estimate_seconds: list[float] = []
    results: dict[str, list[tuple[float, float, float]]] = {m: [] for m in methods}
    print(f"{'image':>7} " + " ".join(f"{m:>22}" for m in methods))
    cases = (tuning_cases(args.data.parent, args.scale, args.limit) if args.set == "tuning"
             else div2krk_cases(args.data, args.scale, args.limit, names))
    for name, lr, hr, truth in cases:
        kernels = {"bicubic": bicubic_kernel(2), "fixed": fixed_kernel("div2krk"), "true": truth}
        if any(m.endswith("-ours") for m in methods):
            start = time.perf_counter()
            config = get_estimator(args.estimator).config
            kernels["ours"] = estimate_kernel(lr, scale=args.scale, config=config, seed=0, device="cpu").kernel_x2
            estimate_seconds.append(time.perf_counter() - start)
        cells = []
        for m in methods:
            backend, _, kind = m.partition("-")
            start = time.perf_counter()
            sr = get_backend(backend).upscale(lr, kernels.get(kind, truth), args.scale, seed=args.seed, device=args.device,
                                         **options.get(backend, {}))
            seconds = time.perf_counter() - start
            h, w = min(sr.shape[0], hr.shape[0]), min(sr.shape[1], hr.shape[1])
            scores = (psnr_y(sr[:h, :w], hr[:h, :w], args.scale), ssim_y(sr[:h, :w], hr[:h, :w], args.scale), seconds)
            results[m].append(scores)
            cells.append(f"{scores[0]:6.2f}/{scores[1]:.4f}/{seconds:5.0f}s")
            print(f"{name} {m} {cells[-1].strip()}", file=sys.stderr, flush=True)
        print(f"{name:>7} " + " ".join(f"{c:>22}" for c in cells), flush=True)
    print(f"{'mean':>7} " + " ".join(
        f"{statistics.mean(r[0] for r in results[m]):6.2f}/{statistics.mean(r[1] for r in results[m]):.4f}/"
        f"{statistics.median(r[2] for r in results[m]):5.0f}s" for m in methods))
    print("cells: Y-PSNR dB / SSIM / seconds (mean row: median seconds); torch threads:", torch.get_num_threads(),
          f"; device {args.device}; seed {args.seed}; ZSSR options {zssr}; SRMD options {srmd}")
    print(f"peak RSS of the process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    if torch.device(args.device).type == "cuda":
        print(f"peak GPU memory allocated: {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB")
    if estimate_seconds:
        print(f"kernel estimation (ours): median {statistics.median(estimate_seconds):.1f} s per image")


if __name__ == "__main__":
    main()
