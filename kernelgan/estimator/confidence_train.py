"""Training of a confidence network (``confidence``): fresh synthetic pairs made exactly as the priors' own
(``prior_train.make_lr``: same families, nuisances and photo split), the prior's kernel on each (a panel's: every
member's kernel and the one the panel chooses, ``learned.panel_choice``), and that kernel's actual errors as
targets (log size error, re-degradation PSNR)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from scipy.stats import spearmanr

from ..families import sample_kernel
from ..kernel_shape import size_error
from ..kernels import centre_kernel, fit_size, normalise
from ..metrics import psnr_from_mse
from ..outputs import file_sha256
from ..resize import blur
from ..rng import seeded
from ..training import train_minibatches
from .confidence import ConfidenceNet, ConfidenceShape, ConfidenceWeights, confidence_network_for, panel_settings
from .learned import outside_mass, panel_choice
from .prior import KERNEL_SIZE, load_network
from .prior_train import PriorTrainSettings, load_photos, make_lr, split_photos
from .spectrum import log_spectrum

Y_RANGE = 219.0  # luma of a gray image on the Y scale (metrics.rgb_to_y): PSNR as ``evaluate.redegradation_psnr``


class ConfidenceData(NamedTuple):
    spectra: np.ndarray  # n x 1 x BINS x BINS
    kernels: np.ndarray  # n x M x K x K: each member's kernel as its network returned it (before centring)
    chosen: np.ndarray  # n x M one-hot: the member whose kernel is judged
    targets: np.ndarray  # n x 2: that kernel's log size error and re-degradation PSNR (dB)


def redegradation(hr_gray: np.ndarray, estimate: np.ndarray, truth: np.ndarray) -> float:
    """Y-PSNR (dB) between ``hr_gray`` (HxW in [0, 1]) blurred and subsampled x2 with ``estimate`` and with ``truth``."""
    a, b = blur(hr_gray, estimate)[::2, ::2], blur(hr_gray, truth)[::2, ::2]
    return psnr_from_mse(float(((a - b) ** 2).mean()) * Y_RANGE ** 2, 255.0)


def make_confidence_dataset(photos: list[np.ndarray], n: int, settings: PriorTrainSettings, seed: int,
                            members: list[Path], margin: float = 0.0, wide_gate: bool = False,
                            detector: Path | None = None, software_threshold: float = 0.8,
                            chunk: int = 500) -> ConfidenceData:
    """Up to ``n`` samples: the LR crop's log spectrum, each member's kernel for it and the one chosen. One member:
    its kernel. A panel: the member ``learned.panel_choice`` picks from the members' own confidence networks
    (one view, ``margin``, the wide gate with ``wide_gate``), and crops the ``detector`` calls software-shrunk
    (probability above ``software_threshold``: no confidence is reported for them) left out. Kernels on the
    members' largest grid (zero-padded)."""
    rng = np.random.default_rng(seed)
    nets = [load_network(m) for m in members]
    judges = [j for j in (confidence_network_for(m) for m in members) if j is not None] if len(members) > 1 else []
    if len(members) > 1 and len(judges) < len(members):
        raise ValueError("every member of a panel needs its confidence network")
    software_net = None if detector is None else load_network(detector)
    size = max(KERNEL_SIZE, *(net.shape.kernel_size for net in nets))
    spectra, kernels, chosen, targets = [], [], [], []
    for start in range(0, n, chunk):
        cases = []
        for _ in range(min(chunk, n - start)):
            family = settings.families[rng.integers(len(settings.families))]
            truth = sample_kernel(family, rng)
            crop, lr = make_lr(photos[rng.integers(len(photos))], truth, rng, settings)
            cases.append((crop, truth, log_spectrum(lr)))
        batch = torch.from_numpy(np.stack([c[2] for c in cases])[:, None])
        with torch.no_grad():
            raw = [net(batch) for net in nets]
            errors = [np.hypot(out[:, 0], np.exp(out[:, 1])) for out in
                      (judge(batch, r).double().numpy() for judge, r in zip(judges, raw, strict=False))]
            head = None if software_net is None else software_net.predict(batch)[1]
            software = None if head is None else torch.sigmoid(head.double()).numpy()
        raw_np = [r.double().numpy() for r in raw]
        for i, (crop, truth, _) in enumerate(cases):
            if software is not None and software[i] > software_threshold:
                continue
            if len(members) == 1:
                member, estimate = 0, centre_kernel(raw_np[0][i], 2)
            else:  # as ``learned._judge`` puts each member's kernel on the common grid
                judged = [normalise(fit_size(centre_kernel(r[i], 2), size)) for r in raw_np]
                member = panel_choice([float(e[i]) for e in errors], margin,
                                      [outside_mass(k, KERNEL_SIZE) for k in judged] if wide_gate else None)
                estimate = judged[member]
            targets.append((size_error(estimate, truth), redegradation(crop, estimate, truth)))
            spectra.append(cases[i][2][None])
            kernels.append(np.stack([fit_size(r[i], size) for r in raw_np]))
            chosen.append(np.eye(len(members))[member])
    return ConfidenceData(np.stack(spectra).astype(np.float32), np.stack(kernels).astype(np.float32),
                          np.stack(chosen).astype(np.float32), np.array(targets, dtype=np.float32))


