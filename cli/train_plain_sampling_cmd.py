"""``kernelgan train-plain-sampling``: train the detector of software downscaling without antialiasing."""

from __future__ import annotations

from pathlib import Path

import typer

from kernelgan.estimator.plain_sampling_train import train_plain_sampling_on_photos
from kernelgan.rng import torch_threads

from .common import err, handle_errors, training_photos, write_trained


@handle_errors
def train_plain_sampling_cmd(
    photos: list[str] = typer.Argument(..., help="HR photo folders, files or globs (never a test set: not DIV2KRK or Set5)."),
    output: Path = typer.Option(..., "-o", "--output", help="Weights file to write (.pt)."),
    samples: int = typer.Option(20_000, "--samples", min=100, help="LR crops of 64 px (half plain sampling)."),
    epochs: int = typer.Option(6, "--epochs", min=1, help="Passes over the crops."),
    seed: int = typer.Option(0, "--seed"),
    threads: int = typer.Option(2, "--threads", min=1, help="Torch CPU threads."),
    force: bool = typer.Option(False, "--force", help="Overwrite the weights file."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No per-epoch lines."),
) -> None:
    """Train the plain-sampling detector of the learned prior (kernelgan/estimator/plain_sampling.py; the shipped weights came from this command, docs/estimators.md).

    Every tenth photo (by name) is held out for validation. Half the LR crops are shrunk x2 or x4 by a software
    resampler without antialiasing (bicubic a = -0.5 / -0.75, Mitchell, Lanczos 2 / 3 sampled at the LR grid), a
    quarter by one with antialiasing, a quarter blurred by a camera-like kernel (the prior's camera recipe: noise,
    sharpening, JPEG); software crops get a JPEG (quality 75-95) three times in ten. The network reads the crops' pixels.

    Example: kernelgan train-plain-sampling ../shared/data/BSD100 ../shared/data/Set14 -o plain_sampling.pt
    """
    paths = training_photos(photos, output, force)
    with torch_threads(threads):
        weights = train_plain_sampling_on_photos(paths, samples, epochs, seed, log=(lambda m: None) if quiet else err.print)
    write_trained(output, weights.save)
