"""DIV2KRK x2 benchmark of the estimator: kernel PSNR vs the bicubic floor, seconds per image, re-degradation
PSNR (images with HR), and the time of the published code's computation measured in the same run.

    python benchmarks/div2krk.py --limit 20 --iters 1000 --jobs 2

Needs ../shared/data/DIV2KRK (or --data). Prints one row per image, then a summary.
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing as mp
import re
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from kernelgan.estimator import EstimatorConfig, estimate_kernel, losses
from kernelgan.estimator.base import finish_kernel
from kernelgan.estimator.networks import Generator
from kernelgan.estimator.registry import DEFAULT, get_estimator
from kernelgan.estimator.train import rejection_reason, train_kernel
from kernelgan.evaluate import ROW_TITLES, Report, image_scores_from_dict, score_image
from kernelgan.families import fixed_kernel, fixed_kernel_variance
from kernelgan.io import load_kernel, read_image
from kernelgan.kernels import bicubic_kernel, kernel_psnr
from kernelgan.synth import crop_to_multiple

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "DIV2KRK"


def image_ids(data: Path) -> list[int]:
    return sorted(int(re.match(r"im_(\d+)", p.stem)[1]) for p in (data / "lr_x2").glob("im_*.png"))


def run_curve(args: tuple[Path, int, dict, int, list[int]]) -> dict:
    """Kernel PSNR after each number of steps in ``steps``, from one run (the schedule is in absolute steps)."""
    data, n, estimator, overrides, seed, steps = args
    torch.set_num_threads(1)
    image = read_image(data / "lr_x2" / f"im_{n}.png")
    truth = load_kernel(data / "gt_k_x2" / f"kernel_{n}.mat")
    config = get_estimator(estimator).config.with_overrides(**{**overrides, "iters": max(steps)})
    snapshots: dict[int, np.ndarray] = {s: None for s in steps}
    train_kernel(image, config, seed, torch.device("cpu"), snapshots=snapshots)
    row = {"image": f"im_{n}", "floor": kernel_psnr(bicubic_kernel(2), truth, 2)}
    for s, raw in snapshots.items():
        row[s] = kernel_psnr(finish_kernel(raw, config, 2)[0], truth, 2) if rejection_reason(raw) is None else None
    return row


def curve(args, ids: list[int], overrides: dict) -> None:
    steps = [int(s) for s in args.curve.split(",")]
    jobs = [(args.data, n, args.estimator, overrides, args.seed, steps) for n in ids]
    print(f"{'image':>8} {'floor':>7} " + " ".join(f"{s:>7}" for s in steps))
    rows = []
    with mp.get_context("spawn").Pool(args.jobs) as pool:
        for row in pool.imap(run_curve, jobs):
            rows.append(row)
            print(f"{row['image']:>8} {row['floor']:7.2f} " + " ".join(
                f"{row[s]:7.2f}" if row[s] is not None else "  rejct" for s in steps), flush=True)
    floor = statistics.mean(r["floor"] for r in rows)
    print(f"{'mean':>8} {floor:7.2f} " + " ".join(
        f"{statistics.mean(r[s] if r[s] is not None else r['floor'] for r in rows):7.2f}" for s in steps))
    print(f"{'under':>8} {'':7} " + " ".join(
        f"{sum((r[s] or 0) < r['floor'] for r in rows):7d}" for s in steps))
    print("(a rejected snapshot counts as the floor in the mean)")


def run_one(args: tuple[Path, int, str, dict, int, str | None]) -> dict:
    data, n, estimator, overrides, seed, out = args
    torch.set_num_threads(1)
    image = read_image(data / "lr_x2" / f"im_{n}.png")
    truth = load_kernel(data / "gt_k_x2" / f"kernel_{n}.mat")
    config = get_estimator(estimator).config.with_overrides(**overrides)
    start = time.perf_counter()
    result = estimate_kernel(image, scale=2, config=config, seed=seed, device="cpu")
    seconds = time.perf_counter() - start
    hr_path = data / "gt" / f"im_{n}.png"
    hr = crop_to_multiple(read_image(hr_path), 2) if hr_path.exists() else None
    scores = score_image(f"im_{n}", result.kernel_x2, truth, fixed_kernel("div2krk"), 2, hr)
    if out:
        np.save(Path(out) / f"im_{n}_kernel_x2.npy", result.kernel_x2.astype(np.float32))
    return {"scores": asdict(scores), "seconds": seconds, "retries": len(result.attempts) - 1,
            "size": f"{image.shape[1]}x{image.shape[0]}"}


class ReferenceDiscriminator(nn.Module):
    """The published D, module by module (torch's spectral_norm wrappers, BatchNorm2d, 1x1 Conv2d)."""

    def __init__(self, config: EstimatorConfig):
        super().__init__()
        ch = config.d_channels
        layers: list[nn.Module] = [nn.utils.spectral_norm(nn.Conv2d(3, ch, config.d_kernel_size))]
        for _ in range(config.d_blocks):
            layers += [nn.utils.spectral_norm(nn.Conv2d(ch, ch, 1)), nn.BatchNorm2d(ch), nn.ReLU(True)]
        layers += [nn.utils.spectral_norm(nn.Conv2d(ch, 1, 1)), nn.Sigmoid()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def reference_seconds(steps: int, total: int = 3000) -> float:
    """Time ``steps`` steps of the published computation (G run layer by layer over the crop, twice per step:
    once for G's update, once for D's; G's kernel computed once per step for the kernel losses) and
    extrapolate to ``total`` steps. One thread, as our estimator."""
    torch.set_num_threads(1)
    config = EstimatorConfig()
    torch.manual_seed(0)
    G, D = Generator(config), ReferenceDiscriminator(config)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    mask = torch.as_tensor(losses.boundary_mask(13), dtype=torch.float32)
    k_bic = torch.as_tensor(losses.bicubic_target_kernel(13), dtype=torch.float32)
    g_in = torch.rand(3, 1, 64, 64) * 2 - 1
    d_in = torch.rand(1, 3, 26, 26) * 2 - 1

    def step() -> None:
        fake = G.forward_layers(g_in)
        loss_adv = losses.adversarial(D(fake.reshape(1, 3, 26, 26)), real=True)
        k = G.kernel()
        loss = (loss_adv + 5 * losses.bicubic_prior(fake, F.conv2d(g_in, k_bic[None, None], stride=2))
                + 0.5 * losses.sum_to_one(k) + 0.5 * losses.boundaries(k, mask) + 5 * losses.sparsity(k)
                + losses.centre(k))
        opt_g.zero_grad()
        loss.backward()
        opt_g.step()
        with torch.no_grad():
            fake = G.forward_layers(g_in).reshape(1, 3, 26, 26)
        loss_d = 0.5 * (losses.adversarial(D(d_in), True) + losses.adversarial(D(fake + torch.randn_like(fake) / 255), False))
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()

    for _ in range(5):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps * total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=100, help="first N images (natural order)")
    parser.add_argument("--images", type=str, default=None, help="comma-separated image numbers instead of --limit")
    parser.add_argument("--estimator", default=DEFAULT, help="estimator name (see `kernelgan estimators`)")
    parser.add_argument("--iters", type=int, default=None, help="override the estimator's step count")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config field")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1, help="images estimated in parallel (one thread each)")
    parser.add_argument("--reference-steps", type=int, default=100, help="steps of the reference to time (0: skip)")
    parser.add_argument("--out", type=Path, default=None, help="save the estimated kernels here")
    parser.add_argument("--json", type=Path, default=None, help="write rows and summary to this file")
    parser.add_argument("--curve", type=str, default=None, metavar="STEPS",
                        help="accuracy-versus-steps mode, e.g. 500,1000,2000,3000 (one run per image)")
    args = parser.parse_args()
    if not (args.data / "lr_x2").is_dir():
        sys.exit(f"DIV2KRK not found at {args.data}")
    ids = [int(x) for x in args.images.split(",")] if args.images else image_ids(args.data)[: args.limit]
    overrides: dict = {"iters": args.iters}
    defaults = get_estimator(args.estimator).config.to_dict()
    for item in args.set:
        key, value = item.split("=", 1)
        overrides[key] = type(defaults[key])(json.loads(value)) if key in defaults else sys.exit(f"unknown field {key}")
    if args.curve:
        return curve(args, ids, overrides)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    ref = reference_seconds(args.reference_steps) if args.reference_steps > 0 else None

    jobs = [(args.data, n, args.estimator, overrides, args.seed, str(args.out) if args.out else None) for n in ids]
    rows = []
    print(f"{'image':>8} {'size':>10} {'kPSNR':>7} {'fixed':>7} {'floor':>7} {'sizeErr':>7} {'redeg':>7} "
          f"{'r.fixed':>7} {'sec':>6} {'retry':>5}")
    with mp.get_context("spawn").Pool(args.jobs) as pool:
        for row in pool.imap(run_one, jobs):
            rows.append(row)
            r = row["scores"]["rows"]
            redeg = r["estimate"]["redeg_psnr"]
            print(f"{row['scores']['image']:>8} {row['size']:>10} {r['estimate']['kernel_psnr']:7.2f} "
                  f"{r['fixed']['kernel_psnr']:7.2f} {r['bicubic']['kernel_psnr']:7.2f} "
                  f"{r['estimate']['size_error']:+7.2f} {redeg if redeg is not None else float('nan'):7.2f} "
                  f"{r['fixed']['redeg_psnr'] if redeg is not None else float('nan'):7.2f} {row['seconds']:6.1f} "
                  f"{row['retries']:5d}", flush=True)
    report = Report(images=[image_scores_from_dict(row["scores"]) for row in rows])
    secs = [r["seconds"] for r in rows]
    summary = {"images": len(rows), "estimator": args.estimator,
               "config": {**get_estimator(args.estimator).config.to_dict(),
                          **{k: v for k, v in overrides.items() if v is not None}},
               "rows": report.summary(), "median_seconds": statistics.median(secs),
               "reference_seconds_3000": ref, "speedup_vs_reference": (ref / statistics.median(secs)) if ref else None}
    print()
    print_summary(summary["rows"], len(rows))
    print(f"median seconds per image {summary['median_seconds']:.1f} (jobs={args.jobs}, estimator {args.estimator})")
    if ref:
        print(f"reference computation, 3000 steps (timed {args.reference_steps}): {ref:.0f} s  "
              f"-> ours is {summary['speedup_vs_reference']:.1f}x faster")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "summary": summary}, indent=1))


