"""``kernelgan train-direction``: train the network that gives the default's kernels their direction."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import typer

from kernelgan.estimator.direction_train import DirectionTrainSettings, train_direction_on_photos
from kernelgan.rng import torch_threads

from .common import err, handle_errors, training_photos, write_trained


@handle_errors
def train_direction_cmd(
    photos: list[str] = typer.Argument(..., help="HR photo folders, files or globs (never a test set: not DIV2KRK or Set5)."),
    output: Path = typer.Option(..., "-o", "--output", help="Weights file to write (.pt)."),
    samples: int = typer.Option(DirectionTrainSettings.samples, "--samples", min=100, help="Synthetic pairs."),
    epochs: int = typer.Option(DirectionTrainSettings.epochs, "--epochs", min=1, help="Passes over the pairs."),
    seed: int = typer.Option(0, "--seed"),
    jobs: int = typer.Option(1, "--jobs", min=1, help="Processes making the pairs (the pairs depend on it)."),
    threads: int = typer.Option(1, "--threads", min=1, help="Torch CPU threads for the training."),
    force: bool = typer.Option(False, "--force", help="Overwrite the weights file."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No per-epoch lines."),
) -> None:
    """Train the direction network of the default estimator (kernelgan/estimator/direction.py; the shipped weights came from this command, docs/estimators.md).

    Every tenth photo (by name) is held out for validation. Each pair is an LR crop made as the prior's are (the
    camera recipe), the default estimator's kernel for it, the crop's fourth-order asymmetry map, and the true
    kernel's odd part (what a power spectrum cannot show) as the target.

    Example: kernelgan train-direction ../shared/data/BSD100 ../shared/data/Set14 -o direction.pt --jobs 2
    """
    paths = training_photos(photos, output, force)
    settings = replace(DirectionTrainSettings(), samples=samples, epochs=epochs, seed=seed)
    with torch_threads(threads):
        weights = train_direction_on_photos(paths, settings, jobs, log=(lambda m: None) if quiet else err.print)
    write_trained(output, weights.save)
