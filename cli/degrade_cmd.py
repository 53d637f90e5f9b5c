"""``kernelgan degrade``: make LR images with known kernels from HR photos."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from kernelgan import __version__
from kernelgan.errors import KernelganError
from kernelgan.io import load_kernel, read_image, save_kernel, write_image
from kernelgan.manifest import update_manifest
from kernelgan.outputs import MANIFEST, lr_path, true_kernel_paths
from kernelgan.presets import PRESETS, apply_preset
from kernelgan.synth import check_scale, crop_to_multiple, image_rng

from .common import EXIT_FAILED, err, expand_images, fail, handle_errors, out
from .progress import task_progress


@handle_errors
def degrade(
    hr: list[str] = typer.Argument(..., help="HR images, folders of images or glob patterns."),
    output: Path = typer.Option(..., "-o", "--output", help="Folder for LR images, true kernels and manifest.json."),
    scale: int = typer.Option(2, "--scale", "-s", help="Downscaling factor: 2 or 4."),
    kernel: str = typer.Option("random", "--kernel", "-k",
                               help="'random' (DIV2KRK protocol, per-image draw) or a kernel file (.npy/.mat) used at --scale."),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed and image name give the same result."),
    preset: str = typer.Option("classical", "--preset", "-p",
                               help="classical (one known kernel), bsrgan or realesrgan (no single true kernel)."),
    noise: float = typer.Option(0.0, "--noise", min=0.0, help="classical: Gaussian noise sigma on the 8-bit scale."),
    jpeg: Optional[int] = typer.Option(None, "--jpeg", min=1, max=100, help="classical: JPEG quality applied last."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing outputs."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary."),
) -> None:
    """Make LR test images from HR photos, with known kernels (classical) or realistic degradations.

    For photo.png it writes OUT/photo.png (LR) and adds an entry with every random choice to OUT/manifest.json;
    the classical preset also writes the true kernel OUT/photo_gt_kernel_x<s>.npy and .mat (blur by
    correlation, keep every s-th pixel; at x4 the x2 kernel is applied twice, as DIV2KRK does).
    """
    check_scale(scale)
    if preset not in PRESETS:
        fail(f"--preset must be one of {', '.join(PRESETS)}, got {preset!r}")
    if preset != "classical" and (kernel != "random" or noise or jpeg is not None):
        fail("--kernel, --noise and --jpeg apply to the classical preset only")
    fixed = None if kernel == "random" else load_kernel(kernel)
    images = expand_images(hr)
    if not images:
        fail("no input images found")
    failed = 0
    with task_progress(quiet) as progress:
        task = progress.add_task("degrading", total=len(images))
        for path in images:
            stem = path.stem
            lr_file = lr_path(output, stem)
            k_paths = true_kernel_paths(output, stem, scale) if preset == "classical" else []
            try:
                if lr_file.resolve() == path.resolve():
                    raise KernelganError(f"{path}: output would overwrite the input; choose another -o")
                existing = [p for p in [lr_file, *k_paths] if p.exists()]
                if existing and not force:
                    raise KernelganError(f"{existing[0]} exists (use --force to overwrite)")
                img = read_image(path)
                options = {"kernel": fixed, "noise": noise, "jpeg_quality": jpeg} if preset == "classical" else {}
                result = apply_preset(preset, crop_to_multiple(img, scale), scale, image_rng(seed, stem), **options)
                write_image(lr_file, result.lr)
                for p in k_paths:  # only the classical preset names kernel files, and it always has a true kernel
                    assert result.true_kernel is not None
                    save_kernel(p, result.true_kernel)
                update_manifest(output / MANIFEST, {
                    "image": stem, "source": str(path), "lr": lr_file.name, "scale": scale, "preset": preset,
                    "seed": seed, "hr_size": [img.shape[1] - img.shape[1] % scale, img.shape[0] - img.shape[0] % scale],
                    "lr_size": [result.lr.shape[1], result.lr.shape[0]],
                    "kernel": "random" if fixed is None else str(kernel),
                    "true_kernel": [p.name for p in k_paths] or None,
                    "true_kernel_note": None if k_paths else f"the {preset} blur is not a single kernel; none written",
                    "choices": result.choices, "version": __version__,
                })
            except (KernelganError, OSError) as exc:
                failed += 1
                err.print(f"[bold red]error:[/] {exc}")
            progress.advance(task)
    if not quiet:
        out.print(f"{len(images) - failed} of {len(images)} images degraded into {output}")
    if failed:
        raise typer.Exit(EXIT_FAILED)
