"""``kernelgan degrade``: make LR images with known kernels from HR photos."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Optional

import numpy as np
import typer

from kernelgan.io import load_kernel
from kernelgan.jobs import degrade_file
from kernelgan.noise_patches import load_patch_files
from kernelgan.outputs import check_writable, output_stems
from kernelgan.pools import load_pool
from kernelgan.presets import PRESETS
from kernelgan.presets.varying import EXTRA_MODES, MODES
from kernelgan.resamplers import RESAMPLERS, resampler_kernel
from kernelgan.synth import check_scale

from .batch import run_batch
from .common import expand_images, fail, handle_errors


@handle_errors
def degrade(
    hr: list[str] = typer.Argument(..., help="HR images, folders of images or glob patterns."),
    output: Path = typer.Option(..., "-o", "--output", help="Folder for LR images, true kernels and manifest.json."),
    scale: int = typer.Option(2, "--scale", "-s", help="Downscaling factor: 2 or 4."),
    kernel: str = typer.Option("random", "--kernel", "-k",
                               help="'random' (DIV2KRK protocol, per-image draw) or a kernel file (.npy/.mat) used at --scale."),
    resampler: Optional[str] = typer.Option(None, "--resampler", help=f"classical: shrink as this software resampler does (its exact kernel at --scale: {', '.join(RESAMPLERS)}) instead of --kernel."),
    no_antialias: bool = typer.Option(False, "--no-antialias", help="With --resampler: plain sampling, the filter not stretched (OpenCV's INTER_LINEAR/INTER_CUBIC, torch's interpolate by default)."),
    kernels: Optional[Path] = typer.Option(None, "--kernels", help="classical: a kernel pool (a folder: an estimate output folder, or .npy/.mat files); each photo draws one kernel (seeded by --seed and its name)."),
    skip_low_confidence: bool = typer.Option(False, "--skip-low-confidence", help="With --kernels: leave out estimates their record flags low-confidence."),
    noise_patches: Optional[Path] = typer.Option(None, "--noise-patches", help="classical: add a random crop of a random noise patch (a folder from `kernelgan noise-patches`) to each LR, before any JPEG."),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed and image name give the same result."),
    preset: str = typer.Option("classical", "--preset", "-p",
                               help="classical (one known kernel), varying (blur that changes across the picture: a known kernel map), bsrgan or realesrgan (no single true kernel)."),
    map_mode: Optional[str] = typer.Option(None, "--map-mode", help=f"varying: how the blur changes ({', '.join(MODES)}, drawn per photo by default; or {', '.join(EXTRA_MODES)}: camera kernels per block)."),
    noise: float = typer.Option(0.0, "--noise", min=0.0, help="classical: Gaussian noise sigma on the 8-bit scale."),
    jpeg: Optional[int] = typer.Option(None, "--jpeg", min=1, max=100, help="classical: JPEG quality applied last."),
    demosaic: bool = typer.Option(False, "--demosaic", help="classical: a Bayer colour filter array (RGGB) and bilinear demosaicing after any noise, before JPEG."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing outputs."),
    as_json: bool = typer.Option(False, "--json", help="One JSON line per image on stdout (implies no bar)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Run each image as a task on a Dask cluster: 'local' (a LocalCluster on this machine) or a scheduler address (tcp://host:8786). Needs kernelgan[dask]."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary."),
) -> None:
    """Make LR test images from HR photos, with known kernels (classical) or realistic degradations.

    For photo.png it writes OUT/photo.png (LR) and adds an entry with every random choice to OUT/manifest.json;
    the classical preset also writes the true kernel OUT/photo_gt_kernel_x<s>.npy and .mat (blur by
    correlation, keep every s-th pixel; at x4 the x2 kernel is applied twice, as DIV2KRK does); the varying
    preset writes the true kernel map OUT/photo_gt_kernelmap_x<s>.npy (README, "Kernel maps").

    A camera's own degradation (Ji et al. 2020): --kernels OUT (kernels estimated from that camera's photos)
    and --noise-patches DIR (flat patches of the same photos, `kernelgan noise-patches`).

    Example: kernelgan degrade hr/ -o lr --scale 4 --preset realesrgan --seed 1
    """
    check_scale(scale)
    if preset not in PRESETS:
        fail(f"--preset must be one of {', '.join(PRESETS)}, got {preset!r}")
    if map_mode is not None and (preset != "varying" or map_mode not in MODES + EXTRA_MODES):
        fail(f"--map-mode goes with --preset varying and is one of {', '.join(MODES + EXTRA_MODES)}")
    if preset != "classical" and (kernel != "random" or noise or jpeg is not None or resampler is not None
                                  or kernels is not None or noise_patches is not None or demosaic):
        fail("--kernel, --kernels, --resampler, --noise, --noise-patches, --demosaic and --jpeg apply to the classical "
             "preset only")
    if sum([resampler is not None, kernel != "random", kernels is not None]) > 1:
        fail("give one of --kernel, --kernels and --resampler")
    if skip_low_confidence and kernels is None:
        fail("--skip-low-confidence goes with --kernels")
    pool = None if kernels is None else load_pool(kernels, skip_low_confidence)
    patches = None if noise_patches is None else load_patch_files(noise_patches)
    if no_antialias and resampler is None:
        fail("--no-antialias goes with --resampler")
    fixed: np.ndarray | None = None
    if resampler is not None:
        fixed = resampler_kernel(resampler, scale, antialias=not no_antialias)
        kernel_name = f"resampler:{resampler}" + (":no-antialias" if no_antialias else "")
    else:
        fixed = None if kernel == "random" else load_kernel(kernel)
        kernel_name = "random" if fixed is None else str(kernel)
    images = expand_images(hr)
    if not images:
        fail("no input images found")
    check_writable(output)
    work = functools.partial(degrade_file, output=output, scale=scale, preset=preset, kernel=fixed,
                             kernel_name=kernel_name, noise=noise, jpeg=jpeg, seed=seed,
                             force=force, stems=output_stems(images), pool=pool, noise_patches=patches,
                             map_mode=map_mode, demosaic=demosaic)
    run_batch(images, work, label="degrading", done="degraded", output=output, quiet=quiet, as_json=as_json, scheduler=scheduler)
