"""Backend ``bicubic``: MATLAB-style bicubic upscaling, ignoring the kernel (the floor every backend must beat)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..resize import imresize
from .base import check_request, register


@register
class Bicubic:
    name = "bicubic"
    scales: tuple[int, ...] = (2, 4)
    description = "MATLAB-style bicubic interpolation (ignores the kernel)"
    options: dict[str, type] = {}
    kernel_maps = True  # it ignores the kernel, a map included

    def upscale(self, lr: np.ndarray, kernel: np.ndarray, scale: int, **options: Any) -> np.ndarray:
        """No options of its own (``seed``, ``device`` and ``progress`` are accepted and ignored)."""
        check_request(self, lr, kernel, scale)
        return np.clip(imresize(lr, scale), 0, 1).astype(np.float32)
