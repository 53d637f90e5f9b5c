"""``kernelgan noise-patches``: collect flat patches (a camera's noise) from photos."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Optional

import typer

from kernelgan.jobs import noise_patches_file
from kernelgan.noise_patches import MAX_MEAN, MAX_VARIANCE, MIN_MEAN, PatchSettings
from kernelgan.outputs import check_writable, output_stems

from .batch import run_batch
from .common import expand_images, fail, handle_errors

DEFAULTS = PatchSettings()


@handle_errors
def noise_patches(
    photos: list[str] = typer.Argument(..., help="The camera's photos: files, folders or glob patterns."),
    output: Path = typer.Option(..., "-o", "--output", help="Folder for the patches (.npy) and manifest.json."),
    size: int = typer.Option(DEFAULTS.size, "--size", min=8, help="Patch side in pixels (at least the LR crops they will be added to)."),
    max_variance: float = typer.Option(MAX_VARIANCE, "--max-variance", min=0.0, help="Flat: every channel's variance under this (8-bit scale)."),
    min_mean: float = typer.Option(MIN_MEAN, "--min-mean", min=0.0, max=1.0, help="Leave out darker patches (mean luma, 0-1)."),
    max_mean: float = typer.Option(MAX_MEAN, "--max-mean", min=0.0, max=1.0, help="Leave out brighter patches (mean luma, 0-1)."),
    max_patches: int = typer.Option(DEFAULTS.max_patches, "--max-patches", min=1, help="At most this many per photo (the flattest)."),
    force: bool = typer.Option(False, "--force", help="Replace patches collected before."),
    as_json: bool = typer.Option(False, "--json", help="One JSON line per photo on stdout (implies no bar)."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1, help="Worker processes."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary."),
) -> None:
    """Collect flat patches of photos, their mean removed: the camera's own noise, for `degrade --noise-patches`.

    For photo.png it writes OUT/photo_noise_NN.npy (float32, HxWx3, zero-mean per channel, [0, 1] scale) and an
    entry in OUT/manifest.json (where each patch came from, its variance); a photo without a flat region gets an
    entry with no patches.

    Example: kernelgan noise-patches camera_photos/ -o noise --size 128
    """
    if min_mean >= max_mean:
        fail(f"--min-mean {min_mean} must be under --max-mean {max_mean}")
    images = expand_images(photos)
    if not images:
        fail("no input images found")
    check_writable(output)
    settings = PatchSettings(size, max_variance, min_mean, max_mean, max_patches)
    work = functools.partial(noise_patches_file, output=output, settings=settings, force=force,
                             stems=output_stems(images))
    run_batch(images, work, label="collecting", done="collected", output=output, quiet=quiet, as_json=as_json,
              jobs=jobs or 1)
