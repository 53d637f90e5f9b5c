"""Torch twins of ``kernelgan.resize`` for the SR backends' inner loops: the same results, on any device, batched.

Tensors are N x C x H x W floats (any range). ``blur_downsample`` equals ``kernelgan.resize.blur_downsample`` and
``bicubic_upscale`` equals ``kernelgan.resize.imresize(img, s)`` for an integer ``s`` (tests compare them).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
import torch.nn.functional as F

from ..kernels import cubic


def symmetric_pad(x: torch.Tensor, top: int, bottom: int, left: int, right: int) -> torch.Tensor:
    """Pad the last two axes by mirroring with the edge pixel repeated (numpy's ``mode="symmetric"``); any pad
    no larger than the axis."""
    rows = [x[..., :top, :].flip(-2), x, x[..., x.shape[-2] - bottom:, :].flip(-2)] if top or bottom else [x]
    x = torch.cat(rows, dim=-2)
    cols = [x[..., :left].flip(-1), x, x[..., x.shape[-1] - right:].flip(-1)] if left or right else [x]
    return torch.cat(cols, dim=-1)


def blur_downsample(x: torch.Tensor, kernel: np.ndarray | torch.Tensor, scale: int) -> torch.Tensor:
    """Correlate every channel of ``x`` (NxCxHxW) with ``kernel`` (kh x kw, any sign), symmetric borders, keep every
    ``scale``-th pixel from index 0: N x C x ceil(H/scale) x ceil(W/scale).

    Computed in bands of output rows so that the convolution's unfolded input stays under ``_BAND_BYTES``
    (a whole large photo at once would unfold to gigabytes)."""
    k = torch.as_tensor(kernel, dtype=x.dtype, device=x.device)
    kh, kw = k.shape
    n, c, h, w = x.shape
    padded = symmetric_pad(x, kh // 2, kh - 1 - kh // 2, kw // 2, kw - 1 - kw // 2).reshape(n * c, 1, h + kh - 1, w + kw - 1)
    out_h, out_w = -(-h // scale), -(-w // scale)
    rows = max(1, _BAND_BYTES // (n * c * out_w * kh * kw * x.element_size()))
    bands = [F.conv2d(padded[..., r * scale:(min(out_h, r + rows) - 1) * scale + kh, :], k[None, None], stride=scale)
             for r in range(0, out_h, rows)]
    return torch.cat(bands, dim=-2).reshape(n, c, out_h, out_w)


_BAND_BYTES = 64 * 2**20


@functools.lru_cache(maxsize=8)
def _phase_weights(scale: int) -> tuple[list[int], torch.Tensor]:
    """For each of the ``scale`` output phases of a MATLAB bicubic x``scale`` upscale: the first of its 4 input taps
    (relative to the output's input pixel) and the 4 weights, as ``(offsets, scale x 4 weights)``."""
    offsets, rows = [], []
    for p in range(scale):
        u = (p + 0.5) / scale - 0.5  # input coordinate of output pixel p (0-based)
        first = math.floor(u) - 1
        taps = first + np.arange(4)
        w = cubic(u - taps)
        offsets.append(first)
        rows.append(w / w.sum())
    return offsets, torch.tensor(np.array(rows))


def _upscale_axis(x: torch.Tensor, scale: int, dim: int) -> torch.Tensor:
    offsets, weights = _phase_weights(scale)
    pad = 2  # the taps reach at most 2 pixels past either edge
    n = x.shape[dim]
    xt = x.transpose(dim, -1)
    padded = symmetric_pad(xt, 0, 0, pad, pad)
    w = weights.to(dtype=x.dtype, device=x.device)
    phases: list[torch.Tensor] = []
    for p, first in enumerate(offsets):
        start = pad + first
        phase = w[p, 0] * padded[..., start:start + n]
        for t in range(1, 4):
            phase = phase + w[p, t] * padded[..., start + t:start + t + n]
        phases.append(phase)
    out = torch.stack(phases, dim=-1).flatten(-2)  # ..., n*scale, phases interleaved
    return out.transpose(dim, -1)


def bicubic_upscale(x: torch.Tensor, scale: int) -> torch.Tensor:
    """MATLAB-style bicubic upscale of ``x`` (NxCxHxW) by the integer ``scale`` (N x C x sH x sW)."""
    if scale == 1:
        return x
    return _upscale_axis(_upscale_axis(x, scale, -2), scale, -1)
