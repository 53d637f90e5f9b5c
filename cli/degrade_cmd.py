"""``kernelgan degrade``: make LR images with known kernels from HR photos."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from kernelgan import __version__
from kernelgan.errors import KernelganError
from kernelgan.io import load_kernel, read_image, save_kernel, write_image
from kernelgan.manifest import update_manifest
from kernelgan.synth import check_scale, degrade as degrade_image, random_k2

from .common import EXIT_FAILED, err, expand_images, fail, handle_errors, out
from .progress import task_progress


@handle_errors
def degrade(
    hr: list[str] = typer.Argument(..., help="HR images, folders of images or glob patterns."),
    output: Path = typer.Option(..., "-o", "--output", help="Folder for LR images, true kernels and manifest.json."),
    scale: int = typer.Option(2, "--scale", "-s", help="Downscaling factor: 2 or 4."),
    kernel: str = typer.Option("random", "--kernel", "-k",
                               help="'random' (DIV2KRK protocol, per-image draw) or a kernel file (.npy/.mat) used at --scale."),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed and image name give the same kernel."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing outputs."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary."),
) -> None:
    """Blur and subsample HR photos with known kernels (correlation, keep every s-th pixel).

    For photo.png it writes OUT/photo.png (LR), OUT/photo_gt_kernel_x<s>.npy and .mat, and adds an entry to
    OUT/manifest.json. At x4 the x2 kernel is applied twice (as DIV2KRK) and the true kernel is its analytic x4.
    """
    check_scale(scale)
    fixed = None if kernel == "random" else load_kernel(kernel)
    images = expand_images(hr)
    if not images:
        fail("no input images found")
    failed = 0
    with task_progress(quiet) as progress:
        task = progress.add_task("degrading", total=len(images))
        for path in images:
            stem = path.stem
            lr_path = output / f"{stem}.png"
            k_paths = [output / f"{stem}_gt_kernel_x{scale}{ext}" for ext in (".npy", ".mat")]
            try:
                if lr_path.resolve() == path.resolve():
                    raise KernelganError(f"{path}: output would overwrite the input; choose another -o")
                existing = [p for p in [lr_path, *k_paths] if p.exists()]
                if existing and not force:
                    raise KernelganError(f"{existing[0]} exists (use --force to overwrite)")
                img = read_image(path)
                k2 = None if fixed is not None else random_k2(seed, stem)
                lr, truth = degrade_image(img, scale, k2=k2, kernel=fixed)
                write_image(lr_path, lr)
                for p in k_paths:
                    save_kernel(p, truth)
                update_manifest(output / "manifest.json", {
                    "image": stem, "source": str(path), "lr": lr_path.name, "scale": scale,
                    "hr_size": [img.shape[1] - img.shape[1] % scale, img.shape[0] - img.shape[0] % scale],
                    "lr_size": [lr.shape[1], lr.shape[0]], "preset": "classical",
                    "kernel": "random" if fixed is None else str(kernel), "seed": seed if fixed is None else None,
                    "true_kernel": [p.name for p in k_paths], "version": __version__,
                })
            except KernelganError as exc:
                failed += 1
                err.print(f"[bold red]error:[/] {exc}")
            progress.advance(task)
    if not quiet:
        out.print(f"{len(images) - failed} of {len(images)} images degraded into {output}")
    if failed:
        raise typer.Exit(EXIT_FAILED)
