"""``kernelgan train-prior``: train the learned kernel prior on HR photos (synthetic pairs)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Optional

import typer

from kernelgan.estimator.confidence import ConfidenceWeights
from kernelgan.estimator.confidence_train import train_confidence_on_photos
from kernelgan.estimator.prior import PriorWeights
from kernelgan.estimator.prior_train import RECIPES, PriorTrainSettings, train_prior_on_photos
from kernelgan.families import check_family
from kernelgan.rng import torch_threads

from .common import err, fail, handle_errors, training_photos, write_trained

DEFAULTS = PriorTrainSettings()


@handle_errors
def train_prior_cmd(
    photos: list[str] = typer.Argument(..., help="HR photo folders, files or globs (never a test set: not DIV2KRK or Set5)."),
    output: Path = typer.Option(..., "-o", "--output", help="Weights file to write (.pt)."),
    samples: int = typer.Option(DEFAULTS.samples, "--samples", min=100, help="Synthetic training pairs."),
    epochs: int = typer.Option(DEFAULTS.epochs, "--epochs", min=1, help="Passes over the pairs."),
    seed: int = typer.Option(DEFAULTS.seed, "--seed"),
    lr: float = typer.Option(DEFAULTS.lr, "--lr", min=1e-6, help="Adam's starting learning rate (cosine decay to 1/100 of it)."),
    pre_scales: str = typer.Option(",".join(f"{f:g}" for f in DEFAULTS.pre_scales), "--pre-scales",
                                   help="Each photo is also used resized by these factors (comma-separated; "
                                        "under 1: sharper per pixel, over 1: softer)."),
    recipe: str = typer.Option("camera", "--recipe", help="Pairs: camera (every training family, signal-dependent noise, sharpening, JPEG 60-95), camera-cfa (the same with a fifth of the pairs demosaiced: colour filter array, bilinear), camera-wide (the same families plus wide shake, 6-15 px, on a 19x19 kernel grid) or classical (the recipe of the weights shipped before 2026-12-02: five families, Gaussian noise, JPEG 70-95)."),
    families: Optional[str] = typer.Option(None, "--families",
                                           help="Kernel families to draw from, comma-separated (default: the recipe's)."),
    software_head: bool = typer.Option(DEFAULTS.shape.software_head, "--software-head/--no-software-head",
                                       help="Also learn to tell software (MATLAB bicubic) downscaling apart."),
    confidence_for: Optional[Path] = typer.Option(None, "--confidence-for", help="Train instead the confidence network of these prior weights (its predicted errors; fresh pairs made as the prior's)."),
    init: Optional[Path] = typer.Option(None, "--init", help="Start from these prior weights (fine-tuning; same network shape, or a smaller kernel grid, which is widened) instead of from scratch."),
    threads: int = typer.Option(1, "--threads", min=1, help="Torch CPU threads."),
    force: bool = typer.Option(False, "--force", help="Overwrite the weights file."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No per-epoch lines."),
) -> None:
    """Train the kernel prior used by the `prior` estimators (the shipped weights came from this command; docs/estimators.md).

    Every tenth photo (by name) is held out for validation. Pairs: an HR crop (also from the resized copies of
    --pre-scales), a kernel of a random family (--families), blur + x2 subsample, then (--recipe camera)
    in-camera sharpening (15%), sensor noise (40%, half of it signal-dependent), 8-bit rounding and JPEG (25%,
    quality 60-95), and with --recipe camera-cfa demosaicing (20%); --recipe camera-wide adds wide shake and
    predicts 19x19 kernels; the input is the LR crop's mean local power spectrum, the target the optical kernel.
    --init fine-tunes existing weights (13x13 ones are widened for camera-wide).

    With --confidence-for PRIOR.pt it trains that prior's confidence network instead (kernelgan/estimator/
    confidence.py): fresh pairs made the same way, the prior's own errors as targets.

    Example: kernelgan train-prior ../shared/data/BSD100 ../shared/data/Set14 -o prior.pt
    """
    paths = training_photos(photos, output, force)
    try:
        factors = tuple(float(f) for f in pre_scales.split(","))
    except ValueError:
        factors = ()
    if not factors or any(not 0.1 <= f <= 4 for f in factors):
        fail(f"--pre-scales {pre_scales!r}: give comma-separated factors between 0.1 and 4")
    if recipe not in RECIPES:
        fail(f"--recipe must be one of {', '.join(RECIPES)}, got {recipe!r}")
    base = RECIPES[recipe]
    chosen = base.families if families is None else tuple(check_family(f.strip()) for f in families.split(",") if f.strip())
    if not chosen or "all" in chosen:
        fail(f"--families {families!r}: give comma-separated kernel family names")
    for given in (confidence_for, init):
        if given is not None and not given.is_file():
            fail(f"{given}: no such file")
    if init is not None and confidence_for is not None:
        fail("--init starts a prior from weights; it does not go with --confidence-for")
    settings = replace(base, samples=samples, epochs=epochs, seed=seed, lr=lr, lr_end=lr / 100, pre_scales=factors, families=chosen,
                       shape=replace(base.shape, software_head=software_head))
    log = (lambda m: None) if quiet else err.print
    with torch_threads(threads):
        if confidence_for is not None:
            weights: PriorWeights | ConfidenceWeights = train_confidence_on_photos(
                paths, confidence_for, samples, epochs, settings, log)
        else:
            start = None if init is None else PriorWeights.load(init)
            weights = train_prior_on_photos(paths, settings, log, start)
            if init is not None:
                weights.settings["init"] = init.name
    write_trained(output, weights.save)
