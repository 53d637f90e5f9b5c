"""The mini-batch loop shared by the small networks trained on precomputed samples (the kernel prior, its
confidence, the realism and plain-sampling detectors): Adam with cosine decay, a fresh seeded permutation per
epoch, validation after each epoch; and the binary detectors' loop on top of it."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
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


def train_binary_detector(net: nn.Module, logits_of: Callable[[torch.Tensor], torch.Tensor],
                          train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray], epochs: int,
                          batch: int, lr: float, seed: int, log: Callable[[str], None]) -> list[dict]:
    """``train_minibatches`` on the binary cross-entropy of ``logits_of(inputs)`` (B) against labels in {0, 1}
    (``train`` and ``val``: inputs and labels, float32), Adam from ``lr`` to ``lr / 100``; per epoch the validation
    accuracy (logit > 0) is logged and returned in the history."""
    x, y = (torch.from_numpy(a) for a in train)
    xv, yv = (torch.from_numpy(a) for a in val)
    history: list[dict] = []
    start = time.perf_counter()

    def validate(epoch: int) -> None:
        with torch.no_grad():
            accuracy = float(((logits_of(xv) > 0) == (yv > 0.5)).float().mean())
        history.append({"epoch": epoch, "val_accuracy": round(accuracy, 4),
                        "seconds": round(time.perf_counter() - start, 1)})
        log(f"epoch {epoch}/{epochs}: validation accuracy {accuracy:.3f}, {time.perf_counter() - start:.0f} s")

    train_minibatches(net, lambda idx: F.binary_cross_entropy_with_logits(logits_of(x[idx]), y[idx]),
                      len(x), epochs, batch, lr, lr / 100, seed, validate)
    return history
