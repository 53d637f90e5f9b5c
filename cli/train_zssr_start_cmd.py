"""``kernelgan train-zssr-start``: train ZSSR's learned start on HR photos."""

from __future__ import annotations

from pathlib import Path

import typer

from kernelgan.families import check_family
from kernelgan.rng import torch_threads
from kernelgan.sr.zssr_start import StartSettings, save_start, train_start

from .common import err, fail, handle_errors, training_photos, write_trained

DEFAULTS = StartSettings()


@handle_errors
def train_zssr_start_cmd(
    photos: list[str] = typer.Argument(..., help="HR photo folders, files or globs (never a test set: not DIV2KRK or Set5)."),
    output: Path = typer.Option(..., "-o", "--output", help="Start file to write (.pt)."),
    steps: int = typer.Option(DEFAULTS.steps, "--steps", min=1, help="Training steps."),
    channels: int = typer.Option(DEFAULTS.channels, "--channels", min=4, help="The network's channels (ZSSR's `channels` option it is for)."),
    layers: int = typer.Option(DEFAULTS.layers, "--layers", min=2, help="The network's layers (ZSSR's `layers` option it is for)."),
    crop: int = typer.Option(DEFAULTS.crop, "--crop", min=8, help="Father size in pixels (every photo at least this large)."),
    families: str = typer.Option(",".join(DEFAULTS.families), "--families", help="Kernel families to draw from, comma-separated."),
    precision: str = typer.Option(DEFAULTS.precision, "--precision", help="auto (bf16 on a CPU that computes it natively), fp32 or bf16."),
    seed: int = typer.Option(DEFAULTS.seed, "--seed"),
    threads: int = typer.Option(2, "--threads", min=1, help="Torch CPU threads."),
    force: bool = typer.Option(False, "--force", help="Overwrite the start file."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress lines."),
) -> None:
    """Train the learned start that `--opt start=shipped` (ZSSR's default configuration `fast`) begins from.

    ZSSR's own training, run over many photos: fathers from random photos (every tenth held out), sons blurred
    with a random kernel of --families, L1 restoration from their bicubic upscales. The shipped start
    (kernelgan/sr/weights/zssr_start_32x8.pt) came from this command's defaults; docs/zssr.md.

    Example: kernelgan train-zssr-start ../shared/data/BSD100 ../shared/data/Set14 -o zssr_start_32x8.pt
    """
    paths = training_photos(photos, output, force)
    chosen = tuple(check_family(f.strip()) for f in families.split(",") if f.strip())
    if not chosen or "all" in chosen:
        fail(f"--families {families!r}: give comma-separated kernel family names")
    if precision not in ("auto", "fp32", "bf16"):
        fail(f"--precision must be auto, fp32 or bf16, got {precision!r}")
    settings = StartSettings(steps=steps, channels=channels, layers=layers, crop=crop, families=chosen,
                             precision=precision, seed=seed)
    with torch_threads(threads):
        state = train_start(paths, settings, None if quiet else err.print)
    write_trained(output, lambda path: save_start(path, state, settings))
