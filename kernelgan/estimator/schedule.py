"""KernelGAN's training schedule (learning rate, and the loss weights that switch on or decay), for one run and
for the R runs of the batched trainer."""

from __future__ import annotations

import torch

from .config import EstimatorConfig


def lr_factor(config: EstimatorConfig, step: int) -> float:
    """The learning rate's factor at ``step``: ÷``1/lr_gamma`` every ``lr_step`` steps (the same for every run)."""
    return config.lr_gamma ** (step // config.lr_step)


class Schedule:
    """The paper's schedule, in absolute steps (a shorter run is the paper's run cut short): lr ÷10 every
    ``lr_step`` steps; once the bicubic loss stays under its threshold for 3 steps, its weight drops 100x every
    ``bicubic_decay_every`` steps; the sparsity and centre terms switch on when that weight falls under
    ``constraints_on_below``."""

    def __init__(self, config: EstimatorConfig):
        self.config = config
        self.lambda_bicubic = config.lambda_bicubic
        self.lambda_sparse = 0.0
        self.lambda_centre = 0.0
        self._below = 0
        self._decaying = False

    def lr_factor(self, step: int) -> float:
        return lr_factor(self.config, step)

    def update(self, step: int, bicubic_loss: float) -> None:
        c = self.config
        if not self._decaying:
            self._below = self._below + 1 if bicubic_loss < c.bicubic_start_decay_below else 0
            self._decaying = self._below >= c.bicubic_start_decay_after
        elif step % c.bicubic_decay_every == 0:
            self.lambda_bicubic = max(self.lambda_bicubic / c.bicubic_decay_factor, c.lambda_bicubic_min)
        if self.lambda_bicubic < c.constraints_on_below:
            self.lambda_sparse, self.lambda_centre = c.lambda_sparse_end, c.lambda_centre_end


class BatchedSchedule:
    """``Schedule`` for R runs, its loss-dependent state as device tensors (no host read-back per step)."""

    def __init__(self, config: EstimatorConfig, runs: int, device: torch.device):
        self.config = config
        self.lambda_bicubic = torch.full((runs,), config.lambda_bicubic, dtype=torch.float64, device=device)
        self.lambda_sparse = torch.zeros(runs, dtype=torch.float64, device=device)
        self.lambda_centre = torch.zeros(runs, dtype=torch.float64, device=device)
        self._below = torch.zeros(runs, dtype=torch.int64, device=device)
        self._decaying = torch.zeros(runs, dtype=torch.bool, device=device)

    def update(self, step: int, bicubic_loss: torch.Tensor) -> None:
        c = self.config
        was_decaying = self._decaying.clone()
        self._below = torch.where(bicubic_loss < c.bicubic_start_decay_below, self._below + 1, 0)
        self._decaying = was_decaying | (self._below >= c.bicubic_start_decay_after)
        if step % c.bicubic_decay_every == 0:
            decayed = torch.clamp(self.lambda_bicubic / c.bicubic_decay_factor, min=c.lambda_bicubic_min)
            self.lambda_bicubic = torch.where(was_decaying, decayed, self.lambda_bicubic)
        on = self.lambda_bicubic < c.constraints_on_below
        self.lambda_sparse = torch.where(on, c.lambda_sparse_end, self.lambda_sparse)
        self.lambda_centre = torch.where(on, c.lambda_centre_end, self.lambda_centre)
