"""Which torch device a command runs on (``--device auto|cpu|cuda``)."""

from __future__ import annotations

import torch

from .errors import InputError


def resolve_device(device: str) -> torch.device:
    """``auto`` is CUDA when present, else the CPU; ``cuda`` without a CUDA device is an InputError."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA device is available")
    if device not in ("cpu", "cuda"):
        raise InputError(f"unknown device {device!r} (use auto, cpu or cuda)")
    return torch.device(device)
