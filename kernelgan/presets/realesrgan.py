"""Real-ESRGAN's second-order degradation model (Wang, Xie, Dong & Shan, ICCVW 2021), published settings.

Twice: blur (Gaussian / generalized / plateau kernels, iso- or anisotropic, sometimes a sinc filter), random
resize (area / bilinear / bicubic), Gaussian or Poisson noise, JPEG 30-95 (the second blur happens with
probability 0.8). Then, in random order, [resize to the target + final sinc (p 0.8)] and JPEG.
"""

from __future__ import annotations

import numpy as np

from ..resize import blur
from . import ops

KERNEL_TYPES = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso")
KERNEL_PROBS = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)
FIRST = {"sinc_prob": 0.1, "sigma": (0.2, 3.0), "betag": (0.5, 4.0), "betap": (1.0, 2.0),
         "updown": (0.2, 0.7, 0.1), "resize": (0.15, 1.5), "gaussian_prob": 0.5, "noise": (1.0, 30.0),
         "poisson": (0.05, 3.0), "gray_prob": 0.4, "jpeg": (30, 95)}
SECOND = {"sinc_prob": 0.1, "sigma": (0.2, 1.5), "betag": (0.5, 4.0), "betap": (1.0, 2.0),
          "updown": (0.3, 0.4, 0.3), "resize": (0.3, 1.2), "gaussian_prob": 0.5, "noise": (1.0, 25.0),
          "poisson": (0.05, 2.5), "gray_prob": 0.4, "jpeg": (30, 95)}
FINAL_SINC_PROB = 0.8


def _random_kernel(rng: np.random.Generator, p: dict, log: list[dict]) -> np.ndarray:
    size = int(rng.choice(np.arange(7, 22, 2)))
    if rng.random() < p["sinc_prob"]:
        cutoff = float(rng.uniform(np.pi / 3, np.pi) if size < 13 else rng.uniform(np.pi / 5, np.pi))
        log.append({"op": "blur", "kernel": "sinc", "size": size, "cutoff": cutoff})
        return ops.sinc(size, cutoff)
    kind = str(rng.choice(KERNEL_TYPES, p=KERNEL_PROBS))
    sx = float(rng.uniform(*p["sigma"]))
    sy, theta = (sx, 0.0) if kind.endswith("iso") and not kind.endswith("aniso") else (
        float(rng.uniform(*p["sigma"])), float(rng.uniform(-np.pi, np.pi)))
    entry = {"op": "blur", "kernel": kind, "size": size, "sigma": [sx, sy], "theta": theta}
    if kind in ("iso", "aniso"):
        k = ops.gaussian(size, sx, sy, theta)
    else:
        plateau = kind.startswith("plateau")
        beta = float(rng.uniform(*(p["betap"] if plateau else p["betag"])))
        entry["beta"] = beta
        k = ops.generalized_gaussian(size, sx, sy, theta, beta, plateau=plateau)
    log.append(entry)
    return k


def _noise(img: np.ndarray, rng: np.random.Generator, p: dict, log: list[dict]) -> np.ndarray:
    gray = bool(rng.random() < p["gray_prob"])
    if rng.random() < p["gaussian_prob"]:
        sigma = float(rng.uniform(*p["noise"]))
        log.append({"op": "noise", "kind": "gaussian", "sigma": sigma, "gray": gray})
        return ops.gaussian_noise(img, rng, sigma, gray)
    scale = float(rng.uniform(*p["poisson"]))
    log.append({"op": "noise", "kind": "poisson", "scale": scale, "gray": gray})
    return ops.poisson_noise(img, rng, scale, gray)


def _stage(img: np.ndarray, rng: np.random.Generator, p: dict, log: list[dict], base_hw: tuple[int, int],
           blur_prob: float = 1.0) -> np.ndarray:
    """Blur, resize to ``base_hw`` x a random factor, noise, JPEG (the first stage resizes relative to the HR
    size, the second relative to the target size, as Real-ESRGAN does)."""
    if rng.random() < blur_prob:
        img = blur(img, _random_kernel(rng, p, log))
    direction = str(rng.choice(["up", "down", "keep"], p=p["updown"]))
    factor = {"up": lambda: rng.uniform(1, p["resize"][1]), "down": lambda: rng.uniform(p["resize"][0], 1),
              "keep": lambda: 1.0}[direction]()
    mode = str(rng.choice(list(ops.RESIZE_MODES)))
    size = (max(8, int(base_hw[0] * factor)), max(8, int(base_hw[1] * factor)))
    log.append({"op": "resize", "direction": direction, "factor": float(factor), "mode": mode, "size": list(size)})
    img = ops.resize(img, size, mode)
    img = _noise(img, rng, p, log)
    quality = int(rng.integers(p["jpeg"][0], p["jpeg"][1] + 1))
    log.append({"op": "jpeg", "quality": quality})
    return ops.jpeg(np.clip(img, 0, 1), quality)


def degrade(hr: np.ndarray, scale: int, rng: np.random.Generator) -> tuple[np.ndarray, list[dict]]:
    """Apply the second-order model to ``hr`` (sides multiples of ``scale``); returns (LR in [0, 1], choices)."""
    target = (hr.shape[0] // scale, hr.shape[1] // scale)
    log: list[dict] = []
    img = _stage(hr.astype(np.float64), rng, FIRST, log, hr.shape[:2])
    img = _stage(img, rng, SECOND, log, target, blur_prob=0.8)

    def final_resize_and_sinc(x: np.ndarray) -> np.ndarray:
        mode = str(rng.choice(list(ops.RESIZE_MODES)))
        log.append({"op": "resize", "mode": mode, "size": list(target), "where": "final"})
        x = ops.resize(x, target, mode)
        if rng.random() < FINAL_SINC_PROB:
            size = int(rng.choice(np.arange(7, 22, 2)))
            cutoff = float(rng.uniform(np.pi / 3, np.pi))
            log.append({"op": "blur", "kernel": "sinc", "size": size, "cutoff": cutoff, "where": "final"})
            x = blur(x, ops.sinc(size, cutoff))
        return x

    def final_jpeg(x: np.ndarray) -> np.ndarray:
        quality = int(rng.integers(30, 96))
        log.append({"op": "jpeg", "quality": quality, "where": "final"})
        return ops.jpeg(np.clip(x, 0, 1), quality)

    if rng.random() < 0.5:
        img = final_jpeg(final_resize_and_sinc(img))
    else:
        img = final_resize_and_sinc(final_jpeg(img))
    return np.clip(img, 0, 1).astype(np.float32), log


def first_kernel(choices: list[dict]) -> np.ndarray:
    """The first-order blur kernel (the first stage's, applied to the HR photo itself), rebuilt from the ``choices``
    ``degrade`` returned; odd square, sums to 1 (a sinc kernel has negative lobes)."""
    c = next(c for c in choices if c["op"] == "blur")
    if c["kernel"] == "sinc":
        return ops.sinc(c["size"], c["cutoff"])
    sx, sy = c["sigma"]
    if c["kernel"] in ("iso", "aniso"):
        return ops.gaussian(c["size"], sx, sy, c["theta"])
    return ops.generalized_gaussian(c["size"], sx, sy, c["theta"], c["beta"], plateau=c["kernel"].startswith("plateau"))
