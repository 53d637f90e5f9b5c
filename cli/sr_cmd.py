"""``kernelgan sr`` and ``kernelgan backends``: non-blind upscaling with a known or estimated kernel."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from kernelgan.device import resolve_device
from kernelgan.errors import KernelganError
from kernelgan.io import load_kernel, load_kernel_map
from kernelgan.jobs import upscale_file
from kernelgan.outputs import check_writable, output_stems
from kernelgan.sr import available_backends, get_backend
from kernelgan.sr.base import check_options, takes_maps
from kernelgan.sr.srmd import SHIPPED, parse_noise
from kernelgan.synth import check_scale

from .batch import run_batch
from .common import expand_images, fail, handle_errors, out, parse_opts


@handle_errors
def sr(
    images: list[str] = typer.Argument(..., help="LR images, folders or glob patterns."),
    kernel: Optional[Path] = typer.Option(None, "--kernel", "-k", help="The x2 kernel (.npy/.mat) of every image."),
    kernels: Optional[Path] = typer.Option(None, "--kernels", help="Folder of <stem>_kernel_x2.npy|.mat (as estimate writes)."),
    kernel_map: Optional[Path] = typer.Option(None, "--kernel-map", help="An x2 kernel map (.npy, rows x cols x K x K, as estimate --kernel-map writes) for every image: blur that changes across the photo (srmd)."),
    backend: str = typer.Option("zssr", "--backend", "-b", help="SR backend (see `kernelgan backends`)."),
    scale: int = typer.Option(2, "--scale", "-s", help="2 or 4."),
    output: Path = typer.Option(Path("kernelgan-out"), "-o", "--output", help="Output folder."),
    real: bool = typer.Option(False, "--real", help="Real photo: no back-projection, noisy training sons (zssr)."),
    iters: Optional[int] = typer.Option(None, "--iters", min=1, help="zssr: maximum training steps (default 300 from the learned start, configuration fast; --opt config=full: 2000 from random weights; the paper used 3000)."),
    noise: Optional[str] = typer.Option(None, "--noise", help="srmd: the LR image's noise level, 0-50 on the 8-bit scale, or auto (default: estimated from the photo)."),
    weights: Optional[str] = typer.Option(None, "--weights", help="srmd: auto (default: the realistic weights for a noisy or JPEG-compressed photo, else the classical ones), classical, real, or a file from `kernelgan train-srmd`."),
    opt: list[str] = typer.Option([], "--opt", help="Any option of the backend as KEY=VALUE (repeatable; e.g. zssr: --opt config=quality|full|published (quality: a longer x4 stage, trained twice), --opt precision=fp32, --opt max_iters=3000)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda (the backend's network and training run there)."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing results."),
    as_json: bool = typer.Option(False, "--json", help="One JSON line per image on stdout."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Run each image as a task on a Dask cluster: 'local' (a LocalCluster on this machine) or a scheduler address (tcp://host:8786). Needs kernelgan[dask]."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary."),
) -> None:
    """Upscale images with a known blur kernel: writes OUT/<stem>_x<s>_<backend>.png.

    The kernel is the x2 kernel (at x4 the backend derives what it needs). Give --kernel for all images,
    --kernels DIR to find each image's <stem>_kernel_x2 file, or --kernel-map MAP.npy (srmd) for blur that
    changes across the photo (the map's grid spans each image; README, "Kernel maps").

    Example: kernelgan sr photo.png --kernels out --backend srmd --scale 4
    """
    check_scale(scale)
    if sum(given is not None for given in (kernel, kernels, kernel_map)) != 1:
        fail("give exactly one of --kernel FILE, --kernels DIR or --kernel-map FILE")
    if kernels is not None and not kernels.is_dir():
        fail(f"--kernels {kernels}: not a folder")
    chosen = get_backend(backend)  # unknown backend: one error before any work
    if kernel_map is not None and not takes_maps(chosen):
        fail(f"--kernel-map: backend {backend} takes one kernel, not a kernel map (use --backend srmd)")
    shared = load_kernel(kernel) if kernel is not None else load_kernel_map(kernel_map) if kernel_map is not None else None
    if weights is not None and weights not in ("auto", *SHIPPED) and not Path(weights).is_file():
        fail(f"--weights {weights}: no such file")
    if noise is not None:
        parse_noise(noise)  # a bad level: one error before any work
    given: dict[str, Any] = {"max_iters": iters, "noise": noise, "weights": weights, "real": True if real else None}
    options = {**{k: v for k, v in given.items() if v is not None}, **parse_opts(opt)}
    check_options(chosen, options)  # unknown or mistyped options: one error before any work
    options["device"] = str(resolve_device(device))
    paths = expand_images(images)
    if not paths:
        fail("no input images found")
    check_writable(output)
    work = functools.partial(upscale_file, output=output, scale=scale, backend=backend, force=force,
                             options=options, kernel=shared,
                             kernels_dir=kernels, stems=output_stems(paths))
    run_batch(paths, work, label="upscaling", done="upscaled", output=output, quiet=quiet, as_json=as_json, scheduler=scheduler)


def backends() -> None:
    """List the installed SR backends.

    Example: kernelgan backends
    """
    table = Table(title="SR backends")
    for column in ("name", "scales", "from", "description"):
        table.add_column(column)
    for name, origin in available_backends().items():
        try:
            b = get_backend(name)
            table.add_row(name, ", ".join(f"x{s}" for s in b.scales), origin, b.description)
        except KernelganError as exc:
            table.add_row(name, "-", origin, f"[red]{exc}[/]")
    out.print(table)
