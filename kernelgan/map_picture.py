"""A picture of a kernel map: each cell's kernel drawn over a darkened thumbnail of the photo, at the cell's centre."""

from __future__ import annotations

import numpy as np
from PIL import Image

from .kernel_map import grid_for

THUMBNAIL = 768  # px: the picture's longer side (at most)
BOX = 0.8  # a drawn kernel's side as a share of the smaller cell side
MAX_BOX = 160  # px: at most this big


def map_picture(image: np.ndarray, kmap: np.ndarray) -> np.ndarray:
    """HxWx3 uint8: ``image`` (the LR photo, HxWx3 in [0, 1]) shrunk to at most ``THUMBNAIL`` px a side and
    darkened, with the kernel of every cell of ``kmap`` (rows x cols x K x K) magnified over the cell's centre.
    All kernels share one brightness scale (the square root of each tap over the map's largest, so that the
    faint rim of a wide kernel shows), so a wider kernel looks larger and dimmer."""
    h, w = image.shape[:2]
    grid = grid_for(kmap, (h, w))
    factor = min(1.0, THUMBNAIL / max(h, w))
    th, tw = max(1, round(h * factor)), max(1, round(w * factor))
    photo = Image.fromarray(np.round(np.clip(image[..., :3], 0, 1) * 255).astype(np.uint8))
    canvas = np.asarray(photo.resize((tw, th), Image.Resampling.BILINEAR), dtype=np.float64) * 0.35
    peak = max(float(np.clip(kmap, 0, None).max()), 1e-12)
    side = int(min(MAX_BOX, BOX * min(th / grid.rows, tw / grid.cols)))
    ys, xs = grid.centres()
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            picture = Image.fromarray(np.round(np.sqrt(np.clip(kmap[i, j], 0, None) / peak) * 255).astype(np.uint8))
            tap = np.asarray(picture.resize((max(side, 1), max(side, 1)), Image.Resampling.NEAREST), dtype=np.float64)
            top = int(round((y + 0.5) * factor - side / 2))
            left = int(round((x + 0.5) * factor - side / 2))
            t0, l0 = max(top, 0), max(left, 0)
            t1, l1 = min(top + side, th), min(left + side, tw)
            if t1 <= t0 or l1 <= l0:
                continue
            region = tap[t0 - top:t1 - top, l0 - left:l1 - left]
            canvas[t0:t1, l0:l1] = np.maximum(canvas[t0:t1, l0:l1], region[..., None] * np.array([1.0, 0.85, 0.3]))
    return np.round(np.clip(canvas, 0, 255)).astype(np.uint8)
