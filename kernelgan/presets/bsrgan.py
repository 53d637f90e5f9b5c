"""BSRGAN's degradation model (Zhang, Liang, Van Gool & Timofte, ICCV 2021), simplified where noted.

Steps (all but the final JPEG in a random order, the first resize always before the final one): isotropic
Gaussian blur, anisotropic Gaussian blur, an intermediate downscale, the resize to the target size, Gaussian
noise, JPEG (probability 0.75), camera sensor noise through a reversed-and-redone ISP (probability 0.25);
then JPEG always.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from ..kernels import normalise
from ..resize import blur
from . import ops


def _blur_iso(img, rng, scale, log):
    size = int(rng.integers(2, 10)) * 2 + 3  # 7..21
    width = float(rng.uniform(0.1, 2.0 + 0.2 * scale))
    log.append({"op": "blur", "kernel": "isotropic_gaussian", "size": size, "sigma": width})
    return blur(img, ops.gaussian(size, width, width, 0.0))


def _blur_aniso(img, rng, scale, log):
    size = int(rng.integers(2, 10)) * 2 + 3
    l1, l2 = (float(v) for v in rng.uniform(0.5, 4.0 + scale, size=2))
    theta = float(rng.uniform(0, np.pi))
    log.append({"op": "blur", "kernel": "anisotropic_gaussian", "size": size, "axes": [l1, l2], "theta": theta})
    return blur(img, ops.gaussian(size, l1, l2, theta))


def _downscale(img, rng, scale, log, target_hw):
    """One of nearest / bilinear / bicubic / down-up, to an intermediate size between the target and 2x it."""
    h, w = img.shape[:2]
    factor = float(rng.uniform(1.0, 2.0 * scale))
    inter = (max(target_hw[0], int(h / factor)), max(target_hw[1], int(w / factor)))
    mode = str(rng.choice(["nearest", "bilinear", "bicubic", "down-up"]))
    log.append({"op": "downscale", "mode": mode, "size": list(inter)})
    if mode == "down-up":
        half = (max(1, inter[0] // 2), max(1, inter[1] // 2))
        return ops.resize(ops.resize(img, half, "bicubic"), inter, "bicubic")
    return ops.resize(img, inter, mode)


def _resize_to_target(img, rng, log, target_hw):
    mode = str(rng.choice(list(ops.RESIZE_MODES)))
    log.append({"op": "resize", "mode": mode, "size": list(target_hw)})
    return ops.resize(img, target_hw, mode)


def _gaussian_noise(img, rng, log):
    sigma = float(rng.uniform(2, 25))
    kind = str(rng.choice(["color", "gray", "correlated"], p=[0.4, 0.4, 0.2]))
    log.append({"op": "noise", "kind": f"gaussian_{kind}", "sigma": sigma})
    if kind != "correlated":
        return ops.gaussian_noise(img, rng, sigma, gray=kind == "gray")
    q, _ = np.linalg.qr(rng.random((3, 3)))
    cov = q.T @ np.diag(rng.random(3)) @ q * (sigma / 255.0) ** 2
    return img + rng.multivariate_normal(np.zeros(3), cov, size=img.shape[:2])


def _jpeg(img, rng, log, where):
    quality = int(rng.integers(30, 96))
    log.append({"op": "jpeg", "quality": quality, "where": where})
    return ops.jpeg(np.clip(img, 0, 1), quality)


def _sensor_noise(img, rng, log):
    """Simplified camera noise: undo the sRGB gamma, add shot (Poisson) and read (Gaussian) noise in linear
    light, redo the gamma. BSRGAN's full ISP also inverts tone mapping, white balance and colour matrices."""
    shot = float(10 ** rng.uniform(-4, -2))
    read = float(10 ** rng.uniform(-3, -1.5))
    log.append({"op": "sensor_noise", "shot": shot, "read": read})
    linear = np.clip(img, 0, 1) ** 2.2
    noisy = linear + rng.standard_normal(img.shape) * np.sqrt(linear * shot + read ** 2)
    return np.clip(noisy, 0, 1) ** (1 / 2.2)


def degrade(hr: np.ndarray, scale: int, rng: np.random.Generator) -> tuple[np.ndarray, list[dict]]:
    """Apply the BSRGAN model to ``hr`` (sides multiples of ``scale``); returns (LR in [0, 1], choices)."""
    target = (hr.shape[0] // scale, hr.shape[1] // scale)
    log: list[dict] = []
    order = [int(i) for i in rng.permutation(7)]
    i_down, i_final = order.index(2), order.index(3)
    if i_down > i_final:
        order[i_down], order[i_final] = 3, 2
    log.append({"op": "order", "steps": order})
    img = hr.astype(np.float64)
    jpeg_middle = rng.random() < 0.75
    sensor = rng.random() < 0.25
    for step in order:
        if step == 0:
            img = _blur_iso(img, rng, scale, log)
        elif step == 1:
            img = _blur_aniso(img, rng, scale, log)
        elif step == 2:
            img = _downscale(img, rng, scale, log, target)
        elif step == 3:
            img = _resize_to_target(img, rng, log, target)
        elif step == 4:
            img = _gaussian_noise(img, rng, log)
        elif step == 5 and jpeg_middle:
            img = _jpeg(img, rng, log, "middle")
        elif step == 6 and sensor:
            img = _sensor_noise(img, rng, log)
    img = _jpeg(img, rng, log, "end")
    return np.clip(img, 0, 1).astype(np.float32), log


def blur_kernel(choices: list[dict], hr_height: int) -> np.ndarray:
    """The model's blur in HR pixels, from the ``choices`` ``degrade`` returned for an HR photo ``hr_height`` rows
    high: its isotropic and anisotropic Gaussians convolved, each widened by the HR pixels per pixel of the picture
    it blurred (a blur after the intermediate downscale or the final resize acts on larger pixels). The resizes'
    own filters, the noise and the JPEG are not in it. Odd square, sums to 1."""
    per_pixel, parts = 1.0, []
    for c in choices:
        if c["op"] in ("downscale", "resize"):
            per_pixel = hr_height / c["size"][0]
        elif c["op"] == "blur":
            axes = [c["sigma"], c["sigma"]] if c["kernel"] == "isotropic_gaussian" else c["axes"]
            s1, s2 = (per_pixel * a for a in axes)
            size = 2 * int(np.ceil(3.5 * max(s1, s2))) + 1
            parts.append(ops.gaussian(size, s1, s2, c.get("theta", 0.0)))
    kernel = np.ones((1, 1))
    for part in parts:
        kernel = signal.convolve(kernel, part)
    return normalise(kernel)
