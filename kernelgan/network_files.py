"""Files of the project's small trained networks (the kernel prior, its confidence, the realism detector, ZSSR's
learned start): a format tag, the network's shape, its state and the settings that made it, written atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .errors import InputError
from .io import atomic_path


def save_network_file(path: Path, fmt: str, shape: dict[str, Any], state: dict[str, torch.Tensor],
                      settings: dict[str, Any]) -> None:
    """Write a small network's file (atomically): its ``fmt`` tag, shape, state and the settings that made it."""
    with atomic_path(path) as tmp:
        torch.save({"format": fmt, "shape": shape, "state": state, "settings": settings}, tmp)


def load_network_file(path: Path, fmt: str, what: str) -> dict[str, Any]:
    """The {format, shape, state, settings} of a file ``save_network_file`` wrote with tag ``fmt``; InputError
    ("PATH: not a WHAT file") for anything else."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user error
        raise InputError(f"{path}: not a {what} file ({type(exc).__name__})") from None
    if not isinstance(data, dict) or data.get("format") != fmt:
        raise InputError(f"{path}: not a {what} file (format {fmt} expected)")
    return data
