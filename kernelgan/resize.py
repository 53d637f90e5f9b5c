"""Resampling: MATLAB-compatible bicubic ``imresize`` and blur-and-subsample with an explicit kernel.

Images are float arrays HxW or HxWxC; values are not clipped (callers clip when writing).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal

from .kernels import cubic


def _contributions(in_len: int, out_len: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices (out_len x P) and weights of MATLAB's bicubic resampling along one axis.

    Antialiased (kernel stretched by 1/scale) when shrinking; borders mirrored as MATLAB does.
    """
    antialias = scale < 1
    width = 4.0 / scale if antialias else 4.0
    out = np.arange(1, out_len + 1, dtype=np.float64)
    u = out / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    taps = int(math.ceil(width)) + 2
    idx = left[:, None] + np.arange(taps)[None, :]
    dist = u[:, None] - idx
    weights = scale * cubic(dist * scale) if antialias else cubic(dist)
    weights = weights / weights.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(in_len), np.arange(in_len)[::-1]])
    idx = mirror[np.mod(idx.astype(np.int64) - 1, 2 * in_len)]
    keep = np.any(weights != 0, axis=0)
    return idx[:, keep], weights[:, keep]


def _resize_axis(img: np.ndarray, axis: int, out_len: int, scale: float) -> np.ndarray:
    idx, weights = _contributions(img.shape[axis], out_len, scale)
    moved = np.moveaxis(img, axis, 0)
    gathered = moved[idx]  # out_len x P x ...
    w = weights.reshape(weights.shape + (1,) * (moved.ndim - 1))
    return np.moveaxis((gathered * w).sum(axis=1), 0, axis)


def imresize(img: np.ndarray, scale: float | None = None, output_shape: tuple[int, int] | None = None) -> np.ndarray:
    """Bicubic resize as MATLAB's ``imresize`` (antialiased when shrinking), by ``scale`` or to ``output_shape``.

    Returns float64 with the same number of dimensions as ``img``.
    """
    img = np.asarray(img, dtype=np.float64)
    h, w = img.shape[:2]
    if output_shape is None:
        if scale is None:
            raise ValueError("give scale or output_shape")
        sy = sx = float(scale)
        output_shape = (int(math.ceil(h * sy)), int(math.ceil(w * sx)))
    else:
        sy, sx = output_shape[0] / h, output_shape[1] / w
    # MATLAB resizes the dimension with the smaller scale first
    order = (0, 1) if sy <= sx else (1, 0)
    out = img
    for axis in order:
        out = _resize_axis(out, axis, output_shape[axis], (sy, sx)[axis])
    return out


def blur(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Correlate each channel of ``img`` with ``kernel`` (reflect borders, as ``scipy.ndimage.correlate``)."""
    img = np.asarray(img, dtype=np.float64)
    k = np.asarray(kernel, dtype=np.float64)
    kh, kw = k.shape
    pad = [(kh // 2, kh - 1 - kh // 2), (kw // 2, kw - 1 - kw // 2)] + [(0, 0)] * (img.ndim - 2)
    padded = np.pad(img, pad, mode="symmetric")
    flipped = k[::-1, ::-1].reshape(k.shape + (1,) * (img.ndim - 2))
    return signal.fftconvolve(padded, flipped, mode="valid", axes=(0, 1))


def blur_downsample(img: np.ndarray, kernel: np.ndarray, scale: int) -> np.ndarray:
    """Blur with ``kernel`` (correlation, reflect borders) then keep every ``scale``-th pixel from index 0.

    Only the kept pixels are computed (one strided multiply-add per tap, one channel at a time), so memory
    stays near one padded channel plus the output: a 48 MP photo needs well under 2 GB. Same result as
    ``blur(img, kernel)[::scale, ::scale]`` (float64).
    """
    img = np.asarray(img)
    if not np.issubdtype(img.dtype, np.floating):
        img = img.astype(np.float64)
    k = np.asarray(kernel, dtype=np.float64)
    kh, kw = k.shape
    h, w = img.shape[:2]
    pad = [(kh // 2, kh - 1 - kh // 2), (kw // 2, kw - 1 - kw // 2)]
    planes = [img] if img.ndim == 2 else [img[..., c] for c in range(img.shape[2])]
    outs = []
    for plane in planes:
        padded = np.pad(plane, pad, mode="symmetric")  # input precision; sums are float64
        out = np.zeros((len(range(0, h, scale)), len(range(0, w, scale))))
        for a in range(kh):
            for b in range(kw):
                if k[a, b] != 0:
                    out += k[a, b] * padded[a:a + h:scale, b:b + w:scale]
        outs.append(out)
    return outs[0] if img.ndim == 2 else np.stack(outs, axis=-1)
