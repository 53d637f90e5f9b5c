"""``kernelgan estimate``: per-image kernel estimation over files, folders and globs."""

from __future__ import annotations

import multiprocessing as mp
import platform
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Optional

import torch
import typer
from rich.table import Table

from kernelgan import __version__
from kernelgan.errors import KernelganError
from kernelgan.estimator import EstimatorConfig, estimate_kernel
from kernelgan.estimator.registry import DEFAULT, available_estimators, get_estimator
from kernelgan.estimator.train import resolve_device
from kernelgan.io import read_image
from kernelgan.outputs import (
    check_writable,
    expected_outputs,
    fingerprint,
    image_lock,
    kernel_paths,
    output_stems,
    read_record,
    record_path,
    sr_path,
    write_estimate,
)
from kernelgan.sr import get_backend
from kernelgan.sr.base import check_options
from kernelgan.synth import check_scale

from .common import EXIT_FAILED, err, expand_images, fail, handle_errors, out, print_json
from .progress import task_progress
from .sr_cmd import upscale_file

MIN_GAN_STEPS = 20


def process_image(path: Path, output: Path, scale: int, estimator: str, config: EstimatorConfig, seed: int,
                  device: str, force: bool, on_step: Callable[[int, int], None] | None = None, sr_backend: str = "none",
                  real: bool = False, stem: str | None = None) -> dict:
    """Estimate one image and write its outputs as ``stem`` (and its upscale with ``sr_backend``); returns the
    event reported for it (never raises for bad input; every error names the file).

    A finished set (its JSON record written last) is skipped when its fingerprint (input content + settings)
    matches, and refused without ``force`` when it does not; a per-image lock keeps concurrent runs apart."""
    stem = stem or path.stem
    event: dict = {"image": str(path), "status": "ok"}
    outputs = expected_outputs(output, stem, scale)
    if sr_backend != "none":
        outputs.append(sr_path(output, stem, scale, sr_backend))
    settings = {"estimator": estimator, "config": config.to_dict(), "scale": scale, "seed": seed, "device": device,
                "sr": sr_backend, "real": real}
    if not path.is_file():
        return {**event, "status": "failed", "error": f"{path}: no such file"}
    try:
        fp = fingerprint(path, settings)
        with image_lock(output, stem) as locked:
            if not locked:
                return {**event, "status": "skipped", "reason": "another kernelgan process is working on it"}
            done = _finished(output, stem, outputs, fp)
            if done is not None and not force:
                if done == "same":
                    return {**event, "status": "skipped", "reason": "outputs exist with the same input and settings"}
                return {**event, "status": "failed",
                        "error": f"{path}: {record_path(output, stem)} was made from {done}; use --force to replace it"}
            return {**event, **_estimate_and_write(path, output, stem, scale, estimator, config, seed, device, on_step,
                                                  sr_backend, real, outputs, fp)}
    except (KernelganError, OSError) as exc:
        message = str(exc)
        return {**event, "status": "failed", "error": message if str(path) in message else f"{path}: {message}"}


def _finished(output: Path, stem: str, outputs: list[Path], fp: dict[str, str]) -> str | None:
    """None if the set is absent (no record, or a file missing); "same" if its fingerprint matches; otherwise
    what differs ("another input", "other settings")."""
    record = read_record(output, stem)
    if record is None or not all(p.exists() for p in outputs):
        return None
    old = record.get("fingerprint", {})
    if old == fp:
        return "same"
    if old.get("input_sha256") != fp["input_sha256"]:
        return "another input file (content differs)"
    return "other settings"


def _estimate_and_write(path: Path, output: Path, stem: str, scale: int, estimator: str, config: EstimatorConfig,
                        seed: int, device: str, on_step: Callable[[int, int], None] | None, sr_backend: str, real: bool,
                        outputs: list[Path], fp: dict[str, str]) -> dict:
    img = read_image(path)
    start = time.perf_counter()
    result = estimate_kernel(img, scale=scale, config=config, seed=seed, device=device, progress=on_step)
    seconds = time.perf_counter() - start
    kernels = {2: result.kernel_x2} | ({4: result.kernel_x4} if result.kernel_x4 is not None else {})
    record = {
        "version": __version__, "image": str(path), "size": [img.shape[1], img.shape[0]], "scale": scale,
        "estimator": estimator, "seed": seed, "seed_used": result.seed, "attempts": result.attempts, "device": device,
        "torch": torch.__version__, "python": platform.python_version(), "seconds": round(seconds, 3),
        "settings": config.to_dict(), "final_losses": result.losses, "quality": result.quality, "fingerprint": fp,
        "kernels": {f"x{s}": [p.name for p in kernel_paths(output, stem, s)] for s in kernels},
    }
    if sr_backend != "none":  # the upscale first: the record, written last, commits the whole set
        sr_event = upscale_file(path, result.kernel_x2, output, scale, sr_backend, real, True,
                                {"seed": seed, "device": device}, stem=stem)
        if sr_event["status"] == "failed":
            return {"status": "failed", "error": sr_event["error"]}
    write_estimate(output, stem, kernels, record)
    return {"seconds": round(seconds, 3), "seed_used": result.seed, "retries": len(result.attempts) - 1,
            "outputs": [str(p) for p in outputs]}


