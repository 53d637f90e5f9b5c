"""The mini-batch loop shared by the small networks trained on precomputed samples (the kernel prior, its
confidence, the realism detector): Adam with cosine decay, a fresh seeded permutation per epoch, validation
after each epoch."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def train_minibatches(net: nn.Module, loss_of: Callable[[torch.Tensor], torch.Tensor], samples: int, epochs: int,
                      batch: int, lr: float, lr_end: float, seed: int, after_epoch: Callable[[int], None]) -> None:
    """Train ``net`` for ``epochs`` passes over ``samples`` samples: each epoch a permutation drawn from a torch
    generator seeded with ``seed``, cut into ``samples // batch`` batches (the remainder left out); ``loss_of``
    gives the loss of a batch from its sample indices; Adam at ``lr``, cosine decay to ``lr_end`` over every
    step. After each epoch the network is put in eval mode and ``after_epoch(epoch)`` (1-based) is called."""
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    steps = samples // batch
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * steps, eta_min=lr_end)
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        net.train()
        order = torch.randperm(samples, generator=gen)
        for b in range(steps):
            loss = loss_of(order[b * batch:(b + 1) * batch])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        net.eval()
        after_epoch(epoch + 1)
