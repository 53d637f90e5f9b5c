"""``kernelgan train-router``: train the detector that sends realistic photos to SRMD's realistic weights."""

from __future__ import annotations

from pathlib import Path

import typer

from kernelgan.realism_train import train_router_on_photos
from kernelgan.rng import torch_threads

from .common import err, handle_errors, training_photos, write_trained


@handle_errors
def train_router_cmd(
    photos: list[str] = typer.Argument(..., help="HR photo folders, files or globs (never a test set: not DIV2KRK or Set5)."),
    output: Path = typer.Option(..., "-o", "--output", help="Weights file to write (.pt)."),
    samples: int = typer.Option(12_000, "--samples", min=100, help="Synthetic LR crops (half realistic)."),
    epochs: int = typer.Option(15, "--epochs", min=1, help="Passes over the crops."),
    seed: int = typer.Option(0, "--seed"),
    threads: int = typer.Option(1, "--threads", min=1, help="Torch CPU threads."),
    force: bool = typer.Option(False, "--force", help="Overwrite the weights file."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No per-epoch lines."),
) -> None:
    """Train the router of `sr --backend srmd --weights auto` (kernelgan/realism.py; the shipped weights came from this command, docs/srmd.md).

    Every tenth photo (by name) is held out for validation. Half the LR crops are made by the BSRGAN or
    Real-ESRGAN preset, half classically (one kernel of any training family, subsampling, Gaussian noise on half), at x2
    and x4; the network reads the crop's mean local power spectrum and learns which it is.

    Example: kernelgan train-router ../shared/data/BSD100 ../shared/data/Set14 -o router.pt
    """
    paths = training_photos(photos, output, force)
    with torch_threads(threads):
        weights = train_router_on_photos(paths, samples, epochs, seed, log=(lambda m: None) if quiet else err.print)
    write_trained(output, weights.save)
