"""The output contract of ``kernelgan estimate`` for ``photo.png``: ``photo_kernel_x2.{npy,mat,png}``,
``photo_kernel_x4.*`` at scale 4, and ``photo.json``. Scripts and ``kernelgan eval`` rely on these names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .io import atomic_path, save_kernel

KERNEL_FORMATS = (".npy", ".mat", ".png")


def kernel_paths(out_dir: Path, stem: str, scale: int) -> list[Path]:
    return [out_dir / f"{stem}_kernel_x{scale}{ext}" for ext in KERNEL_FORMATS]


def record_path(out_dir: Path, stem: str) -> Path:
    return out_dir / f"{stem}.json"


def expected_outputs(out_dir: Path, stem: str, scale: int) -> list[Path]:
    scales = (2, 4) if scale == 4 else (2,)
    return [p for s in scales for p in kernel_paths(out_dir, stem, s)] + [record_path(out_dir, stem)]


def write_estimate(out_dir: Path, stem: str, kernels: dict[int, np.ndarray], record: dict[str, Any]) -> list[Path]:
    """Write each kernel in every format, then the JSON record last (its presence marks a finished image)."""
    written: list[Path] = []
    for scale, k in sorted(kernels.items()):
        for path in kernel_paths(out_dir, stem, scale):
            save_kernel(path, k)
            written.append(path)
    path = record_path(out_dir, stem)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(record, indent=2, allow_nan=False) + "\n")
    return written + [path]
