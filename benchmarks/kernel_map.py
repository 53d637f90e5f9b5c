"""Kernel maps on blur that changes across the picture (reporting only on ``--set suite``; decisions on
``--set tuning``).

    python benchmarks/kernel_map.py --set suite --crop 1024 --seeds 0,1
    python benchmarks/kernel_map.py --set tuning-large --crop 720 --seeds 0,1
    python benchmarks/kernel_map.py --set suite --crop 1024 --seeds 0,1 --modes uniform-camera,camera --sr   (out of family)

Each photo's central ``--crop`` (HR px) is blurred x2 by a random kernel map of each mode of
``presets.varying`` (``sides``, ``rows``, ``rowscols``, ``orientation``, ``blocks``; out of family: ``camera``,
a camera-family kernel per block) and, for the cost on uniform blur, by one DIV2KRK-family kernel (``uniform``;
``uniform-camera``: one camera-family kernel); rounded to 8 bits. Rows (re-degradation Y-PSNR of
the HR blurred with each map or kernel against the LR made with the true map, 2 px shaved):
- map: ``kernelgan estimate --kernel-map`` (default grid);
- local: the map's cells' own kernels (what the map is where its verdict is "varies");
- split: the naive map: the prior run on each region of a 3x3 split alone (no overlap, no shrinking);
- global: the default estimate, one kernel for the photo;
- fixed: DIV2KRK's fixed kernel (no image); bicubic: the bicubic kernel (floor);
- true: the true map (re-degradation is exact; kept for the SR rows).
Also the map's verdict ("varies" share, mean variation), kernel PSNR per cell against the true kernel at the
cell's centre, seconds for the global estimate and for the map, and with ``--sr`` SRMD x2 Y-PSNR with the
map, the split, the global estimate, the fixed kernel and the true map (the classical shipped weights, noise 0).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from suite import DATA, central_crop, photos  # noqa: E402

from kernelgan.estimator import estimate_kernel  # noqa: E402
from kernelgan.estimator.config import EstimatorConfig  # noqa: E402
from kernelgan.estimator.local import MapSettings, map_for_estimate  # noqa: E402
from kernelgan.estimator.registry import DEFAULT, get_estimator  # noqa: E402
from kernelgan.evaluate_maps import cell_psnr  # noqa: E402
from kernelgan.families import fixed_kernel  # noqa: E402
from kernelgan.io import read_image  # noqa: E402
from kernelgan.kernel_map import degrade_with_map, uniform_map  # noqa: E402
from kernelgan.kernels import bicubic_kernel, fit_size, normalise, random_kernel  # noqa: E402
from kernelgan.metrics import psnr_y  # noqa: E402
from kernelgan.presets.varying import MODES, camera_kernel, random_map  # noqa: E402
from kernelgan.sr.srmd import SRMDWeights, shipped_weights, super_resolve  # noqa: E402
from kernelgan.synth import image_rng  # noqa: E402

ROWS = ("map", "local", "split", "global", "fixed", "bicubic", "true")
SR_ROWS = ("map", "split", "global", "fixed", "true")


def naive_split(lr: np.ndarray, size: int, config: EstimatorConfig) -> np.ndarray:
    """3x3 x K x K: the default estimate of each region of a 3x3 split, alone (a region's kernel on another grid,
    e.g. a 19x19 one from the wide gate, fitted to ``size``)."""
    h, w = lr.shape[:2]
    cells = []
    for i in range(3):
        for j in range(3):
            top, bottom = i * h // 3, max((i + 1) * h // 3, i * h // 3 + 64)
            left, right = j * w // 3, max((j + 1) * w // 3, j * w // 3 + 64)
            region = lr[min(top, h - 64):bottom, min(left, w - 64):right]  # at least the prior's 64 px
            cells.append(normalise(fit_size(estimate_kernel(region, 2, config=config, device="cpu").kernel_x2, size)))
    return np.stack(cells).reshape(3, 3, size, size)


def large_tuning_photos() -> list[Path]:
    """Set14's photos of at least 500 px a side: tuning photos large enough for a map of several cells (the
    held-out tuning photos are 240 x 160 px once shrunk x2)."""
    return [p for p in sorted((DATA / "Set14").glob("*.png")) if min(read_image(p).shape[:2]) >= 480]


def run_case(path: Path, mode: str, seed: int, crop: int, settings: MapSettings, with_sr: bool,
             config: EstimatorConfig) -> dict:
    hr = central_crop(read_image(path), crop).astype(np.float64)
    rng = image_rng(seed, f"{path.stem}:{mode}")
    if mode == "uniform":
        truth = uniform_map(random_kernel(rng, 2), 1, 1)
    elif mode == "uniform-camera":  # one camera kernel for the whole photo: the cost of a map on such photos
        truth = uniform_map(camera_kernel(rng), 1, 1)
    else:
        truth = random_map(rng, mode)[0]
    lr_exact = degrade_with_map(hr, truth, 2)
    lr = (np.round(np.clip(lr_exact, 0, 1) * 255) / 255).astype(np.float32)
    start = time.perf_counter()
    estimate = estimate_kernel(lr, 2, config=config, device="cpu")
    global_seconds = time.perf_counter() - start
    kmap = map_for_estimate(lr, estimate.kernel_x2, config, settings)
    map_seconds = kmap.seconds
    size = estimate.kernel_x2.shape[0]
    maps = {"map": kmap.kernels, "local": kmap.local, "split": naive_split(lr, size, config),
            "global": uniform_map(estimate.kernel_x2, 1, 1),
            "fixed": uniform_map(fixed_kernel("div2krk"), 1, 1), "bicubic": uniform_map(bicubic_kernel(2), 1, 1),
            "true": truth}
    reference = np.clip(lr_exact, 0, 1)
    case = {"photo": path.stem, "mode": mode, "seed": seed, "varies": kmap.varies, "variation": kmap.variation,
            "spread": kmap.spread, "predicted_size_error": estimate.quality.get("predicted_size_error"),
            "global_s": global_seconds, "map_s": map_seconds,
            "map_cell_psnr": cell_psnr(kmap.kernels, truth, kmap.grid, 2),
            "global_cell_psnr": cell_psnr(maps["global"], truth, kmap.grid, 2)}
    for row, m in maps.items():
        case[f"{row}_redeg"] = psnr_y(np.clip(degrade_with_map(hr, m, 2), 0, 1), reference, shave=2)
    if with_sr:
        weights = SRMDWeights.load(shipped_weights(2))
        for row, m in maps.items():
            if row not in SR_ROWS:
                continue
            case[f"{row}_sr"] = psnr_y(super_resolve(weights, lr, m, 0.0, torch.device("cpu")), hr, shave=2)
    return case


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", choices=("suite", "tuning", "tuning-large"), default="suite")
    parser.add_argument("--crop", type=int, default=1024, help="HR crop side (central)")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--modes", default=",".join(("uniform", *MODES)))
    parser.add_argument("--limit", type=int, default=0, help="first N photos only")
    parser.add_argument("--grid", default="", help="ROWSxCOLS (default: automatic)")
    parser.add_argument("--sr", action="store_true", help="also SRMD x2 with each map")
    parser.add_argument("--estimator", default=DEFAULT,
                        help="whose global estimate and cells (a panel: its first network reads the cells)")
    parser.add_argument("--json", type=Path, default=None, help="write every case here")
    args = parser.parse_args()
    rows_cols = tuple(int(v) for v in args.grid.split("x")) if args.grid else (0, 0)
    settings = MapSettings(rows_cols[0], rows_cols[1])
    config = get_estimator(args.estimator).config
    paths = (large_tuning_photos() if args.set == "tuning-large" else photos(args.set, DATA))[: args.limit or None]
    modes = args.modes.split(",")
    print(f"# {len(paths)} photos ({args.set}), crop {args.crop}, seeds {args.seeds}, settings {settings}, "
          f"estimator {args.estimator}")
    cases = []
    for seed in (int(s) for s in args.seeds.split(",")):
        for path in paths:
            for mode in modes:
                case = run_case(path, mode, seed, args.crop, settings, args.sr, config)
                cases.append(case)
                print(f"{case['photo']:>12} {mode:>11} s{seed} " + " ".join(
                    f"{r}={case[f'{r}_redeg']:.2f}" for r in ROWS if r != "true") +
                    f" var={case['variation']:.3f} {case['global_s']:.2f}s {case['map_s']:.2f}s", flush=True)
    if args.json:
        args.json.write_text(json.dumps(cases, indent=1, default=float))
    metrics = ["redeg"] + (["sr"] if args.sr else [])
    print("\n| mode | n | " + " | ".join(f"{r} {m}" for m in metrics for r in (ROWS if m == "redeg" else SR_ROWS)) +
          " | map cell kPSNR | global cell kPSNR | 'varies' | variation | global s | map s |")
    print("|---" * (2 + len(ROWS) + len(SR_ROWS) * (len(metrics) - 1) + 6) + "|")
    for mode in [*modes, "varying (all modes)"]:
        group = [c for c in cases if c["mode"] == mode or (mode.startswith("varying") and c["mode"] in MODES)]
        if not group:
            continue
        def mean(key: str, group: list[dict] = group) -> float:
            return statistics.fmean(c[key] for c in group)
        cells = [f"{mean(f'{r}_{m}'):.2f}" for m in metrics for r in (ROWS if m == "redeg" else SR_ROWS)]
        print(f"| {mode} | {len(group)} | " + " | ".join(cells) + f" | {mean('map_cell_psnr'):.2f} | "
              f"{mean('global_cell_psnr'):.2f} | {sum(c['varies'] for c in group)}/{len(group)} | "
              f"{mean('variation'):.3f} | {statistics.median(c['global_s'] for c in group):.2f} | "
              f"{statistics.median(c['map_s'] for c in group):.2f} |")


if __name__ == "__main__":
    main()