def rank_scores(net: ConfidenceNet, data: ConfidenceData) -> dict[str, float]:
    """Spearman rank correlations on ``data``: predicted RMS size error vs actual |size error|, predicted vs actual
    re-degradation PSNR; and the share of actual size errors inside the 90% interval."""
    with torch.no_grad():
        out = net(*(torch.from_numpy(a) for a in data[:3])).double().numpy()
    mu, sigma = out[:, 0], np.exp(out[:, 1])
    actual = data.targets.astype(np.float64)
    inside = np.abs(actual[:, 0] - mu) <= 1.645 * sigma
    return {"size_rank": float(spearmanr(np.hypot(mu, sigma), np.abs(actual[:, 0]))[0]),
            "redeg_rank": float(spearmanr(out[:, 2], actual[:, 1])[0]), "coverage90": float(inside.mean())}


def train_confidence(train: ConfidenceData, val: ConfidenceData, epochs: int, seed: int,
                     log: Callable[[str], None] = print, batch: int = 128, lr: float = 1e-3
                     ) -> tuple[ConfidenceNet, list[dict]]:
    """Adam with cosine decay on the Gaussian negative log-likelihood of the size error plus the L1 error of the
    re-degradation PSNR (in dB / 10); the last epoch's network (reading as many kernels, on the grid, as ``train``
    holds) and the validation history."""
    with seeded(seed, None):
        members, size = train.kernels.shape[1], train.kernels.shape[-1]
        # a panel's kernels weigh as a 13x13 grid's: at a 19x19 grid's weight (x361) the size error did not train
        # (validation rank 0.27 against 0.46 after two epochs)
        gain = float(KERNEL_SIZE ** 2) if members > 1 else 0.0
        net = ConfidenceNet(ConfidenceShape(kernel_size=size, members=members, kernel_gain=gain))
        x, k, c, t = (torch.from_numpy(a) for a in train)
        history: list[dict] = []
        start = time.perf_counter()

        def loss_of(idx: torch.Tensor) -> torch.Tensor:
            out = net(x[idx], k[idx], c[idx])
            mu, log_sigma = out[:, 0], out[:, 1].clamp(-5, 3)
            nll = (0.5 * ((t[idx, 0] - mu) / log_sigma.exp()) ** 2 + log_sigma).mean()
            return nll + (out[:, 2] - t[idx, 1] / 10).abs().mean()

        def validate(epoch: int) -> None:
            scores = rank_scores(net, val)
            history.append({"epoch": epoch, **{key: round(v, 4) for key, v in scores.items()},
                            "seconds": round(time.perf_counter() - start, 1)})
            log(f"epoch {epoch}/{epochs}: size-error rank corr {scores['size_rank']:.3f}, re-degradation rank "
                f"corr {scores['redeg_rank']:.3f}, 90% interval coverage {scores['coverage90']:.3f}, "
                f"{time.perf_counter() - start:.0f} s")

        train_minibatches(net, loss_of, len(x), epochs, batch, lr, lr / 100, seed, validate)
    return net, history


def train_confidence_on_photos(paths: list[Path], members: list[Path], samples: int, epochs: int,
                               settings: PriorTrainSettings, log: Callable[[str], None] = print,
                               margin: float = 0.0, wide_gate: bool = False,
                               detector: Path | None = None) -> ConfidenceWeights:
    """The confidence network for the prior ``members[0]`` alone, or for the panel of ``members`` (with its
    ``margin``, ``wide_gate`` and software ``detector``), trained on ``samples`` fresh pairs from the training
    photos of ``paths`` (split as for the prior; a seed the prior's pairs never used) and validated on the
    held-out ones."""
    train_paths, held_out = split_photos(paths)
    log(f"{len(train_paths)} training photos, {len(held_out)} held out; making {samples} triples")
    colour = settings.demosaic_p > 0
    detector = detector if len(members) > 1 else None  # one prior: judged on every pair, as before panels
    train = make_confidence_dataset(load_photos(train_paths, settings.pre_scales, colour), samples, settings,
                                    settings.seed + 1000, members, margin, wide_gate, detector)
    val = make_confidence_dataset(load_photos(held_out, settings.pre_scales, colour), max(samples // 20, 500),
                                  settings, settings.seed + 1001, members, margin, wide_gate, detector)
    net, history = train_confidence(train, val, epochs, settings.seed, log)
    judged = ({"prior_sha256": file_sha256(members[0])} if len(members) == 1
              else {**panel_settings(members, margin, wide_gate), "kept": len(train.targets)})
    return ConfidenceWeights(net.shape, {k: v.detach().clone() for k, v in net.state_dict().items()},
                             {**judged, "samples": samples, "epochs": epochs,
                              "families": list(settings.families), "history": history,
                              "train_photos": [p.name for p in train_paths],
                              "held_out_photos": [p.name for p in held_out]})
