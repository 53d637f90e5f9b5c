"""KernelGAN as an estimator: each image's G and D trained on that image alone (``train``: one run, readable top to
bottom; ``batched``: several runs as stacked tensors), a diverged run retried with the next seed."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from ..errors import EstimationError, KernelganError
from ..rng import torch_threads
from .base import EstimateResult, ProgressFn, as_rgb, finish_kernel
from .batched import train_kernels
from .config import EstimatorConfig
from .learned import prior_weight_paths
from .train import early_prior_kernel, rejection_reason, train_kernel


class KernelGAN:
    """The estimator of the ``kernelgan*`` configurations (and ``prior+kernelgan``: G pulled towards the learned
    prior's kernel early on). With ``iters`` 0 the early prior's kernel is the estimate."""

    def __init__(self, config: EstimatorConfig):
        self.config = config

    def weight_files(self) -> list[Path]:
        if self.config.early_prior != "learned":
            return []
        networks, detector = prior_weight_paths(self.config)
        return [*networks, *([] if detector is None else [detector])]

    def estimate(self, images: list[np.ndarray], scale: int, seed: int, device: torch.device,
                 progress: ProgressFn | None) -> list[EstimateResult | KernelganError]:
        """The images' GAN runs (and retries) trained together by the batched trainer (one image: the single-run
        trainer); ``seconds`` is each image's share of the time."""
        config, dev = self.config, device
        start = time.perf_counter()
        results: list[EstimateResult | KernelganError | None] = [None] * len(images)
        prepared: dict[int, tuple[np.ndarray, np.ndarray, dict[str, float]]] = {}  # index -> image, target, quality
        batched = config.iters > 0 and len(images) > 1 and dev.type == "cpu"  # the batched trainer's ops are large
        with torch_threads(torch.get_num_threads() if batched else 1):
            for i, image in enumerate(images):
                try:
                    rgb = as_rgb(image, config)
                    prepared[i] = (rgb, *early_prior_kernel(rgb, config, dev))
                except KernelganError as exc:
                    results[i] = exc
            raws: dict[int, np.ndarray] = {}
            tails: dict[int, dict[str, float]] = {}
            attempts: dict[int, list[dict]] = {i: [] for i in prepared}
            pending = list(prepared) if config.iters > 0 else []
            for attempt in range(config.max_retries + 1):
                if not pending:
                    break
                seeds = [seed + attempt] * len(pending)
                if len(pending) == 1:
                    i = pending[0]
                    raw, tail = train_kernel(prepared[i][0], config, seeds[0], dev, progress, target=prepared[i][1])
                    trained = [raw], [tail]
                else:
                    trained = train_kernels([prepared[i][0] for i in pending], seeds, config, dev,
                                            [prepared[i][1] for i in pending], progress)
                still = []
                for i, raw, tail in zip(pending, *trained, strict=True):
                    reason = rejection_reason(raw)
                    attempts[i].append({"seed": seed + attempt, "rejected": reason})
                    raws[i], tails[i] = raw, tail
                    if reason is not None:
                        still.append(i)
                pending = still
        share = (time.perf_counter() - start) / max(len(images), 1)
        for i, (_, target, prior_quality) in prepared.items():
            if config.iters == 0:  # no GAN: the early prior's kernel is the estimate
                k2, k4 = finish_kernel(target, config, scale)
                results[i] = EstimateResult(k2, k4, target, seed, [{"seed": seed, "rejected": None}], share,
                                            quality=prior_quality)
            elif i in pending:
                reason = attempts[i][-1]["rejected"]
                results[i] = EstimationError(f"estimation failed after {len(attempts[i])} runs: {reason}")
            else:
                tail = tails[i]
                k2, k4 = finish_kernel(raws[i], config, scale)
                quality = {"d_fooled": tail["d_fake"], "d_real": tail["d_real"], "sum_error": tail["sum_to_one"],
                           **prior_quality}
                results[i] = EstimateResult(k2, k4, raws[i], attempts[i][-1]["seed"], attempts[i], share, tail, quality)
        return [r for r in results if r is not None]