@handle_errors
def estimate(
    images: list[str] = typer.Argument(..., help="Images, folders of images (all, sorted) or glob patterns."),
    output: Path = typer.Option(Path("kernelgan-out"), "-o", "--output", help="Output folder."),
    scale: int = typer.Option(2, "--scale", "-s", help="2, or 4 to also write the analytic x4 kernel."),
    estimator: str = typer.Option(DEFAULT, "--estimator", "-e", help="Estimator (see `kernelgan estimators`)."),
    iters: Optional[int] = typer.Option(None, "--iters", min=0, help="GAN training steps per image (kernelgan: 250, kernelgan-paper: 3000; 0: no GAN)."),
    seed: int = typer.Option(0, "--seed", help="Random seed: same image, seed and device give the same kernel."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="Images estimated in parallel processes (CPU)."),
    sr: str = typer.Option("none", "--sr", help="Also upscale with this SR backend and the estimated kernel (none, bicubic, zssr, srmd, ...)."),
    real: bool = typer.Option(False, "--real", help="With --sr zssr: real-photo mode (no back-projection, noisy sons)."),
    force: bool = typer.Option(False, "--force", help="Re-estimate images whose outputs exist."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON line per image on stdout (implies no bar)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary."),
) -> None:
    """Estimate each image's x2 downscaling kernel (default: the learned prior; KernelGAN with -e kernelgan).

    For photo.png it writes OUT/photo_kernel_x2.npy/.mat/.png (x4 too with --scale 4) and OUT/photo.json
    (version, settings, seed, device, time, losses, run quality). Existing results are skipped unless --force;
    a bad file is reported and the batch goes on; the exit code is 1 if any image failed.
    """
    check_scale(scale)
    if iters is not None and 0 < iters < MIN_GAN_STEPS:
        fail(f"--iters {iters}: use 0 (no GAN) or at least {MIN_GAN_STEPS} steps (G's kernel needs them to grow)")
    if sr != "none":  # unknown backend or option: one error before any work
        check_options(get_backend(sr), {"real": True} if real else {})
    dev = str(resolve_device(device))
    config = get_estimator(estimator).config.with_overrides(iters=iters)
    paths = expand_images(images)
    if not paths:
        fail("no input images found")
    stems = output_stems(paths)
    check_writable(output)
    quiet = quiet or as_json
    counts = {"ok": 0, "skipped": 0, "failed": 0}

    def report(event: dict) -> None:
        counts[event["status"]] += 1
        if as_json:
            print_json(event)
        elif event["status"] == "failed":
            err.print(f"[bold red]error:[/] {event['error']}")
        elif event["status"] == "skipped" and not quiet:
            err.print(f"skipped {event['image']} ({event['reason']})")

    with task_progress(quiet) as progress:
        overall = progress.add_task("images", total=len(paths))
        if jobs == 1 or dev == "cuda" or len(paths) == 1:
            steps = progress.add_task("", total=max(config.iters, 1), visible=False)
            for path in paths:
                progress.reset(steps, total=max(config.iters, 1), description=f"  {path.name}", visible=config.iters > 0)
                report(process_image(path, output, scale, estimator, config, seed, dev, force,
                                     on_step=lambda i, n: progress.update(steps, completed=i), sr_backend=sr, real=real,
                                     stem=stems[path]))
                progress.update(steps, visible=False)
                progress.advance(overall)
        else:
            with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn")) as pool:
                futures = [pool.submit(process_image, p, output, scale, estimator, config, seed, dev, force, None, sr, real,
                                       stems[p]) for p in paths]
                for future in as_completed(futures):
                    report(future.result())
                    progress.advance(overall)
    if not quiet:
        out.print(f"{counts['ok']} estimated, {counts['skipped']} skipped, {counts['failed']} failed -> {output}")
    if counts["failed"]:
        raise typer.Exit(EXIT_FAILED)


def estimators() -> None:
    """List the estimators `kernelgan estimate --estimator NAME` accepts (the default first)."""
    table = Table(title="estimators")
    table.add_column("name")
    table.add_column("description")
    for name, spec in sorted(available_estimators().items(), key=lambda kv: kv[0] != DEFAULT):
        table.add_row(name + (" (default)" if name == DEFAULT else ""), spec.description)
    out.print(table)
