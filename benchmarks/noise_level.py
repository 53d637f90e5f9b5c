"""The noise-level estimate (``kernelgan.noise``) and the JPEG detectors (``kernelgan.jpeg``) against the truth.

    python benchmarks/noise_level.py --set tuning

Noise: each photo (``--set``: the tuning photos, or the suite's) is blurred by its own DIV2KRK-family kernel,
subsampled x2 and, per level sigma in 0..25 (8-bit scale), given Gaussian noise and rounded to 8 bits; the table
gives the mean and worst absolute error of the estimate per level, beside scikit-image's wavelet estimator
(``estimate_sigma``, averaged over channels) when it is installed. JPEG: the same LRs saved at qualities 30-95
(Pillow); the quality read back from the file's tables, and the blocking measure on the decoded pixels
against the clean LRs' (the threshold separating them).
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from suite import DATA, photos  # noqa: E402

from kernelgan.io import read_image  # noqa: E402
from kernelgan.jpeg import BLOCKING_THRESHOLD, blocking, file_quality  # noqa: E402
from kernelgan.kernels import random_kernel  # noqa: E402
from kernelgan.noise import estimate_noise_sigma  # noqa: E402
from kernelgan.synth import crop_to_multiple, degrade, image_rng  # noqa: E402

LEVELS = (0, 1, 2, 5, 10, 15, 20, 25)
QUALITIES = (30, 50, 60, 75, 85, 95)


def skimage_sigma(img: np.ndarray) -> float | None:
    try:
        import pywt  # noqa: F401  (estimate_sigma needs it)
        from skimage.restoration import estimate_sigma
    except ImportError:
        return None
    return float(estimate_sigma(img, channel_axis=-1, average_sigmas=True)) * 255


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", choices=("suite", "tuning"), default="tuning")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    if not (args.data / "Set5").is_dir():
        sys.exit(f"data not found at {args.data}")
    paths = photos(args.set, args.data)
    errors: dict[int, list[float]] = {s: [] for s in LEVELS}
    sk_errors: dict[int, list[float]] = {s: [] for s in LEVELS}
    seconds: list[float] = []
    read_back: dict[int, list[int]] = {q: [] for q in QUALITIES}
    blocks: dict[int | str, list[float]] = {q: [] for q in QUALITIES} | {"clean": []}
    for path in paths:
        name = f"{path.parent.name}/{path.stem}"
        rng = image_rng(0, f"{name}:noise")
        lr, _ = degrade(crop_to_multiple(read_image(path), 2), 2, k2=random_kernel(rng, scale=2))
        for sigma in LEVELS:
            noisy = np.round(np.clip(lr + rng.standard_normal(lr.shape) * sigma / 255, 0, 1) * 255) / 255
            start = time.perf_counter()
            found = estimate_noise_sigma(noisy)
            seconds.append(time.perf_counter() - start)
            errors[sigma].append(abs(found - sigma))
            sk = skimage_sigma(noisy)
            if sk is not None:
                sk_errors[sigma].append(abs(sk - sigma))
        clean = np.round(np.clip(lr, 0, 1) * 255).astype(np.uint8)
        blocks["clean"].append(blocking(clean / 255.0))
        for q in QUALITIES:
            buf = io.BytesIO()
            Image.fromarray(clean).save(buf, format="JPEG", quality=q)
            found_q = file_quality(buf)
            read_back[q].append(found_q.quality if found_q else -1)
            buf.seek(0)
            blocks[q].append(blocking(np.asarray(Image.open(buf).convert("RGB")) / 255.0))
    print(f"{args.set}: {len(paths)} photos, each blurred by a DIV2KRK-family kernel and subsampled x2; "
          f"median {1000 * statistics.median(seconds):.0f} ms per estimate")
    print("\nnoise level (8-bit sigma): |estimate - truth|, mean / worst")
    print("| true sigma | kernelgan.noise | skimage estimate_sigma |")
    print("|---|---|---|")
    for sigma in LEVELS:
        sk = (f"{statistics.mean(sk_errors[sigma]):.2f} / {max(sk_errors[sigma]):.2f}" if sk_errors[sigma]
              else "not installed")
        print(f"| {sigma} | {statistics.mean(errors[sigma]):.2f} / {max(errors[sigma]):.2f} | {sk} |")
    print("\nJPEG (Pillow): quality read from the tables (share exact), blocking on the pixels (min / median / max; "
          f"detected above {BLOCKING_THRESHOLD})")
    print("| quality | read exactly | blocking | detected from pixels |")
    print("|---|---|---|---|")
    for q in ("clean", *QUALITIES):
        b = blocks[q]
        exact = "-" if q == "clean" else f"{sum(r == q for r in read_back[q])}/{len(read_back[q])}"
        print(f"| {q} | {exact} | {min(b):.2f} / {statistics.median(b):.2f} / {max(b):.2f} | "
              f"{sum(v > BLOCKING_THRESHOLD for v in b)}/{len(b)} |")


if __name__ == "__main__":
    main()