def print_summary(summary: dict, n: int) -> None:
    """One line per kernel row: the yardstick's numbers (re-degradation on the images that have an HR)."""
    print(f"{'kernel':<26} {'kernel PSNR':>11} {'under floor':>11} {'size corr':>9} {'|size err|':>10} "
          f"{'anis corr':>9} {'orient err':>10} {'re-degr':>8}")
    def fmt(entry: dict, key: str, digits: int = 2) -> str:
        v = entry.get(key)
        return "-" if v is None else f"{v:.{digits}f}"

    for row in ("estimate", "bicubic", "fixed", "true"):
        e = summary[row]
        f = functools.partial(fmt, e)
        print(f"{ROW_TITLES[row]:<26} {f('kernel_psnr'):>11} {str(e.get('under_floor', '-')):>11} {f('size_corr'):>9} "
              f"{f('abs_size_error', 3):>10} {f('anisotropy_corr'):>9} {f('median_orientation_error', 1):>10} "
              f"{f('redeg_psnr'):>8}")
    print(f"({n} images; {summary['estimate']['under_fixed']} estimates under the fixed kernel; fixed kernel = "
          f"isotropic Gaussian of variance {fixed_kernel_variance('div2krk'):g}, the best for the DIV2KRK generator)")


if __name__ == "__main__":
    main()
