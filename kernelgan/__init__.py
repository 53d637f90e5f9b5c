"""kernelgan: blind super-resolution kernel estimation (KernelGAN, NeurIPS 2019, and a learned kernel prior).

The public names below are imported on first use, so ``import kernelgan`` is light (no torch or scipy).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "InputError": "errors", "KernelError": "errors", "KernelganError": "errors",
    "load_kernel": "io", "read_image": "io", "save_kernel": "io", "write_image": "io",
    "analytic_x4": "kernels", "bicubic_kernel": "kernels", "centre_kernel": "kernels", "kernel_psnr": "kernels",
    "estimate_kernel": "estimator", "EstimatorConfig": "estimator",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
