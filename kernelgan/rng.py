"""Seeding without side effects: torch's global generator seeded inside a block and restored after it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def seeded(seed: int, device: torch.device | str | None = None) -> Iterator[None]:
    """Within the block torch's global RNG (CPU, and ``device``'s if it is CUDA) starts from ``seed``; after it
    the caller's RNG state is back as it was, so library calls never change a user's random stream."""
    dev = torch.device(device) if device is not None else None
    cuda = [dev] if dev is not None and dev.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        yield
