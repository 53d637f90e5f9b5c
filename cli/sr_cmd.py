"""``kernelgan sr`` and ``kernelgan backends``: non-blind upscaling with a known or estimated kernel."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np
import typer
from rich.table import Table

from kernelgan.errors import InputError, KernelganError
from kernelgan.io import load_kernel, read_image, write_image
from kernelgan.outputs import kernel_paths, sr_path
from kernelgan.sr import available_backends, get_backend
from kernelgan.sr.base import check_options
from kernelgan.synth import check_scale

from .common import EXIT_FAILED, err, expand_images, fail, handle_errors, out, print_json
from .progress import task_progress


def upscale_file(path: Path, kernel: np.ndarray, output: Path, scale: int, backend_name: str, real: bool,
                 force: bool, options: dict, on_step=None, stem: str | None = None) -> dict:
    """Upscale one image file (outputs named by ``stem``, default the file's stem); returns the event reported
    for it (bad input becomes status 'failed')."""
    target = sr_path(output, stem or path.stem, scale, backend_name)
    if target.exists() and not force:
        return {"image": str(path), "status": "skipped", "reason": f"{target} exists (use --force)"}
    try:
        backend = get_backend(backend_name)
        lr = read_image(path)
        given = {**options, **({"real": True} if real else {})}
        sr = backend.upscale(lr, kernel, scale, progress=on_step, **check_options(backend, given))
        write_image(target, sr)
        return {"image": str(path), "status": "ok", "output": str(target)}
    except (KernelganError, OSError) as exc:
        return {"image": str(path), "status": "failed", "error": str(exc)}


def _kernel_for(path: Path, kernels: Path) -> np.ndarray:
    """The x2 kernel ``estimate`` wrote for ``path`` in ``kernels``."""
    for candidate in kernel_paths(kernels, path.stem, 2, (".npy", ".mat")):
        if candidate.exists():
            return load_kernel(candidate)
    raise InputError(f"{path}: no {path.stem}_kernel_x2.npy|.mat in {kernels}")


@handle_errors
def sr(
    images: list[str] = typer.Argument(..., help="LR images, folders or glob patterns."),
    kernel: Optional[Path] = typer.Option(None, "--kernel", "-k", help="The x2 kernel (.npy/.mat) of every image."),
    kernels: Optional[Path] = typer.Option(None, "--kernels", help="Folder of <stem>_kernel_x2.npy|.mat (as estimate writes)."),
    backend: str = typer.Option("zssr", "--backend", "-b", help="SR backend (see `kernelgan backends`)."),
    scale: int = typer.Option(2, "--scale", "-s", help="2 or 4."),
    output: Path = typer.Option(Path("kernelgan-out"), "-o", "--output", help="Output folder."),
    real: bool = typer.Option(False, "--real", help="Real photo: no back-projection, noisy training sons (zssr)."),
    iters: Optional[int] = typer.Option(None, "--iters", min=1, help="zssr: maximum training steps (default 1200; the paper used 3000)."),
    noise: Optional[float] = typer.Option(None, "--noise", min=0, max=50, help="srmd: the LR image's noise level, 0-50 on the 8-bit scale (default 0)."),
    weights: Optional[Path] = typer.Option(None, "--weights", help="srmd: weights from `kernelgan train-srmd` instead of the shipped ones."),
    opt: list[str] = typer.Option([], "--opt", help="Any option of the backend as KEY=VALUE (repeatable; e.g. zssr: --opt crop=128 --opt max_iters=3000)."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing results."),
    as_json: bool = typer.Option(False, "--json", help="One JSON line per image on stdout."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary."),
) -> None:
    """Upscale images with a known blur kernel: writes OUT/<stem>_x<s>_<backend>.png.

    The kernel is the x2 kernel (at x4 the backend derives what it needs). Give --kernel for all images, or
    --kernels DIR to find each image's <stem>_kernel_x2 file.
    """
    check_scale(scale)
    if (kernel is None) == (kernels is None):
        fail("give exactly one of --kernel FILE or --kernels DIR")
    if kernels is not None and not kernels.is_dir():
        fail(f"--kernels {kernels}: not a folder")
    chosen = get_backend(backend)  # unknown backend: one error before any work
    shared = load_kernel(kernel) if kernel is not None else None
    if weights is not None and not weights.is_file():
        fail(f"--weights {weights}: no such file")
    given: dict[str, Any] = {"max_iters": iters, "noise": noise, "weights": weights, "real": True if real else None}
    options = {k: v for k, v in given.items() if v is not None}
    for item in opt:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"--opt {item!r}: use KEY=VALUE")
        options[key] = value
    check_options(chosen, options)  # unknown or mistyped options: one error before any work
    real = bool(options.pop("real", False))
    paths = expand_images(images)
    if not paths:
        fail("no input images found")
    failed = 0
    with task_progress(quiet or as_json) as progress:
        task = progress.add_task("upscaling", total=len(paths))
        for path in paths:
            try:
                if shared is not None:
                    k = shared
                else:
                    assert kernels is not None  # one of --kernel/--kernels is required above
                    k = _kernel_for(path, kernels)
                event = upscale_file(path, k, output, scale, backend, real, force, options)
            except KernelganError as exc:
                event = {"image": str(path), "status": "failed", "error": str(exc)}
            failed += event["status"] == "failed"
            if as_json:
                print_json(event)
            elif event["status"] == "failed":
                err.print(f"[bold red]error:[/] {event['error']}")
            progress.advance(task)
    if not (quiet or as_json):
        out.print(f"{len(paths) - failed} of {len(paths)} images done -> {output}")
    if failed:
        raise typer.Exit(EXIT_FAILED)


def backends() -> None:
    """List the installed SR backends."""
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
