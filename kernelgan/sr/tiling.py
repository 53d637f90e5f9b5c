"""Apply a fully-convolutional network to a large image in overlapping tiles (bounded memory)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch


def to_tensor(img: np.ndarray, device: torch.device) -> torch.Tensor:
    """HxWxC float array -> 1xCxHxW float32 tensor on ``device``."""
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32))[None].to(device)


def to_image(x: torch.Tensor) -> np.ndarray:
    """1xCxHxW tensor (any device) -> HxWxC float32 array."""
    return x[0].detach().float().cpu().numpy().transpose(1, 2, 0)


def tiled(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, tile: int, margin: int, scale: int) -> torch.Tensor:
    """``fn`` maps 1xCxhxw to 1x3x(scale·h)x(scale·w); returns its output on ``x`` (1xCxHxW) as 1x3x(scale·H)x(scale·W)
    float32 on ``x``'s device.

    Tiles of ``tile`` input pixels are read with ``margin`` extra pixels on each side (at least the network's
    receptive radius), so the stitched result equals one pass over the whole image.
    """
    h, w = x.shape[-2:]
    s = scale
    out = torch.empty((1, 3, h * s, w * s), dtype=torch.float32, device=x.device)
    with torch.no_grad():
        for top in range(0, h, tile):
            for left in range(0, w, tile):
                t0, l0 = max(0, top - margin), max(0, left - margin)
                t1, l1 = min(h, top + tile + margin), min(w, left + tile + margin)
                res = fn(x[..., t0:t1, l0:l1])
                bh, bw = min(tile, h - top), min(tile, w - left)
                out[..., top * s:(top + bh) * s, left * s:(left + bw) * s] = \
                    res[..., (top - t0) * s:(top - t0 + bh) * s, (left - l0) * s:(left - l0 + bw) * s].float()
    return out


def run_tiled(fn: Callable[[torch.Tensor], torch.Tensor], img: np.ndarray, tile: int, margin: int, scale: int,
              device: torch.device) -> np.ndarray:
    """``tiled`` on an HxWxC array, the network on ``device``; returns (scale·H)x(scale·W)x3 float32."""
    return to_image(tiled(fn, to_tensor(img, device), tile, margin, scale))
