"""DIV2KRK x2 benchmark of the estimator: kernel PSNR vs the bicubic floor, seconds per image, re-degradation
PSNR (images with HR), and the time of the published code's computation measured in the same run.

    python benchmarks/div2krk.py --limit 20 --iters 1000 --jobs 2

Needs ../shared/data/DIV2KRK (or --data). Prints one row per image, then a summary.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from kernelgan.estimator import EstimatorConfig, estimate_kernel
from kernelgan.estimator import losses
from kernelgan.estimator.networks import Generator
from kernelgan.estimator.train import finish_kernel, rejection_reason, train_kernel
from kernelgan.evaluate import redegradation_psnr
from kernelgan.io import load_kernel, read_image
from kernelgan.kernels import bicubic_kernel, kernel_psnr
from kernelgan.synth import crop_to_multiple

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "DIV2KRK"


def image_ids(data: Path) -> list[int]:
    return sorted(int(re.match(r"im_(\d+)", p.stem)[1]) for p in (data / "lr_x2").glob("im_*.png"))


def run_curve(args: tuple[Path, int, dict, int, list[int]]) -> dict:
    """Kernel PSNR after each number of steps in ``steps``, from one run (the schedule is in absolute steps)."""
    data, n, overrides, seed, steps = args
    torch.set_num_threads(1)
    image = read_image(data / "lr_x2" / f"im_{n}.png")
    truth = load_kernel(data / "gt_k_x2" / f"kernel_{n}.mat")
    config = EstimatorConfig().with_overrides(**{**overrides, "iters": max(steps)})
    snapshots: dict[int, np.ndarray] = {s: None for s in steps}
    train_kernel(image, config, seed, torch.device("cpu"), snapshots=snapshots)
    row = {"image": f"im_{n}", "floor": kernel_psnr(bicubic_kernel(2), truth, 2)}
    for s, raw in snapshots.items():
        row[s] = kernel_psnr(finish_kernel(raw, config, 2)[0], truth, 2) if rejection_reason(raw) is None else None
    return row


def curve(args, ids: list[int], overrides: dict) -> None:
    steps = [int(s) for s in args.curve.split(",")]
    jobs = [(args.data, n, overrides, args.seed, steps) for n in ids]
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


def run_one(args: tuple[Path, int, dict, int, str | None]) -> dict:
    data, n, overrides, seed, out = args
    torch.set_num_threads(1)
    image = read_image(data / "lr_x2" / f"im_{n}.png")
    truth = load_kernel(data / "gt_k_x2" / f"kernel_{n}.mat")
    config = EstimatorConfig().with_overrides(**overrides)
    start = time.perf_counter()
    result = estimate_kernel(image, scale=2, config=config, seed=seed, device="cpu")
    seconds = time.perf_counter() - start
    row = {"image": f"im_{n}", "kernel_psnr": kernel_psnr(result.kernel_x2, truth, 2),
           "floor": kernel_psnr(bicubic_kernel(2), truth, 2), "seconds": seconds, "retries": len(result.attempts) - 1,
           "size": f"{image.shape[1]}x{image.shape[0]}"}
    hr_path = data / "gt" / f"im_{n}.png"
    if hr_path.exists():
        hr = crop_to_multiple(read_image(hr_path), 2)
        row["redeg"] = redegradation_psnr(hr, result.kernel_x2, truth, 2)
        row["redeg_floor"] = redegradation_psnr(hr, bicubic_kernel(2), truth, 2)
    if out:
        np.save(Path(out) / f"im_{n}_kernel_x2.npy", result.kernel_x2.astype(np.float32))
    return row


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
    defaults = EstimatorConfig().to_dict()
    for item in args.set:
        key, value = item.split("=", 1)
        overrides[key] = type(defaults[key])(json.loads(value)) if key in defaults else sys.exit(f"unknown field {key}")
    if args.curve:
        return curve(args, ids, overrides)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    ref = reference_seconds(args.reference_steps) if args.reference_steps > 0 else None

    jobs = [(args.data, n, overrides, args.seed, str(args.out) if args.out else None) for n in ids]
    rows = []
    print(f"{'image':>8} {'size':>10} {'kPSNR':>7} {'floor':>7} {'gain':>7} {'redeg':>7} {'r.floor':>7} {'sec':>6} {'retry':>5}")
    with mp.get_context("spawn").Pool(args.jobs) as pool:
        for row in pool.imap(run_one, jobs):
            rows.append(row)
            print(f"{row['image']:>8} {row['size']:>10} {row['kernel_psnr']:7.2f} {row['floor']:7.2f} "
                  f"{row['kernel_psnr'] - row['floor']:+7.2f} {row.get('redeg', float('nan')):7.2f} "
                  f"{row.get('redeg_floor', float('nan')):7.2f} {row['seconds']:6.1f} {row['retries']:5d}", flush=True)
    kp = [r["kernel_psnr"] for r in rows]
    fl = [r["floor"] for r in rows]
    secs = [r["seconds"] for r in rows]
    redeg = [r["redeg"] for r in rows if "redeg" in r]
    summary = {
        "images": len(rows), "config": {**defaults, **{k: v for k, v in overrides.items() if v is not None}},
        "mean_kernel_psnr": statistics.mean(kp), "mean_floor": statistics.mean(fl),
        "gain_over_floor": statistics.mean(kp) - statistics.mean(fl),
        "under_floor": sum(a < b for a, b in zip(kp, fl)), "median_seconds": statistics.median(secs),
        "mean_redeg_psnr": statistics.mean(redeg) if redeg else None,
        "mean_redeg_floor": statistics.mean([r["redeg_floor"] for r in rows if "redeg" in r]) if redeg else None,
        "reference_seconds_3000": ref, "speedup_vs_reference": (ref / statistics.median(secs)) if ref else None,
    }
    print()
    print(f"images {summary['images']}  mean kernel PSNR {summary['mean_kernel_psnr']:.2f} dB  "
          f"bicubic floor {summary['mean_floor']:.2f} dB  gain {summary['gain_over_floor']:+.2f} dB  "
          f"under floor {summary['under_floor']}")
    if redeg:
        print(f"re-degradation PSNR on {len(redeg)} images with HR: {summary['mean_redeg_psnr']:.2f} dB "
              f"(bicubic kernel {summary['mean_redeg_floor']:.2f} dB)")
    print(f"median seconds per image {summary['median_seconds']:.1f} (jobs={args.jobs})")
    if ref:
        print(f"reference computation, 3000 steps (timed {args.reference_steps}): {ref:.0f} s  "
              f"-> ours is {summary['speedup_vs_reference']:.1f}x faster (target >= 30x)")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "summary": summary}, indent=2))


if __name__ == "__main__":
    main()
