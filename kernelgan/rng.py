"""torch's process-wide state, changed only inside a block and restored after it: the global generator's seed
and the number of intra-op threads."""

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


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Within the block torch uses ``n`` intra-op threads (for tiny ops one is faster and makes results
    independent of the core count; several tasks on one machine must not oversubscribe its cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
