"""Seconds per training step of the batched KernelGAN trainer (R runs at once) and of the single-run trainer on a
device, set-up excluded (difference of a long and a short run), for choosing how G's kernels are applied.

    python benchmarks/batched_step.py --data ../shared/data/DIV2KRK --runs 32 --device cpu
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from kernelgan.estimator import EstimatorConfig
from kernelgan.estimator import batched as batched_module
from kernelgan.estimator.train import early_prior_kernel, train_kernel
from kernelgan.io import read_image

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "DIV2KRK"


def downscale_einsum(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """The grouped convolution of ``BatchedGenerator.downscale`` as unfold + broadcast product (no cuDNN)."""
    r, m, _, g, _ = x.shape
    ks = k.shape[-1]
    d = (g - ks) // 2 + 1
    cols = F.unfold(x.reshape(r * m, 1, g, g), ks, stride=2).reshape(r, m, ks * ks, d * d)
    return torch.einsum("rk,rmkp->rmp", k.reshape(r, ks * ks), cols).reshape(r, m, 1, d, d)


def timed(fn, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--runs", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, nargs=2, default=(20, 120), help="the short and the long run")
    args = parser.parse_args()
    device = torch.device(args.device)
    images = [read_image(args.data / "lr_x2" / f"im_{i}.png") for i in range(1, args.runs + 1)]
    short, long = args.steps
    targets = [early_prior_kernel(im, EstimatorConfig())[0] for im in images]
    rows = []

    def per_step(run) -> float:
        timed(lambda: run(EstimatorConfig(iters=short)), device)  # warm-up (allocator, cuDNN, lazy imports)
        t_short = timed(lambda: run(EstimatorConfig(iters=short)), device)
        t_long = timed(lambda: run(EstimatorConfig(iters=long)), device)
        return (t_long - t_short) / (long - short)

    single = per_step(lambda c: train_kernel(images[0], c, 0, device, target=targets[0]))
    rows.append(("single run", 1, single))
    original = batched_module.BatchedGenerator.downscale
    for name, downscale, cudnn_benchmark in [("batched, grouped conv", original, False),
                                            ("batched, grouped conv, cudnn.benchmark", original, True),
                                            ("batched, unfold + einsum", downscale_einsum, False)]:
        if cudnn_benchmark and device.type != "cuda":
            continue
        torch.backends.cudnn.benchmark = cudnn_benchmark
        batched_module.BatchedGenerator.downscale = staticmethod(downscale)  # type: ignore[method-assign]
        step = per_step(lambda c: batched_module.train_kernels(images, list(range(len(images))), c, device, targets))
        rows.append((name, len(images), step))
    batched_module.BatchedGenerator.downscale = original  # type: ignore[method-assign]
    print(f"device {device} ({torch.cuda.get_device_name() if device.type == 'cuda' else 'cpu'}), "
          f"threads {torch.get_num_threads()}, steps {long}-{short}")
    print(f"{'trainer':<42} {'runs':>5} {'ms/step':>9} {'ms/step/run':>12} {'vs single':>10}")
    for name, runs, step in rows:
        print(f"{name:<42} {runs:5d} {1000 * step:9.2f} {1000 * step / runs:12.3f} {single * runs / step:9.1f}x")


if __name__ == "__main__":
    main()
