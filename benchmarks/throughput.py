"""Images per second of `kernelgan estimate` on a folder of DIV2KRK images, one image at a time, with --jobs 2
(CPU) and batched (--batch), each timed as a whole command (start-up, reading, writing included), with the
yardstick's accuracy of each mode so that speed is never bought with accuracy.

    python benchmarks/throughput.py --limit 32 --estimator prior --device cpu
    python benchmarks/throughput.py --limit 50 --copies 2 --estimator kernelgan --device cuda --modes serial,batch

--copies N links each image N times under other names (N x limit files; accuracy over the distinct images).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from kernelgan.io import load_kernel
from kernelgan.kernel_shape import kernel_shape, pearson
from kernelgan.kernels import kernel_psnr

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "DIV2KRK"
MODES = {"serial": ["--batch", "1"], "jobs2": ["--jobs", "2"], "batch": []}  # batch: --batch N added below


def run_mode(files: Path, out: Path, mode: str, args: argparse.Namespace) -> float:
    command = [sys.executable, "-m", "kernelgan_cli.app", "estimate", str(files), "-o", str(out), "-q", "--force",
               "--estimator", args.estimator, "--device", args.device, *MODES[mode]]
    if mode == "batch":
        command += ["--batch", str(args.batch)]
    if args.iters is not None:
        command += ["--iters", str(args.iters)]
    start = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - start


def accuracy(out: Path, data: Path, ids: list[int]) -> tuple[float, float | None]:
    """Mean kernel PSNR against gt_k_x2 and the correlation of log kernel sizes, over the distinct images."""
    scores, est_sizes, true_sizes = [], [], []
    for i in ids:
        estimate = load_kernel(out / f"im_{i}_c0_kernel_x2.npy")
        truth = load_kernel(data / "gt_k_x2" / f"kernel_{i}.mat")
        scores.append(kernel_psnr(estimate, truth))
        est_sizes.append(np.log(kernel_shape(estimate).size))
        true_sizes.append(np.log(kernel_shape(truth).size))
    return float(np.mean(scores)), pearson(np.array(est_sizes), np.array(true_sizes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=32, help="first N images (im_1..im_N)")
    parser.add_argument("--copies", type=int, default=1, help="link each image this many times")
    parser.add_argument("--estimator", default="prior")
    parser.add_argument("--iters", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--modes", default="serial,jobs2,batch")
    parser.add_argument("--batch", type=int, default=64, help="images per batch in the batch mode")
    parser.add_argument("--repeats", type=int, default=1, help="time each mode this many times (median)")
    args = parser.parse_args()

    ids = list(range(1, args.limit + 1))
    with tempfile.TemporaryDirectory() as tmp:
        files = Path(tmp) / "in"
        files.mkdir()
        for i in ids:
            for c in range(args.copies):
                (files / f"im_{i}_c{c}.png").symlink_to((args.data / "lr_x2" / f"im_{i}.png").resolve())
        n = len(ids) * args.copies
        print(f"{n} files (DIV2KRK im_1..im_{args.limit}" + (f", each {args.copies}x" if args.copies > 1 else "")
              + f"), estimator {args.estimator}, device {args.device}, median of {args.repeats}; ratio vs the first mode")
        print(f"{'mode':<8} {'seconds':>8} {'images/s':>9} {'ratio':>7} {'kPSNR':>7} {'size corr':>10}", flush=True)
        base = None
        for mode in args.modes.split(","):  # each row as soon as it is measured
            out = Path(tmp) / mode
            seconds = statistics.median(run_mode(files, out, mode, args) for _ in range(args.repeats))
            base = base or seconds
            kpsnr, corr = accuracy(out, args.data, ids)
            shown = "-" if corr is None else f"{corr:.2f}"
            print(f"{mode:<8} {seconds:8.1f} {n / seconds:9.2f} {base / seconds:6.2f}x {kpsnr:7.2f} {shown:>10}", flush=True)


if __name__ == "__main__":
    main()
