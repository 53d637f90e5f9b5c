"""``kernelgan train-srmd``: train SRMD weights on HR photos (synthetic pairs made on the fly)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import torch
import typer

from kernelgan.device import resolve_device
from kernelgan.pools import load_pool
from kernelgan.sr.kernel_pca import GRID
from kernelgan.sr.srmd_train import PRESETS, TrainSettings, checkpoint_path, crop_span, load_photos, train_srmd
from kernelgan.synth import check_scale

from .common import err, expand_images, fail, handle_errors, out, print_json
from .progress import task_progress

DEFAULTS = TrainSettings()


@handle_errors
def train_srmd_cmd(
    photos: list[str] = typer.Argument(..., help="HR photo folders, files or globs (never the test set: not DIV2KRK)."),
    output: Path = typer.Option(..., "-o", "--output", help="Weights file to write (.pt); checkpoints go to <output>.ckpt."),
    scale: int = typer.Option(DEFAULTS.scale, "--scale", "-s", help="2 or 4."),
    steps: int = typer.Option(DEFAULTS.steps, "--steps", min=1, help="Training steps (batches)."),
    channels: int = typer.Option(DEFAULTS.channels, "--channels", min=4, help="Feature channels (published SRMD: 128)."),
    batch: int = typer.Option(DEFAULTS.batch, "--batch", min=1, help="Crops per step."),
    patch: int = typer.Option(DEFAULTS.patch, "--patch", min=8, help="LR crop side in pixels."),
    lr: float = typer.Option(DEFAULTS.lr, "--lr", help="Adam learning rate (cosine decay to 1/100)."),
    val_every: int = typer.Option(DEFAULTS.val_every, "--val-every", min=1, help="Steps between validation + checkpoint."),
    preset: str = typer.Option(DEFAULTS.preset, "--preset", help="Degradations of the pairs: classical (family kernel + Gaussian noise), or scenes conditioned on the pipeline's estimates (bsrgan, realesrgan, realistic: both, or mix: both and classical scenes), beside --classical-fraction classical pairs with true kernels."),
    classical_fraction: float = typer.Option(DEFAULTS.classical_fraction, "--classical-fraction", min=0.0, max=1.0, help="With a realistic --preset: the share of classical pairs."),
    scenes: int = typer.Option(DEFAULTS.scenes, "--scenes", min=1, help="With a realistic --preset: scenes made before training."),
    init: Optional[Path] = typer.Option(None, "--init", help="Start from these weights (e.g. the shipped ones: fine-tuning) instead of from scratch; narrower weights are widened to --channels first, computing the same function."),
    kernels: Optional[Path] = typer.Option(None, "--kernels", help="A kernel pool (an estimate output folder of your camera's photos, or .npy/.mat files): its x2 kernels replace the family's, so the weights specialise to them."),
    seed: int = typer.Option(DEFAULTS.seed, "--seed"),
    device: str = typer.Option("auto", "--device", help="cpu, cuda or auto."),
    threads: int = typer.Option(0, "--threads", min=0, help="Torch CPU threads (0: torch's default)."),
    resume: bool = typer.Option(False, "--resume", help="Continue from <output>.ckpt (same options)."),
    force: bool = typer.Option(False, "--force", help="Start afresh even if the weights or a checkpoint exist."),
    as_json: bool = typer.Option(False, "--json", help="One JSON line per validation (and at the end) on stdout."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or validation lines."),
) -> None:
    """Train SRMD weights for `kernelgan sr --backend srmd --weights FILE`.

    Pairs are made on the fly: random kernel of the estimator's family (PCA basis fitted first and stored with
    the weights), blur + subsample, noise 0-15/255 on half the crops. Every tenth photo is held out; the
    validation PSNR (Y, scale pixels shaved) is printed every --val-every steps next to bicubic interpolation.

    Example: kernelgan train-srmd ../shared/data/BSD100 ../shared/data/Set14 -o srmd_real_x4.pt --scale 4 --preset mix --init kernelgan/sr/weights/srmd_x4.pt
    """
    check_scale(scale)
    if preset not in PRESETS:
        fail(f"--preset must be one of {', '.join(PRESETS)}, got {preset!r}")
    ckpt = checkpoint_path(output)
    if resume and force:
        fail("give --resume or --force, not both")
    if not force and not resume and (output.exists() or ckpt.exists()):
        fail(f"{output if output.exists() else ckpt} exists: --resume to continue, --force to start afresh")
    if resume and not ckpt.exists():
        fail(f"--resume: no checkpoint {ckpt}")
    paths = expand_images(photos)
    missing = [p for p in paths if not p.is_file()]
    if missing:
        fail(f"{missing[0]}: no such file")
    if threads:
        torch.set_num_threads(threads)
    settings = TrainSettings(scale=scale, channels=channels, steps=steps, batch=batch, patch=patch, lr=lr,
                             val_every=val_every, seed=seed, preset=preset, classical_fraction=classical_fraction,
                             scenes=scenes, init=str(init) if init else "", kernels=str(kernels) if kernels else "")
    if kernels is not None:
        load_pool(kernels)  # a bad pool fails here, with its one line, before any work
    output.parent.mkdir(parents=True, exist_ok=True)
    loaded = load_photos(paths, min_side=crop_span(settings, GRID))

    with task_progress(quiet or as_json) as progress:
        bar = progress.add_task(f"train-srmd x{scale}", total=steps)

        def report(event: dict) -> None:
            kind = event["event"]
            if kind == "step":
                progress.update(bar, completed=event["step"])
            elif kind == "scenes":
                if not quiet and not as_json:
                    err.print(f"making {event['count']} realistic scenes (preset {preset}) ...")
            elif kind == "start":
                progress.update(bar, completed=event["step"])
                if not quiet and not as_json:
                    err.print(f"{event['train_photos']} training photos, {event['val_photos']} held out "
                              f"(bicubic interpolation {event['val_bicubic_psnr']:.2f} dB)")
            elif as_json:
                print_json(event)
            elif not quiet and kind == "validation":
                progress.console.print(f"step {event['step']:>6}: validation {event['val_psnr']:.2f} dB "
                                       f"(bicubic {event['val_bicubic_psnr']:.2f} dB), {event['seconds']:.0f} s")
            elif not quiet and kind == "done":
                out.print(f"wrote {event['weights']}")

        train_srmd(loaded, settings, output, resume, resolve_device(device), report)
