"""Milliseconds per ZSSR training step (father drawn, son made, forward, backward, Adam) and per father, for the
speed options the issue names: several fathers per step, channels-last memory format, ``torch.compile``; each
beside the default step, measured in interleaved rounds in one process (medians), on one photo.

    python benchmarks/zssr_step.py [--image ../shared/data/DIV2KRK/lr_x2/im_3.png] [--rounds 5] [--steps 20]
        [--device cpu] [--variants contiguous,fp32,batch2,batch4,channels_last,compile,
                    channels_last+compile]

``contiguous``: one father per step, the usual memory order, ``precision=auto`` (the step before channels-last
became ZSSR's default); every other variant changes one thing from it (``fp32``: float32 instead of auto).
A variant is worth making a default only if it is faster per father here *and* trains as well per father
(batch > 1 changes the method: fewer, averaged steps for the same fathers).

Whole configurations: ``published`` (the published 64-channel network in float32) and ``fast``, ``fast-fp32``,
``fast-bf16`` (the default configuration's 32-channel network); with ``published`` among them the script also
prints the training seconds of the published 3000 steps and of ``fast``'s 300, and their ratio:

    python benchmarks/zssr_step.py --variants published,fast-fp32,fast-bf16
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from div2krk import DEFAULT_DATA  # noqa: E402

from kernelgan.families import fixed_kernel  # noqa: E402
from kernelgan.io import read_image  # noqa: E402
from kernelgan.kernels import centre_kernel  # noqa: E402
from kernelgan.sr.fathers import Augmentation, FatherSampler  # noqa: E402
from kernelgan.sr.tiling import to_tensor  # noqa: E402
from kernelgan.sr.zssr import (  # noqa: E402
    CONFIGS,
    PUBLISHED,
    ResidualNet,
    ZSSRConfig,
    autocast,
    resolved_precision,
    sons_upscaled,
)

Step = Callable[[], None]


# variants that are whole configurations: the published network (64 channels, float32) and the fast default's
# (32 channels) in both CPU precisions
CONFIG_VARIANTS = {"published": PUBLISHED, "fast": CONFIGS["fast"], "fast-fp32": replace(CONFIGS["fast"], precision="fp32"),
                   "fast-bf16": replace(CONFIGS["fast"], precision="bf16")}


def make_step(image: torch.Tensor, kernel: np.ndarray, variant: str, config: ZSSRConfig) -> tuple[Step, int]:
    """A training step of ``variant`` on ``image`` (1x3xHxW), and the number of fathers it consumes."""
    device = image.device
    config = CONFIG_VARIANTS.get(variant, config)
    precision = "fp32" if variant == "fp32" else resolved_precision(config.precision, device)
    batch = int(variant.removeprefix("batch")) if variant.startswith("batch") else 1
    channels_last = config.channels_last if variant in CONFIG_VARIANTS else variant.startswith("channels_last")
    net = ResidualNet(config.channels, config.layers, config.input_offset, channels_last=channels_last).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    model = torch.compile(net) if variant.endswith("compile") else net
    kernel_t = torch.as_tensor(kernel, dtype=image.dtype, device=device)
    sampler = FatherSampler([(image, 1.0)], config.crop, Augmentation(), (0,), np.random.default_rng(0))

    def step() -> None:
        fathers = sampler.draw(batch)
        with autocast(precision, device):
            out = model(sons_upscaled(fathers, kernel_t, 0.0))
        loss = F.l1_loss(out, fathers)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step, batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", type=Path, default=DEFAULT_DATA / "lr_x2" / "im_3.png")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per variant per round")
    parser.add_argument("--variants", default="contiguous,fp32,batch2,batch4,channels_last,compile,channels_last+compile")
    args = parser.parse_args()
    device = torch.device(args.device)
    image = to_tensor(read_image(args.image), device)
    kernel = centre_kernel(fixed_kernel("div2krk"), 2, keep_negative=True)
    config = CONFIGS["full"]
    steps = {}
    warm_up: dict[str, float] = {}
    for v in args.variants.split(","):
        torch.manual_seed(0)
        step, batch = make_step(image, kernel, v, config)
        start = time.perf_counter()
        for _ in range(5):  # warm-up (compilation, allocator)
            step()
        warm_up[v] = time.perf_counter() - start
        steps[v] = (step, batch)
    per_step: dict[str, list[float]] = {v: [] for v in steps}
    for _ in range(args.rounds):
        for v, (step, _) in steps.items():
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            for _ in range(args.steps):
                step()
            if device.type == "cuda":
                torch.cuda.synchronize()
            per_step[v].append((time.perf_counter() - start) / args.steps * 1000)
    base = statistics.median(per_step[next(iter(steps))]) / steps[next(iter(steps))][1]
    print(f"{args.image.name}, {config.crop}-px fathers, device {args.device}, torch threads {torch.get_num_threads()}, "
          f"precision auto = {resolved_precision('auto', device)}; medians of {args.rounds} rounds x {args.steps} steps")
    print(f"{'variant':>22} {'ms/step':>9} {'ms/father':>10} {'vs first':>9} {'5 warm-up steps':>16}")
    for v, times in per_step.items():
        ms = statistics.median(times)
        per_father = ms / steps[v][1]
        print(f"{v:>22} {ms:9.1f} {per_father:10.1f} {base / per_father:8.2f}x {warm_up[v]:15.1f}s")
    if "published" in per_step:
        published = statistics.median(per_step["published"]) * PUBLISHED.max_iters / 1000
        print(f"published computation ({PUBLISHED.max_iters} steps of the published network): {published:.0f} s of training")
        for v in (v for v in per_step if v.startswith("fast")):
            fast = statistics.median(per_step[v]) * CONFIG_VARIANTS[v].max_iters / 1000
            print(f"{v} ({CONFIG_VARIANTS[v].max_iters} steps): {fast:.1f} s of training, {fast / published:.3f} of it")


if __name__ == "__main__":
    main()
