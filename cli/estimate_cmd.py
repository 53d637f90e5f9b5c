"""``kernelgan estimate``: per-image kernel estimation over files, folders and globs."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from kernelgan.device import resolve_device
from kernelgan.estimator.local import MapSettings, parse_grid
from kernelgan.estimator.registry import DEFAULT, available_estimators, get_estimator
from kernelgan.jobs import estimate_file, estimate_files
from kernelgan.outputs import check_writable, output_stems
from kernelgan.sr import get_backend
from kernelgan.sr.base import check_options, takes_maps
from kernelgan.synth import check_scale

from .batch import run_batch
from .common import expand_images, fail, handle_errors, out, parse_opts

MIN_GAN_STEPS = 20


@handle_errors
def estimate(
    images: list[str] = typer.Argument(..., help="Images, folders of images (all, sorted) or glob patterns."),
    output: Path = typer.Option(Path("kernelgan-out"), "-o", "--output", help="Output folder."),
    scale: int = typer.Option(2, "--scale", "-s", help="2, or 4 to also write the analytic x4 kernel."),
    estimator: str = typer.Option(DEFAULT, "--estimator", "-e", help="Estimator (see `kernelgan estimators`)."),
    iters: Optional[int] = typer.Option(None, "--iters", min=0, help="GAN training steps per image (kernelgan: 250, kernelgan-paper: 3000; 0: no GAN)."),
    opt: list[str] = typer.Option([], "--opt", help="Any estimator setting as KEY=VALUE (repeatable; see kernelgan/estimator/config.py, e.g. --opt prior_views=1)."),
    seed: int = typer.Option(0, "--seed", help="Random seed: same image, seed and device give the same kernel."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="Images estimated in parallel processes (CPU)."),
    batch: int = typer.Option(0, "--batch", "-b", min=0, help="Images estimated together in this process: their GAN runs train as one batch (fast on CUDA), their files are read by 2 threads. 0: automatic (64 on CUDA, 16 for the prior, else 1)."),
    sr: str = typer.Option("none", "--sr", help="Also upscale with this SR backend and the estimated kernel (none, bicubic, zssr, srmd, ...)."),
    real: bool = typer.Option(False, "--real", help="With --sr zssr: real-photo mode (no back-projection, noisy sons)."),
    kernel_map: bool = typer.Option(False, "--kernel-map", help="Also estimate how the blur changes across the photo: OUT/<stem>_kernelmap_x2.npy (rows x cols x K x K; x4 too with --scale 4), a picture OUT/<stem>_kernelmap.png and a verdict (uniform / varies). With --sr srmd the upscale uses the map."),
    map_grid: str = typer.Option("auto", "--map-grid", help="With --kernel-map: the grid as ROWSxCOLS (e.g. 4x6), or auto (a cell per ~96 LR px, at most 10 a side)."),
    force: bool = typer.Option(False, "--force", help="Re-estimate images whose outputs exist."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON line per image on stdout (implies no bar)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Run each image as a task on a Dask cluster: 'local' (a LocalCluster on this machine) or a scheduler address (tcp://host:8786). Needs kernelgan[dask]."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary."),
) -> None:
    """Estimate each image's x2 downscaling kernel (default: the learned prior; KernelGAN with -e kernelgan).

    For photo.png it writes OUT/photo_kernel_x2.npy/.mat/.png (x4 too with --scale 4) and OUT/photo.json
    (version, settings, seed, device, time, losses, run quality); with --kernel-map also the kernel map (the kernel
    at an LR pixel is the bilinear interpolation of the four nearest cells' kernels, README). Existing results are skipped unless --force;
    a bad file is reported and the batch goes on; the exit code is 1 if any image failed.

    Example: kernelgan estimate photos/ -o out --scale 4 --sr srmd
    """
    check_scale(scale)
    if iters is not None and 0 < iters < MIN_GAN_STEPS:
        fail(f"--iters {iters}: use 0 (no GAN) or at least {MIN_GAN_STEPS} steps (G's kernel needs them to grow)")
    if sr != "none":  # unknown backend or option: one error before any work
        check_options(get_backend(sr), {"real": True} if real else {})
        if kernel_map and not takes_maps(get_backend(sr)):
            fail(f"--kernel-map with --sr {sr}: that backend takes one kernel, not a map (use --sr srmd)")
    map_settings = None
    if kernel_map:
        map_settings = MapSettings(*parse_grid(map_grid)) if map_grid != "auto" else MapSettings()
    elif map_grid != "auto":
        fail("--map-grid needs --kernel-map")
    dev = str(resolve_device(device))
    config = get_estimator(estimator).config.with_options(parse_opts(opt)).with_overrides(iters=iters)
    paths = expand_images(images)
    if not paths:
        fail("no input images found")
    stems = output_stems(paths)
    check_writable(output)
    parallel = jobs > 1 or scheduler is not None
    if batch > 1 and parallel:
        fail("--batch runs images together in one process; use it without --jobs/--scheduler (or --batch 1)")
    batch = batch or (1 if parallel else auto_batch(dev, config.iters))
    settings: dict[str, Any] = dict(output=output, scale=scale, estimator=estimator, config=config, seed=seed, device=dev, force=force,
                    sr_backend=sr, real=real, stems=stems, kernel_map=map_settings)
    run_batch(paths, functools.partial(estimate_file, **settings), label="images", done="estimated", output=output,
              quiet=quiet, as_json=as_json, jobs=1 if dev == "cuda" else jobs, steps=config.iters, scheduler=scheduler,
              batch=batch, work_many=functools.partial(estimate_files, **settings))


def auto_batch(device: str, iters: int) -> int:
    """--batch 0: on CUDA the GAN runs of 64 images train together; the prior (no GAN) reads 16 images at a time
    with 2 threads; on CPU GAN runs go one by one (measured: --jobs 2 is faster there, docs/scale-out.md)."""
    if device == "cuda":
        return 64
    return 16 if iters == 0 else 1


def estimators() -> None:
    """List the estimators `kernelgan estimate --estimator NAME` accepts (the default first).

    Example: kernelgan estimators
    """
    table = Table(title="estimators")
    table.add_column("name")
    table.add_column("description")
    for name, spec in sorted(available_estimators().items(), key=lambda kv: kv[0] != DEFAULT):
        table.add_row(name + (" (default)" if name == DEFAULT else ""), spec.description)
    out.print(table)
